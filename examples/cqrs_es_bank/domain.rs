//! The bank written the cqrs-es way, observed with cqrs-obs's `cqrs-es` feature: a
//! `BankAccount` aggregate whose `handle` is annotated with `#[command_handler]`, cqrs-es's
//! in-memory store wrapped in an [`ObservedStore`], and two queries wrapped with
//! [`observe`]. [`FaultyStore`] injects each store failure cqrs-es knows, so every outcome
//! can be provoked.
//!
//! A module of the example (the bench and the integration test include the same file), not of
//! the examples library: its annotated `handle` registers a handler in whatever binary links
//! it, and the bank's own binaries must list only the bank's handlers.

// Each includer uses a part of the domain.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::mem_store::{MemStore, MemStoreAggregateContext};
use cqrs_es::{
    Aggregate, AggregateError, CqrsFramework, DomainEvent, EventEnvelope, EventStore, Query,
};
use cqrs_obs::cqrs_es::{observe, ObservedStore};
use cqrs_obs::{command_handler, ClassifyError, Outcome};
use serde::{Deserialize, Serialize};

/// A bank account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct BankAccount {
    opened: bool,
    balance: i64,
}

/// What a bank account is asked to do.
#[derive(Debug, Clone, Deserialize)]
pub(crate) enum BankAccountCommand {
    /// Open the account.
    Open,
    /// Put money in.
    Deposit {
        /// Amount in cents.
        amount: i64,
    },
    /// Take money out (refused beyond the balance).
    Withdraw {
        /// Amount in cents.
        amount: i64,
    },
}

/// What happened to a bank account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum BankAccountEvent {
    /// The account was opened.
    Opened,
    /// Money was put in.
    Deposited {
        /// Amount in cents.
        amount: i64,
        /// Balance after.
        balance: i64,
    },
    /// Money was taken out.
    Withdrawn {
        /// Amount in cents.
        amount: i64,
        /// Balance after.
        balance: i64,
    },
}

impl DomainEvent for BankAccountEvent {
    fn event_type(&self) -> String {
        match self {
            BankAccountEvent::Opened => "Opened",
            BankAccountEvent::Deposited { .. } => "Deposited",
            BankAccountEvent::Withdrawn { .. } => "Withdrawn",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a bank account refused a command: a domain decision.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BankAccountError {
    /// The account is already open.
    #[error("account already open")]
    AlreadyOpen,
    /// The account is not open.
    #[error("account not open")]
    NotOpen,
    /// Not enough money.
    #[error("insufficient funds: balance {balance}, asked {asked}")]
    InsufficientFunds {
        /// Balance in cents.
        balance: i64,
        /// Amount asked in cents.
        asked: i64,
    },
}

/// Refusals are domain decisions (`rejected`), not failures of the service.
impl ClassifyError for BankAccountError {
    fn outcome(&self) -> Outcome {
        Outcome::Rejected
    }
}

impl Aggregate for BankAccount {
    const TYPE: &'static str = "BankAccount";
    type Command = BankAccountCommand;
    type Event = BankAccountEvent;
    type Error = BankAccountError;
    type Services = ();

    #[command_handler(
        name = "bank_account",
        aggregate = "BankAccount",
        command = "BankAccountCommand"
    )]
    async fn handle(
        &mut self,
        command: BankAccountCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BankAccountError> {
        let event = match command {
            BankAccountCommand::Open if self.opened => return Err(BankAccountError::AlreadyOpen),
            BankAccountCommand::Open => BankAccountEvent::Opened,
            _ if !self.opened => return Err(BankAccountError::NotOpen),
            BankAccountCommand::Deposit { amount } => BankAccountEvent::Deposited {
                amount,
                balance: self.balance + amount,
            },
            BankAccountCommand::Withdraw { amount } if amount > self.balance => {
                return Err(BankAccountError::InsufficientFunds {
                    balance: self.balance,
                    asked: amount,
                })
            }
            BankAccountCommand::Withdraw { amount } => BankAccountEvent::Withdrawn {
                amount,
                balance: self.balance - amount,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: BankAccountEvent) {
        match event {
            BankAccountEvent::Opened => self.opened = true,
            BankAccountEvent::Deposited { balance, .. }
            | BankAccountEvent::Withdrawn { balance, .. } => self.balance = balance,
        }
    }
}

/// The balances projection: each account's balance and how many events it applied.
#[derive(Debug, Clone, Default)]
pub(crate) struct Balances(Arc<Mutex<HashMap<String, (i64, u64)>>>);

impl Balances {
    /// The account's balance and applied-event count.
    pub(crate) fn get(&self, account: &str) -> Option<(i64, u64)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .copied()
    }
}

#[async_trait]
impl Query<BankAccount> for Balances {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<BankAccount>]) {
        let _span = tracing::debug_span!("balances.update", account = aggregate_id).entered();
        let mut views = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let view = views.entry(aggregate_id.to_owned()).or_default();
        for event in events {
            match &event.payload {
                BankAccountEvent::Opened => {}
                BankAccountEvent::Deposited { balance, .. }
                | BankAccountEvent::Withdrawn { balance, .. } => view.0 = *balance,
            }
            view.1 += 1;
        }
    }
}

/// The audit trail: every event's type and metadata, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditTrail(Arc<Mutex<Vec<AuditEntry>>>);

/// One audited event: its type and metadata.
pub(crate) type AuditEntry = (String, HashMap<String, String>);

impl AuditTrail {
    /// What was recorded so far.
    pub(crate) fn entries(&self) -> Vec<AuditEntry> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Query<BankAccount> for AuditTrail {
    async fn dispatch(&self, _aggregate_id: &str, events: &[EventEnvelope<BankAccount>]) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            entries.push((event.payload.event_type(), event.metadata.clone()));
        }
    }
}

