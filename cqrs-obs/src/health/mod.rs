//! Health: checks declared with `#[health_check]` or registered in code, built-in
//! indicators, aggregation per group, damping, history, a circuit breaker, and the
//! `/health`, `/health/{group}`, `/livez` and `/readyz` endpoints.
//!
//! ```
//! use std::time::Duration;
//! use cqrs_obs::health::{self, indicator::Memory, Check, HealthStatus};
//! use cqrs_obs::health_check;
//!
//! #[health_check(name = "event-store", group = "readiness", timeout = "2s", interval = "10s")]
//! async fn event_store_reachable() -> HealthStatus {
//!     HealthStatus::up().with_detail("events", 42)
//! }
//!
//! health::register(Check::indicator("memory", Memory::new(1 << 30)).group("liveness")).unwrap();
//! assert!(health::registry().names().contains(&"event-store".to_owned()));
//! ```
//!
//! Every check runs in its own task (a sync check on a thread of its own), bounded by its
//! timeout; a check that panics or times out is DOWN with the reason. A check with an
//! `interval` is refreshed in the background once [`init`](crate::init) ran and the endpoints
//! answer from its cached result; the others run when an endpoint is asked.

mod aggregate;
mod breaker;
mod check;
mod endpoint;
mod execute;
mod format;
pub mod indicator;
mod registry;
pub(crate) mod status;

use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

pub use aggregate::Aggregation;
pub use breaker::{BreakerConfig, BreakerError, BreakerState, CircuitBreaker, Permit};
pub use check::{Check, HealthFuture, HealthIndicator, DEFAULT_TIMEOUT, LIVENESS, READINESS};
#[doc(hidden)]
pub use check::{RegisteredFn, Registration};
pub(crate) use endpoint::routes;
pub use endpoint::HEALTH_JSON;
pub use format::{ietf, probe, spring, ShowDetails};
pub use registry::{Component, Registry, Selector, Snapshot, Transition};
pub(crate) use status::rfc3339;
pub use status::{HealthStatus, IntoHealthStatus, Observed, Report, Status};

/// Errors of the health module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// Two checks have the same name.
    #[error("a health check named `{name}` is already registered")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A setting has a value it does not accept.
    #[error("bad {what} `{value}`; expected {expected}")]
    BadValue {
        /// The setting.
        what: &'static str,
        /// The value given.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// An environment variable has a bad value.
    #[error("{variable}: {source}")]
    Env {
        /// The variable.
        variable: &'static str,
        /// What is wrong with it.
        #[source]
        source: Box<HealthError>,
    },
}

/// Marks a request that presented the admin token (set by the admin endpoint's auth layer).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authorized;

static GLOBAL: OnceLock<Registry> = OnceLock::new();
static SERVICE: OnceLock<String> = OnceLock::new();

/// The process-wide registry the endpoints serve: every `#[health_check]` of the binary,
/// plus what [`register`] added.
///
/// ```
/// let names = cqrs_obs::health::registry().names();
/// # let _ = names;
/// ```
pub fn registry() -> &'static Registry {
    GLOBAL.get_or_init(|| {
        let registry = Registry::new();
        for registration in inventory::iter::<Registration> {
            if let Err(e) = registry.register(Check::from(registration)) {
                eprintln!("cqrs-obs: {e}; keeping the first");
            }
        }
        registry
    })
}

/// Adds a check to the process-wide [`registry`].
///
/// ```
/// use cqrs_obs::health::{self, Check};
/// health::register(Check::from_fn("config-loaded", || true).group("readiness")).unwrap();
/// assert!(health::register(Check::from_fn("config-loaded", || true)).is_err());
/// ```
pub fn register(check: Check) -> Result<(), HealthError> {
    registry().register(check)
}

fn service_name() -> Option<&'static str> {
    SERVICE.get().map(String::as_str)
}

