//! Log sinks against real HTTP servers on loopback that decode what they receive: Loki's JSON
//! and snappy protobuf push bodies, Elasticsearch `_bulk` NDJSON with item-level errors,
//! OTLP logs decoded with the official protobuf definitions, the file sink's JSON lines and
//! rotation; and every HTTP sink riding out its server being down.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cqrs_obs::context::{self, Context};
use cqrs_obs::logs::{FileConfig, LokiFormat, Pipeline, PipelineConfig, SinkConfig};
use cqrs_obs_tests::logs_peer::{self, contains_bytes, ok, Peer, Recorded};
use cqrs_obs_tests::peer::{free_port, TempDir};
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(15);

fn fast(sink: SinkConfig) -> SinkConfig {
    sink.linger(Duration::from_millis(20))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .max_retries(200)
}

fn emit(pipeline: &Pipeline, f: impl FnOnce()) {
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, f);
}

#[derive(Debug)]
struct Cause;
impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk full")
    }
}
impl std::error::Error for Cause {}

#[derive(Debug)]
struct Failed(Cause);
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("append failed")
    }
}
impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Three entries: two in a message context (info with a field, warn with an error chain),
/// one outside.
fn three_entries(pipeline: &Pipeline) -> Context {
    let ctx = Context::new_root();
    emit(pipeline, || {
        context::scope(ctx.clone(), || {
            tracing::info!(amount = 30, "deposited");
            let e = Failed(Cause);
            tracing::warn!(error = &e as &dyn std::error::Error, "overdrawn");
        });
        tracing::info!("outside");
    });
    assert!(pipeline.flush(WAIT), "pipeline flushed");
    ctx
}

#[test]
fn loki_json_push_bodies_carry_low_cardinality_labels_and_ids_as_metadata() {
    let peer = Peer::start(0, ok());
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank").sink(fast(SinkConfig::loki(peer.url(), LokiFormat::Json))),
    )
    .unwrap();
    let ctx = three_entries(&pipeline);
    let mut values = Vec::new();
    for r in peer.requests() {
        assert_eq!(r.path, "/loki/api/v1/push");
        assert_eq!(r.content_type, "application/json");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        for stream in body["streams"].as_array().unwrap() {
            let labels = stream["stream"].as_object().unwrap();
            let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                ["level", "service_name"],
                "only low-cardinality labels"
            );
            for v in stream["values"].as_array().unwrap() {
                values.push((labels["level"].clone(), v.clone()));
            }
        }
    }
    assert_eq!(values.len(), 3, "{values:?}");
    let (level, deposited) = values
        .iter()
        .find(|(_, v)| v[1].as_str().unwrap().contains("deposited"))
        .unwrap();
    assert_eq!(level, "info");
    assert!(deposited[0].as_str().unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(deposited[2]["trace_id"], ctx.trace.trace_id().to_string());
    assert_eq!(
        deposited[2]["correlation_id"],
        ctx.correlation_id.to_string()
    );
    let line: Value = serde_json::from_str(deposited[1].as_str().unwrap()).unwrap();
    assert_eq!(line["fields"]["amount"], 30);
    let outside = values
        .iter()
        .find(|(_, v)| v[1].as_str().unwrap().contains("outside"))
        .unwrap();
    assert_eq!(outside.1[2], json!({}), "no ids outside a context");
}

