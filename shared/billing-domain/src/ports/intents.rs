//! Where our API records what it asked a provider to do: the subscription
//! record written back with its intent, conditional on the revision it was
//! read at, so it never overwrites a webhook's change it did not see.

use super::{StoreError, SubscriptionReader, SubscriptionWrite};
use async_trait::async_trait;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// The record changed since it was read (or is gone); nothing was
    /// written. Re-read and retry.
    RevisionConflict,
}

#[async_trait]
pub trait IntentRecorder: SubscriptionReader {
    /// Replaces the record if it is still at `write.expected_revision`.
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError>;
}

#[async_trait]
impl<T: IntentRecorder + ?Sized> IntentRecorder for std::sync::Arc<T> {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        (**self).save_subscription(write).await
    }
}
