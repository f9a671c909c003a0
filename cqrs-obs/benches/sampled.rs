//! Cost of an instrumented handler call whose trace is sampled, with the OTLP http/protobuf
//! batch exporter sending to a receiver on 127.0.0.1 (the span is built with the
//! OpenTelemetry SDK, queued, and exported in the background), against the same call
//! unsampled (sampler `always_off`, so no span is built).
//!
//! Run: `cargo bench -p cqrs-obs --bench sampled`
//!
//! The batch queue holds 64 Ki spans and is exported every 100 ms; a bench loop produces
//! spans faster than any exporter sends them, so what overflows is dropped (and counted):
//! the figure is the cost on the calling thread, which is what the application pays.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "cases.rs"]
mod cases;
#[path = "support.rs"]
mod support;

use cases::Deposit;
use cqrs_obs::trace::{self, Root, Sampler, TraceConfig};

/// A receiver that answers every export with 200 (an empty body decodes as an empty
/// `ExportTraceServiceResponse`).
fn start_sink() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route("/v1/traces", axum::routing::post(|| async { "" }));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

fn sampled(c: &mut Criterion) {
    support::install_peers();
    let addr = start_sink();
    let mut config = TraceConfig::new("bench", format!("http://{addr}"))
        .scheduled_delay(Duration::from_millis(100));
    config.max_queue_size = 65_536;
    let pipeline = trace::install_tracer(&config).expect("trace pipeline");
    let cmd = Deposit {
        account: 3,
        amount: 4,
    };
    let mut group = c.benchmark_group("sampled");
    trace::set_sampler(Sampler::parent_based(Root::AlwaysOn));
    group.bench_function("cqrs_obs_sampled_otlp_batch", |b| {
        b.iter(|| cases::instrumented(black_box(cmd)))
    });
    trace::set_sampler(Sampler::parent_based(Root::AlwaysOff));
    group.bench_function("cqrs_obs_unsampled_pipeline_installed", |b| {
        b.iter(|| cases::instrumented(black_box(cmd)))
    });
    group.finish();
    trace::set_sampler(Sampler::parent_based(Root::AlwaysOn));
    support::report_allocations(&[("cqrs_obs_sampled", &|| {
        drop(black_box(cases::instrumented(cmd)))
    })]);
    trace::set_sampler(Sampler::parent_based(Root::AlwaysOff));
    // The exporter thread's work on the sampled spans would be counted too (the counter is
    // process-wide): let it finish first.
    pipeline.flush();
    support::report_allocations(&[("cqrs_obs_unsampled", &|| {
        drop(black_box(cases::instrumented(cmd)))
    })]);
    drop(pipeline);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = sampled
}
criterion_main!(benches);