#[test]
fn loki_protobuf_push_bodies_are_snappy_compressed_push_requests() {
    let peer = Peer::start(0, ok());
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank").sink(fast(SinkConfig::loki(peer.url(), LokiFormat::Protobuf))),
    )
    .unwrap();
    let ctx = three_entries(&pipeline);
    let mut entries = Vec::new();
    for r in peer.requests() {
        assert_eq!(r.content_type, "application/x-protobuf");
        let push = logs_peer::decode_loki_protobuf(&r.body).unwrap();
        for stream in push.streams {
            assert!(
                stream
                    .labels
                    .starts_with("{service_name=\"bank\", level=\""),
                "{}",
                stream.labels
            );
            entries.extend(
                stream
                    .entries
                    .into_iter()
                    .map(|e| (stream.labels.clone(), e)),
            );
        }
    }
    assert_eq!(entries.len(), 3);
    let (labels, warn) = entries
        .iter()
        .find(|(_, e)| e.line.contains("overdrawn"))
        .unwrap();
    assert!(labels.contains("level=\"warn\""), "{labels}");
    assert!(warn.timestamp.as_ref().unwrap().seconds > 1_700_000_000);
    let meta: HashMap<&str, &str> = warn
        .structured_metadata
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(meta["trace_id"], ctx.trace.trace_id().to_string());
    assert_eq!(meta["span_id"], ctx.trace.span_id().to_string());
    assert_eq!(meta["correlation_id"], ctx.correlation_id.to_string());
    let line: Value = serde_json::from_str(&warn.line).unwrap();
    assert_eq!(line["error"]["message"], "append failed");
    assert_eq!(line["error"]["chain"], json!(["disk full"]));
}

