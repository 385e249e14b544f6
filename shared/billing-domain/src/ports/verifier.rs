//! Webhook verification: a delivery's signature checked on its raw bytes and
//! the delivery normalized into a provider event.

use crate::catalog::Catalog;
use crate::event::ProviderEvent;
use crate::ids::{Provider, UnixTime};
use crate::secrets::ProviderCredentials;
use async_trait::async_trait;

/// Why a webhook delivery was refused. Every variant but
/// `VerifierUnavailable` answers 400, and the provider's retry has a chance
/// only if the secret was rotated meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("signature header {0} is missing")]
    MissingSignature(&'static str),
    #[error("signature header is malformed: {0}")]
    MalformedSignature(&'static str),
    #[error("timestamp is outside the tolerance window (too old)")]
    TimestampTooOld,
    #[error("timestamp is outside the tolerance window (in the future)")]
    TimestampInFuture,
    #[error("no signature matches any configured webhook secret")]
    InvalidSignature,
    #[error("no webhook secret is configured for this provider")]
    NoSecretConfigured,
    #[error("signed payload is not a valid event: {0}")]
    MalformedPayload(String),
    /// The signature could not be checked now (PayPal's verification API is
    /// down): answered 5xx so the provider delivers again later.
    #[error("signature not checked: {0}")]
    VerifierUnavailable(&'static str),
}

impl WebhookError {
    /// Only an unavailable verifier may succeed on a later attempt.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WebhookError::VerifierUnavailable(_))
    }

    /// Worth one refresh of the secrets before refusing: the provider may be
    /// signing with a secret rotated after our cache was filled.
    pub fn may_be_rotated_secret(&self) -> bool {
        matches!(
            self,
            WebhookError::InvalidSignature | WebhookError::NoSecretConfigured
        )
    }
}

/// One webhook delivery as received: header names lowercased, body untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WebhookDelivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Checks a delivery's signature on its raw bytes and normalizes it. The
/// normalized event's `event_id` is the delivery's dedupe key (the
/// provider's event id, or the header the provider documents for it).
///
/// Async because a scheme may need a network call (PayPal's signing
/// certificate, fetched once and cached).
#[async_trait]
pub trait WebhookVerifier: Send + Sync {
    fn provider(&self) -> Provider;

    /// `credentials` is the provider's entry of the secret (its
    /// `webhookSecrets`, or for PayPal its `webhookId`); empty when the
    /// secret has no entry for the provider.
    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError>;
}
