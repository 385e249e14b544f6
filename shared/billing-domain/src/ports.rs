//! Ports: the small traits through which the domain reaches storage, the
//! queue, secrets and payment providers. Adapters implement them for AWS and
//! each provider; tests and local runs implement them in memory.

use crate::catalog::Catalog;
use crate::envelope::WebhookEnvelope;
use crate::event::ProviderEvent;
use crate::ids::{Provider, TenantId, UnixTime};
use crate::secrets::{ProviderCredentials, ProviderSecrets};
use crate::subscription::Subscription;
use async_trait::async_trait;
use std::fmt;

// ---------- Errors ----------

/// A storage failure, keeping whether retrying may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("store temporarily unavailable: {0}")]
    Transient(String),
    #[error("store rejected the request: {0}")]
    Permanent(String),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret temporarily unavailable: {0}")]
    Transient(String),
    #[error("secret missing or access denied: {0}")]
    Unavailable(String),
    #[error("secret is not valid provider-credentials JSON: {0}")]
    Malformed(String),
}

impl SecretError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SecretError::Transient(_))
    }
}

/// A failed call to a payment provider's API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Network failure, timeout, 429 or 5xx after our own retries.
    #[error("{provider} unavailable: {message}")]
    Transient { provider: Provider, message: String },
    /// The provider refused the request (4xx): retrying the same call fails too.
    #[error("{provider} rejected the request ({status}): {message}")]
    Rejected {
        provider: Provider,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// Credentials missing or invalid in our configuration.
    #[error("{provider} is misconfigured: {message}")]
    Configuration { provider: Provider, message: String },
    /// The provider answered something we cannot read.
    #[error("{provider} answered unexpectedly: {message}")]
    UnexpectedResponse { provider: Provider, message: String },
    /// The provider has no such feature (PayPal has no hosted customer portal).
    #[error("{provider} does not support {operation}")]
    Unsupported {
        provider: Provider,
        operation: &'static str,
    },
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Transient { .. })
    }
}

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

// ---------- Storage ----------

/// A subscription record and the revision it was read at, for optimistic
/// concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    pub subscription: Subscription,
    pub revision: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    Customer,
    Subscription,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Customer => "customer",
            RefKind::Subscription => "subscription",
        }
    }
}

/// A provider-side id that belongs to exactly one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderRef {
    pub provider: Provider,
    pub kind: RefKind,
    pub id: String,
}

impl fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.provider, self.kind.as_str(), self.id)
    }
}

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

#[async_trait]
pub trait SubscriptionReader: Send + Sync {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError>;
}

#[async_trait]
pub trait TenantDirectory: Send + Sync {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError>;
}

/// The provider customer created for a tenant before its first checkout.
#[async_trait]
pub trait CustomerRegistry: Send + Sync {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError>;

    /// Records `customer_id` as the tenant's customer and maps it back to the
    /// tenant, unless the tenant already has one: then the existing id is
    /// returned and nothing is written (first writer wins).
    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError>;
}

/// Where webhook-process commits events.
#[async_trait]
pub trait EventLedger: SubscriptionReader + TenantDirectory {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError>;

    /// Keeps an event that could not be applied, for review and replay.
    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError>;
}

// ---------- Queue and secrets ----------

#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Returns only once the queue has durably accepted the envelope.
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError>;
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn fetch(&self) -> Result<ProviderSecrets, SecretError>;
}

// ---------- Payment providers ----------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub tenant: TenantId,
    /// `None` for providers without customer objects.
    pub customer_id: Option<String>,
    pub plan_code: String,
    pub price_id: String,
    pub success_url: String,
    pub cancel_url: String,
    /// Stable across retries of this one request.
    pub idempotency_key: String,
    /// Who pays, when the frontend sent it: some providers need an email or
    /// phone number up front (Cashfree); the others prefill their page.
    pub contact: Option<CustomerContact>,
}

/// Contact details the frontend may send with a checkout. Never logged.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl fmt::Debug for CustomerContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerContact(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

/// A provider's billing API, as the functions need it.
#[async_trait]
pub trait BillingGateway: Send + Sync {
    fn provider(&self) -> Provider;

    /// Creates the tenant's customer; the same tenant gives the same
    /// idempotency key, so a retried call does not make a second customer.
    /// `None` when the provider has no customer objects (the default: PayPal,
    /// Razorpay, Cashfree, Paddle): the checkout then names the tenant only.
    async fn create_customer(&self, _tenant: &TenantId) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError>;

    /// A hosted page where the customer manages payment methods and cancels;
    /// by default [`ProviderError::Unsupported`], for providers with none.
    async fn create_portal_session(
        &self,
        _customer_id: &str,
        _return_url: &str,
    ) -> Result<String, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.provider(),
            operation: "a hosted customer portal",
        })
    }

    /// Asks the provider to end the subscription when its current period
    /// ends; the resulting webhook updates our record.
    async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<(), ProviderError>;
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

// ---------- Sharing one adapter between several users ----------
//
// The local server and tests hand one store to several handlers; these let an
// `Arc` stand wherever the adapter itself would.

#[async_trait]
impl<T: SubscriptionReader + ?Sized> SubscriptionReader for std::sync::Arc<T> {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        (**self).get_subscription(tenant).await
    }
}

#[async_trait]
impl<T: TenantDirectory + ?Sized> TenantDirectory for std::sync::Arc<T> {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        (**self).tenant_for(reference).await
    }
}

#[async_trait]
impl<T: CustomerRegistry + ?Sized> CustomerRegistry for std::sync::Arc<T> {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        (**self).customer_id(tenant, provider).await
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        (**self).claim_customer(tenant, provider, customer_id).await
    }
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

#[async_trait]
impl<T: EventQueue + ?Sized> EventQueue for std::sync::Arc<T> {
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError> {
        (**self).enqueue(envelope).await
    }
}

#[async_trait]
impl<T: SecretSource + ?Sized> SecretSource for std::sync::Arc<T> {
    async fn fetch(&self) -> Result<ProviderSecrets, SecretError> {
        (**self).fetch().await
    }
}
