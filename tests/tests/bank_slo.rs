//! The bank's SLOs after its workload: `GET /slo` shows live budgets, and the deliberately
//! tight deposit-latency objective has a firing burn-rate alert while the others do not.

use cqrs_obs::Outcome;
use cqrs_obs_tests::bank::{init_obs, run_test_workload};
use cqrs_obs_tests::http::{get, request};
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

    // An operator acknowledges the firing page: it shows on the report until it resolves.
    let ack = |path: &str, body: &str| request(addr, "POST", path, &[], body.as_bytes()).unwrap();
    let acked = ack(
        "/slo/deposit-latency/alerts/critical/ack",
        r#"{"by": "ana", "note": "known: the objective is too tight"}"#,
    );
    assert_eq!(acked.status, 200, "{}", acked.body);
    let alert = acked.json().unwrap();
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["acknowledged"]["by"], "ana");
    let one = get(addr, "/slo/deposit-latency").unwrap().json().unwrap();
    let critical = one["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["severity"] == "critical")
        .unwrap()
        .clone();
    assert_eq!(
        critical["acknowledged"]["note"],
        "known: the objective is too tight"
    );
    // Nothing to acknowledge on a met objective, no such severity, no such SLO, a bad body.
    let quiet = ack("/slo/query-latency/alerts/critical/ack", "");
    assert_eq!(quiet.status, 409, "{}", quiet.body);
    assert_eq!(quiet.json().unwrap()["error"]["code"], "conflict");
    assert_eq!(
        ack("/slo/deposit-latency/alerts/urgent/ack", "").status,
        404
    );
    assert_eq!(ack("/slo/nope/alerts/critical/ack", "").status, 404);
    assert_eq!(
        ack("/slo/deposit-latency/alerts/critical/ack", "{\"who\": 1}").status,
        400
    );

    let rules = get(addr, "/slo/rules").unwrap();
    assert_eq!(rules.status, 200);
    assert!(
        rules.body.contains("slo_id: \"deposit-latency\""),
        "{}",
        rules.body
    );
}
