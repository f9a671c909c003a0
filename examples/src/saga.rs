//! The transfer saga: when a transfer's debit is recorded, credit the destination; if that
//! fails, compensate by refunding the source.

use cqrs_obs::{event_handler, ClassifyError, Outcome};

use crate::account::{AccountEnvelope, AccountError, Deposit, Origin, TransferId, TransferRef};
use crate::bank::Bank;
use crate::command::Appended;
use crate::store::StoreError;

/// How often a saga step is retried when it loses an optimistic-concurrency race.
pub const CONFLICT_RETRIES: usize = 3;

/// How a transfer did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SagaError {
    /// The credit failed and the source was refunded: the transfer is cleanly undone.
    #[error("transfer {transfer} was refunded because its credit failed")]
    Compensated {
        /// The transfer.
        transfer: TransferId,
        /// Why the credit failed.
        #[source]
        reason: AccountError,
    },
    /// The credit and the refund both failed: the money is stuck and needs an operator.
    #[error("transfer {transfer}: the credit failed ({credit}) and so did the refund")]
    CompensationFailed {
        /// The transfer.
        transfer: TransferId,
        /// Why the credit failed.
        credit: AccountError,
        /// Why the refund failed.
        #[source]
        refund: AccountError,
    },
}

impl ClassifyError for SagaError {
    fn outcome(&self) -> Outcome {
        match self {
            SagaError::Compensated { .. } => Outcome::Rejected,
            SagaError::CompensationFailed { .. } => Outcome::Error,
        }
    }
}

impl Bank {
    /// Reacts to a transfer's debit (`Withdrawn` with a transfer reference): issues the
    /// deposit to the destination, or the refund to the source when the deposit fails.
    #[event_handler(saga = "transfer", event = "Withdrawn", metadata = envelope.metadata)]
    pub async fn continue_transfer(
        &self,
        envelope: &AccountEnvelope,
        transfer: TransferRef,
        amount: u64,
    ) -> Result<(), SagaError> {
        let source = envelope.stream;
        let credit = Deposit {
            account: transfer.counterparty,
            amount,
            origin: Origin::Transfer(TransferRef {
                id: transfer.id,
                counterparty: source,
            }),
        };
        let Err(credit_failed) = self.deposit_retrying(credit).await else {
            return Ok(());
        };
        tracing::error!(
            aggregate_id = %source,
            transfer = %transfer.id,
            error = &credit_failed as &dyn std::error::Error,
            "transfer credit failed; refunding the source account"
        );
        let refund = Deposit {
            account: source,
            amount,
            origin: Origin::Refund(transfer),
        };
        match self.deposit_retrying(refund).await {
            Ok(_) => Err(SagaError::Compensated {
                transfer: transfer.id,
                reason: credit_failed,
            }),
            Err(refund_failed) => Err(SagaError::CompensationFailed {
                transfer: transfer.id,
                credit: credit_failed,
                refund: refund_failed,
            }),
        }
    }

    /// A deposit, retried when it loses a race: the saga must not give up on a conflict.
    async fn deposit_retrying(&self, cmd: Deposit) -> Appended {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.run_deposit(cmd).await {
                Err(AccountError::Store(StoreError::Conflict { .. }))
                    if attempt < CONFLICT_RETRIES => {}
                result => return result,
            }
        }
    }
}
