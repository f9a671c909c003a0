//! The CLI against a live bank example (one process for the whole file): each command in
//! each output format compared with a snapshot (`tests/snapshots/`, volatile values
//! redacted), JSON, JSON lines and CSV parsed back, and the exit codes scripts rely on —
//! DOWN → 1 (the bank's external dependency points at a dead port), breached SLO → 1 (the
//! bank's deliberately tight deposit-latency objective), within objective → 0, unreachable
//! → 3, a flag value the service refuses → 2, anomalies at or above `--fail-on` → 1 (the
//! bank injects a latency regression and an error burst); and the fleet view through a
//! real Prometheus server that scraped the bank.

mod support;

use serde_json::Value;
use support::{cli, free_port, snapshot, Bank, Prometheus, Run, TempDir};

const FORMATS: [&str; 4] = ["table", "json", "jsonl", "csv"];

fn expect(run: &Run, code: i32, what: &str) {
    assert_eq!(
        run.code, code,
        "{what}: exit {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
        run.code, run.stdout, run.stderr
    );
}

/// Checks that an output parses back in its format; returns its rows as JSON objects
/// (for CSV: header → cell) so the formats can be compared.
fn parse_back(format: &str, text: &str, what: &str) -> Vec<Value> {
    match format {
        "json" => {
            let doc: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{what}: -o json does not parse ({e}): {text}"));
            match doc {
                Value::Array(rows) => rows,
                Value::Object(ref o) if o.contains_key("components") => {
                    doc["components"].as_array().unwrap().clone()
                }
                Value::Object(ref o) if o.contains_key("messages") => {
                    doc["messages"].as_array().unwrap().clone()
                }
                Value::Object(ref o) if o.contains_key("store") => {
                    doc["store"]["top_errors"].as_array().unwrap().clone()
                }
                other => vec![other],
            }
        }
        "jsonl" => text
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{what}: a JSON line does not parse ({e}): {l}"))
            })
            .collect(),
        "csv" => {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let headers = reader.headers().expect("a header row").clone();
            reader
                .records()
                .map(|r| {
                    let r =
                        r.unwrap_or_else(|e| panic!("{what}: CSV does not parse ({e}): {text}"));
                    Value::Object(
                        headers
                            .iter()
                            .zip(r.iter())
                            .map(|(h, c)| (h.to_owned(), Value::from(c)))
                            .collect(),
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Runs `args` in every format, expecting `code`; snapshots each output as
/// `<name>.<format>.txt` (unless `name` is empty); checks the structured formats parse back
/// with the same rows.
fn every_format(bank: &Bank, name: &str, args: &[&str], code: i32) -> Vec<Value> {
    let mut rows_by_format = Vec::new();
    for format in FORMATS {
        let mut all = vec!["-o", format];
        all.extend_from_slice(args);
        let run = cli(&bank.endpoint, &all);
        let what = format!("cqrs-cli {}", all.join(" "));
        expect(&run, code, &what);
        assert!(
            run.stderr.is_empty(),
            "{what}: unexpected stderr {}",
            run.stderr
        );
        if !name.is_empty() {
            snapshot(&format!("{name}.{format}.txt"), &run.stdout);
        }
        if format != "table" {
            rows_by_format.push((format, parse_back(format, &run.stdout, &what)));
        }
    }
    let (_, json) = &rows_by_format[0];
    for (format, rows) in &rows_by_format[1..] {
        assert_eq!(
            rows.len(),
            json.len(),
            "{name}: -o {format} has {} rows, -o json {}",
            rows.len(),
            json.len()
        );
    }
    json.clone()
}

#[test]
fn the_cli_against_a_live_bank() {
    let dead = free_port();
    let dependency = format!("http://127.0.0.1:{dead}/health");
    // A paced workload with two incidents for the anomaly detectors: slow statements, then
    // failing deposits (the bank's own flags, as in its anomaly test).
    // Prometheus scrapes the bank while its workload runs (the fleet view).
    let bank_port = free_port();
    let prometheus = Prometheus::start(bank_port);
    let bank = Bank::start_on(
        bank_port,
        &[
            "--commands",
            "18000",
            "--workers",
            "2",
            "--seed",
            "7",
            "--fault-every",
            "25",
            "--pace-ms",
            "1",
            "--sample-ms",
            "10",
            "--latency-regression",
            "6500..7100",
            "--error-burst",
            "8100..8700",
            "--dependency-url",
            &dependency,
        ],
    );
    let e = bank.endpoint.as_str();
    // The SLO engine evaluates on its background tick: wait for the workload to show.
    let start = std::time::Instant::now();
    while !cli(e, &["-o", "json", "slo", "deposit-latency"])
        .stdout
        .contains("\"BREACHED\"")
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the SLO engine never evaluated the workload"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // health: DOWN → 1; one UP indicator → 0; an unknown indicator → 2. (The dependency's
    // rows change as its circuit breaker counts failures: they are checked, not
    // snapshotted.)
    let components = every_format(&bank, "", &["health"], 1);
    every_format(
        &bank,
        "health-liveness",
        &["health", "--group", "liveness"],
        0,
    );
    assert!(
        components
            .iter()
            .any(|c| c["indicator"] == "external-dependency" && c["status"] == "DOWN"),
        "{components:?}"
    );
    let up = cli(e, &["health", "--indicator", "event-store"]);
    expect(&up, 0, "health --indicator event-store");
    snapshot("health-indicator.table.txt", &up.stdout);
    let unknown = cli(e, &["health", "--indicator", "nope"]);
    expect(&unknown, 2, "health --indicator nope");
    assert!(
        unknown
            .stderr
            .contains("--indicator: no indicator `nope`; indicators: "),
        "{}",
        unknown.stderr
    );

    // slo: the deposit-latency objective is breached → 1; query latency is met → 0. (Which
    // burn-rate alerts fire for command availability depends on the workers' interleaving:
    // the four SLOs are checked, one is snapshotted.)
    let slos = every_format(&bank, "", &["slo"], 1);
    assert_eq!(slos.len(), 4, "{slos:?}");
    every_format(&bank, "slo", &["slo", "deposit-latency"], 1);
    let deposit = slos.iter().find(|s| s["slo"] == "deposit-latency").unwrap();
    assert_eq!(deposit["status"], "BREACHED", "{deposit}");
    let met = cli(e, &["slo", "query-latency"]);
    expect(&met, 0, "slo query-latency");
    snapshot("slo-query-latency.table.txt", &met.stdout);
    let week = cli(
        e,
        &[
            "slo",
            "--period",
            "1d",
            "--format",
            "windows",
            "query-latency",
        ],
    );
    expect(&week, 0, "slo --period 1d --format windows query-latency");
    snapshot("slo-windows.table.txt", &week.stdout);
    let alerts = cli(e, &["slo", "--format", "alerts", "deposit-latency"]);
    expect(&alerts, 1, "slo --format alerts deposit-latency");
    snapshot("slo-alerts.table.txt", &alerts.stdout);
    // An operator acknowledges the page: the alert says who is on it until it resolves.
    let ack = cli(
        e,
        &[
            "-o",
            "json",
            "ack",
            "deposit-latency",
            "critical",
            "--by",
            "ana",
            "--note",
            "INC-42, looking at the store",
        ],
    );
    expect(&ack, 0, "ack deposit-latency critical");
    let acked = parse_back("json", &ack.stdout, "ack");
    assert_eq!(acked.len(), 1, "{}", ack.stdout);
    assert_eq!(acked[0]["severity"], "critical", "{}", ack.stdout);
    assert_eq!(acked[0]["state"], "firing", "{}", ack.stdout);
    assert_eq!(acked[0]["acknowledged_by"], "ana", "{}", ack.stdout);
    assert_eq!(
        acked[0]["note"], "INC-42, looking at the store",
        "{}",
        ack.stdout
    );
    let after = cli(
        e,
        &["-o", "csv", "slo", "--format", "alerts", "deposit-latency"],
    );
    let rows = parse_back("csv", &after.stdout, "slo --format alerts after ack");
    let by: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["severity"].as_str().unwrap(),
                r["acknowledged_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            ("critical", "ana"),
            ("high", ""),
            ("medium", ""),
            ("low", "")
        ],
        "{}",
        after.stdout
    );
    // An alert that is not active cannot be acknowledged (the service's 409, exit 4); an
    // unknown SLO is a usage error that lists the SLOs; `ack` never repeats under --watch.
    let quiet = cli(e, &["ack", "query-latency", "critical"]);
    expect(&quiet, 4, "ack query-latency critical");
    assert!(quiet.stderr.contains("409"), "{}", quiet.stderr);
    let unknown = cli(e, &["ack", "nope", "high"]);
    expect(&unknown, 2, "ack nope high");
    assert!(
        unknown.stderr.contains("no SLO `nope`; SLOs: ")
            && unknown.stderr.contains("deposit-latency"),
        "{}",
        unknown.stderr
    );
    let bad = cli(e, &["ack", "deposit-latency", "urgent"]);
    expect(&bad, 2, "ack deposit-latency urgent");
    assert!(
        bad.stderr.contains("urgent") && bad.stderr.contains("critical, high, medium, low"),
        "{}",
        bad.stderr
    );
    let no_window = cli(e, &["slo", "--period", "7d"]);
    expect(&no_window, 2, "slo --period 7d");
    assert!(
        no_window.stderr.contains("--period: SLO `")
            && no_window.stderr.contains("its windows: 5m, 30m, 1h"),
        "{}",
        no_window.stderr
    );
    let missing = cli(e, &["slo", "nope"]);
    expect(&missing, 2, "slo nope");

    // handlers, logs, log-stats, anomalies.
    let handlers = every_format(&bank, "handlers", &["handlers"], 0);
    assert_eq!(handlers.len(), 10, "{handlers:?}");
    let errors = every_format(
        &bank,
        "logs-errors",
        &["logs", "--level", "error", "--limit", "3"],
        0,
    );
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e["level"] == "error"), "{errors:?}");
    let paged = cli(
        e,
        &[
            "-o",
            "jsonl",
            "logs",
            "--grep",
            "insufficient funds",
            "--limit",
            "1500",
        ],
    );
    expect(&paged, 0, "logs --limit 1500 (pages of 1000 followed)");
    let refused = paged.stdout.lines().count();
    assert!(refused > 0 && refused <= 1500, "{refused}");
    let stats = every_format(&bank, "log-stats", &["log-stats"], 0);
    assert!(
        stats
            .iter()
            .any(|p| p["pattern"] == "withdrawal refused: insufficient funds"),
        "{stats:?}"
    );
    let bad_since = cli(e, &["logs", "--trace", "not-a-trace-id"]);
    expect(
        &bad_since,
        2,
        "logs --trace not-a-trace-id (the service refuses it)",
    );
    assert!(
        bad_since.stderr.starts_with(
            "cqrs-cli: the service refused a flag value: invalid value `not-a-trace-id` for `--trace`"
        ),
        "{}",
        bad_since.stderr
    );
    // anomalies: the incidents (and what follows them) are flagged; which series and how
    // severely depends on timing, so the test reads the listing and asks `--fail-on` at its
    // worst severity (→ 1) and on a series with none (→ 0). The listing parses back in
    // every format.
    let found = every_format(&bank, "", &["anomalies", "--since", "1h"], 0);
    const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
    let worst = found
        .iter()
        .filter_map(|a| SEVERITIES.iter().position(|s| a["severity"] == *s))
        .max()
        .unwrap_or_else(|| panic!("the injected incidents were not flagged: {found:?}"));
    let fail = cli(
        e,
        &["anomalies", "--since", "1h", "--fail-on", SEVERITIES[worst]],
    );
    expect(&fail, 1, "anomalies --fail-on <the worst severity listed>");
    let quiet = cli(
        e,
        &[
            "anomalies",
            "--metric",
            "no.such/series",
            "--fail-on",
            "low",
        ],
    );
    expect(&quiet, 0, "anomalies --metric no.such/series --fail-on low");

    // rules and dashboards.
    let rules = cli(e, &["rules"]);
    expect(&rules, 0, "rules");
    assert!(
        rules.stdout.starts_with("# Generated by cqrs-obs"),
        "{}",
        rules.stdout
    );
    assert!(rules.stdout.contains("record: slo:sli_error:ratio_rate5m"));
    let out = TempDir::new("dashboards");
    let dir = out.path().to_str().unwrap();
    let export = cli(
        e,
        &[
            "dashboards",
            "export",
            "--template",
            "development",
            "--out",
            dir,
        ],
    );
    expect(&export, 0, "dashboards export --out");
    snapshot(
        "dashboards-export.table.txt",
        &export.stdout.replace(dir, "[DIR]"),
    );
    let files: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(files.len(), 5, "five development dashboards");
    for file in files {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let d: Value = serde_json::from_str(&text).unwrap();
        assert!(d["panels"].as_array().is_some_and(|p| !p.is_empty()));
    }
    // The export's report in the other formats parses back: one row per file written.
    for format in ["json", "jsonl", "csv"] {
        let out = TempDir::new("dashboards-format");
        let dir = out.path().to_str().unwrap();
        let args = [
            "-o",
            format,
            "dashboards",
            "export",
            "--template",
            "minimal",
            "--out",
            dir,
        ];
        let run = cli(e, &args);
        let what = format!("cqrs-cli {}", args.join(" "));
        expect(&run, 0, &what);
        snapshot(
            &format!("dashboards-export.{format}.txt"),
            &run.stdout.replace(dir, "[DIR]"),
        );
        let rows = parse_back(format, &run.stdout, &what);
        assert_eq!(rows.len(), 5, "{what}: {rows:?}");
        for row in rows {
            let file = row["file"].as_str().unwrap();
            assert!(std::path::Path::new(file).is_file(), "{what}: {file}");
        }
    }
    let stdout = cli(e, &["dashboards", "export"]);
    expect(&stdout, 0, "dashboards export");
    let all: Value = serde_json::from_str(&stdout.stdout).unwrap();
    assert_eq!(
        all.as_array().unwrap().len(),
        6,
        "six production dashboards"
    );

    // trace: the conversation of the newest failed transfer credit, from its log entry.
    let failed = cli(
        e,
        &[
            "-o",
            "jsonl",
            "logs",
            "--grep",
            "transfer credit failed",
            "--limit",
            "1",
        ],
    );
    let entry: Value = serde_json::from_str(failed.stdout.lines().next().unwrap()).unwrap();
    let id = entry["correlation_id"].as_str().unwrap();
    let messages = every_format(&bank, "trace-live", &["trace", id], 0);
    let handlers: Vec<&str> = messages
        .iter()
        .map(|m| m["handler"].as_str().unwrap())
        .collect();
    assert_eq!(handlers[0], "transfer", "{messages:?}");
    assert!(handlers.contains(&"continue_transfer"), "{messages:?}");
    let table = cli(e, &["trace", id]).stdout;
    assert!(
        table.starts_with(&format!("conversation {id}: ")),
        "{table}"
    );
    assert!(table.contains("└─ "), "{table}");
    let unknown = cli(e, &["trace", "no-such-conversation"]);
    expect(&unknown, 4, "trace no-such-conversation");
    assert!(
        unknown.stderr.contains("answered 404 (not_found)"),
        "{}",
        unknown.stderr
    );

    // Fleet view: the same SLOs judged by Prometheus from what it scraped (the generated
    // rules' queries over the last 5 minutes, which hold the whole run).
    let fleet = every_format(
        &bank,
        "",
        &["slo", "--prometheus", &prometheus.url, "--period", "5m"],
        1,
    );
    let status = |id: &str| {
        fleet
            .iter()
            .find(|s| s["slo"] == id)
            .map(|s| s["status"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("no {id} in {fleet:?}"))
    };
    assert_eq!(status("deposit-latency"), "BREACHED", "{fleet:?}");
    assert_eq!(status("query-latency"), "OK", "{fleet:?}");
    assert_eq!(status("event-availability"), "OK", "{fleet:?}");
    assert!(
        fleet
            .iter()
            .all(|s| s["events"].as_u64().is_some_and(|n| n > 0)),
        "{fleet:?}"
    );
    let table = cli(
        e,
        &["slo", "--prometheus", &prometheus.url, "--period", "5m"],
    );
    assert!(
        table
            .stdout
            .starts_with(&format!("fleet view from {}\n", prometheus.url)),
        "{}",
        table.stdout
    );
    let no_prometheus = cli(
        e,
        &["slo", "--prometheus", &format!("http://127.0.0.1:{dead}")],
    );
    expect(&no_prometheus, 3, "slo --prometheus <dead port>");

    // The sampler, shown and changed at run time (an operator action), then restored.
    let shown = cli(e, &["-o", "json", "sampling"]);
    expect(&shown, 0, "sampling");
    let before = parse_back("json", &shown.stdout, "sampling");
    let original = before[0]["sampler"].as_str().unwrap().to_owned();
    assert!(!original.is_empty(), "{}", shown.stdout);
    let set = cli(
        e,
        &["-o", "csv", "sampling", "parentbased_traceidratio", "0.25"],
    );
    expect(&set, 0, "sampling parentbased_traceidratio 0.25");
    assert_eq!(set.stdout, "sampler,arg\nparentbased_traceidratio,0.25\n");
    let again = cli(e, &["-o", "csv", "sampling"]);
    assert_eq!(again.stdout, set.stdout);
    let bad = cli(e, &["sampling", "traceidratio", "2"]);
    expect(&bad, 2, "sampling traceidratio 2");
    assert!(
        bad.stderr.contains("400") && bad.stderr.contains("traceidratio"),
        "{}",
        bad.stderr
    );
    let mut restore = vec!["sampling", original.as_str()];
    if let Some(arg) = before[0]["arg"].as_str() {
        restore.push(arg);
    }
    expect(&cli(e, &restore), 0, "sampling <the original>");

    // Unreachable: one line naming the endpoint, exit 3.
    let gone = cli(&format!("http://127.0.0.1:{dead}"), &["slo"]);
    expect(&gone, 3, "slo against a dead port");
    assert_eq!(
        gone.stderr,
        format!("cqrs-cli: cannot reach http://127.0.0.1:{dead}/slo: connection refused\n")
    );
    drop(bank);
    drop(prometheus);
}
