//! The bank workload against the admin endpoint: `/metrics` counts every handler call with
//! the outcome the workload saw (panics and cancellations included), the duration
//! histograms agree, `/handlers` describes every handler, and `promtool` accepts the page.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use cqrs_obs::metrics::names::label;
use cqrs_obs::{ObsGuard, Outcome};
use cqrs_obs_examples::WorkloadReport;
use cqrs_obs_tests::bank::{expected_series, init_obs, run_test_workload, HandlerInfo, FAMILIES};
use cqrs_obs_tests::exposition::{labels, Exposition, Labels};
use cqrs_obs_tests::{http, peer};

struct Fixture {
    _guard: Mutex<ObsGuard>,
    report: WorkloadReport,
    metrics: http::Response,
    page: Exposition,
    handlers: Vec<HandlerInfo>,
}

/// cqrs-obs initialised once, one workload run, then one read of each endpoint: every test
/// of this binary looks at the same data.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let guard = init_obs();
        let admin: SocketAddr = guard.admin_addr().expect("the admin endpoint runs");
        let report = run_test_workload(4_000);
        let metrics = http::get(admin, "/metrics").unwrap();
        assert_eq!(metrics.status, 200, "GET /metrics: {}", metrics.body);
        let page = Exposition::parse(&metrics.body)
            .unwrap_or_else(|e| panic!("/metrics is not valid exposition text: {e}"));
        let handlers = http::get(admin, "/handlers").unwrap();
        assert_eq!(handlers.status, 200, "GET /handlers: {}", handlers.body);
        let handlers = HandlerInfo::parse_all(&handlers.json().unwrap()).unwrap();
        Fixture {
            _guard: Mutex::new(guard),
            report,
            metrics,
            page,
            handlers,
        }
    })
}

fn show(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(","))
}

