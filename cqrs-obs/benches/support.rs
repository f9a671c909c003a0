//! Bench set-up shared with `benches-peers/`: the peers' global `tracing` subscriber and
//! `metrics` recorder, cqrs-obs' recording switched on, and an allocation counter.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct Counting;

pub static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A realistic set-up for the hand-written baseline: a `tracing` subscriber with a formatting
/// layer (writing to a sink) at INFO, and the Prometheus recorder behind the `metrics` facade.
/// cqrs-obs recording is switched on without its admin endpoint, with a sampler that samples
/// nothing (the unsampled path; `sampled.rs` measures the other one).
pub fn install_peers() {
    use tracing_subscriber::layer::SubscriberExt;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let subscriber = tracing_subscriber::registry()
        .with(fmt)
        .with(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing::subscriber::set_global_default(subscriber);
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let _ = metrics::set_global_recorder(recorder);
    cqrs_obs::handler::enable();
    cqrs_obs::trace::set_sampler(cqrs_obs::trace::Sampler::parent_based(
        cqrs_obs::trace::Root::AlwaysOff,
    ));
}

/// Prints heap allocations per call of each case (after a warm-up call).
pub fn report_allocations(cases: &[(&str, &dyn Fn())]) {
    const CALLS: u64 = 10_000;
    for (name, case) in cases {
        case();
        let before = ALLOCATIONS.load(Relaxed);
        for _ in 0..CALLS {
            case();
        }
        let per_call = (ALLOCATIONS.load(Relaxed) - before) as f64 / CALLS as f64;
        println!("allocations per call: {name:<20} {per_call:.2}");
    }
}
