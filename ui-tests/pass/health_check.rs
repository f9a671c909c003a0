//! `#[health_check]` on sync and async fns returning each accepted type, with every option:
//! the function is unchanged and the check is registered with its options.

#![deny(warnings)]

use std::time::Duration;

use cqrs_obs::health::{self, Selector, Status};
use cqrs_obs::{health_check, HealthStatus};

/// Docs and attributes stay.
#[health_check]
#[inline]
fn plain() -> bool {
    true
}

#[health_check(
    name = "event-store",
    group = "readiness",
    timeout = "2s",
    interval = "10s",
    critical = true
)]
async fn event_store() -> HealthStatus {
    HealthStatus::up().with_detail("events", 3)
}

#[health_check(name = "cache", group = ["liveness", "readiness", "custom_1"], critical = false)]
fn cache() -> Result<(), String> {
    Err("evicted".to_owned())
}

#[health_check(name = "status", timeout = "500ms", interval = "1m")]
async fn status() -> Status {
    Status::OutOfService
}

#[health_check(timeout = "1h")]
pub(crate) fn r#type() -> cqrs_obs::health::HealthStatus {
    HealthStatus::degraded()
}

mod nested {
    #[cqrs_obs::health_check(group = "custom")]
    pub(super) async fn in_a_module() -> Result<u8, std::io::Error> {
        Ok(1)
    }
}

fn main() {
    assert!(plain());
    let registry = health::registry();
    let mut names = registry.names();
    names.sort();
    assert_eq!(
        names,
        [
            "cache",
            "event-store",
            "in_a_module",
            "plain",
            "status",
            "type"
        ]
    );
    assert_eq!(
        registry.groups(),
        ["custom", "custom_1", "liveness", "readiness"]
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = rt.block_on(registry.check(Selector::All));
    let get = |name: &str| {
        all.components
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(get("plain").report.health.status(), Status::Up);
    assert!(get("plain").groups.is_empty() && get("plain").critical);
    assert_eq!(get("event-store").report.health.details()["events"], 3);
    assert_eq!(get("cache").report.health.reason(), Some("evicted"));
    assert!(!get("cache").critical);
    assert_eq!(get("status").report.health.status(), Status::OutOfService);
    assert_eq!(get("type").report.health.status(), Status::Degraded);
    assert_eq!(get("in_a_module").report.health.status(), Status::Up);
    assert_eq!(all.status, Status::OutOfService);
    assert!(get("status").report.duration < Duration::from_millis(500));
    let _ = rt.block_on(nested::in_a_module());
    let _ = r#type();
    let _ = rt.block_on(event_store());
    let _ = cache();
    let _ = rt.block_on(status());
}
