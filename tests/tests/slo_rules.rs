//! The generated SLO rules against the real promtool: `promtool check rules` accepts them, and
//! `promtool test rules` fed the same synthetic traffic as the in-process engine fires the
//! same burn-rate alerts at the same times (checked at evaluation steps away from transitions,
//! so "the same time" means within one evaluation interval).

use std::process::Command;

use cqrs_obs::slo::{self, Counts, CqrsSlos, GoodOutcomes, Handlers, Severity, Sli, Slo, SloState};
use cqrs_obs_tests::peer::{require_program, TempDir};

fn deposit_availability() -> Slo {
    let mut slo = Slo::new(
        "deposit-availability",
        Sli::Availability {
            handlers: Handlers::Message("Deposit"),
            good: GoodOutcomes::default(),
        },
        99.9,
    );
    slo.name = "Deposit availability";
    slo
}

fn promtool(args: &[&str], dir: &TempDir) -> (bool, String) {
    let output = Command::new(require_program("promtool"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn promtool_accepts_the_generated_rules() {
    let slos = [
        CqrsSlos::command_availability(),
        CqrsSlos::query_latency(),
        CqrsSlos::event_throughput(),
        CqrsSlos::data_freshness("balances"),
        deposit_availability(),
    ];
    let yaml = slo::prometheus_rules_for(&slos, "bank");
    let dir = TempDir::new("slo-rules");
    std::fs::write(dir.path().join("rules.yml"), &yaml).unwrap();
    let (ok, text) = promtool(&["check", "rules", "rules.yml"], &dir);
    assert!(ok, "promtool check rules failed:\n{text}\n{yaml}");
    // 5 SLOs × (8 windows × 2 + 6 meta) records and 5 alerts each.
    assert!(text.contains("SUCCESS: 135 rules found"), "{text}");
}

/// Minutes of good traffic before the outage, and its length.
const GOOD_MINUTES: u64 = 120;
const OUTAGE_MINUTES: u64 = 40;
const PER_SECOND: u64 = 100;

/// The in-process engine's firing severities at the end of each minute.
fn engine_firing_by_minute(slo: &Slo) -> Vec<Vec<Severity>> {
    let mut state = SloState::new(slo.clone());
    let mut by_minute = vec![Vec::new()];
    for second in 1..=(GOOD_MINUTES + OUTAGE_MINUTES) * 60 {
        let outage = second > GOOD_MINUTES * 60;
        let counts = Counts {
            good: if outage { 0 } else { PER_SECOND },
            total: PER_SECOND,
        };
        state.observe(second * 1000, counts);
        if second % 60 == 0 {
            let mut firing: Vec<Severity> = state.firing().collect();
            firing.sort();
            by_minute.push(firing);
        }
    }
    by_minute
}

fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn promtool_fires_the_same_alerts_as_the_engine() {
    let slo = deposit_availability();
    let expected = engine_firing_by_minute(&slo);
    let per_minute = PER_SECOND * 60;
    let ok_until = per_minute * GOOD_MINUTES;
    let mut test = String::new();
    test += "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n";
    test += &format!(
        "      - series: 'cqrs_commands_total{{command=\"Deposit\",aggregate=\"Account\",outcome=\"ok\"}}'\n        values: '0+{per_minute}x{GOOD_MINUTES} {ok_until}x{OUTAGE_MINUTES}'\n"
    );
    test += &format!(
        "      - series: 'cqrs_commands_total{{command=\"Deposit\",aggregate=\"Account\",outcome=\"error\"}}'\n        values: '0x{GOOD_MINUTES} {per_minute}+{per_minute}x{}'\n",
        OUTAGE_MINUTES - 1
    );
    test += "    alert_rule_test:\n";
    // Steps away from the outage's start (where the engine, at 1 s resolution, fires up to a
    // minute before Prometheus' 1 m evaluation can).
    let steps = [30, 119, 122, 125, 130, 140, 150, 159];
    let mut compared = 0;
    for minute in steps {
        test += &format!(
            "      - eval_time: {minute}m\n        alertname: CqrsSloErrorBudgetBurn\n        exp_alerts:\n"
        );
        if expected[minute].is_empty() {
            test += "          []\n";
        }
        for severity in &expected[minute] {
            let rule = slo
                .burn_rates
                .iter()
                .find(|r| r.severity == *severity)
                .unwrap();
            let (long, short) = (
                slo::promql_duration(rule.long),
                slo::promql_duration(rule.short),
            );
            let factor = rule.factor(slo.period);
            test += &format!(
                "          - exp_labels:\n              severity: {}\n              long_window: \"{long}\"\n              short_window: \"{short}\"\n              sloth_id: \"bank-{id}\"\n              sloth_service: \"bank\"\n              sloth_slo: \"{id}\"\n              slo_id: \"{id}\"\n            exp_annotations:\n              summary: {}\n",
                severity.as_str(),
                yaml_quote(&format!(
                    "SLO {} is burning its error budget at {factor:.1}x or more ({long} and {short} windows)",
                    slo.name
                )),
                id = slo.id,
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 4,
        "the scenario must make the engine fire: {expected:?}"
    );
    assert!(
        expected[30].is_empty() && expected[119].is_empty(),
        "nothing fires on good traffic"
    );
    assert!(
        expected[122].contains(&Severity::Critical),
        "{:?}",
        expected[122]
    );

    let dir = TempDir::new("slo-parity");
    std::fs::write(
        dir.path().join("rules.yml"),
        slo::prometheus_rules_for(&[slo], "bank"),
    )
    .unwrap();
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let (ok, text) = promtool(&["test", "rules", "test.yml"], &dir);
    assert!(
        ok,
        "promtool disagrees with the engine:\n{text}\n--- test.yml ---\n{test}"
    );
}

#[test]
fn every_metric_the_rules_query_is_one_the_project_emits() {
    let yaml = slo::prometheus_rules_for(
        &[
            CqrsSlos::command_availability(),
            CqrsSlos::query_latency(),
            CqrsSlos::data_freshness("p"),
        ],
        "svc",
    );
    let mut seen = 0;
    for word in yaml.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
        if word.starts_with("cqrs_") {
            let base = word.trim_end_matches("_bucket").trim_end_matches("_count");
            assert!(
                cqrs_obs::metrics::names::ALL.contains(&base),
                "rules query `{word}`, which is not a metric cqrs-obs emits"
            );
            seen += 1;
        }
    }
    assert!(seen > 10);
}
