//! What an SLO is: its SLI, target, period and alerting options.

use std::time::Duration;

use serde::Serialize;

use crate::handler::{HandlerKind, HandlerMeta, HandlerSnapshot, Outcome};

/// Which handlers an SLI counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum Handlers {
    /// One handler, by name.
    Named(&'static str),
    /// Every handler of a kind.
    Kind(HandlerKind),
    /// Every handler for one message type (`command` / `event` / `query` label).
    Message(&'static str),
}

impl Handlers {
    pub(crate) fn matches(&self, snap: &HandlerSnapshot) -> bool {
        self.covers(&snap.meta)
    }

    /// Whether the handler described by `meta` is counted.
    pub fn covers(&self, meta: &HandlerMeta) -> bool {
        match self {
            Handlers::Named(name) => meta.name == *name,
            Handlers::Kind(kind) => meta.kind == *kind,
            Handlers::Message(message) => meta.message == *message,
        }
    }
}

/// Which outcomes count as good for an availability SLI. `error` and `panic` are always bad.
///
/// Defaults: a `rejected` call is good (the service made a domain decision), a `conflict` is
/// good (optimistic concurrency did its job; the caller retries), and a `cancelled` call is not
/// counted at all (the caller gave up; the service may have been fine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GoodOutcomes {
    /// Count `rejected` as good (default `true`).
    pub rejected: bool,
    /// Count `conflict` as good (default `true`).
    pub conflict: bool,
    /// Count `cancelled` at all (default `false`); if counted, it is bad.
    pub count_cancelled: bool,
}

impl Default for GoodOutcomes {
    fn default() -> Self {
        GoodOutcomes {
            rejected: true,
            conflict: true,
            count_cancelled: false,
        }
    }
}

impl GoodOutcomes {
    /// Whether calls ending with `outcome` are counted, and if so whether they are good.
    pub fn classify(&self, outcome: Outcome) -> Option<bool> {
        match outcome {
            Outcome::Ok => Some(true),
            Outcome::Rejected => Some(self.rejected),
            Outcome::Conflict => Some(self.conflict),
            Outcome::Error | Outcome::Panic => Some(false),
            Outcome::Cancelled => self.count_cancelled.then_some(false),
        }
    }

    /// The outcomes counted in the total.
    pub fn counted(&self) -> impl Iterator<Item = Outcome> + '_ {
        Outcome::ALL
            .into_iter()
            .filter(|o| self.classify(*o).is_some())
    }

    /// The counted outcomes that are bad.
    pub fn bad(&self) -> impl Iterator<Item = Outcome> + '_ {
        Outcome::ALL
            .into_iter()
            .filter(|o| self.classify(*o) == Some(false))
    }
}

/// The service level indicator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Sli {
    /// Share of calls that did not fail.
    Availability {
        /// The handlers counted.
        handlers: Handlers,
        /// Which outcomes are good.
        good: GoodOutcomes,
    },
    /// Share of calls that took at most `threshold`, counted exactly: a threshold that is not
    /// one of [`BUCKET_BOUNDS_NANOS`](crate::handler::BUCKET_BOUNDS_NANOS) is counted by each handler the SLO covers (see
    /// [`HandlerSite::count_threshold`](crate::handler::HandlerSite::count_threshold)) and
    /// exported as one more `le` bucket of its histogram.
    Latency {
        /// The handlers counted.
        handlers: Handlers,
        /// The threshold: any positive duration.
        #[serde(serialize_with = "as_seconds")]
        threshold: Duration,
    },
    /// Share of seconds in which at least `per_second` calls completed.
    Throughput {
        /// The handlers counted.
        handlers: Handlers,
        /// Minimum calls per second.
        per_second: f64,
    },
    /// Share of seconds in which a projection's lag was at most `max_lag`.
    Freshness {
        /// The projection (see [`crate::slo::report_projection_lag`]).
        projection: &'static str,
        /// The bound.
        #[serde(serialize_with = "as_seconds")]
        max_lag: Duration,
    },
    /// Good and total from a pair of cumulative counters read by a function.
    Custom {
        /// Names the counters in reports.
        description: &'static str,
        /// Returns cumulative (good, total).
        #[serde(skip)]
        read: fn() -> (u64, u64),
    },
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A latency threshold in nanoseconds, if it is positive and fits.
pub(crate) fn threshold_nanos(threshold: Duration) -> Option<u64> {
    u64::try_from(threshold.as_nanos()).ok().filter(|&n| n > 0)
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Ticket: slow burn over days.
    Low,
    /// Ticket: burn over a day.
    Medium,
    /// Page: fast burn over hours.
    High,
    /// Page: very fast burn.
    Critical,
}

impl Severity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One row of the multi-window, multi-burn-rate table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BurnRateRule {
    /// Severity of the alert.
    pub severity: Severity,
    /// The long window.
    #[serde(serialize_with = "as_seconds")]
    pub long: Duration,
    /// The short window (the alert resets quickly once the burn stops).
    #[serde(serialize_with = "as_seconds")]
    pub short: Duration,
    /// Share of the period's error budget that burning at this rate for `long` consumes.
    pub budget_share: f64,
    /// How long the condition must hold before the alert fires.
    #[serde(serialize_with = "as_seconds")]
    pub for_: Duration,
}

