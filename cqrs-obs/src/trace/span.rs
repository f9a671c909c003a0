//! Building and ending spans (sampled path only; everything here may allocate).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{
    Link, SpanContext, SpanKind, Status, TraceContextExt, TraceState as OtelTraceState, Tracer,
};
use opentelemetry::{ContextGuard, KeyValue};

use super::{ids, pipeline};
use crate::context::Context;
use crate::handler::{HandlerKind, HandlerMeta, Outcome};
use crate::propagation::{TraceParent, TraceState};

/// A live OpenTelemetry span in its context: what a sampled handler's
/// [`Context`] carries so that nested work (user spans, loads, appends) can find its parent.
#[derive(Clone)]
pub(crate) struct LiveSpan(Box<opentelemetry::Context>);

impl LiveSpan {
    fn otel(&self) -> &opentelemetry::Context {
        &self.0
    }
}

impl fmt::Debug for LiveSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sc = self.0.span().span_context().clone();
        write!(f, "LiveSpan({}-{})", sc.trace_id(), sc.span_id())
    }
}

/// Two live spans are equal when they are the same span.
impl PartialEq for LiveSpan {
    fn eq(&self, other: &Self) -> bool {
        self.0.span().span_context() == other.0.span().span_context()
    }
}

impl Eq for LiveSpan {}

/// Where a handler span's parent comes from (one byte, so that the hot path moves little;
/// the producer's trace context stays in the caller's `Parent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A new trace, no parent.
    Root,
    /// The context current when the call started.
    Current,
    /// The producer's context, continued as a remote parent.
    Remote,
    /// A new trace linked to the producer's context.
    Link,
}

fn span_context(tp: &TraceParent, state: Option<&Arc<TraceState>>) -> SpanContext {
    let state = state
        .and_then(|s| OtelTraceState::from_key_value(s.iter()).ok())
        .unwrap_or_default();
    SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(tp.trace_id().to_bytes()),
        opentelemetry::trace::SpanId::from_bytes(tp.span_id().to_bytes()),
        opentelemetry::trace::TraceFlags::new(tp.flags().bits() & 1),
        true,
        state,
    )
}

fn remote(tp: &TraceParent, state: Option<&Arc<TraceState>>) -> opentelemetry::Context {
    opentelemetry::Context::new().with_remote_span_context(span_context(tp, state))
}

/// Exports the span of a failed call whose trace was not sampled (the error bias, see
/// [`set_keep_errors`](super::set_keep_errors)): built now, with the ids the call carried and
/// its real start time, as a root of its trace.
#[cold]
#[inline(never)]
pub(crate) fn export_failed_span(
    meta: &HandlerMeta,
    trace: TraceParent,
    ctx: Option<&Context>,
    outcome: Outcome,
    duration: std::time::Duration,
) {
    let Some(tracer) = pipeline::tracer() else {
        return;
    };
    let (name, kind, mut attrs) = match ctx {
        Some(ctx) => handler_attributes(meta, ctx),
        None => (
            format!("{} {}", verb(meta.kind), meta.message),
            kind_of(meta.kind),
            Vec::with_capacity(2),
        ),
    };
    attrs.push(KeyValue::new("cqrs.sampling.error_bias", true));
    let end = std::time::SystemTime::now();
    let start = end.checked_sub(duration).unwrap_or(end);
    let builder = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attrs)
        .with_start_time(start);
    let ids = (trace.trace_id(), trace.span_id());
    let mut span = ids::with_preset(ids, || {
        tracer.build_with_context(builder, &opentelemetry::Context::new())
    });
    use opentelemetry::trace::Span as _;
    if meta.kind == HandlerKind::Command {
        span.set_attribute(KeyValue::new("cqrs.command.outcome", outcome.as_str()));
    }
    span.set_attribute(KeyValue::new("error.type", outcome.as_str()));
    span.set_status(Status::error(outcome.as_str()));
    span.end_with_timestamp(end);
}

fn verb(kind: HandlerKind) -> &'static str {
    match kind {
        HandlerKind::Command => "handle",
        HandlerKind::Event => "process",
        HandlerKind::Query => "query",
    }
}

fn kind_of(kind: HandlerKind) -> SpanKind {
    match kind {
        HandlerKind::Event => SpanKind::Consumer,
        HandlerKind::Command | HandlerKind::Query => SpanKind::Internal,
    }
}

