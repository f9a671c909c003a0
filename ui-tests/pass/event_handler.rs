//! Event handlers: `metadata = <expr>` reads the correlation, causation and message ids from
//! the event's metadata (any `Carrier`, here a `HashMap<String, String>`); `projection` and
//! `saga` are recorded on the site.

#![deny(warnings)]

use std::collections::HashMap;

use cqrs_obs::context::{self, Context};
use cqrs_obs::handler::HandlerKind;
use cqrs_obs::{event_handler, Outcome};

pub struct Envelope<E> {
    pub payload: E,
    pub metadata: HashMap<String, String>,
}

pub struct Deposited {
    pub amount: u64,
}

#[event_handler(projection = "balances", metadata = envelope.metadata, event = "Deposited")]
async fn project_deposit(envelope: &Envelope<Deposited>, total: &mut u64) -> Option<Context> {
    tokio::task::yield_now().await;
    *total += envelope.payload.amount;
    context::current()
}

#[event_handler(saga = "payouts", metadata = metadata)]
fn start_payout(event: Deposited, metadata: HashMap<String, String>) -> Option<Context> {
    let _ = event.amount;
    context::current()
}

#[event_handler]
fn audit(envelope: Envelope<Deposited>) -> u64 {
    envelope.payload.amount
}

fn site(name: &str) -> &'static cqrs_obs::handler::HandlerSite {
    cqrs_obs::handler::registered()
        .find(|s| s.meta().name == name)
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let producer = Context::new_root();
    let mut metadata = HashMap::new();
    cqrs_obs::propagation::inject(&producer, &mut metadata);
    let envelope = Envelope {
        payload: Deposited { amount: 5 },
        metadata,
    };

    let mut total = 0;
    let seen = project_deposit(&envelope, &mut total)
        .await
        .expect("a context in the body");
    assert_eq!(total, 5);
    assert_eq!(seen.correlation_id, producer.correlation_id);
    assert_eq!(seen.message_id, producer.message_id);

    let seen = start_payout(Deposited { amount: 1 }, envelope.metadata.clone()).unwrap();
    assert_eq!(seen.correlation_id, producer.correlation_id);
    assert_eq!(
        audit(Envelope {
            payload: Deposited { amount: 2 },
            metadata: HashMap::new()
        }),
        2
    );

    let projection = site("project_deposit").meta();
    assert_eq!(projection.kind, HandlerKind::Event);
    assert_eq!(projection.message, "Deposited");
    assert_eq!(projection.projection, Some("balances"));
    assert_eq!(projection.saga, None);
    assert_eq!(site("project_deposit").snapshot().count(Outcome::Ok), 1);
    let saga = site("start_payout").meta();
    assert_eq!(saga.saga, Some("payouts"));
    assert_eq!(saga.projection, None);
    assert_eq!(saga.message, "Deposited");
    // Without `event = ..`, the message type is the first argument's type; a wrapper with one
    // type argument names the wrapped type.
    assert_eq!(site("audit").meta().message, "Deposited");
}
