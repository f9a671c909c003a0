//! The bank service: routes commands to their handlers, publishes the appended events to the
//! `balances` projection and the transfer saga, and answers queries.
//!
//! Events are published in-process, right after the append, on the caller's task; a real
//! deployment would read them from the store's subscription instead. Every handler result
//! the service gets is counted in its [`Tally`].

use std::sync::Arc;

use cqrs_obs::Outcome;

use crate::account::{
    AccountEnvelope, AccountEvent, AccountStore, Deposit, OpenAccount, Transfer, Withdraw,
};
use crate::command::{self, Appended};
use crate::projection::{BalanceView, Balances};
use crate::query::{self, GetBalance, GetStatement, QueryError, Statement};
use crate::tally::{Handler, Tally};

/// A command for the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Open an account.
    Open(OpenAccount),
    /// Deposit money.
    Deposit(Deposit),
    /// Withdraw money.
    Withdraw(Withdraw),
    /// Transfer money to another account.
    Transfer(Transfer),
}

/// The bank: event store, read model and the count of handler outcomes.
#[derive(Debug, Default)]
pub struct Bank {
    pub(crate) store: AccountStore,
    pub(crate) balances: Balances,
    pub(crate) tally: Tally,
}

impl Bank {
    /// An empty bank.
    pub fn new() -> Self {
        Self::default()
    }

    /// The event store.
    pub fn store(&self) -> &AccountStore {
        &self.store
    }

    /// The `balances` read model.
    pub fn balances(&self) -> &Balances {
        &self.balances
    }

    /// What the bank's handlers returned so far, as the bank saw it.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Handles a command and publishes the events it appended.
    ///
    /// A transfer returns once its debit is recorded and the saga has run; the saga's own
    /// result (credited, or compensated) is counted under `continue_transfer`.
    pub async fn execute(&self, command: Command) -> Appended {
        let (handler, result) = match command {
            Command::Open(cmd) => (
                Handler::OpenAccount,
                command::open_account(cmd, &self.store),
            ),
            Command::Deposit(cmd) => return self.run_deposit(cmd).await,
            Command::Withdraw(cmd) => (Handler::Withdraw, command::withdraw(cmd, &self.store)),
            Command::Transfer(cmd) => {
                (Handler::Transfer, command::transfer(cmd, &self.store).await)
            }
        };
        self.tally.record_result(handler, &result);
        let appended = result?;
        self.project(&appended);
        for envelope in &appended {
            if let AccountEvent::Withdrawn {
                amount,
                transfer: Some(transfer),
            } = envelope.event
            {
                let saga = self.continue_transfer(envelope, transfer, amount).await;
                self.tally.record_result(Handler::ContinueTransfer, &saga);
            }
        }
        Ok(appended)
    }

    /// Runs the deposit handler and projects its events (deposits never start a saga).
    pub(crate) async fn run_deposit(&self, cmd: Deposit) -> Appended {
        let result = command::deposit(cmd, &self.store).await;
        self.tally.record_result(Handler::Deposit, &result);
        let appended = result?;
        self.project(&appended);
        Ok(appended)
    }

    fn project(&self, appended: &[Arc<AccountEnvelope>]) {
        // Events are projected right after their append, so the gap is what concurrent
        // commands appended meanwhile, plus any event the projection refused.
        let gap = self
            .store
            .appended()
            .saturating_sub(self.balances.projected());
        cqrs_obs::metrics::report_projection_gap("balances", gap);
        for envelope in appended {
            let (handler, result) = self.balances.project(envelope);
            self.tally.record(
                handler,
                if result.is_ok() {
                    Outcome::Ok
                } else {
                    Outcome::Error
                },
            );
        }
    }

    /// Answers [`GetBalance`] from the read model.
    pub fn balance(&self, q: GetBalance) -> Option<BalanceView> {
        let view = query::balance(q, &self.balances);
        self.tally.record(Handler::Balance, Outcome::Ok);
        view
    }

    /// Answers [`GetStatement`] from the event store.
    pub async fn statement(&self, q: GetStatement) -> Result<Statement, QueryError> {
        let result = query::statement(q, &self.store).await;
        self.tally.record_result(Handler::Statement, &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountError, Origin, TransferId};
    use crate::store::{AccountId, StoreError};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    async fn open_with(bank: &Bank, account: AccountId, amount: u64) {
        let owner = "ada".to_owned();
        bank.execute(Command::Open(OpenAccount { account, owner }))
            .await
            .unwrap();
        let deposit = Deposit {
            account,
            amount,
            origin: Origin::Teller,
        };
        bank.execute(Command::Deposit(deposit)).await.unwrap();
    }

    fn balance(bank: &Bank, account: AccountId) -> u64 {
        bank.balance(GetBalance { account })
            .map_or(0, |v| v.balance)
    }

    #[test]
    fn a_transfer_credits_the_destination_through_the_saga() {
        let bank = Bank::new();
        let (a, b) = (AccountId(1), AccountId(2));
        block_on(async {
            open_with(&bank, a, 10).await;
            open_with(&bank, b, 1).await;
            let transfer = Transfer {
                id: TransferId(1),
                from: a,
                to: b,
                amount: 4,
            };
            bank.execute(Command::Transfer(transfer)).await.unwrap();
        });
        assert_eq!((balance(&bank, a), balance(&bank, b)), (6, 5));
        assert_eq!(
            bank.tally().counts(Handler::ContinueTransfer),
            [1, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn a_transfer_to_a_missing_account_is_refunded() {
        let bank = Bank::new();
        let a = AccountId(1);
        block_on(async {
            open_with(&bank, a, 10).await;
            let transfer = Transfer {
                id: TransferId(1),
                from: a,
                to: AccountId(99),
                amount: 4,
            };
            bank.execute(Command::Transfer(transfer)).await.unwrap();
        });
        assert_eq!(balance(&bank, a), 10);
        assert_eq!(
            bank.tally().counts(Handler::ContinueTransfer),
            [0, 1, 0, 0, 0, 0]
        );
        // initial deposit and refund ok, the credit rejected
        assert_eq!(bank.tally().counts(Handler::Deposit), [2, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn concurrent_deposits_to_one_account_conflict() {
        let bank = Bank::new();
        let a = AccountId(1);
        let (first, second) = block_on(async {
            open_with(&bank, a, 10).await;
            let deposit = |amount| Deposit {
                account: a,
                amount,
                origin: Origin::Teller,
            };
            tokio::join!(
                bank.execute(Command::Deposit(deposit(1))),
                bank.execute(Command::Deposit(deposit(2)))
            )
        });
        let conflicts = [&first, &second]
            .iter()
            .filter(|r| matches!(r, Err(AccountError::Store(StoreError::Conflict { .. }))))
            .count();
        assert_eq!(conflicts, 1, "{first:?} {second:?}");
        assert_eq!(bank.tally().counts(Handler::Deposit), [2, 0, 1, 0, 0, 0]);
    }
}
