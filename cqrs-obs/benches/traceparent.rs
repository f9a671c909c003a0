//! `traceparent` parse and format against the budget of DESIGN.md §7 (parse + format ≤ 100 ns,
//! no allocation). opentelemetry is not a dependency of this workspace, so its
//! `TraceContextPropagator` is not compared here; the baseline is what a user would write by
//! hand: `split('-')` and `from_str_radix`, then `format!` (which, like opentelemetry's
//! propagator, also accepts headers the specification rejects).
//!
//! Run: `cargo bench -p cqrs-obs --bench traceparent`

use std::hint::black_box;
use std::time::Duration;

use cqrs_obs::propagation::traceparent::{TraceParent, HEADER_LEN};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support.rs"]
mod support;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UPPERCASE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01";

/// Parse then format into a stack buffer: the propagation round trip.
fn parse_format(header: &str) -> Option<[u8; HEADER_LEN]> {
    let tp = TraceParent::parse(header).ok()?;
    let mut out = [0; HEADER_LEN];
    tp.write_to(&mut out);
    Some(out)
}

/// The hand-written baseline.
fn naive_parse(header: &str) -> Option<(u8, u128, u64, u8)> {
    let mut parts = header.split('-');
    let version = u8::from_str_radix(parts.next()?, 16).ok()?;
    let trace = u128::from_str_radix(parts.next()?, 16).ok()?;
    let span = u64::from_str_radix(parts.next()?, 16).ok()?;
    let flags = u8::from_str_radix(parts.next()?, 16).ok()?;
    Some((version, trace, span, flags))
}

fn naive_format((version, trace, span, flags): (u8, u128, u64, u8)) -> String {
    format!("{version:02x}-{trace:032x}-{span:016x}-{flags:02x}")
}

fn traceparent(c: &mut Criterion) {
    let tp = TraceParent::parse(VALID).expect("valid header");
    let mut group = c.benchmark_group("traceparent");
    group.bench_function("parse", |b| b.iter(|| TraceParent::parse(black_box(VALID))));
    group.bench_function("format", |b| {
        b.iter(|| {
            let mut out = [0; HEADER_LEN];
            black_box(&tp).write_to(&mut out);
            out
        })
    });
    group.bench_function("parse_format", |b| {
        b.iter(|| parse_format(black_box(VALID)))
    });
    group.bench_function("parse_rejected", |b| {
        b.iter(|| TraceParent::parse(black_box(UPPERCASE)))
    });
    group.bench_function("format_to_string", |b| {
        b.iter(|| black_box(&tp).to_string())
    });
    group.bench_function("naive_parse", |b| b.iter(|| naive_parse(black_box(VALID))));
    group.bench_function("naive_parse_format", |b| {
        b.iter(|| naive_parse(black_box(VALID)).map(naive_format))
    });
    group.finish();
    support::report_allocations(&[
        ("parse_format", &|| {
            black_box(parse_format(black_box(VALID)));
        }),
        ("naive_parse_format", &|| {
            drop(black_box(naive_parse(black_box(VALID)).map(naive_format)))
        }),
    ]);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = traceparent
}
criterion_main!(benches);
