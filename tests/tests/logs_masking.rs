//! Secrets logged through every path — the message, event fields, an error's source chain,
//! span fields, a card number in text — reach no sink: not the store, the file, Loki,
//! Elasticsearch or OTLP.

use std::sync::Arc;
use std::time::Duration;

use cqrs_obs::logs::{
    FileConfig, LokiFormat, Pipeline, PipelineConfig, Query, SinkConfig, StoreConfig,
};
use cqrs_obs_tests::logs_peer::{self, contains_bytes, Peer, Recorded};
use cqrs_obs_tests::peer::TempDir;
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;

const SECRETS: [&str; 7] = [
    "hunter2-in-message",
    "tok-in-field",
    "s3cr3t-in-chain",
    "key-in-span",
    "4111 1111 1111 1111",
    "4111111111111111",
    "iban-DE89370400440532013000",
];

#[derive(Debug)]
struct Leak;
impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connect failed with client_secret=s3cr3t-in-chain")
    }
}
impl std::error::Error for Leak {}

#[derive(Debug)]
struct Outer(Leak);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("login failed")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn bulk_ok(r: &Recorded) -> (u16, String) {
    if r.path != "/_bulk" {
        return (200, "{}".into());
    }
    let n = std::str::from_utf8(&r.body).unwrap().lines().count() / 2;
    let items: Vec<Value> = (0..n).map(|_| json!({"create": {"status": 201}})).collect();
    (200, json!({"errors": false, "items": items}).to_string())
}

#[test]
fn secrets_logged_through_every_path_reach_no_sink() {
    let dir = TempDir::new("cqrs-obs-masking");
    let peer = Peer::start(0, Arc::new(|r: &Recorded, _| bulk_ok(r)));
    let file = dir.path().join("logs.jsonl");
    let fast = |s: SinkConfig| s.linger(Duration::from_millis(20));
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank")
            .mask_field("iban")
            .store(StoreConfig::new(dir.path().join("store")))
            .sink(fast(SinkConfig::file(FileConfig::new(&file))))
            .sink(fast(SinkConfig::loki(peer.url(), LokiFormat::Json)))
            .sink(fast(SinkConfig::elasticsearch(peer.url(), "logs-bank")))
            .sink(fast(SinkConfig::otlp(format!("{}/v1/logs", peer.url())))),
    )
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("login", api_key = "key-in-span", user = "ann");
        let _entered = span.enter();
        tracing::info!("user ann logged in with password=hunter2-in-message");
        tracing::info!(
            token = "tok-in-field",
            iban = "iban-DE89370400440532013000",
            "session started"
        );
        tracing::error!(
            error = &Outer(Leak) as &dyn std::error::Error,
            "login failed"
        );
        tracing::warn!(
            card = 4111111111111111u64,
            "paid with card 4111 1111 1111 1111"
        );
    });
    assert!(pipeline.flush(Duration::from_secs(15)));

    let page = pipeline.search(&Query::default()).unwrap();
    assert_eq!(page.entries.len(), 4);
    let stored = serde_json::to_string(&page.entries).unwrap();
    let mut outputs = vec![("store".to_owned(), stored.clone().into_bytes())];
    outputs.push(("file".to_owned(), std::fs::read(&file).unwrap()));
    let requests = peer.wait_for(Duration::from_secs(10), |all| {
        ["/loki/api/v1/push", "/_bulk", "/v1/logs"]
            .iter()
            .all(|p| all.iter().any(|r| r.path == *p))
    });
    for r in requests {
        if r.path == "/v1/logs" {
            logs_peer::decode_otlp_logs(&r.body).unwrap();
        }
        outputs.push((r.path.clone(), r.body));
    }
    assert_eq!(outputs.len(), 5, "store, file, Loki, Elasticsearch, OTLP");
    for (sink, bytes) in &outputs {
        for secret in SECRETS {
            assert!(
                !contains_bytes(bytes, secret),
                "{secret} reached {sink}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert!(
            contains_bytes(bytes, "***"),
            "{sink} got the masked entries"
        );
        assert!(
            contains_bytes(bytes, "session started"),
            "{sink} got the entries"
        );
    }
    // What is left is useful: names, the masked marker, the card's last digits.
    assert!(stored.contains("\"api_key\":\"***\""), "{stored}");
    assert!(stored.contains("\"user\":\"ann\""), "{stored}");
    assert!(stored.contains("card ****1111"), "{stored}");
    assert!(stored.contains("client_secret=***"), "{stored}");
}
