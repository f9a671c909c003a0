//! The message context: correlation, causation and message ids of the message being handled.
//!
//! The current context lives in a thread-local. Sync handlers install it for the duration of
//! the call; async code carries it in [`WithContext`], which installs it around each poll, so
//! it follows a task across threads on any executor.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use serde::{Serialize, Serializer};

/// An identifier of a message or a conversation.
///
/// Ids minted here are random 128-bit numbers (formatted as 32 lowercase hex digits) and cost
/// no allocation. Ids that arrive from outside (event metadata, HTTP headers) keep their text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Id(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Two halves rather than a `u128`, so that an `Id` is 8-aligned and a `Context` small.
    Random(u64, u64),
    Text(Arc<str>),
}

use crate::local::{Local, LOCAL};
use crate::propagation::{TraceParent, TraceState};

impl Id {
    /// Whether dropping this id is a no-op (it holds no text).
    #[inline(always)]
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.0, Repr::Random(..))
    }

    /// A new unique id (no allocation).
    ///
    /// ```
    /// let a = cqrs_obs::context::Id::random();
    /// assert_ne!(a, cqrs_obs::context::Id::random());
    /// assert_eq!(a.to_string().len(), 32);
    /// ```
    #[inline]
    pub fn random() -> Id {
        let [(hi, lo)] = LOCAL.with(|l| l.next_ids::<1>());
        Id(Repr::Random(hi, lo))
    }

    /// An id received from outside, kept as text. Returns `None` for an empty string.
    ///
    /// ```
    /// let id = cqrs_obs::context::Id::from_text("req-42").unwrap();
    /// assert_eq!(id.to_string(), "req-42");
    /// assert!(cqrs_obs::context::Id::from_text("").is_none());
    /// ```
    pub fn from_text(text: &str) -> Option<Id> {
        if text.is_empty() {
            return None;
        }
        if let Some(id) = crate::propagation::traceparent::decode_id(text.as_bytes()) {
            return Some(Id(Repr::Random((id >> 64) as u64, id as u64)));
        }
        Some(Id(Repr::Text(Arc::from(text))))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Random(hi, lo) => {
                let id = (u128::from(*hi) << 64) | u128::from(*lo);
                let digits = crate::propagation::traceparent::encode_id(id);
                f.write_str(std::str::from_utf8(&digits).unwrap_or_default())
            }
            Repr::Text(t) => f.write_str(t),
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Ids of the message being handled and of the conversation it belongs to, and the W3C trace
/// context of its handling.
///
/// The trace context is there whether or not the trace is sampled: an unsampled call still
/// propagates its trace id and flags, so a downstream service can decide consistently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// The conversation: the same for a command, the events it produced, and everything they
    /// caused in turn.
    pub correlation_id: Id,
    /// The message that caused this one, if known.
    pub causation_id: Option<Id>,
    /// This message's own id, if known.
    pub message_id: Option<Id>,
    /// The W3C trace context: trace id, the id of the span handling the message (the parent of
    /// whatever it produces) and the sampled flag.
    #[serde(serialize_with = "serialize_display")]
    pub trace: TraceParent,
    /// Vendor trace state received with the message, propagated unchanged.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_tracestate"
    )]
    pub tracestate: Option<Arc<TraceState>>,
    /// The live OpenTelemetry span of the handler (sampled calls only).
    #[serde(skip)]
    pub(crate) span: Option<crate::trace::LiveSpan>,
}

fn serialize_tracestate<S: Serializer>(
    value: &Option<Arc<TraceState>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(state) => serializer.collect_str(state),
        None => serializer.serialize_none(),
    }
}

