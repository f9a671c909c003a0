//! The embedded admin HTTP endpoint: one router for every module's routes (`/metrics`,
//! `/handlers`, `/health…`, `/livez`, `/readyz`, `/slo…`, `/logs…`, `/anomalies…`,
//! `/traces/{id}`, `/dashboards/{template}`, `/sampling`).
//!
//! It runs on a thread of its own with a single-threaded tokio runtime, so it works whatever
//! executor (or none) the application uses, and a slow scrape never touches application
//! threads.
//!
//! Security: it binds to loopback by default and refuses a non-loopback address without a
//! token; bearer tokens carry a [`Role`] (viewer: read; operator: actions); tokens are
//! compared in constant time; TLS is served when a certificate and key are configured (cargo
//! feature `admin-tls`); every operator action and every refused request is written to the
//! audit log. Requests are rate limited and bodies capped at [`MAX_BODY_BYTES`]; every error
//! answer has the shape `{"error": {"code": .., "message": ..}}`.

mod audit;
mod auth;
mod limit;
mod routes;
#[cfg(feature = "admin-tls")]
mod tls;
mod w3c;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::thread::JoinHandle;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;

pub(crate) use audit::AuditLog;
pub use auth::Role;
pub(crate) use auth::Tokens;
pub(crate) use limit::RateLimit;
pub use limit::MAX_BODY_BYTES;
pub use routes::HandlerInfo;

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Requests per second the endpoint answers by default (bursts of twice that).
pub const DEFAULT_RATE_LIMIT: u32 = 200;

pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// How the endpoint guards itself.
#[derive(Debug, Clone)]
pub(crate) struct Security {
    pub(crate) tokens: Tokens,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) audit: AuditLog,
    pub(crate) rate_limit: Option<RateLimit>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            tokens: Tokens::default(),
            tls: None,
            audit: AuditLog::events(),
            rate_limit: Some(RateLimit::new(DEFAULT_RATE_LIMIT)),
        }
    }
}

