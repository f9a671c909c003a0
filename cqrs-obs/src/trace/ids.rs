//! Trace and span ids drawn from the per-thread id source of the hot path (no lock, no
//! allocation), and the same source offered to the OpenTelemetry SDK so that spans of users'
//! `tracing` instrumentation get ids the same way.

use std::cell::Cell;

use opentelemetry_sdk::trace::IdGenerator;

use crate::local::{Local, LOCAL};
use crate::propagation::{SpanId, TraceFlags, TraceId, TraceParent};

/// Fibonacci hashing: multiplication by an odd constant is a bijection, so distinct counters
/// give distinct outputs, and it spreads consecutive counters over the high bits, which are
/// the bits ratio sampling compares (see `sampler::trace_id_bits`).
#[inline(always)]
fn mix(z: u64) -> u64 {
    z.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline(always)]
fn trace_id_in(local: &Local) -> TraceId {
    let [(prefix, counter)] = local.next_ids::<1>();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&prefix.to_be_bytes());
    bytes[8..].copy_from_slice(&mix(counter).to_be_bytes());
    // The prefix is odd, so the id is never all zeros.
    match TraceId::new(bytes) {
        Some(id) => id,
        None => unreachable_id(),
    }
}

#[cold]
fn unreachable_id() -> TraceId {
    TraceId::new([1; 16]).unwrap_or_else(|| unreachable!())
}

/// A new span id (never zero).
#[inline(always)]
pub(crate) fn new_span_id(local: &Local) -> SpanId {
    let [ids] = local.next_ids::<1>();
    span_id_from(ids)
}

/// The trace context of a new trace: new trace and span ids, sampled as the sampler decides.
#[inline(always)]
pub(crate) fn new_root_trace(local: &Local) -> TraceParent {
    let [a, b] = local.next_ids::<2>();
    root_trace_from(a, b)
}

/// A new trace whose ids are derived from two fresh id pairs (the hot path reuses the pairs
/// it draws for the correlation and message ids: the derivation is a bijection of the
/// counter, so trace ids stay unique per process, with well-mixed low bits).
#[inline(always)]
pub(crate) fn root_trace_from(trace: (u64, u64), span: (u64, u64)) -> TraceParent {
    let trace_id = root_trace_id(trace.0, trace.1);
    let flags = TraceFlags::NONE.with_sampled(super::sample_root(trace_id));
    TraceParent::new(trace_id, span_id_from(span), flags)
}

/// The trace id derived from the id pair `(prefix, counter)`.
#[inline(always)]
pub(crate) fn root_trace_id(prefix: u64, counter: u64) -> TraceId {
    let id = (u128::from(prefix) << 64) | u128::from(mix(counter));
    // The prefix is odd, so the id is never all zeros.
    match TraceId::new(id.to_be_bytes()) {
        Some(id) => id,
        None => unreachable_id(),
    }
}

/// A span id derived from a fresh id pair (never zero).
#[inline(always)]
pub(crate) fn span_id_from((prefix, counter): (u64, u64)) -> SpanId {
    let bits = mix(counter ^ prefix.rotate_left(32)) | 1;
    match SpanId::new(bits.to_be_bytes()) {
        Some(id) => id,
        None => SpanId::new([1; 8]).unwrap_or_else(|| unreachable!()),
    }
}

thread_local! {
    /// Ids the SDK must use for the span being built on this thread (our handler spans).
    static PRESET: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Runs `f` (which builds one span) with the SDK drawing `ids` for it.
pub(crate) fn with_preset<R>(ids: (TraceId, SpanId), f: impl FnOnce() -> R) -> R {
    PRESET.with(|p| p.set(Some(ids)));
    let out = f();
    PRESET.with(|p| p.set(None));
    out
}

/// Whether a span with preset ids is being built on this thread (its sampling is decided).
pub(crate) fn preset_active() -> bool {
    PRESET.with(|p| p.get().is_some())
}

/// The SDK's id generator: preset ids for handler spans, the per-thread source otherwise.
#[derive(Debug, Default)]
pub(crate) struct Ids;

impl IdGenerator for Ids {
    fn new_trace_id(&self) -> opentelemetry::trace::TraceId {
        let id = match PRESET.with(Cell::get) {
            Some((trace_id, _)) => trace_id,
            None => LOCAL.with(trace_id_in),
        };
        opentelemetry::trace::TraceId::from_bytes(id.to_bytes())
    }

    fn new_span_id(&self) -> opentelemetry::trace::SpanId {
        let id = match PRESET.with(Cell::get) {
            Some((_, span_id)) => span_id,
            None => LOCAL.with(new_span_id),
        };
        opentelemetry::trace::SpanId::from_bytes(id.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let tp = LOCAL.with(new_root_trace);
            assert!(seen.insert(tp.trace_id()));
            assert_ne!(tp.span_id().to_bytes(), [0; 8]);
        }
    }

    #[test]
    fn preset_ids_reach_the_sdk_generator() {
        let trace_id = TraceId::new([3; 16]).unwrap();
        let span_id = SpanId::new([4; 8]).unwrap();
        let (t, s) = with_preset((trace_id, span_id), || {
            (Ids.new_trace_id(), Ids.new_span_id())
        });
        assert_eq!(t.to_bytes(), [3; 16]);
        assert_eq!(s.to_bytes(), [4; 8]);
        assert!(!preset_active());
        assert_ne!(Ids.new_span_id().to_bytes(), [4; 8]);
    }
}
