//! Traces: handler spans built with the OpenTelemetry SDK directly, head sampling decided
//! before any span exists, the spans of aggregate loads and event appends, and the OTLP
//! pipeline.
//!
//! Every handler call gets a W3C trace context in its [`Context`](crate::context::Context),
//! sampled or not. Only when the trace is sampled *and* a pipeline is installed (by
//! [`init`](crate::init) with an OTLP endpoint, or [`install_tracer`]) is a span built:
//!
//! | handler | span name | kind |
//! |---|---|---|
//! | `#[command_handler]` | `handle {Command}` | INTERNAL |
//! | `#[event_handler]` | `process {Event}` | CONSUMER |
//! | `#[query_handler]` | `query {Query}` | INTERNAL |
//! | [`load_span`] | `load {Aggregate}` | CLIENT |
//! | [`send_span`] | `send {Aggregate}` | PRODUCER |
//!
//! A user's own `tracing` spans and events inside a handler are children of the handler's
//! span: the handler's OpenTelemetry context is attached around the sync body and around each
//! poll of an async one, and the `tracing-opentelemetry` layer that `init()` installs parents
//! contextual root spans on it.

mod ids;
mod journal;
mod pipeline;
mod sampler;
mod span;

pub(crate) use ids::{new_root_trace, new_span_id, root_trace_id, span_id_from};
pub(crate) use journal::record as journal_record;
pub(crate) use journal::record_pending as journal_record_pending;
pub(crate) use journal::record_sent as journal_record_sent;
pub(crate) use journal::Pending;
pub use journal::{
    causation_chain, clear as clear_journal, conversation, correlate_command_to_events,
    is_enabled as journal_enabled, set_enabled as set_journal_enabled, CallRecord,
    ConversationView, MessageView, SentView, CAPACITY as JOURNAL_CAPACITY,
};
pub use pipeline::{
    install_tracer, otel_layer, Protocol, SpanOutput, TraceConfig, TraceError, TracePipeline,
};
pub(crate) use sampler::{adapt, sample_child, sample_root};
pub use sampler::{
    keeps_errors, sampler, set_keep_errors, set_sampler, Root, Sampler, SamplerError,
    ACCEPTED as ACCEPTED_SAMPLERS,
};
pub(crate) use span::{
    attach, attach_sync, detach_sync, end_handler_span, export_failed_span, start_handler_span,
    LiveSpan, Origin,
};
pub use span::{load_span, record_aggregate_id, send_span, OpSpan};

/// Whether a trace pipeline is installed (handler spans are built for sampled calls).
#[inline(always)]
pub(crate) fn has_tracer() -> bool {
    pipeline::tracer().is_some()
}

/// How an event handler relates its span to the context that produced the event.
///
/// ```
/// use std::time::Duration;
/// use cqrs_obs::trace::{self, EventParent};
/// trace::set_event_parent(EventParent::ChildIfYoungerThan(Duration::from_secs(5)));
/// trace::set_event_parent(EventParent::Link);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventParent {
    /// A new root span with a link to the producer (the default): a replayed or redelivered
    /// event never grows the producer's trace.
    #[default]
    Link,
    /// A child of the producer's span when the event was produced less than this long ago
    /// (its metadata carries `produced_at`), a linked root otherwise.
    ChildIfYoungerThan(std::time::Duration),
}

static EVENT_PARENT_MAX_AGE_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets how event handlers without their own `parent = ..` option relate to the producer.
pub fn set_event_parent(mode: EventParent) {
    let ms = match mode {
        EventParent::Link => 0,
        EventParent::ChildIfYoungerThan(age) => {
            u64::try_from(age.as_millis()).unwrap_or(u64::MAX).max(1)
        }
    };
    EVENT_PARENT_MAX_AGE_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// How long an event may have been produced for a `parent = "child"` handler to continue the
/// producer's trace when no global [`EventParent::ChildIfYoungerThan`] is set.
pub const DEFAULT_CHILD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(10);

/// The global event-parent mode.
///
/// ```
/// assert_eq!(cqrs_obs::trace::event_parent(), cqrs_obs::trace::EventParent::Link);
/// ```
pub fn event_parent() -> EventParent {
    match EVENT_PARENT_MAX_AGE_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => EventParent::Link,
        ms => EventParent::ChildIfYoungerThan(std::time::Duration::from_millis(ms)),
    }
}