fn serialize_display<S: Serializer>(value: &TraceParent, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl Context {
    /// Drops a context, skipping the drop glue when no id holds text (the hot path's case).
    #[inline(always)]
    pub(crate) fn discard(ctx: Option<Context>) {
        if ctx.as_ref().is_none_or(Context::is_plain) {
            // Nothing to free: every id is two integers.
            std::mem::forget(ctx);
        } else {
            drop(ctx);
        }
    }

    /// Whether dropping this context is a no-op (no span, no trace state, no id with text).
    #[inline(always)]
    pub(crate) fn is_plain(&self) -> bool {
        self.span.is_none()
            && self.tracestate.is_none()
            && self.correlation_id.is_plain()
            && self.causation_id.as_ref().is_none_or(Id::is_plain)
            && self.message_id.as_ref().is_none_or(Id::is_plain)
    }

    /// A new conversation: fresh correlation id, new message id, no cause, and a new trace
    /// whose sampled flag is the configured sampler's decision for a root.
    ///
    /// ```
    /// let ctx = cqrs_obs::context::Context::new_root();
    /// assert_eq!(ctx.trace.to_string().len(), 55);
    /// assert!(ctx.causation_id.is_none());
    /// ```
    pub fn new_root() -> Context {
        LOCAL.with(Context::new_root_in)
    }

    #[inline(always)]
    pub(crate) fn new_root_in(local: &crate::local::Local) -> Context {
        let (prefix, counter) = local.root_ids();
        let sampled = crate::trace::sample_root(crate::trace::root_trace_id(prefix, counter));
        Context::root(prefix, counter, sampled)
    }

    /// The root context whose ids derive from `prefix` and `counter` (see [`Frame::Root`]).
    #[inline(always)]
    fn root(prefix: u64, counter: u64, sampled: bool) -> Context {
        let message = (prefix, counter.wrapping_add(1));
        let flags = crate::propagation::TraceFlags::NONE.with_sampled(sampled);
        Context {
            correlation_id: Id(Repr::Random(prefix, counter)),
            causation_id: None,
            message_id: Some(Id(Repr::Random(message.0, message.1))),
            trace: TraceParent::new(
                crate::trace::root_trace_id(prefix, counter),
                crate::trace::span_id_from(message),
                flags,
            ),
            tracestate: None,
            span: None,
        }
    }

    /// The context of a new message caused by the message of `self`: same correlation,
    /// causation = this message, a new message id. The trace context stays the one of the
    /// span handling `self`, which is what the new message's consumer links to (or continues).
    ///
    /// ```
    /// let root = cqrs_obs::context::Context::new_root();
    /// let child = root.child();
    /// assert_eq!(child.causation_id, root.message_id);
    /// assert_eq!(child.trace, root.trace);
    /// ```
    pub fn child(&self) -> Context {
        LOCAL.with(|local| self.child_in(local))
    }

    #[inline(always)]
    pub(crate) fn child_in(&self, local: &crate::local::Local) -> Context {
        let [(hi, lo)] = local.next_ids::<1>();
        Context {
            correlation_id: self.correlation_id.clone(),
            causation_id: self.message_id.clone(),
            message_id: Some(Id(Repr::Random(hi, lo))),
            trace: self.trace,
            tracestate: self.tracestate.clone(),
            span: None,
        }
    }

    /// The span id for handling a message whose id was drawn as `message_id`: derived from it,
    /// so a command handler draws one id pair for both.
    #[inline(always)]
    pub(crate) fn span_id_for_message(&self) -> Option<crate::propagation::SpanId> {
        match self.message_id {
            Some(Id(Repr::Random(hi, lo))) => Some(crate::trace::span_id_from((hi, lo))),
            _ => None,
        }
    }

    /// The same message handled in another span (a query or event handler called inside
    /// another handler): same ids and trace context; the caller sets the new span's id.
    #[inline(always)]
    pub(crate) fn nested_in(&self, _local: &crate::local::Local) -> Context {
        Context {
            correlation_id: self.correlation_id.clone(),
            causation_id: self.causation_id.clone(),
            message_id: self.message_id.clone(),
            trace: self.trace,
            tracestate: self.tracestate.clone(),
            span: None,
        }
    }

    /// Whether this context's trace is sampled.
    ///
    /// ```
    /// let ctx = cqrs_obs::context::Context::new_root();
    /// assert_eq!(ctx.is_sampled(), ctx.trace.is_sampled());
    /// ```
    pub fn is_sampled(&self) -> bool {
        self.trace.is_sampled()
    }
}

/// One entry of a thread's context stack.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A scope with no context.
    Empty,
    /// A built context.
    Full(Context),
    /// The root context of a new conversation, built only when something reads it. Its ids
    /// all derive from the thread's id prefix and one counter value: the correlation id is
    /// `(prefix, counter)`, the message id `(prefix, counter + 1)`, and the trace and span ids
    /// are mixed from those. An unsampled command that starts a conversation and whose context
    /// nobody reads costs three words on the stack instead of a whole [`Context`].
    Root {
        prefix: u64,
        counter: u64,
        sampled: bool,
    },
}

