//! The W3C Trace Context test service on the admin endpoint (`POST /test`), driven the way the
//! W3C harness drives it, against a real HTTP server on loopback that records what it gets:
//! the calls arrive in order, with the arguments as body, the caller's trace id, a new parent
//! id per call, the flags and the trace state; an invalid `traceparent` starts a new trace.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_tests::http::request;

type Seen = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

/// A server that records every request: path, headers, body.
fn recorder() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let record = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(
                move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                    let record = record.clone();
                    async move {
                        record
                            .lock()
                            .unwrap()
                            .push((uri.path().to_owned(), headers, body));
                        "ok"
                    }
                },
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (addr, seen)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn the_harness_calls_are_made_with_the_propagated_context() {
    let (peer, seen) = recorder();
    let guard = cqrs_obs::builder()
        .ignore_env()
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .console(Console::Off)
        .try_init()
        .expect("init");
    let admin = guard.admin_addr().unwrap();

    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let parent = "b7ad6b7169203331";
    let body = format!(
        r#"[{{"url": "http://{peer}/a", "arguments": [1, {{"x": 2}}]}},
            {{"url": "http://{peer}/b", "arguments": []}}]"#
    );
    let traceparent = format!("00-{trace_id}-{parent}-01");
    let response = request(
        admin,
        "POST",
        "/test",
        &[
            ("traceparent", traceparent.as_str()),
            ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);

    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].0.as_str(), calls[1].0.as_str()), ("/a", "/b"));
    let bodies: Vec<serde_json::Value> = calls
        .iter()
        .map(|(_, _, b)| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(bodies[0], serde_json::json!([1, {"x": 2}]));
    assert_eq!(bodies[1], serde_json::json!([]));
    let mut parents = Vec::new();
    for (_, headers, _) in &calls {
        let tp = header(headers, "traceparent").expect("a traceparent");
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], trace_id, "the caller's trace continues");
        assert_ne!(parts[2], parent, "a parent id of our own");
        assert_eq!(parts[3], "01", "sampled, as the caller decided");
        parents.push(parts[2].to_owned());
        assert_eq!(
            header(headers, "tracestate"),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        );
    }
    assert_ne!(parents[0], parents[1], "one span per outgoing call");

    // An invalid traceparent (all-zero parent id) is ignored: a new trace, no trace state.
    seen.lock().unwrap().clear();
    let body = format!(r#"[{{"url": "http://{peer}/c", "arguments": {{}}}}]"#);
    let invalid = format!("00-{trace_id}-0000000000000000-01");
    let response = request(
        admin,
        "POST",
        "/test",
        &[
            ("traceparent", invalid.as_str()),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(response.status, 200);
    let calls = seen.lock().unwrap().clone();
    let tp = header(&calls[0].1, "traceparent").unwrap();
    assert!(!tp.contains(trace_id), "a new trace: {tp}");
    assert_eq!(header(&calls[0].1, "tracestate"), None);

    let response = request(admin, "POST", "/test", &[], b"{not json").unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(response.json().unwrap()["error"]["code"], "bad_request");
    drop(guard);
}
