//! Log sinks over https (feature `logs-tls`): OTLP logs and Loki deliver to a loopback https
//! server whose self-signed certificate they were told to trust, and deliver nothing to one
//! whose certificate they were not (each attempt counted as an error).

use std::time::Duration;

use cqrs_obs::logs::{LokiFormat, Pipeline, PipelineConfig, SinkConfig};
use cqrs_obs_tests::logs_peer::{self, contains_bytes, Recorded, TlsPeer};
use cqrs_obs_tests::peer::TempDir;
use cqrs_obs_tests::tls;
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(15);

fn fast(sink: SinkConfig) -> SinkConfig {
    sink.linger(Duration::from_millis(20))
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .max_retries(3)
}

fn emit(pipeline: &Pipeline, message: &str) {
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(amount = 30, "{message}");
    });
}

fn otlp_has(r: &Recorded, message: &str) -> bool {
    r.path == "/v1/logs"
        && logs_peer::decode_otlp_logs(&r.body).is_ok_and(|request| {
            request.resource_logs.iter().any(|rl| {
                rl.scope_logs.iter().any(|sl| {
                    sl.log_records.iter().any(|lr| {
                        lr.body
                            .as_ref()
                            .is_some_and(|b| format!("{b:?}").contains(message))
                    })
                })
            })
        })
}

#[test]
fn sinks_deliver_over_https_to_a_server_they_trust() {
    let dir = TempDir::new("logs-tls");
    let cert = tls::generate(dir.path());
    let pem = std::fs::read(&cert.cert).unwrap();
    let peer = TlsPeer::start(&cert);
    let url = peer.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank")
            .sink(fast(
                SinkConfig::otlp(format!("{url}/v1/logs")).root_certificates_pem(pem.clone()),
            ))
            .sink(fast(
                SinkConfig::loki(&url, LokiFormat::Json).root_certificates_pem(pem),
            )),
    )
    .unwrap();
    emit(&pipeline, "paid over tls");
    assert!(pipeline.flush(WAIT), "pipeline flushed");
    let requests = peer.wait_for(WAIT, |all| {
        all.iter().any(|r| otlp_has(r, "paid over tls"))
            && all.iter().any(|r| r.path == "/loki/api/v1/push")
    });
    assert!(
        requests.iter().any(|r| otlp_has(r, "paid over tls")),
        "an OTLP export request carrying the entry: {requests:?}"
    );
    let loki = requests
        .iter()
        .find(|r| r.path == "/loki/api/v1/push")
        .expect("a Loki push");
    assert!(contains_bytes(&loki.body, "paid over tls"));
    for sink in pipeline.stats().sinks {
        assert_eq!((sink.sent, sink.errors), (1, 0), "{sink:?}");
    }
}

#[test]
fn a_sink_sends_nothing_to_a_server_it_does_not_trust() {
    let dir = TempDir::new("logs-tls-untrusted");
    let cert = tls::generate(dir.path());
    let peer = TlsPeer::start(&cert);
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank").sink(fast(SinkConfig::otlp(format!("{}/v1/logs", peer.url())))),
    )
    .unwrap();
    emit(&pipeline, "not for strangers");
    assert!(pipeline.flush(WAIT), "pipeline flushed");
    let sinks = pipeline.stats().sinks;
    assert_eq!(sinks[0].sent, 0, "{sinks:?}");
    assert_eq!(
        sinks[0].errors, 4,
        "the first attempt and 3 retries fail: {sinks:?}"
    );
    assert_eq!(sinks[0].dropped, 1, "{sinks:?}");
    assert!(
        peer.requests().is_empty(),
        "no request got past the handshake"
    );
}