/// Parses a `_bulk` body into (action, document) pairs.
fn bulk_docs(r: &Recorded) -> Vec<(Value, Value)> {
    let text = std::str::from_utf8(&r.body).unwrap();
    assert!(text.ends_with('\n'), "NDJSON ends with a newline");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

#[test]
fn elasticsearch_retries_only_the_items_refused_with_retriable_errors() {
    // First request: every 4th item from the 2nd is throttled (429, retried), every 4th from
    // the 3rd is a mapping error (400, dropped); later requests all succeed.
    let respond: logs_peer::Responder = Arc::new(|r: &Recorded, n: usize| {
        let items: Vec<Value> = bulk_docs(r)
            .iter()
            .enumerate()
            .map(|(i, _)| match (n, i % 4) {
                (0, 1) => json!({"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}}),
                (0, 2) => json!({"create": {"status": 400, "error": {"type": "mapper_parsing_exception"}}}),
                _ => json!({"create": {"status": 201, "result": "created"}}),
            })
            .collect();
        (
            200,
            json!({"took": 1, "errors": n == 0, "items": items}).to_string(),
        )
    });
    let peer = Peer::start(0, respond);
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank")
            .sink(fast(SinkConfig::elasticsearch(peer.url(), "logs-bank")).batch_size(1000)),
    )
    .unwrap();
    let ctx = Context::new_root();
    emit(&pipeline, || {
        context::scope(ctx.clone(), || {
            for i in 0..12 {
                tracing::info!(i, "entry {i}");
            }
        })
    });
    assert!(pipeline.flush(WAIT));
    let requests = peer.requests();
    assert!(
        requests.len() >= 2,
        "a retry request followed: {}",
        requests.len()
    );
    assert!(requests
        .iter()
        .all(|r| r.path == "/_bulk" && r.content_type == "application/x-ndjson"));
    let first: Vec<String> = bulk_docs(&requests[0])
        .iter()
        .map(|(a, _)| a["create"]["_id"].as_str().unwrap().to_owned())
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &requests {
        for (action, doc) in bulk_docs(r) {
            assert_eq!(action["create"]["_index"], "logs-bank");
            for key in [
                "@timestamp",
                "log.level",
                "message",
                "service.name",
                "trace.id",
                "span.id",
            ] {
                assert!(doc.get(key).is_some(), "ECS field {key} in {doc}");
            }
            assert_eq!(doc["trace.id"], ctx.trace.trace_id().to_string());
            assert_eq!(
                doc["cqrs"]["correlation_id"],
                ctx.correlation_id.to_string()
            );
            *seen
                .entry(action["create"]["_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let mut rejected = 0;
    for (i, id) in first.iter().enumerate() {
        let expected = match i % 4 {
            1 => 2,
            _ => 1,
        };
        rejected += usize::from(i % 4 == 2);
        assert_eq!(seen[id], expected, "item {i} sent {} times", seen[id]);
    }
    assert_eq!(seen.len(), 12, "every entry sent");
    let stats = &pipeline.stats().sinks[0];
    assert_eq!(stats.name, "logs.elasticsearch");
    assert_eq!(
        (stats.sent, stats.dropped),
        (12 - rejected as u64, rejected as u64),
        "{stats:?}"
    );
}

#[test]
fn otlp_logs_decode_with_the_official_protobuf_definitions() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    let peer = Peer::start(0, ok());
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank").sink(fast(SinkConfig::otlp(format!("{}/v1/logs", peer.url())))),
    )
    .unwrap();
    let ctx = three_entries(&pipeline);
    let mut records = Vec::new();
    for r in peer.requests() {
        assert_eq!(
            (r.path.as_str(), r.content_type.as_str()),
            ("/v1/logs", "application/x-protobuf")
        );
        let request = logs_peer::decode_otlp_logs(&r.body).unwrap();
        for rl in request.resource_logs {
            let resource = rl.resource.unwrap().attributes;
            assert!(resource.iter().any(|kv| kv.key == "service.name"
                && matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(Any::StringValue(s)) if s == "bank")));
            for sl in rl.scope_logs {
                records.extend(sl.log_records);
            }
        }
    }
    assert_eq!(records.len(), 3);
    let warn = records
        .iter()
        .find(|r| matches!(r.body.as_ref().and_then(|b| b.value.as_ref()), Some(Any::StringValue(s)) if s == "overdrawn"))
        .unwrap();
    assert_eq!(warn.severity_number, 13);
    assert_eq!(warn.severity_text, "WARN");
    assert_eq!(warn.trace_id, ctx.trace.trace_id().to_bytes());
    assert_eq!(warn.span_id, ctx.trace.span_id().to_bytes());
    assert!(warn.time_unix_nano > 0);
    let attr = |key: &str| {
        warn.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => Some(s.clone()),
                _ => None,
            })
    };
    assert_eq!(attr("exception.message").as_deref(), Some("append failed"));
    assert_eq!(attr("exception.stacktrace").as_deref(), Some("disk full"));
    assert_eq!(
        attr("messaging.message.conversation_id"),
        Some(ctx.correlation_id.to_string())
    );
}

/// Logs while nothing listens, brings the server up on that port, logs again: everything
/// arrives (within the retry budget) and the failures were counted.
fn survives_outage(make: fn(String) -> SinkConfig, marker: fn(&Recorded, &str) -> bool) {
    let port = free_port();
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank").sink(fast(make(format!("http://127.0.0.1:{port}")))),
    )
    .unwrap();
    emit(&pipeline, || tracing::info!("before the outage ended"));
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        pipeline.stats().sinks[0].errors > 0,
        "sends failed while down"
    );
    let peer = Peer::start(
        port,
        Arc::new(|r: &Recorded, _| {
            if r.path == "/_bulk" {
                let n = bulk_docs(r).len();
                let items: Vec<Value> =
                    (0..n).map(|_| json!({"create": {"status": 201}})).collect();
                (200, json!({"errors": false, "items": items}).to_string())
            } else {
                (200, "{}".to_owned())
            }
        }),
    );
    emit(&pipeline, || tracing::info!("after recovery"));
    assert!(pipeline.flush(WAIT));
    let requests = peer.wait_for(WAIT, |all| {
        ["before the outage ended", "after recovery"]
            .iter()
            .all(|m| all.iter().any(|r| marker(r, m)))
    });
    for m in ["before the outage ended", "after recovery"] {
        assert!(requests.iter().any(|r| marker(r, m)), "{m} delivered");
    }
    let stats = &pipeline.stats().sinks[0];
    assert_eq!((stats.sent, stats.dropped), (2, 0), "{stats:?}");
}

fn in_body(r: &Recorded, m: &str) -> bool {
    contains_bytes(&r.body, m)
}

