//! A workload that drives the bank through every handler and every outcome.
//!
//! Each worker (a tokio task on a multi-threaded runtime) owns a range of accounts, opens
//! `accounts_per_worker` of them, then runs a seeded mix: deposits 30%, withdrawals 22%
//! (random amounts, some more than the balance: `rejected`), transfers 13%, balance queries
//! 20%, statements 12%, new accounts 2%, opens of a taken number 1% (`rejected`).
//! Every `fault_every`-th step injects a failure instead, rotating through [`Fault::ALL`],
//! so each outcome shows up:
//!
//! | fault | what the step does | outcome |
//! |---|---|---|
//! | `outage` | arms a store outage on an account, then deposits to / withdraws from it | `error` (`deposit` / `withdraw`) |
//! | `race` | two deposits to one account, concurrently (`tokio::join!`) | one `ok`, one `conflict` (`deposit`) |
//! | `stale_version` | withdraws with the account version read before a deposit | `conflict` (`withdraw`) |
//! | `overdraw` | reads the balance, withdraws one cent more | `rejected` (`withdraw`) |
//! | `bad_transfer` | transfers to an account that does not exist | `rejected` (`deposit` and `continue_transfer`), refund `ok` |
//! | `poison` | deposits an amount that overflows the balance, in a spawned task | `panic` (`deposit`), seen as a `JoinError` |
//! | `slow_statement` | asks for a statement with the archive under a short deadline | `cancelled` (`statement`), the future dropped by `tokio::time::timeout` |
//!
//! The report counts what the workload saw: the results the bank's callers got (see
//! [`Tally`](crate::Tally)), plus the panics and timeouts the workload caught itself. It
//! never reads cqrs-obs.

use std::ops::Range;
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use cqrs_obs::Outcome;

use crate::bank::Bank;
use crate::command::OVERFLOW_PANIC;
use crate::tally::Handler;

mod rng;
mod worker;

use worker::Worker;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Steps in total, over all workers. A step is one command or query (a fault step may
    /// send a few).
    pub commands: u64,
    /// Concurrent workers (tokio tasks, and runtime threads).
    pub workers: usize,
    /// Accounts each worker opens before the mix starts.
    pub accounts_per_worker: u64,
    /// Seed of the workers' random choices.
    pub seed: u64,
    /// Every this many steps a worker injects a fault (0: never).
    pub fault_every: u64,
    /// Deadline of statement queries; the archive path always exceeds it.
    pub statement_deadline: Duration,
    /// Keep the poison command's expected panics off stderr.
    pub quiet_poison_panics: bool,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            commands: 10_000,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
            accounts_per_worker: 64,
            seed: 1,
            fault_every: 100,
            statement_deadline: Duration::from_millis(2),
            quiet_poison_panics: true,
        }
    }
}

/// Incidents injected on top of the workload, for anomaly detection to find. All off by
/// default. Step ranges count each worker's own steps.
///
/// ```
/// use cqrs_obs_examples::workload::Injection;
/// let incidents = Injection {
///     latency_regression: Some(3_000..3_400),
///     error_burst: Some(4_500..4_900),
///     ..Injection::default()
/// };
/// assert!(incidents.slow_statements(3_100) && !incidents.failing_deposits(3_100));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injection {
    /// Each worker pauses this long after every step, so the workload spans time.
    pub pace: Option<Duration>,
    /// Steps during which every statement reads the archive and is allowed to finish: a
    /// latency regression of the `statement` query (+50 ms a call).
    pub latency_regression: Option<Range<u64>>,
    /// Steps during which every deposit meets a store outage: an error burst of `deposit`.
    pub error_burst: Option<Range<u64>>,
}

impl Injection {
    /// Whether statements are slow at `step`.
    pub fn slow_statements(&self, step: u64) -> bool {
        self.latency_regression
            .as_ref()
            .is_some_and(|r| r.contains(&step))
    }

    /// Whether deposits fail at `step`.
    pub fn failing_deposits(&self, step: u64) -> bool {
        self.error_burst.as_ref().is_some_and(|r| r.contains(&step))
    }
}

/// The failures the workload injects, in rotation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Store outage on the next operation of an account.
    Outage,
    /// Two concurrent deposits to one account.
    Race,
    /// A withdrawal carrying a stale expected version.
    StaleVersion,
    /// A withdrawal of more than the balance.
    Overdraw,
    /// A transfer to an account that does not exist (the saga compensates).
    BadTransfer,
    /// A deposit that makes the handler panic.
    Poison,
    /// A statement whose slow path outlives its deadline.
    SlowStatement,
}

impl Fault {
    /// Every fault, in rotation order.
    pub const ALL: [Fault; 7] = [
        Fault::Outage,
        Fault::Race,
        Fault::StaleVersion,
        Fault::Overdraw,
        Fault::BadTransfer,
        Fault::Poison,
        Fault::SlowStatement,
    ];

