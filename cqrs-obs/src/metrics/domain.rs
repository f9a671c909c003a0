//! Metrics of the event flow that only the application's store and projections can see:
//! events appended, how far a projection is behind, and how long an event takes from append to
//! projected. Recorded through the `metrics` facade (so they cost a label lookup each, not a
//! handler call's few atomic adds); the generated dashboards' Business and Projections panels
//! read them.

use std::time::{Duration, SystemTime};

use super::names::{self, label};

/// Counts `count` events of type `event` appended to a stream of `aggregate`
/// (`cqrs_events_appended_total{aggregate, event}`). Call it after a successful append.
///
/// ```
/// cqrs_obs::metrics::events_appended("Account", "Deposited", 1);
/// ```
pub fn events_appended(aggregate: &'static str, event: &'static str, count: u64) {
    ::metrics::counter!(
        names::EVENTS_APPENDED_TOTAL,
        label::AGGREGATE => aggregate,
        label::EVENT => event
    )
    .increment(count);
}

/// Records that `projection` applied an event appended at `appended_at`
/// (`cqrs_event_end_to_end_seconds{projection}`, a histogram with the handler buckets).
///
/// ```
/// cqrs_obs::metrics::event_projected("balances", std::time::SystemTime::now());
/// ```
pub fn event_projected(projection: &'static str, appended_at: SystemTime) {
    let age = SystemTime::now()
        .duration_since(appended_at)
        .unwrap_or(Duration::ZERO);
    ::metrics::histogram!(names::EVENT_END_TO_END, label::PROJECTION => projection)
        .record(age.as_secs_f64());
}

/// Reports how many appended events `projection` has not processed yet
/// (`cqrs_projection_gap_events{projection}`).
///
/// ```
/// cqrs_obs::metrics::report_projection_gap("balances", 0);
/// ```
pub fn report_projection_gap(projection: &'static str, events: u64) {
    ::metrics::gauge!(names::PROJECTION_GAP, label::PROJECTION => projection).set(events as f64);
}

/// Records one aggregate load of `aggregate` that took `duration`
/// (`cqrs_aggregate_load_duration_seconds{aggregate}`) and, when known, how many events it
/// replayed (`cqrs_aggregate_events_replayed{aggregate}`; unknown for a load that started
/// from a snapshot of a store that does not say how old the snapshot was).
///
/// ```
/// use std::time::Duration;
/// cqrs_obs::metrics::aggregate_loaded("Account", Duration::from_micros(120), Some(7));
/// ```
pub fn aggregate_loaded(aggregate: &'static str, duration: Duration, events_replayed: Option<u64>) {
    ::metrics::histogram!(names::AGGREGATE_LOAD_DURATION, label::AGGREGATE => aggregate)
        .record(duration.as_secs_f64());
    if let Some(events) = events_replayed {
        ::metrics::histogram!(names::AGGREGATE_EVENTS_REPLAYED, label::AGGREGATE => aggregate)
            .record(events as f64);
    }
}

/// The bucket bounds of `cqrs_aggregate_events_replayed`.
pub(crate) const REPLAYED_BUCKETS: [f64; 13] = [
    0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0, 10000.0,
];

/// The bucket bounds of `cqrs_event_end_to_end_seconds`: the handler histograms' bounds.
pub(crate) fn end_to_end_buckets() -> Vec<f64> {
    crate::handler::BUCKET_BOUNDS_NANOS
        .iter()
        .map(|&nanos| nanos as f64 / 1e9)
        .collect()
}
