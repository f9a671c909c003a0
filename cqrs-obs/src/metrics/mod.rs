//! Metrics: names, the recorder behind the `metrics` facade, and the Prometheus exposition.
//!
//! Handler calls are recorded in the handlers' own fixed-bucket histograms (see
//! [`crate::handler`]): a call costs a few relaxed atomic adds and never allocates, and memory
//! stays fixed whatever the call rate. Everything else — the framework's own counters and any
//! metric the application records with the `metrics` macros — goes through the `metrics`
//! facade into a `metrics-exporter-prometheus` recorder whose upkeep runs on a schedule, so
//! its histogram buffers stay bounded. [`render`] concatenates both.

mod domain;
pub mod exposition;
pub mod names;

pub use domain::{aggregate_loaded, event_projected, events_appended, report_projection_gap};

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static FACADE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the global `metrics` recorder.
///
/// Returns `false` when another recorder was installed first: the handler families still
/// render, but metrics recorded through the facade go to that other recorder.
pub(crate) fn install_recorder() -> bool {
    if FACADE.get().is_some() {
        return true;
    }
    use metrics_exporter_prometheus::Matcher::Full;
    let durations = domain::end_to_end_buckets();
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Full(names::EVENT_END_TO_END.to_owned()), &durations)
        .and_then(|b| {
            b.set_buckets_for_metric(Full(names::AGGREGATE_LOAD_DURATION.to_owned()), &durations)
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Full(names::AGGREGATE_EVENTS_REPLAYED.to_owned()),
                &domain::REPLAYED_BUCKETS,
            )
        });
    let recorder = match builder {
        Ok(builder) => builder.build_recorder(),
        Err(_) => PrometheusBuilder::new().build_recorder(),
    };
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        return false;
    }
    let _ = FACADE.set(handle);
    describe();
    true
}

fn describe() {
    metrics::describe_counter!(
        names::OBS_DROPPED_TOTAL,
        names::help(names::OBS_DROPPED_TOTAL).unwrap_or_default()
    );
    metrics::describe_counter!(
        names::OBS_EXPORT_ERRORS_TOTAL,
        names::help(names::OBS_EXPORT_ERRORS_TOTAL).unwrap_or_default()
    );
    metrics::describe_counter!(
        names::EVENTS_APPENDED_TOTAL,
        names::help(names::EVENTS_APPENDED_TOTAL).unwrap_or_default()
    );
    metrics::describe_histogram!(
        names::EVENT_END_TO_END,
        metrics::Unit::Seconds,
        names::help(names::EVENT_END_TO_END).unwrap_or_default()
    );
    metrics::describe_histogram!(
        names::AGGREGATE_LOAD_DURATION,
        metrics::Unit::Seconds,
        names::help(names::AGGREGATE_LOAD_DURATION).unwrap_or_default()
    );
    metrics::describe_histogram!(
        names::AGGREGATE_EVENTS_REPLAYED,
        names::help(names::AGGREGATE_EVENTS_REPLAYED).unwrap_or_default()
    );
    metrics::describe_gauge!(
        names::PROJECTION_GAP,
        names::help(names::PROJECTION_GAP).unwrap_or_default()
    );
    metrics::describe_gauge!(
        names::PROJECTION_LAG,
        names::help(names::PROJECTION_LAG).unwrap_or_default()
    );
    metrics::describe_counter!(
        names::ANOMALIES_TOTAL,
        names::help(names::ANOMALIES_TOTAL).unwrap_or_default()
    );
}

/// Drains the facade recorder's histogram buffers. Called on the background tick.
pub(crate) fn upkeep() {
    if let Some(handle) = FACADE.get() {
        handle.run_upkeep();
    }
}

/// The whole `/metrics` page: handler families, then everything recorded through the
/// `metrics` facade.
///
/// ```
/// cqrs_obs::handler::enable();
/// let page = cqrs_obs::metrics::render();
/// assert!(page.is_empty() || page.ends_with('\n'));
/// ```
pub fn render() -> String {
    let mut out = String::with_capacity(16 * 1024);
    exposition::render_handlers(&crate::handler::snapshots(), &mut out);
    crate::health::render_metrics(&mut out);
    if let Some(handle) = FACADE.get() {
        let facade = handle.render();
        out.push_str(&facade);
        if !facade.is_empty() && !facade.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