impl BurnRateRule {
    /// The burn-rate factor for a period: budget share × period hours / long-window hours
    /// (14.4 for the first row of a 30-day period).
    pub fn factor(&self, period: Duration) -> f64 {
        self.budget_share * period.as_secs_f64() / self.long.as_secs_f64()
    }
}

const HOUR: u64 = 3600;

/// The standard table (Google SRE workbook): for a 30-day period, page at 14.4× over 1h and 5m,
/// page at 6× over 6h and 30m, ticket at 3× over 1d and 2h, ticket at 1× over 3d and 6h.
pub const DEFAULT_BURN_RATES: [BurnRateRule; 4] = [
    BurnRateRule {
        severity: Severity::Critical,
        long: Duration::from_secs(HOUR),
        short: Duration::from_secs(5 * 60),
        budget_share: 0.02,
        for_: Duration::ZERO,
    },
    BurnRateRule {
        severity: Severity::High,
        long: Duration::from_secs(6 * HOUR),
        short: Duration::from_secs(30 * 60),
        budget_share: 0.05,
        for_: Duration::ZERO,
    },
    BurnRateRule {
        severity: Severity::Medium,
        long: Duration::from_secs(24 * HOUR),
        short: Duration::from_secs(2 * HOUR),
        budget_share: 0.10,
        for_: Duration::ZERO,
    },
    BurnRateRule {
        severity: Severity::Low,
        long: Duration::from_secs(72 * HOUR),
        short: Duration::from_secs(6 * HOUR),
        budget_share: 0.10,
        for_: Duration::ZERO,
    },
];

/// A service level objective.
#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    /// Unique id (also the `slo_id` label of generated rules): `[a-z0-9_-]+`.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// What it promises.
    pub description: &'static str,
    /// The service it belongs to (default: the service name at init).
    pub service: Option<&'static str>,
    /// Free-form category (availability, latency, ...).
    pub category: &'static str,
    /// The indicator.
    pub sli: Sli,
    /// Target in percent, in (0, 100).
    pub target: f64,
    /// The rolling period.
    #[serde(serialize_with = "as_seconds")]
    pub period: Duration,
    /// Owning team.
    pub owner: &'static str,
    /// Priority, 1 (highest) and up.
    pub priority: u8,
    /// The burn-rate alerts.
    pub burn_rates: &'static [BurnRateRule],
    /// Alerts stay quiet while the long window holds fewer events than this.
    pub min_events: u64,
}

/// Why an SLO definition is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SloError {
    /// The target is not in (0, 100).
    #[error("SLO `{id}`: target {target} is not in (0, 100)")]
    Target {
        /// The SLO.
        id: &'static str,
        /// The target given.
        target: f64,
    },
    /// The id is empty or has characters outside `[a-z0-9_-]`.
    #[error("SLO id `{0}` must be non-empty lowercase letters, digits, `_` or `-`")]
    Id(&'static str),
    /// A latency threshold of zero, or too long to count in nanoseconds.
    #[error("SLO `{id}`: latency threshold {threshold:?} must be positive and under 584 years")]
    Threshold {
        /// The SLO.
        id: &'static str,
        /// The threshold.
        threshold: Duration,
    },
    /// A handler the latency SLO covers already counts as many thresholds as it can.
    #[error("SLO `{id}`: {source}; share a threshold with another SLO of that handler")]
    Thresholds {
        /// The SLO.
        id: &'static str,
        /// The handler that is full.
        source: crate::handler::ThresholdsFull,
    },
    /// The period is shorter than the longest alert window.
    #[error("SLO `{id}`: period {period:?} is shorter than an alert window")]
    Period {
        /// The SLO.
        id: &'static str,
        /// The period.
        period: Duration,
    },
    /// Two SLOs share an id.
    #[error("two SLOs have the id `{0}`")]
    Duplicate(&'static str),
}

impl Slo {
    /// An SLO with the defaults: 30-day period, the standard burn-rate table, 10 minimum events.
    pub const fn new(id: &'static str, sli: Sli, target: f64) -> Slo {
        Slo {
            id,
            name: id,
            description: "",
            service: None,
            category: "",
            sli,
            target,
            period: Duration::from_secs(30 * 24 * HOUR),
            owner: "",
            priority: 2,
            burn_rates: &DEFAULT_BURN_RATES,
            min_events: 10,
        }
    }

    /// The allowed error ratio: `1 − target / 100`.
    pub fn error_budget_ratio(&self) -> f64 {
        1.0 - self.target / 100.0
    }

    /// Checks the definition.
    pub fn validate(&self) -> Result<(), SloError> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(SloError::Id(self.id));
        }
        if !(self.target > 0.0 && self.target < 100.0) {
            return Err(SloError::Target {
                id: self.id,
                target: self.target,
            });
        }
        if let Sli::Latency { threshold, .. } = &self.sli {
            if threshold_nanos(*threshold).is_none() {
                return Err(SloError::Threshold {
                    id: self.id,
                    threshold: *threshold,
                });
            }
        }
        if self.burn_rates.iter().any(|r| r.long > self.period) {
            return Err(SloError::Period {
                id: self.id,
                period: self.period,
            });
        }
        Ok(())
    }
}

