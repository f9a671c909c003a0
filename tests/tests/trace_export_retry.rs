//! A collector that answers `503 Service Unavailable` twice and then accepts: the exporter
//! retries with backoff, every span arrives, nothing is counted as dropped.

use std::sync::Arc;
use std::time::Duration;

use cqrs_obs::trace::{Protocol, Root, Sampler};
use cqrs_obs::{command_handler, AdminAddr, Console};
use cqrs_obs_tests::logs_peer::Peer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

struct Ping;

#[command_handler(aggregate = "Probe")]
fn ping(_cmd: Ping) -> Result<u8, std::io::Error> {
    Ok(1)
}

fn counter(name: &str) -> f64 {
    cqrs_obs::metrics::render()
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains("signal=\"traces\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn exports_are_retried_until_the_collector_recovers() {
    let collector = Peer::start(
        0,
        Arc::new(|_, n| {
            if n < 2 {
                (503, String::new())
            } else {
                (200, String::new())
            }
        }),
    );
    let guard = cqrs_obs::builder()
        .service_name("retry")
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .ignore_env()
        .otlp_endpoint(collector.url())
        .otlp_protocol(Protocol::HttpProtobuf)
        .sampler(Sampler::parent_based(Root::AlwaysOn))
        .try_init()
        .expect("init");
    for _ in 0..5 {
        assert_eq!(ping(Ping).unwrap(), 1);
    }
    guard.flush();

    let requests = collector.wait_for(Duration::from_secs(10), |r| r.len() >= 3);
    assert_eq!(
        requests.len(),
        3,
        "two refusals, then the retry that is accepted"
    );
    let bodies: Vec<ExportTraceServiceRequest> = requests
        .iter()
        .map(|r| ExportTraceServiceRequest::decode(r.body.as_slice()).expect("OTLP protobuf"))
        .collect();
    let spans = |req: &ExportTraceServiceRequest| -> usize {
        req.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum()
    };
    assert!(
        bodies.iter().all(|b| spans(b) == 5),
        "each attempt carries the whole batch"
    );
    assert_eq!(bodies[0], bodies[2], "the retry resends the same batch");
    assert_eq!(counter("cqrs_obs_dropped_total"), 0.0);
    drop(guard);
}
