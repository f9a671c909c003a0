//! Anomaly detection: streaming detectors, composite, confidence, trend, and the service
//! that feeds them from the handler recordings.

use axum::Router;

mod composite;
mod detector;
mod pattern;
mod robust;
mod score;
mod seasonal;
#[cfg(test)]
mod testing;
mod tail;
mod threshold;
mod window;
mod zscore;

pub use composite::{Assessment, Composite, CompositeConfig, Confidence, PARTS};
pub use detector::Detector;
pub use pattern::Pattern;
pub use robust::{Iqr, Mad};
pub use score::{normal_tail, ParseSeverityError, Severity, Verdict};
pub use seasonal::Seasonal;
pub use threshold::Threshold;
pub use zscore::ZScore;

/// The admin routes of this module (`/anomalies`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
}

/// Feeds the built-in CQRS detectors from the handlers' recordings; runs on the background
/// tick.
pub(crate) fn tick() {}