/// Parses a period or duration like `30d`, `6h`, `5m`, `90s`, `100ms`, `250us`, `500ns`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(cqrs_obs::slo::parse_duration("30d"), Some(Duration::from_secs(30 * 86400)));
/// assert_eq!(cqrs_obs::slo::parse_duration("2.5ms"), Some(Duration::from_micros(2500)));
/// assert_eq!(cqrs_obs::slo::parse_duration("soon"), None);
/// assert_eq!(cqrs_obs::slo::parse_duration("0.1ns"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        _ => return None,
    };
    let seconds = value * scale;
    (seconds.is_finite() && seconds > 0.0 && seconds < 1e12)
        .then(|| Duration::from_secs_f64(seconds))
        // Under a nanosecond is no duration (`0.1ns` would be zero).
        .filter(|d| !d.is_zero())
}

/// Built-in SLOs for CQRS services, usable in one line each.
#[derive(Debug)]
pub struct CqrsSlos;

impl CqrsSlos {
    /// 99.9 % of commands do not fail (`error` or `panic`) over 30 days.
    pub const fn command_availability() -> Slo {
        let mut slo = Slo::new(
            "command-availability",
            Sli::Availability {
                handlers: Handlers::Kind(HandlerKind::Command),
                good: GoodOutcomes {
                    rejected: true,
                    conflict: true,
                    count_cancelled: false,
                },
            },
            99.9,
        );
        slo.name = "Command availability";
        slo.description = "Commands are handled without errors or panics";
        slo.category = "availability";
        slo
    }

    /// 95 % of queries answer within 100 ms over 30 days.
    pub const fn query_latency() -> Slo {
        let mut slo = Slo::new(
            "query-latency",
            Sli::Latency {
                handlers: Handlers::Kind(HandlerKind::Query),
                threshold: Duration::from_millis(100),
            },
            95.0,
        );
        slo.name = "Query latency";
        slo.description = "Queries answer within 100 ms";
        slo.category = "latency";
        slo
    }

    /// At least 1000 events per second are processed in 99 % of seconds.
    pub const fn event_throughput() -> Slo {
        let mut slo = Slo::new(
            "event-throughput",
            Sli::Throughput {
                handlers: Handlers::Kind(HandlerKind::Event),
                per_second: 1000.0,
            },
            99.0,
        );
        slo.name = "Event throughput";
        slo.description = "Event handlers process at least 1000 events per second";
        slo.category = "throughput";
        slo
    }

    /// Projections are less than 5 s behind in 99 % of seconds.
    pub const fn data_freshness(projection: &'static str) -> Slo {
        let mut slo = Slo::new(
            "data-freshness",
            Sli::Freshness {
                projection,
                max_lag: Duration::from_secs(5),
            },
            99.0,
        );
        slo.name = "Data freshness";
        slo.description = "Projections lag the event store by less than 5 s";
        slo.category = "freshness";
        slo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_match_the_standard_table_for_30_days() {
        let period = Duration::from_secs(30 * 86400);
        let factors: Vec<f64> = DEFAULT_BURN_RATES
            .iter()
            .map(|r| r.factor(period))
            .collect();
        for (got, want) in factors.iter().zip([14.4, 6.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-9, "{factors:?}");
        }
        // A 7-day period scales them down.
        assert!((DEFAULT_BURN_RATES[0].factor(Duration::from_secs(7 * 86400)) - 3.36).abs() < 1e-9);
    }

    #[test]
    fn validation_rejects_bad_definitions() {
        let mut slo = CqrsSlos::command_availability();
        assert_eq!(slo.validate(), Ok(()));
        slo.target = 100.0;
        assert!(matches!(slo.validate(), Err(SloError::Target { .. })));
        let slo = Slo::new("Bad Id", CqrsSlos::command_availability().sli, 99.0);
        assert!(matches!(slo.validate(), Err(SloError::Id(_))));
        let slo = Slo::new(
            "lat",
            Sli::Latency {
                handlers: Handlers::Named("q"),
                threshold: Duration::ZERO,
            },
            99.0,
        );
        assert!(matches!(slo.validate(), Err(SloError::Threshold { .. })));
        let slo = Slo::new(
            "lat",
            Sli::Latency {
                handlers: Handlers::Named("q"),
                threshold: Duration::from_millis(120),
            },
            99.0,
        );
        assert_eq!(slo.validate(), Ok(()), "any positive threshold");
        assert!(CqrsSlos::query_latency().validate().is_ok());
    }

    #[test]
    fn default_outcome_classification() {
        let good = GoodOutcomes::default();
        assert_eq!(good.classify(Outcome::Rejected), Some(true));
        assert_eq!(good.classify(Outcome::Panic), Some(false));
        assert_eq!(good.classify(Outcome::Cancelled), None);
        assert_eq!(
            good.bad().collect::<Vec<_>>(),
            [Outcome::Error, Outcome::Panic]
        );
    }
}
