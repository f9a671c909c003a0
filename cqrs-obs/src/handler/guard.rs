//! The per-call drop guard: times the call, records its outcome exactly once (also on panic
//! and cancellation) and keeps the message context installed for sync calls.

use std::mem::ManuallyDrop;

use super::outcome::Outcome;
use super::site::{HandlerKind, HandlerSite};
use crate::context::{Context, Frame};
use crate::local::{self, Local, LOCAL};
use crate::propagation::TraceParent;
use crate::trace::{LiveSpan, Origin};

use super::timebase::Timebase;

/// Turns recording on without the rest of `init()` (for tests and embedders that set up their
/// own exporters). Idempotent. Calibrating the TSC clock takes a few milliseconds, once.
/// Before it runs, call sites do nothing.
pub fn enable() {
    Timebase::enable();
}

/// Whether call sites record.
pub fn is_enabled() -> bool {
    Timebase::get().is_some()
}

/// Where the new call's context comes from.
#[doc(hidden)]
#[derive(Debug)]
pub enum Parent {
    /// Derive from whatever context is current on this thread / task.
    Current,
    /// Use ids taken from the incoming message's metadata (missing ones are derived), with the
    /// handler's `parent = ..` choice (`None`: the global [`EventParent`](crate::trace::EventParent)).
    Extracted(crate::propagation::Extracted, Option<ParentMode>),
}

/// An event handler's own `parent = ".."` option.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentMode {
    /// `parent = "link"`: always a new trace linked to the producer.
    Link,
    /// `parent = "child"`: continue the producer's trace when the event is young enough.
    Child,
}

impl Parent {
    /// The producer's trace context (event handlers reading metadata).
    #[inline(always)]
    fn producer(&self) -> Option<TraceParent> {
        match self {
            Parent::Extracted(extracted, _) => extracted.trace,
            Parent::Current => None,
        }
    }

    /// Drops the parent with its drop glue kept off the hot path (`Current` has none).
    #[inline(always)]
    fn release(self) {
        if let Parent::Extracted(extracted, _) = self {
            drop_extracted(extracted);
        }
    }

    /// [`derive`](Parent::derive) writing the context into `slot`.
    #[inline(always)]
    fn derive_into(
        &mut self,
        kind: HandlerKind,
        local: &Local,
        current: Option<&Context>,
        slot: &mut Frame,
    ) -> Origin {
        if let (Parent::Current, None) = (&*self, current) {
            // A new conversation: its context is built only if something reads it.
            *slot = Frame::new_root_in(local);
            return Origin::Root;
        }
        let (ctx, origin) = self.derive(kind, local, current);
        *slot = Frame::Full(ctx);
        origin
    }

    #[inline]
    fn derive(
        &mut self,
        kind: HandlerKind,
        local: &Local,
        current: Option<&Context>,
    ) -> (Context, Origin) {
        match (self, current) {
            (Parent::Extracted(extracted, mode), current) => {
                let child = extracted.trace.is_some() && wants_child(extracted, *mode);
                extracted.take_handler_context(local, current, child)
            }
            (Parent::Current, Some(ctx)) => {
                let sampled = crate::trace::sample_child(ctx.trace.trace_id(), ctx.is_sampled());
                let mut derived = if kind == HandlerKind::Command {
                    ctx.child_in(local)
                } else {
                    ctx.nested_in(local)
                };
                let span = match derived
                    .span_id_for_message()
                    .filter(|_| kind == HandlerKind::Command)
                {
                    Some(span) => span,
                    None => crate::trace::new_span_id(local),
                };
                let flags = ctx.trace.flags().with_sampled(sampled);
                derived.trace = TraceParent::new(ctx.trace.trace_id(), span, flags);
                (derived, Origin::Current)
            }
            (Parent::Current, None) => (Context::new_root_in(local), Origin::Root),
        }
    }
}

#[cold]
#[inline(never)]
fn drop_extracted(extracted: crate::propagation::Extracted) {
    drop(extracted);
}

