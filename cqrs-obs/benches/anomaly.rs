//! Anomaly detection per point: each streaming detector over a window of 100, the composite
//! (all six detectors, the rank surprises and the quiet period), and the service path (lock,
//! series lookup, composite, trend). The input is a noisy daily wave with occasional spikes,
//! as a metric series would be. Each iteration feeds the next [`BATCH`] points of the series,
//! one `update` each, so the harness's own cost per iteration is spread thin: the throughput
//! criterion prints is points per second, and the time per point is the time divided by
//! [`BATCH`].
//!
//! Run: `cargo bench -p cqrs-obs --bench anomaly -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use cqrs_obs::anomaly::{
    AnomalyService, Composite, CompositeConfig, DataPoint, Detector, Iqr, Mad, Pattern, Seasonal,
    ServiceConfig, Threshold, ZScore,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const WINDOW: usize = 100;
const STEP_MS: i64 = 300_000;
/// Points per iteration.
const BATCH: usize = 64;

/// 64 Ki points of a daily wave (5-minute steps) with noise and a spike every 997 points.
fn series() -> Vec<(i64, f64)> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..1 << 16)
        .map(|i: i64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let spike = if i % 997 == 0 { 40.0 } else { 0.0 };
            (
                i * STEP_MS,
                100.0 + 20.0 * phase.sin() + 5.0 * noise + spike,
            )
        })
        .collect()
}

fn per_point(c: &mut Criterion, name: &str, mut d: impl Detector, data: &[(i64, f64)]) {
    // Warm the detector up so that the measured points run its full path.
    for (t, v) in data.iter().take(2_000) {
        d.update(*t, *v);
    }
    let mut i = 0usize;
    let mut group = c.benchmark_group("anomaly");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let (t, v) = data[i & (data.len() - 1)];
                i += 1;
                black_box(d.update(black_box(t), black_box(v)));
            }
        })
    });
    group.finish();
}

fn detectors(c: &mut Criterion) {
    let data = series();
    per_point(c, "zscore", ZScore::new(WINDOW), &data);
    per_point(c, "iqr", Iqr::new(WINDOW), &data);
    per_point(c, "mad", Mad::new(WINDOW), &data);
    per_point(c, "threshold", Threshold::new(), &data);
    per_point(c, "seasonal", Seasonal::new(86_400_000, 288), &data);
    per_point(c, "pattern", Pattern::new(), &data);
}

fn composite(c: &mut Criterion) {
    let data = series();
    let config = CompositeConfig {
        window: WINDOW,
        ..CompositeConfig::default()
    };
    let mut d = Composite::new(config);
    for (t, v) in data.iter().take(2_000) {
        d.update(*t, *v);
    }
    let mut i = 0usize;
    let mut group = c.benchmark_group("anomaly");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("composite", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let (t, v) = data[i & (data.len() - 1)];
                i += 1;
                black_box(d.update(black_box(t), black_box(v)));
            }
        })
    });
    eprintln!(
        "state per series: composite (window {WINDOW}, 288 seasonal bins) {} bytes; \
         composite with the defaults {} bytes",
        d.memory_bytes(),
        Composite::new(CompositeConfig::default()).memory_bytes()
    );

    let service = AnomalyService::new(ServiceConfig::default());
    let mut i = 0usize;
    group.bench_function("service_add_data_point", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let (t, v) = data[i & (data.len() - 1)];
                i += 1;
                black_box(service.add_data_point("bench", DataPoint::new(t, v)));
            }
        })
    });
    group.finish();
    if let Some(s) = service.series().first() {
        eprintln!(
            "state per series: service series (defaults) {} bytes",
            s.memory_bytes
        );
    }
}

criterion_group!(benches, detectors, composite);
criterion_main!(benches);
