//! The CLI against stand-in peers on loopback, for what the bank cannot show on demand: a
//! conversation's causation tree, anomalies at or above `--fail-on`, the fleet view through
//! Prometheus' query API, deploying to Grafana with retries, a token-protected endpoint,
//! following logs, colour, `--watch`, https with its own CA, the progress indicator on a
//! terminal, the endpoint from `CQRS_OBS_ENDPOINT`, and each filter flag's query parameter.

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::{cli, cli_env, snapshot, Peer, Request, CLI};

fn json_peer(routes: Vec<(&'static str, u16, String)>) -> Peer {
    Peer::start(Arc::new(move |r: &Request, _| {
        let path = r.target.split('?').next().unwrap_or("");
        routes.iter().find(|(p, _, _)| *p == path).map_or_else(
            || {
                (
                    404,
                    "application/json",
                    r#"{"error":{"code":"not_found","message":"no such admin route"}}"#.to_owned(),
                )
            },
            |(_, status, body)| (*status, "application/json", body.clone()),
        )
    }))
}

/// Percent-decoding of a query value.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn message(
    id: &str,
    parent: Option<&str>,
    kind: &str,
    handler: &str,
    msg: &str,
    outcome: &str,
    at: &str,
) -> Value {
    json!({
        "message_id": id, "causation_id": parent, "kind": kind, "handler": handler,
        "message": msg, "outcome": outcome, "started_at": at, "duration_ms": 1.25,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
        "extra": "ignored",
    })
}

