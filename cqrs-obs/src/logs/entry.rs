//! [`LogEntry`]: one captured `tracing` event, with its trace and message context.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::context::Id;
use crate::propagation::{SpanId, TraceId};

pub(crate) use super::time::Timestamp;

/// The severity of an entry (the `tracing` levels).
///
/// ```
/// use cqrs_obs::logs::Level;
/// assert!(Level::Error > Level::Warn);
/// assert_eq!("warn".parse::<Level>(), Ok(Level::Warn));
/// assert_eq!(Level::Info.as_str(), "info");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `trace`
    Trace,
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// This level's bit in a level mask.
    pub(crate) const fn bit(self) -> u8 {
        1 << self as u8
    }

    pub(crate) fn from_u8(n: u8) -> Option<Level> {
        Level::ALL.get(usize::from(n)).copied()
    }
}

impl From<&tracing::Level> for Level {
    fn from(level: &tracing::Level) -> Level {
        match *level {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            _ => Level::Error,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = ();

    /// A level name, case-insensitive (`warning` is `warn`).
    fn from_str(s: &str) -> Result<Level, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok(Level::Trace),
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" => Ok(Level::Error),
            _ => Err(()),
        }
    }
}

/// The value of an event field.
///
/// ```
/// use cqrs_obs::logs::FieldValue;
/// assert_eq!(serde_json::to_string(&FieldValue::I64(-3)).unwrap(), "-3");
/// assert_eq!(FieldValue::Str("x".into()).to_string(), "x");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// Text (also `Debug` and `Display` values, formatted).
    Str(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Str(v) => f.write_str(v),
        }
    }
}

/// An error recorded on an event (a field recorded as `&dyn Error`, or one named `error`).
///
/// ```
/// use cqrs_obs::logs::ErrorInfo;
/// let e = ErrorInfo { r#type: Some("Io".into()), message: "disk full".into(), chain: vec![] };
/// assert_eq!(serde_json::to_value(&e).unwrap()["type"], "Io");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error's type, from its `Debug` form (`Io` for `Io(..)`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// The error's `Display`.
    pub message: String,
    /// The `Display` of each `source()`, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
}

/// One log entry. Its JSON form (the admin endpoint's, the file sink's) uses these field names.
///
/// ```
/// use cqrs_obs::logs::{Level, LogEntry};
/// let mut entry = LogEntry::new(Level::Info, "bank::account", "deposited");
/// entry.service = "bank".into();
/// let json = serde_json::to_value(&entry).unwrap();
/// assert_eq!(json["level"], "info");
/// assert_eq!(json["message"], "deposited");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When the event happened.
    pub timestamp: Timestamp,
    /// The store's sequence number (0 until stored); with the timestamp, the cursor position.
    #[serde(default)]
    pub seq: u64,
    /// The level.
    pub level: Level,
    /// The event's message.
    pub message: String,
    /// The service name.
    #[serde(default)]
    pub service: String,
    /// The service version (`service.version` resource attribute), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_version: Option<String>,
    /// The deployment environment (`deployment.environment`), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The event's target (module path unless set).
    pub target: Cow<'static, str>,
    /// The trace of the message being handled.
    #[serde(default, with = "opt_display")]
    pub trace_id: Option<TraceId>,
    /// The span handling it.
    #[serde(default, with = "opt_display")]
    pub span_id: Option<SpanId>,
    /// The conversation.
    #[serde(default, with = "opt_id")]
    pub correlation_id: Option<Id>,
    /// The message that caused the one being handled.
    #[serde(default, with = "opt_id")]
    pub causation_id: Option<Id>,
    /// The aggregate (from an `aggregate_id` field of the event or an enclosing span).
    #[serde(default)]
    pub aggregate_id: Option<String>,
    /// The event type (from an `event_type` field of the event or an enclosing span).
    #[serde(default)]
    pub event_type: Option<String>,
    /// The error recorded on the event.
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    /// The other fields of the event and of its enclosing spans (the event's win).
    #[serde(default, with = "fields_map")]
    pub fields: Vec<(Cow<'static, str>, FieldValue)>,
}

impl LogEntry {
    /// An entry stamped now, with no context.
    pub fn new(
        level: Level,
        target: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        LogEntry {
            timestamp: Timestamp::now(),
            seq: 0,
            level,
            message: message.into(),
            service: String::new(),
            service_version: None,
            environment: None,
            target: target.into(),
            trace_id: None,
            span_id: None,
            correlation_id: None,
            causation_id: None,
            aggregate_id: None,
            event_type: None,
            error: None,
            fields: Vec::new(),
        }
    }

    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v)
    }
}

mod opt_display {
    use super::*;

    pub(super) fn serialize<T: fmt::Display, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
        D: Deserializer<'de>,
    {
        match Option::<String>::deserialize(d)? {
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

mod opt_id {
    use super::*;

    pub(super) fn serialize<S: Serializer>(value: &Option<Id>, s: S) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.and_then(|s| Id::from_text(&s)))
    }
}

mod fields_map {
    use super::*;
    use serde::ser::SerializeMap;

    pub(super) fn serialize<S: Serializer>(
        fields: &[(Cow<'static, str>, FieldValue)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (k, v) in fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(Cow<'static, str>, FieldValue)>, D::Error> {
        let map = std::collections::BTreeMap::<String, FieldValue>::deserialize(d)?;
        Ok(map.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_with_snake_case_names() {
        let ctx = crate::context::Context::new_root();
        let mut entry = LogEntry::new(Level::Warn, "bank", "overdrawn");
        entry.trace_id = Some(ctx.trace.trace_id());
        entry.span_id = Some(ctx.trace.span_id());
        entry.correlation_id = Some(ctx.correlation_id.clone());
        entry.aggregate_id = Some("acc-1".into());
        entry.fields.push(("amount".into(), FieldValue::I64(30)));
        entry.error = Some(ErrorInfo {
            r#type: None,
            message: "no funds".into(),
            chain: vec!["balance 0".into()],
        });
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["trace_id"], ctx.trace.trace_id().to_string());
        assert_eq!(json["correlation_id"], ctx.correlation_id.to_string());
        assert_eq!(json["fields"]["amount"], 30);
        assert_eq!(json["error"]["chain"][0], "balance 0");
        let back: LogEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
    }
}
