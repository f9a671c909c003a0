//! Anomaly detection: streaming detectors, composite, confidence, trend, and the service
//! that feeds them from the handler recordings.

use axum::Router;

#[cfg(feature = "augurs")]
pub mod batch;
mod composite;
mod cqrs;
mod detector;
mod http;
mod pattern;
#[cfg(test)]
mod proptests;
mod robust;
mod score;
mod seasonal;
mod service;
mod tail;
#[cfg(test)]
mod testing;
mod threshold;
mod trend;
mod window;
mod zscore;

pub use composite::{Assessment, Composite, CompositeConfig, Confidence, PARTS};
pub use cqrs::observe_handlers;
pub use detector::Detector;
pub use http::ParamError;
pub use pattern::{Pattern, SHAPE, SHAPES};
pub use robust::{Iqr, Mad};
pub use score::{normal_tail, ParseSeverityError, Severity, Verdict};
pub use seasonal::Seasonal;
pub use service::{
    global, Anomaly, AnomalyService, DataPoint, Filter, SeriesConfig, SeriesReport, ServiceConfig,
};
pub use threshold::{Threshold, MAX_RATE_POINTS};
pub use trend::{Direction, Trend, TrendKind, TrendTracker, TREND_BUCKETS};
pub use zscore::ZScore;

/// The admin routes of this module (`/anomalies`, `/anomalies/series`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    http::routes()
}

/// Feeds the built-in CQRS detectors from the handlers' recordings; runs on the background
/// tick.
pub(crate) fn tick() {
    observe_handlers();
}
