//! `GET /anomalies?severity=&metric=&since=&limit=`: the global service's history, newest
//! first.
//!
//! * `severity`: the least severity shown (`low`, `medium`, `high`, `critical`).
//! * `metric`: one series, or a prefix ending with `*` (`command.latency/*`).
//! * `since`: milliseconds since the epoch, or an age such as `90s`, `15m`, `2h`, `1d`.
//! * `limit`: at most this many (default 100, at most 1000).
//!
//! Any other parameter is refused (400), so a misspelt filter is not silently ignored.
//!
//! `GET /anomalies/series` lists every series with its last score and trend.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::score::Severity;
use super::service::Filter;

/// The parameters `GET /anomalies` accepts.
const ACCEPTED: &str = "severity, metric, since, limit";

/// A bad query parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// `severity` is not a severity name.
    #[error("bad `severity`: {0}")]
    Severity(#[source] super::score::ParseSeverityError),
    /// `since` is neither a timestamp nor an age.
    #[error("bad `since` `{0}` (expected milliseconds since the epoch or an age like 15m)")]
    Since(String),
    /// `limit` is not a count from 1 to 1000.
    #[error("bad `limit` `{0}` (expected 1 to 1000)")]
    Limit(String),
    /// A parameter the endpoint does not know (a misspelt filter would otherwise be ignored).
    #[error("unknown parameter `{0}` (accepted: {ACCEPTED})")]
    Unknown(String),
}

impl Filter {
    /// Parses the query parameters of `GET /anomalies` (see the module documentation); ages
    /// such as `15m` count back from `now_ms`. An empty `severity`, `metric` or `since` is no
    /// filter; a later parameter replaces an earlier one of the same name; an unknown one is
    /// an error.
    ///
    /// ```
    /// use cqrs_obs::anomaly::{Filter, ParamError, Severity};
    /// let f = Filter::from_params([("severity", "high"), ("since", "15m")], 1_000_000_000)?;
    /// assert_eq!(f.severity, Some(Severity::High));
    /// assert_eq!(f.since, Some(1_000_000_000 - 15 * 60_000));
    /// assert_eq!(f.limit, Some(100));
    /// let e = Filter::from_params([("severty", "high")], 0).unwrap_err();
    /// assert_eq!(e, ParamError::Unknown("severty".into()));
    /// # Ok::<(), ParamError>(())
    /// ```
    pub fn from_params<K: AsRef<str>, V: AsRef<str>>(
        params: impl IntoIterator<Item = (K, V)>,
        now_ms: i64,
    ) -> Result<Filter, ParamError> {
        let mut f = Filter {
            limit: Some(100),
            ..Filter::default()
        };
        for (name, value) in params {
            let (name, value) = (name.as_ref(), value.as_ref());
            let given = (!value.is_empty()).then_some(value);
            match name {
                "severity" => {
                    f.severity = given
                        .map(str::parse::<Severity>)
                        .transpose()
                        .map_err(ParamError::Severity)?;
                }
                "metric" => f.metric = given.map(str::to_owned),
                "since" => {
                    f.since = given
                        .map(|s| parse_since(s, now_ms).ok_or_else(|| ParamError::Since(s.into())))
                        .transpose()?;
                }
                "limit" => {
                    let limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n));
                    f.limit = Some(limit.ok_or_else(|| ParamError::Limit(value.into()))?);
                }
                other => return Err(ParamError::Unknown(other.into())),
            }
        }
        Ok(f)
    }
}

/// `since`: milliseconds since the epoch (not negative), or an age back from `now_ms` in the
/// logs' duration syntax ([`crate::logs::parse_duration`]: `500ms`, `90s`, `15m`, `2h`, `1d`).
fn parse_since(s: &str, now_ms: i64) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    let age = i64::try_from(crate::logs::parse_duration(s)?.as_millis()).ok()?;
    Some(now_ms.saturating_sub(age))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn anomalies(Query(params): Query<Vec<(String, String)>>) -> Response {
    match Filter::from_params(params, now_ms()) {
        Ok(f) => Json(super::global().query(&f)).into_response(),
        Err(e) => {
            let body = serde_json::json!({
                "error": { "code": "bad_request", "message": e.to_string() }
            });
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

async fn series() -> Response {
    Json(super::global().series()).into_response()
}

/// The admin routes of this module.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/anomalies", get(anomalies))
        .route("/anomalies/series", get(series))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(query: &[(&str, &str)], now_ms: i64) -> Result<Filter, ParamError> {
        Filter::from_params(query.iter().copied(), now_ms)
    }

    #[test]
    fn parameters_parse_or_say_what_is_wrong() {
        let f = parse(
            &[
                ("severity", "high"),
                ("metric", "command.latency/*"),
                ("since", "15m"),
            ],
            1_000_000_000,
        )
        .unwrap();
        assert_eq!(f.severity, Some(Severity::High));
        assert_eq!(f.metric.as_deref(), Some("command.latency/*"));
        assert_eq!(f.since, Some(1_000_000_000 - 900_000));
        assert_eq!(f.limit, Some(100));
        let f = parse(
            &[("severity", ""), ("since", "1700000000000"), ("limit", "5")],
            0,
        );
        assert_eq!(f.as_ref().unwrap().since, Some(1_700_000_000_000));
        assert_eq!(f.unwrap().limit, Some(5));
        assert_eq!(parse(&[], 7).unwrap(), parse(&[("metric", "")], 7).unwrap());
        assert!(matches!(
            parse(&[("severity", "loud")], 0),
            Err(ParamError::Severity(_))
        ));
        for since in [
            "15x",
            "-5",
            "m",
            "15 m",
            "99999999999999999999d",
            "9223372036854775807d",
        ] {
            assert_eq!(
                parse(&[("since", since)], 0),
                Err(ParamError::Since(since.into())),
                "{since}"
            );
        }
        for limit in ["0", "1001", "x", ""] {
            let e = parse(&[("limit", limit)], 0).unwrap_err();
            assert_eq!(e, ParamError::Limit(limit.into()));
            assert!(e.to_string().contains("`limit`"), "{e}");
        }
        let e = parse(&[("sevrity", "high")], 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown parameter `sevrity` (accepted: severity, metric, since, limit)"
        );
    }

    proptest! {
        #[test]
        fn any_query_parses_or_is_refused_without_panicking(
            pairs in prop::collection::vec((".{0,12}", ".{0,24}"), 0..6),
            now in any::<i64>(),
        ) {
            let _ = Filter::from_params(pairs, now);
        }

        #[test]
        fn an_age_counts_back_from_now(
            n in 0i64..1_000_000,
            unit in prop::sample::select(vec![("ms", 1i64), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]),
            now in 0i64..4_000_000_000_000,
        ) {
            let f = parse(&[("since", &format!("{n}{}", unit.0))], now).unwrap();
            prop_assert_eq!(f.since, Some(now - n * unit.1));
        }

        #[test]
        fn a_timestamp_is_taken_as_is(ms in 0i64..i64::MAX, now in any::<i64>()) {
            prop_assert_eq!(parse(&[("since", &ms.to_string())], now).unwrap().since, Some(ms));
        }

        #[test]
        fn every_severity_round_trips(i in 0usize..5, limit in 1usize..=1000) {
            let severity = [Severity::None, Severity::Low, Severity::Medium, Severity::High, Severity::Critical][i];
            let f = parse(&[("severity", severity.as_str()), ("limit", &limit.to_string())], 0).unwrap();
            prop_assert_eq!(f.severity, Some(severity));
            prop_assert_eq!(f.limit, Some(limit));
        }
    }
}
