//! PromQL of the generated panels: the handler families, selectors scoped by the dashboard
//! variables, and the expressions every dashboard shares. Metric and label names come from
//! [`crate::metrics::names`] only.

use crate::handler::HandlerKind;
use crate::metrics::names::{self, label};

/// Outcomes that count as failures in error ratios (as in the SLO engine's defaults).
pub(crate) const BAD: &str = "error|panic";

/// The matchers every panel query carries: the `service` (Prometheus `job`) and `instance`
/// variables.
pub(crate) const SCOPE: &str = "job=~\"$service\",instance=~\"$instance\"";

/// The rate window: Grafana's `$__rate_interval`.
pub(crate) const RATE: &str = "$__rate_interval";

/// One family of handler metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Family {
    pub(crate) kind: HandlerKind,
    /// `Command`, `Event handler`, `Query`.
    pub(crate) noun: &'static str,
    /// `Commands`, `Event handlers`, `Queries`.
    pub(crate) plural: &'static str,
    pub(crate) counter: &'static str,
    pub(crate) histogram: &'static str,
    /// The label that identifies one handler's series (what `$handler` matches).
    pub(crate) id_label: &'static str,
}

pub(crate) const FAMILIES: [Family; 3] = [
    Family {
        kind: HandlerKind::Command,
        noun: "Command",
        plural: "Commands",
        counter: names::COMMANDS_TOTAL,
        histogram: names::COMMAND_DURATION,
        id_label: label::COMMAND,
    },
    Family {
        kind: HandlerKind::Event,
        noun: "Event handler",
        plural: "Event handlers",
        counter: names::EVENTS_PROCESSED_TOTAL,
        histogram: names::EVENT_HANDLER_DURATION,
        id_label: label::HANDLER,
    },
    Family {
        kind: HandlerKind::Query,
        noun: "Query",
        plural: "Queries",
        counter: names::QUERIES_TOTAL,
        histogram: names::QUERY_DURATION,
        id_label: label::QUERY,
    },
];

/// The family of a handler kind.
pub(crate) fn family(kind: HandlerKind) -> Family {
    match kind {
        HandlerKind::Command => FAMILIES[0],
        HandlerKind::Event => FAMILIES[1],
        HandlerKind::Query => FAMILIES[2],
    }
}

/// `{job=~"$service",instance=~"$instance",<extra>}`.
pub(crate) fn scoped(extra: &str) -> String {
    if extra.is_empty() {
        format!("{{{SCOPE}}}")
    } else {
        format!("{{{SCOPE},{extra}}}")
    }
}

/// A PromQL string literal's contents.
pub(crate) fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `label="value"`.
pub(crate) fn eq(label: &str, value: &str) -> String {
    format!("{label}=\"{}\"", escape(value))
}

impl Family {
    /// The `$handler` matcher of this family.
    pub(crate) fn handler_matcher(&self) -> String {
        format!("{}=~\"$handler\"", self.id_label)
    }

    /// The family's matchers plus `extra`, scoped and filtered by `$handler`.
    fn selector(&self, extra: &str) -> String {
        let handler = self.handler_matcher();
        if extra.is_empty() {
            scoped(&handler)
        } else {
            scoped(&format!("{handler},{extra}"))
        }
    }

    /// `sum by (<by>) (rate(<counter>{..,extra}[$__rate_interval]))`; `by` may be empty.
    pub(crate) fn rate(&self, by: &str, extra: &str) -> String {
        sum_by(
            by,
            &format!("rate({}{}[{RATE}])", self.counter, self.selector(extra)),
        )
    }

    /// Failures over calls that were not cancelled, grouped `by`.
    pub(crate) fn error_ratio(&self, by: &str) -> String {
        format!(
            "{} / {}",
            self.rate(by, &format!("outcome=~\"{BAD}\"")),
            self.rate(by, "outcome!=\"cancelled\"")
        )
    }

    /// Bucket rates grouped by `le` and `by` (for heatmaps and quantiles).
    pub(crate) fn bucket_rate(&self, by: &str) -> String {
        let by = if by.is_empty() {
            "le".to_owned()
        } else {
            format!("le, {by}")
        };
        sum_by(
            &by,
            &format!(
                "rate({}_bucket{}[{RATE}])",
                self.histogram,
                self.selector("outcome!=\"cancelled\"")
            ),
        )
    }

    /// The `q` quantile of call durations grouped `by`.
    pub(crate) fn quantile(&self, q: f64, by: &str) -> String {
        format!("histogram_quantile({q}, {})", self.bucket_rate(by))
    }
}

/// `sum by (by) (inner)`, or `sum(inner)` without grouping.
pub(crate) fn sum_by(by: &str, inner: &str) -> String {
    if by.is_empty() {
        format!("sum({inner})")
    } else {
        format!("sum by ({by}) ({inner})")
    }
}

/// Calls in flight grouped `by`, scoped.
pub(crate) fn in_flight(by: &str, kind: Option<HandlerKind>) -> String {
    let matcher = kind.map_or_else(String::new, |k| eq(label::KIND, k.as_str()));
    sum_by(
        by,
        &format!("{}{}", names::HANDLERS_IN_FLIGHT, scoped(&matcher)),
    )
}

/// A metric selector for a gauge or counter that is not a handler family.
pub(crate) fn metric(name: &str, extra: &str) -> String {
    format!("{name}{}", scoped(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_queries_are_scoped_and_filtered() {
        let commands = family(HandlerKind::Command);
        assert_eq!(
            commands.rate("command", ""),
            "sum by (command) (rate(cqrs_commands_total{job=~\"$service\",instance=~\"$instance\",command=~\"$handler\"}[$__rate_interval]))"
        );
        assert!(commands
            .quantile(0.95, "command")
            .starts_with("histogram_quantile(0.95, sum by (le, command) (rate(cqrs_command_duration_seconds_bucket{"));
        assert_eq!(eq("a", "x\"y"), "a=\"x\\\"y\"");
    }
}
