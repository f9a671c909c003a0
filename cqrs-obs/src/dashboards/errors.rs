//! Errors: outcome rates by handler, and rejected vs conflict vs error vs panic vs cancelled.
//! In production, error ratios carry the thresholds at which the SLO alerts fire.

use super::context::Context;
use super::query::BAD;
use super::slos::availability_thresholds;
use super::DashboardKind;
use super::PanelSpec;
use super::{Dashboard, DataLink};
use crate::metrics::names::label;
use crate::slo::Sli;

pub(crate) fn build(ctx: &Context<'_>) -> Dashboard {
    let mut b = ctx.builder(DashboardKind::Errors);
    for family in ctx.families() {
        let id = family.id_label;
        b = b.row(family.plural);
        b = b.panel(
            PanelSpec::stat(&format!("{} failures in range", family.noun))
                .query(
                    &format!(
                        "sum(increase({}{}[$__range]))",
                        family.counter,
                        super::query::scoped(&format!(
                            "{},outcome=~\"{BAD}\"",
                            family.handler_matcher()
                        ))
                    ),
                    "",
                )
                .unit("short")
                .size(4, 8),
        );
        b = b.panel(
            PanelSpec::timeseries(&format!(
                "{}: rejected vs conflict vs error vs panic vs cancelled",
                family.plural
            ))
            .query(
                &family.rate(label::OUTCOME, "outcome!=\"ok\""),
                "{{outcome}}",
            )
            .unit("reqps")
            .stacked()
            .size(10, 8),
        );
        let mut ratio = PanelSpec::timeseries(&format!("{} error ratio per handler", family.noun))
            .query(&family.error_ratio(id), &format!("{{{{{id}}}}}"))
            .unit("percentunit")
            .range(Some(0.0), None)
            .size(10, 8);
        if ctx.production() {
            let tightest = ctx
                .slos_of(family.kind)
                .filter(|s| matches!(s.sli, Sli::Availability { .. }))
                .min_by(|a, b| a.error_budget_ratio().total_cmp(&b.error_budget_ratio()));
            if let Some(slo) = tightest {
                ratio = ratio.thresholds(availability_thresholds(slo));
            }
        }
        let mut outcomes = PanelSpec::timeseries(&format!("{} outcomes by handler", family.noun))
            .query(
                &family.rate(&format!("{id}, outcome"), "outcome!=\"ok\""),
                &format!("{{{{{id}}}}} {{{{outcome}}}}"),
            )
            .unit("reqps")
            .size(24, 8);
        if ctx.full() {
            // The admin endpoint's warnings and errors that mention the handler.
            let logs = DataLink::new(
                "Warnings and errors in the logs",
                &format!("${{admin}}/logs?level=warn&q=${{__field.labels.{id}}}"),
            );
            ratio = ratio.data_link(logs.clone());
            outcomes = outcomes.data_link(logs);
        }
        b = b.panel(ratio).panel(outcomes);
    }
    b.build()
}