fn handler_attributes(meta: &HandlerMeta, ctx: &Context) -> (String, SpanKind, Vec<KeyValue>) {
    let mut attrs = Vec::with_capacity(6);
    let message = meta.message;
    match meta.kind {
        HandlerKind::Command => {
            attrs.push(KeyValue::new("cqrs.command.type", message));
            if let Some(aggregate) = meta.aggregate {
                attrs.push(KeyValue::new("cqrs.aggregate.type", aggregate));
            }
            (format!("handle {message}"), SpanKind::Internal, attrs)
        }
        HandlerKind::Event => {
            attrs.push(KeyValue::new("cqrs.event.type", message));
            if let Some(group) = meta.projection.or(meta.saga) {
                attrs.push(KeyValue::new("messaging.consumer.group.name", group));
            }
            attrs.push(KeyValue::new(
                "messaging.message.conversation_id",
                ctx.correlation_id.to_string(),
            ));
            if let Some(id) = &ctx.message_id {
                attrs.push(KeyValue::new("messaging.message.id", id.to_string()));
            }
            if let Some(id) = &ctx.causation_id {
                attrs.push(KeyValue::new("cqrs.causation_id", id.to_string()));
            }
            (format!("process {message}"), SpanKind::Consumer, attrs)
        }
        HandlerKind::Query => {
            attrs.push(KeyValue::new("cqrs.query.type", message));
            (format!("query {message}"), SpanKind::Internal, attrs)
        }
    }
}

/// Starts the span of a sampled handler call whose context is `ctx`; `None` without a
/// pipeline. The span's ids are the ones already in `ctx.trace`.
pub(crate) fn start_handler_span(
    meta: &HandlerMeta,
    ctx: &Context,
    origin: Origin,
    current: Option<&Context>,
    producer: Option<TraceParent>,
) -> Option<LiveSpan> {
    let tracer = pipeline::tracer()?;
    let (name, kind, attrs) = handler_attributes(meta, ctx);
    let parent = match (origin, current) {
        (Origin::Current, Some(current)) => match &current.span {
            Some(live) => live.otel().clone(),
            None => remote(&current.trace, current.tracestate.as_ref()),
        },
        (Origin::Remote, _) => match &producer {
            Some(tp) => remote(tp, ctx.tracestate.as_ref()),
            None => opentelemetry::Context::new(),
        },
        _ => opentelemetry::Context::new(),
    };
    let mut builder = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attrs);
    if let (Origin::Link, Some(tp)) = (origin, producer) {
        builder = builder.with_links(vec![Link::with_context(span_context(&tp, None))]);
    }
    let ids = (ctx.trace.trace_id(), ctx.trace.span_id());
    let span = ids::with_preset(ids, || tracer.build_with_context(builder, &parent));
    Some(LiveSpan(Box::new(parent.with_span(span))))
}

/// Ends a handler span with the call's outcome.
pub(crate) fn end_handler_span(span: LiveSpan, kind: HandlerKind, outcome: Outcome) {
    let s = span.otel().span();
    if kind == HandlerKind::Command {
        s.set_attribute(KeyValue::new("cqrs.command.outcome", outcome.as_str()));
    }
    if outcome != Outcome::Ok {
        s.set_attribute(KeyValue::new("error.type", outcome.as_str()));
        s.set_status(Status::error(outcome.as_str()));
    }
    s.end();
}

thread_local! {
    static ATTACHED: RefCell<Vec<ContextGuard>> = const { RefCell::new(Vec::new()) };
}

/// Makes a sync handler's span the current OpenTelemetry context until [`detach_sync`].
pub(crate) fn attach_sync(span: &LiveSpan) {
    let guard = span.otel().clone().attach();
    let _ = ATTACHED.try_with(|a| a.borrow_mut().push(guard));
}

/// Undoes the latest [`attach_sync`] of this thread.
pub(crate) fn detach_sync() {
    let guard = ATTACHED.try_with(|a| a.borrow_mut().pop()).ok().flatten();
    drop(guard);
}

/// Makes `span` the current OpenTelemetry context for the life of the returned guard (one
/// poll of an async handler).
pub(crate) fn attach(span: &LiveSpan) -> ContextGuard {
    span.otel().clone().attach()
}

