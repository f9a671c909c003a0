//! Limits and the error shape of the admin endpoint: a token-bucket rate limit, a request
//! body limit, and the conversion of every error answer into
//! `{"error": {"code": .., "message": ..}}`, whichever layer produced it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::{error, AppState};

/// The largest request body the endpoint reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A token bucket: `per_second` requests on average, bursts of up to twice that.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    per_second: f64,
    burst: f64,
    state: Arc<Mutex<(f64, Instant)>>,
}

impl RateLimit {
    pub(crate) fn new(per_second: u32) -> RateLimit {
        let per_second = f64::from(per_second.max(1));
        let burst = 2.0 * per_second;
        RateLimit {
            per_second,
            burst,
            state: Arc::new(Mutex::new((burst, Instant::now()))),
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Refuses requests over the rate with `429 Too Many Requests` (the probes are exempt, so a
/// busy client never makes the service look dead).
pub(crate) async fn rate_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let probe = matches!(request.uri().path(), "/livez" | "/readyz");
    if let Some(limit) = &state.rate_limit {
        if !probe && !limit.try_acquire() {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "the admin endpoint's request rate limit was reached; retry shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    }
    next.run(request).await
}

/// The stable code of an error status.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable_entity",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/health+json")
        })
}

/// Rewrites error answers that are not JSON yet (axum's own rejections: a malformed query
/// string, a wrong method, a body too large) into the endpoint's error shape.
/// The probes keep their plain-text answers (`DOWN` with 503 is their message, not an error).
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let probe = matches!(request.uri().path(), "/livez" | "/readyz");
    let response = next.run(request).await;
    if probe {
        return response;
    }
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut converted = error(status, code(status), message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            converted.headers_mut().insert(name.clone(), value.clone());
        }
    }
    converted
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let limit = RateLimit::new(10);
        let t0 = Instant::now();
        let granted = (0..100).filter(|_| limit.try_acquire_at(t0)).count();
        assert_eq!(granted, 20, "a burst of twice the rate");
        assert!(!limit.try_acquire_at(t0));
        assert!(limit.try_acquire_at(t0 + Duration::from_millis(100)));
        assert!(!limit.try_acquire_at(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        let granted = (0..100).filter(|_| limit.try_acquire_at(later)).count();
        assert_eq!(granted, 20, "refills up to the burst, no more");
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(code(StatusCode::BAD_REQUEST), "bad_request");
        assert_eq!(code(StatusCode::BAD_GATEWAY), "internal");
        assert_eq!(code(StatusCode::IM_A_TEAPOT), "error");
    }
}
