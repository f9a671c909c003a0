//! Search queries: filters, limit and cursor, parsed from the admin endpoint's parameters.

use std::fmt;

use serde::Serialize;

use super::entry::{Level, LogEntry, Timestamp};
use super::time::parse_time_or_ago;
use crate::propagation::TraceId;

/// The most entries one page returns.
pub const MAX_LIMIT: usize = 1000;
/// Entries per page when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;

/// A position in the store, newest first: the next page starts after this entry.
///
/// ```
/// use cqrs_obs::logs::Cursor;
/// let c: Cursor = "1700000000000000000-42".parse().unwrap();
/// assert_eq!(c.seq, 42);
/// assert_eq!(c.to_string(), "1700000000000000000-42");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cursor {
    /// Timestamp of the last entry returned (ns since the epoch).
    pub timestamp: u64,
    /// Its sequence number.
    pub seq: u64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.timestamp, self.seq)
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Cursor, ()> {
        let (ts, seq) = s.trim().split_once('-').ok_or(())?;
        Ok(Cursor {
            timestamp: ts.parse().map_err(|_| ())?,
            seq: seq.parse().map_err(|_| ())?,
        })
    }
}

/// A bad query parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A parameter's value is malformed.
    #[error("invalid value `{value}` for `{name}`: expected {expected}")]
    Invalid {
        /// The parameter.
        name: String,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// An unknown parameter.
    #[error("unknown parameter `{0}` (known: level, service, target, since, until, trace_id, correlation_id, aggregate_id, event_type, q, limit, cursor, follow)")]
    Unknown(String),
}

/// What to search for. Every filter set must match.
///
/// ```
/// use cqrs_obs::logs::{Level, Query};
/// let q = Query::from_params([("level", "warn"), ("q", "overdrawn"), ("limit", "10")], None).unwrap();
/// assert_eq!(q.levels, [Level::Warn, Level::Error]);
/// assert_eq!(q.limit, 10);
/// assert!(Query::from_params([("limit", "lots")], None).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Levels to return (empty: all).
    pub levels: Vec<Level>,
    /// Service name, exactly.
    pub service: Option<String>,
    /// Target, or a module path prefix of it (`bank` matches `bank::account`).
    pub target: Option<String>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
    /// Trace id.
    pub trace_id: Option<TraceId>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Aggregate id.
    pub aggregate_id: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// Substring of the message or error (case-insensitive).
    pub text: Option<String>,
    /// Page size (0 is read as [`DEFAULT_LIMIT`]).
    pub limit: usize,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
}

fn invalid(name: &str, value: &str, expected: &'static str) -> QueryError {
    QueryError::Invalid {
        name: name.to_owned(),
        value: value.to_owned(),
        expected,
    }
}

const TIME: &str =
    "RFC 3339 such as `2026-11-27T06:00:00Z` or a duration ago such as `15m`, `1h`, `7d`";

