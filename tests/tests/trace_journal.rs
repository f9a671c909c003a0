//! The causation journal through `GET /traces/{id}`: a transfer in the bank — the command, the
//! projection and saga that handle its debit, the credit command the saga sends and the
//! projection of the credit — comes back as one conversation whose causation ids form a tree
//! rooted at the transfer command, found by correlation id and by trace id alike, with the
//! events each call appended and the chain of causes of any message.

use std::collections::HashSet;

use cqrs_obs::context::{Context, FutureExt};
use cqrs_obs_examples::account::{Deposit, OpenAccount, Origin, Transfer, TransferId};
use cqrs_obs_examples::{AccountId, Bank, Command};
use cqrs_obs_tests::bank::init_obs;
use cqrs_obs_tests::http::get;
use serde_json::Value;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_transfer_comes_back_as_a_causation_tree() {
    let guard = init_obs();
    let addr = guard.admin_addr().unwrap();
    let bank = Bank::new();
    for (account, owner) in [(1, "ada"), (2, "bob")] {
        let open = OpenAccount {
            account: AccountId(account),
            owner: owner.into(),
        };
        block_on(bank.execute(Command::Open(open))).unwrap();
    }
    let deposit = Deposit {
        account: AccountId(1),
        amount: 500,
        origin: Origin::Teller,
    };
    block_on(bank.execute(Command::Deposit(deposit))).unwrap();

    let root = Context::new_root();
    assert!(root.is_sampled(), "the default sampler samples every root");
    let correlation = root.correlation_id.to_string();
    let transfer = Transfer {
        id: TransferId(7),
        from: AccountId(1),
        to: AccountId(2),
        amount: 200,
    };
    block_on(
        bank.execute(Command::Transfer(transfer))
            .with_message_context(root.clone()),
    )
    .unwrap();

    let response = get(addr, &format!("/traces/{correlation}")).unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let body: Value = response.json().unwrap();
    assert_eq!(body["correlation_id"], correlation.as_str());
    let messages = body["messages"].as_array().unwrap();
    let handlers: Vec<&str> = messages
        .iter()
        .map(|m| m["handler"].as_str().unwrap())
        .collect();
    assert_eq!(handlers[0], "transfer", "{handlers:?}");
    for expected in [
        "on_withdrawn",
        "continue_transfer",
        "deposit",
        "on_deposited",
    ] {
        assert!(handlers.contains(&expected), "{expected} in {handlers:?}");
    }
    assert!(
        !handlers.contains(&"open_account"),
        "other conversations stay out"
    );

    // The tree: the command hangs off the root message; every other call's cause is a
    // message some call of this conversation handled.
    let root_message = root.message_id.as_ref().unwrap().to_string();
    assert_eq!(messages[0]["causation_id"], root_message.as_str());
    assert_eq!(messages[0]["kind"], "command");
    let handled: HashSet<&str> = messages
        .iter()
        .filter_map(|m| m["message_id"].as_str())
        .collect();
    for m in &messages[1..] {
        let cause = m["causation_id"].as_str().unwrap();
        assert!(
            handled.contains(cause),
            "{m} has a cause in the conversation"
        );
    }
    let credit = messages.iter().find(|m| m["handler"] == "deposit").unwrap();
    let saga = messages
        .iter()
        .find(|m| m["handler"] == "continue_transfer")
        .unwrap();
    assert_eq!(
        credit["causation_id"], saga["message_id"],
        "the saga sent the credit"
    );
    assert_eq!(
        saga["causation_id"], messages[0]["message_id"],
        "the transfer caused the debit event"
    );
    for m in messages {
        assert_eq!(m["outcome"], "ok", "{m}");
        assert!(m["duration_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(m["trace_id"].as_str().unwrap().len(), 32);
    }

    // The events the transfer appended are in `sent`, caused by the transfer command.
    let transfer_id = messages[0]["message_id"].as_str().unwrap();
    let sent = body["sent"].as_array().unwrap();
    let debit = saga["message_id"].as_str().unwrap();
    assert!(
        sent.iter()
            .any(|m| m["message_id"] == debit && m["causation_id"] == transfer_id),
        "{sent:?}"
    );

    // The chain of causes of the credit: root message, transfer, debit event, credit.
    let credit_id = credit["message_id"].as_str().unwrap();
    assert_eq!(
        cqrs_obs::trace::causation_chain(credit_id),
        [root_message.as_str(), transfer_id, debit, credit_id]
    );

    // The same conversation by the trace id of one of its calls.
    let trace_id = credit["trace_id"].as_str().unwrap();
    let by_trace: Value = get(addr, &format!("/traces/{trace_id}"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_trace["correlation_id"], correlation.as_str());
    assert_eq!(
        by_trace["messages"].as_array().unwrap().len(),
        messages.len()
    );

    let missing = get(addr, "/traces/no-such-conversation").unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json().unwrap()["error"]["code"], "not_found");
    drop(guard);
}