#[test]
fn trace_draws_the_causation_tree() {
    let body = json!({
        "correlation_id": "conv-1",
        "messages": [
            message("m3", Some("m2"), "event", "on_withdrawn", "Withdrawn", "ok", "2026-11-27T09:00:00.003Z"),
            message("m1", None, "command", "transfer", "Transfer", "ok", "2026-11-27T09:00:00.000Z"),
            message("m2", Some("m1"), "event", "continue_transfer", "Withdrawn", "ok", "2026-11-27T09:00:00.002Z"),
            message("m4", Some("m2"), "command", "deposit", "Deposit", "rejected", "2026-11-27T09:00:00.004Z"),
            message("m5", Some("m1"), "query", "balance", "GetBalance", "ok", "2026-11-27T09:00:00.005Z"),
        ],
    });
    let peer = json_peer(vec![("/traces/conv-1", 200, body.to_string())]);
    let run = cli(&peer.url, &["trace", "conv-1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "conversation conv-1: 5 messages\n\
         command Transfer [transfer] ok  1.25ms  2026-11-27T09:00:00.000Z\n\
         ├─ event Withdrawn [continue_transfer] ok  1.25ms  2026-11-27T09:00:00.002Z\n\
         │  ├─ event Withdrawn [on_withdrawn] ok  1.25ms  2026-11-27T09:00:00.003Z\n\
         │  └─ command Deposit [deposit] rejected  1.25ms  2026-11-27T09:00:00.004Z\n\
         └─ query GetBalance [balance] ok  1.25ms  2026-11-27T09:00:00.005Z\n"
    );
    for format in ["json", "jsonl", "csv"] {
        let run = cli(&peer.url, &["-o", format, "trace", "conv-1"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        snapshot(&format!("trace.{format}.txt"), &run.stdout);
    }
    let csv = cli(&peer.url, &["-o", "csv", "trace", "conv-1"]).stdout;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let depths: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(depths, ["0", "1", "2", "2", "1"]);
    let json: Value =
        serde_json::from_str(&cli(&peer.url, &["-o", "json", "trace", "conv-1"]).stdout).unwrap();
    assert_eq!(json["messages"][3]["outcome"], "rejected");

    let missing = cli(&peer.url, &["trace", "nope"]);
    assert_eq!(missing.code, 4, "{}", missing.stderr);
}

fn anomaly(metric: &str, severity: &str) -> Value {
    json!({
        "id": 7, "metric": metric, "timestamp": 1_795_771_003_013_i64, "value": 0.25,
        "score": 0.999_9, "severity": severity, "deviation": 7.5,
        "confidence": {"value": 0.91, "extremity": 1.0, "data": 0.8, "persistence": 0.9, "agreement": 0.95},
        "detectors": ["zscore", "mad"], "trend": {"kind": "degrading", "slope_per_hour": 0.1, "p_value": 0.001, "samples": 40},
        "metadata": {"handler": "deposit"},
    })
}

#[test]
fn anomalies_fail_at_or_above_the_threshold() {
    let body = json!([
        anomaly("command.error_rate/deposit", "high"),
        anomaly("command.latency/deposit", "medium")
    ]);
    let peer = json_peer(vec![("/anomalies", 200, body.to_string())]);
    let run = cli(&peer.url, &["anomalies", "--fail-on", "high"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    snapshot("anomalies.table.txt", &run.stdout);
    assert!(
        run.stdout.contains("2026-11-27T09:16:43.013Z"),
        "{}",
        run.stdout
    );
    assert_eq!(
        cli(&peer.url, &["anomalies", "--fail-on", "critical"]).code,
        0
    );
    assert_eq!(cli(&peer.url, &["anomalies"]).code, 0);
    let filtered = cli(
        &peer.url,
        &[
            "-o",
            "jsonl",
            "anomalies",
            "--severity",
            "high",
            "--metric",
            "command.error_rate/deposit",
            "--since",
            "2026-11-27T09:00:00Z",
        ],
    );
    assert_eq!(filtered.stdout.lines().count(), 1, "{}", filtered.stdout);
    let last = peer.requests().pop().unwrap();
    assert_eq!(
        last.target,
        "/anomalies?severity=high&metric=command.error_rate%2Fdeposit&since=1795770000000"
    );
    for format in ["json", "jsonl", "csv"] {
        let run = cli(&peer.url, &["-o", format, "anomalies"]);
        snapshot(&format!("anomalies.{format}.txt"), &run.stdout);
    }
}

const RULES: &str = r#"# Generated by cqrs-obs: SLO recording and alerting rules.
groups:
  - name: cqrs-obs-slo-checkout-sli
    rules:
      - record: slo:sli_error:ratio_rate30d
        expr: "(sum(rate(cqrs_commands_total{command=\"Checkout\",outcome=~\"error|panic\"}[30d])) or vector(0)) / sum(rate(cqrs_commands_total{command=\"Checkout\"}[30d]))"
        labels:
          slo_id: "checkout"
      - record: slo:sli_events:increase30d
        expr: "sum(increase(cqrs_commands_total{command=\"Checkout\"}[30d]))"
        labels:
          slo_id: "checkout"
  - name: cqrs-obs-slo-checkout-meta
    rules:
      - record: slo:objective:ratio
        expr: "vector(0.999)"
        labels:
          slo_id: "checkout"
      - record: slo:time_period:days
        expr: "vector(30)"
        labels:
          slo_id: "checkout"
  - name: cqrs-obs-slo-checkout-alerts
    rules:
      - alert: CqrsSloErrorBudgetBurn
        expr: "slo:sli_error:ratio_rate1h{slo_id=\"checkout\"} > 0.0144"
        labels:
          slo_id: "checkout"
"#;

#[test]
fn fleet_mode_evaluates_the_rules_queries_through_prometheus() {
    let peer = Peer::start(Arc::new(|r: &Request, _| {
        if r.target == "/slo/rules" {
            return (200, "application/yaml", RULES.to_owned());
        }
        let query = decode(r.target.split_once("query=").map_or("", |(_, q)| q));
        let value = if query.starts_with("sum(increase(") {
            "1000"
        } else {
            "0.002"
        };
        let body = json!({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.7e9, value]}]}});
        (200, "application/json", body.to_string())
    }));
    let run = cli(&peer.url, &["slo", "--prometheus", &peer.url]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "fleet view from {}\nSLO       OBJECTIVE  WINDOW  ATTAINMENT  BUDGET_LEFT  EVENTS  STATUS\ncheckout  99.9       30d     99.8        -100         1000    BREACHED\n",
            peer.url
        )
    );
    let queries: Vec<String> = peer
        .requests()
        .iter()
        .filter_map(|r| r.target.split_once("query=").map(|(_, q)| decode(q)))
        .collect();
    assert_eq!(
        queries,
        [
            "(sum(rate(cqrs_commands_total{command=\"Checkout\",outcome=~\"error|panic\"}[30d])) or vector(0)) / sum(rate(cqrs_commands_total{command=\"Checkout\"}[30d]))",
            "sum(increase(cqrs_commands_total{command=\"Checkout\"}[30d]))",
        ]
    );
    let week = cli(
        &peer.url,
        &["slo", "--prometheus", &peer.url, "--period", "7d"],
    );
    assert_eq!(week.code, 2);
    assert_eq!(
        week.stderr,
        "cqrs-cli: --period: SLO `checkout` has no 7d recording rule; its windows: 30d\n"
    );
}

