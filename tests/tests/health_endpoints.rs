//! Health over HTTP: a real HTTP server on loopback is the external dependency; it stops
//! mid-test and comes back. The indicator goes DOWN, the breaker opens, readiness turns 503,
//! then everything recovers, each transition in the history with its time. The bodies of
//! `/health` (Spring and IETF), `/health/{group}`, `/livez` and `/readyz` are checked field
//! by field with a plain HTTP client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cqrs_obs::health::{
    self, indicator::HttpGet, BreakerConfig, BreakerState, Check, CircuitBreaker, HealthStatus,
    Status,
};
use cqrs_obs::health_check;
use cqrs_obs_tests::bank::init_obs;
use cqrs_obs_tests::http::{get, get_with, Response};
use cqrs_obs_tests::peer::{free_port, wait_until};
use serde_json::Value;

/// A loopback HTTP server answering `200 OK` to everything until stopped.
struct Dependency {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    hits: Arc<AtomicU64>,
}

impl Dependency {
    fn start(port: u16, hits: Arc<AtomicU64>) -> Dependency {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the dependency");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (stopping, counter) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        stream.set_nonblocking(false).unwrap();
                        let mut buf = [0u8; 1024];
                        let _ = stream.read(&mut buf);
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Dependency {
            stop,
            thread: Some(thread),
            hits,
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

#[health_check(group = "liveness")]
fn alive() -> bool {
    true
}

#[health_check(name = "build-info", critical = false)]
fn build_info() -> HealthStatus {
    HealthStatus::up().with_detail("version", "1.0.0")
}

fn json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let response = get(addr, path).unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{path}"
    );
    (response.status, response.json().unwrap())
}

fn is_rfc3339(text: &Value) -> bool {
    let text = text.as_str().unwrap_or_default();
    text.len() == 24 && text.ends_with('Z') && text.as_bytes()[10] == b'T'
}

fn probe(addr: SocketAddr, path: &str) -> Response {
    let response = get(addr, path).unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    response
}

const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

#[test]
fn an_external_dependency_goes_down_and_comes_back() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/ping");
    let hits = Arc::new(AtomicU64::new(0));
    let dependency = Dependency::start(port, hits.clone());
    let breaker = CircuitBreaker::new(
        "rates",
        BreakerConfig {
            sliding_window_size: 2,
            minimum_number_of_calls: 2,
            wait_duration_in_open_state: Duration::from_millis(500),
            permitted_number_of_calls_in_half_open_state: 1,
            ..BreakerConfig::default()
        },
    );
    let rates = HttpGet::new(url.clone())
        .timeout(Duration::from_millis(300))
        .breaker(breaker.clone());
    let every = Duration::from_millis(50);
    health::register(
        Check::indicator("rates", rates)
            .group("readiness")
            .interval(every),
    )
    .unwrap();
    health::register(breaker.check().group("readiness").interval(every)).unwrap();
    let guard = init_obs();
    let addr = guard.admin_addr().expect("admin endpoint");

    // Up.
    wait_until(WAIT, POLL, || match probe(addr, "/readyz").status {
        200 => Ok(()),
        other => Err(format!("readyz {other}")),
    })
    .unwrap();
    assert!(hits.load(Ordering::SeqCst) > 0);
    up_bodies(addr, &url);

