//! The bank's own health checks after a workload: its event store round trip, its
//! projection's freshness and an external dependency (a loopback server) are UP, readiness is
//! 200, and `promtool` accepts the `/metrics` page with the health and breaker gauges.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use cqrs_obs::health::{self, Status};
use cqrs_obs_tests::bank::{init_obs, run_test_workload};
use cqrs_obs_tests::http::get;
use cqrs_obs_tests::peer::{self, wait_until};

fn serve_ok(listener: TcpListener) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
}

#[test]
fn the_bank_reports_its_own_health() {
    let dependency = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/health", dependency.local_addr().unwrap());
    serve_ok(dependency);
    let guard = init_obs();
    let addr = guard.admin_addr().unwrap();
    cqrs_obs_examples::health::register_checks(Some(&url)).unwrap();
    run_test_workload(2_000);

    let registry = health::registry();
    for name in [
        "event-store",
        "balances-freshness",
        "external-dependency",
        "circuit-breaker:external-dependency",
    ] {
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            let report = registry
                .last(name)
                .ok_or(format!("{name}: no result yet"))?;
            match report.health.status() {
                Status::Up => Ok(()),
                other => Err(format!("{name}: {other} {:?}", report.health.reason())),
            }
        })
        .unwrap();
    }
    let store = registry.last("event-store").unwrap();
    assert_eq!(store.health.observed().unwrap().measurement, "roundTrip");
    let readyz = get(addr, "/readyz?verbose").unwrap();
    assert_eq!(readyz.status, 200, "{}", readyz.body);
    assert!(
        readyz.body.contains("[+]event-store ok\n"),
        "{}",
        readyz.body
    );

    let body = get(addr, "/metrics").unwrap().body;
    assert!(body.contains("cqrs_health_status{component=\"event-store\"} 1\n"));
    let promtool = peer::require_program("promtool");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    drop(guard);
}
