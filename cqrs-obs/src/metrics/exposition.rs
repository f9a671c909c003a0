//! Prometheus text exposition (format 0.0.4) of the handler recordings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::names::{self, label};
use crate::handler::{HandlerKind, HandlerSnapshot, Outcome, OutcomeStats, BUCKET_BOUNDS_NANOS};

/// Label values of one series, in the family's label order.
type Labels = Vec<(&'static str, &'static str)>;

struct Family {
    kind: HandlerKind,
    counter: &'static str,
    histogram: &'static str,
}

const FAMILIES: [Family; 3] = [
    Family {
        kind: HandlerKind::Command,
        counter: names::COMMANDS_TOTAL,
        histogram: names::COMMAND_DURATION,
    },
    Family {
        kind: HandlerKind::Event,
        counter: names::EVENTS_PROCESSED_TOTAL,
        histogram: names::EVENT_HANDLER_DURATION,
    },
    Family {
        kind: HandlerKind::Query,
        counter: names::QUERIES_TOTAL,
        histogram: names::QUERY_DURATION,
    },
];

/// The series labels of a handler, without `outcome`. Handlers with equal labels are summed
/// into one series.
fn series_labels(snap: &HandlerSnapshot) -> Labels {
    let m = &snap.meta;
    match m.kind {
        HandlerKind::Command => {
            vec![
                (label::COMMAND, m.message),
                (label::AGGREGATE, m.aggregate.unwrap_or("")),
            ]
        }
        HandlerKind::Event => vec![
            (label::EVENT, m.message),
            (label::HANDLER, m.name),
            (label::PROJECTION, m.projection.or(m.saga).unwrap_or("")),
        ],
        HandlerKind::Query => vec![(label::QUERY, m.message)],
    }
}

fn write_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

pub(crate) fn write_labels(out: &mut String, labels: &[(&str, &str)]) {
    write_labels_with(out, labels, None);
}

fn write_labels_with(out: &mut String, labels: &[(&str, &str)], extra: Option<(&str, &str)>) {
    out.push('{');
    for (i, (key, value)) in labels.iter().chain(extra.as_ref()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        write_escaped(out, value);
        out.push('"');
    }
    out.push('}');
}

