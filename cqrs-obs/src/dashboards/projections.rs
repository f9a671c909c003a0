//! Projections (and sagas): throughput, failures and handler latency per projection from the
//! event handler families; lag, gap and end-to-end latency from the projection gauges and
//! histogram. In production, freshness objectives are drawn on the lag panel.

use super::context::Context;
use super::query::{eq, family, metric, sum_by, BAD, RATE};
use super::DashboardKind;
use super::PanelSpec;
use super::{Dashboard, Thresholds};
use crate::handler::HandlerKind;
use crate::metrics::names::{self, label};
use crate::slo::Sli;

fn lag_thresholds(ctx: &Context<'_>) -> Option<Thresholds> {
    let mut bounds: Vec<(f64, &str)> = ctx
        .sources
        .slos
        .iter()
        .filter_map(|slo| match &slo.sli {
            Sli::Freshness { max_lag, .. } => Some((max_lag.as_secs_f64(), "red")),
            _ => None,
        })
        .collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    bounds.dedup_by(|a, b| a.0 == b.0);
    (!bounds.is_empty()).then(|| Thresholds::absolute("green", &bounds))
}

pub(crate) fn build(ctx: &Context<'_>) -> Dashboard {
    let events = family(HandlerKind::Event);
    let consumers = ctx.distinct(|h| h.projection.or(h.saga));
    let mut b = ctx
        .builder(DashboardKind::Projections)
        .row("Projections and sagas");
    for consumer in &consumers {
        b = b.panel(
            PanelSpec::stat(&format!("{consumer}: events/s"))
                .query(&events.rate("", &eq(label::PROJECTION, consumer)), "")
                .unit("reqps")
                .size(4, 4),
        );
    }
    if consumers.is_empty() {
        b = b.panel(PanelSpec::text(
            "No projections",
            "No `#[event_handler(projection = ..)]` or `saga = ..` is registered in this service.",
        ));
    }
    let projected = "projection!=\"\"";
    b = b
        .panel(
            PanelSpec::timeseries("Events processed per projection")
                .query(&events.rate(label::PROJECTION, projected), "{{projection}}")
                .unit("reqps"),
        )
        .panel(
            PanelSpec::timeseries("Failures per projection (error, panic)")
                .query(
                    &events.rate(
                        "projection, outcome",
                        &format!("{projected},outcome=~\"{BAD}\""),
                    ),
                    "{{projection}} {{outcome}}",
                )
                .unit("reqps"),
        )
        .panel(
            PanelSpec::timeseries("Handler latency per projection (p95)")
                .query(&events.quantile(0.95, label::PROJECTION), "{{projection}}")
                .unit("s"),
        );
    b = b.row("Progress");
    let mut lag = PanelSpec::timeseries("Lag (age of the oldest unprocessed event)")
        .query(
            &format!(
                "max by (projection) ({})",
                metric(names::PROJECTION_LAG, "")
            ),
            "{{projection}}",
        )
        .unit("s");
    if ctx.production() {
        if let Some(thresholds) = lag_thresholds(ctx) {
            lag = lag.thresholds(thresholds);
        }
    }
    let e2e = |q: f64| {
        format!(
            "histogram_quantile({q}, {})",
            sum_by(
                "le, projection",
                &format!(
                    "rate({}[{RATE}])",
                    metric(&format!("{}_bucket", names::EVENT_END_TO_END), "")
                )
            )
        )
    };
    b = b
        .panel(lag.size(8, 8))
        .panel(
            PanelSpec::timeseries("Gap (events not processed yet)")
                .query(
                    &format!(
                        "max by (projection) ({})",
                        metric(names::PROJECTION_GAP, "")
                    ),
                    "{{projection}}",
                )
                .unit("short")
                .size(8, 8),
        )
        .panel(
            PanelSpec::timeseries("End-to-end latency (append → projected)")
                .query(&e2e(0.5), "{{projection}} p50")
                .query(&e2e(0.99), "{{projection}} p99")
                .unit("s")
                .size(8, 8),
        );
    b.build()
}
