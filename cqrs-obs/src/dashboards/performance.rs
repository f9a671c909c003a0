//! Performance: latency heatmaps from the duration histograms, p50/p95/p99 per handler,
//! throughput per handler. In production, latency objectives are drawn as thresholds.

use super::context::Context;
use super::query::Family;
use super::DashboardKind;
use super::PanelSpec;
use super::{Dashboard, Thresholds};
use crate::slo::Sli;

const QUANTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];

/// The latency objectives of a family's handlers, as `(seconds, colour)` steps.
fn latency_thresholds(ctx: &Context<'_>, family: &Family) -> Option<Thresholds> {
    let mut bounds: Vec<(f64, &str)> = ctx
        .slos_of(family.kind)
        .filter_map(|slo| match &slo.sli {
            Sli::Latency { threshold, .. } => Some((threshold.as_secs_f64(), "red")),
            _ => None,
        })
        .collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    bounds.dedup_by(|a, b| a.0 == b.0);
    (!bounds.is_empty()).then(|| Thresholds::absolute("green", &bounds))
}

pub(crate) fn build(ctx: &Context<'_>) -> Dashboard {
    let mut b = ctx.builder(DashboardKind::Performance);
    for family in ctx.families() {
        let id = family.id_label;
        b = b.row(family.plural);
        if ctx.full() {
            b = b.panel(
                PanelSpec::heatmap(&format!("{} latency", family.noun))
                    .query(&family.bucket_rate(""), "{{le}}")
                    .size(12, 8),
            );
        }
        let mut quantiles = PanelSpec::timeseries(&format!("{} latency per handler", family.noun))
            .unit("s")
            .size(12, 8);
        for (q, name) in QUANTILES {
            quantiles = quantiles.query(&family.quantile(q, id), &format!("{{{{{id}}}}} {name}"));
        }
        if ctx.production() {
            if let Some(thresholds) = latency_thresholds(ctx, &family) {
                quantiles = quantiles.thresholds(thresholds);
            }
        }
        b = b.panel(quantiles).panel(
            PanelSpec::timeseries(&format!("{} throughput per handler", family.noun))
                .query(&family.rate(id, ""), &format!("{{{{{id}}}}}"))
                .unit("reqps")
                .size(12, 8),
        );
        if ctx.full() {
            // One row per handler: the three instant queries merged on the handler label,
            // their value columns named after the quantile.
            let mut table = PanelSpec::table(&format!("{} latency table", family.noun)).size(12, 8);
            let mut names = serde_json::Map::new();
            for (i, (q, name)) in QUANTILES.into_iter().enumerate() {
                table = table.query(&family.quantile(q, id), "");
                let ref_id = char::from(b'A' + i as u8);
                names.insert(format!("Value #{ref_id}"), name.into());
            }
            let table = table.transform("merge", serde_json::json!({})).transform(
                "organize",
                serde_json::json!({"excludeByName": {"Time": true}, "renameByName": names}),
            );
            b = b.panel(table.unit("s"));
        }
    }
    b.build()
}