/// `CQRS_OBS_HEALTH_DETAILS` (`never`, `when-authorized`, `always`) and
/// `CQRS_OBS_HEALTH_DAMPING` (a positive number of consecutive results).
fn apply_env(env: impl Fn(&str) -> Option<String>) -> Result<(), HealthError> {
    let wrap = |variable, source| HealthError::Env {
        variable,
        source: Box::new(source),
    };
    if let Some(value) = env("CQRS_OBS_HEALTH_DETAILS") {
        let policy = value
            .parse()
            .map_err(|e| wrap("CQRS_OBS_HEALTH_DETAILS", e))?;
        registry().set_show_details(policy);
    }
    if let Some(value) = env("CQRS_OBS_HEALTH_DAMPING") {
        let damping = value.parse().map_err(|_| {
            let bad = HealthError::BadValue {
                what: "damping",
                value: value.clone(),
                expected: "a positive whole number of consecutive results",
            };
            wrap("CQRS_OBS_HEALTH_DAMPING", bad)
        })?;
        registry().set_damping(damping);
    }
    Ok(())
}

/// How often the background refresher looks for due checks.
const REFRESH_TICK: Duration = Duration::from_millis(100);

/// The background refresher of checks with an interval.
pub(crate) struct Refresher {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// Applies the environment and starts the refresher. A bad variable is an error when
/// `strict`, else reported on stderr and ignored.
pub(crate) fn start(service: &str, strict: bool) -> Result<Refresher, HealthError> {
    match apply_env(|k| std::env::var(k).ok()) {
        Err(e) if strict => return Err(e),
        Err(e) => eprintln!("cqrs-obs: {e}; using the default"),
        Ok(()) => {}
    }
    let _ = SERVICE.set(service.to_owned());
    let (stop, stopped) = mpsc::channel::<()>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HealthError::BadValue {
            what: "health runtime",
            value: e.to_string(),
            expected: "a tokio runtime to start",
        })?;
    let thread = std::thread::Builder::new()
        .name("cqrs-obs-health".into())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    registry().refresh_due();
                    tokio::time::sleep(REFRESH_TICK).await;
                    if !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                        break;
                    }
                }
            })
        })
        .expect("spawning a thread at start-up");
    Ok(Refresher { stop, thread })
}

impl Refresher {
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Appends `cqrs_health_status{component}` and `cqrs_circuit_breaker_state{breaker,state}`
/// to a Prometheus page (nothing when there is nothing to show).
pub(crate) fn render_metrics(out: &mut String) {
    use crate::metrics::names::{self, label};
    use std::fmt::Write as _;
    let components: Vec<(String, Status)> = GLOBAL
        .get()
        .map(|r| {
            r.entries()
                .iter()
                .filter_map(|e| Some((e.check.name.to_string(), e.last()?.health.status())))
                .collect()
        })
        .unwrap_or_default();
    let header = |out: &mut String, name: &str| {
        let help = names::help(name).unwrap_or_default();
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    if !components.is_empty() {
        header(out, names::HEALTH_STATUS);
        for (component, status) in components {
            out.push_str(names::HEALTH_STATUS);
            crate::metrics::exposition::write_labels(out, &[(label::COMPONENT, &component)]);
            let _ = writeln!(out, " {}", status.gauge());
        }
    }
    let breakers = breaker::states();
    if !breakers.is_empty() {
        header(out, names::CIRCUIT_BREAKER_STATE);
        for (breaker, current) in breakers {
            for state in BreakerState::ALL {
                out.push_str(names::CIRCUIT_BREAKER_STATE);
                let labels = [
                    (label::BREAKER, breaker.as_str()),
                    (label::STATE, state.as_str()),
                ];
                crate::metrics::exposition::write_labels(out, &labels);
                let _ = writeln!(out, " {}", u8::from(state == current));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_errors_name_the_variable() {
        let e = apply_env(|k| (k == "CQRS_OBS_HEALTH_DETAILS").then(|| "sometimes".into()));
        assert_eq!(
            e.unwrap_err().to_string(),
            "CQRS_OBS_HEALTH_DETAILS: bad show-details policy `sometimes`; expected `never`, \
             `when-authorized` or `always`"
        );
        let e = apply_env(|k| (k == "CQRS_OBS_HEALTH_DAMPING").then(|| "0".into()));
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("CQRS_OBS_HEALTH_DAMPING: bad damping `0`"));
    }
}
