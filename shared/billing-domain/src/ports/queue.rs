//! The queue between webhook-receive and webhook-process.

use crate::envelope::WebhookEnvelope;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue temporarily unavailable: {0}")]
    Transient(String),
    #[error("queue rejected the message: {0}")]
    Permanent(String),
}

impl QueueError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Transient(_))
    }
}

#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Returns only once the queue has durably accepted the envelope.
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError>;
}

#[async_trait]
impl<T: EventQueue + ?Sized> EventQueue for std::sync::Arc<T> {
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError> {
        (**self).enqueue(envelope).await
    }
}
