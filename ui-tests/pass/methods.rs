//! Methods with every kind of receiver, sync and async, including a `&mut self` method that
//! returns a borrow of `self`.

#![deny(warnings)]

use cqrs_obs::{command_handler, query_handler, Outcome};

pub struct Withdraw {
    pub amount: u64,
}

#[derive(Default)]
pub struct Account {
    balance: u64,
    history: Vec<u64>,
}

impl Account {
    #[query_handler(name = "balance")]
    pub fn balance(&self) -> u64 {
        self.balance
    }

    #[command_handler(aggregate = "Account")]
    pub fn withdraw(&mut self, cmd: Withdraw) -> Result<u64, String> {
        if cmd.amount > self.balance {
            return Err(format!("insufficient funds: {}", self.balance));
        }
        self.balance -= cmd.amount;
        self.history.push(cmd.amount);
        Ok(self.balance)
    }

    /// Returns a borrow of `self`: the closure the body runs in is an `FnOnce`.
    #[query_handler]
    pub fn history_mut(&mut self) -> &mut Vec<u64> {
        &mut self.history
    }

    #[query_handler]
    pub fn split(&mut self) -> (&mut u64, &[u64]) {
        (&mut self.balance, &self.history)
    }

    #[command_handler(name = "close")]
    pub fn close(self) -> u64 {
        self.balance
    }

    #[command_handler(name = "close_boxed")]
    pub fn close_boxed(self: Box<Self>) -> u64 {
        self.balance
    }

    #[query_handler(name = "async_balance")]
    pub async fn async_balance(&self) -> u64 {
        self.balance
    }

    #[command_handler(name = "async_deposit")]
    pub async fn async_deposit(&mut self, amount: u64) -> &mut u64 {
        tokio::task::yield_now().await;
        self.balance += amount;
        &mut self.balance
    }

    #[command_handler(name = "async_close")]
    pub async fn async_close(self) -> Vec<u64> {
        self.history
    }
}

fn count(name: &str, outcome: Outcome) -> u64 {
    let site = cqrs_obs::handler::registered().find(|s| s.meta().name == name);
    site.unwrap_or_else(|| panic!("{name} is registered"))
        .snapshot()
        .count(outcome)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let mut account = Account {
        balance: 10,
        history: Vec::new(),
    };
    assert_eq!(account.balance(), 10);
    assert_eq!(account.withdraw(Withdraw { amount: 4 }), Ok(6));
    assert!(account.withdraw(Withdraw { amount: 40 }).is_err());
    account.history_mut().push(1);
    let (balance, history) = account.split();
    *balance += history.len() as u64;
    assert_eq!(account.async_balance().await, 8);
    *account.async_deposit(2).await += 1;
    assert_eq!(account.balance(), 11);
    assert_eq!(Box::new(Account::default()).close_boxed(), 0);
    let history = Account {
        balance: 0,
        history: vec![3],
    }
    .async_close()
    .await;
    assert_eq!(history, [3]);
    assert_eq!(account.close(), 11);

    assert_eq!(count("balance", Outcome::Ok), 2);
    assert_eq!(count("withdraw", Outcome::Ok), 1);
    assert_eq!(count("withdraw", Outcome::Error), 1);
    for name in [
        "history_mut",
        "split",
        "close",
        "close_boxed",
        "async_balance",
    ] {
        assert_eq!(count(name, Outcome::Ok), 1, "{name}");
    }
    assert_eq!(count("async_deposit", Outcome::Ok), 1);
    assert_eq!(count("async_close", Outcome::Ok), 1);
    // Methods without a message argument use the method's name as the message type.
    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "balance")
        .unwrap();
    assert_eq!(site.meta().message, "balance");
    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "withdraw")
        .unwrap();
    assert_eq!(site.meta().message, "Withdraw");
}
