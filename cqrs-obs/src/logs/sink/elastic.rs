//! The Elasticsearch sink: `POST /_bulk` with NDJSON `create` actions and ECS field names.
//! The response is read item by item: items refused with 429 or 5xx are sent again, other
//! refusals are dropped and counted, and a 409 (the document exists, from an earlier attempt
//! whose answer was lost) counts as delivered, so retries never duplicate.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::http::{self, Url};
use super::{Delivery, Sink, SinkError};
use crate::logs::entry::LogEntry;

pub(crate) struct ElasticSink {
    url: Url,
    index: String,
    /// Makes document ids unique across processes sharing an index.
    instance: u64,
}

impl ElasticSink {
    pub(crate) fn new(url: &str, index: &str, roots_pem: &[u8]) -> std::io::Result<ElasticSink> {
        let url = Url::for_sink(url, roots_pem)?;
        let [(instance, _)] = crate::local::LOCAL.with(|l| l.next_ids::<1>());
        Ok(ElasticSink {
            url: url.join("/_bulk"),
            index: index.to_owned(),
            instance,
        })
    }
}

/// The ECS document of an entry.
pub(crate) fn ecs(e: &LogEntry) -> Value {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), json!(e.timestamp.to_string()));
    doc.insert("log.level".into(), json!(e.level.as_str()));
    doc.insert("log.logger".into(), json!(e.target));
    doc.insert("message".into(), json!(e.message));
    doc.insert("service.name".into(), json!(e.service));
    if let Some(v) = &e.service_version {
        doc.insert("service.version".into(), json!(v));
    }
    if let Some(v) = &e.environment {
        doc.insert("service.environment".into(), json!(v));
    }
    if let Some(t) = e.trace_id {
        doc.insert("trace.id".into(), json!(t.to_string()));
    }
    if let Some(s) = e.span_id {
        doc.insert("span.id".into(), json!(s.to_string()));
    }
    if let Some(err) = &e.error {
        if let Some(t) = &err.r#type {
            doc.insert("error.type".into(), json!(t));
        }
        doc.insert("error.message".into(), json!(err.message));
        if !err.chain.is_empty() {
            doc.insert(
                "error.stack_trace".into(),
                json!(err.chain.join("\ncaused by: ")),
            );
        }
    }
    let mut cqrs = Map::new();
    if let Some(c) = &e.correlation_id {
        cqrs.insert("correlation_id".into(), json!(c.to_string()));
    }
    if let Some(c) = &e.causation_id {
        cqrs.insert("causation_id".into(), json!(c.to_string()));
    }
    if let Some(a) = &e.aggregate_id {
        cqrs.insert("aggregate_id".into(), json!(a));
    }
    if let Some(t) = &e.event_type {
        cqrs.insert("event_type".into(), json!(t));
    }
    if !e.fields.is_empty() {
        let fields: Map<String, Value> = e
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        cqrs.insert("fields".into(), Value::Object(fields));
    }
    if !cqrs.is_empty() {
        doc.insert("cqrs".into(), Value::Object(cqrs));
    }
    Value::Object(doc)
}

impl Sink for ElasticSink {
    fn send(&mut self, batch: &[Arc<LogEntry>]) -> Result<Delivery, SinkError> {
        let mut body = Vec::with_capacity(batch.len() * 400);
        for e in batch {
            let action = json!({ "create": { "_index": self.index, "_id": format!("{:016x}-{}", self.instance, e.seq) } });
            serde_json::to_writer(&mut body, &action)
                .map_err(|e| SinkError::Response(e.to_string()))?;
            body.push(b'\n');
            serde_json::to_writer(&mut body, &ecs(e))
                .map_err(|e| SinkError::Response(e.to_string()))?;
            body.push(b'\n');
        }
        let response = http::check(http::post(
            &self.url,
            &[("Content-Type", "application/x-ndjson")],
            &body,
        )?)?;
        let reply: Value = serde_json::from_slice(&response.body)
            .map_err(|e| SinkError::Response(format!("bulk response is not JSON: {e}")))?;
        let mut delivery = Delivery::default();
        if reply["errors"] != json!(true) {
            return Ok(delivery);
        }
        let items = reply["items"]
            .as_array()
            .ok_or_else(|| SinkError::Response("bulk response without items".into()))?;
        if items.len() != batch.len() {
            return Err(SinkError::Response(format!(
                "bulk response has {} items for {} documents",
                items.len(),
                batch.len()
            )));
        }
        for (i, item) in items.iter().enumerate() {
            let status = item
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|r| r["status"].as_u64())
                .unwrap_or(0);
            match status {
                200..=299 | 409 => {}
                429 | 500..=599 => delivery.retry.push(i),
                _ => delivery.rejected += 1,
            }
        }
        Ok(delivery)
    }
}
