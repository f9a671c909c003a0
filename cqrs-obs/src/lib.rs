#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod anomaly;
pub mod context;
#[cfg(feature = "cqrs-es")]
pub mod cqrs_es;
pub mod dashboards;
pub mod handler;
pub mod health;
mod init;
mod local;
pub mod logs;
pub mod metrics;
pub mod propagation;
pub mod slo;
#[cfg(any(feature = "grafana-tls", feature = "logs-tls"))]
mod tls_client;
pub mod trace;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cqrs_obs_macros::health_check;
pub use cqrs_obs_macros::{command_handler, event_handler, query_handler, slo};
pub use handler::{ClassifyError, Outcome};
pub use health::HealthStatus;
pub use init::{
    builder, init, try_init, AdminAddr, Builder, ConfigError, Console, InitError, ObsGuard,
    DEFAULT_ADMIN_ADDR, TICK,
};
