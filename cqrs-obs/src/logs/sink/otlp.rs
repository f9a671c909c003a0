//! The OTLP logs sink: `ExportLogsServiceRequest` over http/protobuf. The messages are the
//! subset of the OTLP protobuf definitions this sink fills, tag for tag.

use std::sync::Arc;

use prost::Message;

use super::http::{self, Url};
use super::{Delivery, Sink, SinkError};
use crate::logs::entry::{FieldValue, Level, LogEntry};

mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ExportLogsServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub(super) resource_logs: Vec<ResourceLogs>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ResourceLogs {
        #[prost(message, optional, tag = "1")]
        pub(super) resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub(super) scope_logs: Vec<ScopeLogs>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub(super) attributes: Vec<KeyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ScopeLogs {
        #[prost(message, optional, tag = "1")]
        pub(super) scope: Option<InstrumentationScope>,
        #[prost(message, repeated, tag = "2")]
        pub(super) log_records: Vec<LogRecord>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct InstrumentationScope {
        #[prost(string, tag = "1")]
        pub(super) name: String,
        #[prost(string, tag = "2")]
        pub(super) version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct LogRecord {
        #[prost(fixed64, tag = "1")]
        pub(super) time_unix_nano: u64,
        #[prost(int32, tag = "2")]
        pub(super) severity_number: i32,
        #[prost(string, tag = "3")]
        pub(super) severity_text: String,
        #[prost(message, optional, tag = "5")]
        pub(super) body: Option<AnyValue>,
        #[prost(message, repeated, tag = "6")]
        pub(super) attributes: Vec<KeyValue>,
        #[prost(fixed32, tag = "8")]
        pub(super) flags: u32,
        #[prost(bytes = "vec", tag = "9")]
        pub(super) trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "10")]
        pub(super) span_id: Vec<u8>,
        #[prost(fixed64, tag = "11")]
        pub(super) observed_time_unix_nano: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct KeyValue {
        #[prost(string, tag = "1")]
        pub(super) key: String,
        #[prost(message, optional, tag = "2")]
        pub(super) value: Option<AnyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct AnyValue {
        #[prost(oneof = "Value", tags = "1, 2, 3, 4")]
        pub(super) value: Option<Value>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(super) enum Value {
        #[prost(string, tag = "1")]
        String(String),
        #[prost(bool, tag = "2")]
        Bool(bool),
        #[prost(int64, tag = "3")]
        Int(i64),
        #[prost(double, tag = "4")]
        Double(f64),
    }
}

use proto::{AnyValue, KeyValue, Value};

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn text(key: &str, value: impl ToString) -> KeyValue {
    kv(key, Value::String(value.to_string()))
}

pub(crate) struct OtlpSink {
    url: Url,
    resource: Vec<KeyValue>,
}

impl OtlpSink {
    pub(crate) fn new(
        url: &str,
        roots_pem: &[u8],
        pipeline: &crate::logs::PipelineConfig,
    ) -> std::io::Result<OtlpSink> {
        let url = Url::for_sink(url, roots_pem)?;
        let mut resource = vec![text("service.name", &pipeline.service)];
        if let Some(v) = &pipeline.service_version {
            resource.push(text("service.version", v));
        }
        if let Some(v) = &pipeline.environment {
            resource.push(text("deployment.environment", v));
        }
        Ok(OtlpSink { url, resource })
    }
}

/// OTLP `SeverityNumber` of a level.
fn severity(level: Level) -> i32 {
    match level {
        Level::Trace => 1,
        Level::Debug => 5,
        Level::Info => 9,
        Level::Warn => 13,
        Level::Error => 17,
    }
}

fn record(e: &LogEntry) -> proto::LogRecord {
    let mut attributes = vec![text("code.namespace", &e.target)];
    if let Some(c) = &e.correlation_id {
        attributes.push(text("messaging.message.conversation_id", c));
    }
    if let Some(c) = &e.causation_id {
        attributes.push(text("cqrs.causation_id", c));
    }
    if let Some(a) = &e.aggregate_id {
        attributes.push(text("cqrs.aggregate.id", a));
    }
    if let Some(t) = &e.event_type {
        attributes.push(text("cqrs.event.type", t));
    }
    if let Some(err) = &e.error {
        if let Some(t) = &err.r#type {
            attributes.push(text("exception.type", t));
        }
        attributes.push(text("exception.message", &err.message));
        if !err.chain.is_empty() {
            attributes.push(text(
                "exception.stacktrace",
                err.chain.join("\ncaused by: "),
            ));
        }
    }
    for (k, v) in &e.fields {
        let value = match v {
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::I64(n) => Value::Int(*n),
            FieldValue::U64(n) => {
                i64::try_from(*n).map_or_else(|_| Value::String(n.to_string()), Value::Int)
            }
            FieldValue::F64(f) => Value::Double(*f),
            FieldValue::Str(s) => Value::String(s.clone()),
        };
        attributes.push(kv(k, value));
    }
    proto::LogRecord {
        time_unix_nano: e.timestamp.nanos(),
        observed_time_unix_nano: e.timestamp.nanos(),
        severity_number: severity(e.level),
        severity_text: e.level.as_str().to_ascii_uppercase(),
        body: Some(AnyValue {
            value: Some(Value::String(e.message.clone())),
        }),
        attributes,
        flags: 0,
        trace_id: e
            .trace_id
            .map(|t| t.to_bytes().to_vec())
            .unwrap_or_default(),
        span_id: e.span_id.map(|s| s.to_bytes().to_vec()).unwrap_or_default(),
    }
}

impl Sink for OtlpSink {
    fn send(&mut self, batch: &[Arc<LogEntry>]) -> Result<Delivery, SinkError> {
        let request = proto::ExportLogsServiceRequest {
            resource_logs: vec![proto::ResourceLogs {
                resource: Some(proto::Resource {
                    attributes: self.resource.clone(),
                }),
                scope_logs: vec![proto::ScopeLogs {
                    scope: Some(proto::InstrumentationScope {
                        name: "cqrs-obs".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                    }),
                    log_records: batch.iter().map(|e| record(e)).collect(),
                }],
            }],
        };
        let body = request.encode_to_vec();
        http::check(http::post(
            &self.url,
            &[("Content-Type", "application/x-protobuf")],
            &body,
        )?)?;
        Ok(Delivery::default())
    }
}
