//! The instrumented call site: per-handler static state, the per-call drop guard, outcomes,
//! and the registry of every handler the macros generated.
//!
//! One recording per call lives in the handler's [`HandlerSite`]; `/metrics`, the SLO windows
//! and the anomaly detectors all read it through [`HandlerSite::snapshot`].

mod guard;
mod outcome;
mod site;
mod timebase;

pub use guard::{enable, is_enabled};
#[doc(hidden)]
pub use guard::{AsyncCallGuard, CallGuard, Parent, ParentMode};
pub use outcome::{ClassifyError, Outcome};
#[doc(hidden)]
pub use outcome::{Probe, ProbeAny, ProbeClassified, ProbeResult};
pub use site::{
    HandlerKind, HandlerMeta, HandlerSite, HandlerSnapshot, OutcomeStats, BUCKETS,
    BUCKET_BOUNDS_NANOS, OWNED_SHARDS,
};

/// A handler registered by the macros (collected with `inventory`).
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration(pub &'static HandlerSite);

inventory::collect!(Registration);

/// Every handler the macros generated in this binary, in registration order.
///
/// ```
/// for site in cqrs_obs::handler::registered() {
///     println!("{} {}", site.meta().kind.as_str(), site.meta().name);
/// }
/// ```
pub fn registered() -> impl Iterator<Item = &'static HandlerSite> {
    inventory::iter::<Registration>.into_iter().map(|r| r.0)
}

/// Snapshots of every registered handler.
pub fn snapshots() -> Vec<HandlerSnapshot> {
    registered().map(HandlerSite::snapshot).collect()
}

/// Runs `f` as one call of `site`: the body of what the macros generate for a sync handler.
#[doc(hidden)]
#[inline(always)]
pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
    f()
}
