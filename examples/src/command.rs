//! The account command handlers: load the aggregate, decide, append the events.
//!
//! `open_account` and `withdraw` are sync; `deposit` and `transfer` are async (they make a
//! round trip to the store between reading and writing, where concurrent writers can slip in).

use std::sync::Arc;

use cqrs_obs::{command_handler, slo};

use crate::account::{
    AccountEnvelope, AccountError, AccountEvent, AccountStore, Deposit, OpenAccount, Transfer,
    TransferRef, Withdraw,
};

/// What a command handler returns: the events it appended.
pub type Appended = Result<Vec<Arc<AccountEnvelope>>, AccountError>;

/// The panic message of the deposit bug (see [`deposit`]).
pub const OVERFLOW_PANIC: &str = "deposit overflows the account balance";

/// Opens an account; rejected if the number is taken.
#[command_handler(aggregate = "Account")]
pub fn open_account(cmd: OpenAccount, store: &AccountStore) -> Appended {
    let (account, version) = store.load(cmd.account)?;
    if account.open {
        return Err(AccountError::AlreadyOpen(cmd.account));
    }
    let appended = store.append(
        cmd.account,
        version,
        vec![AccountEvent::Opened { owner: cmd.owner }],
    )?;
    tracing::info!(aggregate_id = %cmd.account, event_type = "Opened", "account opened");
    Ok(appended)
}

/// Puts money into an account.
///
/// Carries a deliberate bug, the "poison command": amounts have no upper bound, and a
/// deposit that would overflow the balance panics instead of being rejected.
/// Its latency objective is deliberately too tight (99.99 % within 800 ns), so that it burns
/// its error budget and fires a burn-rate alert during the workload. 800 ns is not one of the
/// histogram bounds: the handler counts it exactly, and `/metrics` shows it as one more `le`.
#[command_handler(aggregate = "Account")]
#[slo(
    latency(p99_99 = "800ns"),
    id = "deposit-latency",
    name = "Deposit latency (too tight on purpose)",
    owner = "payments"
)]
pub async fn deposit(cmd: Deposit, store: &AccountStore) -> Appended {
    let (account, version) = store.load(cmd.account)?;
    if !account.open {
        return Err(AccountError::UnknownAccount(cmd.account));
    }
    if cmd.amount == 0 {
        return Err(AccountError::InvalidAmount);
    }
    let _new_balance = account
        .balance
        .checked_add(cmd.amount)
        .expect(OVERFLOW_PANIC);
    store.round_trip().await;
    let event = AccountEvent::Deposited {
        amount: cmd.amount,
        origin: cmd.origin,
    };
    Ok(store.append(cmd.account, version, vec![event])?)
}

/// Takes money out of an account; rejected on insufficient funds, a conflict when the
/// client's `expected_version` is stale.
#[command_handler(aggregate = "Account")]
pub fn withdraw(cmd: Withdraw, store: &AccountStore) -> Appended {
    let (account, version) = store.load(cmd.account)?;
    if !account.open {
        return Err(AccountError::UnknownAccount(cmd.account));
    }
    if cmd.amount == 0 {
        return Err(AccountError::InvalidAmount);
    }
    if account.balance < cmd.amount {
        tracing::warn!(
            aggregate_id = %cmd.account,
            balance = account.balance,
            requested = cmd.amount,
            "withdrawal refused: insufficient funds"
        );
        return Err(AccountError::InsufficientFunds {
            account: cmd.account,
            balance: account.balance,
            requested: cmd.amount,
        });
    }
    let event = AccountEvent::Withdrawn {
        amount: cmd.amount,
        transfer: None,
    };
    Ok(store.append(
        cmd.account,
        cmd.expected_version.unwrap_or(version),
        vec![event],
    )?)
}

/// Debits the source account of a transfer. The destination is another aggregate: the
/// transfer saga credits it when it sees the debit.
#[command_handler(aggregate = "Account")]
pub async fn transfer(cmd: Transfer, store: &AccountStore) -> Appended {
    if cmd.from == cmd.to {
        return Err(AccountError::SameAccount);
    }
    if cmd.amount == 0 {
        return Err(AccountError::InvalidAmount);
    }
    let (account, version) = store.load(cmd.from)?;
    if !account.open {
        return Err(AccountError::UnknownAccount(cmd.from));
    }
    if account.balance < cmd.amount {
        return Err(AccountError::InsufficientFunds {
            account: cmd.from,
            balance: account.balance,
            requested: cmd.amount,
        });
    }
    store.round_trip().await;
    let transfer = Some(TransferRef {
        id: cmd.id,
        counterparty: cmd.to,
    });
    let event = AccountEvent::Withdrawn {
        amount: cmd.amount,
        transfer,
    };
    Ok(store.append(cmd.from, version, vec![event])?)
}
