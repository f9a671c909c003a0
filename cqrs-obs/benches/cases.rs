//! The handler the call-site benchmarks compare, written once bare and once per way of
//! instrumenting it. Shared with the peer benchmarks in `benches-peers/`.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::hint::black_box;

/// The command of the benchmarks.
#[derive(Clone, Copy)]
pub struct Deposit {
    pub account: u64,
    pub amount: u64,
}

#[derive(Debug)]
pub enum DepositError {
    Zero,
}

impl cqrs_obs::ClassifyError for DepositError {
    fn outcome(&self) -> cqrs_obs::Outcome {
        cqrs_obs::Outcome::Rejected
    }
}

/// What every variant does: a few nanoseconds of real work.
#[inline(always)]
fn apply(cmd: Deposit) -> Result<u64, DepositError> {
    if cmd.amount == 0 {
        return Err(DepositError::Zero);
    }
    Ok(black_box(cmd.account)
        .wrapping_mul(31)
        .wrapping_add(cmd.amount))
}

/// The bare handler.
#[inline(never)]
pub fn bare(cmd: Deposit) -> Result<u64, DepositError> {
    apply(cmd)
}

/// The handler instrumented by cqrs-obs.
#[cqrs_obs::command_handler(aggregate = "Account")]
#[inline(never)]
pub fn instrumented(cmd: Deposit) -> Result<u64, DepositError> {
    apply(cmd)
}

/// The instrumented handler with SLOs: availability, and a latency threshold (80 ns) that is
/// not a histogram bound and lies in the bucket the calls end in, so that every call is
/// compared with it (the most an SLO adds to a call).
#[cqrs_obs::command_handler(aggregate = "Account", name = "instrumented_slo")]
#[cqrs_obs::slo(availability = 99.9, latency(p99 = "80ns"))]
#[inline(never)]
pub fn instrumented_with_slo(cmd: Deposit) -> Result<u64, DepositError> {
    apply(cmd)
}

/// What a user writes by hand: a `tracing` span plus `metrics` macros with the outcome label.
#[tracing::instrument(
    level = "info",
    skip_all,
    fields(command = "Deposit", aggregate = "Account")
)]
#[inline(never)]
pub fn hand_written(cmd: Deposit) -> Result<u64, DepositError> {
    let start = std::time::Instant::now();
    let result = apply(cmd);
    let outcome = if result.is_ok() { "ok" } else { "rejected" };
    metrics::counter!("cqrs_commands_total", "command" => "Deposit", "aggregate" => "Account", "outcome" => outcome)
        .increment(1);
    metrics::histogram!("cqrs_command_duration_seconds", "command" => "Deposit", "aggregate" => "Account", "outcome" => outcome)
        .record(start.elapsed().as_secs_f64());
    result
}