/// A running admin endpoint.
pub(crate) struct AdminServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
pub(crate) struct AppState {
    tokens: Tokens,
    audit: AuditLog,
    rate_limit: Option<RateLimit>,
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

pub(crate) fn error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
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

/// Why the admin endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The TLS certificate or key could not be used.
    #[error("cannot use the admin endpoint's TLS {what} `{path}`: {reason}")]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// TLS was configured but this build has no TLS support.
    #[error("the admin endpoint's TLS needs cqrs-obs built with the `admin-tls` feature")]
    TlsUnsupported,
    /// The admin thread could not be started.
    #[error("cannot start the admin endpoint's thread")]
    Thread(#[source] std::io::Error),
}

impl AdminServer {
    pub(crate) fn start(
        listener: TcpListener,
        security: Security,
    ) -> Result<AdminServer, AdminError> {
        let addr = listener.local_addr().map_err(AdminError::Thread)?;
        let acceptor = match &security.tls {
            None => None,
            Some(files) => Some(acceptor(files)?),
        };
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState {
            tokens: security.tokens,
            audit: security.audit,
            rate_limit: security.rate_limit,
        };
        let thread = std::thread::Builder::new()
            .name("cqrs-obs-admin".into())
            .spawn(move || serve(listener, state, acceptor, stopped))
            .map_err(AdminError::Thread)?;
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

#[cfg(feature = "admin-tls")]
type Acceptor = tls::Acceptor;
#[cfg(not(feature = "admin-tls"))]
type Acceptor = std::convert::Infallible;

#[cfg(feature = "admin-tls")]
fn acceptor(files: &TlsFiles) -> Result<Acceptor, AdminError> {
    tls::acceptor(files)
}

#[cfg(not(feature = "admin-tls"))]
fn acceptor(_: &TlsFiles) -> Result<Acceptor, AdminError> {
    Err(AdminError::TlsUnsupported)
}

fn serve(
    listener: TcpListener,
    state: AppState,
    acceptor: Option<Acceptor>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
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
        let stopped = async move {
            let _ = stopped.await;
        };
        match acceptor {
            #[cfg(feature = "admin-tls")]
            Some(acceptor) => tls::serve(listener, acceptor, app, stopped).await,
            #[cfg(not(feature = "admin-tls"))]
            Some(never) => match never {},
            None => {
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                let result = axum::serve(listener, service)
                    .with_graceful_shutdown(stopped)
                    .await;
                if let Err(e) = result {
                    eprintln!("cqrs-obs: admin endpoint stopped: {e}");
                }
            }
        }
    });
}

/// Every module's routes behind the endpoint's layers (outermost first): error shape, rate
/// limit, authorisation, body limit.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::routes())
        .merge(crate::health::routes())
        .merge(crate::logs::routes())
        .merge(crate::anomaly::routes())
        .merge(crate::dashboards::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such admin route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limit::rate_limit,
        ))
        .layer(middleware::from_fn(limit::json_errors))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::{Method, Request};
    use proptest::prelude::*;
    use tower::ServiceExt as _;

    fn app(tokens: Tokens) -> Router {
        router(AppState {
            tokens,
            audit: AuditLog::events(),
            rate_limit: None,
        })
    }

    /// Sends one request in process; returns the status and the body parsed as JSON (`Null`
    /// when it is not JSON).
    fn send(
        app: &Router,
        method: Method,
        uri: &str,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::empty()).expect("a valid request");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = app.clone().oneshot(request).await.expect("infallible");
            let status = response.status().as_u16();
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (
                status,
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            )
        })
    }

    /// The routes whose query strings come from outside.
    const ROUTES: &[&str] = &[
        "/logs",
        "/logs/stats",
        "/anomalies",
        "/anomalies/series",
        "/dashboards/production",
        "/slo",
        "/handlers",
        "/sampling",
        "/no-such-route",
    ];

    fn query_text() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "level",
            "service",
            "target",
            "since",
            "until",
            "trace_id",
            "correlation_id",
            "aggregate_id",
            "event_type",
            "q",
            "limit",
            "cursor",
            "severity",
            "metric",
            "follow",
            "x",
        ]);
        let value = prop_oneof![
            "[ -~]{0,24}",
            Just("-1".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("1h".to_owned()),
            Just("9999999999d".to_owned()),
            Just("2026-13-45T99:99:99Z".to_owned()),
            Just("%ff%fe%00".to_owned()),
            Just("%".to_owned()),
        ];
        prop::collection::vec((key, value), 0..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={}", v.replace(['#', ' '], "+")))
                .collect::<Vec<_>>()
                .join("&")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn no_query_string_makes_a_route_fail_or_answer_outside_the_error_shape(
            route in prop::sample::select(ROUTES.to_vec()),
            query in query_text(),
        ) {
            let app = app(Tokens::default());
            let uri = format!("{route}?{query}");
            prop_assume!(uri.parse::<axum::http::Uri>().is_ok());
            let (status, body) = send(&app, Method::GET, &uri, None);
            prop_assert!(status != 500, "{uri}: {status} {body}");
            if status >= 400 {
                prop_assert!(body["error"]["code"].is_string(), "{uri}: {status} {body}");
                prop_assert!(body["error"]["message"].is_string(), "{uri}: {body}");
            }
        }
    }

    #[test]
    fn axum_rejections_get_the_error_shape() {
        let app = app(Tokens::default());
        let (status, body) = send(&app, Method::DELETE, "/metrics", None);
        assert_eq!(status, 405);
        assert_eq!(body["error"]["code"], "method_not_allowed");
        let (status, body) = send(&app, Method::GET, "/nowhere", None);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
    }

    #[test]
    fn roles_decide_reads_and_actions() {
        let app = app(Tokens::new(
            Some("operator-token-0001"),
            Some("viewer-token-00001"),
        ));
        for route in [
            "/metrics",
            "/handlers",
            "/health",
            "/slo",
            "/sampling",
            "/logs",
        ] {
            let (status, body) = send(&app, Method::GET, route, None);
            assert_eq!(status, 401, "{route}");
            assert_eq!(body["error"]["code"], "unauthorized", "{route}");
            let (status, _) = send(&app, Method::GET, route, Some("viewer-token-00001"));
            // `/logs` answers 503 here: this test runs no log pipeline.
            assert!(
                status == 200 || route == "/logs",
                "{route} as viewer: {status}"
            );
        }
        for probe in ["/livez", "/readyz"] {
            let (status, _) = send(&app, Method::GET, probe, None);
            assert_ne!(status, 401, "{probe} stays open");
        }
        let (status, body) = send(&app, Method::PUT, "/sampling", Some("viewer-token-00001"));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden"))
        );
        let (status, _) = send(&app, Method::GET, "/metrics", Some("viewer-token-00002"));
        assert_eq!(status, 401);
    }
}