/// A store failure to inject with [`FaultyStore::fail_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Fault {
    /// `AggregateConflict` on the next commit.
    Conflict = 1,
    /// `DatabaseConnectionError` on the next load.
    Connection = 2,
    /// `DeserializationError` on the next load.
    Deserialization = 3,
    /// `UnexpectedError` on the next commit.
    Unexpected = 4,
}

/// cqrs-es's `MemStore` with fault injection.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultyStore {
    inner: MemStore<BankAccount>,
    next: Arc<AtomicU8>,
}

impl FaultyStore {
    /// Makes the next load or commit (see [`Fault`]) fail.
    pub(crate) fn fail_next(&self, fault: Fault) {
        self.next.store(fault as u8, Ordering::SeqCst);
    }

    fn take(&self, faults: &[Fault]) -> Option<Fault> {
        let next = self.next.load(Ordering::SeqCst);
        let fault = faults.iter().copied().find(|f| *f as u8 == next)?;
        self.next
            .compare_exchange(next, 0, Ordering::SeqCst, Ordering::SeqCst)
            .ok()
            .map(|_| fault)
    }
}

fn failure(what: &str) -> Box<dyn std::error::Error + Send + Sync> {
    what.into()
}

impl EventStore<BankAccount> for FaultyStore {
    type AC = MemStoreAggregateContext<BankAccount>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<BankAccount>>, AggregateError<BankAccountError>> {
        self.inner.load_events(aggregate_id).await
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<BankAccountError>> {
        match self.take(&[Fault::Connection, Fault::Deserialization]) {
            Some(Fault::Connection) => Err(AggregateError::DatabaseConnectionError(failure(
                "connection refused",
            ))),
            Some(_) => Err(AggregateError::DeserializationError(failure(
                "unknown event version",
            ))),
            None => self.inner.load_aggregate(aggregate_id).await,
        }
    }

    async fn commit(
        &self,
        events: Vec<BankAccountEvent>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<BankAccount>>, AggregateError<BankAccountError>> {
        match self.take(&[Fault::Conflict, Fault::Unexpected]) {
            Some(Fault::Conflict) => Err(AggregateError::AggregateConflict),
            Some(_) => Err(AggregateError::UnexpectedError(failure("disk full"))),
            None => self.inner.commit(events, context, metadata).await,
        }
    }
}

/// The observed bank: the framework, its store and its queries.
pub(crate) struct CqrsBank {
    /// The framework, over the observed store.
    pub(crate) cqrs: CqrsFramework<BankAccount, ObservedStore<BankAccount, FaultyStore>>,
    /// The store (shared with the framework's), for fault injection.
    pub(crate) store: FaultyStore,
    /// The balances projection.
    pub(crate) balances: Balances,
    /// The audit trail.
    pub(crate) audit: AuditTrail,
}

impl CqrsBank {
    /// A bank with an empty store: the store wrapped in an [`ObservedStore`], the queries
    /// with [`observe`] as `balances` and `audit`.
    pub(crate) fn new() -> CqrsBank {
        let store = FaultyStore::default();
        let balances = Balances::default();
        let audit = AuditTrail::default();
        let queries = vec![
            observe("balances", balances.clone()),
            observe("audit", audit.clone()),
        ];
        let cqrs = CqrsFramework::new(ObservedStore::new(store.clone()), queries, ());
        CqrsBank {
            cqrs,
            store,
            balances,
            audit,
        }
    }
}

impl Default for CqrsBank {
    fn default() -> Self {
        CqrsBank::new()
    }
}
