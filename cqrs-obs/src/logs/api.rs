//! The admin routes: `GET /logs` (search, or `follow=true` for a server-sent-events stream of
//! new entries), `GET /logs/stats`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::Query as Params;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::pipeline::{PipelineStats, Shared, RUNNING};
use super::query::Query;
use super::stats::Stats;

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

/// An error answer (kept small; it becomes a [`Response`] when returned).
struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

fn running() -> Result<&'static Arc<Shared>, ApiError> {
    RUNNING.get().ok_or_else(|| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "logs_disabled",
            "log capture is not running (cqrs-obs installs it with its console subscriber, or add cqrs_obs::logs::layer() to yours)".to_owned(),
        )
    })
}

fn parse(params: &[(String, String)]) -> Result<Query, ApiError> {
    Query::from_params(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), None)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))
}

async fn logs(Params(params): Params<Vec<(String, String)>>) -> Response {
    let shared = match running() {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let q = match parse(&params) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let follow = params
        .iter()
        .any(|(k, v)| k == "follow" && matches!(v.as_str(), "true" | "1" | ""));
    if follow {
        return follow_stream(shared.as_ref(), q).into_response();
    }
    let shared = shared.clone();
    match tokio::task::spawn_blocking(move || shared.search(&q)).await {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            e.to_string(),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

fn follow_stream(
    shared: &'static Shared,
    q: Query,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    use tokio::sync::broadcast::error::RecvError;
    let rx = shared.subscribe();
    let stream = futures_util::stream::unfold((rx, q), move |(mut rx, q)| async move {
        loop {
            if shared.closing() {
                return None;
            }
            // Wakes up now and then to notice a shutdown.
            let next = tokio::time::timeout(std::time::Duration::from_millis(250), rx.recv()).await;
            let event = match next {
                Err(_elapsed) => continue,
                Ok(Ok(entry)) if q.matches(&entry) => {
                    let data = serde_json::to_string(&*entry).unwrap_or_default();
                    Event::default().event("entry").data(data)
                }
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(n))) => {
                    Event::default().event("lagged").data(n.to_string())
                }
                Ok(Err(RecvError::Closed)) => return None,
            };
            return Some((Ok(event), (rx, q)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The body of `GET /logs/stats`.
#[derive(Debug, Serialize)]
struct StatsBody {
    /// Statistics of the stored entries in the range (`null` without a store).
    store: Option<Stats>,
    /// The pipeline's counters since start: received, dropped, per sink.
    pipeline: PipelineStats,
}

async fn stats(Params(params): Params<Vec<(String, String)>>) -> Response {
    let shared = match running() {
        Ok(s) => s.clone(),
        Err(e) => return e.into_response(),
    };
    let q = match parse(&params) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    match tokio::task::spawn_blocking(move || shared.store_stats(&q).map(|s| (s, shared.stats())))
        .await
    {
        Ok(Ok((store, pipeline))) => Json(StatsBody { store, pipeline }).into_response(),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            e.to_string(),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// The routes.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/logs", get(logs))
        .route("/logs/stats", get(stats))
}
