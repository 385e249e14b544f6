//! Where webhook-process commits events: one atomic write per event of its
//! dedupe key, the new record and the provider ids it claims, and the parking
//! place for events that cannot be applied.

use super::{ProviderRef, StoreError, SubscriptionReader, TenantDirectory};
use crate::envelope::WebhookEnvelope;
use crate::ids::{Provider, TenantId, UnixTime};
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
pub trait EventLedger: SubscriptionReader + TenantDirectory {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError>;

    /// Keeps an event that could not be applied, for review and replay.
    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError>;
}

#[async_trait]
impl<T: EventLedger + ?Sized> EventLedger for std::sync::Arc<T> {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        (**self).commit(commit).await
    }

    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        (**self).park(parked).await
    }
}
