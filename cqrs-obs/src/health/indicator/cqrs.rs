//! CQRS indicators: command processing load, event processing lag, projection freshness,
//! aggregate version consistency.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::threshold;
use crate::handler::HandlerKind;
use crate::health::{HealthFuture, HealthIndicator, HealthStatus};

type Gauge = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Command processing: commands in flight (from the handler registry) against
/// `max_in_flight`, and optionally a queue's size (a closure) against `max_queue`. DEGRADED
/// from 80 % of a limit, DOWN at it. Observes `inFlight` in `commands`.
///
/// ```
/// use cqrs_obs::health::indicator::CommandProcessing;
/// let queue = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
/// let q = queue.clone();
/// let commands = CommandProcessing::new(64)
///     .queue(move || q.load(std::sync::atomic::Ordering::Relaxed), 1000);
/// # let _ = commands;
/// ```
#[derive(Clone)]
pub struct CommandProcessing {
    max_in_flight: u64,
    queue: Option<(Gauge, u64)>,
}

impl std::fmt::Debug for CommandProcessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandProcessing")
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl CommandProcessing {
    /// With a limit of commands in flight.
    pub fn new(max_in_flight: u64) -> CommandProcessing {
        CommandProcessing {
            max_in_flight,
            queue: None,
        }
    }

    /// With a queue whose size `size` reads, limited to `max_queue`.
    pub fn queue(mut self, size: impl Fn() -> u64 + Send + Sync + 'static, max_queue: u64) -> Self {
        self.queue = Some((Arc::new(size), max_queue));
        self
    }

    fn status(&self) -> HealthStatus {
        let in_flight: u64 = crate::handler::snapshots()
            .iter()
            .filter(|s| s.meta.kind == HandlerKind::Command)
            .map(|s| s.in_flight)
            .sum();
        let load = |value: u64, max: u64| value as f64 / max.max(1) as f64;
        let mut worst = load(in_flight, self.max_in_flight);
        let mut health = HealthStatus::up()
            .with_detail("in_flight", in_flight)
            .with_detail("max_in_flight", self.max_in_flight);
        if let Some((size, max)) = &self.queue {
            let size = size();
            worst = worst.max(load(size, *max));
            health = health
                .with_detail("queue", size)
                .with_detail("max_queue", *max);
        }
        let status = threshold(worst, 0.8, 1.0).status();
        health.set_status(status);
        health.with_observed("inFlight", in_flight as f64, "commands")
    }
}

impl HealthIndicator for CommandProcessing {
    fn check(&self) -> HealthFuture<'_> {
        let status = self.status();
        Box::pin(async move { status })
    }
}

/// Event processing lag (a closure reading it, for example the age of the oldest event not
/// processed yet): DEGRADED from `warn`, DOWN from `critical`. Observes `lag` in `s`.
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::health::indicator::EventLag;
/// let lag = EventLag::new(|| Duration::from_millis(120), Duration::from_secs(5), Duration::from_secs(30));
/// # let _ = lag;
/// ```
#[derive(Clone)]
pub struct EventLag {
    lag: Arc<dyn Fn() -> Duration + Send + Sync>,
    warn: Duration,
    critical: Duration,
}

impl std::fmt::Debug for EventLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLag")
            .field("warn", &self.warn)
            .field("critical", &self.critical)
            .finish_non_exhaustive()
    }
}

impl EventLag {
    /// With the closure reading the lag and the two bounds.
    pub fn new(
        lag: impl Fn() -> Duration + Send + Sync + 'static,
        warn: Duration,
        critical: Duration,
    ) -> EventLag {
        EventLag {
            lag: Arc::new(lag),
            warn,
            critical,
        }
    }
}

impl HealthIndicator for EventLag {
    fn check(&self) -> HealthFuture<'_> {
        let lag = (self.lag)().as_secs_f64();
        let health = threshold(lag, self.warn.as_secs_f64(), self.critical.as_secs_f64())
            .with_observed("lag", lag, "s");
        Box::pin(async move { health })
    }
}

