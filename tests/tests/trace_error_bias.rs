//! The error bias against a real OTLP receiver: with a sampler that samples nothing, every
//! failing call (sync and async, `error` and `panic`) is still exported — exactly those,
//! each with its error status, its real duration and the trace id it propagated — and no
//! successful call is.

use std::collections::HashSet;
use std::time::Duration;

use cqrs_obs::trace::{Root, Sampler};
use cqrs_obs::{command_handler, AdminAddr, Console};
use cqrs_obs_tests::otlp::{hex, str_attr, Receiver};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

#[derive(Debug)]
struct LedgerDown;

impl std::fmt::Display for LedgerDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ledger unavailable")
    }
}

impl std::error::Error for LedgerDown {}

struct Post {
    n: u32,
}

/// Fails every tenth call.
#[command_handler(aggregate = "Ledger")]
fn post(cmd: Post) -> Result<u32, LedgerDown> {
    if cmd.n % 10 == 9 {
        return Err(LedgerDown);
    }
    Ok(cmd.n)
}

struct Settle {
    n: u32,
}

/// Fails every fifth call, after some work.
#[command_handler(aggregate = "Ledger")]
async fn settle(cmd: Settle) -> Result<u32, LedgerDown> {
    tokio::task::yield_now().await;
    if cmd.n % 5 == 4 {
        std::thread::sleep(Duration::from_millis(2));
        return Err(LedgerDown);
    }
    Ok(cmd.n)
}

struct Crash;

/// Always panics.
#[command_handler(aggregate = "Ledger")]
fn crash(_cmd: Crash) -> u32 {
    panic!("boom")
}

#[test]
fn every_failing_call_is_exported_and_nothing_else() {
    let receiver = Receiver::http();
    let guard = cqrs_obs::builder()
        .ignore_env()
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .otlp_endpoint(receiver.endpoint())
        .sampler(Sampler::parent_based(Root::AlwaysOff))
        .keep_error_traces(true)
        .try_init()
        .expect("init");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut failed_traces = HashSet::new();
    for n in 0..200 {
        let ctx = cqrs_obs::context::Context::new_root();
        assert!(!ctx.is_sampled());
        let result = cqrs_obs::context::scope(ctx.clone(), || post(Post { n }));
        let trace_id = ctx.trace.trace_id().to_string();
        if result.is_err() {
            failed_traces.insert(trace_id);
        }
    }
    for n in 0..100 {
        let _ = runtime.block_on(settle(Settle { n }));
    }
    for _ in 0..3 {
        let result = std::panic::catch_unwind(|| crash(Crash));
        assert!(result.is_err());
    }
    guard.flush();

    let expected = 20 + 20 + 3;
    receiver
        .received
        .wait_for(Duration::from_secs(10), |s| s.len() >= expected);
    std::thread::sleep(Duration::from_millis(300));
    let spans = receiver.received.spans();
    assert_eq!(spans.len(), expected, "exactly the failing calls");
    let mut by_name = std::collections::BTreeMap::<&str, usize>::new();
    let mut span_ids = HashSet::new();
    for (_, span) in &spans {
        *by_name.entry(span.name.as_str()).or_default() += 1;
        let status = span.status.as_ref().expect("a status");
        assert_eq!(status.code, StatusCode::Error as i32, "{span:?}");
        assert_eq!(
            str_attr(&span.attributes, "error.type"),
            Some(if span.name == "handle Crash" {
                "panic"
            } else {
                "error"
            })
        );
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert!(span_ids.insert(hex(&span.span_id)), "one span per call");
        if span.name == "handle Settle" {
            let nanos = span.end_time_unix_nano - span.start_time_unix_nano;
            assert!(nanos >= 2_000_000, "the real duration: {nanos} ns");
        }
    }
    assert_eq!(by_name["handle Post"], 20);
    assert_eq!(by_name["handle Settle"], 20);
    assert_eq!(by_name["handle Crash"], 3);
    // The sync calls ran in a root context of the test's: the exported spans carry its trace
    // ids, so the failure is found by the id the request propagated.
    let exported: HashSet<String> = spans
        .iter()
        .filter(|(_, s)| s.name == "handle Post")
        .map(|(_, s)| hex(&s.trace_id))
        .collect();
    assert_eq!(exported, failed_traces);
    drop(guard);
}
