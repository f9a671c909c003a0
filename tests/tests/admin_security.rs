//! The admin endpoint's security over real HTTP: a non-loopback address without a token is
//! refused at start (and accepted with one); with tokens, every route but the probes needs one;
//! the viewer token reads and is refused actions (`PUT /sampling`, `POST /test`, acknowledging
//! an SLO alert); the operator acts; and the audit log has a line for each refused and each accepted operator request.

use std::net::SocketAddr;

use cqrs_obs::{AdminAddr, Console, InitError};
use cqrs_obs_tests::http::request;
use cqrs_obs_tests::peer::TempDir;
use serde_json::Value;

const OPERATOR: &str = "operator-token-0123456789";
const VIEWER: &str = "viewer-token-0123456789";

fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    let response = request(addr, method, path, &headers, body.as_bytes()).unwrap();
    let json = response.json().unwrap_or(Value::Null);
    (response.status, json)
}

fn audit_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each audit line is JSON"))
        .collect()
}

#[test]
fn tokens_roles_and_the_audit_log() {
    let dir = TempDir::new("admin-security");
    let audit = dir.path().join("audit.jsonl");

    // Refused before anything starts: a non-loopback address and no token.
    let err = cqrs_obs::builder()
        .ignore_env()
        .admin_addr(AdminAddr::Listen("0.0.0.0:0".parse().unwrap()))
        .console(Console::Off)
        .try_init()
        .unwrap_err();
    assert!(matches!(err, InitError::AdminNeedsToken { .. }), "{err}");
    assert!(err.to_string().contains("CQRS_OBS_ADMIN_TOKEN"), "{err}");

    // With a token, a non-loopback address is accepted (reached here over loopback).
    let guard = cqrs_obs::builder()
        .ignore_env()
        .admin_addr(AdminAddr::Listen("0.0.0.0:0".parse().unwrap()))
        .admin_token(OPERATOR)
        .admin_viewer_token(VIEWER)
        .admin_audit_log(&audit)
        .console(Console::Off)
        .try_init()
        .expect("init");
    let bound = guard.admin_addr().unwrap();
    assert!(bound.ip().is_unspecified(), "{bound}");
    let addr = SocketAddr::from(([127, 0, 0, 1], bound.port()));

    // Every route of the admin router (and an unknown one: nothing is revealed without a
    // token).
    let routes = [
        "/metrics",
        "/handlers",
        "/health",
        "/health/liveness",
        "/slo",
        "/slo/rules",
        "/slo/deploy-gate",
        "/slo/deposit-latency",
        "/sampling",
        "/logs",
        "/logs/stats",
        "/anomalies",
        "/anomalies/series",
        "/traces/4bf92f3577b34da6a3ce929d0e0e4736",
        "/dashboards/production",
        "/dashboards/production/overview",
        "/no-such-route",
    ];
    for route in routes {
        let (status, body) = call(addr, "GET", route, None, "");
        assert_eq!(status, 401, "{route} without a token");
        assert_eq!(body["error"]["code"], "unauthorized", "{route}");
        let (status, _) = call(addr, "GET", route, Some("not-the-token-at-all"), "");
        assert_eq!(status, 401, "{route} with a wrong token");
        let (status, _) = call(addr, "GET", route, Some(VIEWER), "");
        assert!(
            status != 401 && status != 403,
            "{route} as viewer: {status}"
        );
    }
    // A follow stream is refused before it starts.
    let (status, body) = call(addr, "GET", "/logs?follow=true", None, "");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    for probe in ["/livez", "/readyz"] {
        let (status, _) = call(addr, "GET", probe, None, "");
        assert_eq!(status, 200, "{probe} stays open for Kubernetes");
    }

    let change = r#"{"sampler": "parentbased_traceidratio", "arg": "0.25"}"#;
    let (status, body) = call(addr, "PUT", "/sampling", Some(VIEWER), change);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = call(addr, "PUT", "/sampling", Some(OPERATOR), change);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sampler"], "parentbased_traceidratio");
    let (_, body) = call(addr, "GET", "/sampling", Some(VIEWER), "");
    assert_eq!(
        (body["sampler"].as_str(), body["arg"].as_str()),
        (Some("parentbased_traceidratio"), Some("0.25"))
    );
    let (status, body) = call(
        addr,
        "PUT",
        "/sampling",
        Some(OPERATOR),
        r#"{"sampler": "sometimes"}"#,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("always_on"),
        "{body}"
    );

    // The W3C test service (`POST /test`) is an action too.
    let (status, body) = call(addr, "POST", "/test", None, "[]");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = call(addr, "POST", "/test", Some(VIEWER), "[]");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = call(addr, "POST", "/test", Some(OPERATOR), "[]");
    assert_eq!(status, 200, "{body}");

    // So is acknowledging an SLO alert (no such SLO here: 404 once authorised).
    let ack = "/slo/none/alerts/critical/ack";
    let (status, body) = call(addr, "POST", ack, Some(VIEWER), "");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = call(addr, "POST", ack, Some(OPERATOR), "");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let lines = audit_lines(&audit);
    let refused: Vec<&Value> = lines.iter().filter(|l| l["result"] == "refused").collect();
    let accepted: Vec<&Value> = lines.iter().filter(|l| l["result"] == "accepted").collect();
    assert_eq!(
        refused.len(),
        2 * routes.len() + 5,
        "one line per refused request"
    );
    let unauthorized: Vec<&&Value> = refused.iter().filter(|l| l["status"] == 401).collect();
    assert_eq!(unauthorized.len(), 2 * routes.len() + 2);
    assert!(unauthorized.iter().all(|l| l["role"].is_null()));
    // The path is logged without the query string.
    assert!(unauthorized.iter().any(|l| l["path"] == "/logs"));
    assert!(unauthorized
        .iter()
        .all(|l| !l["path"].as_str().unwrap().contains('?')));
    let forbidden: Vec<(&str, &str)> = refused
        .iter()
        .filter(|l| l["status"] == 403)
        .inspect(|l| assert_eq!(l["role"], "viewer", "{l}"))
        .map(|l| (l["method"].as_str().unwrap(), l["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        forbidden,
        [("PUT", "/sampling"), ("POST", "/test"), ("POST", ack)]
    );
    assert!(refused.iter().all(|l| l["reason"].is_string()));
    assert_eq!(
        accepted.len(),
        4,
        "every operator action, the good and the bad ones"
    );
    assert!(accepted.iter().all(|l| l["role"] == "operator"));
    assert_eq!(
        accepted
            .iter()
            .map(|l| (
                l["method"].as_str().unwrap(),
                l["path"].as_str().unwrap(),
                l["status"].as_u64().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            ("PUT", "/sampling", 200),
            ("PUT", "/sampling", 400),
            ("POST", "/test", 200),
            ("POST", ack, 404)
        ]
    );
    for line in &lines {
        assert!(
            line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(!line.to_string().contains(OPERATOR) && !line.to_string().contains(VIEWER));
    }
    drop(guard);
}
