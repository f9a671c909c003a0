//! An error type implementing `ClassifyError` decides the outcome of an `Err`.

#![deny(warnings)]

use cqrs_obs::{command_handler, ClassifyError, Outcome};

pub struct Withdraw {
    pub amount: u64,
}

#[derive(Debug)]
pub enum AccountError {
    InsufficientFunds,
    VersionConflict,
    StoreDown,
}

impl ClassifyError for AccountError {
    fn outcome(&self) -> Outcome {
        match self {
            AccountError::InsufficientFunds => Outcome::Rejected,
            AccountError::VersionConflict => Outcome::Conflict,
            AccountError::StoreDown => Outcome::Error,
        }
    }
}

#[command_handler(aggregate = "Account")]
fn withdraw(cmd: Withdraw) -> Result<u64, AccountError> {
    decide(cmd)
}

#[command_handler(name = "withdraw_async")]
async fn withdraw_async(cmd: Withdraw) -> Result<u64, AccountError> {
    tokio::task::yield_now().await;
    decide(cmd)
}

fn decide(cmd: Withdraw) -> Result<u64, AccountError> {
    match cmd.amount {
        0 => Err(AccountError::StoreDown),
        1 => Err(AccountError::VersionConflict),
        100.. => Err(AccountError::InsufficientFunds),
        amount => Ok(amount),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    for amount in [0, 1, 100, 200, 5] {
        let _ = withdraw(Withdraw { amount });
        let _ = withdraw_async(Withdraw { amount }).await;
    }
    for name in ["withdraw", "withdraw_async"] {
        let site = cqrs_obs::handler::registered()
            .find(|s| s.meta().name == name)
            .unwrap();
        let snapshot = site.snapshot();
        assert_eq!(snapshot.count(Outcome::Ok), 1, "{name}");
        assert_eq!(snapshot.count(Outcome::Rejected), 2, "{name}");
        assert_eq!(snapshot.count(Outcome::Conflict), 1, "{name}");
        assert_eq!(snapshot.count(Outcome::Error), 1, "{name}");
    }
}
