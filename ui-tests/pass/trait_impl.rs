//! Trait impl methods: a sync method and a native `async fn` in a trait.

#![deny(warnings)]

use cqrs_obs::{command_handler, event_handler, Outcome};

pub struct Deposited {
    pub amount: u64,
}

pub trait Projection {
    fn apply(&mut self, event: &Deposited) -> Result<(), String>;
    fn total(&self) -> u64;
}

#[allow(async_fn_in_trait)]
pub trait Handler {
    async fn handle(&self, amount: u64) -> Result<u64, String>;
}

#[derive(Default)]
pub struct Balances {
    total: u64,
}

impl Projection for Balances {
    #[event_handler(projection = "balances")]
    fn apply(&mut self, event: &Deposited) -> Result<(), String> {
        self.total = self.total.checked_add(event.amount).ok_or("overflow")?;
        Ok(())
    }

    fn total(&self) -> u64 {
        self.total
    }
}

pub struct Doubler;

impl Handler for Doubler {
    #[command_handler(name = "double")]
    async fn handle(&self, amount: u64) -> Result<u64, String> {
        amount.checked_mul(2).ok_or_else(|| "overflow".to_owned())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let mut balances = Balances::default();
    balances.apply(&Deposited { amount: 2 }).unwrap();
    balances.apply(&Deposited { amount: u64::MAX }).unwrap_err();
    assert_eq!(balances.total(), 2);
    assert_eq!(Doubler.handle(4).await, Ok(8));
    assert!(Doubler.handle(u64::MAX).await.is_err());

    let apply = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "apply")
        .unwrap();
    assert_eq!(apply.meta().message, "Deposited");
    assert_eq!(apply.meta().projection, Some("balances"));
    assert_eq!(apply.snapshot().count(Outcome::Ok), 1);
    assert_eq!(apply.snapshot().count(Outcome::Error), 1);
    let double = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "double")
        .unwrap();
    assert!(double.meta().is_async);
    assert_eq!(double.snapshot().count(Outcome::Ok), 1);
    assert_eq!(double.snapshot().count(Outcome::Error), 1);
}
