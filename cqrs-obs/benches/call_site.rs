//! Cost of an instrumented handler call over the bare fn (trace not sampled), on one thread and
//! on two threads calling the same handler, with and without SLOs on the handler, against a
//! hand-written `tracing` + `metrics` equivalent. `autometrics` is compared in `benches-peers/` (kept out of this build graph).
//!
//! Run: `cargo bench -p cqrs-obs --bench call_site`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "cases.rs"]
mod cases;
#[path = "support.rs"]
mod support;

use cases::Deposit;

fn cmd(i: u64) -> Deposit {
    Deposit {
        account: i,
        amount: 1 + (i & 7),
    }
}

/// `threads` threads each call `f` `iters` times; returns the wall time, i.e. the time per call
/// as seen by each thread.
fn on_threads(
    threads: usize,
    iters: u64,
    f: fn(Deposit) -> Result<u64, cases::DepositError>,
) -> Duration {
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters {
                        let _ = black_box(f(black_box(cmd(i))));
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    })
}

fn call_site(c: &mut Criterion) {
    support::install_peers();
    // Loads the `#[slo]` objectives, as `init()` does: the latency one makes its handler count
    // its threshold.
    assert_eq!(cqrs_obs::slo::reports().len(), 2);
    let mut group = c.benchmark_group("call_site");
    group.bench_function("bare", |b| b.iter(|| cases::bare(black_box(cmd(3)))));
    group.bench_function("cqrs_obs", |b| {
        b.iter(|| cases::instrumented(black_box(cmd(3))))
    });
    group.bench_function("cqrs_obs_with_slos", |b| {
        b.iter(|| cases::instrumented_with_slo(black_box(cmd(3))))
    });
    group.bench_function("cqrs_obs_2_threads", |b| {
        b.iter_custom(|iters| on_threads(2, iters, cases::instrumented))
    });
    group.bench_function("bare_2_threads", |b| {
        b.iter_custom(|iters| on_threads(2, iters, cases::bare))
    });
    group.bench_function("tracing_metrics", |b| {
        b.iter(|| cases::hand_written(black_box(cmd(3))))
    });
    group.finish();
    support::report_allocations(&[
        ("bare", &|| drop(black_box(cases::bare(cmd(3))))),
        ("cqrs_obs", &|| drop(black_box(cases::instrumented(cmd(3))))),
        ("tracing_metrics", &|| {
            drop(black_box(cases::hand_written(cmd(3))))
        }),
    ]);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = call_site
}
criterion_main!(benches);
