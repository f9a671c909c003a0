//! Anomaly detection: streaming detectors, composite, confidence, trend, and the service
//! that feeds them from the handler recordings.

use axum::Router;

/// The admin routes of this module (`/anomalies`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}

/// Feeds the built-in CQRS detectors from the handlers' recordings; runs on the background
/// tick.
pub(crate) fn tick() {}
