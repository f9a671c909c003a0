//! The per-call drop guard: times the call, records its outcome exactly once (also on panic
//! and cancellation) and keeps the message context installed for sync calls.

use std::sync::OnceLock;

use super::outcome::Outcome;
use super::site::{shard_index, HandlerSite};
use crate::context::{self, Context, Installed};

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
    Extracted(super::super::propagation::Extracted),
}

#[derive(Debug)]
struct Armed {
    site: &'static HandlerSite,
    clock: &'static quanta::Clock,
    start: u64,
    shard: usize,
    outcome: Option<Outcome>,
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
    armed: Option<Armed>,
    context: Option<Context>,
    installed: Option<Installed>,
}

fn derive_context(site: &HandlerSite, parent: Parent) -> Context {
    use super::site::HandlerKind;
    match parent {
        Parent::Extracted(extracted) => extracted.into_context(),
        Parent::Current => context::with_current(|current| match (current, site.meta().kind) {
            (Some(ctx), HandlerKind::Command) => ctx.child(),
            (Some(ctx), _) => ctx.clone(),
            (None, _) => Context::new_root(),
        }),
    }
}

impl CallGuard {
    #[inline]
    fn start(site: &'static HandlerSite, parent: Parent) -> CallGuard {
        let Some(clock) = CLOCK.get() else {
            return CallGuard {
                armed: None,
                context: None,
                installed: None,
            };
        };
        let context = derive_context(site, parent);
        let shard = shard_index();
        site.record_start(shard);
        let start = clock.raw();
        CallGuard {
            armed: Some(Armed {
                site,
                clock,
                start,
                shard,
                outcome: None,
            }),
            context: Some(context),
            installed: None,
        }
    }

    /// Starts a sync call: the call's context is installed on this thread until the guard drops.
    #[inline]
    pub fn enter_sync(site: &'static HandlerSite, parent: Parent) -> CallGuard {
        let mut guard = CallGuard::start(site, parent);
        if let Some(ctx) = guard.context.take() {
            guard.installed = Some(Installed::new(Some(ctx)));
        }
        guard
    }

    /// Starts an async call: take the context with [`context`](CallGuard::take_context) and
    /// run the body inside [`WithContext`](crate::context::WithContext).
    #[inline]
    pub fn enter_async(site: &'static HandlerSite, parent: Parent) -> CallGuard {
        CallGuard::start(site, parent)
    }

    /// The context for an async body (once; `None` when recording is off).
    #[inline]
    pub fn take_context(&mut self) -> Option<Context> {
        self.context.take()
    }

    /// Sets the outcome the drop will record.
    #[inline]
    pub fn finish(&mut self, outcome: Outcome) {
        if let Some(armed) = &mut self.armed {
            armed.outcome = Some(outcome);
        }
    }
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(armed) = self.armed.take() {
            let end = armed.clock.raw();
            let nanos = armed.clock.delta_as_nanos(armed.start, end);
            let outcome = armed.outcome.unwrap_or_else(|| {
                if std::thread::panicking() {
                    Outcome::Panic
                } else {
                    Outcome::Cancelled
                }
            });
            armed.site.record_end(armed.shard, outcome, nanos);
        }
        // `installed` drops after this, restoring the caller's context.
    }
}
