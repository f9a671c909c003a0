//! The `balances` projection: one read-model row per account, fed by sync event handlers.
//!
//! Its errors do not implement `ClassifyError`, so an `Err` is recorded as `error`.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use cqrs_obs::event_handler;

use crate::account::{AccountEnvelope, AccountEvent};
use crate::store::AccountId;
use crate::tally::Handler;

/// One row of the read model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BalanceView {
    /// Balance in cents.
    pub balance: u64,
    /// The version of the last event applied.
    pub version: u64,
}

/// Why the projection could not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// Events must arrive in stream order, without gaps.
    #[error("account {account}: expected version {expected}, got {got}")]
    OutOfOrder {
        /// The stream.
        account: AccountId,
        /// The next version the projection expected.
        expected: u64,
        /// The version that arrived.
        got: u64,
    },
}

const SHARDS: usize = 16;

/// The balances read model.
#[derive(Debug)]
pub struct Balances {
    shards: Box<[RwLock<HashMap<AccountId, BalanceView>>]>,
    /// Events applied so far.
    projected: std::sync::atomic::AtomicU64,
}

impl Default for Balances {
    fn default() -> Self {
        Balances {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            projected: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Balances {
    /// An empty read model.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, account: AccountId) -> &RwLock<HashMap<AccountId, BalanceView>> {
        &self.shards[(account.0 as usize) % self.shards.len()]
    }

    /// Events applied so far.
    pub fn projected(&self) -> u64 {
        self.projected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The row of an account, if it has one.
    pub fn get(&self, account: AccountId) -> Option<BalanceView> {
        let shard = self
            .shard(account)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard.get(&account).copied()
    }

    /// Applies `change` to the account's row if `envelope` is the next event of its stream.
    fn update(
        &self,
        envelope: &AccountEnvelope,
        change: impl FnOnce(&mut BalanceView),
    ) -> Result<(), ProjectionError> {
        let mut shard = self
            .shard(envelope.stream)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let row = shard.entry(envelope.stream).or_default();
        if envelope.version != row.version + 1 {
            return Err(ProjectionError::OutOfOrder {
                account: envelope.stream,
                expected: row.version + 1,
                got: envelope.version,
            });
        }
        change(row);
        row.version = envelope.version;
        drop(shard);
        crate::health::balances_freshness().touch();
        self.projected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        cqrs_obs::metrics::event_projected("balances", envelope.recorded_at);
        let lag = std::time::SystemTime::now()
            .duration_since(envelope.recorded_at)
            .unwrap_or_default();
        cqrs_obs::slo::report_projection_lag("balances", lag);
        Ok(())
    }

    /// Routes an event to its handler. Returns which handler ran with its result.
    pub fn project(&self, envelope: &AccountEnvelope) -> (Handler, Result<(), ProjectionError>) {
        match &envelope.event {
            AccountEvent::Opened { .. } => (Handler::OnOpened, self.on_opened(envelope)),
            AccountEvent::Deposited { amount, .. } => {
                (Handler::OnDeposited, self.on_deposited(envelope, *amount))
            }
            AccountEvent::Withdrawn { amount, .. } => {
                (Handler::OnWithdrawn, self.on_withdrawn(envelope, *amount))
            }
        }
    }

    /// A new account gets a zero row.
    #[event_handler(projection = "balances", event = "Opened", metadata = envelope.metadata)]
    pub fn on_opened(&self, envelope: &AccountEnvelope) -> Result<(), ProjectionError> {
        self.update(envelope, |_| ())
    }

    /// Money in.
    #[event_handler(projection = "balances", event = "Deposited", metadata = envelope.metadata)]
    pub fn on_deposited(
        &self,
        envelope: &AccountEnvelope,
        amount: u64,
    ) -> Result<(), ProjectionError> {
        self.update(envelope, |row| row.balance += amount)
    }

    /// Money out.
    #[event_handler(projection = "balances", event = "Withdrawn", metadata = envelope.metadata)]
    pub fn on_withdrawn(
        &self,
        envelope: &AccountEnvelope,
        amount: u64,
    ) -> Result<(), ProjectionError> {
        self.update(envelope, |row| row.balance -= amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn envelope(version: u64, event: AccountEvent) -> AccountEnvelope {
        AccountEnvelope {
            stream: AccountId(1),
            version,
            event,
            metadata: HashMap::new(),
            recorded_at: SystemTime::now(),
        }
    }

    #[test]
    fn applies_events_in_order_and_refuses_gaps() {
        let balances = Balances::new();
        let opened = envelope(
            1,
            AccountEvent::Opened {
                owner: "ada".into(),
            },
        );
        assert_eq!(balances.project(&opened), (Handler::OnOpened, Ok(())));
        let gap = envelope(
            3,
            AccountEvent::Withdrawn {
                amount: 1,
                transfer: None,
            },
        );
        let (_, result) = balances.project(&gap);
        assert!(matches!(
            result,
            Err(ProjectionError::OutOfOrder {
                expected: 2,
                got: 3,
                ..
            })
        ));
        assert_eq!(
            balances.get(AccountId(1)),
            Some(BalanceView {
                balance: 0,
                version: 1
            })
        );
    }
}
