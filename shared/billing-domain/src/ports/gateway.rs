//! A payment provider's billing API, as the functions need it: customers,
//! hosted checkout and portal, cancellation.

use crate::ids::{Provider, TenantId};
use async_trait::async_trait;
use std::fmt;

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
