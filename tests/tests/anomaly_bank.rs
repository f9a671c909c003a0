//! Anomaly detection on the bank: a latency regression of the `statement` query and an
//! error burst of `deposit`, injected into a paced workload while the built-in CQRS
//! detectors are fed every 10 ms, are both reported with their confidence on
//! `GET /anomalies` and counted in `cqrs_anomalies_total`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cqrs_obs_examples::workload::{run_workload_with, Injection};
use cqrs_obs_examples::WorkloadConfig;
use cqrs_obs_tests::bank::init_obs;
use cqrs_obs_tests::http::get;
use serde_json::Value;

/// Steps of each worker: normal until 6500, slow statements 6500..7100, normal, failing
/// deposits 8100..8700, normal until 9000. At a step a millisecond, about ten seconds.
const STEPS: u64 = 9_000;
const REGRESSION: std::ops::Range<u64> = 6_500..7_100;
const BURST: std::ops::Range<u64> = 8_100..8_700;

fn anomalies(addr: std::net::SocketAddr, query: &str) -> Vec<Value> {
    let response = get(addr, &format!("/anomalies?{query}")).unwrap();
    assert_eq!(response.status, 200, "{query}");
    response.json().unwrap().as_array().unwrap().clone()
}

fn check_reported(addr: std::net::SocketAddr, found: &[Value], metric: &str, min_value: f64) {
    let a = found
        .iter()
        .find(|a| a["value"].as_f64().unwrap() >= min_value)
        .unwrap_or_else(|| {
            let all = anomalies(addr, &format!("metric={metric}&limit=1000"));
            let series = get(addr, "/anomalies/series").unwrap().body;
            panic!(
                "no {metric} anomaly of at least {min_value}: {found:#?}\n\
                 all of {metric}: {all:#?}\nseries: {series}"
            )
        });
    assert_eq!(a["metric"], metric);
    assert!(a["deviation"].as_f64().unwrap() > 3.0, "{a}");
    let confidence = &a["confidence"];
    for part in ["value", "extremity", "data", "persistence", "agreement"] {
        let v = confidence[part].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{part} = {v} in {a}");
    }
    assert!(confidence["value"].as_f64().unwrap() > 0.3, "{a}");
    assert!(confidence["agreement"].as_f64().unwrap() >= 0.5, "{a}");
    assert_eq!(confidence["data"].as_f64().unwrap(), 1.0, "{a}");
    assert!(!a["detectors"].as_array().unwrap().is_empty(), "{a}");
    assert!(
        ["high", "critical"].contains(&a["severity"].as_str().unwrap()),
        "{a}"
    );
}

#[test]
fn injected_incidents_are_reported_with_their_confidence() {
    let guard = init_obs();
    let addr = guard.admin_addr().expect("admin endpoint");
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
                cqrs_obs::anomaly::observe_handlers();
            }
        })
    };
    let config = WorkloadConfig {
        commands: 2 * STEPS,
        workers: 2,
        accounts_per_worker: 32,
        seed: 0xa11,
        fault_every: 25,
        statement_deadline: Duration::from_millis(2),
        quiet_poison_panics: true,
    };
    let incidents = Injection {
        pace: Some(Duration::from_millis(1)),
        latency_regression: Some(REGRESSION),
        error_burst: Some(BURST),
    };
    run_workload_with(config, incidents);
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();

    // Statements normally take microseconds; through the archive, 50 ms (the first point of
    // the regression may average in a few fast calls).
    let slow = anomalies(addr, "metric=query.latency/statement&severity=high");
    check_reported(addr, &slow, "query.latency/statement", 0.005);
    // Deposits normally fail a few percent of the time (injected faults), then all do (the
    // first point of the burst still mixes in calls from before it).
    let failing = anomalies(addr, "metric=command.errors/deposit&since=1h");
    check_reported(addr, &failing, "command.errors/deposit", 0.1);

    // The filters: a prefix, and the newest first.
    let all = anomalies(addr, "metric=*&limit=1000");
    let queries = anomalies(addr, "metric=query.*");
    assert!(queries
        .iter()
        .all(|a| a["metric"].as_str().unwrap().starts_with("query.")));
    let ids: Vec<u64> = all.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let bad = get(addr, "/anomalies?severity=loud").unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json().unwrap()["error"]["code"], "bad_request");
    // A misspelt filter is refused, naming itself and what is accepted, not ignored.
    let misspelt = get(addr, "/anomalies?sevrity=high").unwrap();
    assert_eq!(misspelt.status, 400);
    let message = misspelt.json().unwrap()["error"]["message"].clone();
    assert_eq!(
        message,
        "unknown parameter `sevrity` (accepted: severity, metric, since, limit)"
    );

    // The series, with their trends, and the counter.
    let series = get(addr, "/anomalies/series").unwrap().json().unwrap();
    assert!(series
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["metric"] == "command.throughput/deposit"));
    let metrics = get(addr, "/metrics").unwrap();
    let page = metrics.body;
    assert!(page.contains("# HELP cqrs_anomalies_total"), "{page}");
    assert!(
        page.lines().any(|l| l.starts_with("cqrs_anomalies_total{")
            && l.contains("metric=\"command.errors/deposit\"")),
        "{page}"
    );
}
