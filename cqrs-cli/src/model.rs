//! The JSON the admin endpoint answers, as far as the CLI reads it. Every type ignores
//! fields it does not know and defaults the ones it can do without, so a newer service
//! still works with an older CLI.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// `GET /health` (Spring style).
#[derive(Debug, Deserialize)]
pub(crate) struct Health {
    /// `UP`, `DEGRADED`, `DOWN`, `OUT_OF_SERVICE` or `UNKNOWN`.
    pub(crate) status: String,
    /// Components by name (absent when details are hidden).
    #[serde(default)]
    pub(crate) components: BTreeMap<String, Component>,
    /// The groups.
    #[serde(default)]
    pub(crate) groups: Vec<String>,
}

/// One health component.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Component {
    /// Its status.
    pub(crate) status: String,
    /// Details; `error` is the reason.
    #[serde(default)]
    pub(crate) details: Map<String, Value>,
    /// What it measured.
    pub(crate) measurement: Option<String>,
    /// The measured value.
    pub(crate) observed_value: Option<f64>,
    /// Its unit.
    pub(crate) observed_unit: Option<String>,
    /// How long the check took.
    pub(crate) duration_ms: Option<f64>,
    /// Whether it counts towards the aggregate.
    pub(crate) critical: Option<bool>,
    /// Its groups.
    #[serde(default)]
    pub(crate) groups: Vec<String>,
}

/// `GET /slo`: one SLO's report.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SloReport {
    /// The objective.
    pub(crate) slo: Slo,
    /// Per window.
    #[serde(default)]
    pub(crate) windows: Vec<WindowReport>,
    /// The error budget.
    pub(crate) budget: Option<Budget>,
    /// The burn-rate alerts.
    #[serde(default)]
    pub(crate) alerts: Vec<AlertReport>,
}

/// An objective.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Slo {
    /// Its id.
    pub(crate) id: String,
    /// `availability`, `latency`, ...
    #[serde(default)]
    pub(crate) category: String,
    /// Target in percent.
    pub(crate) target: f64,
    /// Period in seconds.
    pub(crate) period: f64,
    /// Events needed before judging.
    #[serde(default)]
    pub(crate) min_events: u64,
}

/// One window of an SLO.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WindowReport {
    /// Its length.
    pub(crate) window_seconds: u64,
    /// Good events.
    pub(crate) good: u64,
    /// All events.
    pub(crate) total: u64,
    /// Bad / total.
    pub(crate) error_ratio: Option<f64>,
    /// Error ratio / budget.
    pub(crate) burn_rate: Option<f64>,
}

/// An SLO's budget.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Budget {
    /// Burn rate over the last hour.
    pub(crate) burn_rate_1h: Option<f64>,
}

/// One burn-rate alert.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AlertReport {
    /// `critical`, `high`, ...
    pub(crate) severity: String,
    /// Long window.
    pub(crate) long_seconds: u64,
    /// Short window.
    pub(crate) short_seconds: u64,
    /// Burn-rate factor.
    pub(crate) factor: f64,
    /// `inactive`, `pending`, `firing`, ...
    pub(crate) state: String,
    /// The operator's acknowledgement, while the alert is active.
    #[serde(default)]
    pub(crate) acknowledged: Option<Acknowledgement>,
}

impl AlertReport {
    /// Who acknowledged the alert, or null (a report's `acknowledged_by` column).
    pub(crate) fn acknowledged_by(&self) -> Value {
        self.acknowledged
            .as_ref()
            .map_or(Value::Null, |a| Value::from(a.by.as_str()))
    }
}

/// An operator's acknowledgement of an active alert.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Acknowledgement {
    /// When, in milliseconds since the Unix epoch.
    pub(crate) at_ms: u64,
    /// Who.
    pub(crate) by: String,
    /// The note (`""` without one).
    #[serde(default)]
    pub(crate) note: String,
}

/// `GET /handlers`: one handler.
#[derive(Debug, Deserialize)]
pub(crate) struct Handler {
    /// `command`, `event` or `query`.
    pub(crate) kind: String,
    /// Its name.
    pub(crate) name: String,
    /// The message type.
    #[serde(default)]
    pub(crate) message: String,
    /// Aggregate type.
    pub(crate) aggregate: Option<String>,
    /// Projection.
    pub(crate) projection: Option<String>,
    /// Saga.
    pub(crate) saga: Option<String>,
    /// Calls not finished.
    #[serde(default)]
    pub(crate) in_flight: u64,
    /// Calls per outcome.
    #[serde(default)]
    pub(crate) calls: BTreeMap<String, u64>,
}

/// `GET /logs`: a page.
#[derive(Debug, Deserialize)]
pub(crate) struct LogPage {
    /// Entries, newest first (kept as JSON to print them whole).
    #[serde(default)]
    pub(crate) entries: Vec<Value>,
    /// Where the next page starts.
    pub(crate) next_cursor: Option<Value>,
}

/// `GET /traces/{correlation_id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Trace {
    /// The conversation.
    #[serde(default)]
    pub(crate) correlation_id: String,
    /// Its messages.
    #[serde(default)]
    pub(crate) messages: Vec<Message>,
}

/// One message of a conversation.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    /// Its id (absent for a call that handled no identified message).
    pub(crate) message_id: Option<String>,
    /// The message that caused it.
    pub(crate) causation_id: Option<String>,
    /// `command`, `event` or `query`.
    #[serde(default)]
    pub(crate) kind: String,
    /// The handler.
    #[serde(default)]
    pub(crate) handler: String,
    /// The message type.
    #[serde(default)]
    pub(crate) message: String,
    /// `ok`, `rejected`, ...
    #[serde(default)]
    pub(crate) outcome: String,
    /// RFC 3339.
    #[serde(default)]
    pub(crate) started_at: String,
    /// Duration.
    pub(crate) duration_ms: Option<f64>,
    /// Trace id.
    pub(crate) trace_id: Option<String>,
    /// Span id.
    pub(crate) span_id: Option<String>,
}
