//! Prometheus recording and alerting rules for the registered SLOs.
//!
//! Record names are sloth's (`slo:sli_error:ratio_rate5m` … `slo:sli_error:ratio_rate30d`,
//! `slo:objective:ratio`, `slo:error_budget:ratio`, `slo:current_burn_rate:ratio`,
//! `slo:period_error_budget_remaining:ratio`), so dashboards made for sloth work. Two
//! differences: the remaining budget is traffic-weighted (bad over total across the whole
//! period, where sloth averages 5-minute ratios), and every alert carries the same
//! minimum-traffic guard as the in-process engine.
//!
//! Each SLO's rules form one group, records before alerts. Prometheus evaluates the rules of a
//! group in order at one timestamp, so an alert reads the ratios recorded in the same
//! evaluation; groups run on their own schedules, so an alert in another group would read
//! ratios up to one interval old and could fire an interval later than the engine.

use std::fmt::Write as _;
use std::time::Duration;

use super::model::{Handlers, Sli, Slo};
use crate::handler::{registered, HandlerKind, Outcome};
use crate::metrics::exposition::le_label;
use crate::metrics::names::{self, label};

/// A PromQL duration: `5m`, `1h`, `30d`.
pub fn promql_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The counter family and label matchers selecting the handlers of an SLI.
fn selector(handlers: &Handlers) -> (HandlerKind, String) {
    let matcher = |k: &str, v: &str| format!("{k}=\"{}\"", escape(v));
    match handlers {
        Handlers::Kind(kind) => (*kind, String::new()),
        Handlers::Named(name) | Handlers::Message(name) => {
            let by_name = matches!(handlers, Handlers::Named(_));
            let site = registered().map(|s| *s.meta()).find(|m| {
                if by_name {
                    m.name == *name
                } else {
                    m.message == *name
                }
            });
            match site {
                Some(m) => {
                    let matchers = match m.kind {
                        HandlerKind::Command => matcher(label::COMMAND, m.message),
                        HandlerKind::Event if by_name => matcher(label::HANDLER, m.name),
                        HandlerKind::Event => matcher(label::EVENT, m.message),
                        HandlerKind::Query => matcher(label::QUERY, m.message),
                    };
                    (m.kind, matchers)
                }
                // Not registered in this binary: select by message type on commands.
                None => (HandlerKind::Command, matcher(label::COMMAND, name)),
            }
        }
    }
}

fn families(kind: HandlerKind) -> (&'static str, &'static str) {
    match kind {
        HandlerKind::Command => (names::COMMANDS_TOTAL, names::COMMAND_DURATION),
        HandlerKind::Event => (names::EVENTS_PROCESSED_TOTAL, names::EVENT_HANDLER_DURATION),
        HandlerKind::Query => (names::QUERIES_TOTAL, names::QUERY_DURATION),
    }
}

fn join(outcomes: impl Iterator<Item = Outcome>) -> String {
    outcomes.map(Outcome::as_str).collect::<Vec<_>>().join("|")
}

fn with(matchers: &str, extra: &str) -> String {
    match (matchers.is_empty(), extra.is_empty()) {
        (true, _) => format!("{{{extra}}}"),
        (false, true) => format!("{{{matchers}}}"),
        (false, false) => format!("{{{matchers},{extra}}}"),
    }
}

/// PromQL for the SLI's error ratio over `window`, and for its event count (for the
/// minimum-traffic guard and the absent alert). `None` for SLIs Prometheus cannot see.
pub(crate) struct Queries {
    pub(crate) error_ratio: String,
    pub(crate) events: String,
    pub(crate) absent: String,
}

