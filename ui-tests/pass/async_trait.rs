//! `#[async_trait]` on the impl block expands first: the handler attribute then sees a sync
//! fn returning `Pin<Box<dyn Future<..> + Send + '_>>` and instruments the future it returns.
//! The instrumented future is still `Send`.

#![deny(warnings)]

use async_trait::async_trait;
use cqrs_obs::{command_handler, Outcome};

pub struct Deposit {
    pub amount: u64,
}

#[async_trait]
pub trait Aggregate: Send + Sync {
    async fn handle(&self, cmd: Deposit) -> Result<Vec<u64>, String>;
    async fn version(&self) -> u64;
}

pub struct Account {
    limit: u64,
}

#[async_trait]
impl Aggregate for Account {
    #[command_handler(aggregate = "Account")]
    async fn handle(&self, cmd: Deposit) -> Result<Vec<u64>, String> {
        tokio::task::yield_now().await;
        if cmd.amount > self.limit {
            return Err("over the limit".to_owned());
        }
        Ok(vec![cmd.amount])
    }

    #[command_handler(name = "version")]
    async fn version(&self) -> u64 {
        1
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let account = std::sync::Arc::new(Account { limit: 10 });
    let spawned = tokio::spawn({
        let account = account.clone();
        async move { account.handle(Deposit { amount: 3 }).await }
    });
    assert_eq!(spawned.await.unwrap(), Ok(vec![3]));
    assert!(account.handle(Deposit { amount: 30 }).await.is_err());
    let dynamic: &dyn Aggregate = &*account;
    assert_eq!(dynamic.version().await, 1);

    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "handle")
        .unwrap();
    assert_eq!(site.meta().message, "Deposit");
    assert_eq!(site.meta().aggregate, Some("Account"));
    assert!(site.meta().is_async);
    assert_eq!(site.snapshot().count(Outcome::Ok), 1);
    assert_eq!(site.snapshot().count(Outcome::Error), 1);
    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "version")
        .unwrap();
    assert_eq!(site.snapshot().count(Outcome::Ok), 1);
}