#[cold]
fn wants_child(extracted: &crate::propagation::Extracted, mode: Option<ParentMode>) -> bool {
    use crate::trace::EventParent;
    let max_age = match (mode, crate::trace::event_parent()) {
        (Some(ParentMode::Link), _) | (None, EventParent::Link) => return false,
        (_, EventParent::ChildIfYoungerThan(age)) => age,
        (Some(ParentMode::Child), EventParent::Link) => crate::trace::DEFAULT_CHILD_MAX_AGE,
    };
    extracted.is_younger_than(max_age)
}

/// Builds the span of a sampled call (cold: the unsampled path never comes here).
#[cold]
#[inline(never)]
fn start_span(
    site: &'static HandlerSite,
    ctx: &mut Context,
    origin: Origin,
    current: Option<&Context>,
    producer: Option<TraceParent>,
) -> Option<LiveSpan> {
    let span = crate::trace::start_handler_span(site.meta(), ctx, origin, current, producer)?;
    ctx.span = Some(span.clone());
    Some(span)
}

const NO_OUTCOME: u8 = u8::MAX;

/// What [`Local::absorbing`](crate::local::Local) holds for `site`.
#[inline(always)]
pub(crate) fn site_addr(site: &'static HandlerSite) -> usize {
    site as *const HandlerSite as usize
}

/// The guard of an async call that records nothing because a wrapper around it already records
/// the call (see [`Local::absorbing`](crate::local::Local)): its body keeps the wrapper's
/// context. Also the guard when thread-locals are gone (no context then).
#[cold]
#[inline(never)]
fn absorbed() -> AsyncCallGuard {
    AsyncCallGuard {
        guard: CallGuard::inert(),
        context: ManuallyDrop::new(LOCAL.try_with(|_| crate::context::current()).ok().flatten()),
        pending: None,
        trace: None,
    }
}

/// Times one handler call and records it when dropped.
///
/// If [`finish`](CallGuard::finish) was not called before the drop, the call is recorded as
/// [`Outcome::Panic`] when the thread is unwinding and as [`Outcome::Cancelled`] otherwise
/// (an async handler whose future was dropped mid-flight).
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "the call is recorded when the guard drops"]
pub struct CallGuard {
    /// `None` when recording is off: the guard does nothing.
    site: Option<&'static HandlerSite>,
    start: u64,
    /// The shard `start` was counted on (sync calls end on the same thread).
    shard: usize,
    outcome: u8,
    /// Sync calls: pop the call's context off the thread's stack on drop.
    restore: bool,
    /// The call's span (sampled calls with a pipeline only); taken by hand in `drop`, so no
    /// drop glue runs for it.
    span: ManuallyDrop<Option<LiveSpan>>,
}

impl CallGuard {
    #[inline(always)]
    fn inert() -> CallGuard {
        CallGuard {
            site: None,
            start: 0,
            shard: 0,
            outcome: NO_OUTCOME,
            restore: false,
            span: ManuallyDrop::new(None),
        }
    }

    /// Starts a sync call: the call's context is installed on this thread until the guard drops.
    #[inline]
    pub fn enter_sync(site: &'static HandlerSite, mut parent: Parent) -> CallGuard {
        let Some(clock) = Timebase::get() else {
            return CallGuard::inert();
        };
        let kind = site.meta().kind;
        let mut guard = CallGuard {
            site: Some(site),
            start: 0,
            shard: 0,
            outcome: NO_OUTCOME,
            restore: true,
            span: ManuallyDrop::new(None),
        };
        let installed = LOCAL.try_with(|local| {
            if local.absorbing.get() == site_addr(site) {
                return false;
            }
            let mut stack = local.stack.borrow_mut();
            if stack.capacity() == 0 {
                stack.reserve(8);
            }
            // The caller's context, if any, is what the call's derives from.
            if let Some(caller) = stack.last_mut() {
                caller.materialize();
            }
            // The call's context is built where it will live, on top of the stack.
            let below = stack.len();
            stack.push(Frame::Empty);
            let (callers, top) = stack.split_at_mut(below);
            let current = callers.last().and_then(Frame::built);
            let origin = parent.derive_into(kind, local, current, &mut top[0]);
            if top[0].is_sampled() && crate::trace::has_tracer() {
                if let Some(ctx) = top[0].materialize() {
                    *guard.span = start_span(site, ctx, origin, current, parent.producer());
                }
            }
            guard.shard = local.shard();
            site.record_start(guard.shard);
            true
        });
        parent.release();
        if installed != Ok(true) {
            return CallGuard::inert();
        }
        if let Some(span) = &*guard.span {
            crate::trace::attach_sync(span);
        }
        guard.start = clock.now();
        guard
    }

