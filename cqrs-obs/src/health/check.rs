//! A registered check: its name, groups, timeout, refresh interval, criticality, and the
//! code that runs it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::status::HealthStatus;

/// A boxed, `Send` future of a health status.
pub type HealthFuture<'a> = Pin<Box<dyn Future<Output = HealthStatus> + Send + 'a>>;

/// Something that can tell its health asynchronously: the built-in indicators implement it,
/// and so can user types.
///
/// ```
/// use cqrs_obs::health::{HealthFuture, HealthIndicator, HealthStatus};
///
/// struct Always;
/// impl HealthIndicator for Always {
///     fn check(&self) -> HealthFuture<'_> {
///         Box::pin(async { HealthStatus::up() })
///     }
/// }
/// let check = cqrs_obs::health::Check::indicator("always", Always);
/// assert_eq!(check.name(), "always");
/// ```
pub trait HealthIndicator: Send + Sync + 'static {
    /// Runs the check once. It is bounded by the check's timeout and may be dropped.
    fn check(&self) -> HealthFuture<'_>;
}

/// How a check runs.
#[derive(Clone)]
pub(crate) enum Runner {
    /// On a thread of its own, so that a slow sync check cannot stall other checks.
    Blocking(Arc<dyn Fn() -> HealthStatus + Send + Sync>),
    /// As a task.
    Async(Arc<dyn HealthIndicator>),
}

struct AsyncFn<F>(F);

impl<F, Fut> HealthIndicator for AsyncFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HealthStatus> + Send + 'static,
{
    fn check(&self) -> HealthFuture<'_> {
        Box::pin((self.0)())
    }
}

/// The group every probe-style readiness check belongs to.
pub const READINESS: &str = "readiness";
/// The group of liveness checks.
pub const LIVENESS: &str = "liveness";
/// The default timeout of a check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A health check to register: see [`Registry::register`](super::Registry::register) and
/// [`register`](super::register).
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::health::{Check, HealthStatus};
///
/// let check = Check::from_async("queue", || async { HealthStatus::up() })
///     .group("readiness")
///     .timeout(Duration::from_millis(500))
///     .interval(Duration::from_secs(10))
///     .critical(false);
/// assert_eq!(check.groups(), ["readiness"]);
/// assert!(!check.is_critical());
/// ```
#[derive(Clone)]
#[must_use]
pub struct Check {
    pub(crate) name: Cow<'static, str>,
    pub(crate) groups: Vec<Cow<'static, str>>,
    pub(crate) timeout: Duration,
    pub(crate) interval: Option<Duration>,
    pub(crate) critical: bool,
    pub(crate) runner: Runner,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .field("critical", &self.critical)
            .finish_non_exhaustive()
    }
}

impl Check {
    fn new(name: impl Into<Cow<'static, str>>, runner: Runner) -> Check {
        Check {
            name: name.into(),
            groups: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            interval: None,
            critical: true,
            runner,
        }
    }

    /// A check from a sync function; each run has a thread of its own.
    ///
    /// ```
    /// let check = cqrs_obs::health::Check::from_fn("tmp", || std::path::Path::new("/tmp").exists());
    /// assert_eq!(check.name(), "tmp");
    /// ```
    pub fn from_fn<R: super::IntoHealthStatus>(
        name: impl Into<Cow<'static, str>>,
        f: impl Fn() -> R + Send + Sync + 'static,
    ) -> Check {
        Check::new(
            name,
            Runner::Blocking(Arc::new(move || f().into_health_status())),
        )
    }

    /// A check from an async function (a closure returning a `Send` future).
    ///
    /// ```
    /// let check = cqrs_obs::health::Check::from_async("ping", || async { true });
    /// assert_eq!(check.name(), "ping");
    /// ```
    pub fn from_async<F, Fut>(name: impl Into<Cow<'static, str>>, f: F) -> Check
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: super::IntoHealthStatus,
    {
        use super::IntoHealthStatus as _;
        let indicator = AsyncFn(move || {
            let fut = f();
            async move { fut.await.into_health_status() }
        });
        Check::new(name, Runner::Async(Arc::new(indicator)))
    }

    /// A check from a [`HealthIndicator`].
    ///
    /// ```
    /// use cqrs_obs::health::{indicator::Memory, Check};
    /// let check = Check::indicator("memory", Memory::new(512 << 20));
    /// assert!(check.is_critical());
    /// ```
    pub fn indicator(name: impl Into<Cow<'static, str>>, indicator: impl HealthIndicator) -> Check {
        Check::new(name, Runner::Async(Arc::new(indicator)))
    }

    /// Adds the check to a group (`liveness`, `readiness` or any other name).
    pub fn group(mut self, group: impl Into<Cow<'static, str>>) -> Check {
        let group = group.into();
        if !self.groups.contains(&group) {
            self.groups.push(group);
        }
        self
    }

    /// Bounds one run (default 2 s): a run that takes longer is DOWN.
    pub fn timeout(mut self, timeout: Duration) -> Check {
        self.timeout = timeout;
        self
    }

    /// Refreshes the check in the background at this interval; endpoints then answer from
    /// the cached result. Without it, the check runs when an endpoint is asked.
    pub fn interval(mut self, interval: Duration) -> Check {
        self.interval = Some(interval);
        self
    }

    /// Whether the check counts in its groups' aggregate (default `true`); a non-critical
    /// check is informational: shown, not counted.
    pub fn critical(mut self, critical: bool) -> Check {
        self.critical = critical;
        self
    }

    /// The name (the component's name in the endpoints and the metric).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The groups.
    pub fn groups(&self) -> &[Cow<'static, str>] {
        &self.groups
    }

    /// Whether it counts in the aggregate.
    pub fn is_critical(&self) -> bool {
        self.critical
    }
}

/// A check the `#[health_check]` macro generated (collected with `inventory`).
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration {
    pub name: &'static str,
    pub groups: &'static [&'static str],
    pub timeout_ms: u64,
    pub interval_ms: Option<u64>,
    pub critical: bool,
    pub run: RegisteredFn,
}

/// The generated function that runs a macro-registered check.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum RegisteredFn {
    Sync(fn() -> HealthStatus),
    Async(fn() -> HealthFuture<'static>),
}

inventory::collect!(Registration);

impl From<&'static Registration> for Check {
    fn from(r: &'static Registration) -> Check {
        let mut check = match r.run {
            RegisteredFn::Sync(f) => Check::from_fn(r.name, f),
            RegisteredFn::Async(f) => Check::from_async(r.name, f),
        };
        for group in r.groups {
            check = check.group(*group);
        }
        check = check
            .timeout(Duration::from_millis(r.timeout_ms))
            .critical(r.critical);
        match r.interval_ms {
            Some(ms) => check.interval(Duration::from_millis(ms)),
            None => check,
        }
    }
}

/// The boxed future a version-consistency hook returns.
pub(crate) type BoxedVec = std::pin::Pin<Box<dyn Future<Output = Vec<String>> + Send>>;