fn in_loki_protobuf(r: &Recorded, m: &str) -> bool {
    logs_peer::decode_loki_protobuf(&r.body).is_ok_and(|p| {
        p.streams
            .iter()
            .any(|s| s.entries.iter().any(|e| e.line.contains(m)))
    })
}

#[test]
fn loki_json_sink_survives_its_server_being_down() {
    survives_outage(|url| SinkConfig::loki(url, LokiFormat::Json), in_body);
}

#[test]
fn loki_protobuf_sink_survives_its_server_being_down() {
    survives_outage(
        |url| SinkConfig::loki(url, LokiFormat::Protobuf),
        in_loki_protobuf,
    );
}

#[test]
fn elasticsearch_sink_survives_its_server_being_down() {
    survives_outage(|url| SinkConfig::elasticsearch(url, "logs-bank"), in_body);
}

#[test]
fn otlp_sink_survives_its_server_being_down() {
    survives_outage(|url| SinkConfig::otlp(format!("{url}/v1/logs")), in_body);
}

#[test]
fn a_sink_gives_up_after_its_retry_budget_and_counts_the_drops() {
    let port = free_port();
    let sink = SinkConfig::loki(format!("http://127.0.0.1:{port}"), LokiFormat::Json)
        .linger(Duration::from_millis(10))
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .max_retries(2);
    let pipeline = Pipeline::start(PipelineConfig::new("bank").sink(sink)).unwrap();
    emit(&pipeline, || {
        for i in 0..5 {
            tracing::info!("lost {i}");
        }
    });
    assert!(pipeline.flush(WAIT));
    let stats = &pipeline.stats().sinks[0];
    assert_eq!((stats.sent, stats.dropped), (0, 5), "{stats:?}");
    assert!(stats.errors >= 3, "{stats:?}");
}

#[test]
fn file_sink_writes_json_lines_and_rotates_keeping_a_bounded_number_of_files() {
    let dir = TempDir::new("cqrs-obs-file-sink");
    let path = dir.path().join("bank.jsonl");
    let mut config = FileConfig::new(&path);
    config.max_bytes = 2_000;
    config.keep = 2;
    config.fsync = true;
    let pipeline =
        Pipeline::start(PipelineConfig::new("bank").sink(fast(SinkConfig::file(config)))).unwrap();
    for batch in 0..6 {
        emit(&pipeline, || {
            for i in 0..10 {
                tracing::info!(batch, i, "line {batch}.{i}");
            }
        });
        assert!(pipeline.flush(WAIT));
    }
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        3,
        "the current file and two rotated ones: {files:?}"
    );
    let current = std::fs::read_to_string(&path).unwrap();
    let last: Vec<Value> = current
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(last.last().unwrap()["message"], "line 5.9");
    assert_eq!(last.last().unwrap()["service"], "bank");
    assert_eq!(pipeline.stats().sinks[0].sent, 60);
}

#[test]
fn file_sink_survives_its_directory_vanishing_and_writes_again_when_it_can() {
    let dir = TempDir::new("cqrs-obs-file-outage");
    let sub = dir.path().join("logs");
    let path = sub.join("bank.jsonl");
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank").sink(fast(SinkConfig::file(FileConfig::new(&path)))),
    )
    .unwrap();
    emit(&pipeline, || tracing::info!("before"));
    assert!(pipeline.flush(WAIT));
    // The directory goes, and a plain file takes its name: the sink cannot write.
    std::fs::remove_dir_all(&sub).unwrap();
    std::fs::write(&sub, b"in the way").unwrap();
    emit(&pipeline, || tracing::info!("during the outage"));
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        pipeline.stats().sinks[0].errors > 0,
        "writes failed while blocked"
    );
    std::fs::remove_file(&sub).unwrap();
    emit(&pipeline, || tracing::info!("after"));
    assert!(pipeline.flush(WAIT));
    let text = std::fs::read_to_string(&path).unwrap();
    let messages: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, ["during the outage", "after"]);
    let stats = &pipeline.stats().sinks[0];
    assert_eq!((stats.sent, stats.dropped), (3, 0), "{stats:?}");
}
