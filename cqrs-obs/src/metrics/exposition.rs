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

/// Writes one histogram series; `extra` are more buckets, `(bound in nanoseconds, cumulative
/// count)` sorted by bound, none equal to a fixed bound.
fn write_histogram(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    stats: &OutcomeStats,
    extra: &[(u64, u64)],
) {
    let mut bucket = |le: &str, cumulative: u64| {
        out.push_str(name);
        out.push_str("_bucket");
        write_labels_with(out, labels, Some((label::LE, le)));
        let _ = writeln!(out, " {cumulative}");
    };
    let mut extra = extra.iter().peekable();
    let mut cumulative = 0u64;
    for (i, count) in stats.buckets.iter().enumerate() {
        let bound = BUCKET_BOUNDS_NANOS.get(i).copied();
        while let Some(&&(nanos, within)) = extra.peek() {
            if bound.is_some_and(|bound| nanos > bound) {
                break;
            }
            bucket(&le_label(nanos), within);
            extra.next();
        }
        cumulative += count;
        match bound {
            Some(bound) => bucket(&le_label(bound), cumulative),
            None => bucket("+Inf", cumulative),
        }
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
        let mut series: BTreeMap<Labels, Series> = BTreeMap::new();
        for snap in snapshots.iter().filter(|s| s.meta.kind == family.kind) {
            series.entry(series_labels(snap)).or_default().add(snap);
        }
        if series.is_empty() {
            continue;
        }
        write_header(out, family.counter, "counter");
        for (labels, Series { outcomes, .. }) in &series {
            for outcome in Outcome::ALL {
                let mut with_outcome = labels.clone();
                with_outcome.push((label::OUTCOME, outcome.as_str()));
                out.push_str(family.counter);
                write_labels(out, &with_outcome);
                let _ = writeln!(out, " {}", outcomes[outcome as usize].count());
            }
        }
        write_header(out, family.histogram, "histogram");
        for (labels, one) in &series {
            for outcome in Outcome::ALL {
                let stats = &one.outcomes[outcome as usize];
                if stats.count() == 0 {
                    continue;
                }
                let mut with_outcome = labels.clone();
                with_outcome.push((label::OUTCOME, outcome.as_str()));
                let extra = one.thresholds(outcome);
                write_histogram(out, family.histogram, &with_outcome, stats, &extra);
            }
        }
    }
    render_in_flight(snapshots, out);
}

/// The handlers summed into one series.
#[derive(Default)]
struct Series {
    outcomes: [OutcomeStats; 6],
    /// The latency thresholds every handler of the series counts besides the fixed bounds,
    /// with the summed cumulative counts per outcome (`None` before the first handler).
    thresholds: Option<Vec<(u64, [u64; 6])>>,
}

impl Series {
    fn add(&mut self, snap: &HandlerSnapshot) {
        for (total, stats) in self.outcomes.iter_mut().zip(&snap.outcomes) {
            total.merge(stats);
        }
        let within = |nanos: u64| Outcome::ALL.map(|o| snap.calls_within(o, nanos).unwrap_or(0));
        match &mut self.thresholds {
            None => {
                let mut mine: Vec<_> = snap.thresholds().iter().map(|&n| (n, within(n))).collect();
                mine.sort_unstable_by_key(|(nanos, _)| *nanos);
                self.thresholds = Some(mine);
            }
            Some(shared) => {
                // A bucket only some of the handlers count would not be exact: keep the common ones.
                shared.retain(|(nanos, _)| snap.thresholds().contains(nanos));
                for (nanos, counts) in shared {
                    for (count, more) in counts.iter_mut().zip(within(*nanos)) {
                        *count += more;
                    }
                }
            }
        }
    }

    /// `(threshold, cumulative count)` of one outcome, sorted by threshold.
    fn thresholds(&self, outcome: Outcome) -> Vec<(u64, u64)> {
        self.thresholds
            .iter()
            .flatten()
            .map(|(nanos, counts)| (*nanos, counts[outcome as usize]))
            .collect()
    }
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
            thresholds: Default::default(),
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

    #[test]
    fn a_counted_threshold_is_one_more_bucket_between_the_bounds() {
        let mut a = snap(HandlerKind::Query, "balance", "GetBalance");
        a.outcomes[0].buckets[17] = 4; // (25 ms, 50 ms]
        a.outcomes[0].buckets[19] = 5; // (100 ms, 250 ms]
        a.thresholds.len = 1;
        a.thresholds.nanos[0] = 120_000_000;
        a.thresholds.within[0][0] = 3;
        let mut out = String::new();
        render_handlers(&[a], &mut out);
        let le = |bound: &str| {
            let key = format!("outcome=\"ok\",le=\"{bound}\"}} ");
            let line = out
                .lines()
                .find(|l| l.contains(&key))
                .unwrap_or_else(|| panic!("{key}: {out}"));
            line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
        };
        assert_eq!((le("0.1"), le("0.12"), le("0.25")), (4, 7, 9));
        let bounds: Vec<&str> = out
            .lines()
            .filter(|l| {
                l.contains("cqrs_query_duration_seconds_bucket") && l.contains("outcome=\"ok\"")
            })
            .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap())
            .collect();
        let at = |b: &str| bounds.iter().position(|x| *x == b).unwrap();
        assert_eq!(at("0.12"), at("0.1") + 1);
        assert_eq!(at("0.25"), at("0.12") + 1);
    }
}
