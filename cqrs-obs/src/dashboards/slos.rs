//! The SLO dashboard (production template): error budget remaining, burn rate per window and
//! the state of each burn-rate alert, all read from the recording rules that
//! [`crate::slo::prometheus_rules`] generates, with the same thresholds as its alerts.

use std::collections::BTreeSet;
use std::time::Duration;

use super::context::Context;
use super::query::{eq, escape};
use super::DashboardKind;
use super::PanelSpec;
use super::{Dashboard, MappingResult, Thresholds, ValueMapping};
use crate::slo::{promql_duration, BurnRateRule, Severity, Sli, Slo};

/// The alert the SLO rules raise when an error budget burns too fast.
pub const BURN_ALERT: &str = "CqrsSloErrorBudgetBurn";

/// `{sloth_service="..",slo_id=".."}`, the labels of the SLO's recorded series; `None` for
/// a custom SLI, which has no rules.
pub(crate) fn slo_selector(ctx: &Context<'_>, slo: &Slo) -> Option<String> {
    if matches!(slo.sli, Sli::Custom { .. }) {
        return None;
    }
    Some(format!(
        "{{{},{}}}",
        eq("sloth_service", &ctx.sources.service),
        eq("slo_id", slo.id)
    ))
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "yellow",
        Severity::Medium => "orange",
        Severity::High => "red",
        Severity::Critical => "dark-red",
    }
}

/// The error ratio at which a burn-rate rule fires: the rules' `factor × budget`.
pub(crate) fn rule_threshold(slo: &Slo, rule: &BurnRateRule) -> f64 {
    rule.factor(slo.period) * slo.error_budget_ratio()
}

/// Steps at each rule's value, coloured by severity, in increasing order.
fn steps(slo: &Slo, value: impl Fn(&BurnRateRule) -> f64) -> Thresholds {
    let mut rules: Vec<(f64, &str)> = slo
        .burn_rates
        .iter()
        .map(|r| (value(r), severity_color(r.severity)))
        .collect();
    rules.sort_by(|a, b| a.0.total_cmp(&b.0));
    rules.dedup_by(|a, b| a.0 == b.0);
    Thresholds::absolute("green", &rules)
}

/// Error-ratio thresholds of an availability SLO: where each burn-rate alert fires.
pub(crate) fn availability_thresholds(slo: &Slo) -> Thresholds {
    steps(slo, |r| rule_threshold(slo, r))
}

/// Burn-rate thresholds: each rule's factor.
fn burn_thresholds(slo: &Slo) -> Thresholds {
    steps(slo, |r| r.factor(slo.period))
}

/// A stat of the budget left over the SLO's period.
pub(crate) fn budget_remaining(slo: &Slo, sel: &str) -> PanelSpec {
    PanelSpec::stat(&format!("{}: budget remaining", slo.name))
        .query(&format!("slo:period_error_budget_remaining:ratio{sel}"), "")
        .unit("percentunit")
        .thresholds(Thresholds::absolute(
            "red",
            &[(0.0, "orange"), (0.25, "green")],
        ))
}

fn burn_rate(slo: &Slo, sel: &str) -> PanelSpec {
    let windows: BTreeSet<Duration> = slo
        .burn_rates
        .iter()
        .flat_map(|r| [r.short, r.long])
        .collect();
    let budget = slo.error_budget_ratio();
    let mut panel = PanelSpec::timeseries(&format!("{}: burn rate per window", slo.name))
        .unit("x")
        .range(Some(0.0), None)
        .size(16, 8);
    for w in windows {
        let w = promql_duration(w);
        panel = panel.query(&format!("slo:sli_error:ratio_rate{w}{sel} / {budget}"), &w);
    }
    panel.thresholds(burn_thresholds(slo))
}

/// 1 while a burn-rate alert's condition holds: the rule's own expression, as 0/1.
fn alert_condition(slo: &Slo, rule: &BurnRateRule, sel: &str) -> PanelSpec {
    let (long, short) = (promql_duration(rule.long), promql_duration(rule.short));
    let t = rule_threshold(slo, rule);
    let expr = format!(
        "max((slo:sli_error:ratio_rate{long}{sel} >= bool {t}) * (slo:sli_error:ratio_rate{short}{sel} >= bool {t}) * (slo:sli_events:increase{long}{sel} >= bool {min}))",
        min = slo.min_events
    );
    let options = [
        ("0", "OK", "green"),
        ("1", "FIRING", severity_color(rule.severity)),
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
    PanelSpec::stat(&format!(
        "{} {:.1}x ({long} & {short})",
        rule.severity.as_str(),
        rule.factor(slo.period)
    ))
    .query(&expr, "")
    .mappings(vec![ValueMapping::Value { options }])
    .thresholds(Thresholds::absolute(
        "green",
        &[(1.0, severity_color(rule.severity))],
    ))
    .size(3, 4)
}

pub(crate) fn build(ctx: &Context<'_>) -> Dashboard {
    let service_filter = format!("{{{}}}", eq("sloth_service", &ctx.sources.service));
    let mut b = ctx
        .builder(DashboardKind::Slos)
        .panel(PanelSpec::alert_list(
            "Burn-rate alerts (firing and pending)",
            BURN_ALERT,
            &service_filter,
        ));
    if ctx.sources.slos.is_empty() {
        b = b.panel(PanelSpec::text(
            "No SLOs",
            "This service registers no SLOs. Declare them with `#[slo]` or `cqrs_obs::slo::register`.",
        ));
    }
    for slo in &ctx.sources.slos {
        b = b.row(&format!(
            "{} ({}% over {})",
            slo.name,
            slo.target,
            promql_duration(slo.period)
        ));
        let Some(sel) = slo_selector(ctx, slo) else {
            b = b.panel(PanelSpec::text(
                slo.name,
                &format!(
                    "`{}` has a custom SLI: it is evaluated in the process only (`/slo/{}` on the admin endpoint).",
                    escape(slo.id),
                    slo.id
                ),
            ));
            continue;
        };
        let period = promql_duration(slo.period);
        let objective = slo.target / 100.0;
        b = b
            .panel(budget_remaining(slo, &sel))
            .panel(
                // From ten budgets below the objective to 100 %, so the needle moves.
                PanelSpec::gauge(&format!("SLI over {period}"))
                    .query(&format!("1 - slo:sli_error:ratio_rate{period}{sel}"), "")
                    .unit("percentunit")
                    .range(
                        Some((1.0 - 10.0 * slo.error_budget_ratio()).max(0.0)),
                        Some(1.0),
                    )
                    .thresholds(Thresholds::absolute("red", &[(objective, "green")]))
                    .size(4, 4),
            )
            .panel(
                PanelSpec::stat("Burn rate (5m)")
                    .query(&format!("slo:current_burn_rate:ratio{sel}"), "")
                    .unit("x")
                    .thresholds(burn_thresholds(slo)),
            );
        for rule in slo.burn_rates {
            b = b.panel(alert_condition(slo, rule, &sel));
        }
        b = b.panel(burn_rate(slo, &sel)).panel(
            PanelSpec::timeseries("Error ratio vs objective")
                .query(&format!("slo:sli_error:ratio_rate5m{sel}"), "5m")
                .query(&format!("slo:sli_error:ratio_rate1h{sel}"), "1h")
                .unit("percentunit")
                .thresholds(availability_thresholds(slo))
                .size(8, 8),
        );
    }
    b.build()
}
