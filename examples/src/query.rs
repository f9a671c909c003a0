//! The query handlers: `balance` reads the projection (sync), `statement` reads the event
//! store (async; asking for the archived history takes the slow path).

use std::sync::Arc;

use cqrs_obs::{query_handler, ClassifyError, Outcome};

use crate::account::{AccountEnvelope, AccountStore};
use crate::projection::{BalanceView, Balances};
use crate::store::{AccountId, StoreError};

/// Ask for an account's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetBalance {
    /// The account.
    pub account: AccountId,
}

/// Ask for an account's recent transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetStatement {
    /// The account.
    pub account: AccountId,
    /// How many of the newest events to list.
    pub limit: usize,
    /// Also count the events that are only in the archive (slow).
    pub include_archive: bool,
}

/// An account statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The account.
    pub account: AccountId,
    /// The account's version (events so far).
    pub version: u64,
    /// The newest events, oldest first.
    pub entries: Vec<Arc<AccountEnvelope>>,
    /// Events only in the archive, when asked for.
    pub archived: Option<u64>,
}

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// No such account.
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    /// The event store failed.
    #[error("event store")]
    Store(#[from] StoreError),
}

impl ClassifyError for QueryError {
    fn outcome(&self) -> Outcome {
        match self {
            QueryError::UnknownAccount(_) => Outcome::Rejected,
            QueryError::Store(_) => Outcome::Error,
        }
    }
}

/// The balance of an account from the `balances` read model (`None` for no such account).
#[query_handler]
pub fn balance(q: GetBalance, view: &Balances) -> Option<BalanceView> {
    view.get(q.account)
}

/// The recent history of an account, straight from its stream.
#[query_handler]
pub async fn statement(q: GetStatement, store: &AccountStore) -> Result<Statement, QueryError> {
    let history = store.recent(q.account, q.limit)?;
    if history.version == 0 {
        return Err(QueryError::UnknownAccount(q.account));
    }
    let archived = if q.include_archive {
        Some(store.archived_count(q.account).await)
    } else {
        None
    };
    Ok(Statement {
        account: q.account,
        version: history.version,
        entries: history.recent,
        archived,
    })
}
