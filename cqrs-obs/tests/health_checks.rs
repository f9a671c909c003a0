//! Health checks without `init()`: execution (parallel, timeouts, panics), aggregation,
//! damping, history, the details policy on the formats, and `#[health_check]` registration.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_obs::health::{
    self, Aggregation, Check, HealthStatus, Registry, Selector, ShowDetails, Snapshot, Status,
};
use cqrs_obs::health_check;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn component<'a>(snapshot: &'a Snapshot, name: &str) -> &'a cqrs_obs::health::Component {
    snapshot
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

#[test]
fn slow_and_panicking_checks_are_down_and_the_others_still_report() {
    let registry = Registry::new();
    let timeout = Duration::from_millis(200);
    registry
        .register(
            Check::from_async("sleeps", || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                true
            })
            .timeout(timeout),
        )
        .unwrap();
    registry
        .register(
            Check::from_fn("blocks", || {
                std::thread::sleep(Duration::from_secs(2));
                true
            })
            .timeout(timeout),
        )
        .unwrap();
    registry
        .register(Check::from_fn("fine", || {
            HealthStatus::up().with_detail("k", "v")
        }))
        .unwrap();
    let rt = runtime();
    let started = Instant::now();
    let snapshot = rt.block_on(registry.run(Selector::All));
    let took = started.elapsed();
    assert!(took <= timeout + Duration::from_millis(50), "took {took:?}");
    // A panic captures a backtrace on the thread that panicked (slow with RUST_BACKTRACE=1
    // in a debug build), so the panicking check joins for the second run only.
    registry
        .register(Check::from_async("panics", || async {
            if true {
                panic!("the disk is on fire");
            }
            true
        }))
        .unwrap();
    let second = rt.block_on(registry.run(Selector::All));
    rt.shutdown_background();
    let still = &component(&second, "fine").report.health;
    assert_eq!(still.status(), Status::Up, "the others still report");
    let panicked = &component(&second, "panics").report.health;
    assert_eq!(panicked.status(), Status::Down);
    assert_eq!(panicked.reason(), Some("panicked: the disk is on fire"));
    assert_eq!(snapshot.status, Status::Down);
    for name in ["sleeps", "blocks"] {
        let c = component(&snapshot, name);
        assert_eq!(c.report.health.status(), Status::Down, "{name}");
        assert_eq!(c.report.health.reason(), Some("timed out after 200ms"));
        assert!(c.report.duration <= timeout + Duration::from_millis(50));
    }
    let fine = &component(&snapshot, "fine").report.health;
    assert_eq!(fine.status(), Status::Up);
    assert_eq!(fine.details()["k"], "v");
}

#[test]
fn checks_run_in_parallel() {
    let registry = Registry::new();
    for i in 0..20 {
        registry
            .register(Check::from_async(format!("c{i}"), || async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                true
            }))
            .unwrap();
    }
    let started = Instant::now();
    let snapshot = runtime().block_on(registry.run(Selector::All));
    assert_eq!(snapshot.status, Status::Up);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(400),
        "20 × 100 ms took {took:?}"
    );
}

fn fixed(registry: &Registry, group: &str, statuses: &[Status]) {
    for (i, &status) in statuses.iter().enumerate() {
        let check = Check::from_fn(format!("{group}-{i}"), move || status).group(group.to_owned());
        registry.register(check).unwrap();
    }
}

#[test]
fn groups_aggregate_as_configured() {
    use Status::*;
    let registry = Registry::new();
    fixed(&registry, "all", &[Up, Degraded, Up]);
    fixed(&registry, "majority", &[Up, Up, Down]);
    fixed(&registry, "minority", &[Up, Down, Down]);
    fixed(&registry, "any", &[Down, Up, OutOfService]);
    fixed(&registry, "none", &[Down, OutOfService]);
    registry
        .register(
            Check::from_fn("informational", || false)
                .group("all")
                .critical(false),
        )
        .unwrap();
    registry.set_aggregation("majority", Aggregation::MajorityUp);
    registry.set_aggregation("minority", Aggregation::MajorityUp);
    registry.set_aggregation("any", Aggregation::AnyUp);
    registry.set_aggregation("none", Aggregation::AnyUp);
    let rt = runtime();
    let status = |group| rt.block_on(registry.check(Selector::Group(group))).status;
    assert_eq!(
        status("all"),
        Degraded,
        "worst wins; the informational DOWN does not count"
    );
    assert_eq!(status("majority"), Degraded);
    assert_eq!(status("minority"), Down);
    assert_eq!(status("any"), Degraded);
    assert_eq!(status("none"), Down);
    assert_eq!(rt.block_on(registry.check(Selector::All)).status, Down);
    assert_eq!(
        rt.block_on(registry.check(Selector::Group("all")))
            .components
            .len(),
        4
    );
}

