//! The bank, with cqrs-obs set up by `init` and the capture layer in the application's own
//! subscriber, answers `GET /logs` (every filter, cursor pages, errors for bad parameters),
//! `GET /logs/stats`, and streams new entries with `follow=true`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_tests::bank::run_test_workload;
use cqrs_obs_tests::http::{encode, get};
use cqrs_obs_tests::peer::TempDir;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

fn logs(addr: SocketAddr, query: &str) -> Value {
    let response = get(addr, &format!("/logs?{query}")).unwrap();
    assert_eq!(response.status, 200, "{query}: {}", response.body);
    response.json().unwrap()
}

fn entries(page: &Value) -> &Vec<Value> {
    page["entries"].as_array().unwrap()
}

#[test]
fn the_bank_logs_are_searchable_paged_summarised_and_followed() {
    let dir = TempDir::new("cqrs-obs-logs-admin");
    let guard = cqrs_obs::builder()
        .service_name("bank-logs")
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .console(Console::Off)
        .log_store(dir.path())
        .log_queue_capacity(1024)
        .ignore_env()
        .try_init()
        .expect("cqrs-obs initialises");
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(cqrs_obs::logs::layer()),
    )
    .unwrap();
    let addr = guard.admin_addr().unwrap();
    run_test_workload(400);
    guard.flush();

    // Pages: newest first, the cursor continues where the last page ended.
    let first = logs(addr, "limit=5");
    assert_eq!(entries(&first).len(), 5);
    let cursor = first["next_cursor"].as_str().expect("more pages");
    let second = logs(addr, &format!("limit=5&cursor={}", encode(cursor)));
    let last_of_first = entries(&first)[4]["seq"].as_u64().unwrap();
    assert!(entries(&second)
        .iter()
        .all(|e| e["seq"].as_u64().unwrap() < last_of_first));
    let e = &entries(&first)[0];
    for key in [
        "timestamp",
        "seq",
        "level",
        "message",
        "service",
        "target",
        "trace_id",
        "span_id",
        "correlation_id",
        "fields",
    ] {
        assert!(e.get(key).is_some(), "{key} in {e}");
    }
    assert_eq!(e["service"], "bank-logs");

    // Refused withdrawals: warnings with the handler's trace and message context.
    let refused = logs(addr, "level=warn&q=insufficient%20funds&limit=50");
    let refused = entries(&refused);
    assert!(!refused.is_empty(), "the workload refuses withdrawals");
    for e in refused {
        assert_eq!(e["level"], "warn");
        assert!(e["message"]
            .as_str()
            .unwrap()
            .contains("insufficient funds"));
        assert!(
            e["trace_id"].is_string() && e["correlation_id"].is_string(),
            "{e}"
        );
    }
    let one = &refused[0];
    for (param, key) in [
        ("trace_id", "trace_id"),
        ("correlation_id", "correlation_id"),
        ("aggregate_id", "aggregate_id"),
    ] {
        let value = one[key].as_str().unwrap();
        let found = logs(addr, &format!("{param}={}&limit=1000", encode(value)));
        assert!(!entries(&found).is_empty(), "{param}");
        assert!(entries(&found).iter().all(|e| e[key] == value), "{param}");
    }
    let opened = logs(
        addr,
        "event_type=Opened&target=cqrs_obs_examples&since=1h&limit=3",
    );
    assert_eq!(entries(&opened).len(), 3);
    assert!(entries(&opened)
        .iter()
        .all(|e| e["message"] == "account opened"));
    let until = one["timestamp"].as_str().unwrap();
    let before = logs(addr, &format!("until={}&limit=1000", encode(until)));
    assert!(entries(&before)
        .iter()
        .all(|e| e["timestamp"].as_str().unwrap() < until));

    // Bad parameters are clear errors.
    for (query, name) in [
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("trace_id=42", "trace_id"),
        ("level=loud", "level"),
        ("colour=red", "colour"),
    ] {
        let response = get(addr, &format!("/logs?{query}")).unwrap();
        assert_eq!(response.status, 400, "{query}");
        let body = response.json().unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{body}"
        );
    }

    // Statistics over the last hour.
    let stats = get(addr, "/logs/stats?since=1h").unwrap().json().unwrap();
    let store = &stats["store"];
    assert!(store["total"].as_u64().unwrap() > 0, "{stats}");
    assert!(store["by_level"]["warn"].as_u64().unwrap() > 0, "{stats}");
    assert!(
        store["by_service"]["bank-logs"].as_u64().unwrap() > 0,
        "{stats}"
    );
    let patterns: Vec<&str> = store["top_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pattern"].as_str().unwrap())
        .collect();
    assert!(
        patterns.contains(&"withdrawal refused: insufficient funds"),
        "{patterns:?}"
    );
    assert_eq!(stats["pipeline"]["dropped"], 0);
    assert!(stats["pipeline"]["received"].as_u64().unwrap() >= store["total"].as_u64().unwrap());

    // Follow: new matching entries arrive as server-sent events.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET /logs?follow=true&q=followed HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    let started = Instant::now();
    let mut data = None;
    while data.is_none() && started.elapsed() < Duration::from_secs(10) {
        tracing::info!("not this one");
        tracing::info!(n = 1, "followed entry");
        line.clear();
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        if let Some(json) = line.trim_end().strip_prefix("data: ") {
            data = Some(serde_json::from_str::<Value>(json).unwrap());
        }
    }
    let followed = data.expect("a followed entry arrived");
    assert_eq!(followed["message"], "followed entry");
    assert_eq!(followed["fields"]["n"], 1);
    // A flood beyond the capture ring: the drops show in /metrics, counted exactly.
    for i in 0..50_000 {
        tracing::info!(i, "flood");
    }
    let started = Instant::now();
    let (dropped, exported) = loop {
        let stats = get(addr, "/logs/stats").unwrap().json().unwrap();
        let dropped = stats["pipeline"]["dropped"].as_u64().unwrap();
        let metrics = get(addr, "/metrics").unwrap().body;
        let exported = metrics
            .lines()
            .find(|l| l.starts_with("cqrs_obs_dropped_total{signal=\"logs\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
        if exported == Some(dropped) || started.elapsed() > Duration::from_secs(10) {
            break (dropped, exported);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(dropped > 0, "the flood overflowed the ring");
    assert_eq!(
        exported,
        Some(dropped),
        "cqrs_obs_dropped_total{{signal=\"logs\"}}"
    );

    // Shutting down ends the stream (an open follower does not hold the admin endpoint).
    let stopped = Instant::now();
    drop(guard);
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopped.elapsed()
    );
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
}
