//! One worker of the workload: a task that owns a range of accounts and runs its share of
//! the steps, injecting a fault every `fault_every` steps.

use std::sync::Arc;
use std::time::Duration;

use cqrs_obs::Outcome;

use super::rng::Rng;
use super::{Fault, Injection, WorkloadConfig};
use crate::account::{Deposit, OpenAccount, Origin, Transfer, TransferId, Withdraw};
use crate::bank::{Bank, Command};
use crate::query::{GetBalance, GetStatement};
use crate::store::AccountId;
use crate::tally::Handler;

/// Accounts of worker `w` are numbered from `w * ACCOUNT_RANGE + 1`.
const ACCOUNT_RANGE: u64 = 1_000_000;

pub(super) struct Worker {
    bank: Arc<Bank>,
    rng: Rng,
    base: u64,
    accounts: Vec<AccountId>,
    initial_accounts: u64,
    next_transfer: u64,
    deadline: Duration,
    faults: [u64; Fault::ALL.len()],
    injection: Injection,
    step: u64,
}

impl Worker {
    pub(super) fn new(
        bank: Arc<Bank>,
        config: &WorkloadConfig,
        index: usize,
        injection: Injection,
    ) -> Worker {
        let base = index as u64 * ACCOUNT_RANGE;
        Worker {
            bank,
            rng: Rng::new(config.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            base,
            accounts: Vec::new(),
            initial_accounts: config.accounts_per_worker.max(2),
            next_transfer: base,
            deadline: config.statement_deadline,
            faults: [0; Fault::ALL.len()],
            injection,
            step: 0,
        }
    }

    pub(super) async fn run(mut self, steps: u64, fault_every: u64) -> [u64; Fault::ALL.len()] {
        for step in 0..steps {
            self.step = step;
            if let Some(pace) = self.injection.pace {
                tokio::time::sleep(pace).await;
            }
            if step < self.initial_accounts || self.accounts.len() < 2 {
                self.open_new().await;
            } else if fault_every > 0 && (step + 1) % fault_every == 0 {
                let fault = Fault::ALL[((step + 1) / fault_every - 1) as usize % Fault::ALL.len()];
                self.faults[fault as usize] += 1;
                self.inject(fault).await;
            } else {
                self.regular().await;
            }
        }
        self.faults
    }

    fn any_account(&mut self) -> AccountId {
        self.accounts[self.rng.below(self.accounts.len() as u64) as usize]
    }

    /// An account other than `account` (workers always hold at least two).
    fn other_account(&mut self, account: AccountId) -> AccountId {
        loop {
            let other = self.any_account();
            if other != account {
                return other;
            }
        }
    }

    async fn open_new(&mut self) {
        let account = AccountId(self.base + self.accounts.len() as u64 + 1);
        let owner = format!("owner-{}", account.0);
        if self
            .execute(Command::Open(OpenAccount { account, owner }))
            .await
        {
            self.accounts.push(account);
        }
    }

    async fn execute(&self, command: Command) -> bool {
        self.bank.execute(command).await.is_ok()
    }

    async fn deposit(&self, account: AccountId, amount: u64) -> bool {
        if self.injection.failing_deposits(self.step) {
            self.bank.store().fail_next(account);
        }
        self.execute(Command::Deposit(Deposit {
            account,
            amount,
            origin: Origin::Teller,
        }))
        .await
    }

    async fn withdraw(&self, account: AccountId, amount: u64, expected_version: Option<u64>) {
        self.execute(Command::Withdraw(Withdraw {
            account,
            amount,
            expected_version,
        }))
        .await;
    }

    async fn transfer(&mut self, from: AccountId, to: AccountId, amount: u64) {
        self.next_transfer += 1;
        let id = TransferId(self.next_transfer);
        self.execute(Command::Transfer(Transfer {
            id,
            from,
            to,
            amount,
        }))
        .await;
    }

    /// A statement under the deadline; a timeout drops the query's future.
    async fn statement(&self, account: AccountId, include_archive: bool) {
        let slow = self.injection.slow_statements(self.step);
        let q = GetStatement {
            account,
            limit: 10,
            include_archive: include_archive || slow,
        };
        let deadline = if slow {
            Duration::from_secs(5)
        } else {
            self.deadline
        };
        if tokio::time::timeout(deadline, self.bank.statement(q))
            .await
            .is_err()
        {
            self.bank
                .tally()
                .record(Handler::Statement, Outcome::Cancelled);
        }
    }

    async fn regular(&mut self) {
        let account = self.any_account();
        match self.rng.below(100) {
            0..30 => {
                let amount = 1 + self.rng.below(500);
                self.deposit(account, amount).await;
            }
            30..52 => {
                let amount = 1 + self.rng.below(400);
                self.withdraw(account, amount, None).await;
            }
            52..65 => {
                let to = self.other_account(account);
                let amount = 1 + self.rng.below(300);
                self.transfer(account, to, amount).await;
            }
            65..85 => {
                self.bank.balance(GetBalance { account });
            }
            85..97 => self.statement(account, false).await,
            97..99 => self.open_new().await,
            _ => {
                // A typo'd open of a number that is taken: rejected.
                let owner = format!("owner-{}", account.0);
                self.execute(Command::Open(OpenAccount { account, owner }))
                    .await;
            }
        }
    }

    async fn inject(&mut self, fault: Fault) {
        let account = self.any_account();
        match fault {
            Fault::Outage => {
                self.bank.store().fail_next(account);
                if self.rng.below(2) == 0 {
                    self.deposit(account, 10).await;
                } else {
                    self.withdraw(account, 1, None).await;
                }
            }
            Fault::Race => {
                tokio::join!(self.deposit(account, 1), self.deposit(account, 2));
            }
            Fault::StaleVersion => {
                let seen = self
                    .bank
                    .store()
                    .load(account)
                    .map_or(0, |(_, version)| version);
                self.deposit(account, 5).await;
                self.withdraw(account, 1, Some(seen)).await;
            }
            Fault::Overdraw => {
                let balance = self
                    .bank
                    .balance(GetBalance { account })
                    .map_or(0, |v| v.balance);
                self.withdraw(account, balance + 1, None).await;
            }
            Fault::BadTransfer => {
                self.deposit(account, 1).await;
                let nowhere = AccountId(self.base + ACCOUNT_RANGE - 1);
                self.transfer(account, nowhere, 1).await;
            }
            Fault::Poison => self.poison(account).await,
            Fault::SlowStatement => self.statement(account, true).await,
        }
    }

    /// A deposit that overflows the balance, run like a request: in a task of its own.
    async fn poison(&self, account: AccountId) {
        self.deposit(account, 1).await;
        let bank = Arc::clone(&self.bank);
        let cmd = Deposit {
            account,
            amount: u64::MAX,
            origin: Origin::Teller,
        };
        let task = tokio::spawn(async move { bank.execute(Command::Deposit(cmd)).await });
        match task.await {
            Err(e) if e.is_panic() => self.bank.tally().record(Handler::Deposit, Outcome::Panic),
            Err(_) => self
                .bank
                .tally()
                .record(Handler::Deposit, Outcome::Cancelled),
            Ok(_) => {} // counted by the bank
        }
    }
}