impl Frame {
    #[inline(always)]
    pub(crate) fn from_context(ctx: Option<Context>) -> Frame {
        match ctx {
            Some(ctx) => Frame::Full(ctx),
            None => Frame::Empty,
        }
    }

    /// A root frame for a new conversation, with the sampler's decision for its trace.
    #[inline(always)]
    pub(crate) fn new_root_in(local: &Local) -> Frame {
        let (prefix, counter) = local.root_ids();
        let sampled = crate::trace::sample_root(crate::trace::root_trace_id(prefix, counter));
        Frame::Root {
            prefix,
            counter,
            sampled,
        }
    }

    /// Builds a [`Root`](Frame::Root) frame's context in place; returns the context, if any.
    #[inline]
    pub(crate) fn materialize(&mut self) -> Option<&mut Context> {
        if let Frame::Root {
            prefix,
            counter,
            sampled,
        } = *self
        {
            *self = Frame::Full(Context::root(prefix, counter, sampled));
        }
        match self {
            Frame::Full(ctx) => Some(ctx),
            _ => None,
        }
    }

    /// The context of a built frame (`None` for an empty one; a root frame must have been
    /// [materialized](Frame::materialize) first).
    #[inline(always)]
    pub(crate) fn built(&self) -> Option<&Context> {
        debug_assert!(!matches!(self, Frame::Root { .. }), "unbuilt root frame");
        match self {
            Frame::Full(ctx) => Some(ctx),
            _ => None,
        }
    }

    /// The frame's context, built if needed.
    #[inline]
    pub(crate) fn into_context(mut self) -> Option<Context> {
        self.materialize();
        match self {
            Frame::Full(ctx) => Some(ctx),
            _ => None,
        }
    }

    /// Whether the frame's trace is sampled.
    #[inline(always)]
    pub(crate) fn is_sampled(&self) -> bool {
        match self {
            Frame::Full(ctx) => ctx.is_sampled(),
            Frame::Root { sampled, .. } => *sampled,
            Frame::Empty => false,
        }
    }

    /// Whether dropping the frame is a no-op.
    #[inline(always)]
    pub(crate) fn is_plain(&self) -> bool {
        match self {
            Frame::Full(ctx) => ctx.is_plain(),
            _ => true,
        }
    }
}

/// The context of the message being handled on this thread (or in this task), if any.
///
/// ```
/// use cqrs_obs::context::{self, Context};
/// assert!(context::current().is_none());
/// let ctx = Context::new_root();
/// context::scope(ctx.clone(), || assert_eq!(context::current(), Some(ctx.clone())));
/// assert!(context::current().is_none());
/// ```
pub fn current() -> Option<Context> {
    with_current(|c| c.cloned())
}

/// Calls `f` with a reference to the current context without cloning it.
pub fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    LOCAL.with(|l| {
        l.materialize_top();
        f(l.stack.borrow().last().and_then(Frame::built))
    })
}

/// Replaces the current context, returning the previous one. Prefer [`scope`] or
/// [`WithContext`], which restore the previous context for you.
pub fn replace(ctx: Option<Context>) -> Option<Context> {
    LOCAL.with(|l| {
        let mut stack = l.stack.borrow_mut();
        match stack.last_mut() {
            Some(top) => std::mem::replace(top, Frame::from_context(ctx)).into_context(),
            None => {
                stack.push(Frame::from_context(ctx));
                None
            }
        }
    })
}

/// Runs `f` with `ctx` as the current context, then restores the previous one (also when `f`
/// panics).
pub fn scope<R>(ctx: Context, f: impl FnOnce() -> R) -> R {
    LOCAL.with(|l| l.push(Some(ctx)));
    let _restore = Popped;
    f()
}