#[test]
fn deploy_retries_transient_failures_and_reports_each_dashboard() {
    let dashboards = json!([
        {"id": 12, "uid": "shop-overview", "title": "shop / System overview", "panels": [{"id": 1}]},
        {"uid": "shop-errors", "title": "shop / Errors", "panels": []},
    ]);
    let admin = json_peer(vec![("/dashboards/minimal", 200, dashboards.to_string())]);
    let grafana = Peer::start(Arc::new(|r: &Request, n| {
        if r.method == "GET" && r.target == "/api/folders/ops" {
            return (
                200,
                "application/json",
                r#"{"uid":"ops","title":"ops"}"#.to_owned(),
            );
        }
        if n == 1 {
            return (503, "text/plain", "warming up".to_owned());
        }
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let uid = body["dashboard"]["uid"].as_str().unwrap().to_owned();
        if uid == "shop-errors" {
            return (
                412,
                "application/json",
                r#"{"message":"version-mismatch","status":"version-mismatch"}"#.to_owned(),
            );
        }
        (
            200,
            "application/json",
            json!({"status": "success", "uid": uid, "url": format!("/d/{uid}/x"), "version": 3})
                .to_string(),
        )
    }));
    let run = cli_env(
        &admin.url,
        &[
            "dashboards",
            "deploy",
            "--template",
            "minimal",
            "--grafana-url",
            &grafana.url,
            "--folder-uid",
            "ops",
        ],
        &[("GRAFANA_TOKEN", "glsa_secret")],
    );
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        "UID            TITLE                   STATUS                        VERSION  URL\n\
         shop-overview  shop / System overview  deployed                      3        /d/shop-overview/x\n\
         shop-errors    shop / Errors           failed: 412 version-mismatch\n"
    );
    let mut requests = grafana.requests();
    let folder = requests.remove(0);
    assert_eq!(
        (folder.method.as_str(), folder.target.as_str()),
        ("GET", "/api/folders/ops"),
        "the folder exists: not created"
    );
    assert_eq!(folder.header("authorization"), Some("Bearer glsa_secret"));
    assert_eq!(requests.len(), 3, "one retry after the 503");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/api/dashboards/db");
        assert_eq!(r.header("authorization"), Some("Bearer glsa_secret"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let body: Value = serde_json::from_str(&requests[1].body).unwrap();
    assert_eq!(body["overwrite"], true);
    assert_eq!(body["folderUid"], "ops");
    assert_eq!(body["dashboard"]["id"], Value::Null, "ids are Grafana's");
    assert_eq!(body["dashboard"]["uid"], "shop-overview");
}

#[test]
fn tokens_are_sent_and_refusals_explained() {
    let peer = Peer::start(Arc::new(|r: &Request, _| {
        if r.header("authorization") == Some("Bearer s3cret") {
            (200, "application/json", "[]".to_owned())
        } else {
            (
                401,
                "application/json",
                r#"{"error":{"code":"unauthorized","message":"a valid bearer token is required"}}"#
                    .to_owned(),
            )
        }
    }));
    let refused = cli(&peer.url, &["handlers"]);
    assert_eq!(refused.code, 4);
    assert_eq!(
        refused.stderr,
        format!(
            "cqrs-cli: {}/handlers answered 401 (unauthorized): a valid bearer token is required\n",
            peer.url
        )
    );
    let with_env = cli_env(&peer.url, &["handlers"], &[("CQRS_OBS_TOKEN", "s3cret")]);
    assert_eq!((with_env.code, with_env.stdout.as_str()), (0, "(none)\n"));
    let with_flag = cli(&peer.url, &["--token", "s3cret", "-o", "json", "handlers"]);
    assert_eq!((with_flag.code, with_flag.stdout.as_str()), (0, "[]\n"));
}

#[test]
fn follow_prints_entries_as_they_arrive() {
    let peer = Peer::start(Arc::new(|_, _| {
        let entry = |seq: u64, message: &str| {
            json!({"timestamp": "2026-11-27T09:00:00.000000000Z", "seq": seq, "level": "warn", "message": message,
                   "service": "bank", "target": "bank::command", "correlation_id": null, "fields": {"amount": 5}})
        };
        let body = format!(
            ": keep-alive\n\nevent: entry\ndata: {}\n\nevent: lagged\ndata: 3\n\nevent: entry\ndata: {}\n\n",
            entry(1, "refused"),
            entry(2, "refused again")
        );
        (200, "text/event-stream", body)
    }));
    let run = cli(&peer.url, &["logs", "--follow", "--level", "warn"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "2026-11-27T09:00:00.000000000Z warn  bank::command refused amount=5\n\
         2026-11-27T09:00:00.000000000Z warn  bank::command refused again amount=5\n"
    );
    assert!(run.stderr.contains("skipped 3 entries"), "{}", run.stderr);
    assert_eq!(peer.requests()[0].target, "/logs?level=warn&follow=true");
    let jsonl = cli(&peer.url, &["-o", "jsonl", "logs", "-f"]);
    for line in jsonl.stdout.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["service"], "bank");
    }
}