/// When a projection last processed an event: the projection calls [`touch`](Self::touch),
/// a [`ProjectionFreshness`] reads it. Cheap to clone (clones share the time).
///
/// ```
/// use cqrs_obs::health::indicator::Freshness;
/// let freshness = Freshness::new();
/// assert!(freshness.last().is_none());
/// freshness.touch();
/// assert!(freshness.last().is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Freshness(Arc<AtomicU64>);

impl Freshness {
    /// Never touched yet.
    pub fn new() -> Freshness {
        Freshness::default()
    }

    /// An event was processed now.
    pub fn touch(&self) {
        self.touch_at(SystemTime::now());
    }

    /// An event was processed at `time`.
    pub fn touch_at(&self, time: SystemTime) {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        self.0.fetch_max(
            u64::try_from(millis).unwrap_or(u64::MAX).max(1),
            Ordering::Relaxed,
        );
    }

    /// The last time an event was processed.
    pub fn last(&self) -> Option<SystemTime> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(UNIX_EPOCH + Duration::from_millis(millis)),
        }
    }
}

/// Projection freshness: the age of the last processed event against `max_age` (DOWN past
/// it, DEGRADED past half of it); UNKNOWN before the first event. Observes `age` in `s`.
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::health::indicator::{Freshness, ProjectionFreshness};
/// let freshness = Freshness::new();
/// let indicator = ProjectionFreshness::new(freshness.clone(), Duration::from_secs(60));
/// # let _ = indicator;
/// ```
#[derive(Debug, Clone)]
pub struct ProjectionFreshness {
    freshness: Freshness,
    max_age: Duration,
}

impl ProjectionFreshness {
    /// Reads `freshness`, bounded by `max_age`.
    pub fn new(freshness: Freshness, max_age: Duration) -> ProjectionFreshness {
        ProjectionFreshness { freshness, max_age }
    }
}

impl HealthIndicator for ProjectionFreshness {
    fn check(&self) -> HealthFuture<'_> {
        let health = match self.freshness.last() {
            None => HealthStatus::unknown().with_reason("no event processed yet"),
            Some(last) => {
                let age = SystemTime::now()
                    .duration_since(last)
                    .unwrap_or_default()
                    .as_secs_f64();
                let max = self.max_age.as_secs_f64();
                let health = threshold(age, max / 2.0, max)
                    .with_detail("last_processed", crate::health::status::rfc3339(last))
                    .with_observed("age", (age * 1e3).round() / 1e3, "s");
                if age >= max {
                    health.with_reason(format!("last event processed {age:.1}s ago"))
                } else {
                    health
                }
            }
        };
        Box::pin(async move { health })
    }
}

type Hook = Arc<dyn Fn() -> crate::health::check::BoxedVec + Send + Sync>;

/// Aggregate version consistency, through a user hook that returns the inconsistencies it
/// finds (for example aggregates whose stored version differs from their event count): UP
/// when there are none, DOWN listing up to 10 otherwise. Observes `inconsistencies`.
///
/// ```
/// use cqrs_obs::health::indicator::VersionConsistency;
/// let check = VersionConsistency::new(|| async { Vec::<String>::new() });
/// # let _ = check;
/// ```
#[derive(Clone)]
pub struct VersionConsistency {
    hook: Hook,
}

impl std::fmt::Debug for VersionConsistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionConsistency").finish_non_exhaustive()
    }
}

impl VersionConsistency {
    /// With the hook.
    pub fn new<F, Fut>(hook: F) -> VersionConsistency
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<String>> + Send + 'static,
    {
        VersionConsistency {
            hook: Arc::new(move || Box::pin(hook())),
        }
    }
}

impl HealthIndicator for VersionConsistency {
    fn check(&self) -> HealthFuture<'_> {
        let found = (self.hook)();
        Box::pin(async move {
            let found = found.await;
            let count = found.len();
            let health = if count == 0 {
                HealthStatus::up()
            } else {
                let shown: Vec<String> = found.into_iter().take(10).collect();
                HealthStatus::down_because(format!("{count} inconsistent aggregate version(s)"))
                    .with_detail("inconsistencies", shown)
            };
            health.with_observed("inconsistencies", count as f64, "aggregates")
        })
    }
}