/// Pops the innermost context when dropped (also while unwinding).
struct Popped;

impl Drop for Popped {
    #[inline]
    fn drop(&mut self) {
        // `try_with`: a guard dropped during thread-local destruction must not panic.
        let _ = LOCAL.try_with(|l| Context::discard(l.pop()));
    }
}

pin_project_lite::pin_project! {
    /// A future that runs with a message context installed around each poll.
    ///
    /// ```
    /// use cqrs_obs::context::{self, Context, WithContext};
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let ctx = Context::new_root();
    /// let seen = WithContext::new(Some(ctx.clone()), async { context::current() }).await;
    /// assert_eq!(seen, Some(ctx));
    /// # });
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        ctx: Option<Context>,
        #[pin]
        inner: F,
    }
}

impl<F> WithContext<F> {
    /// Wraps `inner`; with `None` the future runs with no context installed.
    pub fn new(ctx: Option<Context>, inner: F) -> WithContext<F> {
        WithContext { ctx, inner }
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        // A sampled handler's span is the current OpenTelemetry context during the poll, so
        // the user's `tracing` spans created in it become its children.
        let _otel = this
            .ctx
            .as_ref()
            .and_then(|c| c.span.as_ref())
            .map(crate::trace::attach);
        let _swap = Swap::new(this.ctx);
        this.inner.poll(cx)
    }
}

/// Moves a future's context into the thread-local for one poll and back out afterwards (also
/// when the poll panics); what was installed before is untouched underneath.
struct Swap<'a> {
    slot: &'a mut Option<Context>,
}

impl<'a> Swap<'a> {
    #[inline]
    fn new(slot: &'a mut Option<Context>) -> Swap<'a> {
        let ctx = slot.take();
        LOCAL.with(|l| l.push(ctx));
        Swap { slot }
    }
}

impl Drop for Swap<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Ok(ctx) = LOCAL.try_with(Local::pop) {
            *self.slot = ctx;
        }
    }
}

/// Extension to run any future with the current (or a given) context.
pub trait FutureExt: Future + Sized {
    /// Runs this future with `ctx` installed around each poll.
    fn with_message_context(self, ctx: Context) -> WithContext<Self> {
        WithContext::new(Some(ctx), self)
    }

    /// Runs this future with the context current now, wherever it is polled later
    /// (for `tokio::spawn` and friends).
    fn in_current_context(self) -> WithContext<Self> {
        WithContext::new(current(), self)
    }
}

impl<F: Future> FutureExt for F {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_restores_after_panic() {
        let outer = Context::new_root();
        scope(outer.clone(), || {
            let result = std::panic::catch_unwind(|| {
                scope(Context::new_root(), || panic!("boom"));
            });
            assert!(result.is_err());
            assert_eq!(current(), Some(outer.clone()));
        });
        assert_eq!(current(), None);
    }

    #[test]
    fn child_keeps_correlation_and_points_at_parent() {
        let root = Context::new_root();
        let child = root.child();
        assert_eq!(child.correlation_id, root.correlation_id);
        assert_eq!(child.causation_id, root.message_id);
        assert_ne!(child.message_id, root.message_id);
    }

    #[test]
    fn ids_stay_small() {
        assert_eq!(std::mem::size_of::<Id>(), 24);
        assert_eq!(std::mem::size_of::<Option<Id>>(), 24);
    }

    #[test]
    fn text_ids_that_look_random_round_trip() {
        let id = Id::random();
        assert_eq!(Id::from_text(&id.to_string()), Some(id));
        assert_eq!(Id::from_text("ABC").unwrap().to_string(), "ABC");
    }

    #[test]
    fn with_context_restores_outer_between_polls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inner = Context::new_root();
        let outer = Context::new_root();
        scope(outer.clone(), || {
            let seen = rt.block_on(WithContext::new(Some(inner.clone()), async {
                tokio::task::yield_now().await;
                current()
            }));
            assert_eq!(seen, Some(inner.clone()));
            assert_eq!(current(), Some(outer.clone()));
        });
    }
}