#[test]
fn https_endpoints_with_their_own_ca() {
    let (peer, cert_pem) =
        support::start_https(Arc::new(|_, _| (200, "application/json", "[]".to_owned())));
    let dir = support::TempDir::new("ca");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert_pem).unwrap();
    let ca = ca.to_str().unwrap();
    let trusted = cli(&peer.url, &["--ca-cert", ca, "-o", "json", "handlers"]);
    assert_eq!(
        (trusted.code, trusted.stdout.as_str()),
        (0, "[]\n"),
        "{}",
        trusted.stderr
    );
    assert_eq!(peer.requests()[0].target, "/handlers");
    let untrusted = cli(&peer.url, &["handlers"]);
    assert_eq!(untrusted.code, 4, "{}", untrusted.stderr);
    assert!(
        untrusted.stderr.starts_with(&format!(
            "cqrs-cli: unexpected answer from {}/handlers: ",
            peer.url
        )) && untrusted.stderr.contains("UnknownIssuer"),
        "{}",
        untrusted.stderr
    );
    let missing = cli(&peer.url, &["--ca-cert", "/nonexistent/ca.pem", "handlers"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .starts_with("cqrs-cli: --ca-cert: cannot read /nonexistent/ca.pem: "),
        "{}",
        missing.stderr
    );
}