    /// Starts an async call: take the context with
    /// [`take_context`](AsyncCallGuard::take_context) and run the body inside
    /// [`WithContext`](crate::context::WithContext).
    #[inline]
    pub fn enter_async(site: &'static HandlerSite, mut parent: Parent) -> AsyncCallGuard {
        let inert = || AsyncCallGuard {
            guard: CallGuard::inert(),
            context: ManuallyDrop::new(None),
            pending: None,
            trace: None,
        };
        let Some(clock) = Timebase::get() else {
            return inert();
        };
        let kind = site.meta().kind;
        let Ok(Some((shard, ctx, span, pending))) = LOCAL.try_with(|local| {
            if local.absorbing.get() == site_addr(site) {
                return None;
            }
            local.materialize_top();
            let stack = local.stack.borrow();
            let current = stack.last().and_then(Frame::built);
            let (mut ctx, origin) = parent.derive(kind, local, current);
            let span = if ctx.is_sampled() && crate::trace::has_tracer() {
                start_span(site, &mut ctx, origin, current, parent.producer())
            } else {
                None
            };
            let shard = local.shard();
            site.record_start(shard);
            let pending = crate::trace::Pending::of(&ctx);
            Some((shard, ctx, span, pending))
        }) else {
            parent.release();
            return absorbed();
        };
        parent.release();
        AsyncCallGuard {
            guard: CallGuard {
                site: Some(site),
                start: clock.now(),
                shard,
                outcome: NO_OUTCOME,
                restore: false,
                span: ManuallyDrop::new(span),
            },
            trace: Some(ctx.trace),
            context: ManuallyDrop::new(Some(ctx)),
            pending,
        }
    }

    /// Sets the outcome the drop will record.
    #[inline]
    pub fn finish(&mut self, outcome: Outcome) {
        self.outcome = outcome as u8;
    }

    /// The outcome to record: the one set by `finish`, else `panic` while unwinding, else
    /// `cancelled`.
    #[inline(always)]
    fn outcome(&self) -> Outcome {
        match Outcome::ALL.get(usize::from(self.outcome)) {
            Some(&outcome) => outcome,
            None if std::thread::panicking() => Outcome::Panic,
            None => Outcome::Cancelled,
        }
    }
}

impl Drop for CallGuard {
    #[inline(always)]
    fn drop(&mut self) {
        let Some(site) = self.site else {
            return;
        };
        let span = self.span.take();
        if let Some(clock) = Timebase::get() {
            let ticks = clock.now().saturating_sub(self.start);
            let bucket = clock.bucket(ticks);
            let outcome = self.outcome();
            if let Some(span) = span {
                end_span(span, site, outcome, self.restore);
            }
            if self.restore {
                // A sync call ends on the thread it started on: its shard, and put the caller's
                // context back (the call's own context is dropped here).
                site.record_end(self.shard, outcome, bucket, ticks);
                let _ = LOCAL.try_with(|local| {
                    let mut stack = local.stack.borrow_mut();
                    // Sampled calls go to the journal; failed ones may be kept anyway.
                    let (keep, plain) = match stack.last() {
                        Some(frame) => {
                            (frame.is_sampled() || outcome.is_failure(), frame.is_plain())
                        }
                        None => (false, true),
                    };
                    if !keep && plain {
                        // Nothing to free or record: forgetting it lets the compiler skip
                        // moving it out of the stack.
                        std::mem::forget(stack.pop());
                        return;
                    }
                    let own = stack.pop().and_then(Frame::into_context);
                    drop(stack);
                    if let (true, Some(ctx)) = (keep, &own) {
                        after_sync(site, ctx, outcome, clock.nanos(ticks));
                    }
                    Context::discard(own);
                });
            } else {
                site.record_end(local::shard(), outcome, bucket, ticks);
            }
        }
    }
}

