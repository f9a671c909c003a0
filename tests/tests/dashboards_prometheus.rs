//! Every PromQL expression of every generated dashboard returns data from a real Prometheus
//! server that scraped the bank and loaded the generated SLO rules: the metric names, label
//! names and label values the dashboards use really exist, and the SLO panels' recorded
//! series are really produced by the rules; each `$handler` option selects its handler's
//! series. Because `=~".*"` and `!=` matchers also match
//! series without the label, every label an expression names is also checked to exist on a
//! metric it reads.
//!
//! The dashboards' variables are replaced as Grafana would with "All" selected: `$service`
//! by the scrape job, `$instance` and `$handler` by `.*`, `$__rate_interval` by `1m`.

mod dashboards_common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cqrs_obs::metrics::names::{self, label};
use cqrs_obs_tests::bank::{init_obs, run_test_workload};
use cqrs_obs_tests::http;
use cqrs_obs_tests::peer::{self, ChildGuard, TempDir};
use dashboards_common::{all_dashboards, bank_sources, substitute};
use serde_json::Value;

const JOB: &str = "bank";

/// Metrics the dashboards chart that the bank does not emit: none. The list stays so that a
/// panel on a metric the bank cannot produce must be named here, with the reason.
const NOT_EMITTED_BY_THE_BANK: [&str; 0] = [];

fn write_config(dir: &Path, target: SocketAddr, rules: &Path) -> PathBuf {
    let path = dir.join("prometheus.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{}']\n\
         scrape_configs:\n  - job_name: {JOB}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    \
         static_configs:\n      - targets: ['{target}']\n",
        rules.display()
    );
    std::fs::write(&path, config).expect("writing prometheus.yml");
    path
}

fn api(server: SocketAddr, path: &str) -> Result<Value, String> {
    let response = http::get(server, path)?;
    let json = response.json()?;
    if response.status != 200 || json["status"] != "success" {
        return Err(format!(
            "{path}: HTTP {}: {}",
            response.status, response.body
        ));
    }
    Ok(json["data"].clone())
}

/// The number of series an instant query returns.
fn series(server: SocketAddr, promql: &str) -> Result<usize, String> {
    let data = api(
        server,
        &format!("/api/v1/query?query={}", http::encode(promql)),
    )?;
    match data["resultType"].as_str() {
        Some("vector") => Ok(data["result"].as_array().map_or(0, Vec::len)),
        Some("scalar") => Ok(1),
        other => Err(format!("`{promql}`: unexpected result type {other:?}")),
    }
}

struct Prometheus {
    server: SocketAddr,
    log: PathBuf,
    child: ChildGuard,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr, rules: &str) -> Prometheus {
        let program = peer::require_program("prometheus");
        let dir = TempDir::new("dashboards-prometheus");
        let rules_path = dir.path().join("slo-rules.yml");
        std::fs::write(&rules_path, rules).unwrap();
        let config = write_config(dir.path(), target, &rules_path);
        let server = peer::loopback(peer::free_port());
        let log = dir.path().join("prometheus.log");
        let out = File::create(&log).expect("creating the prometheus log");
        let child = Command::new(&program)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={server}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        Prometheus {
            server,
            log,
            child: ChildGuard::new("prometheus", child),
            _dir: dir,
        }
    }

    fn fail(&self, message: &str) -> ! {
        panic!(
            "{message}\n--- prometheus log (tail) ---\n{}",
            peer::tail(&self.log, 4_000)
        )
    }

    fn wait_for_target(&mut self) {
        let server = self.server;
        let child = &mut self.child;
        let up = peer::wait_until(Duration::from_secs(60), Duration::from_millis(250), || {
            child.check_running()?;
            let n = series(server, &format!("up{{job=\"{JOB}\"}} == 1"))?;
            (n == 1)
                .then_some(())
                .ok_or_else(|| "target not up yet".to_owned())
        });
        if let Err(e) = up {
            self.fail(&format!("the bank target never came up: {e}"));
        }
    }

    /// Rule groups loaded and healthy.
    fn rules_healthy(&self) -> Result<usize, String> {
        let data = api(self.server, "/api/v1/rules")?;
        let groups = data["groups"].as_array().ok_or("no groups")?;
        let mut n = 0;
        for group in groups {
            for rule in group["rules"].as_array().into_iter().flatten() {
                if rule["health"] != "ok" {
                    return Err(format!("rule not healthy: {rule}"));
                }
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The metric names (identifiers followed by `{`) and the label names (in matchers and in
/// `by (..)` / `without (..)`) of an expression.
fn metrics_and_labels(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let bytes = expr.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let (mut metrics, mut labels) = (BTreeSet::new(), BTreeSet::new());
    let mut i = 0;
    let mut in_braces = false;
    let mut grouping = false;
    let mut last_ident = String::new();
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            // Skip a string literal.
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if is_ident(b) && !b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let ident = &expr[start..i];
            let next = expr[i..].trim_start().bytes().next();
            if in_braces || grouping {
                labels.insert(ident.to_owned());
            } else if next == Some(b'{') {
                metrics.insert(ident.to_owned());
            }
            last_ident = ident.to_owned();
            continue;
        }
        match b {
            b'{' => in_braces = true,
            b'}' => in_braces = false,
            b'(' if last_ident == "by" || last_ident == "without" => grouping = true,
            b')' => grouping = false,
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            last_ident.clear();
        }
        i += 1;
    }
    (metrics, labels)
}

fn names_a_metric_the_bank_does_not_emit(expr: &str) -> Option<&'static str> {
    NOT_EMITTED_BY_THE_BANK
        .into_iter()
        .find(|name| expr.contains(name))
}

#[test]
fn finds_metrics_and_labels() {
    let (metrics, labels) = metrics_and_labels(
        "sum by (le, command) (rate(cqrs_command_duration_seconds_bucket{job=~\"a|b\",outcome!=\"x{\"}[1m])) / on() slo:x:ratio{slo_id=\"s\"}",
    );
    assert_eq!(
        metrics.into_iter().collect::<Vec<_>>(),
        ["cqrs_command_duration_seconds_bucket", "slo:x:ratio"]
    );
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        ["command", "job", "le", "outcome", "slo_id"]
    );
}

