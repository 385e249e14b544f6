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

/// Whether a request still held its key when it finished. A request whose
/// lock ended (it ran too long) may have been taken over by a later one,
/// whose record it must neither overwrite nor delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Held,
    Lost,
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

    /// Replaces `begun`, the record this request began, with `completed`,
    /// the answer to replay: only while `begun` still holds the key.
    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError>;

    /// Forgets the key so a retry runs afresh: only while `begun` still
    /// holds it.
    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError>;
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
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        (**self)
            .complete_request(tenant, key, begun, completed)
            .await
    }

    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        (**self).release_request(tenant, key, begun).await
    }
}
