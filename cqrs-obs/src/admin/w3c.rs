//! The W3C Trace Context interoperability test service: `POST /test` with a JSON list of
//! `{"url": .., "arguments": ..}`. For each entry in order, the service calls `url` with a
//! `POST` whose body is the entry's `arguments` and whose `traceparent` / `tracestate`
//! continue the trace of the incoming request (same trace id, a new parent id, the flags as
//! sampled, the trace state as received). Point the W3C harness
//! (<https://github.com/w3c/trace-context/tree/main/test>) at `http://<admin>/test`.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::error;

/// One call the harness asks for.
#[derive(Debug, Deserialize)]
struct Call {
    url: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

/// The calls of one `POST /test`, at most this many.
const MAX_CALLS: usize = 64;

pub(super) async fn test(headers: HeaderMap, body: Bytes) -> Response {
    let calls: Vec<Call> = match serde_json::from_slice(&body) {
        Ok(calls) => calls,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("expected a JSON list of {{\"url\": .., \"arguments\": ..}}: {e}"),
            )
        }
    };
    if calls.len() > MAX_CALLS {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("at most {MAX_CALLS} calls per request"),
        );
    }
    let mut uris = Vec::with_capacity(calls.len());
    for call in &calls {
        match call.url.parse::<http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => uris.push(uri),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("`{}` is not an http:// URL", call.url),
                )
            }
        }
    }
    // The context of this request: a child of the caller's span when it sent a valid
    // `traceparent`, a new trace otherwise.
    let incoming = crate::propagation::extract_headers(&headers);
    let ctx = crate::local::LOCAL.with(|local| {
        let mut incoming = incoming;
        let child = incoming.trace.is_some();
        incoming.take_handler_context(local, None, child).0
    });
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for (call, uri) in calls.iter().zip(uris) {
        // Each outgoing call is a span of its own: same trace, a new parent id.
        let mut out = ctx.clone();
        let span = crate::local::LOCAL.with(crate::trace::new_span_id);
        out.trace =
            crate::propagation::TraceParent::new(out.trace.trace_id(), span, out.trace.flags());
        let mut request = http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(call.arguments.to_string())))
            .expect("a POST with a valid URI and header is a valid request");
        inject_trace(&out, request.headers_mut());
        if let Err(e) = client.request(request).await {
            return error(
                StatusCode::BAD_GATEWAY,
                "upstream",
                format!("calling {}: {e}", call.url),
            );
        }
    }
    StatusCode::OK.into_response()
}

/// Only the W3C headers: the harness checks exactly what the specification defines.
fn inject_trace(ctx: &crate::context::Context, headers: &mut HeaderMap) {
    let mut all = HeaderMap::new();
    crate::propagation::inject_headers(ctx, &mut all);
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = all.get(name) {
            headers.insert(name, value.clone());
        }
    }
}
