//! The same handler bare, instrumented by cqrs-obs, by hand with `tracing` + `metrics`, and by
//! `autometrics` 3, measured in one run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../../cqrs-obs/benches/cases.rs"]
mod cases;
#[path = "../../cqrs-obs/benches/support.rs"]
mod support;

use cases::{Deposit, DepositError};

/// The handler instrumented by autometrics (metrics facade, same recorder as the baseline).
#[autometrics::autometrics]
#[inline(never)]
pub fn autometrics_handler(cmd: Deposit) -> Result<u64, DepositError> {
    cases::bare(cmd)
}

fn cmd(i: u64) -> Deposit {
    Deposit { account: i, amount: 1 + (i & 7) }
}

fn peers(c: &mut Criterion) {
    support::install_peers();
    let mut group = c.benchmark_group("peers");
    group.bench_function("bare", |b| b.iter(|| cases::bare(black_box(cmd(3)))));
    group.bench_function("cqrs_obs", |b| b.iter(|| cases::instrumented(black_box(cmd(3)))));
    group.bench_function("tracing_metrics", |b| b.iter(|| cases::hand_written(black_box(cmd(3)))));
    group.bench_function("autometrics", |b| b.iter(|| autometrics_handler(black_box(cmd(3)))));
    group.finish();
    support::report_allocations(&[
        ("bare", &|| drop(black_box(cases::bare(cmd(3))))),
        ("cqrs_obs", &|| drop(black_box(cases::instrumented(cmd(3))))),
        ("tracing_metrics", &|| drop(black_box(cases::hand_written(cmd(3))))),
        ("autometrics", &|| drop(black_box(autometrics_handler(cmd(3))))),
    ]);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = peers
}
criterion_main!(benches);
