//! A real Prometheus server scrapes the bank's admin endpoint, and its query API returns the
//! handler counts the workload saw: the page is consumable by the system it is written for.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cqrs_obs::metrics::names::label;
use cqrs_obs_tests::bank::{expected_series, init_obs, run_test_workload, HandlerInfo, FAMILIES};
use cqrs_obs_tests::exposition::Labels;
use cqrs_obs_tests::http;
use cqrs_obs_tests::peer::{self, ChildGuard, TempDir};
use serde_json::Value;

const JOB: &str = "bank";

/// Bound on waiting for Prometheus to start and scrape the target.
const UP_TIMEOUT: Duration = Duration::from_secs(60);

fn write_config(dir: &Path, target: SocketAddr) -> std::path::PathBuf {
    let path = dir.join("prometheus.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: {JOB}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    \
         static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(&path, config).expect("writing prometheus.yml");
    path
}

/// `GET /api/v1/...` and the `data` of a successful answer.
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

/// The bank target is scraped and healthy.
fn target_up(server: SocketAddr) -> Result<(), String> {
    let data = api(server, "/api/v1/targets?state=active")?;
    let targets = data["activeTargets"].as_array().ok_or("no activeTargets")?;
    let target = targets
        .iter()
        .find(|t| t["labels"]["job"] == JOB)
        .ok_or_else(|| format!("no `{JOB}` target yet: {data}"))?;
    match target["health"].as_str() {
        Some("up") => Ok(()),
        health => Err(format!(
            "target {health:?}, last error {}",
            target["lastError"]
        )),
    }
}

/// An instant query's vector result: labels -> value.
fn query(server: SocketAddr, promql: &str) -> Result<BTreeMap<Labels, f64>, String> {
    let data = api(
        server,
        &format!("/api/v1/query?query={}", http::encode(promql)),
    )?;
    let result = data["result"]
        .as_array()
        .ok_or_else(|| format!("not a vector: {data}"))?;
    result
        .iter()
        .map(|sample| {
            let labels = sample["metric"]
                .as_object()
                .ok_or("no metric")?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let value = sample["value"][1].as_str().ok_or("no value")?;
            let value = value
                .parse::<f64>()
                .map_err(|e| format!("value {value:?}: {e}"))?;
            Ok((labels, value))
        })
        .collect()
}

fn fail_with_log(log: &Path, message: &str) -> ! {
    panic!(
        "{message}\n--- prometheus log (tail) ---\n{}",
        peer::tail(log, 4_000)
    )
}

#[test]
fn prometheus_scrapes_the_bank_and_agrees_with_the_workload() {
    let prometheus = peer::require_program("prometheus");
    let guard = init_obs();
    let target = guard.admin_addr().expect("the admin endpoint runs");
    let report = run_test_workload(3_000);
    let handlers = http::get(target, "/handlers")
        .and_then(|r| r.json())
        .unwrap();
    let expected = expected_series(&report, &HandlerInfo::parse_all(&handlers).unwrap()).unwrap();

    let dir = TempDir::new("prometheus");
    let config = write_config(dir.path(), target);
    let server = peer::loopback(peer::free_port());
    let log_path = dir.path().join("prometheus.log");
    let log = File::create(&log_path).expect("creating the prometheus log");
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={server}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("cloning the log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", prometheus.display()));
    let mut prometheus = ChildGuard::new("prometheus", child);

    peer::wait_until(UP_TIMEOUT, Duration::from_millis(250), || {
        prometheus.check_running()?;
        target_up(server)
    })
    .unwrap_or_else(|e| {
        fail_with_log(
            &log_path,
            &format!("the bank target never came up in Prometheus: {e}"),
        )
    });

    let up = query(server, &format!("up{{job=\"{JOB}\"}}"))
        .unwrap_or_else(|e| fail_with_log(&log_path, &e));
    assert_eq!(
        up.values().copied().collect::<Vec<_>>(),
        [1.0],
        "up: {up:?}"
    );

    for family in FAMILIES {
        let by = [family.labels, &[label::OUTCOME]].concat().join(", ");
        let promql = format!("sum by ({by}) ({}{{job=\"{JOB}\"}})", family.counter);
        let want: BTreeMap<Labels, f64> = expected
            .iter()
            .filter(|((counter, _), _)| counter == family.counter)
            .map(|((_, labels), &n)| (labels.clone(), n as f64))
            .collect();
        assert!(
            !want.is_empty(),
            "no expected series for {}",
            family.counter
        );
        // The workload finished before Prometheus started, so the first scrape is final;
        // retrying only covers the time until that scrape is queryable.
        peer::wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
            let got = query(server, &promql)?;
            if got == want {
                return Ok(());
            }
            let diff: Vec<String> = want
                .keys()
                .chain(got.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .filter(|labels| want.get(*labels) != got.get(*labels))
                .map(|labels| {
                    format!(
                        "{labels:?}: prometheus {:?}, workload {:?}",
                        got.get(labels),
                        want.get(labels)
                    )
                })
                .collect();
            Err(format!("`{promql}` differs:\n{}", diff.join("\n")))
        })
        .unwrap_or_else(|e| fail_with_log(&log_path, &e));
    }
    let pid = prometheus.id();
    drop(prometheus);
    assert!(
        !Path::new(&format!("/proc/{pid}/status")).exists(),
        "prometheus ({pid}) still running"
    );
}