impl Query {
    /// Parses query parameters. `now` (default: the clock) anchors durations such as `1h`.
    /// `follow` is accepted and ignored (the endpoint reads it).
    pub fn from_params<K: AsRef<str>, V: AsRef<str>>(
        params: impl IntoIterator<Item = (K, V)>,
        now: Option<Timestamp>,
    ) -> Result<Query, QueryError> {
        let now = now.unwrap_or_else(Timestamp::now);
        let mut q = Query::default();
        for (name, value) in params {
            let (name, value) = (name.as_ref(), value.as_ref().trim());
            let text = || (!value.is_empty()).then(|| value.to_owned());
            match name {
                "level" => q.levels = parse_levels(value).ok_or_else(|| invalid(name, value, "a level (`trace`, `debug`, `info`, `warn`, `error`: that level and above) or a comma-separated list of levels"))?,
                "service" => q.service = text(),
                "target" => q.target = text(),
                "since" => q.since = Some(parse_time_or_ago(value, now).map_err(|_| invalid(name, value, TIME))?),
                "until" => q.until = Some(parse_time_or_ago(value, now).map_err(|_| invalid(name, value, TIME))?),
                "trace_id" => q.trace_id = Some(value.parse().map_err(|_| invalid(name, value, "32 lowercase hex digits, not all zero"))?),
                "correlation_id" => q.correlation_id = text(),
                "aggregate_id" => q.aggregate_id = text(),
                "event_type" => q.event_type = text(),
                "q" => q.text = text(),
                "limit" => {
                    q.limit = value.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| invalid(name, value, "a number from 1 to 1000"))?;
                }
                "cursor" => q.cursor = Some(value.parse().map_err(|()| invalid(name, value, "the `next_cursor` of a previous page"))?),
                "follow" => {}
                other => return Err(QueryError::Unknown(other.to_owned())),
            }
        }
        Ok(q)
    }

    pub(crate) fn page_size(&self) -> usize {
        if self.limit == 0 {
            DEFAULT_LIMIT
        } else {
            self.limit.min(MAX_LIMIT)
        }
    }

    /// The level mask (all bits when no level is set).
    pub(crate) fn level_mask(&self) -> u8 {
        if self.levels.is_empty() {
            0xff
        } else {
            self.levels.iter().fold(0, |m, l| m | l.bit())
        }
    }

    /// Whether an entry passes the filters (not the cursor).
    pub fn matches(&self, e: &LogEntry) -> bool {
        let opt_eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        self.level_mask() & e.level.bit() != 0
            && self.since.is_none_or(|s| e.timestamp >= s)
            && self.until.is_none_or(|u| e.timestamp < u)
            && self.trace_id.is_none_or(|t| e.trace_id == Some(t))
            && opt_eq(&self.service, Some(&e.service))
            && opt_eq(&self.aggregate_id, e.aggregate_id.as_deref())
            && opt_eq(&self.event_type, e.event_type.as_deref())
            && self.correlation_id.as_deref().is_none_or(|c| {
                e.correlation_id
                    .as_ref()
                    .is_some_and(|id| id.to_string() == c)
            })
            && self.target.as_deref().is_none_or(|t| {
                e.target == t || (e.target.starts_with(t) && e.target[t.len()..].starts_with("::"))
            })
            && self.text.as_deref().is_none_or(|t| {
                contains_ci(&e.message, t)
                    || e.error
                        .as_ref()
                        .is_some_and(|er| contains_ci(&er.message, t))
            })
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn parse_levels(value: &str) -> Option<Vec<Level>> {
    if value.contains(',') {
        let mut out: Vec<Level> = value
            .split(',')
            .map(|l| l.parse().ok())
            .collect::<Option<_>>()?;
        out.sort();
        out.dedup();
        return Some(out);
    }
    let min: Level = value.parse().ok()?;
    Some(Level::ALL.into_iter().filter(|l| *l >= min).collect())
}

/// One page of results, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The entries.
    pub entries: Vec<LogEntry>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parameters_parse_and_errors_name_the_parameter() {
        let now = Timestamp(2_000_000_000_000_000_000);
        let q = Query::from_params(
            [
                ("since", "1h"),
                ("until", "2033-05-18T03:33:20Z"),
                ("level", "info,error"),
                ("target", "bank"),
                ("cursor", "5-6"),
            ],
            Some(now),
        )
        .unwrap();
        assert_eq!(q.since, Some(Timestamp(now.0 - 3_600_000_000_000)));
        assert_eq!(q.until, Some(now));
        assert_eq!(q.levels, [Level::Info, Level::Error]);
        assert_eq!(
            q.cursor,
            Some(Cursor {
                timestamp: 5,
                seq: 6
            })
        );
        let err = Query::from_params([("trace_id", "xyz")], None).unwrap_err();
        assert!(err.to_string().contains("`trace_id`"), "{err}");
        assert!(matches!(
            Query::from_params([("colour", "red")], None),
            Err(QueryError::Unknown(_))
        ));
        let mut e = LogEntry::new(Level::Warn, "bank::account", "Account Overdrawn");
        e.service = "bank".into();
        assert!(q.matches(&LogEntry {
            timestamp: Timestamp(now.0 - 1),
            level: Level::Error,
            ..e.clone()
        }));
        assert!(
            !q.matches(&LogEntry {
                timestamp: Timestamp(now.0 - 1),
                ..e.clone()
            }),
            "warn is not in info,error"
        );
        let text = Query {
            text: Some("overdrawn".into()),
            target: Some("bank::acc".into()),
            ..Query::default()
        };
        assert!(!text.matches(&e), "target prefixes stop at `::`");
    }

    proptest! {
        #[test]
        fn arbitrary_parameters_never_panic(name in prop::sample::select(vec!["level", "since", "until", "trace_id", "limit", "cursor", "q"]), value in "\\PC{0,40}") {
            let _ = Query::from_params([(name, value.as_str())], None);
        }
    }
}