#[test]
fn damping_waits_for_consecutive_results_and_history_is_bounded() {
    let registry = Registry::new();
    let value = Arc::new(AtomicU8::new(1));
    let read = value.clone();
    registry
        .register(Check::from_fn("flappy", move || {
            read.load(Ordering::SeqCst) == 1
        }))
        .unwrap();
    registry.set_damping(NonZeroU32::new(3).unwrap());
    registry.set_history_capacity(2);
    let rt = runtime();
    let step = |up: bool| {
        value.store(u8::from(up), Ordering::SeqCst);
        let s = rt.block_on(registry.run(Selector::All));
        s.components[0].report.health.clone()
    };
    assert_eq!(step(true).status(), Status::Up);
    let pending = step(false);
    assert_eq!(pending.status(), Status::Up, "1 of 3");
    assert_eq!(pending.details()["pending"], "DOWN 1/3");
    assert_eq!(step(true).status(), Status::Up, "a flap resets the count");
    assert_eq!(step(false).status(), Status::Up);
    assert_eq!(step(false).details()["pending"], "DOWN 2/3");
    assert_eq!(step(false).status(), Status::Down, "3 in a row");
    assert_eq!(step(true).status(), Status::Down);
    let history = registry.history("flappy").unwrap();
    assert_eq!(history.len(), 2, "capacity 2 keeps the latest two");
    assert_eq!(
        (history[0].from, history[0].to),
        (Status::Unknown, Status::Up)
    );
    assert_eq!((history[1].from, history[1].to), (Status::Up, Status::Down));
    let _ = step(true);
    let _ = step(true);
    let history = registry.history("flappy").unwrap();
    assert_eq!((history[0].from, history[0].to), (Status::Up, Status::Down));
    assert_eq!((history[1].from, history[1].to), (Status::Down, Status::Up));
    assert!(history[0].at <= history[1].at);
    assert!(registry.history("nope").is_none());
}

#[test]
fn the_details_policy_hides_everything_but_the_status() {
    let registry = Registry::new();
    registry
        .register(
            Check::from_fn("db", || {
                HealthStatus::down_because("refused").with_observed("latency", 3.5, "ms")
            })
            .group("readiness"),
        )
        .unwrap();
    let snapshot = runtime().block_on(registry.check(Selector::All));
    assert!(ShowDetails::Always.shows(false));
    assert!(!ShowDetails::Never.shows(true));
    assert!(ShowDetails::WhenAuthorized.shows(true) && !ShowDetails::WhenAuthorized.shows(false));

    let hidden = health::spring(&snapshot, false, None);
    assert_eq!(hidden, serde_json::json!({ "status": "DOWN" }));
    let shown = health::spring(&snapshot, true, None);
    let db = &shown["components"]["db"];
    assert_eq!(db["status"], "DOWN");
    assert_eq!(db["details"]["error"], "refused");
    assert_eq!(db["observedValue"], 3.5);

    assert_eq!(
        health::ietf(&snapshot, false, Some("bank")),
        serde_json::json!({ "status": "fail", "serviceId": "bank" })
    );
    let ietf = health::ietf(&snapshot, true, None);
    assert_eq!(ietf["checks"]["db:latency"][0]["output"], "refused");

    let text = health::probe(&snapshot, "readyz", true, false);
    assert_eq!(text, "[-]db failed: reason withheld\nreadyz check failed\n");
    let text = health::probe(&snapshot, "readyz", true, true);
    assert_eq!(text, "[-]db failed: refused\nreadyz check failed\n");
    assert_eq!(
        health::probe(&snapshot, "readyz", false, true),
        "readyz check failed\n"
    );
}

#[health_check(group = "macro")]
fn sync_bool() -> bool {
    true
}

#[health_check(name = "macro-result", group = ["macro", "readiness"], critical = false)]
fn sync_result() -> Result<u32, std::io::Error> {
    Err(std::io::Error::other("no connection"))
}

#[health_check(
    name = "macro-async",
    group = "macro",
    timeout = "50ms",
    interval = "1h"
)]
async fn async_status() -> HealthStatus {
    tokio::time::sleep(Duration::from_millis(1)).await;
    HealthStatus::degraded().with_detail("queue", 7)
}

#[health_check(name = "macro-slow", group = "macro", timeout = "50ms")]
async fn async_slow() -> Status {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Status::Up
}

#[test]
fn macro_checks_are_registered_with_their_options() {
    let registry = health::registry();
    let snapshot = runtime().block_on(registry.check(Selector::Group("macro")));
    let names: Vec<&str> = snapshot
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for name in ["sync_bool", "macro-result", "macro-async", "macro-slow"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(
        component(&snapshot, "sync_bool").report.health.status(),
        Status::Up
    );
    let result = component(&snapshot, "macro-result");
    assert_eq!(result.report.health.reason(), Some("no connection"));
    assert!(!result.critical);
    assert_eq!(result.groups, ["macro", "readiness"]);
    let degraded = &component(&snapshot, "macro-async").report.health;
    assert_eq!(degraded.status(), Status::Degraded);
    assert_eq!(degraded.details()["queue"], 7);
    let slow = &component(&snapshot, "macro-slow").report.health;
    assert_eq!(slow.reason(), Some("timed out after 50ms"));
    assert_eq!(snapshot.status, Status::Down, "macro-slow is critical");
    // Called directly, the functions are unchanged.
    assert!(sync_bool());
}
