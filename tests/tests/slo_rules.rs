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

/// Input series for promtool: `(series selector, value at the end of each minute)`.
type Series = Vec<(String, Vec<u64>)>;

/// A stretch of synthetic traffic fed both to the in-process engine and, as input series, to
/// `promtool test rules` with the generated rules.
struct Scenario {
    slo: Slo,
    minutes: u64,
    /// Good and total events in second `s` (from 1).
    traffic: fn(u64) -> Counts,
    /// The series promtool reads: `(series selector, cumulative value of good and total events
    /// at the end of each minute)`.
    series: fn(&[Counts]) -> Series,
}

/// The engine's firing severities at the end of each minute, and the cumulative counts.
fn run_engine(scenario: &Scenario) -> (Vec<Vec<Severity>>, Vec<Counts>) {
    let mut state = SloState::new(scenario.slo.clone());
    let mut by_minute = vec![Vec::new()];
    let mut cumulative = vec![Counts::default()];
    let mut sum = Counts::default();
    for second in 1..=scenario.minutes * 60 {
        let counts = (scenario.traffic)(second);
        sum.good += counts.good;
        sum.total += counts.total;
        state.observe(second * 1000, counts);
        if second % 60 == 0 {
            let mut firing: Vec<Severity> = state.firing().collect();
            firing.sort();
            by_minute.push(firing);
            cumulative.push(sum);
        }
    }
    (by_minute, cumulative)
}

fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Runs the scenario through the engine and promtool; returns the engine's firing severities
/// per minute for the caller's own checks. Compared at every minute whose firing set is the
/// same one minute before and after (the engine evaluates each second, Prometheus each minute,
/// so a transition may differ by up to one evaluation interval).
fn check_parity(scenario: &Scenario) -> Vec<Vec<Severity>> {
    let slo = &scenario.slo;
    let (expected, cumulative) = run_engine(scenario);
    let mut test = String::new();
    test += "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n";
    for (series, values) in (scenario.series)(&cumulative) {
        let values: Vec<String> = values.iter().map(u64::to_string).collect();
        test += &format!(
            "      - series: '{series}'\n        values: '{}'\n",
            values.join(" ")
        );
    }
    test += "    alert_rule_test:\n";
    let mut compared = 0;
    let last = expected.len() - 1;
    for minute in
        (2..last).filter(|&m| expected[m - 1] == expected[m] && expected[m + 1] == expected[m])
    {
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
        }
        compared += 1;
    }
    assert!(
        compared * 10 >= last * 8,
        "most minutes are compared ({compared} of {last}): {expected:?}"
    );
    let dir = TempDir::new("slo-parity");
    std::fs::write(
        dir.path().join("rules.yml"),
        slo::prometheus_rules_for(std::slice::from_ref(slo), "bank"),
    )
    .unwrap();
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let (ok, text) = promtool(&["test", "rules", "test.yml"], &dir);
    assert!(
        ok,
        "promtool disagrees with the engine:\n{text}\n--- test.yml ---\n{test}"
    );
    expected
}

/// Good and bad counts of commands, as the exposition's `outcome` series.
fn command_outcomes(cumulative: &[Counts]) -> Series {
    let series = |outcome: &str| {
        format!("cqrs_commands_total{{command=\"Deposit\",aggregate=\"Account\",outcome=\"{outcome}\"}}")
    };
    vec![
        (series("ok"), cumulative.iter().map(|c| c.good).collect()),
        (
            series("error"),
            cumulative.iter().map(|c| c.total - c.good).collect(),
        ),
    ]
}

#[test]
fn promtool_fires_the_same_alerts_as_the_engine_for_an_outage() {
    // 100 commands a second; a full outage from minute 120 to 160.
    let expected = check_parity(&Scenario {
        slo: deposit_availability(),
        minutes: 160,
        traffic: |second| Counts {
            good: if second > 120 * 60 { 0 } else { 100 },
            total: 100,
        },
        series: command_outcomes,
    });
    assert!(expected[119].is_empty(), "nothing fires on good traffic");
    assert_eq!(
        expected[159],
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical
        ]
    );
}

#[test]
fn promtool_fires_the_same_alerts_as_the_engine_for_a_latency_threshold_between_bounds() {
    // 99 % of queries within 120 ms (not a histogram bound: the handler counts it and the
    // exposition shows it as `le="0.12"`) over 7 days, so every factor is scaled down; from
    // minute 60, 5 % of the queries are slower, which burns at 5x.
    let mut slo = Slo::new(
        "balance-latency",
        Sli::Latency {
            handlers: Handlers::Kind(cqrs_obs::handler::HandlerKind::Query),
            threshold: std::time::Duration::from_millis(120),
        },
        99.0,
    );
    slo.name = "Balance latency";
    slo.period = std::time::Duration::from_secs(7 * 86_400);
    let expected = check_parity(&Scenario {
        slo,
        minutes: 200,
        traffic: |second| Counts {
            good: if second > 60 * 60 { 38 } else { 40 },
            total: 40,
        },
        series: |cumulative| {
            let labels = "query=\"GetBalance\",outcome=\"ok\"";
            vec![
                (
                    format!("cqrs_query_duration_seconds_bucket{{{labels},le=\"0.12\"}}"),
                    cumulative.iter().map(|c| c.good).collect(),
                ),
                (
                    format!("cqrs_query_duration_seconds_count{{{labels}}}"),
                    cumulative.iter().map(|c| c.total).collect(),
                ),
            ]
        },
    });
    // A 5x burn over 7 days is above the 3.36x page and the 1.4x and 0.47x tickets.
    assert!(expected[59].is_empty(), "{:?}", expected[59]);
    assert!(
        expected[199].contains(&Severity::Critical),
        "{:?}",
        expected[199]
    );
}

#[test]
fn promtool_and_the_engine_keep_quiet_alike_under_the_minimum_traffic() {
    // Two commands a minute, all failing from minute 60: the 1 h window never holds the 150
    // events the guard asks for, so the 14.4x page stays quiet in both, while the pairs with
    // longer windows (holding more events) fire in both.
    let mut slo = deposit_availability();
    slo.min_events = 150;
    let expected = check_parity(&Scenario {
        slo,
        minutes: 180,
        traffic: |second| {
            let call = u64::from(second % 30 == 0);
            Counts {
                good: if second > 60 * 60 { 0 } else { call },
                total: call,
            }
        },
        series: command_outcomes,
    });
    assert!(expected.iter().all(|f| !f.contains(&Severity::Critical)));
    assert!(
        expected[179].contains(&Severity::High),
        "{:?}",
        expected[179]
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
