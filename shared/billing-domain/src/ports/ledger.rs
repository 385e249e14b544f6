//! Where webhook-process commits events: one atomic write per event of its
//! dedupe key, the new record and the provider ids it claims, and the parking
//! place for events that cannot be applied.

use super::{ProfileStore, ProviderRef, StoreError, SubscriptionReader, TenantDirectory};
use crate::envelope::WebhookEnvelope;
use crate::event::ProviderEvent;
use crate::ids::{Provider, TenantId, UnixTime};
use crate::ledger::{Invoice, PaymentRecord, Series};
use crate::subscription::Subscription;
use async_trait::async_trait;

/// One event's effect, committed atomically: the dedupe key, the new record
/// (if the event changed it) and the provider ids it claims for the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCommit {
    pub provider: Provider,
    pub event_id: String,
    pub tenant: TenantId,
    /// When the dedupe key may be forgotten (a TTL).
    pub dedupe_expires_at: UnixTime,
    pub write: Option<SubscriptionWrite>,
    pub claims: Vec<ProviderRef>,
    /// The payment the event reports and, for a success, its invoice.
    pub ledger: Option<LedgerWrite>,
}

/// What an event adds to the ledger, in the same commit as the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerWrite {
    /// The payments log's entry. The same attempt is never logged twice: a
    /// second event about it is a duplicate. An attempt is its provider,
    /// payment id and time (`PaymentFacts::at`, which every event about the
    /// attempt gives alike); the memory and embedded stores key it by
    /// provider and payment id alone, which that rule makes the same.
    pub payment: PaymentRecord,
    /// The invoice (or, for a refund, the credit note), numbered
    /// `sequence` in its series: the commit takes
    /// the number only if the series' counter is at `sequence - 1`, and
    /// moves it to `sequence`.
    pub invoice: Option<Invoice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionWrite {
    /// The revision the change was computed from; `None` if there was no record.
    pub expected_revision: Option<u64>,
    pub subscription: Subscription,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Dedupe key, record and claims were written together.
    Committed,
    /// The event was already committed; nothing was written.
    Duplicate,
    /// The record changed since it was read; nothing was written. Re-read and retry.
    RevisionConflict,
    /// Another commit took the invoice number first; nothing was written.
    /// Read the series' next number and retry.
    SequenceConflict,
    /// A provider id already belongs to another tenant; nothing was written.
    ClaimedByOtherTenant { reference: ProviderRef },
}

/// Why an event was set aside instead of applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    pub envelope: WebhookEnvelope,
    pub reason: String,
    pub parked_at: UnixTime,
}

/// Where webhook-process commits events.
#[async_trait]
pub trait EventLedger: SubscriptionReader + TenantDirectory + ProfileStore {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError>;

    /// Whether `event` was committed for `tenant` before (its dedupe key,
    /// or for a payment event the payment, exists): a redelivery is
    /// answered from a read and costs no write.
    async fn already_committed(
        &self,
        tenant: &TenantId,
        event: &ProviderEvent,
    ) -> Result<bool, StoreError>;

    /// The invoice issued for the payment `payment_id` of `provider`, the
    /// one a refund of that payment credits.
    async fn invoice_for_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError>;

    /// The number the next document of `series` would take (1 for a new
    /// series), read consistently.
    async fn next_sequence(&self, series: &Series) -> Result<u64, StoreError>;

    /// Keeps an event that could not be applied, for review and replay.
    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError>;
}

#[async_trait]
impl<T: EventLedger + ?Sized> EventLedger for std::sync::Arc<T> {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        (**self).commit(commit).await
    }

    async fn already_committed(
        &self,
        tenant: &TenantId,
        event: &ProviderEvent,
    ) -> Result<bool, StoreError> {
        (**self).already_committed(tenant, event).await
    }

    async fn invoice_for_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        (**self)
            .invoice_for_payment(tenant, provider, payment_id)
            .await
    }

    async fn next_sequence(&self, series: &Series) -> Result<u64, StoreError> {
        (**self).next_sequence(series).await
    }

    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        (**self).park(parked).await
    }
}
