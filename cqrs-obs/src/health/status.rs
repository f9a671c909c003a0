//! What one check says: a [`Status`], details, an observed value and, once run, its timing.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

/// The status of a component or of an aggregate.
///
/// Ordered by severity for aggregation: `Unknown < Up < Degraded < OutOfService < Down`.
///
/// ```
/// use cqrs_obs::health::Status;
/// assert!(Status::Down > Status::Degraded);
/// assert_eq!(Status::OutOfService.as_str(), "OUT_OF_SERVICE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Nothing is known yet (never run, or the check cannot tell).
    Unknown,
    /// Working.
    Up,
    /// Working, with a problem worth a look (a warning threshold is crossed).
    Degraded,
    /// Taken out of service on purpose.
    OutOfService,
    /// Not working.
    Down,
}

impl Status {
    /// Every status, from the least to the most severe.
    pub const ALL: [Status; 5] = [
        Status::Unknown,
        Status::Up,
        Status::Degraded,
        Status::OutOfService,
        Status::Down,
    ];

    /// The Spring-style name: `UP`, `DEGRADED`, `DOWN`, `OUT_OF_SERVICE`, `UNKNOWN`.
    ///
    /// ```
    /// assert_eq!(cqrs_obs::health::Status::Up.as_str(), "UP");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "UNKNOWN",
            Status::Up => "UP",
            Status::Degraded => "DEGRADED",
            Status::OutOfService => "OUT_OF_SERVICE",
            Status::Down => "DOWN",
        }
    }

    /// The IETF health-check draft's status: `pass`, `warn` or `fail`.
    ///
    /// ```
    /// use cqrs_obs::health::Status;
    /// assert_eq!(Status::Degraded.ietf(), "warn");
    /// assert_eq!(Status::OutOfService.ietf(), "fail");
    /// ```
    pub fn ietf(self) -> &'static str {
        match self {
            Status::Up => "pass",
            Status::Degraded | Status::Unknown => "warn",
            Status::Down | Status::OutOfService => "fail",
        }
    }

    /// Whether an endpoint answers 503 for this aggregate status.
    ///
    /// ```
    /// use cqrs_obs::health::Status;
    /// assert!(Status::Down.is_unavailable() && !Status::Degraded.is_unavailable());
    /// ```
    pub fn is_unavailable(self) -> bool {
        matches!(self, Status::Down | Status::OutOfService)
    }

    /// The value of the `cqrs_health_status` gauge: 1 UP, 0.5 DEGRADED, 0 DOWN and
    /// OUT_OF_SERVICE, -1 UNKNOWN.
    ///
    /// ```
    /// assert_eq!(cqrs_obs::health::Status::Degraded.gauge(), 0.5);
    /// ```
    pub fn gauge(self) -> f64 {
        match self {
            Status::Up => 1.0,
            Status::Degraded => 0.5,
            Status::Down | Status::OutOfService => 0.0,
            Status::Unknown => -1.0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A measured value: what it measures, the number and its unit (`memory:utilization` 73.5 `%`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// What is measured (`utilization`, `lag`, `age`, ...): the part after `:` in an IETF
    /// `checks` key.
    pub measurement: Cow<'static, str>,
    /// The value.
    pub value: f64,
    /// The unit (`%`, `s`, `ms`, `bytes`, ...).
    pub unit: Cow<'static, str>,
}

/// The result of one health check: a status, details (a JSON map), an optional observed
/// value and an optional reason. Health check functions return it (or a `bool`, or a
/// `Result`).
///
/// ```
/// use cqrs_obs::health::{HealthStatus, Status};
///
/// let status = HealthStatus::degraded()
///     .with_detail("free_bytes", 1_000_000)
///     .with_observed("utilization", 91.5, "%")
///     .with_reason("disk almost full");
/// assert_eq!(status.status(), Status::Degraded);
/// assert_eq!(status.details()["free_bytes"], 1_000_000);
/// assert_eq!(status.reason(), Some("disk almost full"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct HealthStatus {
    status: Status,
    details: Map<String, Value>,
    observed: Option<Observed>,
    reason: Option<String>,
}

impl HealthStatus {
    /// A status without details.
    ///
    /// ```
    /// use cqrs_obs::health::{HealthStatus, Status};
    /// assert_eq!(HealthStatus::new(Status::Down).status(), Status::Down);
    /// ```
    pub fn new(status: Status) -> HealthStatus {
        HealthStatus {
            status,
            details: Map::new(),
            observed: None,
            reason: None,
        }
    }

    /// `UP`.
    ///
    /// ```
    /// assert!(cqrs_obs::health::HealthStatus::up().details().is_empty());
    /// ```
    pub fn up() -> HealthStatus {
        HealthStatus::new(Status::Up)
    }

    /// `DEGRADED`.
    ///
    /// ```
    /// let _ = cqrs_obs::health::HealthStatus::degraded();
    /// ```
    pub fn degraded() -> HealthStatus {
        HealthStatus::new(Status::Degraded)
    }

    /// `DOWN`.
    ///
    /// ```
    /// let _ = cqrs_obs::health::HealthStatus::down();
    /// ```
    pub fn down() -> HealthStatus {
        HealthStatus::new(Status::Down)
    }

    /// `OUT_OF_SERVICE`.
    ///
    /// ```
    /// let _ = cqrs_obs::health::HealthStatus::out_of_service();
    /// ```
    pub fn out_of_service() -> HealthStatus {
        HealthStatus::new(Status::OutOfService)
    }

    /// `UNKNOWN`.
    ///
    /// ```
    /// let _ = cqrs_obs::health::HealthStatus::unknown();
    /// ```
    pub fn unknown() -> HealthStatus {
        HealthStatus::new(Status::Unknown)
    }

    /// `DOWN` with a reason.
    ///
    /// ```
    /// let s = cqrs_obs::health::HealthStatus::down_because("connection refused");
    /// assert_eq!(s.reason(), Some("connection refused"));
    /// ```
    pub fn down_because(reason: impl Into<String>) -> HealthStatus {
        HealthStatus::down().with_reason(reason)
    }

    /// Adds a detail (any value `serde_json` can hold).
    ///
    /// ```
    /// let s = cqrs_obs::health::HealthStatus::up().with_detail("version", "1.2");
    /// assert_eq!(s.details()["version"], "1.2");
    /// ```
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> HealthStatus {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Sets the observed value.
    ///
    /// ```
    /// let s = cqrs_obs::health::HealthStatus::up().with_observed("lag", 0.2, "s");
    /// assert_eq!(s.observed().unwrap().unit, "s");
    /// ```
    pub fn with_observed(
        mut self,
        measurement: impl Into<Cow<'static, str>>,
        value: f64,
        unit: impl Into<Cow<'static, str>>,
    ) -> HealthStatus {
        self.observed = Some(Observed {
            measurement: measurement.into(),
            value,
            unit: unit.into(),
        });
        self
    }

    /// Sets the reason (shown as `details.error` and as the IETF `output`).
    ///
    /// ```
    /// let s = cqrs_obs::health::HealthStatus::down().with_reason("timed out");
    /// assert_eq!(s.reason(), Some("timed out"));
    /// ```
    pub fn with_reason(mut self, reason: impl Into<String>) -> HealthStatus {
        self.reason = Some(reason.into());
        self
    }

    /// The status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The details.
    pub fn details(&self) -> &Map<String, Value> {
        &self.details
    }

    /// The observed value, if any.
    pub fn observed(&self) -> Option<&Observed> {
        self.observed.as_ref()
    }

    /// Why, if the check said so.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub(crate) fn set_status(&mut self, status: Status) {
        self.status = status;
    }
}

impl From<Status> for HealthStatus {
    fn from(status: Status) -> Self {
        HealthStatus::new(status)
    }
}

/// What a health check function may return: [`HealthStatus`], [`Status`], `bool` (`true` is
/// UP) or `Result<T, E>` with `E: Display` (`Err` is DOWN with the error as the reason).
///
/// ```
/// use cqrs_obs::health::{IntoHealthStatus, Status};
/// assert_eq!(true.into_health_status().status(), Status::Up);
/// let failed: Result<(), String> = Err("no route".into());
/// assert_eq!(failed.into_health_status().reason(), Some("no route"));
/// ```
#[diagnostic::on_unimplemented(
    message = "a health check cannot return `{Self}`",
    label = "returns `{Self}`",
    note = "a health check returns `HealthStatus`, `Status`, `bool` or `Result<T, E>` with `E: Display`"
)]
pub trait IntoHealthStatus {
    /// The health status this value means.
    fn into_health_status(self) -> HealthStatus;
}

