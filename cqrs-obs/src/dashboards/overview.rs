//! System overview: health, throughput, error rate and in-flight calls; SLO budgets in
//! production.

use std::collections::BTreeMap;

use super::context::Context;
use super::query::{in_flight, metric, sum_by};
use super::slos::{availability_thresholds, budget_remaining, slo_selector};
use super::DashboardKind;
use super::PanelSpec;
use super::{Dashboard, MappingResult, Thresholds, ValueMapping};
use crate::metrics::names::{self, label};

/// `1` → UP and so on, as `cqrs_health_status` encodes health.
pub(crate) fn health_mappings() -> Vec<ValueMapping> {
    let options: BTreeMap<String, MappingResult> = [
        ("1", "UP", "green"),
        ("0.5", "DEGRADED", "orange"),
        ("0", "DOWN", "red"),
        ("-1", "UNKNOWN", "text"),
    ]
    .into_iter()
    .map(|(v, text, color)| {
        (
            v.to_owned(),
            MappingResult {
                text: text.into(),
                color: color.into(),
            },
        )
    })
    .collect();
    vec![ValueMapping::Value { options }]
}

pub(crate) fn build(ctx: &Context<'_>) -> Dashboard {
    let families = ctx.families();
    let health = Thresholds::absolute("red", &[(0.5, "orange"), (1.0, "green")]);
    let mut b = ctx
        .builder(DashboardKind::Overview)
        .row("Health")
        .panel(
            PanelSpec::stat("Health (worst component)")
                .query(&format!("min({})", metric(names::HEALTH_STATUS, "")), "")
                .mappings(health_mappings())
                .thresholds(health.clone()),
        )
        .panel(
            PanelSpec::stat("Instances up")
                .query("sum(up{job=~\"$service\",instance=~\"$instance\"})", "")
                .unit("short")
                .thresholds(Thresholds::absolute("red", &[(1.0, "green")])),
        );
    for family in &families {
        b = b.panel(
            PanelSpec::stat(&format!("{}/s", family.plural))
                .query(&family.rate("", ""), "")
                .unit("reqps"),
        );
    }
    b = b.panel(
        PanelSpec::stat("In flight")
            .query(&in_flight("", None), "")
            .unit("short"),
    );
    b = b.row("Traffic and errors");
    let mut throughput = PanelSpec::timeseries("Throughput by kind").unit("reqps");
    let mut errors = PanelSpec::timeseries("Error ratio by kind (error, panic)")
        .unit("percentunit")
        .range(Some(0.0), None);
    for family in &families {
        throughput = throughput.query(&family.rate("", ""), family.noun);
        errors = errors.query(&family.error_ratio(""), family.noun);
    }
    if ctx.production() {
        // The tightest availability objective's page thresholds, as in the alert rules.
        let tightest = families
            .iter()
            .flat_map(|f| ctx.slos_of(f.kind))
            .filter(|s| matches!(s.sli, crate::slo::Sli::Availability { .. }))
            .min_by(|a, b| a.error_budget_ratio().total_cmp(&b.error_budget_ratio()));
        if let Some(slo) = tightest {
            errors = errors.thresholds(availability_thresholds(slo));
        }
    }
    b = b.panel(throughput).panel(errors).panel(
        PanelSpec::timeseries("In flight by kind")
            .query(&in_flight(label::KIND, None), "{{kind}}")
            .unit("short"),
    );
    b = b.panel(
        PanelSpec::timeseries("Health by component")
            .query(
                &sum_by(label::COMPONENT, &metric(names::HEALTH_STATUS, "")),
                "{{component}}",
            )
            .mappings(health_mappings())
            .range(Some(-1.0), Some(1.0)),
    );
    if ctx.production() && !ctx.sources.slos.is_empty() {
        b = b.row("SLOs: error budget remaining");
        for slo in &ctx.sources.slos {
            let Some(sel) = slo_selector(ctx, slo) else {
                continue;
            };
            b = b.panel(budget_remaining(slo, &sel).size(6, 4));
        }
    }
    b.build()
}
