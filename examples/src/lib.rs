//! The bank: an in-memory event-sourced service instrumented with cqrs-obs, and a workload
//! that drives it through every handler outcome. The `bank` example runs it as a service;
//! the integration tests in `tests/` run it in-process and compare what it saw with what
//! cqrs-obs exported.
//!
//! The domain:
//!
//! * an [`Account`] aggregate with events `Opened`, `Deposited`, `Withdrawn`
//!   ([`AccountEvent`]), kept in an [`EventStore`] of versioned streams with optimistic
//!   concurrency;
//! * command handlers ([`command`]): `open_account` and `withdraw` (sync), `deposit` and
//!   `transfer` (async);
//! * the `balances` projection ([`Balances`]) and the transfer saga
//!   ([`Bank::continue_transfer`]), event handlers that read the message context from the
//!   events' metadata;
//! * queries ([`query`]): `balance` (sync, from the projection) and `statement` (async,
//!   from the store);
//! * [`run_workload`], which mixes all of these and provokes every outcome cqrs-obs knows.
//!
//! All instrumentation is the three attributes: `#[command_handler]`, `#[event_handler]`,
//! `#[query_handler]`.
//!
//! ```no_run
//! use cqrs_obs_examples::{run_workload, WorkloadConfig};
//!
//! let _guard = cqrs_obs::init();
//! let report = run_workload(WorkloadConfig { commands: 50_000, ..Default::default() });
//! println!("{:.0} steps/s", report.steps_per_second());
//! ```

pub mod account;
pub mod bank;
pub mod command;
pub mod health;
pub mod objectives;
pub mod projection;
pub mod query;
pub mod saga;
pub mod split;
pub mod store;
pub mod tally;
pub mod workload;

pub use account::{Account, AccountError, AccountEvent};
pub use bank::{Bank, Command};
pub use projection::Balances;
pub use store::{AccountId, EventStore};
pub use tally::{Handler, Tally};
pub use workload::{run_workload, Fault, WorkloadConfig, WorkloadReport};
