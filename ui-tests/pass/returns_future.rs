//! Sync fns that return a future: return-position `impl Future` in a trait impl (the shape of
//! cqrs-es' `Aggregate::handle`), in a free fn, and a hand-written `Pin<Box<dyn Future>>`.
//! The call is timed while the returned future runs.

#![deny(warnings)]

use std::future::Future;
use std::pin::Pin;

use cqrs_obs::{command_handler, event_handler, query_handler, Outcome};

pub struct Deposit {
    pub amount: u64,
}

pub trait Aggregate {
    fn handle(&self, cmd: Deposit) -> impl Future<Output = Result<Vec<u64>, String>> + Send;
}

pub struct Account;

impl Aggregate for Account {
    #[command_handler(aggregate = "Account")]
    fn handle(&self, cmd: Deposit) -> impl Future<Output = Result<Vec<u64>, String>> + Send {
        async move {
            tokio::task::yield_now().await;
            if cmd.amount == 0 {
                return Err("empty deposit".to_owned());
            }
            Ok(vec![cmd.amount])
        }
    }
}

#[query_handler]
fn lookup(key: &str) -> impl Future<Output = usize> + '_ {
    let len = key.len();
    async move { len + key.len() }
}

pub struct Deposited;

#[event_handler(projection = "boxed")]
fn on_deposited<'a>(
    event: &'a Deposited,
    log: &'a mut Vec<&'static str>,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    let _ = event;
    Box::pin(async move { log.push("deposited") })
}

fn site(name: &str) -> &'static cqrs_obs::handler::HandlerSite {
    cqrs_obs::handler::registered()
        .find(|s| s.meta().name == name)
        .unwrap()
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let future = assert_send(Account.handle(Deposit { amount: 5 }));
    assert_eq!(
        site("handle").snapshot().total(),
        0,
        "timed when polled, not when created"
    );
    assert_eq!(future.await, Ok(vec![5]));
    assert!(Account.handle(Deposit { amount: 0 }).await.is_err());
    assert_eq!(lookup("abc").await, 6);
    let mut log = Vec::new();
    on_deposited(&Deposited, &mut log).await;
    assert_eq!(log, ["deposited"]);

    assert!(site("handle").meta().is_async);
    assert_eq!(site("handle").meta().message, "Deposit");
    assert_eq!(site("handle").snapshot().count(Outcome::Ok), 1);
    assert_eq!(site("handle").snapshot().count(Outcome::Error), 1);
    assert_eq!(site("lookup").snapshot().count(Outcome::Ok), 1);
    assert!(site("on_deposited").meta().is_async);
    assert_eq!(site("on_deposited").snapshot().count(Outcome::Ok), 1);
}
