//! A sync free fn: registration, metadata and the per-call recording.

#![deny(warnings)]

use cqrs_obs::handler::HandlerKind;
use cqrs_obs::{command_handler, Outcome};

pub struct Deposit {
    pub amount: u64,
}

#[command_handler(aggregate = "Account")]
fn deposit(cmd: Deposit, balance: &mut u64) -> u64 {
    *balance += cmd.amount;
    *balance
}

fn main() {
    cqrs_obs::handler::enable();
    let mut balance = 0;
    assert_eq!(deposit(Deposit { amount: 5 }, &mut balance), 5);
    assert_eq!(deposit(Deposit { amount: 2 }, &mut balance), 7);

    let site = cqrs_obs::handler::registered()
        .find(|site| site.meta().name == "deposit")
        .expect("deposit is registered");
    let meta = site.meta();
    assert_eq!(meta.kind, HandlerKind::Command);
    assert_eq!(meta.message, "Deposit");
    assert_eq!(meta.aggregate, Some("Account"));
    assert_eq!(meta.projection, None);
    assert_eq!(meta.saga, None);
    assert_eq!(meta.module, module_path!());
    assert!(meta.file.ends_with("sync_fn.rs"), "{}", meta.file);
    assert_eq!(meta.line, 13, "the line of the fn name");
    assert!(!meta.is_async);

    let snapshot = site.snapshot();
    assert_eq!(snapshot.count(Outcome::Ok), 2);
    assert_eq!(snapshot.total(), 2);
    assert_eq!(snapshot.in_flight, 0);
}
