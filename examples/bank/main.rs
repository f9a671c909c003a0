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
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cqrs_obs::handler::{HandlerSnapshot, OutcomeStats};
use cqrs_obs::Outcome;
use cqrs_obs_examples::{run_workload, WorkloadConfig, WorkloadReport};

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
    let report = run_workload(config);
    print_summary(&report, &cqrs_obs::handler::snapshots());
    match guard.admin_addr() {
        Some(addr) => println!(
            "\nadmin endpoint: http://{addr}/metrics  http://{addr}/handlers  http://{addr}/slo  \
             http://{addr}/health  http://{addr}/readyz?verbose"
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