pub(crate) fn queries(slo: &Slo, window: &str) -> Option<Queries> {
    match &slo.sli {
        Sli::Availability { handlers, good } => {
            let (kind, m) = selector(handlers);
            let (counter, _) = families(kind);
            let bad = with(&m, &format!("outcome=~\"{}\"", join(good.bad())));
            let total = with(&m, &format!("outcome=~\"{}\"", join(good.counted())));
            Some(Queries {
                error_ratio: format!(
                    "(sum(rate({counter}{bad}[{window}])) or vector(0)) / sum(rate({counter}{total}[{window}]))"
                ),
                events: format!("sum(increase({counter}{total}[{window}]))"),
                absent: format!("absent({counter}{})", with(&m, "")),
            })
        }
        Sli::Latency {
            handlers,
            threshold,
        } => {
            let (kind, m) = selector(handlers);
            let (_, histogram) = families(kind);
            let bound = u64::try_from(threshold.as_nanos()).ok()?;
            let counted = with(&m, "outcome!=\"cancelled\"");
            let good = with(
                &m,
                &format!("outcome!=\"cancelled\",le=\"{}\"", le_label(bound)),
            );
            Some(Queries {
                error_ratio: format!(
                    "1 - (sum(rate({histogram}_bucket{good}[{window}])) / sum(rate({histogram}_count{counted}[{window}])))"
                ),
                events: format!("sum(increase({histogram}_count{counted}[{window}]))"),
                absent: format!("absent({histogram}_count{})", with(&m, "")),
            })
        }
        Sli::Throughput {
            handlers,
            per_second,
        } => {
            let (kind, m) = selector(handlers);
            let (counter, _) = families(kind);
            let all = with(&m, "");
            Some(Queries {
                error_ratio: format!(
                    "1 - avg_over_time((sum(rate({counter}{all}[1m])) >= bool {per_second})[{window}:1m])"
                ),
                events: format!("count_over_time((sum(rate({counter}{all}[1m])))[{window}:1m])"),
                absent: format!("absent({counter}{all})"),
            })
        }
        Sli::Freshness {
            projection,
            max_lag,
        } => {
            let gauge = names::PROJECTION_LAG;
            let sel = format!("{{{}=\"{}\"}}", label::PROJECTION, escape(projection));
            let bound = max_lag.as_secs_f64();
            Some(Queries {
                error_ratio: format!(
                    "1 - avg_over_time(({gauge}{sel} <= bool {bound})[{window}:1m])"
                ),
                events: format!("count_over_time({gauge}{sel}[{window}])"),
                absent: format!("absent({gauge}{sel})"),
            })
        }
        Sli::Custom { .. } => None,
    }
}

fn labels(slo: &Slo, service: &str, indent: &str) -> String {
    let mut out = String::new();
    for (k, v) in [
        ("sloth_id", format!("{service}-{}", slo.id)),
        ("sloth_service", service.to_owned()),
        ("sloth_slo", slo.id.to_owned()),
        ("slo_id", slo.id.to_owned()),
    ] {
        let _ = writeln!(out, "{indent}{k}: \"{}\"", escape(&v));
    }
    out
}

