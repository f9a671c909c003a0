//! The bank example: an event-sourced bank instrumented with cqrs-obs.
//!
//! Runs a workload that drives every handler through every outcome (ok, rejected, conflict,
//! error, panic, cancelled), prints what it saw next to the latencies cqrs-obs measured, and
//! then serves the admin endpoint (`/metrics`, `/handlers`, `/health`, ...) until Ctrl-C.
//! Its health checks: the event store, the `balances` projection's freshness, memory, and
//! with `--dependency-url` an external dependency behind a circuit breaker.
//!
//! ```text
//! cargo run --release --example bank                  # then: curl 127.0.0.1:9464/metrics
//! cargo run --release --example bank -- --commands 50000 --exit
//! # incidents for anomaly detection: a slow-statement regression, then a deposit error burst
//! cargo run --release --example bank -- --commands 16000 --workers 2 --pace-ms 1 --sample-ms 10 \
//!     --latency-regression 4000..4400 --error-burst 6000..6400 --exit
//! ```

use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use cqrs_obs::handler::{HandlerSnapshot, OutcomeStats};
use cqrs_obs::Outcome;
use cqrs_obs_examples::workload::{run_workload_with, Injection};
use cqrs_obs_examples::{WorkloadConfig, WorkloadReport};

/// Runs the cqrs-obs bank demo: a workload over an event-sourced bank, then the admin
/// endpoint until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "bank", version)]
struct Args {
    /// Workload steps (commands and queries) to run.
    #[arg(long, default_value_t = 500_000)]
    commands: u64,
    /// Concurrent workers [default: available cores, at most 8].
    #[arg(long)]
    workers: Option<usize>,
    /// Seed of the workload's random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inject a fault every this many steps per worker (0: never).
    #[arg(long, default_value_t = 100)]
    fault_every: u64,
    /// An external dependency's URL (`http://` only) to health-check through a circuit
    /// breaker, e.g. http://127.0.0.1:8080/health.
    #[arg(long)]
    dependency_url: Option<String>,
    /// Each worker pauses this many milliseconds after every step (spreads the run over time).
    #[arg(long)]
    pace_ms: Option<u64>,
    /// Inject a latency regression: every statement reads the archive (+50 ms) during these
    /// steps of each worker, e.g. 4000..4400.
    #[arg(long, value_parser = parse_steps)]
    latency_regression: Option<Range<u64>>,
    /// Inject an error burst: every deposit meets a store outage during these steps of each
    /// worker, e.g. 6000..6400.
    #[arg(long, value_parser = parse_steps)]
    error_burst: Option<Range<u64>>,
    /// Feed the anomaly detectors every this many milliseconds during the workload (default:
    /// the background tick's second).
    #[arg(long)]
    sample_ms: Option<u64>,
    /// Exit after the workload instead of serving the admin endpoint until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let guard = cqrs_obs::init();
    if let Err(e) = cqrs_obs_examples::health::register_checks(args.dependency_url.as_deref()) {
        eprintln!("bank: {e}");
        return ExitCode::FAILURE;
    }
    cqrs_obs_examples::objectives::register_objectives();
    let defaults = WorkloadConfig::default();
    let config = WorkloadConfig {
        commands: args.commands,
        workers: args.workers.unwrap_or(defaults.workers),
        seed: args.seed,
        fault_every: args.fault_every,
        ..defaults
    };
    let injection = Injection {
        pace: args.pace_ms.map(Duration::from_millis),
        latency_regression: args.latency_regression.clone(),
        error_burst: args.error_burst.clone(),
    };
    let report = sampled(args.sample_ms, || run_workload_with(config, injection));
    print_summary(&report, &cqrs_obs::handler::snapshots());
    print_anomalies();
    match guard.admin_addr() {
        Some(addr) => println!(
            "\nadmin endpoint: http://{addr}/metrics  http://{addr}/handlers  http://{addr}/slo  \
             http://{addr}/health  http://{addr}/readyz?verbose  http://{addr}/anomalies"
        ),
        None => println!("\nadmin endpoint: not running (see the messages above)"),
    }
    if args.exit {
        return ExitCode::SUCCESS;
    }
    println!("serving until Ctrl-C");
    match wait_for_ctrl_c() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bank: cannot wait for Ctrl-C: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `START..END` step ranges.
fn parse_steps(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}` is not START..END"))?;
    let parse = |x: &str| x.parse::<u64>().map_err(|e| format!("`{x}`: {e}"));
    let (a, b) = (parse(a)?, parse(b)?);
    if a >= b {
        return Err(format!("`{s}` is empty"));
    }
    Ok(a..b)
}

/// Runs `work` while another thread feeds the anomaly detectors every `every_ms`.
fn sampled<T>(every_ms: Option<u64>, work: impl FnOnce() -> T) -> T {
    let Some(every_ms) = every_ms.filter(|ms| *ms > 0) else {
        return work();
    };
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(every_ms));
                cqrs_obs::anomaly::observe_handlers();
            }
        })
    };
    let out = work();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    out
}

fn print_anomalies() {
    let anomalies = cqrs_obs::anomaly::global().anomaly_history(None, None, 50);
    println!("\nanomalies (newest first): {}", anomalies.len());
    for a in anomalies {
        println!(
            "  {:<28} {:<8} value {:>10.4} deviation {:>7.1} confidence {:.2} (extremity {:.2}, \
             data {:.2}, persistence {:.2}, agreement {:.2}) detectors {}",
            a.metric,
            a.severity.as_str(),
            a.value,
            a.deviation,
            a.confidence.value,
            a.confidence.extremity,
            a.confidence.data,
            a.confidence.persistence,
            a.confidence.agreement,
            a.detectors.join(",")
        );
    }
}

fn wait_for_ctrl_c() -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())
}

fn print_summary(report: &WorkloadReport, snapshots: &[HandlerSnapshot]) {
    println!(
        "bank: {} steps, {} handler calls in {:.2?} with {} workers: {:.0} steps/s",
        report.steps,
        report.total_calls(),
        report.elapsed,
        report.workers,
        report.steps_per_second(),
    );
    let faults: Vec<String> = report
        .faults
        .iter()
        .map(|(f, n)| format!("{}={n}", f.name()))
        .collect();
    println!("faults injected: {}", faults.join(" "));
    println!();
    print!("{:<18} {:<8}", "handler", "kind");
    for outcome in Outcome::ALL {
        print!(" {:>9}", outcome.as_str());
    }
    println!(" {:>9} {:>9} {:>9}", "p50", "p95", "p99");
    for (handler, counts) in &report.calls {
        print!("{:<18} {:<8}", handler.name(), handler.kind().as_str());
        for count in counts {
            print!(" {count:>9}");
        }
        let stats = snapshots
            .iter()
            .filter(|s| s.meta.name == handler.name())
            .fold(OutcomeStats::default(), |mut all, s| {
                all.merge(&s.merged());
                all
            });
        for q in [0.5, 0.95, 0.99] {
            print!(
                " {:>9}",
                stats.quantile(q).map_or_else(|| "-".to_owned(), seconds)
            );
        }
        println!();
    }
    println!(
        "\n(calls per outcome as the workload saw them; percentiles from cqrs-obs' histograms)"
    );
}

/// A duration in seconds, printed in a unit that suits it.
fn seconds(s: f64) -> String {
    format!("{:.1?}", Duration::from_secs_f64(s))
}
