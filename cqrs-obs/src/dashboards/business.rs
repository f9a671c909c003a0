//! Business: commands per aggregate and type (accepted and rejected), events per type, and
//! events appended per aggregate.

use super::context::Context;
use super::query::{eq, family, metric, sum_by, RATE};
use super::Dashboard;
use super::DashboardKind;
use super::PanelSpec;
use crate::handler::HandlerKind;
use crate::metrics::names::{self, label};

pub(crate) fn build(ctx: &Context<'_>) -> Dashboard {
    let mut b = ctx.builder(DashboardKind::Business);
    let commands = family(HandlerKind::Command);
    let events = family(HandlerKind::Event);
    let aggregates = ctx.distinct(|h| h.aggregate);
    let has = |kind| ctx.families().iter().any(|f| f.kind == kind);
    if has(HandlerKind::Command) {
        b = b.row("Commands");
        for aggregate in &aggregates {
            b = b.panel(
                PanelSpec::stat(&format!("{aggregate}: commands/s"))
                    .query(&commands.rate("", &eq(label::AGGREGATE, aggregate)), "")
                    .unit("reqps")
                    .size(4, 4),
            );
        }
        b = b
            .panel(
                PanelSpec::timeseries("Commands per aggregate")
                    .query(&commands.rate(label::AGGREGATE, ""), "{{aggregate}}")
                    .unit("reqps"),
            )
            .panel(
                PanelSpec::timeseries("Accepted commands by type")
                    .query(
                        &commands.rate("aggregate, command", "outcome=\"ok\""),
                        "{{aggregate}} {{command}}",
                    )
                    .unit("reqps")
                    .stacked(),
            )
            .panel(
                PanelSpec::timeseries("Rejected commands by type (business rules)")
                    .query(
                        &commands.rate("aggregate, command", "outcome=\"rejected\""),
                        "{{aggregate}} {{command}}",
                    )
                    .unit("reqps"),
            );
        if ctx.full() {
            let totals = sum_by(
                "aggregate, command, outcome",
                &format!(
                    "increase({}{}[$__range])",
                    names::COMMANDS_TOTAL,
                    super::query::scoped(&commands.handler_matcher())
                ),
            );
            b = b.panel(
                PanelSpec::table("Commands in range by type and outcome")
                    .query(&totals, "")
                    .unit("short")
                    .size(12, 8),
            );
        }
    }
    if has(HandlerKind::Event) {
        b = b
            .row("Events")
            .panel(
                PanelSpec::timeseries("Events handled by type")
                    .query(&events.rate(label::EVENT, ""), "{{event}}")
                    .unit("reqps"),
            )
            .panel(
                PanelSpec::timeseries("Events handled by type and projection or saga")
                    .query(
                        &events.rate("event, projection", ""),
                        "{{event}} → {{projection}}",
                    )
                    .unit("reqps"),
            );
    }
    if ctx.full() && !aggregates.is_empty() {
        let appended = sum_by(
            "aggregate, event",
            &format!("rate({}[{RATE}])", metric(names::EVENTS_APPENDED_TOTAL, "")),
        );
        b = b.panel(
            PanelSpec::timeseries("Events appended per aggregate and type")
                .query(&appended, "{{aggregate}} {{event}}")
                .unit("reqps")
                .size(24, 8),
        );
    }
    b.build()
}