/// The span of an aggregate load or an event append; ends when dropped.
///
/// Inert (no allocation, every method a no-op) unless the current handler's trace is sampled
/// and a pipeline is installed.
#[derive(Debug)]
#[must_use = "the span ends when this is dropped"]
pub struct OpSpan {
    span: Option<LiveSpan>,
}

impl OpSpan {
    fn start(name: String, kind: SpanKind, attrs: Vec<KeyValue>) -> OpSpan {
        let Some(parent) = crate::context::with_current(|c| c.and_then(|c| c.span.clone())) else {
            return OpSpan { span: None };
        };
        let Some(tracer) = pipeline::tracer() else {
            return OpSpan { span: None };
        };
        let builder = tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attrs);
        let span = tracer.build_with_context(builder, parent.otel());
        OpSpan {
            span: Some(LiveSpan(Box::new(parent.otel().with_span(span)))),
        }
    }

    /// Whether this span records (the trace is sampled and a pipeline is installed).
    pub fn is_recording(&self) -> bool {
        self.span.is_some()
    }

    /// Sets an attribute (no-op when not recording).
    pub fn set_attribute(&self, key: &'static str, value: impl Into<opentelemetry::Value>) {
        if let Some(span) = &self.span {
            span.otel().span().set_attribute(KeyValue::new(key, value));
        }
    }

    /// Load spans: how many events were replayed to rebuild the aggregate.
    pub fn events_replayed(&self, count: u64) {
        self.set_attribute("cqrs.aggregate.events_replayed", count as i64);
    }

    /// Load spans: whether a snapshot was used.
    pub fn snapshot_hit(&self, hit: bool) {
        self.set_attribute("cqrs.snapshot.hit", hit);
    }

    /// Marks the operation failed: span status error and `error.type`.
    pub fn set_error(&self, error_type: impl Into<Cow<'static, str>>) {
        if let Some(span) = &self.span {
            let error_type = error_type.into();
            let s = span.otel().span();
            s.set_attribute(KeyValue::new("error.type", error_type.clone()));
            s.set_status(Status::error(error_type));
        }
    }
}

impl Drop for OpSpan {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            span.otel().span().end();
        }
    }
}

/// Opens the `load {Aggregate}` span (kind CLIENT) of an aggregate load, as a child of the
/// current handler's span.
///
/// ```
/// let span = cqrs_obs::trace::load_span("Account");
/// span.events_replayed(3);
/// span.snapshot_hit(false);
/// assert!(!span.is_recording()); // no handler span is current here
/// ```
pub fn load_span(aggregate: &str) -> OpSpan {
    if !current_is_live() {
        return OpSpan { span: None };
    }
    OpSpan::start(
        format!("load {aggregate}"),
        SpanKind::Client,
        vec![KeyValue::new("cqrs.aggregate.type", aggregate.to_owned())],
    )
}

/// Opens the `send {Aggregate}` span (kind PRODUCER) of an append of `message_count` events,
/// as a child of the current handler's span.
///
/// ```
/// let span = cqrs_obs::trace::send_span("Account", 2);
/// span.set_error("conflict");
/// drop(span);
/// ```
pub fn send_span(aggregate: &str, message_count: usize) -> OpSpan {
    if !current_is_live() {
        return OpSpan { span: None };
    }
    OpSpan::start(
        format!("send {aggregate}"),
        SpanKind::Producer,
        vec![
            KeyValue::new("cqrs.aggregate.type", aggregate.to_owned()),
            KeyValue::new("messaging.operation.type", "send"),
            KeyValue::new("messaging.batch.message_count", message_count as i64),
        ],
    )
}

fn current_is_live() -> bool {
    crate::context::with_current(|c| c.is_some_and(|c| c.span.is_some()))
}

/// Sets `cqrs.aggregate.id` on the current handler's span (no-op when it is not recorded).
/// Ids are span attributes, never metric labels.
///
/// ```
/// cqrs_obs::trace::record_aggregate_id("acc-42");
/// ```
pub fn record_aggregate_id(id: impl fmt::Display) {
    crate::context::with_current(|c| {
        if let Some(span) = c.and_then(|c| c.span.as_ref()) {
            span.otel()
                .span()
                .set_attribute(KeyValue::new("cqrs.aggregate.id", id.to_string()));
        }
    });
}