    // The dependency stops: DOWN, the breaker opens, readiness 503; liveness stays 200.
    dependency.stop();
    wait_until(WAIT, POLL, || {
        let rates = health::registry().last("rates").ok_or("no result")?;
        match (breaker.state(), rates.health.reason()) {
            (BreakerState::Open, Some(reason)) if reason.contains("is open") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .unwrap();
    let readyz = probe(addr, "/readyz?verbose");
    assert_eq!(readyz.status, 503);
    assert_eq!(
        readyz.body,
        "[-]rates failed: circuit breaker `rates` is open\n\
         [-]circuit-breaker:rates failed: circuit breaker `rates` is open\n\
         readyz check failed\n"
    );
    assert_eq!(probe(addr, "/readyz").body, "readyz check failed\n");
    assert_eq!(probe(addr, "/livez").status, 200);
    let (status, body) = json(addr, "/health");
    assert_eq!((status, &body["status"]), (503, &Value::from("DOWN")));
    assert_eq!(body["components"]["rates"]["details"]["url"], url.as_str());
    let (status, body) = json(addr, "/health/liveness");
    assert_eq!((status, &body["status"]), (200, &Value::from("UP")));
    let metrics = get(addr, "/metrics").unwrap().body;
    assert!(
        metrics.contains("cqrs_health_status{component=\"rates\"} 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("cqrs_circuit_breaker_state{breaker=\"rates\",state=\"open\"} 1\n"));

    // It comes back: the breaker half-opens after its wait, the trial call closes it.
    let dependency = Dependency::start(port, Arc::new(AtomicU64::new(0)));
    wait_until(WAIT, POLL, || match probe(addr, "/readyz").status {
        200 => Ok(()),
        other => Err(format!("readyz {other}")),
    })
    .unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(
        dependency.hits.load(Ordering::SeqCst) > 0,
        "the trial call reached it"
    );
    wait_until(WAIT, POLL, || {
        let report = health::registry()
            .last("circuit-breaker:rates")
            .ok_or("none")?;
        match report.health.status() {
            Status::Up => Ok(()),
            other => Err(format!("{other}: the cached half-open result is refreshed")),
        }
    })
    .unwrap();
    assert_eq!(
        probe(addr, "/readyz?verbose").body,
        "[+]rates ok\n[+]circuit-breaker:rates ok\nreadyz check passed\n"
    );

    let history = health::registry().history("rates").unwrap();
    let steps: Vec<(Status, Status)> = history.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        steps,
        [
            (Status::Unknown, Status::Up),
            (Status::Up, Status::Down),
            (Status::Down, Status::Up)
        ]
    );
    assert!(
        history.windows(2).all(|w| w[0].at <= w[1].at),
        "{history:?}"
    );
    assert!(history[1]
        .reason
        .as_deref()
        .unwrap()
        .starts_with(&format!("GET {url}")));
    assert!(history.iter().all(|t| t.at_rfc3339().ends_with('Z')));
    let breaker_history = health::registry().history("circuit-breaker:rates").unwrap();
    let to: Vec<Status> = breaker_history.iter().map(|t| t.to).collect();
    assert_eq!(to.first(), Some(&Status::Up));
    assert!(to.contains(&Status::Down), "{breaker_history:?}");
    assert_eq!(to.last(), Some(&Status::Up));
    dependency.stop();
    drop(guard);
}

/// Every endpoint's body while everything is up.
fn up_bodies(addr: SocketAddr, url: &str) {
    let (status, body) = json(addr, "/health");
    assert_eq!(status, 200);
    assert_eq!(body["status"], "UP");
    assert_eq!(body["groups"], serde_json::json!(["liveness", "readiness"]));
    let rates = &body["components"]["rates"];
    assert_eq!(rates["status"], "UP");
    assert_eq!(rates["details"]["url"], url);
    assert_eq!(rates["details"]["status_code"], 200);
    assert_eq!(rates["measurement"], "responseTime");
    assert_eq!(rates["observedUnit"], "ms");
    assert!(rates["observedValue"].as_f64().unwrap() >= 0.0);
    assert!(rates["durationMs"].as_f64().unwrap() >= 0.0);
    assert!(is_rfc3339(&rates["time"]), "{}", rates["time"]);
    assert_eq!(rates["critical"], true);
    assert_eq!(rates["groups"], serde_json::json!(["readiness"]));
    let breaker = &body["components"]["circuit-breaker:rates"];
    assert_eq!(breaker["status"], "UP");
    assert_eq!(breaker["details"]["state"], "closed");
    assert_eq!(
        body["components"]["alive"]["groups"],
        serde_json::json!(["liveness"])
    );
    let info = &body["components"]["build-info"];
    assert_eq!(info["critical"], false);
    assert_eq!(info["details"]["version"], "1.0.0");
    assert_eq!(info["groups"], serde_json::json!([]));

    // IETF.
    let response = get_with(addr, "/health", &[("Accept", "application/health+json")]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/health+json")
    );
    let body = response.json().unwrap();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["serviceId"], "bank-tests");
    let check = &body["checks"]["rates:responseTime"][0];
    assert_eq!(check["componentId"], "rates");
    assert_eq!(check["componentType"], "component");
    assert_eq!(check["observedUnit"], "ms");
    assert_eq!(check["status"], "pass");
    assert_eq!(check["affectsServiceHealth"], true);
    assert!(is_rfc3339(&check["time"]));
    assert!(check.get("output").is_none());
    assert_eq!(
        body["checks"]["build-info:responseTime"][0]["affectsServiceHealth"],
        false
    );

    // Groups.
    let (status, body) = json(addr, "/health/readiness");
    assert_eq!((status, &body["status"]), (200, &Value::from("UP")));
    let names: Vec<&String> = body["components"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["circuit-breaker:rates", "rates"]);
    assert!(body.get("groups").is_none());
    let (status, body) = json(addr, "/health/nope");
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        body["error"]["message"],
        "no health group `nope`; groups: liveness, readiness"
    );
    let (status, body) = json(addr, "/health?x=1");
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &Value::from("bad_request"))
    );

    // Probes.
    let livez = probe(addr, "/livez");
    assert_eq!((livez.status, livez.body.as_str()), (200, "ok\n"));
    let verbose = probe(addr, "/livez?verbose");
    assert_eq!(verbose.body, "[+]alive ok\nlivez check passed\n");
    let excluded = probe(addr, "/readyz?verbose&exclude=rates");
    assert_eq!(
        excluded.body,
        "[+]circuit-breaker:rates ok\nreadyz check passed\n"
    );
    let (status, body) = json(addr, "/readyz?verbosity=2");
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "unexpected query parameter `verbosity=2`; expected `verbose` or `exclude=NAME`"
    );

    // Metrics.
    let metrics = get(addr, "/metrics").unwrap().body;
    assert!(metrics.contains("# TYPE cqrs_health_status gauge\n"));
    assert!(metrics.contains("cqrs_health_status{component=\"rates\"} 1\n"));
    assert!(metrics.contains("cqrs_circuit_breaker_state{breaker=\"rates\",state=\"closed\"} 1\n"));
    assert!(metrics.contains("cqrs_circuit_breaker_state{breaker=\"rates\",state=\"open\"} 0\n"));
}
