//! The built-in CQRS series, fed on every tick from the handlers' cumulative recordings:
//! per command and query handler its throughput, mean latency and error rate; per event type
//! the event flow; per event handler its error rate.
//!
//! Series names are `<kind>.<signal>/<name>`:
//!
//! | series | value per tick | bad when |
//! |---|---|---|
//! | `command.throughput/<handler>` | calls per second | either way |
//! | `command.latency/<handler>` | mean duration of the tick's calls, seconds | higher |
//! | `command.errors/<handler>` | share of the tick's calls that ended `error` or `panic` | higher |
//! | `query.throughput/<handler>`, `query.latency/<handler>`, `query.errors/<handler>` | same | same |
//! | `event.flow/<event type>` | events handled per second, over its handlers | either way |
//! | `event.errors/<handler>` | share of failed event handler calls | higher |
//!
//! Projection lag is not read here: applications feed it as a series of their own
//! (`projection.lag/<projection>`) with [`AnomalyService::add_data_point`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::service::{AnomalyService, DataPoint, SeriesConfig};
use super::trend::Direction;
use crate::handler::{HandlerKind, HandlerSnapshot, Outcome};

/// Cumulative counts of one handler at the previous tick.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    calls: u64,
    failed: u64,
    sum_nanos: u64,
}

impl Seen {
    fn of(s: &HandlerSnapshot) -> Seen {
        let merged = s.merged();
        Seen {
            calls: merged.count(),
            failed: s.count(Outcome::Error) + s.count(Outcome::Panic),
            sum_nanos: merged.sum_nanos,
        }
    }
}

/// What the previous tick saw.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    last_ms: Option<i64>,
    seen: HashMap<(HandlerKind, &'static str, &'static str), Seen>,
}

impl Feed {
    /// Adds one point per built-in series from what changed since the previous call.
    pub(crate) fn observe(
        &mut self,
        service: &AnomalyService,
        now_ms: i64,
        snapshots: &[HandlerSnapshot],
    ) {
        let elapsed_s = self
            .last_ms
            .map(|last| (now_ms - last) as f64 / 1000.0)
            .filter(|s| *s > 0.0);
        self.last_ms = Some(now_ms.max(self.last_ms.unwrap_or(i64::MIN)));
        let mut flows: HashMap<&'static str, u64> = HashMap::new();
        for s in snapshots {
            let key = (s.meta.kind, s.meta.name, s.meta.message);
            let now = Seen::of(s);
            let before = self.seen.insert(key, now);
            let (Some(before), Some(elapsed_s)) = (before, elapsed_s) else {
                continue;
            };
            let calls = now.calls.saturating_sub(before.calls);
            let failed = now.failed.saturating_sub(before.failed);
            let nanos = now.sum_nanos.saturating_sub(before.sum_nanos);
            let kind = s.meta.kind.as_str();
            let name = s.meta.name;
            let add = |signal: &str, direction: Direction, value: f64| {
                let metric = format!("{kind}.{signal}/{name}");
                ensure(service, &metric, direction);
                service.add_data_point(&metric, DataPoint::new(now_ms, value));
            };
            if s.meta.kind == HandlerKind::Event {
                *flows.entry(s.meta.message).or_default() += calls;
            } else {
                add("throughput", Direction::Both, calls as f64 / elapsed_s);
                if calls > 0 {
                    add(
                        "latency",
                        Direction::HigherIsWorse,
                        nanos as f64 / calls as f64 / 1e9,
                    );
                }
            }
            if calls > 0 {
                add(
                    "errors",
                    Direction::HigherIsWorse,
                    failed as f64 / calls as f64,
                );
            }
        }
        if let Some(elapsed_s) = elapsed_s {
            let mut flows: Vec<_> = flows.into_iter().collect();
            flows.sort_unstable();
            for (event, calls) in flows {
                let metric = format!("event.flow/{event}");
                ensure(service, &metric, Direction::Both);
                service.add_data_point(&metric, DataPoint::new(now_ms, calls as f64 / elapsed_s));
            }
        }
    }
}

/// Configures a built-in series with its direction the first time it is seen.
fn ensure(service: &AnomalyService, metric: &str, direction: Direction) {
    if !service.is_configured(metric) {
        service.configure(
            metric,
            SeriesConfig {
                direction,
                ..SeriesConfig::default()
            },
        );
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Feeds the built-in CQRS series of the [`global`](super::global) service from the handlers'
/// recordings, now. The background tick does this every second; call it yourself to sample
/// more often (each call adds one point per series, over the time since the previous call).
///
/// ```
/// cqrs_obs::anomaly::observe_handlers();
/// ```
pub fn observe_handlers() {
    static FEED: OnceLock<Mutex<Feed>> = OnceLock::new();
    let snapshots = crate::handler::snapshots();
    let mut feed = FEED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    feed.observe(super::global(), now_ms(), &snapshots);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{HandlerMeta, OutcomeStats};

    fn snapshot(
        kind: HandlerKind,
        name: &'static str,
        ok: u64,
        errors: u64,
        nanos: u64,
    ) -> HandlerSnapshot {
        let stats = |n: u64| OutcomeStats {
            buckets: {
                let mut b = [0; crate::handler::BUCKETS];
                b[10] = n;
                b
            },
            sum_nanos: n * nanos,
        };
        let mut outcomes = [OutcomeStats::default(); 6];
        outcomes[0] = stats(ok);
        outcomes[3] = stats(errors);
        HandlerSnapshot {
            meta: HandlerMeta {
                kind,
                name,
                message: "Msg",
                aggregate: None,
                projection: None,
                saga: None,
                module: "m",
                file: "f.rs",
                line: 1,
                is_async: false,
            },
            in_flight: 0,
            outcomes,
        }
    }

    #[test]
    fn series_come_from_deltas() {
        let service = AnomalyService::new(Default::default());
        let mut feed = Feed::default();
        let (mut ok, mut err) = (0, 0);
        for tick in 0..400i64 {
            ok += 100;
            err += 1;
            let latency = if tick == 399 { 50_000_000 } else { 1_000_000 };
            feed.observe(
                &service,
                tick * 1_000,
                &[
                    snapshot(HandlerKind::Command, "deposit", ok, err, latency),
                    snapshot(HandlerKind::Event, "on_deposit", ok, 0, 1_000),
                ],
            );
        }
        let names: Vec<String> = service.series().into_iter().map(|s| s.metric).collect();
        assert_eq!(
            names,
            [
                "command.errors/deposit",
                "command.latency/deposit",
                "command.throughput/deposit",
                "event.errors/on_deposit",
                "event.flow/Msg",
            ]
        );
        let found = service.anomaly_history(Some("command.latency/deposit"), None, 10);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].value > 0.04);
        let flow = service
            .series()
            .into_iter()
            .find(|s| s.metric == "event.flow/Msg");
        assert_eq!(flow.unwrap().last_value, Some(100.0));
    }
}