impl IntoHealthStatus for HealthStatus {
    fn into_health_status(self) -> HealthStatus {
        self
    }
}

impl IntoHealthStatus for Status {
    fn into_health_status(self) -> HealthStatus {
        HealthStatus::new(self)
    }
}

impl IntoHealthStatus for bool {
    fn into_health_status(self) -> HealthStatus {
        if self {
            HealthStatus::up()
        } else {
            HealthStatus::down()
        }
    }
}

impl<T, E: fmt::Display> IntoHealthStatus for Result<T, E> {
    fn into_health_status(self) -> HealthStatus {
        match self {
            Ok(_) => HealthStatus::up(),
            Err(e) => HealthStatus::down_because(e.to_string()),
        }
    }
}

/// One run of a check: what it said, how long it took, when it ran.
///
/// ```
/// # use std::time::{Duration, SystemTime};
/// use cqrs_obs::health::{HealthStatus, Report};
/// let report = Report::new(HealthStatus::up(), Duration::from_millis(3), SystemTime::UNIX_EPOCH);
/// assert_eq!(report.time_rfc3339(), "1970-01-01T00:00:00.000Z");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What the check said (its status after damping).
    pub health: HealthStatus,
    /// How long the check took.
    pub duration: Duration,
    /// When the check finished.
    pub time: SystemTime,
}

impl Report {
    /// A report.
    pub fn new(health: HealthStatus, duration: Duration, time: SystemTime) -> Report {
        Report {
            health,
            duration,
            time,
        }
    }

    /// The time as RFC 3339 in UTC with milliseconds.
    pub fn time_rfc3339(&self) -> String {
        rfc3339(self.time)
    }
}

/// `2026-11-27T06:40:01.123Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::logs::civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(s * 1000 + ms);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 7)), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339(at(1_795_761_601, 250)), "2026-11-27T06:40:01.250Z");
    }

    #[test]
    fn return_types_convert() {
        assert_eq!(false.into_health_status().status(), Status::Down);
        assert_eq!(
            Ok::<u8, String>(1).into_health_status().status(),
            Status::Up
        );
        assert_eq!(
            Status::OutOfService.into_health_status().status(),
            Status::OutOfService
        );
    }

    #[test]
    fn severity_order_is_the_aggregation_order() {
        let mut all = Status::ALL;
        all.reverse();
        all.sort();
        assert_eq!(all, Status::ALL);
    }
}