/// The guard of an async call: a [`CallGuard`] plus the context its body runs with, handed out
/// once by [`take_context`](AsyncCallGuard::take_context). Kept apart so that a sync call's
/// guard stays small.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "the call is recorded when the guard drops"]
pub struct AsyncCallGuard {
    guard: CallGuard,
    /// Emptied by hand in `drop` (see `Context::discard`), so no drop glue runs for it.
    context: ManuallyDrop<Option<Context>>,
    /// The ids the causation journal records when the call ends (sampled calls only).
    pending: Option<Box<crate::trace::Pending>>,
    /// The call's trace context, for the error bias (the body holds the context).
    trace: Option<TraceParent>,
}

impl AsyncCallGuard {
    /// The context for the body (once; `None` when recording is off).
    #[inline]
    pub fn take_context(&mut self) -> Option<Context> {
        self.context.take()
    }

    /// Sets the outcome the drop will record.
    #[inline]
    pub fn finish(&mut self, outcome: Outcome) {
        self.guard.finish(outcome);
    }
}

impl Drop for AsyncCallGuard {
    #[inline]
    fn drop(&mut self) {
        // A context that was never handed out (the future was dropped before its first poll).
        Context::discard(self.context.take());
        if let Some(pending) = self.pending.take() {
            journal_async(&self.guard, *pending);
        }
        if let (Some(site), Some(trace)) = (self.guard.site, self.trace) {
            if !trace.is_sampled() && self.guard.outcome().is_failure() {
                if let Some(clock) = Timebase::get() {
                    let nanos = clock.nanos(clock.now().saturating_sub(self.guard.start));
                    keep_error(site, trace, None, self.guard.outcome(), nanos);
                }
            }
        }
    }
}

/// What a sampled or failed sync call leaves besides its metrics: its journal record, or
/// (error bias) its span although its trace was not sampled.
#[cold]
#[inline(never)]
fn after_sync(site: &'static HandlerSite, ctx: &Context, outcome: Outcome, nanos: u64) {
    crate::trace::journal_record(site.meta(), ctx, outcome, nanos);
    if outcome.is_failure() && !ctx.is_sampled() {
        keep_error(site, ctx.trace, Some(ctx), outcome, nanos);
    }
}

/// The error bias: a failed call whose trace was not sampled exports its own span anyway.
#[inline(always)]
fn keep_error(
    site: &'static HandlerSite,
    trace: TraceParent,
    ctx: Option<&Context>,
    outcome: Outcome,
    nanos: u64,
) {
    if crate::trace::keeps_errors() {
        crate::trace::export_failed_span(
            site.meta(),
            trace,
            ctx,
            outcome,
            std::time::Duration::from_nanos(nanos),
        );
    }
}

/// Records a sampled async call in the causation journal (its `CallGuard` records the metrics
/// right after).
#[cold]
#[inline(never)]
fn journal_async(guard: &CallGuard, pending: crate::trace::Pending) {
    if let (Some(site), Some(clock)) = (guard.site, Timebase::get()) {
        let nanos = clock.nanos(clock.now().saturating_sub(guard.start));
        crate::trace::journal_record_pending(site.meta(), pending, guard.outcome(), nanos);
    }
}

#[cold]
#[inline(never)]
fn end_span(span: LiveSpan, site: &'static HandlerSite, outcome: Outcome, sync: bool) {
    if sync {
        crate::trace::detach_sync();
    }
    crate::trace::end_handler_span(span, site.meta().kind, outcome);
}
