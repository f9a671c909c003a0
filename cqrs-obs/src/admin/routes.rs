//! The admin routes this module serves itself: `/metrics`, `/handlers`, `/slo…`, `/sampling`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{error, AppState, PROMETHEUS_CONTENT_TYPE};
use crate::handler::{HandlerKind, HandlerSnapshot, Outcome};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/handlers", get(handlers))
        .route("/sampling", get(sampling).put(set_sampling))
        .route("/traces/{id}", get(trace))
        .route("/test", axum::routing::post(super::w3c::test))
        .merge(slo_routes())
}

pub(super) async fn metrics() -> Response {
    let body = crate::metrics::render();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
    );
    response
}

/// One entry of `/handlers`.
#[derive(Debug, Serialize)]
pub struct HandlerInfo {
    kind: HandlerKind,
    name: &'static str,
    message: &'static str,
    aggregate: Option<&'static str>,
    projection: Option<&'static str>,
    saga: Option<&'static str>,
    module: &'static str,
    file: &'static str,
    line: u32,
    is_async: bool,
    in_flight: u64,
    calls: std::collections::BTreeMap<Outcome, u64>,
}

impl From<&HandlerSnapshot> for HandlerInfo {
    fn from(s: &HandlerSnapshot) -> Self {
        let m = s.meta;
        HandlerInfo {
            kind: m.kind,
            name: m.name,
            message: m.message,
            aggregate: m.aggregate,
            projection: m.projection,
            saga: m.saga,
            module: m.module,
            file: m.file,
            line: m.line,
            is_async: m.is_async,
            in_flight: s.in_flight,
            calls: Outcome::ALL.iter().map(|&o| (o, s.count(o))).collect(),
        }
    }
}

async fn handlers() -> Json<Vec<HandlerInfo>> {
    Json(
        crate::handler::snapshots()
            .iter()
            .map(HandlerInfo::from)
            .collect(),
    )
}

fn slo_routes() -> Router<AppState> {
    use axum::extract::Path;
    Router::new()
        .route("/slo", get(|| async { Json(crate::slo::reports()) }))
        .route(
            "/slo/deploy-gate",
            get(|| async {
                let decision = crate::slo::deploy_decision();
                let status = if decision.allowed {
                    StatusCode::OK
                } else {
                    StatusCode::LOCKED
                };
                (status, Json(decision))
            }),
        )
        .route(
            "/slo/rules",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/yaml")],
                    crate::slo::prometheus_rules(),
                )
            }),
        )
        .route("/slo/{id}/alerts/{severity}/ack", post(acknowledge))
        .route(
            "/slo/{id}",
            get(|Path(id): Path<String>| async move {
                match crate::slo::reports().into_iter().find(|r| r.slo.id == id) {
                    Some(report) => Json(report).into_response(),
                    None => error(StatusCode::NOT_FOUND, "not_found", format!("no SLO `{id}`")),
                }
            }),
        )
}

/// The body of `POST /slo/{id}/alerts/{severity}/ack` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    by: String,
    #[serde(default)]
    note: String,
}

/// An operator action: acknowledges a firing or pending SLO alert until it resolves.
async fn acknowledge(
    axum::extract::Path((id, severity)): axum::extract::Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let parsed: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(parsed) => parsed,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("expected {{\"by\": .., \"note\": ..}} or no body: {e}"),
                )
            }
        }
    };
    let by = if parsed.by.is_empty() {
        "operator"
    } else {
        &parsed.by
    };
    match crate::slo::acknowledge(&id, &severity, by, &parsed.note) {
        Ok(alert) => Json(alert).into_response(),
        Err(e @ crate::slo::AckError::NotActive { .. }) => {
            error(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        Err(e) => error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
    }
}

/// The sampler as `/sampling` shows it and `PUT /sampling` takes it: the names and argument
/// of `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Debug, Serialize, Deserialize)]
struct SamplingBody {
    sampler: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arg: Option<String>,
}

async fn sampling() -> Json<SamplingBody> {
    let (sampler, arg) = crate::trace::sampler().describe();
    Json(SamplingBody { sampler, arg })
}

/// An operator action: changes the head sampler of every call from now on.
async fn set_sampling(body: axum::body::Bytes) -> Response {
    let parsed: SamplingBody = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("expected {{\"sampler\": .., \"arg\": ..}}: {e}"),
            )
        }
    };
    match crate::trace::Sampler::parse(&parsed.sampler, parsed.arg.as_deref()) {
        Ok(sampler) => {
            crate::trace::set_sampler(sampler);
            sampling().await.into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    }
}

/// A conversation from the causation journal, by correlation id or trace id.
async fn trace(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let calls = crate::trace::conversation(&id);
    match crate::trace::ConversationView::of(&calls) {
        Some(view) => Json(view).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no sampled call of conversation or trace `{id}` in the journal (it keeps the \
                 latest {} calls)",
                crate::trace::JOURNAL_CAPACITY
            ),
        ),
    }
}
