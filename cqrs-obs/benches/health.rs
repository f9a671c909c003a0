//! Health: the cached `/health` answer (budget ≤ 50 µs) and a parallel run of 50 checks,
//! which should take about the slowest check, not the sum.
//!
//! * `health/cached_answer/in_process`: what the `/health` route does for 10 checks with an
//!   interval (answered from their cache): select, aggregate, build the Spring JSON and
//!   serialise it.
//! * `check_only` and `json_only`: the two halves of `in_process`.
//! * `health/cached_answer/http_loopback`: the same through the admin endpoint, one GET per
//!   new loopback connection with `std::net::TcpStream` (includes connect and axum).
//! * `health/parallel_50`: 50 checks sleeping 10..=30 ms (their sum is about 1 s).
//!
//! Run: `cargo bench -p cqrs-obs --bench health`

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cqrs_obs::health::{self, Check, HealthStatus, Registry, Selector};
use cqrs_obs::{AdminAddr, Console};
use criterion::{criterion_group, criterion_main, Criterion};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cached_check(i: usize) -> Check {
    Check::from_fn(format!("check-{i}"), move || {
        HealthStatus::up()
            .with_detail("index", i)
            .with_observed("latency", 1.5, "ms")
    })
    .group(if i.is_multiple_of(2) {
        "readiness"
    } else {
        "liveness"
    })
    .interval(Duration::from_secs(3600))
}

fn http_get(addr: SocketAddr, path: &str) -> usize {
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut body = Vec::with_capacity(4096);
    stream.read_to_end(&mut body).unwrap();
    assert!(body.starts_with(b"HTTP/1.1 200"));
    body.len()
}

fn cached_answer(c: &mut Criterion) {
    let rt = runtime();
    let registry = Registry::new();
    for i in 0..10 {
        registry.register(cached_check(i)).unwrap();
        health::register(cached_check(i)).unwrap();
    }
    rt.block_on(registry.run(Selector::All));
    let mut group = c.benchmark_group("health/cached_answer");
    group.bench_function("in_process", |b| {
        b.iter(|| {
            let snapshot = rt.block_on(registry.check(Selector::All));
            let groups = registry.groups();
            let body = health::spring(&snapshot, true, Some(&groups));
            black_box(serde_json::to_vec(&body).unwrap())
        })
    });
    group.bench_function("check_only", |b| {
        b.iter(|| black_box(rt.block_on(registry.check(Selector::All))))
    });
    let snapshot = rt.block_on(registry.check(Selector::All));
    group.bench_function("json_only", |b| {
        b.iter(|| {
            let body = health::spring(&snapshot, true, None);
            black_box(serde_json::to_vec(&body).unwrap())
        })
    });
    let guard = cqrs_obs::builder()
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .console(Console::Off)
        .ignore_env()
        .try_init()
        .unwrap();
    let addr = guard.admin_addr().unwrap();
    http_get(addr, "/health");
    group.bench_function("http_loopback", |b| {
        b.iter(|| black_box(http_get(addr, "/health")))
    });
    group.finish();
    drop(guard);
}

fn parallel_50(c: &mut Criterion) {
    let rt = runtime();
    let registry = Registry::new();
    let mut sum = Duration::ZERO;
    for i in 0..50u64 {
        let sleep = Duration::from_micros(10_000 + i * 400);
        sum += sleep;
        registry
            .register(Check::from_async(format!("c{i}"), move || async move {
                tokio::time::sleep(sleep).await;
                true
            }))
            .unwrap();
    }
    let started = Instant::now();
    rt.block_on(registry.run(Selector::All));
    eprintln!(
        "health/parallel_50: one run {:?}; the slowest check sleeps 29.6 ms, the sum is {sum:?}",
        started.elapsed()
    );
    let mut group = c.benchmark_group("health");
    group.sample_size(10);
    group.bench_function("parallel_50", |b| {
        b.iter(|| black_box(rt.block_on(registry.run(Selector::All)).status))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = cached_answer, parallel_50
}
criterion_main!(benches);
