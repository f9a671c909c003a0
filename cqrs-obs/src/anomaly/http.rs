//! `GET /anomalies?severity=&metric=&since=&limit=`: the global service's history, newest
//! first.
//!
//! * `severity`: the least severity shown (`low`, `medium`, `high`, `critical`).
//! * `metric`: one series, or a prefix ending with `*` (`command.latency/*`).
//! * `since`: milliseconds since the epoch, or an age such as `90s`, `15m`, `2h`, `1d`.
//! * `limit`: at most this many (default 100, at most 1000).
//!
//! `GET /anomalies/series` lists every series with its last score and trend.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::score::Severity;
use super::service::Filter;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    severity: Option<String>,
    metric: Option<String>,
    since: Option<String>,
    limit: Option<String>,
}

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
}

/// Turns the query parameters into a filter, relative ages against `now_ms`.
pub(crate) fn filter(p: &Params, now_ms: i64) -> Result<Filter, ParamError> {
    let severity = match p.severity.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<Severity>().map_err(ParamError::Severity)?),
    };
    let since = match p.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(parse_since(s, now_ms).ok_or_else(|| ParamError::Since(s.to_owned()))?),
    };
    let limit = match p.limit.as_deref() {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ParamError::Limit(s.to_owned()))?,
    };
    Ok(Filter {
        severity,
        metric: p.metric.clone().filter(|m| !m.is_empty()),
        since,
        limit: Some(limit),
    })
}

fn parse_since(s: &str, now_ms: i64) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(now_ms.saturating_sub(n.checked_mul(unit_ms)?))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn anomalies(Query(params): Query<Params>) -> Response {
    match filter(&params, now_ms()) {
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

    fn params(severity: &str, since: &str, limit: Option<&str>) -> Params {
        Params {
            severity: Some(severity.into()),
            metric: Some("command.latency/*".into()),
            since: Some(since.into()),
            limit: limit.map(Into::into),
        }
    }

    #[test]
    fn parameters_parse_or_say_what_is_wrong() {
        let f = filter(&params("high", "15m", None), 1_000_000_000).unwrap();
        assert_eq!(f.severity, Some(Severity::High));
        assert_eq!(f.since, Some(1_000_000_000 - 900_000));
        assert_eq!(f.limit, Some(100));
        assert_eq!(
            filter(&params("", "1700000000000", Some("5")), 0)
                .unwrap()
                .since,
            Some(1_700_000_000_000)
        );
        assert!(matches!(
            filter(&params("loud", "", None), 0),
            Err(ParamError::Severity(_))
        ));
        assert!(matches!(
            filter(&params("", "15x", None), 0),
            Err(ParamError::Since(_))
        ));
        assert!(matches!(
            filter(&params("", "-5", None), 0),
            Err(ParamError::Since(_))
        ));
        assert!(matches!(
            filter(&params("", "", Some("0")), 0),
            Err(ParamError::Limit(_))
        ));
        let e = filter(&params("", "", Some("x")), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("limit"), "{e}");
    }
}