    /// A short name.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::Outage => "outage",
            Fault::Race => "race",
            Fault::StaleVersion => "stale_version",
            Fault::Overdraw => "overdraw",
            Fault::BadTransfer => "bad_transfer",
            Fault::Poison => "poison",
            Fault::SlowStatement => "slow_statement",
        }
    }
}

/// What the workload did and saw.
#[derive(Debug, Clone)]
pub struct WorkloadReport {
    /// Steps run.
    pub steps: u64,
    /// Workers used.
    pub workers: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Faults injected, per kind.
    pub faults: Vec<(Fault, u64)>,
    /// Calls per handler, per outcome (indexed like [`Outcome::ALL`]), as seen by the callers.
    pub calls: Vec<(Handler, [u64; 6])>,
}

impl WorkloadReport {
    /// Calls of the handler named `handler` that ended with `outcome` (0 for an unknown name).
    pub fn count(&self, handler: &str, outcome: Outcome) -> u64 {
        let index = Outcome::ALL.iter().position(|&o| o == outcome).unwrap_or(0);
        self.calls
            .iter()
            .find(|(h, _)| h.name() == handler)
            .map_or(0, |(_, c)| c[index])
    }

    /// Calls of every handler that ended with `outcome`.
    pub fn total(&self, outcome: Outcome) -> u64 {
        self.calls
            .iter()
            .map(|(h, _)| self.count(h.name(), outcome))
            .sum()
    }

    /// Handler calls of all outcomes.
    pub fn total_calls(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.total(o)).sum()
    }

    /// Steps per second.
    pub fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the workload on a runtime of its own and returns what it saw.
///
/// Call it from synchronous code (not from inside a tokio runtime).
///
/// ```no_run
/// let report = cqrs_obs_examples::run_workload(Default::default());
/// println!("{} steps in {:?}", report.steps, report.elapsed);
/// ```
pub fn run_workload(config: WorkloadConfig) -> WorkloadReport {
    run_workload_with(config, Injection::default())
}

/// Runs the workload with incidents injected (see [`Injection`]).
///
/// ```no_run
/// use cqrs_obs_examples::workload::{run_workload_with, Injection};
/// let incidents = Injection { error_burst: Some(1_000..1_200), ..Injection::default() };
/// let report = run_workload_with(Default::default(), incidents);
/// println!("{} steps in {:?}", report.steps, report.elapsed);
/// ```
pub fn run_workload_with(config: WorkloadConfig, injection: Injection) -> WorkloadReport {
    let workers = config.workers.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("bank-worker")
        .enable_time()
        .build()
        .expect("building the workload's tokio runtime");
    silence_poison_panics(config.quiet_poison_panics);
    let bank = Arc::new(Bank::new());
    crate::health::watch(&bank);
    let start = Instant::now();
    let fault_counts = runtime.block_on(async {
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let steps = config.commands / workers as u64
                    + u64::from((w as u64) < config.commands % workers as u64);
                let worker = Worker::new(Arc::clone(&bank), &config, w, injection.clone());
                tokio::spawn(worker.run(steps, config.fault_every))
            })
            .collect();
        let mut faults = [0u64; Fault::ALL.len()];
        for task in tasks {
            let counts = task.await.expect("a workload worker failed");
            faults
                .iter_mut()
                .zip(counts)
                .for_each(|(total, n)| *total += n);
        }
        faults
    });
    let elapsed = start.elapsed();
    drop(runtime);
    silence_poison_panics(false);
    WorkloadReport {
        steps: config.commands,
        workers,
        elapsed,
        faults: Fault::ALL.into_iter().zip(fault_counts).collect(),
        calls: Handler::ALL
            .into_iter()
            .map(|h| (h, bank.tally().counts(h)))
            .collect(),
    }
}

static QUIET: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Keeps the expected panics of the poison command off stderr (other panics still print).
fn silence_poison_panics(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
    if quiet {
        HOOK.call_once(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                if !(QUIET.load(Ordering::SeqCst) && info.payload_as_str() == Some(OVERFLOW_PANIC))
                {
                    previous(info);
                }
            }));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_shows_and_faults_rotate() {
        let report = run_workload(WorkloadConfig {
            commands: 2_000,
            workers: 2,
            accounts_per_worker: 8,
            fault_every: 10,
            ..WorkloadConfig::default()
        });
        for outcome in Outcome::ALL {
            assert!(report.total(outcome) > 0, "no {outcome}: {report:#?}");
        }
        for (fault, n) in &report.faults {
            assert!(*n >= 14, "{fault:?} injected {n} times");
        }
        assert!(report.count("deposit", Outcome::Panic) > 0);
        assert!(report.count("statement", Outcome::Cancelled) > 0);
        // Every successful deposit and withdrawal was projected.
        let projected =
            report.count("on_deposited", Outcome::Ok) + report.count("on_withdrawn", Outcome::Ok);
        let appended = report.count("deposit", Outcome::Ok)
            + report.count("withdraw", Outcome::Ok)
            + report.count("transfer", Outcome::Ok);
        assert_eq!(projected, appended);
    }
}
