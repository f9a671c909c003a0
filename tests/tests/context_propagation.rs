//! The message context flows through the bank: each command starts (or continues) a
//! conversation, its events carry the ids in their metadata, and event handlers declared with
//! `metadata = envelope.metadata` continue the conversation of the event they handle, so a
//! transfer's debit and the saga's credit share one correlation id.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use cqrs_obs::context::{Context, FutureExt as _};
use cqrs_obs::propagation::{CAUSATION_ID, CORRELATION_ID, MESSAGE_ID};
use cqrs_obs::{AdminAddr, Console, ObsGuard};
use cqrs_obs_examples::account::{
    AccountEnvelope, Deposit, OpenAccount, Origin, Transfer, TransferId, TransferRef,
};
use cqrs_obs_examples::{AccountEvent, AccountId, Bank, Command};

/// cqrs-obs, initialised once for this test binary (no admin endpoint, no console).
fn init() {
    static GUARD: OnceLock<Mutex<ObsGuard>> = OnceLock::new();
    GUARD.get_or_init(|| {
        let guard = cqrs_obs::builder()
            .admin_addr(AdminAddr::Off)
            .console(Console::Off)
            .ignore_env()
            .try_init()
            .expect("cqrs-obs initialises");
        Mutex::new(guard)
    });
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn history(bank: &Bank, account: AccountId) -> Vec<Arc<AccountEnvelope>> {
    bank.store().recent(account, 100).unwrap().recent
}

fn id<'a>(envelope: &'a AccountEnvelope, key: &str) -> &'a str {
    envelope.metadata.get(key).map_or("", String::as_str)
}

async fn open(bank: &Bank, account: AccountId) {
    let owner = format!("owner-{}", account.0);
    bank.execute(Command::Open(OpenAccount { account, owner }))
        .await
        .unwrap();
}

async fn deposit(bank: &Bank, account: AccountId, amount: u64) {
    let deposit = Deposit {
        account,
        amount,
        origin: Origin::Teller,
    };
    bank.execute(Command::Deposit(deposit)).await.unwrap();
}

#[test]
fn events_carry_the_conversation_into_projections_and_the_saga() {
    init();
    let bank = Bank::new();
    let (a, b, c) = (AccountId(1), AccountId(2), AccountId(3));
    let conversation = Context::new_root();
    block_on(async {
        open(&bank, a).await;
        open(&bank, b).await;
        deposit(&bank, a, 10).await;
        let transfer = Transfer {
            id: TransferId(1),
            from: a,
            to: b,
            amount: 4,
        };
        bank.execute(Command::Transfer(transfer)).await.unwrap();
        // A command sent inside a conversation the caller already has (say, an HTTP request).
        open(&bank, c)
            .with_message_context(conversation.clone())
            .await;
    });
    let (a_events, b_events, c_events) = (history(&bank, a), history(&bank, b), history(&bank, c));
    assert_eq!(a_events.len(), 3, "{a_events:?}");
    assert_eq!(b_events.len(), 2, "{b_events:?}");

    // Every event carries the three ids, and every event is a message of its own.
    let all: Vec<_> = a_events.iter().chain(&b_events).chain(&c_events).collect();
    for envelope in &all {
        for key in [CORRELATION_ID, CAUSATION_ID, MESSAGE_ID] {
            assert!(!id(envelope, key).is_empty(), "no {key} in {envelope:?}");
        }
    }
    let message_ids: BTreeSet<_> = all.iter().map(|e| id(e, MESSAGE_ID)).collect();
    assert_eq!(message_ids.len(), all.len(), "message ids repeat: {all:?}");

    // Commands sent without a context start separate conversations.
    let (a_opened, a_deposited, debit) = (&a_events[0], &a_events[1], &a_events[2]);
    assert_ne!(
        id(a_opened, CORRELATION_ID),
        id(a_deposited, CORRELATION_ID)
    );
    assert_ne!(
        id(a_opened, CORRELATION_ID),
        id(&b_events[0], CORRELATION_ID)
    );

    // The saga read the debit's metadata: its credit continues the transfer's conversation,
    // caused by the saga's deposit command (not directly by the debit or the transfer).
    let credit = &b_events[1];
    assert!(matches!(
        debit.event,
        AccountEvent::Withdrawn {
            transfer: Some(_),
            ..
        }
    ));
    assert!(matches!(
        credit.event,
        AccountEvent::Deposited {
            origin: Origin::Transfer(_),
            ..
        }
    ));
    assert_eq!(id(credit, CORRELATION_ID), id(debit, CORRELATION_ID));
    assert_ne!(id(credit, CAUSATION_ID), id(debit, MESSAGE_ID));
    assert_ne!(id(credit, CAUSATION_ID), id(debit, CAUSATION_ID));

    // A command inside an existing conversation keeps its correlation id.
    let c_opened = &c_events[0];
    assert_eq!(
        id(c_opened, CORRELATION_ID),
        conversation.correlation_id.to_string()
    );
    assert_ne!(
        Some(id(c_opened, CAUSATION_ID).to_owned()),
        conversation.message_id.map(|m| m.to_string())
    );
}

#[test]
fn an_event_handler_takes_its_context_from_the_metadata_it_is_given() {
    init();
    let bank = Bank::new();
    let (source, target) = (AccountId(10), AccountId(20));
    block_on(open(&bank, target));
    // A redelivered debit from another process, with ids that are not ours.
    let metadata = HashMap::from([
        (
            CORRELATION_ID.to_owned(),
            "conversation-from-elsewhere".to_owned(),
        ),
        (MESSAGE_ID.to_owned(), "event-7".to_owned()),
    ]);
    let transfer = TransferRef {
        id: TransferId(9),
        counterparty: target,
    };
    let debit = AccountEnvelope {
        stream: source,
        version: 1,
        event: AccountEvent::Withdrawn {
            amount: 3,
            transfer: Some(transfer),
        },
        metadata,
        recorded_at: SystemTime::now(),
    };
    block_on(bank.continue_transfer(&debit, transfer, 3)).unwrap();
    let credit = history(&bank, target).pop().unwrap();
    assert_eq!(
        id(&credit, CORRELATION_ID),
        "conversation-from-elsewhere",
        "{credit:?}"
    );
    assert_ne!(
        id(&credit, CAUSATION_ID),
        "event-7",
        "the credit is caused by the saga's command"
    );
}