/// Renders the rules of `slos` as a Prometheus rule file (YAML).
pub(crate) fn render(slos: &[Slo], service: &str) -> String {
    let mut out =
        String::from("# Generated by cqrs-obs: SLO recording and alerting rules.\ngroups:\n");
    for slo in slos {
        let mut windows: Vec<Duration> = super::window::WINDOWS.to_vec();
        windows.push(slo.period);
        let Some(period_q) = queries(slo, &promql_duration(slo.period)) else {
            let _ = writeln!(
                out,
                "# SLO {} has a custom SLI that Prometheus cannot evaluate.",
                slo.id
            );
            continue;
        };
        let objective = slo.target / 100.0;
        let budget = slo.error_budget_ratio();
        let sel = format!("{{slo_id=\"{}\"}}", escape(slo.id));
        let id = slo.id;
        let _ = writeln!(out, "  - name: cqrs-obs-slo-{id}\n    rules:");
        for w in &windows {
            let d = promql_duration(*w);
            let q = queries(slo, &d).expect("same SLI kind");
            let _ = writeln!(
                out,
                "      - record: slo:sli_error:ratio_rate{d}\n        expr: {}\n        labels:\n{}",
                yaml_string(&q.error_ratio),
                labels(slo, service, "          ")
            );
            let _ = writeln!(
                out,
                "      - record: slo:sli_events:increase{d}\n        expr: {}\n        labels:\n{}",
                yaml_string(&q.events),
                labels(slo, service, "          ")
            );
        }
        let period_d = promql_duration(slo.period);
        let remaining = format!("1 - (({}) / {budget})", period_q.error_ratio);
        for (record, expr) in [
            ("slo:objective:ratio", format!("vector({objective})")),
            ("slo:error_budget:ratio", format!("vector({budget})")),
            (
                "slo:time_period:days",
                format!("vector({})", slo.period.as_secs_f64() / 86400.0),
            ),
            (
                "slo:current_burn_rate:ratio",
                format!("slo:sli_error:ratio_rate5m{sel} / {budget}"),
            ),
            (
                "slo:period_burn_rate:ratio",
                format!("slo:sli_error:ratio_rate{period_d}{sel} / {budget}"),
            ),
            ("slo:period_error_budget_remaining:ratio", remaining),
        ] {
            let _ = writeln!(
                out,
                "      - record: {record}\n        expr: {}\n        labels:\n{}",
                yaml_string(&expr),
                labels(slo, service, "          ")
            );
        }
        for rule in slo.burn_rates {
            let factor = rule.factor(slo.period);
            let (long, short) = (promql_duration(rule.long), promql_duration(rule.short));
            let threshold = factor * budget;
            let expr = format!(
                "(slo:sli_error:ratio_rate{long}{sel} >= {threshold}) and (slo:sli_error:ratio_rate{short}{sel} >= {threshold}) and (slo:sli_events:increase{long}{sel} >= {min})",
                min = slo.min_events
            );
            let _ = writeln!(
                out,
                "      - alert: CqrsSloErrorBudgetBurn\n        expr: {}\n        for: {}\n        labels:\n          severity: {}\n          long_window: \"{long}\"\n          short_window: \"{short}\"\n{}        annotations:\n          summary: {}\n",
                yaml_string(&expr),
                promql_duration(rule.for_),
                rule.severity.as_str(),
                labels(slo, service, "          "),
                yaml_string(&format!(
                    "SLO {} is burning its error budget at {factor:.1}x or more ({long} and {short} windows)",
                    slo.name
                )),
            );
        }
        let _ = writeln!(
            out,
            "      - alert: CqrsSloMetricAbsent\n        expr: {}\n        for: 10m\n        labels:\n          severity: medium\n{}        annotations:\n          summary: {}\n",
            yaml_string(&period_q.absent),
            labels(slo, service, "          "),
            yaml_string(&format!("No data for SLO {}", slo.name)),
        );
    }
    out
}

/// A double-quoted YAML scalar.
fn yaml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_promql() {
        assert_eq!(promql_duration(Duration::from_secs(300)), "5m");
        assert_eq!(promql_duration(Duration::from_secs(30 * 86400)), "30d");
        assert_eq!(promql_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(promql_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn each_slo_is_one_group_whose_alerts_follow_the_records_they_read() {
        let slos = [
            super::super::CqrsSlos::command_availability(),
            super::super::CqrsSlos::query_latency(),
        ];
        let yaml = render(&slos, "svc");
        let groups: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.strip_prefix("  - name: "))
            .collect();
        assert_eq!(groups.len(), slos.len(), "{yaml}");
        for (i, group) in yaml.split("\n  - name: ").skip(1).enumerate() {
            let last_record = group.rfind("- record: slo:sli_error:ratio_rate").unwrap();
            let first_alert = group.find("- alert: ").unwrap();
            assert!(last_record < first_alert, "group {i}:\n{group}");
        }
    }
}
