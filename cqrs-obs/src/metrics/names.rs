//! Every metric name, label key and HELP text the project emits: the one place that the
//! emitters, generated rules, dashboards and tests all read.

/// `cqrs_commands_total`: counter of command handler calls.
pub const COMMANDS_TOTAL: &str = "cqrs_commands_total";
/// `cqrs_command_duration_seconds`: histogram of command handler durations.
pub const COMMAND_DURATION: &str = "cqrs_command_duration_seconds";
/// `cqrs_events_processed_total`: counter of event handler calls.
pub const EVENTS_PROCESSED_TOTAL: &str = "cqrs_events_processed_total";
/// `cqrs_event_handler_duration_seconds`: histogram of event handler durations.
pub const EVENT_HANDLER_DURATION: &str = "cqrs_event_handler_duration_seconds";
/// `cqrs_queries_total`: counter of query handler calls.
pub const QUERIES_TOTAL: &str = "cqrs_queries_total";
/// `cqrs_query_duration_seconds`: histogram of query handler durations.
pub const QUERY_DURATION: &str = "cqrs_query_duration_seconds";
/// `cqrs_handlers_in_flight`: gauge of calls started and not finished.
pub const HANDLERS_IN_FLIGHT: &str = "cqrs_handlers_in_flight";
/// `cqrs_events_appended_total`: counter of events appended to the store.
pub const EVENTS_APPENDED_TOTAL: &str = "cqrs_events_appended_total";
/// `cqrs_aggregate_load_duration_seconds`: histogram of aggregate load durations.
pub const AGGREGATE_LOAD_DURATION: &str = "cqrs_aggregate_load_duration_seconds";
/// `cqrs_aggregate_events_replayed`: histogram of events replayed per aggregate load.
pub const AGGREGATE_EVENTS_REPLAYED: &str = "cqrs_aggregate_events_replayed";
/// `cqrs_projection_lag_seconds`: gauge of how far a projection is behind.
pub const PROJECTION_LAG: &str = "cqrs_projection_lag_seconds";
/// `cqrs_projection_gap_events`: gauge of events a projection has not processed yet.
pub const PROJECTION_GAP: &str = "cqrs_projection_gap_events";
/// `cqrs_event_end_to_end_seconds`: histogram from append to projected.
pub const EVENT_END_TO_END: &str = "cqrs_event_end_to_end_seconds";
/// `cqrs_health_status`: gauge of each health component (1 UP, 0.5 DEGRADED, 0 DOWN or
/// OUT_OF_SERVICE, -1 UNKNOWN).
pub const HEALTH_STATUS: &str = "cqrs_health_status";
/// `cqrs_circuit_breaker_state`: 1 for the current state of each circuit breaker, else 0.
pub const CIRCUIT_BREAKER_STATE: &str = "cqrs_circuit_breaker_state";
/// `cqrs_anomalies_total`: counter of anomalies the anomaly service reported.
pub const ANOMALIES_TOTAL: &str = "cqrs_anomalies_total";
/// `cqrs_obs_dropped_total`: the framework's own dropped spans, logs and points.
pub const OBS_DROPPED_TOTAL: &str = "cqrs_obs_dropped_total";
/// `cqrs_obs_export_errors_total`: the framework's own exporter failures.
pub const OBS_EXPORT_ERRORS_TOTAL: &str = "cqrs_obs_export_errors_total";

/// Values of the `signal` label of the framework's own counters.
pub mod signal {
    /// Spans.
    pub const TRACES: &str = "traces";
    /// Log entries dropped at the capture queue (log sinks use `logs.<sink>`, such as
    /// `logs.loki`).
    pub const LOGS: &str = "logs";
}

