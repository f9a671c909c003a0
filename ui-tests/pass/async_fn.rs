//! An async free fn stays async; the call is recorded when its future completes, and the
//! message context is installed while the body runs.

#![deny(warnings)]

use cqrs_obs::handler::HandlerKind;
use cqrs_obs::{command_handler, Outcome};

pub struct OpenAccount {
    pub owner: String,
}

#[command_handler(aggregate = "Account", name = "open")]
async fn open_account(cmd: OpenAccount) -> String {
    tokio::task::yield_now().await;
    assert!(
        cqrs_obs::context::current().is_some(),
        "the body runs with a context"
    );
    format!("account of {}", cmd.owner)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let opened = open_account(OpenAccount {
        owner: "ada".into(),
    })
    .await;
    assert_eq!(opened, "account of ada");
    assert!(
        cqrs_obs::context::current().is_none(),
        "the context does not leak out"
    );

    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "open")
        .unwrap();
    assert_eq!(site.meta().kind, HandlerKind::Command);
    assert_eq!(site.meta().message, "OpenAccount");
    assert!(site.meta().is_async);
    assert_eq!(site.snapshot().count(Outcome::Ok), 1);

    // A future dropped before it completes is recorded as cancelled.
    let mut pending = Box::pin(open_account(OpenAccount {
        owner: "bob".into(),
    }));
    let waker = std::task::Waker::noop();
    let poll = pending
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker));
    assert!(poll.is_pending());
    drop(pending);
    assert_eq!(site.snapshot().count(Outcome::Cancelled), 1);
    assert_eq!(site.snapshot().in_flight, 0);
}

use std::future::Future as _;