#[test]
fn handler_counters_equal_what_the_workload_saw() {
    let f = fixture();
    let expected = expected_series(&f.report, &f.handlers).unwrap();
    let mut problems = Vec::new();
    for ((metric, labels), &want) in &expected {
        match f.page.value(metric, labels) {
            Some(got) if got == want as f64 => {}
            got => problems.push(format!(
                "{metric}{}: exported {got:?}, workload saw {want}",
                show(labels)
            )),
        }
    }
    for family in FAMILIES {
        for sample in f.page.samples_named(family.counter) {
            if !expected.contains_key(&(family.counter.to_owned(), sample.labels.clone())) {
                problems.push(format!(
                    "unexpected series {}{}",
                    family.counter,
                    show(&sample.labels)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // The workload provokes each outcome where it was designed to.
    let designed = [
        ("open_account", Outcome::Rejected),
        ("deposit", Outcome::Conflict),
        ("deposit", Outcome::Panic),
        ("withdraw", Outcome::Rejected),
        ("withdraw", Outcome::Conflict),
        ("transfer", Outcome::Ok),
        ("on_deposited", Outcome::Ok),
        ("continue_transfer", Outcome::Ok),
        ("continue_transfer", Outcome::Rejected),
        ("balance", Outcome::Ok),
        ("statement", Outcome::Cancelled),
    ];
    for (handler, outcome) in designed {
        assert!(
            f.report.count(handler, outcome) > 0,
            "no `{outcome}` calls of {handler}"
        );
    }
    let errors =
        f.report.count("deposit", Outcome::Error) + f.report.count("withdraw", Outcome::Error);
    assert!(
        errors > 0,
        "the simulated outages produced no `error` calls"
    );
}

#[test]
fn the_deposit_latency_threshold_is_one_more_bucket_between_the_bounds() {
    // `#[slo(latency(p99_99 = "800ns"))]` on `deposit`: 800 ns is not a histogram bound, so the
    // handler counts it and the page shows it as `le="0.0000008"`, between 500 ns and 1 µs.
    let f = fixture();
    let mut seen = 0;
    for sample in f
        .page
        .samples_named("cqrs_command_duration_seconds_bucket")
        .filter(|s| s.labels.get("command").map(String::as_str) == Some("Deposit"))
    {
        if sample.labels.get(label::LE).map(String::as_str) != Some("0.0000008") {
            continue;
        }
        let mut around = sample.labels.clone();
        let mut at = |le: &str| {
            around.insert(label::LE.to_owned(), le.to_owned());
            f.page
                .value("cqrs_command_duration_seconds_bucket", &around)
                .unwrap()
        };
        let (below, above) = (at("0.0000005"), at("0.000001"));
        assert!(
            below <= sample.value && sample.value <= above,
            "{below} <= {} <= {above}",
            sample.value
        );
        seen += 1;
    }
    assert!(
        seen > 0,
        "no le=\"0.0000008\" bucket for Deposit:\n{}",
        f.metrics.body
    );
}

#[test]
fn duration_histograms_count_every_call() {
    let f = fixture();
    let expected = expected_series(&f.report, &f.handlers).unwrap();
    for ((counter, labels), &want) in &expected {
        let family = FAMILIES.iter().find(|fam| fam.counter == counter).unwrap();
        let hist = family.histogram;
        let count = f.page.value(&format!("{hist}_count"), labels);
        let series = format!("{hist}{}", show(labels));
        if want == 0 {
            assert!(
                matches!(count, None | Some(0.0)),
                "{series}: _count {count:?}, no calls seen"
            );
            continue;
        }
        assert_eq!(
            count,
            Some(want as f64),
            "{series}: _count, workload saw {want}"
        );
        let sum = f.page.value(&format!("{hist}_sum"), labels);
        assert!(sum.is_some_and(|s| s > 0.0), "{series}: _sum {sum:?}");
        let mut buckets: Vec<(f64, f64)> = f
            .page
            .samples_named(&format!("{hist}_bucket"))
            .filter_map(|s| {
                let mut rest = s.labels.clone();
                let le = rest.remove(label::LE)?;
                (rest == *labels).then(|| (le.parse::<f64>().unwrap_or(f64::INFINITY), s.value))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() > 1, "{series}: buckets {buckets:?}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{series}: not cumulative {buckets:?}"
        );
        assert_eq!(
            buckets.last(),
            Some(&(f64::INFINITY, want as f64)),
            "{series}: +Inf bucket"
        );
    }

    // Cancelled statements ran until the workload's deadline dropped them.
    let cancelled = labels([
        (label::QUERY, "GetStatement"),
        (label::OUTCOME, "cancelled"),
    ]);
    let hist = FAMILIES[2].histogram;
    let sum = f.page.value(&format!("{hist}_sum"), &cancelled).unwrap();
    let count = f.page.value(&format!("{hist}_count"), &cancelled).unwrap();
    assert!(
        sum / count >= 0.001,
        "cancelled statements averaged {}s",
        sum / count
    );
}

/// What `/handlers` must say about each bank handler: kind, message label, aggregate,
/// projection, saga, source file, async.
type Expected = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    bool,
);

const HANDLERS: [Expected; 10] = [
    (
        "open_account",
        "command",
        "OpenAccount",
        Some("Account"),
        None,
        None,
        "examples/src/command.rs",
        false,
    ),
    (
        "deposit",
        "command",
        "Deposit",
        Some("Account"),
        None,
        None,
        "examples/src/command.rs",
        true,
    ),
    (
        "withdraw",
        "command",
        "Withdraw",
        Some("Account"),
        None,
        None,
        "examples/src/command.rs",
        false,
    ),
    (
        "transfer",
        "command",
        "Transfer",
        Some("Account"),
        None,
        None,
        "examples/src/command.rs",
        true,
    ),
    (
        "on_opened",
        "event",
        "Opened",
        None,
        Some("balances"),
        None,
        "examples/src/projection.rs",
        false,
    ),
    (
        "on_deposited",
        "event",
        "Deposited",
        None,
        Some("balances"),
        None,
        "examples/src/projection.rs",
        false,
    ),
    (
        "on_withdrawn",
        "event",
        "Withdrawn",
        None,
        Some("balances"),
        None,
        "examples/src/projection.rs",
        false,
    ),
    (
        "continue_transfer",
        "event",
        "Withdrawn",
        None,
        None,
        Some("transfer"),
        "examples/src/saga.rs",
        true,
    ),
    (
        "balance",
        "query",
        "GetBalance",
        None,
        None,
        None,
        "examples/src/query.rs",
        false,
    ),
    (
        "statement",
        "query",
        "GetStatement",
        None,
        None,
        None,
        "examples/src/query.rs",
        true,
    ),
];

/// The first `fn` at or after `line` (skipping the handler's attributes) must be `fn name`.
fn check_source_line(info: &HandlerInfo) -> Result<(), String> {
    let path = peer::workspace_root().join(&info.file);
    let source = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = source.lines().collect();
    let start = usize::try_from(info.line)
        .map_err(|e| e.to_string())?
        .checked_sub(1)
        .ok_or("line 0")?;
    let window = lines
        .get(start..(start + 8).min(lines.len()))
        .ok_or("line past the end")?;
    let first_fn = window
        .iter()
        .find(|l| l.contains("fn "))
        .ok_or("no fn near the line")?;
    if first_fn.contains(&format!("fn {}", info.name)) {
        Ok(())
    } else {
        Err(format!(
            "{}:{} is `{}`",
            info.file,
            info.line,
            lines[start].trim()
        ))
    }
}

#[test]
fn handlers_endpoint_describes_every_bank_handler() {
    let f = fixture();
    let names: Vec<&str> = f.handlers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        f.handlers.len(),
        HANDLERS.len(),
        "/handlers lists {names:?}"
    );
    for (name, kind, message, aggregate, projection, saga, file, is_async) in HANDLERS {
        let info = f.handlers.iter().find(|h| h.name == name);
        let info = info.unwrap_or_else(|| panic!("/handlers has no `{name}`: {names:?}"));
        assert_eq!(info.kind, kind, "{name}: kind");
        assert_eq!(info.message, message, "{name}: message");
        assert_eq!(info.aggregate.as_deref(), aggregate, "{name}: aggregate");
        assert_eq!(info.projection.as_deref(), projection, "{name}: projection");
        assert_eq!(info.saga.as_deref(), saga, "{name}: saga");
        assert_eq!(info.file, file, "{name}: file");
        assert_eq!(info.is_async, is_async, "{name}: is_async");
        check_source_line(info).unwrap_or_else(|e| panic!("{name}: line {}: {e}", info.line));
        assert_eq!(
            info.in_flight, 0,
            "{name}: calls still in flight after the workload"
        );
        let seen: BTreeMap<String, u64> = Outcome::ALL
            .iter()
            .map(|&o| (o.as_str().to_owned(), f.report.count(name, o)))
            .collect();
        assert_eq!(
            info.calls, seen,
            "{name}: /handlers calls vs what the workload saw"
        );
    }
}

#[test]
fn metrics_page_is_prometheus_text_with_help_for_every_family() {
    let f = fixture();
    let content_type = f.metrics.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content-type {content_type:?}"
    );
    for family in FAMILIES {
        assert_eq!(
            f.page.types.get(family.counter).map(String::as_str),
            Some("counter")
        );
        assert_eq!(
            f.page.types.get(family.histogram).map(String::as_str),
            Some("histogram")
        );
        for name in [family.counter, family.histogram] {
            let help = f.page.help.get(name).map_or("", String::as_str);
            assert!(!help.is_empty(), "{name} has no HELP");
        }
    }
}

#[test]
fn promtool_accepts_the_metrics_page() {
    let promtool = peer::require_program("promtool");
    let body = fixture().metrics.body.clone();
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", promtool.display()));
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "`promtool check metrics` failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}
