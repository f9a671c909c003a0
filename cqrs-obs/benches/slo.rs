//! Evaluating SLOs: one tick of an engine holding 1000 SLOs over the recordings of 20
//! handlers (what the background tick does once a second), and the window update alone.
//!
//! Run: `cargo bench -p cqrs-obs --bench slo`

use std::hint::black_box;
use std::time::Duration;

use cqrs_obs::handler::{HandlerKind, HandlerMeta, HandlerSnapshot};
use cqrs_obs::slo::{Counts, Engine, GoodOutcomes, Handlers, Sli, Slo, Window};
use criterion::{criterion_group, criterion_main, Criterion};

struct FakeClock(std::sync::atomic::AtomicU64);

impl cqrs_obs::slo::Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        // Each reading moves time on by one second, as consecutive ticks do.
        self.0.fetch_add(1000, std::sync::atomic::Ordering::Relaxed)
    }
}

const NAMES: [&str; 20] = [
    "h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11", "h12", "h13", "h14",
    "h15", "h16", "h17", "h18", "h19",
];
const IDS: usize = 1000;

fn snapshots(round: u64) -> Vec<HandlerSnapshot> {
    NAMES
        .iter()
        .map(|&name| {
            let mut snap = HandlerSnapshot {
                meta: HandlerMeta {
                    kind: HandlerKind::Command,
                    name,
                    message: name,
                    aggregate: None,
                    projection: None,
                    saga: None,
                    module: "bench",
                    file: "bench.rs",
                    line: 1,
                    is_async: false,
                },
                in_flight: 0,
                outcomes: Default::default(),
                thresholds: Default::default(),
            };
            snap.outcomes[0].buckets[8] = 1000 * round;
            snap.outcomes[3].buckets[8] = round;
            snap
        })
        .collect()
}

fn engine() -> Engine {
    let mut engine = Engine::new(Box::new(FakeClock(0.into())));
    let ids: Vec<&'static str> = (0..IDS)
        .map(|i| &*Box::leak(format!("slo-{i}").into_boxed_str()))
        .collect();
    for (i, id) in ids.into_iter().enumerate() {
        let handlers = Handlers::Named(NAMES[i % NAMES.len()]);
        let sli = if i % 2 == 0 {
            Sli::Availability {
                handlers,
                good: GoodOutcomes::default(),
            }
        } else {
            Sli::Latency {
                handlers,
                threshold: Duration::from_millis(1),
            }
        };
        engine.add(Slo::new(id, sli, 99.9)).unwrap();
    }
    engine
}

fn slo(c: &mut Criterion) {
    let mut group = c.benchmark_group("slo");
    let mut engine = engine();
    let mut round = 1;
    group.bench_function("tick_1000_slos", |b| {
        b.iter(|| {
            round += 1;
            let snaps = snapshots(round);
            engine.tick(black_box(&snaps));
        })
    });
    let mut window = Window::new(Duration::from_secs(3600));
    let mut now = 0;
    group.bench_function("window_add", |b| {
        b.iter(|| {
            now += 1000;
            window.add(
                black_box(now),
                Counts {
                    good: 99,
                    total: 100,
                },
            );
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = slo
}
criterion_main!(benches);
