//! A circuit breaker with resilience4j's count-based parameters and defaults. Its state is a
//! health component ([`CircuitBreaker::check`]) and the `cqrs_circuit_breaker_state` metric.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::check::{Check, HealthFuture, HealthIndicator};
use super::status::HealthStatus;

/// The parameters, named and defaulted as resilience4j's (count-based sliding window).
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::health::BreakerConfig;
/// let config = BreakerConfig {
///     minimum_number_of_calls: 4,
///     sliding_window_size: 4,
///     wait_duration_in_open_state: Duration::from_secs(5),
///     ..BreakerConfig::default()
/// };
/// assert_eq!(config.failure_rate_threshold, 50.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Percentage of failed calls at or above which the breaker opens (default 50).
    pub failure_rate_threshold: f64,
    /// Number of the latest calls the failure rate is computed over (default 100).
    pub sliding_window_size: u32,
    /// Calls needed in the window before the failure rate counts (default 100).
    pub minimum_number_of_calls: u32,
    /// How long the breaker stays open before letting trial calls through (default 60 s).
    pub wait_duration_in_open_state: Duration,
    /// Trial calls let through when half-open (default 10).
    pub permitted_number_of_calls_in_half_open_state: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_rate_threshold: 50.0,
            sliding_window_size: 100,
            minimum_number_of_calls: 100,
            wait_duration_in_open_state: Duration::from_secs(60),
            permitted_number_of_calls_in_half_open_state: 10,
        }
    }
}

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Calls go through; outcomes are counted.
    Closed,
    /// Calls are refused until the wait in the open state is over.
    Open,
    /// A few trial calls go through; their outcome closes or re-opens the breaker.
    HalfOpen,
}

impl BreakerState {
    /// Every state.
    pub const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
    ];

    /// `closed`, `open` or `half_open` (the metric's `state` label).
    ///
    /// ```
    /// assert_eq!(cqrs_obs::health::BreakerState::HalfOpen.as_str(), "half_open");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Why [`CircuitBreaker::call`] did not return the call's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerError<E> {
    /// The breaker refused the call.
    #[error("circuit breaker `{name}` is open")]
    Open {
        /// The breaker's name.
        name: String,
    },
    /// The call ran and failed.
    #[error("the call failed")]
    Failed(#[source] E),
}

struct Inner {
    name: String,
    config: BreakerConfig,
    state: Mutex<Machine>,
}

struct Machine {
    state: BreakerState,
    window: VecDeque<bool>,
    opened_at: Option<Instant>,
    trials_issued: u32,
    trials: Vec<bool>,
}

static BREAKERS: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

/// A circuit breaker: protect calls to a dependency with [`call`](Self::call) (or
/// [`try_acquire`](Self::try_acquire) and a [`Permit`]). Cheap to clone; clones share state.
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::health::{BreakerConfig, BreakerState, CircuitBreaker};
///
/// let breaker = CircuitBreaker::new("payments", BreakerConfig {
///     minimum_number_of_calls: 2,
///     sliding_window_size: 2,
///     ..BreakerConfig::default()
/// });
/// breaker.try_acquire().unwrap().failure();
/// breaker.try_acquire().unwrap().failure();
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.try_acquire().is_err());
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .finish()
    }
}

/// Permission for one call; report its outcome with [`success`](Self::success) or
/// [`failure`](Self::failure). Dropped without either, the call is not counted.
#[derive(Debug)]
#[must_use = "report the outcome with `success()` or `failure()`"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    done: bool,
}

