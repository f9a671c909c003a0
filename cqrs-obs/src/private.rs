//! What macro-generated code calls. Not part of the public API.

pub use ::inventory;
pub use ::metrics;
pub use ::tracing;

pub use crate::context::WithContext;
pub use crate::handler::{
    call_once, AsyncCallGuard, CallGuard, HandlerKind, HandlerMeta, HandlerSite, Outcome, Parent,
    ParentMode, Probe, ProbeAny, ProbeClassified, ProbeResult, Registration,
};
pub use crate::health::{
    HealthFuture, HealthStatus, IntoHealthStatus, RegisteredFn as HealthFn,
    Registration as HealthRegistration,
};

/// The parent of an event handler call, read from the event's metadata.
#[inline]
pub fn parent_from_metadata<C: crate::propagation::Carrier + ?Sized>(metadata: &C) -> Parent {
    if crate::handler::is_enabled() {
        Parent::Extracted(crate::propagation::extract(metadata), None)
    } else {
        Parent::Current
    }
}

/// Like [`parent_from_metadata`], for a handler with its own `parent = ".."` option.
#[inline]
pub fn parent_from_metadata_as<C: crate::propagation::Carrier + ?Sized>(
    metadata: &C,
    mode: ParentMode,
) -> Parent {
    if crate::handler::is_enabled() {
        Parent::Extracted(crate::propagation::extract(metadata), Some(mode))
    } else {
        Parent::Current
    }
}

/// The SLO types `#[slo]` builds.
pub use crate::slo;
pub use crate::slo::SloRegistration;
pub use cqrs_obs_macros::handler_marker;