#[test]
fn every_dashboard_query_returns_data_from_prometheus() {
    let guard = init_obs();
    let target = guard.admin_addr().expect("the admin endpoint runs");
    let sources = bank_sources();
    cqrs_obs_examples::health::register_checks(None).expect("health checks register");
    run_test_workload(3_000);
    // Runs the checks now, so that `cqrs_health_status` is on the page.
    http::get(target, "/health").unwrap();
    let page = http::get(target, "/metrics").unwrap().body;
    assert!(page.contains(names::HEALTH_STATUS), "{page}");
    for name in NOT_EMITTED_BY_THE_BANK {
        assert!(
            !page.contains(&format!("\n{name}")),
            "the bank now emits {name}: remove it from NOT_EMITTED_BY_THE_BANK"
        );
    }

    let rules = cqrs_obs::slo::prometheus_rules();
    let mut prometheus = Prometheus::start(target, &rules);
    prometheus.wait_for_target();
    let loaded = prometheus
        .rules_healthy()
        .unwrap_or_else(|e| prometheus.fail(&e));
    assert!(loaded > 50, "only {loaded} rules loaded");

    // Expression -> where it is used.
    let mut exprs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut exempt = BTreeSet::new();
    for (template, d) in all_dashboards(&sources) {
        for panel in d.all_panels() {
            for target in &panel.targets {
                if let Some(name) = names_a_metric_the_bank_does_not_emit(&target.expr) {
                    exempt.insert(name);
                    continue;
                }
                exprs
                    .entry(substitute(&target.expr, JOB, "1m"))
                    .or_default()
                    .insert(format!(
                        "{} / {} ({})",
                        d.uid,
                        panel.title,
                        template.as_str()
                    ));
            }
        }
    }
    assert!(exprs.len() > 50, "only {} expressions", exprs.len());
    assert_eq!(exempt.len(), NOT_EMITTED_BY_THE_BANK.len(), "{exempt:?}");

    // Rates need two scrapes in their window and recording rules a first evaluation: retry
    // until every expression has data.
    let server = prometheus.server;
    let mut empty: Vec<String> = Vec::new();
    let result = peer::wait_until(Duration::from_secs(45), Duration::from_secs(1), || {
        empty.clear();
        for expr in exprs.keys() {
            if series(server, expr)? == 0 {
                empty.push(expr.clone());
            }
        }
        if empty.is_empty() {
            Ok(())
        } else {
            Err(format!("{} expressions return no data", empty.len()))
        }
    });
    if let Err(e) = result {
        let detail: Vec<String> = empty
            .iter()
            .map(|expr| format!("{expr}\n    used by {:?}", exprs[expr]))
            .collect();
        prometheus.fail(&format!("{e}:\n{}", detail.join("\n")));
    }

    // A regex matcher like `=~".*"` or a `!=` matcher also matches series without the label,
    // and grouping by a missing label gives an empty one: check that every label an
    // expression names exists on one of the metrics it reads.
    let mut pairs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for expr in exprs.keys() {
        let (metrics, labels) = metrics_and_labels(expr);
        assert!(!metrics.is_empty(), "no metric found in {expr}");
        let metrics = metrics.into_iter().collect::<Vec<_>>().join("|");
        pairs.entry(metrics).or_default().extend(labels);
    }
    let mut missing = Vec::new();
    for (metrics, labels) in &pairs {
        for label in labels {
            let probe = format!("count({{__name__=~\"{metrics}\",{label}!=\"\"}})");
            if series(server, &probe).unwrap_or(0) == 0 {
                missing.push(format!("no `{label}` label on {metrics}"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));

    // Each `$handler` option selects the series of its handler: its value is a label value
    // of the family that identifies handlers by it (command type, event handler, query type).
    let overview = all_dashboards(&sources)
        .into_iter()
        .map(|(_, d)| d)
        .next()
        .expect("a dashboard");
    let handler = overview
        .templating
        .list
        .iter()
        .find(|v| v.name == "handler")
        .expect("a $handler variable");
    let mut unmatched = Vec::new();
    for option in handler.options.iter().filter(|o| o.value != "$__all") {
        let value = option.value.replace('\\', "\\\\").replace('"', "\\\"");
        let probe = [
            (names::COMMANDS_TOTAL, label::COMMAND),
            (names::EVENTS_PROCESSED_TOTAL, label::HANDLER),
            (names::QUERIES_TOTAL, label::QUERY),
        ]
        .map(|(metric, key)| format!("count({metric}{{job=\"{JOB}\",{key}=\"{value}\"}})"))
        .join(" or ");
        if series(server, &probe).unwrap_or(0) == 0 {
            unmatched.push(format!("{} ({})", option.value, option.text));
        }
    }
    assert!(handler.options.len() > 1, "{handler:?}");
    assert!(
        unmatched.is_empty(),
        "$handler options that select no series: {unmatched:?}"
    );

    // The variables' own queries find the bank.
    let jobs = api(
        server,
        &format!(
            "/api/v1/label/job/values?match[]={}",
            names::HANDLERS_IN_FLIGHT
        ),
    )
    .unwrap();
    assert!(jobs.as_array().unwrap().iter().any(|j| j == JOB), "{jobs}");
}
