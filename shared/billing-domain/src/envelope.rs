//! The message webhook-receive puts on the queue for webhook-process: the
//! verified, normalized event plus the raw payload for the audit log.

use crate::event::ProviderEvent;
use crate::ids::{Provider, UnixTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    /// Bumped when the shape changes, so an old message in the queue is
    /// recognised instead of misread.
    pub version: u32,
    pub provider: Provider,
    pub event_id: String,
    pub received_at: UnixTime,
    /// The receiving request's id, to join receive and process logs.
    pub request_id: String,
    pub event: ProviderEvent,
    /// The verified body exactly as the provider signed it.
    pub raw_payload: String,
}

impl WebhookEnvelope {
    pub const VERSION: u32 = 1;

    pub fn new(
        event: ProviderEvent,
        raw_payload: String,
        received_at: UnixTime,
        request_id: String,
    ) -> Self {
        Self {
            version: Self::VERSION,
            provider: event.provider,
            event_id: event.event_id.clone(),
            received_at,
            request_id,
            event,
            raw_payload,
        }
    }
}
