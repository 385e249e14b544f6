//! Where idempotency records live: one per tenant and `Idempotency-Key`.
//! The rules (what is live, what a repeat gets) are in
//! [`crate::idempotency`]; a store only writes conditionally and atomically.

use super::StoreError;
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::ids::{TenantId, UnixTime};
use async_trait::async_trait;

/// What beginning a record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// No live record held the key: ours is written, run the request.
    Started,
    /// A live record holds the key; nothing was written.
    Existing(IdempotencyRecord),
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Writes `record` (in progress) for the key unless a record live at
    /// `now` holds it ([`IdempotencyRecord::is_live`]), atomically: of two
    /// concurrent requests with one key, exactly one starts.
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError>;

    /// Replaces the key's record with `record` (completed), the answer to
    /// replay.
    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError>;

    /// Forgets the key, so a retry runs afresh.
    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
    ) -> Result<(), StoreError>;
}

#[async_trait]
impl<T: IdempotencyStore + ?Sized> IdempotencyStore for std::sync::Arc<T> {
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        (**self).begin_request(tenant, key, record, now).await
    }

    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        (**self).complete_request(tenant, key, record).await
    }

    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
    ) -> Result<(), StoreError> {
        (**self).release_request(tenant, key).await
    }
}
