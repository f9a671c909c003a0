//! The built-in indicators that take user input: database, event store, command
//! processing, event lag, projection freshness, version consistency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cqrs_obs::command_handler;
use cqrs_obs::health::indicator::{
    CommandProcessing, Database, EventLag, EventStore, EventStoreProbe, Freshness, ProbeFuture,
    ProjectionFreshness, VersionConsistency,
};
use cqrs_obs::health::{HealthIndicator, HealthStatus, Status};

fn run(indicator: &dyn HealthIndicator) -> HealthStatus {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(indicator.check())
}

#[test]
fn database_runs_the_query_test_only_after_the_connection_test() {
    let queries = Arc::new(AtomicU64::new(0));
    let counted = queries.clone();
    let up = Database::new(|| async { Ok::<(), String>(()) }).query(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { true }
    });
    let health = run(&up);
    assert_eq!(health.status(), Status::Up);
    assert_eq!(health.details()["connection"], "UP");
    assert_eq!(health.details()["query"], "UP");
    assert_eq!(queries.load(Ordering::SeqCst), 1);

    let refused = Database::new(|| async { Err::<(), _>("refused") }).query(|| async { true });
    let health = run(&refused);
    assert_eq!(health.reason(), Some("connection: refused"));
    assert!(health.details().get("query").is_none());

    let bad_query = Database::new(|| async { true }).query(|| async { false });
    let health = run(&bad_query);
    assert_eq!(health.status(), Status::Down);
    assert_eq!(health.reason(), Some("query: failed"));
    assert_eq!(health.details()["query"], "DOWN");
}

struct Probe(bool);

impl EventStoreProbe for Probe {
    fn round_trip(&self) -> ProbeFuture<'_> {
        Box::pin(async move {
            if self.0 {
                Ok(())
            } else {
                Err("append refused: read-only".into())
            }
        })
    }
}

#[test]
fn event_store_round_trip() {
    let health = run(&EventStore::new(Probe(true)));
    assert_eq!(health.status(), Status::Up);
    assert_eq!(health.observed().unwrap().unit, "ms");
    let health = run(&EventStore::new(Probe(false)));
    assert_eq!(
        health.reason(),
        Some("round trip: append refused: read-only")
    );
}

#[command_handler]
async fn slow_command(gate: Arc<tokio::sync::Notify>) {
    gate.notified().await;
}

#[test]
fn command_processing_counts_commands_in_flight() {
    cqrs_obs::handler::enable();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gate = Arc::new(tokio::sync::Notify::new());
    let queue = Arc::new(AtomicU64::new(0));
    let q = queue.clone();
    let indicator = CommandProcessing::new(2).queue(move || q.load(Ordering::SeqCst), 10);
    rt.block_on(async {
        let tasks: Vec<_> = (0..2)
            .map(|_| tokio::spawn(slow_command(gate.clone())))
            .collect();
        tokio::task::yield_now().await;
        let health = indicator.check().await;
        assert_eq!(
            health.status(),
            Status::Down,
            "2 in flight of 2: {health:?}"
        );
        assert_eq!(health.details()["in_flight"], 2);
        assert_eq!(health.observed().unwrap().value, 2.0);
        gate.notify_waiters();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(indicator.check().await.status(), Status::Up);
        queue.store(9, Ordering::SeqCst);
        let health = indicator.check().await;
        assert_eq!(health.status(), Status::Degraded, "9 queued of 10");
        assert_eq!(health.details()["queue"], 9);
    });
}

#[test]
fn event_lag_against_its_bounds() {
    let lag = Arc::new(AtomicU64::new(100));
    let read = lag.clone();
    let indicator = EventLag::new(
        move || Duration::from_millis(read.load(Ordering::SeqCst)),
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    assert_eq!(run(&indicator).status(), Status::Up);
    lag.store(1_000, Ordering::SeqCst);
    assert_eq!(run(&indicator).status(), Status::Degraded);
    lag.store(7_000, Ordering::SeqCst);
    let health = run(&indicator);
    assert_eq!(health.status(), Status::Down);
    assert_eq!(health.observed().unwrap().value, 7.0);
}

#[test]
fn projection_freshness_ages() {
    let freshness = Freshness::new();
    let indicator = ProjectionFreshness::new(freshness.clone(), Duration::from_secs(60));
    assert_eq!(run(&indicator).status(), Status::Unknown);
    freshness.touch();
    assert_eq!(run(&indicator).status(), Status::Up);
    freshness.touch_at(SystemTime::now() - Duration::from_secs(600));
    assert_eq!(
        run(&indicator).status(),
        Status::Up,
        "touch keeps the newest time"
    );
    let stale = Freshness::new();
    stale.touch_at(SystemTime::now() - Duration::from_secs(45));
    let health = run(&ProjectionFreshness::new(
        stale.clone(),
        Duration::from_secs(60),
    ));
    assert_eq!(health.status(), Status::Degraded);
    let old = Freshness::new();
    old.touch_at(SystemTime::now() - Duration::from_secs(120));
    let health = run(&ProjectionFreshness::new(old, Duration::from_secs(60)));
    assert_eq!(health.status(), Status::Down);
    assert!(health
        .reason()
        .unwrap()
        .starts_with("last event processed 120"));
}

#[test]
fn version_consistency_lists_what_the_hook_found() {
    let ok = VersionConsistency::new(|| async { Vec::new() });
    assert_eq!(run(&ok).status(), Status::Up);
    let bad = VersionConsistency::new(|| async {
        (0..12)
            .map(|i| format!("account-{i}: version 3, 4 events"))
            .collect()
    });
    let health = run(&bad);
    assert_eq!(
        health.reason(),
        Some("12 inconsistent aggregate version(s)")
    );
    assert_eq!(
        health.details()["inconsistencies"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(health.observed().unwrap().value, 12.0);
}