fn write_header(out: &mut String, name: &str, kind: &str) {
    let help = names::help(name).unwrap_or("cqrs-obs metric.");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The `le` label value of a bucket bound, as the exposition writes it (and rules must match).
pub(crate) fn le_label(bound_nanos: u64) -> String {
    seconds(bound_nanos).to_string()
}

/// Seconds from nanoseconds, printed without an exponent (`0.0000025`).
fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

fn write_histogram(out: &mut String, name: &str, labels: &[(&str, &str)], stats: &OutcomeStats) {
    let mut cumulative = 0u64;
    for (i, count) in stats.buckets.iter().enumerate() {
        cumulative += count;
        let le = match BUCKET_BOUNDS_NANOS.get(i) {
            Some(&bound) => le_label(bound),
            None => "+Inf".to_owned(),
        };
        out.push_str(name);
        out.push_str("_bucket");
        write_labels_with(out, labels, Some((label::LE, &le)));
        let _ = writeln!(out, " {cumulative}");
    }
    out.push_str(name);
    out.push_str("_sum");
    write_labels(out, labels);
    let _ = writeln!(out, " {}", seconds(stats.sum_nanos));
    out.push_str(name);
    out.push_str("_count");
    write_labels(out, labels);
    let _ = writeln!(out, " {cumulative}");
}

/// Appends the handler families to `out`.
///
/// Counters carry every outcome from the start (so `rate()` and ratios work before the first
/// error); histogram series appear for outcomes that have happened.
pub fn render_handlers(snapshots: &[HandlerSnapshot], out: &mut String) {
    for family in &FAMILIES {
        let mut series: BTreeMap<Labels, [OutcomeStats; 6]> = BTreeMap::new();
        for snap in snapshots.iter().filter(|s| s.meta.kind == family.kind) {
            let entry = series.entry(series_labels(snap)).or_default();
            for (total, stats) in entry.iter_mut().zip(&snap.outcomes) {
                total.merge(stats);
            }
        }
        if series.is_empty() {
            continue;
        }
        write_header(out, family.counter, "counter");
        for (labels, outcomes) in &series {
            for outcome in Outcome::ALL {
                let mut with_outcome = labels.clone();
                with_outcome.push((label::OUTCOME, outcome.as_str()));
                out.push_str(family.counter);
                write_labels(out, &with_outcome);
                let _ = writeln!(out, " {}", outcomes[outcome as usize].count());
            }
        }
        write_header(out, family.histogram, "histogram");
        for (labels, outcomes) in &series {
            for outcome in Outcome::ALL {
                let stats = &outcomes[outcome as usize];
                if stats.count() == 0 {
                    continue;
                }
                let mut with_outcome = labels.clone();
                with_outcome.push((label::OUTCOME, outcome.as_str()));
                write_histogram(out, family.histogram, &with_outcome, stats);
            }
        }
    }
    render_in_flight(snapshots, out);
}

fn render_in_flight(snapshots: &[HandlerSnapshot], out: &mut String) {
    let mut gauges: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for snap in snapshots {
        *gauges
            .entry((snap.meta.kind.as_str(), snap.meta.name))
            .or_default() += snap.in_flight;
    }
    if gauges.is_empty() {
        return;
    }
    write_header(out, names::HANDLERS_IN_FLIGHT, "gauge");
    for ((kind, handler), value) in gauges {
        out.push_str(names::HANDLERS_IN_FLIGHT);
        write_labels(out, &[(label::KIND, kind), (label::HANDLER, handler)]);
        let _ = writeln!(out, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::HandlerMeta;

    fn snap(kind: HandlerKind, name: &'static str, message: &'static str) -> HandlerSnapshot {
        HandlerSnapshot {
            meta: HandlerMeta {
                kind,
                name,
                message,
                aggregate: Some("Account"),
                projection: None,
                saga: None,
                module: "m",
                file: "f",
                line: 1,
                is_async: false,
            },
            in_flight: 1,
            outcomes: Default::default(),
        }
    }

    #[test]
    fn renders_counters_histograms_and_escapes_labels() {
        let mut a = snap(HandlerKind::Command, "deposit", "De\"po\\sit\n");
        a.outcomes[0].buckets[5] = 3;
        a.outcomes[0].sum_nanos = 12_000;
        let mut out = String::new();
        render_handlers(&[a], &mut out);
        assert!(out.contains("# TYPE cqrs_commands_total counter"), "{out}");
        let series =
            r#"cqrs_commands_total{command="De\"po\\sit\n",aggregate="Account",outcome="ok"} 3"#;
        assert!(out.contains(series), "{out}");
        assert!(out.contains(r#"outcome="panic"} 0"#), "{out}");
        assert!(out.contains(r#"outcome="ok",le="0.0000025"} 0"#), "{out}");
        assert!(out.contains(r#"outcome="ok",le="0.000005"} 3"#), "{out}");
        assert!(out.contains(r#"outcome="ok",le="+Inf"} 3"#), "{out}");
        assert!(out.contains(
            r#"_sum{command="De\"po\\sit\n",aggregate="Account",outcome="ok"} 0.000012"#
        ));
        assert!(
            !out.contains(r#"outcome="error",le"#),
            "no histogram for unseen outcomes"
        );
        assert!(out.contains(r#"cqrs_handlers_in_flight{kind="command",handler="deposit"} 1"#));
    }

    #[test]
    fn handlers_with_equal_labels_are_summed() {
        let mut a = snap(HandlerKind::Query, "q1", "Balance");
        let mut b = snap(HandlerKind::Query, "q2", "Balance");
        a.outcomes[0].buckets[0] = 2;
        b.outcomes[0].buckets[0] = 5;
        let mut out = String::new();
        render_handlers(&[a, b], &mut out);
        assert!(
            out.contains(r#"cqrs_queries_total{query="Balance",outcome="ok"} 7"#),
            "{out}"
        );
        assert_eq!(
            out.matches(r#"cqrs_queries_total{query="Balance",outcome="ok"}"#)
                .count(),
            1
        );
    }
}