#[test]
fn colour_is_explicit_and_watch_redraws() {
    let health = json!({"status": "UP", "components": {"db": {"status": "UP", "details": {}}}, "groups": []});
    let peer = json_peer(vec![("/health", 200, health.to_string())]);
    let always = cli_env(
        &peer.url,
        &["--color", "always", "health"],
        &[("NO_COLOR", "1")],
    );
    assert!(
        always.stdout.contains("\x1b[32mUP\x1b[0m"),
        "{:?}",
        always.stdout
    );
    // Piped stdout: `auto` means no colour.
    let auto = cli(&peer.url, &["health"]);
    assert!(!auto.stdout.contains('\x1b'), "{:?}", auto.stdout);

    let mut child = Command::new(CLI)
        .args(["--endpoint", &peer.url, "--watch", "0.3", "health"])
        .env_remove("CQRS_OBS_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Into a pipe: the outputs follow each other, without screen control or header.
    let frames = stdout.matches("service: UP\n").count();
    assert!(frames >= 2, "{frames} frames: {stdout:?}");
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}

#[test]
fn a_slow_call_shows_progress_on_a_terminal_only() {
    let peer = Peer::start(Arc::new(|_, _| {
        std::thread::sleep(Duration::from_millis(900));
        (200, "application/json", "[]".to_owned())
    }));
    // Piped: no indicator.
    let piped = cli(&peer.url, &["handlers"]);
    assert_eq!((piped.code, piped.stderr.as_str()), (0, ""));
    // On a terminal (util-linux `script` gives the CLI a pseudo-terminal): the spinner
    // names the call, then is erased.
    let command = format!("{CLI} --endpoint {} --color never handlers", peer.url);
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CQRS_OBS_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("running `script` (util-linux)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(&format!("waiting for {}/handlers", peer.url)),
        "{text:?}"
    );
    assert!(text.contains("\r\x1b[2K"), "{text:?}");
    assert!(text.ends_with("(none)\r\n"), "{text:?}");
}

#[test]
fn watch_repeats_the_rules_text() {
    let peer = Peer::start(Arc::new(|_, _| {
        (200, "application/yaml", "groups: []\n".to_owned())
    }));
    let mut child = Command::new(CLI)
        .args(["--endpoint", &peer.url, "--watch", "0.3", "rules"])
        .env_remove("CQRS_OBS_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        still_running,
        "--watch rules stopped: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.matches("groups: []\n").count() >= 2, "{stdout:?}");
    assert!(output.stderr.is_empty(), "{:?}", output.stderr);
}

/// Runs the CLI with only the given environment variables of its own (no `--endpoint`).
fn cli_without_endpoint_flag(args: &[&str], env: &[(&str, &str)]) -> support::Run {
    let mut command = Command::new(CLI);
    for key in [
        "CQRS_OBS_ENDPOINT",
        "CQRS_OBS_TOKEN",
        "CQRS_OBS_CA_CERT",
        "NO_COLOR",
    ] {
        command.env_remove(key);
    }
    let output = command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    support::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn the_endpoint_comes_from_the_flag_then_the_environment() {
    let from_env = json_peer(vec![("/handlers", 200, "[]".to_owned())]);
    let from_flag = json_peer(vec![("/handlers", 200, "[]".to_owned())]);
    let run = cli_without_endpoint_flag(
        &["-o", "json", "handlers"],
        &[("CQRS_OBS_ENDPOINT", &from_env.url)],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[]\n"),
        "{}",
        run.stderr
    );
    assert_eq!(from_env.requests().len(), 1);
    let run = cli_without_endpoint_flag(
        &["--endpoint", &from_flag.url, "handlers"],
        &[("CQRS_OBS_ENDPOINT", &from_env.url)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(from_flag.requests().len(), 1, "the flag wins");
    assert_eq!(from_env.requests().len(), 1);
    let bad = cli_without_endpoint_flag(&["handlers"], &[("CQRS_OBS_ENDPOINT", "localhost:9464")]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--endpoint <URL>"), "{}", bad.stderr);
}

#[test]
fn every_filter_flag_sets_its_query_parameter() {
    let page = json!({"entries": [], "next_cursor": null});
    let stats = json!({"store": {"total": 0, "since": null, "by_level": {}, "by_service": {}, "top_errors": []},
                       "pipeline": {"received": 0, "dropped": 0, "stored": 0}});
    let peer = json_peer(vec![
        ("/logs", 200, page.to_string()),
        ("/logs/stats", 200, stats.to_string()),
        ("/anomalies", 200, "[]".to_owned()),
    ]);
    let logs = cli(
        &peer.url,
        &[
            "logs",
            "--level",
            "warn",
            "--since",
            "2h",
            "--until",
            "2026-11-27T06:00:00Z",
            "--service",
            "bank",
            "--target",
            "bank::saga",
            "--trace",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "--correlation",
            "conv 1",
            "--aggregate",
            "acc-7",
            "--event-type",
            "Withdrawn",
            "--grep",
            "refused & more",
            "--limit",
            "20",
        ],
    );
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    let stats_run = cli(
        &peer.url,
        &[
            "log-stats",
            "--since",
            "1d",
            "--until",
            "30m",
            "--service",
            "bank",
        ],
    );
    assert_eq!(stats_run.code, 0, "{}", stats_run.stderr);
    let anomalies = cli(
        &peer.url,
        &[
            "anomalies",
            "--severity",
            "medium",
            "--metric",
            "query.latency/balance",
        ],
    );
    assert_eq!(anomalies.code, 0, "{}", anomalies.stderr);
    let targets: Vec<String> = peer.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/logs?level=warn&service=bank&target=bank%3A%3Asaga&since=7200s\
             &until=2026-11-27T06%3A00%3A00Z&trace_id=4bf92f3577b34da6a3ce929d0e0e4736\
             &correlation_id=conv%201&aggregate_id=acc-7&event_type=Withdrawn\
             &q=refused%20%26%20more&limit=20",
            "/logs/stats?since=86400s&until=1800s&service=bank",
            "/anomalies?severity=medium&metric=query.latency%2Fbalance&since=86400s",
        ]
        .map(String::from)
    );
}

#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let health = json!({"status": "UP", "components": {"db": {"status": "UP", "details": {}}}, "groups": []});
    let peer = json_peer(vec![("/health", 200, health.to_string())]);
    // util-linux `script` gives the CLI a terminal: `auto` colours unless NO_COLOR is set.
    let on_terminal = |no_color: Option<&str>| {
        let mut command = Command::new("script");
        command
            .args([
                "-qec",
                &format!("{CLI} --endpoint {} health", peer.url),
                "/dev/null",
            ])
            .env_remove("CQRS_OBS_ENDPOINT")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = command.output().expect("running `script` (util-linux)");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("\x1b[32mUP\x1b[0m"), "{coloured:?}");
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("UP") && !plain.contains('\x1b'), "{plain:?}");
}

#[test]
fn deploy_creates_a_missing_folder_with_basic_auth() {
    let dashboards =
        json!([{"uid": "shop-overview", "title": "shop / System overview", "panels": []}]);
    let admin = json_peer(vec![(
        "/dashboards/production",
        200,
        dashboards.to_string(),
    )]);
    let grafana = Peer::start(Arc::new(|r: &Request, _| {
        match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/api/folders/team-a") => (
                404,
                "application/json",
                r#"{"message":"folder not found","status":"not-found"}"#.to_owned(),
            ),
            ("POST", "/api/folders") => (
                200,
                "application/json",
                r#"{"id":3,"uid":"team-a","title":"team-a"}"#.to_owned(),
            ),
            _ => (
                200,
                "application/json",
                json!({"status": "success", "uid": "shop-overview", "url": "/d/shop-overview/x", "version": 1})
                    .to_string(),
            ),
        }
    }));
    let deploy = [
        "dashboards",
        "deploy",
        "--grafana-url",
        &grafana.url,
        "--folder-uid",
        "team-a",
        "--grafana-password",
        "s3cret",
    ];
    let run = cli_env(&admin.url, &deploy, &[("GRAFANA_USER", "admin")]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let requests = grafana.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", "/api/folders/team-a"),
            ("POST", "/api/folders"),
            ("POST", "/api/dashboards/db")
        ]
    );
    let folder: Value = serde_json::from_str(&requests[1].body).unwrap();
    assert_eq!(folder, json!({"uid": "team-a", "title": "team-a"}));
    let body: Value = serde_json::from_str(&requests[2].body).unwrap();
    assert_eq!(body["folderUid"], "team-a");
    for r in &requests {
        // admin:s3cret
        assert_eq!(r.header("authorization"), Some("Basic YWRtaW46czNjcmV0"));
    }
    // A user and a token at once, or a user without a password: usage errors.
    let both = cli_env(
        &admin.url,
        &deploy,
        &[("GRAFANA_USER", "admin"), ("GRAFANA_TOKEN", "glsa_x")],
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(both.stderr.contains("--grafana-user"), "{}", both.stderr);
    let no_password = cli(
        &admin.url,
        &[
            "dashboards",
            "deploy",
            "--grafana-url",
            &grafana.url,
            "--grafana-user",
            "admin",
        ],
    );
    assert_eq!(no_password.code, 2, "{}", no_password.stderr);
    assert!(
        no_password.stderr.contains("--grafana-password"),
        "{}",
        no_password.stderr
    );
    assert_eq!(grafana.requests().len(), 3, "nothing sent on a usage error");
}
