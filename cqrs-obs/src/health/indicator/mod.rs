//! Built-in indicators. Each implements [`HealthIndicator`](super::HealthIndicator); wrap it
//! in a [`Check`](super::Check) with [`Check::indicator`](super::Check::indicator) to register it.
//!
//! ```
//! use std::time::Duration;
//! use cqrs_obs::health::{indicator::{Disk, Memory}, Check, Registry};
//!
//! let registry = Registry::new();
//! registry.register(Check::indicator("memory", Memory::new(1 << 30)).group("liveness")).unwrap();
//! registry.register(Check::indicator("disk", Disk::new("/")).interval(Duration::from_secs(30))).unwrap();
//! ```

mod cqrs;
mod http;
mod store;
mod system;

pub use cqrs::{CommandProcessing, EventLag, Freshness, ProjectionFreshness, VersionConsistency};
pub use http::HttpGet;
pub use store::{Database, EventStore, EventStoreProbe, ProbeFuture};
pub use system::{Disk, Memory};

/// DEGRADED at `warn`, DOWN at `critical` (both inclusive), else UP.
fn threshold(value: f64, warn: f64, critical: f64) -> super::HealthStatus {
    if value >= critical {
        super::HealthStatus::down()
    } else if value >= warn {
        super::HealthStatus::degraded()
    } else {
        super::HealthStatus::up()
    }
}
