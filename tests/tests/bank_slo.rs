//! The bank's SLOs after its workload: `GET /slo` shows live budgets, and the deliberately
//! tight deposit-latency objective has a firing burn-rate alert while the others do not.

use cqrs_obs::Outcome;
use cqrs_obs_tests::bank::{init_obs, run_test_workload};
use cqrs_obs_tests::http::get;
use serde_json::Value;

fn slo<'a>(all: &'a [Value], id: &str) -> &'a Value {
    all.iter()
        .find(|r| r["slo"]["id"] == id)
        .unwrap_or_else(|| panic!("no SLO {id}: {all:?}"))
}

fn firing(report: &Value) -> Vec<String> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| a["severity"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn slo_endpoint_shows_budgets_and_the_burning_objective() {
    let guard = init_obs();
    let addr = guard.admin_addr().expect("admin endpoint");
    cqrs_obs_examples::objectives::register_objectives();
    let report = run_test_workload(3_000);
    // Evaluate now rather than waiting for the background tick.
    cqrs_obs::slo::tick();

    let response = get(addr, "/slo").unwrap();
    assert_eq!(response.status, 200);
    let body = response.json().unwrap();
    let all = body.as_array().unwrap();
    assert_eq!(all.len(), 4, "{body}");

    let deposit = slo(all, "deposit-latency");
    assert!(
        firing(deposit).contains(&"critical".to_owned()),
        "{deposit}"
    );
    assert!(
        deposit["budget"]["remaining"].as_f64().unwrap() < 0.0,
        "{deposit}"
    );
    let events = deposit["windows"][0]["total"].as_u64().unwrap();
    let deposits: u64 = [
        Outcome::Ok,
        Outcome::Rejected,
        Outcome::Conflict,
        Outcome::Error,
        Outcome::Panic,
    ]
    .into_iter()
    .map(|o| report.count("deposit", o))
    .sum();
    assert_eq!(
        events, deposits,
        "every finished deposit counted once in the 5m window"
    );

    let commands = slo(all, "command-availability");
    let remaining = commands["budget"]["remaining"].as_f64().unwrap();
    assert!(remaining <= 1.0, "{commands}");
    assert!(
        commands["attainment"].as_f64().unwrap() > 90.0,
        "{commands}"
    );

    let one = get(addr, "/slo/deposit-latency").unwrap();
    assert_eq!(one.status, 200);
    assert_eq!(one.json().unwrap()["slo"]["id"], "deposit-latency");
    let missing = get(addr, "/slo/nope").unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json().unwrap()["error"]["code"], "not_found");

    // The default policy blocks deployments while a high or critical alert fires.
    let gate = get(addr, "/slo/deploy-gate").unwrap();
    assert_eq!(gate.status, 423, "{}", gate.body);
    let decision = gate.json().unwrap();
    assert_eq!(decision["allowed"], false);
    assert!(
        decision["reasons"][0]
            .as_str()
            .unwrap()
            .contains("deposit-latency"),
        "{decision}"
    );

    let rules = get(addr, "/slo/rules").unwrap();
    assert_eq!(rules.status, 200);
    assert!(
        rules.body.contains("slo_id: \"deposit-latency\""),
        "{}",
        rules.body
    );
}
