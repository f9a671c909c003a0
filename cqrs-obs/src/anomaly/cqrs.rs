//! The built-in CQRS series, fed on every tick from the handlers' cumulative recordings:
//! per command and query handler its throughput, mean latency and error rate; per event type
//! the event flow; per event handler its error rate.
//!
//! Series names are `<kind>.<signal>/<name>`:
//!
//! | series | value per tick | bad when |
//! |---|---|---|
//! | `command.throughput/<handler>` | calls per second (over at least a second) | either way |
//! | `command.latency/<handler>` | mean duration of the calls since the last point (at least 5), seconds | higher |
//! | `command.errors/<handler>` | share of the calls since the last point (at least 10) that ended `error` or `panic` | higher |
//! | `query.throughput/<handler>`, `query.latency/<handler>`, `query.errors/<handler>` | same | same |
//! | `event.flow/<event type>` | events handled per second over its handlers (at least a second) | either way |
//! | `event.errors/<handler>` | share of failed event handler calls | higher |
//! | `projection.lag/<projection>` | the lag last reported with [`report_projection_lag`](crate::slo::report_projection_lag), seconds | higher |

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::service::{AnomalyService, DataPoint, SeriesConfig};
use super::trend::Direction;
use crate::handler::{HandlerKind, HandlerSnapshot, Outcome};

/// Calls of one handler: cumulative at the previous tick, or pending (not yet turned into a
/// point).
#[derive(Debug, Clone, Copy, Default)]
struct Calls {
    calls: u64,
    failed: u64,
    sum_nanos: u64,
}

impl Calls {
    fn of(s: &HandlerSnapshot) -> Calls {
        let merged = s.merged();
        Calls {
            calls: merged.count(),
            failed: s.count(Outcome::Error) + s.count(Outcome::Panic),
            sum_nanos: merged.sum_nanos,
        }
    }

    fn since(self, before: Calls) -> Calls {
        Calls {
            calls: self.calls.saturating_sub(before.calls),
            failed: self.failed.saturating_sub(before.failed),
            sum_nanos: self.sum_nanos.saturating_sub(before.sum_nanos),
        }
    }

    fn add(&mut self, other: Calls) {
        self.calls += other.calls;
        self.failed += other.failed;
        self.sum_nanos += other.sum_nanos;
    }
}

/// Shortest time a throughput or flow point covers (faster ticks accumulate).
pub(crate) const RATE_WINDOW_MS: i64 = 1_000;
/// Calls a latency point averages at least (fewer are carried over to the next tick).
pub(crate) const LATENCY_CALLS: u64 = 5;
/// Calls an error-rate point covers at least: one failure in two calls is not a 50% rate.
pub(crate) const ERROR_CALLS: u64 = 10;

#[derive(Debug, Default)]
struct Handler {
    seen: Calls,
    rate: Calls,
    latency: Calls,
    errors: Calls,
}

/// What the previous ticks saw and what they have not turned into points yet.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    last_ms: Option<i64>,
    /// Start of the throughput window being accumulated.
    rate_since: Option<i64>,
    /// Events per type in that window.
    flows: HashMap<&'static str, u64>,
    handlers: HashMap<(HandlerKind, &'static str, &'static str), Handler>,
}

impl Feed {
    /// Adds points to the built-in series from what changed since the previous call:
    /// throughput once a second has passed, latency and error rates once enough calls have
    /// accumulated.
    pub(crate) fn observe(
        &mut self,
        service: &AnomalyService,
        now_ms: i64,
        snapshots: &[HandlerSnapshot],
        lags: &[(&'static str, std::time::Duration)],
    ) {
        let started = self.last_ms.is_some();
        for (projection, lag) in lags {
            let metric = format!("projection.lag/{projection}");
            ensure(service, &metric, Direction::HigherIsWorse);
            service.add_data_point(&metric, DataPoint::new(now_ms, lag.as_secs_f64()));
        }
        let now_ms = now_ms.max(self.last_ms.unwrap_or(i64::MIN));
        self.last_ms = Some(now_ms);
        let since = *self.rate_since.get_or_insert(now_ms);
        let rate_s = (now_ms - since >= RATE_WINDOW_MS).then(|| (now_ms - since) as f64 / 1000.0);
        for s in snapshots {
            let key = (s.meta.kind, s.meta.name, s.meta.message);
            let now = Calls::of(s);
            let first = !self.handlers.contains_key(&key);
            let h = self.handlers.entry(key).or_default();
            let delta = now.since(h.seen);
            h.seen = now;
            if first || !started {
                continue;
            }
            let (kind, name) = (s.meta.kind.as_str(), s.meta.name);
            let add = |signal: &str, direction: Direction, value: f64| {
                let metric = format!("{kind}.{signal}/{name}");
                ensure(service, &metric, direction);
                service.add_data_point(&metric, DataPoint::new(now_ms, value));
            };
            h.rate.add(delta);
            h.latency.add(delta);
            h.errors.add(delta);
            if s.meta.kind == HandlerKind::Event {
                *self.flows.entry(s.meta.message).or_default() += delta.calls;
            } else {
                if let Some(rate_s) = rate_s {
                    add("throughput", Direction::Both, h.rate.calls as f64 / rate_s);
                }
                if h.latency.calls >= LATENCY_CALLS {
                    let mean = h.latency.sum_nanos as f64 / h.latency.calls as f64 / 1e9;
                    add("latency", Direction::HigherIsWorse, mean);
                    h.latency = Calls::default();
                }
            }
            if h.errors.calls >= ERROR_CALLS {
                let rate = h.errors.failed as f64 / h.errors.calls as f64;
                add("errors", Direction::HigherIsWorse, rate);
                h.errors = Calls::default();
            }
        }
        if let Some(rate_s) = rate_s {
            self.handlers
                .values_mut()
                .for_each(|h| h.rate = Calls::default());
            let mut flows: Vec<_> = self.flows.drain().collect();
            flows.sort_unstable();
            for (event, calls) in flows {
                let metric = format!("event.flow/{event}");
                ensure(service, &metric, Direction::Both);
                service.add_data_point(&metric, DataPoint::new(now_ms, calls as f64 / rate_s));
            }
            self.rate_since = Some(now_ms);
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
    let lags = crate::slo::projection_lags();
    feed.observe(super::global(), now_ms(), &snapshots, &lags);
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
            thresholds: Default::default(),
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
                &[],
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

    #[test]
    fn projection_lag_is_a_series_and_a_stall_is_an_anomaly() {
        use std::time::Duration;
        let service = AnomalyService::new(Default::default());
        let mut feed = Feed::default();
        for tick in 0..400i64 {
            // A steady 20–40 ms lag, then the projection stalls for 30 s.
            let lag = if tick >= 395 {
                Duration::from_secs(30)
            } else {
                Duration::from_millis(20 + (tick % 3) as u64 * 10)
            };
            feed.observe(&service, tick * 1_000, &[], &[("balances", lag)]);
        }
        let series = service
            .series()
            .into_iter()
            .find(|s| s.metric == "projection.lag/balances")
            .expect("the lag series");
        assert_eq!(series.last_value, Some(30.0));
        let found = service.anomaly_history(Some("projection.lag/balances"), None, 10);
        assert!(!found.is_empty(), "the stall is reported");
        assert!(found.iter().all(|a| a.value == 30.0), "{found:?}");
    }
}
