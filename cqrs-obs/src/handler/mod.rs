//! The instrumented call site: per-handler static state, the per-call drop guard, outcomes,
//! and the registry of every handler the macros generated.
//!
//! One recording per call lives in the handler's [`HandlerSite`]; `/metrics`, the SLO windows
//! and the anomaly detectors all read it through [`HandlerSite::snapshot`].

mod guard;
mod outcome;
mod site;
pub(crate) mod timebase;

#[cfg(feature = "cqrs-es")]
pub(crate) use guard::site_addr;
pub use guard::{enable, is_enabled};
#[doc(hidden)]
pub use guard::{AsyncCallGuard, CallGuard, Parent, ParentMode};
pub use outcome::{ClassifyError, Outcome};
#[doc(hidden)]
pub use outcome::{Probe, ProbeAny, ProbeClassified, ProbeResult};
pub use site::{
    HandlerKind, HandlerMeta, HandlerSite, HandlerSnapshot, OutcomeStats, ThresholdCounts,
    ThresholdsFull, BUCKETS, BUCKET_BOUNDS_NANOS, OWNED_SHARDS, THRESHOLDS,
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
    let added = added()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    inventory::iter::<Registration>
        .into_iter()
        .map(|r| r.0)
        .chain(added.clone())
}

fn added() -> &'static std::sync::RwLock<Vec<&'static HandlerSite>> {
    static ADDED: std::sync::RwLock<Vec<&'static HandlerSite>> = std::sync::RwLock::new(Vec::new());
    &ADDED
}

/// Registers a handler that no macro annotates (one found at run time, such as a framework's
/// generic command dispatch): it is recorded, exposed and evaluated like the annotated ones.
///
/// The site lives for the rest of the process (about 15 KiB): call this once per handler, not
/// per call. [`registered`] lists it after the annotated handlers.
///
/// ```
/// use cqrs_obs::handler::{self, HandlerKind, HandlerMeta};
/// let site = handler::register(HandlerMeta {
///     kind: HandlerKind::Command,
///     name: "open_account",
///     message: "OpenAccount",
///     aggregate: Some("Account"),
///     projection: None,
///     saga: None,
///     module: module_path!(),
///     file: file!(),
///     line: line!(),
///     is_async: true,
/// });
/// assert!(handler::registered().any(|s| std::ptr::eq(s, site)));
/// ```
pub fn register(meta: HandlerMeta) -> &'static HandlerSite {
    let site: &'static HandlerSite = Box::leak(Box::new(HandlerSite::new(meta)));
    added()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(site);
    crate::slo::on_registered(site);
    site
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