impl Permit<'_> {
    /// The call succeeded.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(true);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut m = self.breaker.machine();
            if m.state == BreakerState::HalfOpen {
                m.trials_issued = m.trials_issued.saturating_sub(1);
            }
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker; it appears in the `cqrs_circuit_breaker_state` metric while it lives.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> CircuitBreaker {
        let inner = Arc::new(Inner {
            name: name.into(),
            config,
            state: Mutex::new(Machine {
                state: BreakerState::Closed,
                window: VecDeque::new(),
                opened_at: None,
                trials_issued: 0,
                trials: Vec::new(),
            }),
        });
        let mut all = BREAKERS.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|b| b.strong_count() > 0);
        all.push(Arc::downgrade(&inner));
        CircuitBreaker { inner }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current state (an open breaker whose wait is over reads as half-open).
    pub fn state(&self) -> BreakerState {
        let mut m = self.machine();
        self.advance(&mut m);
        m.state
    }

    /// The failure rate over the window in percent, once the minimum number of calls is in.
    pub fn failure_rate(&self) -> Option<f64> {
        let m = self.machine();
        self.rate(&m.window)
    }

    /// Asks to make one call: `Err` while open (or when every half-open trial is taken).
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerError<std::convert::Infallible>> {
        let mut m = self.machine();
        self.advance(&mut m);
        let allowed = match m.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                let free = m.trials_issued
                    < self
                        .inner
                        .config
                        .permitted_number_of_calls_in_half_open_state;
                m.trials_issued += u32::from(free);
                free
            }
        };
        if allowed {
            Ok(Permit {
                breaker: self,
                done: false,
            })
        } else {
            Err(BreakerError::Open {
                name: self.inner.name.clone(),
            })
        }
    }

    /// Runs `call` if the breaker lets it, counting an `Err` as a failure.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use cqrs_obs::health::{BreakerConfig, CircuitBreaker};
    /// let breaker = CircuitBreaker::new("db", BreakerConfig::default());
    /// let value = breaker.call(async { Ok::<_, std::io::Error>(42) }).await.unwrap();
    /// assert_eq!(value, 42);
    /// # });
    /// ```
    pub async fn call<T, E>(
        &self,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, BreakerError<E>> {
        let permit = self.try_acquire().map_err(|_| BreakerError::Open {
            name: self.inner.name.clone(),
        })?;
        match call.await {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(error) => {
                permit.failure();
                Err(BreakerError::Failed(error))
            }
        }
    }

    /// The breaker as a health component: CLOSED is UP, HALF_OPEN is DEGRADED, OPEN is DOWN.
    ///
    /// ```
    /// use cqrs_obs::health::{BreakerConfig, CircuitBreaker};
    /// let check = CircuitBreaker::new("db", BreakerConfig::default()).check();
    /// assert_eq!(check.name(), "circuit-breaker:db");
    /// ```
    pub fn check(&self) -> Check {
        let name = format!("circuit-breaker:{}", self.inner.name);
        Check::indicator(name, self.clone())
    }

    fn machine(&self) -> std::sync::MutexGuard<'_, Machine> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn rate(&self, calls: &VecDeque<bool>) -> Option<f64> {
        let config = &self.inner.config;
        let needed = config
            .minimum_number_of_calls
            .min(config.sliding_window_size)
            .max(1);
        if (calls.len() as u32) < needed {
            return None;
        }
        let failed = calls.iter().filter(|ok| !**ok).count();
        Some(failed as f64 * 100.0 / calls.len() as f64)
    }

    /// Open → half-open once the wait is over.
    fn advance(&self, m: &mut Machine) {
        let wait = self.inner.config.wait_duration_in_open_state;
        if m.state == BreakerState::Open && m.opened_at.is_some_and(|at| at.elapsed() >= wait) {
            m.state = BreakerState::HalfOpen;
            m.trials_issued = 0;
            m.trials.clear();
        }
    }

    fn record(&self, ok: bool) {
        let config = &self.inner.config;
        let mut m = self.machine();
        match m.state {
            BreakerState::Closed => {
                m.window.push_back(ok);
                while m.window.len() > config.sliding_window_size.max(1) as usize {
                    m.window.pop_front();
                }
                if self
                    .rate(&m.window)
                    .is_some_and(|rate| rate >= config.failure_rate_threshold)
                {
                    open(&mut m);
                }
            }
            BreakerState::HalfOpen => {
                m.trials.push(ok);
                let permitted = config.permitted_number_of_calls_in_half_open_state.max(1);
                if m.trials.len() as u32 >= permitted {
                    let failed = m.trials.iter().filter(|ok| !**ok).count();
                    let rate = failed as f64 * 100.0 / m.trials.len() as f64;
                    if rate >= config.failure_rate_threshold {
                        open(&mut m);
                    } else {
                        m.state = BreakerState::Closed;
                        m.window.clear();
                    }
                }
            }
            BreakerState::Open => {}
        }
    }
}

fn open(m: &mut Machine) {
    m.state = BreakerState::Open;
    m.opened_at = Some(Instant::now());
    m.window.clear();
    m.trials.clear();
}

impl HealthIndicator for CircuitBreaker {
    fn check(&self) -> HealthFuture<'_> {
        let state = self.state();
        let health = match state {
            BreakerState::Closed => HealthStatus::up(),
            BreakerState::HalfOpen => HealthStatus::degraded(),
            BreakerState::Open => {
                HealthStatus::down_because(format!("circuit breaker `{}` is open", self.name()))
            }
        };
        let mut health = health.with_detail("state", state.as_str());
        if let Some(rate) = self.failure_rate() {
            health = health.with_observed("failureRate", rate, "%");
        }
        Box::pin(async move { health })
    }
}

/// Every live breaker's name and state, for the metric.
pub(crate) fn states() -> Vec<(String, BreakerState)> {
    let all = BREAKERS.lock().unwrap_or_else(PoisonError::into_inner);
    all.iter()
        .filter_map(Weak::upgrade)
        .map(|inner| {
            let breaker = CircuitBreaker { inner };
            (breaker.name().to_owned(), breaker.state())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(wait_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(
            "t",
            BreakerConfig {
                sliding_window_size: 4,
                minimum_number_of_calls: 4,
                wait_duration_in_open_state: Duration::from_millis(wait_ms),
                permitted_number_of_calls_in_half_open_state: 2,
                ..BreakerConfig::default()
            },
        )
    }

    #[test]
    fn opens_at_the_threshold_after_the_minimum_calls() {
        let b = breaker(60_000);
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Closed, "3 calls < minimum of 4");
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Open, "3 of 4 failed: 75% >= 50%");
        assert!(matches!(b.try_acquire(), Err(BreakerError::Open { .. })));
    }

    #[test]
    fn the_window_slides() {
        let b = breaker(60_000);
        for _ in 0..3 {
            b.try_acquire().unwrap().success();
        }
        b.try_acquire().unwrap().failure();
        assert_eq!(b.failure_rate(), Some(25.0));
        b.try_acquire().unwrap().success();
        assert_eq!(b.failure_rate(), Some(25.0));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_trials_close_or_reopen() {
        let b = breaker(20);
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let (p1, p2) = (b.try_acquire().unwrap(), b.try_acquire().unwrap());
        assert!(b.try_acquire().is_err(), "only 2 trials");
        p1.success();
        p2.failure();
        assert_eq!(b.state(), BreakerState::Open, "50% of trials failed");
        std::thread::sleep(Duration::from_millis(30));
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_unreported_permit_frees_its_trial() {
        let b = breaker(0);
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        drop(b.try_acquire().unwrap());
        drop(b.try_acquire().unwrap());
        assert!(b.try_acquire().is_ok());
    }
}
