//! The `Account` aggregate: its events, the commands it accepts and how they fail.

use std::fmt;

use cqrs_obs::{ClassifyError, Outcome};

use crate::store::{AccountId, Aggregate, Envelope, EventStore, StoreError};

/// Identifies one transfer across the two accounts it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferId(pub u64);

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tr-{}", self.0)
    }
}

/// A transfer leg: which transfer, and the account on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferRef {
    /// The transfer.
    pub id: TransferId,
    /// The other account: the destination of a debit, the source of a credit or refund.
    pub counterparty: AccountId,
}

/// Where deposited money comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Paid in by the customer.
    Teller,
    /// The credit leg of a transfer.
    Transfer(TransferRef),
    /// A transfer's debit given back because its credit failed (saga compensation).
    Refund(TransferRef),
}

/// What happened to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// The account was opened.
    Opened {
        /// The account holder.
        owner: String,
    },
    /// Money came in.
    Deposited {
        /// Amount in cents.
        amount: u64,
        /// Where it came from.
        origin: Origin,
    },
    /// Money went out.
    Withdrawn {
        /// Amount in cents.
        amount: u64,
        /// `Some` when this is the debit leg of a transfer.
        transfer: Option<TransferRef>,
    },
}

/// The state of an account, folded from its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account {
    /// Whether the account has been opened.
    pub open: bool,
    /// Balance in cents.
    pub balance: u64,
}

impl Aggregate for Account {
    type Event = AccountEvent;

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { .. } => self.open = true,
            AccountEvent::Deposited { amount, .. } => self.balance += amount,
            AccountEvent::Withdrawn { amount, .. } => self.balance -= amount,
        }
    }

    fn event_type(event: &AccountEvent) -> &'static str {
        match event {
            AccountEvent::Opened { .. } => "Opened",
            AccountEvent::Deposited { .. } => "Deposited",
            AccountEvent::Withdrawn { .. } => "Withdrawn",
        }
    }
}

/// The event store of the bank.
pub type AccountStore = EventStore<Account>;

/// A stored account event.
pub type AccountEnvelope = Envelope<AccountEvent>;

/// Open a new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAccount {
    /// The new account's number.
    pub account: AccountId,
    /// The account holder.
    pub owner: String,
}

/// Put money into an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deposit {
    /// The account.
    pub account: AccountId,
    /// Amount in cents.
    pub amount: u64,
    /// Where the money comes from.
    pub origin: Origin,
}

/// Take money out of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdraw {
    /// The account.
    pub account: AccountId,
    /// Amount in cents.
    pub amount: u64,
    /// The account version the client last saw (an `If-Match`): when set, the withdrawal
    /// only goes through if nothing happened to the account since.
    pub expected_version: Option<u64>,
}

/// Move money between two accounts. The command debits the source; the transfer saga
/// credits the destination (or refunds the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// The transfer's id.
    pub id: TransferId,
    /// The account debited.
    pub from: AccountId,
    /// The account credited.
    pub to: AccountId,
    /// Amount in cents.
    pub amount: u64,
}

/// Why an account command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// No such (open) account.
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    /// The account number is taken.
    #[error("account {0} is already open")]
    AlreadyOpen(AccountId),
    /// Amounts are positive.
    #[error("amount must be positive")]
    InvalidAmount,
    /// A transfer needs two different accounts.
    #[error("cannot transfer from an account to itself")]
    SameAccount,
    /// Not enough money.
    #[error("account {account} holds {balance}, cannot take out {requested}")]
    InsufficientFunds {
        /// The account.
        account: AccountId,
        /// Its balance.
        balance: u64,
        /// The amount asked for.
        requested: u64,
    },
    /// The event store refused (conflict) or failed (outage).
    #[error("event store")]
    Store(#[from] StoreError),
}

impl ClassifyError for AccountError {
    fn outcome(&self) -> Outcome {
        match self {
            AccountError::Store(StoreError::Conflict { .. }) => Outcome::Conflict,
            AccountError::Store(_) => Outcome::Error,
            _ => Outcome::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_classify_into_outcomes() {
        let conflict = StoreError::Conflict {
            stream: AccountId(1),
            expected: 1,
            actual: 2,
        };
        assert_eq!(AccountError::from(conflict).outcome(), Outcome::Conflict);
        let outage = StoreError::Unavailable {
            stream: AccountId(1),
        };
        assert_eq!(AccountError::from(outage).outcome(), Outcome::Error);
        assert_eq!(AccountError::InvalidAmount.outcome(), Outcome::Rejected);
    }

    #[test]
    fn state_is_the_fold_of_the_events() {
        let mut account = Account::default();
        account.apply(&AccountEvent::Opened {
            owner: "ada".into(),
        });
        account.apply(&AccountEvent::Deposited {
            amount: 10,
            origin: Origin::Teller,
        });
        account.apply(&AccountEvent::Withdrawn {
            amount: 4,
            transfer: None,
        });
        assert_eq!(
            account,
            Account {
                open: true,
                balance: 6
            }
        );
    }
}
