//! The embedded admin HTTP endpoint: `/metrics`, `/handlers`.
//!
//! It runs on a thread of its own with a single-threaded tokio runtime, so it works whatever
//! executor (or none) the application uses, and a slow scrape never touches application
//! threads.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::handler::{HandlerKind, HandlerSnapshot, Outcome};

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A running admin endpoint.
pub(crate) struct AdminServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct AppState {
    token: Option<Arc<str>>,
}

/// The error body of every admin route: `{"error": {"code": .., "message": ..}}`.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }),
    )
        .into_response()
}

impl AdminServer {
    pub(crate) fn start(
        listener: TcpListener,
        token: Option<String>,
    ) -> Result<AdminServer, crate::InitError> {
        let addr = listener
            .local_addr()
            .map_err(|source| crate::InitError::AdminBind {
                addr: crate::init::DEFAULT_ADMIN_ADDR,
                source,
            })?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState {
            token: token.map(Arc::from),
        };
        let thread = std::thread::Builder::new()
            .name("cqrs-obs-admin".into())
            .spawn(move || serve(listener, state, stopped))
            .map_err(|source| crate::InitError::AdminBind { addr, source })?;
        Ok(AdminServer {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, state: AppState, stopped: tokio::sync::oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cqrs-obs: admin endpoint runtime failed to start: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cqrs-obs: admin endpoint failed to start: {e}");
                return;
            }
        };
        let app = router(state);
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = result {
            eprintln!("cqrs-obs: admin endpoint stopped: {e}");
        }
    });
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/handlers", get(handlers))
        .merge(slo_routes())
        .merge(crate::health::routes())
        .merge(crate::logs::routes())
        .merge(crate::anomaly::routes())
        .merge(crate::dashboards::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such admin route") })
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes()));
        if !ok {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required",
            );
        }
        request.extensions_mut().insert(crate::health::Authorized);
    }
    next.run(request).await
}

async fn metrics() -> Response {
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

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
