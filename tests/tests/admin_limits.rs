//! The admin endpoint's limits and error shape over real HTTP: a body over
//! `MAX_BODY_BYTES` is refused with 413, requests over the rate limit get 429 with
//! `Retry-After` while the probes stay open, the bucket refills, and every error answer —
//! whichever layer produced it (routing, method, query string, body, rate) — has the shape
//! `{"error": {"code": .., "message": ..}}`.

use std::net::SocketAddr;
use std::time::Duration;

use cqrs_obs::admin::MAX_BODY_BYTES;
use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_tests::http::{request, Response};
use serde_json::Value;

const OPERATOR: &str = "operator-token-0123456789";
/// Requests per second of the test's endpoint (bursts of twice that).
const RATE: u32 = 5;

fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Response {
    let bearer = format!("Bearer {OPERATOR}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    request(addr, method, path, &headers, body).unwrap()
}

/// Checks the error shape and returns the code.
fn error_code(response: &Response, what: &str) -> String {
    assert!(
        response
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{what}: {:?}",
        response.headers
    );
    let body: Value = response.json().unwrap_or_else(|e| panic!("{what}: {e}"));
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {body}"))
        .to_owned()
}

/// Waits until the bucket is full again (a burst of `2 × RATE` refills at `RATE` a second).
fn refill() {
    std::thread::sleep(Duration::from_millis(2_200));
}

#[test]
fn bodies_rates_and_errors_are_bounded_and_shaped() {
    let guard = cqrs_obs::builder()
        .ignore_env()
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .admin_token(OPERATOR)
        .admin_rate_limit(Some(RATE))
        .console(Console::Off)
        .try_init()
        .expect("init");
    let addr = guard.admin_addr().unwrap();

    // Bodies: one byte over the limit is refused before the handler reads it; at the limit
    // it reaches the handler (which refuses what is not JSON).
    let over = vec![b' '; MAX_BODY_BYTES + 1];
    for path in ["/sampling", "/test"] {
        let method = if path == "/sampling" { "PUT" } else { "POST" };
        let response = call(addr, method, path, &over);
        assert_eq!(response.status, 413, "{method} {path}: {}", response.body);
        assert_eq!(error_code(&response, path), "payload_too_large");
    }
    let at_limit = vec![b' '; MAX_BODY_BYTES];
    let response = call(addr, "PUT", "/sampling", &at_limit);
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(error_code(&response, "at the limit"), "bad_request");
    refill();

    // Errors from routing, the method, a query string and the handlers share one shape.
    for (method, path, status, code) in [
        ("GET", "/no-such-route", 404, "not_found"),
        ("DELETE", "/metrics", 405, "method_not_allowed"),
        ("GET", "/anomalies?limit=lots", 400, "bad_request"),
        ("GET", "/health?verbose=1", 400, "bad_request"),
        ("GET", "/slo/no-such-slo", 404, "not_found"),
        ("GET", "/dashboards/staging", 404, "not_found"),
        ("PUT", "/sampling", 400, "bad_request"),
    ] {
        let response = call(addr, method, path, b"");
        let what = format!("{method} {path}");
        assert_eq!(response.status, status, "{what}: {}", response.body);
        assert_eq!(error_code(&response, &what), code, "{what}");
    }
    refill();

    // Rate: a burst of twice the rate passes, then 429 with Retry-After; the probes stay
    // open meanwhile; the bucket refills.
    let statuses: Vec<u16> = (0..4 * RATE)
        .map(|_| call(addr, "GET", "/handlers", b"").status)
        .collect();
    let passed = statuses.iter().filter(|&&s| s == 200).count();
    assert!(
        (2 * RATE as usize..=2 * RATE as usize + 1).contains(&passed),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 429),
        "{statuses:?}"
    );
    let limited = call(addr, "GET", "/metrics", b"");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(error_code(&limited, "429"), "too_many_requests");
    for probe in ["/livez", "/readyz"] {
        for _ in 0..RATE {
            assert_eq!(call(addr, "GET", probe, b"").status, 200, "{probe}");
        }
    }
    refill();
    assert_eq!(call(addr, "GET", "/handlers", b"").status, 200);
    drop(guard);
}