/// Label keys.
pub mod label {
    /// Command type.
    pub const COMMAND: &str = "command";
    /// Aggregate type.
    pub const AGGREGATE: &str = "aggregate";
    /// Event type.
    pub const EVENT: &str = "event";
    /// Handler name.
    pub const HANDLER: &str = "handler";
    /// Projection (or saga) name.
    pub const PROJECTION: &str = "projection";
    /// Query type.
    pub const QUERY: &str = "query";
    /// Call outcome.
    pub const OUTCOME: &str = "outcome";
    /// Handler kind.
    pub const KIND: &str = "kind";
    /// Signal of a framework-internal counter (spans, logs, ...).
    pub const SIGNAL: &str = "signal";
    /// Health component name.
    pub const COMPONENT: &str = "component";
    /// Circuit breaker name.
    pub const BREAKER: &str = "breaker";
    /// Circuit breaker state (`closed`, `open`, `half_open`).
    pub const STATE: &str = "state";
    /// Histogram bucket upper bound.
    pub const LE: &str = "le";
    /// Series an anomaly was found in.
    pub const METRIC: &str = "metric";
    /// Anomaly severity (`low`, `medium`, `high`, `critical`).
    pub const SEVERITY: &str = "severity";
}

/// HELP text of a metric name, for every name in this module.
pub fn help(name: &str) -> Option<&'static str> {
    Some(match name {
        COMMANDS_TOTAL => "Command handler calls by command, aggregate and outcome.",
        COMMAND_DURATION => "Command handler duration in seconds.",
        EVENTS_PROCESSED_TOTAL => "Event handler calls by event, handler, projection and outcome.",
        EVENT_HANDLER_DURATION => "Event handler duration in seconds.",
        QUERIES_TOTAL => "Query handler calls by query and outcome.",
        QUERY_DURATION => "Query handler duration in seconds.",
        HANDLERS_IN_FLIGHT => "Handler calls started and not yet finished.",
        EVENTS_APPENDED_TOTAL => "Events appended to the event store by aggregate and event.",
        AGGREGATE_LOAD_DURATION => "Aggregate load duration in seconds.",
        AGGREGATE_EVENTS_REPLAYED => "Events replayed to load one aggregate.",
        PROJECTION_LAG => "Age of the newest event a projection has not processed, in seconds.",
        PROJECTION_GAP => "Events appended that a projection has not processed yet.",
        EVENT_END_TO_END => "Time from event append to projection, in seconds.",
        HEALTH_STATUS => {
            "Health of each component: 1 UP, 0.5 DEGRADED, 0 DOWN or OUT_OF_SERVICE, -1 UNKNOWN."
        }
        CIRCUIT_BREAKER_STATE => "Circuit breaker state: 1 for the current state, else 0.",
        ANOMALIES_TOTAL => "Anomalies reported by the anomaly service, by series and severity.",
        OBS_DROPPED_TOTAL => "Telemetry items cqrs-obs dropped because a queue was full.",
        OBS_EXPORT_ERRORS_TOTAL => "Telemetry exports that failed.",
        _ => return None,
    })
}

/// Every metric name in this module.
pub const ALL: [&str; 18] = [
    COMMANDS_TOTAL,
    COMMAND_DURATION,
    EVENTS_PROCESSED_TOTAL,
    EVENT_HANDLER_DURATION,
    QUERIES_TOTAL,
    QUERY_DURATION,
    HANDLERS_IN_FLIGHT,
    EVENTS_APPENDED_TOTAL,
    AGGREGATE_LOAD_DURATION,
    AGGREGATE_EVENTS_REPLAYED,
    PROJECTION_LAG,
    PROJECTION_GAP,
    EVENT_END_TO_END,
    HEALTH_STATUS,
    CIRCUIT_BREAKER_STATE,
    ANOMALIES_TOTAL,
    OBS_DROPPED_TOTAL,
    OBS_EXPORT_ERRORS_TOTAL,
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_name_has_help_and_a_valid_prometheus_name() {
        for name in super::ALL {
            assert!(super::help(name).is_some(), "{name} has no HELP");
            assert!(name.starts_with("cqrs_"));
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
    }
}
