//! The bank under test: setting cqrs-obs up for a test binary, running the workload, and
//! turning what the workload saw into the series cqrs-obs should export.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use cqrs_obs::metrics::names::{self, label};
use cqrs_obs::{AdminAddr, Console, ObsGuard, Outcome};
use cqrs_obs_examples::{run_workload, WorkloadConfig, WorkloadReport};
use serde_json::Value;

use crate::exposition::Labels;

/// Initialises cqrs-obs for a test binary: admin endpoint on a free loopback port, no
/// console output, the environment ignored (so a developer's `CQRS_OBS_*` or
/// `OTEL_SDK_DISABLED` cannot change the test). Once per process.
pub fn init_obs() -> ObsGuard {
    cqrs_obs::builder()
        .service_name("bank-tests")
        .admin_addr(AdminAddr::Listen(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            0,
        ))))
        .console(Console::Off)
        .ignore_env()
        .try_init()
        .expect("cqrs-obs initialises")
}

/// Runs a workload of `commands` steps sized for tests: two workers, a fault every 25
/// steps (so each of the seven faults happens many times), a fixed seed.
pub fn run_test_workload(commands: u64) -> WorkloadReport {
    let report = run_workload(WorkloadConfig {
        commands,
        workers: 2,
        accounts_per_worker: 32,
        seed: 0x5eed,
        fault_every: 25,
        statement_deadline: Duration::from_millis(2),
        quiet_poison_panics: true,
    });
    for outcome in Outcome::ALL {
        assert!(
            report.total(outcome) > 0,
            "the workload produced no `{outcome}` calls: {report:#?}"
        );
    }
    report
}

/// One metric family of handler calls.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The `kind` of the handlers it counts, as `/handlers` spells it.
    pub kind: &'static str,
    /// The counter.
    pub counter: &'static str,
    /// The duration histogram.
    pub histogram: &'static str,
    /// Its label keys, without `outcome`.
    pub labels: &'static [&'static str],
}

/// The three handler families.
pub const FAMILIES: [Family; 3] = [
    Family {
        kind: "command",
        counter: names::COMMANDS_TOTAL,
        histogram: names::COMMAND_DURATION,
        labels: &[label::COMMAND, label::AGGREGATE],
    },
    Family {
        kind: "event",
        counter: names::EVENTS_PROCESSED_TOTAL,
        histogram: names::EVENT_HANDLER_DURATION,
        labels: &[label::EVENT, label::HANDLER, label::PROJECTION],
    },
    Family {
        kind: "query",
        counter: names::QUERIES_TOTAL,
        histogram: names::QUERY_DURATION,
        labels: &[label::QUERY],
    },
];

/// One entry of the admin endpoint's `/handlers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerInfo {
    /// `command`, `event` or `query`.
    pub kind: String,
    /// Handler name.
    pub name: String,
    /// Message type label.
    pub message: String,
    /// Aggregate type.
    pub aggregate: Option<String>,
    /// Projection name.
    pub projection: Option<String>,
    /// Saga name.
    pub saga: Option<String>,
    /// Source file.
    pub file: String,
    /// Source line.
    pub line: u64,
    /// Async or not.
    pub is_async: bool,
    /// Calls not finished.
    pub in_flight: u64,
    /// Calls per outcome label.
    pub calls: BTreeMap<String, u64>,
}

fn string(entry: &Value, key: &str) -> Result<String, String> {
    entry[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{key}` is not a string in {entry}"))
}

fn optional(entry: &Value, key: &str) -> Result<Option<String>, String> {
    match &entry[key] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(format!("`{key}` is neither null nor a string: {other}")),
    }
}

fn number(entry: &Value, key: &str) -> Result<u64, String> {
    entry[key]
        .as_u64()
        .ok_or_else(|| format!("`{key}` is not a count in {entry}"))
}

impl HandlerInfo {
    /// Parses the `/handlers` body.
    pub fn parse_all(json: &Value) -> Result<Vec<HandlerInfo>, String> {
        let entries = json
            .as_array()
            .ok_or_else(|| format!("/handlers is not an array: {json}"))?;
        entries.iter().map(HandlerInfo::parse).collect()
    }

    fn parse(entry: &Value) -> Result<HandlerInfo, String> {
        let calls = entry["calls"]
            .as_object()
            .ok_or_else(|| format!("`calls` is not an object in {entry}"))?
            .iter()
            .map(|(k, v)| {
                v.as_u64()
                    .map(|n| (k.clone(), n))
                    .ok_or(format!("bad count {v}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(HandlerInfo {
            kind: string(entry, "kind")?,
            name: string(entry, "name")?,
            message: string(entry, "message")?,
            aggregate: optional(entry, "aggregate")?,
            projection: optional(entry, "projection")?,
            saga: optional(entry, "saga")?,
            file: string(entry, "file")?,
            line: number(entry, "line")?,
            is_async: entry["is_async"]
                .as_bool()
                .ok_or("`is_async` is not a bool")?,
            in_flight: number(entry, "in_flight")?,
            calls,
        })
    }

    /// The family its calls are counted in.
    pub fn family(&self) -> Option<Family> {
        FAMILIES.into_iter().find(|f| f.kind == self.kind)
    }

    /// The labels of its series, without `outcome` (what the design's metric table says).
    pub fn series_labels(&self) -> Labels {
        let empty = String::new();
        let pairs: Vec<(&str, &String)> = match self.kind.as_str() {
            "command" => vec![
                (label::COMMAND, &self.message),
                (label::AGGREGATE, self.aggregate.as_ref().unwrap_or(&empty)),
            ],
            "event" => vec![
                (label::EVENT, &self.message),
                (label::HANDLER, &self.name),
                (
                    label::PROJECTION,
                    self.projection
                        .as_ref()
                        .or(self.saga.as_ref())
                        .unwrap_or(&empty),
                ),
            ],
            _ => vec![(label::QUERY, &self.message)],
        };
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    }
}

/// The value every handler counter series should have, from what the workload saw:
/// `(counter name, labels with outcome) -> calls`. Handlers with equal labels add up.
pub fn expected_series(
    report: &WorkloadReport,
    handlers: &[HandlerInfo],
) -> Result<BTreeMap<(String, Labels), u64>, String> {
    let mut expected = BTreeMap::new();
    for (handler, _) in &report.calls {
        if !handlers.iter().any(|h| h.name == handler.name()) {
            return Err(format!("`{}` is missing from /handlers", handler.name()));
        }
    }
    for info in handlers {
        let family = info
            .family()
            .ok_or_else(|| format!("unknown kind {:?}", info.kind))?;
        if !report.calls.iter().any(|(h, _)| h.name() == info.name) {
            return Err(format!(
                "/handlers lists `{}`, which is not a bank handler",
                info.name
            ));
        }
        for outcome in Outcome::ALL {
            let mut labels = info.series_labels();
            labels.insert(label::OUTCOME.to_owned(), outcome.as_str().to_owned());
            *expected
                .entry((family.counter.to_owned(), labels))
                .or_insert(0) += report.count(&info.name, outcome);
        }
    }
    Ok(expected)
}
