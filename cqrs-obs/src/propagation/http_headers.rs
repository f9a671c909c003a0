//! HTTP headers as a carrier: `http::HeaderMap` implements [`Carrier`] and [`CarrierMut`], so
//! the same keys (`traceparent`, `tracestate`, `correlation_id`, `causation_id`,
//! `message_id`, `produced_at`) travel on requests between services.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{extract, inject, Carrier, CarrierMut, Extracted};
use crate::context::Context;

impl Carrier for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }
}

impl CarrierMut for HeaderMap {
    /// Values that are not valid header values are skipped (ids that came from outside may
    /// hold anything).
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

/// Writes `ctx` into the headers of an outgoing request.
///
/// ```
/// use cqrs_obs::{context::Context, propagation};
/// let ctx = Context::new_root();
/// let mut headers = http::HeaderMap::new();
/// propagation::inject_headers(&ctx, &mut headers);
/// assert_eq!(headers["traceparent"], ctx.trace.to_string().as_str());
/// let back = propagation::extract_headers(&headers);
/// assert_eq!(back.trace, Some(ctx.trace));
/// assert_eq!(back.correlation_id, Some(ctx.correlation_id));
/// ```
pub fn inject_headers(ctx: &Context, headers: &mut HeaderMap) {
    inject(ctx, headers);
}

/// Reads the context of an incoming request's headers (malformed values are ignored).
pub fn extract_headers(headers: &HeaderMap) -> Extracted {
    extract(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_trace_headers_are_ignored_not_fatal() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("00-1-2-01"));
        headers.insert("tracestate", HeaderValue::from_static("a=1"));
        headers.insert("correlation_id", HeaderValue::from_static("c-1"));
        let got = extract_headers(&headers);
        assert_eq!(got.trace, None);
        assert_eq!(
            got.tracestate, None,
            "tracestate without a valid traceparent is dropped"
        );
        assert_eq!(got.correlation_id.unwrap().to_string(), "c-1");
    }

    #[test]
    fn tracestate_travels_with_a_valid_traceparent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        headers.insert("tracestate", HeaderValue::from_static("vendor=x,other=y"));
        let got = extract_headers(&headers);
        assert!(got.trace.unwrap().is_sampled());
        assert_eq!(got.tracestate.unwrap().get("other"), Some("y"));
    }
}
