//! The bank's own count of what its handlers returned, kept apart from cqrs-obs: every place
//! that calls a handler records the outcome of the result it got here, so the workload can
//! report what it saw and tests can compare that with what cqrs-obs exported.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use cqrs_obs::handler::HandlerKind;
use cqrs_obs::{ClassifyError, Outcome};

/// Every instrumented handler of the bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Handler {
    /// `command::open_account`
    OpenAccount,
    /// `command::deposit`
    Deposit,
    /// `command::withdraw`
    Withdraw,
    /// `command::transfer`
    Transfer,
    /// `Balances::on_opened`
    OnOpened,
    /// `Balances::on_deposited`
    OnDeposited,
    /// `Balances::on_withdrawn`
    OnWithdrawn,
    /// `Bank::continue_transfer` (the transfer saga)
    ContinueTransfer,
    /// `query::balance`
    Balance,
    /// `query::statement`
    Statement,
}

impl Handler {
    /// Every handler, in declaration order.
    pub const ALL: [Handler; 10] = [
        Handler::OpenAccount,
        Handler::Deposit,
        Handler::Withdraw,
        Handler::Transfer,
        Handler::OnOpened,
        Handler::OnDeposited,
        Handler::OnWithdrawn,
        Handler::ContinueTransfer,
        Handler::Balance,
        Handler::Statement,
    ];

    /// The handler's name: its fn name, which is what cqrs-obs calls it.
    pub const fn name(self) -> &'static str {
        match self {
            Handler::OpenAccount => "open_account",
            Handler::Deposit => "deposit",
            Handler::Withdraw => "withdraw",
            Handler::Transfer => "transfer",
            Handler::OnOpened => "on_opened",
            Handler::OnDeposited => "on_deposited",
            Handler::OnWithdrawn => "on_withdrawn",
            Handler::ContinueTransfer => "continue_transfer",
            Handler::Balance => "balance",
            Handler::Statement => "statement",
        }
    }

    /// Command, event or query handler.
    pub const fn kind(self) -> HandlerKind {
        match self {
            Handler::OpenAccount | Handler::Deposit | Handler::Withdraw | Handler::Transfer => {
                HandlerKind::Command
            }
            Handler::OnOpened
            | Handler::OnDeposited
            | Handler::OnWithdrawn
            | Handler::ContinueTransfer => HandlerKind::Event,
            Handler::Balance | Handler::Statement => HandlerKind::Query,
        }
    }

    /// Looks a handler up by name.
    pub fn from_name(name: &str) -> Option<Handler> {
        Handler::ALL.into_iter().find(|h| h.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

const OUTCOMES: usize = Outcome::ALL.len();

/// Calls per handler and outcome, as the callers saw them.
#[derive(Debug, Default)]
pub struct Tally {
    counts: [[AtomicU64; OUTCOMES]; Handler::ALL.len()],
}

/// The outcome a result stands for: `Ok` is ok, an error classifies itself.
pub fn outcome_of<T, E: ClassifyError>(result: &Result<T, E>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(e) => e.outcome(),
    }
}

impl Tally {
    /// Counts one call.
    pub fn record(&self, handler: Handler, outcome: Outcome) {
        let index = Outcome::ALL.iter().position(|&o| o == outcome).unwrap_or(0);
        self.counts[handler.index()][index].fetch_add(1, Relaxed);
    }

    /// Counts one call that returned `result`.
    pub fn record_result<T, E: ClassifyError>(&self, handler: Handler, result: &Result<T, E>) {
        self.record(handler, outcome_of(result));
    }

    /// The counts so far, indexed like [`Outcome::ALL`].
    pub fn counts(&self, handler: Handler) -> [u64; OUTCOMES] {
        let row = &self.counts[handler.index()];
        std::array::from_fn(|i| row[i].load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for handler in Handler::ALL {
            assert_eq!(Handler::from_name(handler.name()), Some(handler));
        }
    }

    #[test]
    fn records_by_outcome() {
        let tally = Tally::default();
        tally.record(Handler::Deposit, Outcome::Panic);
        tally.record_result::<(), crate::account::AccountError>(Handler::Deposit, &Ok(()));
        assert_eq!(tally.counts(Handler::Deposit), [1, 0, 0, 0, 1, 0]);
    }
}
