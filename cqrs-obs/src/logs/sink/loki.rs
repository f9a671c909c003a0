//! The Grafana Loki sink: `POST /loki/api/v1/push`, as JSON or as snappy-compressed protobuf.
//! Labels carry only low-cardinality values (service name, environment, level); trace,
//! span, correlation and causation ids travel as structured metadata. The line is the
//! entry's JSON form.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use prost::Message;

use super::http::{self, Url};
use super::{Delivery, Sink, SinkError};
use crate::logs::entry::LogEntry;

/// The push body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LokiFormat {
    /// `application/json`.
    Json,
    /// `application/x-protobuf`, snappy-compressed (Loki's native push format).
    Protobuf,
}

/// Loki's `logproto.PushRequest` and friends (push.proto), the fields this sink sends.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub(super) streams: Vec<StreamAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct StreamAdapter {
        #[prost(string, tag = "1")]
        pub(super) labels: String,
        #[prost(message, repeated, tag = "2")]
        pub(super) entries: Vec<EntryAdapter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct EntryAdapter {
        #[prost(message, optional, tag = "1")]
        pub(super) timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub(super) line: String,
        #[prost(message, repeated, tag = "3")]
        pub(super) structured_metadata: Vec<LabelPair>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct LabelPair {
        #[prost(string, tag = "1")]
        pub(super) name: String,
        #[prost(string, tag = "2")]
        pub(super) value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Timestamp {
        #[prost(int64, tag = "1")]
        pub(super) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(super) nanos: i32,
    }
}

pub(crate) struct LokiSink {
    url: Url,
    format: LokiFormat,
}

impl LokiSink {
    pub(crate) fn new(
        url: &str,
        format: LokiFormat,
        roots_pem: &[u8],
    ) -> std::io::Result<LokiSink> {
        let url = Url::for_sink(url, roots_pem)?;
        Ok(LokiSink {
            url: url.join("/loki/api/v1/push"),
            format,
        })
    }
}

type Labels = Vec<(&'static str, String)>;

fn labels(e: &LogEntry) -> Labels {
    let mut labels = vec![("service_name", e.service.clone())];
    if let Some(env) = &e.environment {
        labels.push(("environment", env.clone()));
    }
    labels.push(("level", e.level.as_str().to_owned()));
    labels
}

fn metadata(e: &LogEntry) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(t) = e.trace_id {
        out.push(("trace_id", t.to_string()));
    }
    if let Some(s) = e.span_id {
        out.push(("span_id", s.to_string()));
    }
    if let Some(c) = &e.correlation_id {
        out.push(("correlation_id", c.to_string()));
    }
    if let Some(c) = &e.causation_id {
        out.push(("causation_id", c.to_string()));
    }
    out
}

/// `{a="x", b="y"}` with Prometheus escaping.
fn label_string(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let escaped = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{escaped}\"");
    }
    out.push('}');
    out
}

fn group(batch: &[Arc<LogEntry>]) -> BTreeMap<Labels, Vec<&LogEntry>> {
    let mut streams: BTreeMap<Labels, Vec<&LogEntry>> = BTreeMap::new();
    for e in batch {
        streams.entry(labels(e)).or_default().push(e);
    }
    streams
}

fn line(e: &LogEntry) -> Result<String, SinkError> {
    serde_json::to_string(e).map_err(|e| SinkError::Response(e.to_string()))
}

fn json_body(batch: &[Arc<LogEntry>]) -> Result<Vec<u8>, SinkError> {
    let mut streams = Vec::new();
    for (labels, entries) in group(batch) {
        let stream: serde_json::Map<String, serde_json::Value> = labels
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect();
        let values: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                let meta: serde_json::Map<String, serde_json::Value> = metadata(e)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.into()))
                    .collect();
                Ok(serde_json::json!([
                    e.timestamp.nanos().to_string(),
                    line(e)?,
                    meta
                ]))
            })
            .collect::<Result<_, SinkError>>()?;
        streams.push(serde_json::json!({ "stream": stream, "values": values }));
    }
    serde_json::to_vec(&serde_json::json!({ "streams": streams }))
        .map_err(|e| SinkError::Response(e.to_string()))
}

fn protobuf_body(batch: &[Arc<LogEntry>]) -> Result<Vec<u8>, SinkError> {
    let mut request = proto::PushRequest::default();
    for (labels, entries) in group(batch) {
        let mut stream = proto::StreamAdapter {
            labels: label_string(&labels),
            entries: Vec::with_capacity(entries.len()),
        };
        for e in entries {
            let ns = e.timestamp.nanos();
            stream.entries.push(proto::EntryAdapter {
                timestamp: Some(proto::Timestamp {
                    seconds: (ns / 1_000_000_000) as i64,
                    nanos: (ns % 1_000_000_000) as i32,
                }),
                line: line(e)?,
                structured_metadata: metadata(e)
                    .into_iter()
                    .map(|(name, value)| proto::LabelPair {
                        name: name.to_owned(),
                        value,
                    })
                    .collect(),
            });
        }
        request.streams.push(stream);
    }
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .map_err(|e| SinkError::Response(e.to_string()))
}

impl Sink for LokiSink {
    fn send(&mut self, batch: &[Arc<LogEntry>]) -> Result<Delivery, SinkError> {
        let (body, content_type) = match self.format {
            LokiFormat::Json => (json_body(batch)?, "application/json"),
            LokiFormat::Protobuf => (protobuf_body(batch)?, "application/x-protobuf"),
        };
        http::check(http::post(
            &self.url,
            &[("Content-Type", content_type)],
            &body,
        )?)?;
        Ok(Delivery::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_strings_escape_values() {
        let labels = vec![
            ("service_name", "a\"b".to_owned()),
            ("level", "info".to_owned()),
        ];
        assert_eq!(
            label_string(&labels),
            r#"{service_name="a\"b", level="info"}"#
        );
    }
}
