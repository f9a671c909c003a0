//! The per-call drop guard: times the call, records its outcome exactly once (also on panic
//! and cancellation) and keeps the message context installed for sync calls.

use std::mem::ManuallyDrop;
use std::sync::OnceLock;

use super::outcome::Outcome;
use super::site::{HandlerKind, HandlerSite};
use crate::context::Context;
use crate::local::{self, Local, LOCAL};

/// The clock handler calls are timed with. `None` until [`init`](crate::init) (or
/// [`enable`]) runs: before that, call sites do nothing.
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// Turns recording on without the rest of `init()` (for tests and embedders that set up their
/// own exporters). Idempotent. Calibrating the TSC clock takes a few milliseconds, once.
pub fn enable() {
    CLOCK.get_or_init(quanta::Clock::new);
}

/// Whether call sites record.
pub fn is_enabled() -> bool {
    CLOCK.get().is_some()
}

/// Where the new call's context comes from.
#[doc(hidden)]
#[derive(Debug)]
pub enum Parent {
    /// Derive from whatever context is current on this thread / task.
    Current,
    /// Use ids taken from the incoming message's metadata (missing ones are derived).
    Extracted(crate::propagation::Extracted),
}

impl Parent {
    #[inline]
    fn derive(self, kind: HandlerKind, local: &Local, current: Option<&Context>) -> Context {
        match (self, current) {
            (Parent::Extracted(extracted), current) => extracted.into_context_under(current),
            (Parent::Current, Some(ctx)) if kind == HandlerKind::Command => ctx.child_in(local),
            (Parent::Current, Some(ctx)) => ctx.clone(),
            (Parent::Current, None) => Context::new_root_in(local),
        }
    }
}

const NO_OUTCOME: u8 = u8::MAX;

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
    /// Sync calls: restore `context` as the current one on drop. Async calls: hand it out once.
    restore: bool,
    /// Emptied by hand in `drop` (see `Context::discard`), so no drop glue runs for it.
    context: ManuallyDrop<Option<Context>>,
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
            context: ManuallyDrop::new(None),
        }
    }

    /// Starts a sync call: the call's context is installed on this thread until the guard drops.
    #[inline]
    pub fn enter_sync(site: &'static HandlerSite, parent: Parent) -> CallGuard {
        let Some(clock) = CLOCK.get() else {
            return CallGuard::inert();
        };
        let kind = site.meta().kind;
        let mut guard = CallGuard {
            site: Some(site),
            start: 0,
            shard: 0,
            outcome: NO_OUTCOME,
            restore: true,
            context: ManuallyDrop::new(None),
        };
        let installed = LOCAL.try_with(|local| {
            let mut slot = local.current.borrow_mut();
            let ctx = parent.derive(kind, local, slot.as_ref());
            *guard.context = slot.replace(ctx);
            guard.shard = local.shard();
            site.record_start(guard.shard);
        });
        if installed.is_err() {
            return CallGuard::inert();
        }
        guard.start = clock.raw();
        guard
    }

    /// Starts an async call: take the context with [`take_context`](CallGuard::take_context)
    /// and run the body inside [`WithContext`](crate::context::WithContext).
    #[inline]
    pub fn enter_async(site: &'static HandlerSite, parent: Parent) -> CallGuard {
        let Some(clock) = CLOCK.get() else {
            return CallGuard::inert();
        };
        let kind = site.meta().kind;
        let Ok((shard, ctx)) = LOCAL.try_with(|local| {
            let ctx = parent.derive(kind, local, local.current.borrow().as_ref());
            let shard = local.shard();
            site.record_start(shard);
            (shard, ctx)
        }) else {
            return CallGuard::inert();
        };
        CallGuard {
            site: Some(site),
            start: clock.raw(),
            shard,
            outcome: NO_OUTCOME,
            restore: false,
            context: ManuallyDrop::new(Some(ctx)),
        }
    }

    /// The context for an async body (once; `None` when recording is off).
    #[inline]
    pub fn take_context(&mut self) -> Option<Context> {
        if self.restore {
            return None;
        }
        self.context.take()
    }

    /// Sets the outcome the drop will record.
    #[inline]
    pub fn finish(&mut self, outcome: Outcome) {
        self.outcome = outcome as u8;
    }
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        let Some(site) = self.site else {
            return;
        };
        if let Some(clock) = CLOCK.get() {
            let nanos = clock.delta_as_nanos(self.start, clock.raw());
            let outcome = match Outcome::ALL.get(usize::from(self.outcome)) {
                Some(&outcome) => outcome,
                None if std::thread::panicking() => Outcome::Panic,
                None => Outcome::Cancelled,
            };
            if self.restore {
                // A sync call ends on the thread it started on: its shard, and put the caller's
                // context back (the call's own context is dropped here).
                site.record_end(self.shard, outcome, nanos);
                let previous = self.context.take();
                if let Ok(own) = LOCAL.try_with(|local| local.current.replace(previous)) {
                    Context::discard(own);
                }
            } else {
                site.record_end(local::shard(), outcome, nanos);
            }
        }
        // An async call's context that was never handed out.
        Context::discard(self.context.take());
    }
}
