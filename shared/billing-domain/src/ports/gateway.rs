//! A payment provider's billing API, as the functions need it: customers,
//! hosted checkout and portal, plan and seat changes with their preview,
//! cancellation and resumption, and payment methods. What a provider cannot
//! do it declares in [`Capabilities`], so a command refuses before calling.

use crate::catalog::Interval;
use crate::ids::{Provider, TenantId, UnixTime};
use crate::intent::ChangeTiming;
use crate::ledger::BillingProfile;
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

/// What a provider's adapter can do beyond checkout. The README's support
/// matrix is checked against these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub change_now: bool,
    pub change_at_period_end: bool,
    pub preview: bool,
    /// Whether a change may move between a monthly and a yearly price.
    pub interval_change: bool,
    /// Cancelling when the current period ends.
    pub cancel_at_period_end: bool,
    /// Undoing a pending cancellation at period end.
    pub resume: bool,
    pub cancel_now: bool,
    /// List, add through a hosted page, make default, remove.
    pub payment_methods: bool,
}

impl Capabilities {
    /// Everything the port asks (Stripe, the sandbox).
    pub const ALL: Capabilities = Capabilities {
        change_now: true,
        change_at_period_end: true,
        preview: true,
        interval_change: true,
        cancel_at_period_end: true,
        resume: true,
        cancel_now: true,
        payment_methods: true,
    };
}

/// A plan or seat change of one provider subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChange {
    pub subscription_id: String,
    pub customer_id: Option<String>,
    /// The subscription's price now, when known.
    pub current_price_id: Option<String>,
    pub plan_code: String,
    pub price_id: String,
    /// The new price's billing interval (a scheduled phase's length).
    pub interval: Interval,
    pub seats: u32,
    pub timing: ChangeTiming,
    /// The moment proration is computed for: a preview's is now; a change
    /// passes the preview's, so that the charge equals what was previewed.
    /// `None` (a change whose caller sent none): the provider's own now, so
    /// a rerun of the request sends the provider the same request.
    pub proration_date: Option<UnixTime>,
    /// Where a change at period end takes effect.
    pub current_period_end: Option<UnixTime>,
    /// Stable across retries of this one request.
    pub idempotency_key: String,
}

/// One line of a previewed invoice, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewLine {
    pub description: String,
    pub amount_minor: i64,
    pub proration: bool,
    pub period_start: UnixTime,
    pub period_end: UnixTime,
}

/// What a change would charge now and on the next invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePreview {
    pub currency: String,
    pub amount_due_now_minor: i64,
    /// The moment the prorations were computed for; `None` without any.
    pub proration_date: Option<UnixTime>,
    pub lines: Vec<PreviewLine>,
    pub next_invoice_amount_minor: i64,
    pub next_invoice_date: UnixTime,
    pub tax_minor: Option<i64>,
}

/// The provider accepted a change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeAccepted {
    /// A page the customer must visit to approve the change (PayPal).
    pub approval_url: Option<String>,
}

/// A saved payment method, as much as a billing page may show: never a full
/// card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: String,
    /// `card`, or the provider's name for another kind.
    pub kind: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
    pub is_default: bool,
}

/// A provider's billing API, as the functions need it.
#[async_trait]
pub trait BillingGateway: Send + Sync {
    fn provider(&self) -> Provider;

    /// What this adapter can do; by default nothing beyond checkout.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

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
        Err(self.unsupported("a hosted customer portal"))
    }

    /// Asks the provider to end the subscription when its current period
    /// ends; the resulting webhook updates our record.
    async fn cancel_at_period_end(&self, _subscription_id: &str) -> Result<(), ProviderError> {
        Err(self.unsupported("cancelling at period end"))
    }

    /// What `change` would charge now and on the next invoice.
    async fn preview_change(&self, _change: &PlanChange) -> Result<ChangePreview, ProviderError> {
        Err(self.unsupported("previewing a plan change"))
    }

    /// Makes a plan or seat change, now or at period end.
    async fn change_plan(&self, _change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        Err(self.unsupported("changing the plan"))
    }

    /// Undoes a pending cancellation at period end.
    async fn resume(&self, _subscription_id: &str) -> Result<(), ProviderError> {
        Err(self.unsupported("undoing a cancellation"))
    }

    /// Ends the subscription at once.
    async fn cancel_now(&self, _subscription_id: &str) -> Result<(), ProviderError> {
        Err(self.unsupported("cancelling at once"))
    }

    async fn list_payment_methods(
        &self,
        _customer_id: &str,
    ) -> Result<Vec<PaymentMethod>, ProviderError> {
        Err(self.unsupported("payment methods"))
    }

    /// A hosted page where the customer adds a payment method; its URL.
    async fn create_setup_session(
        &self,
        _customer_id: &str,
        _return_url: &str,
        _idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        Err(self.unsupported("payment methods"))
    }

    /// Makes a method the default for future invoices.
    async fn set_default_payment_method(
        &self,
        _customer_id: &str,
        _payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        Err(self.unsupported("payment methods"))
    }

    async fn remove_payment_method(
        &self,
        _customer_id: &str,
        _payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        Err(self.unsupported("payment methods"))
    }

    /// Copies the tenant's billing profile (name, email, address) onto the
    /// provider's customer, for providers that keep one.
    async fn update_customer(
        &self,
        _customer_id: &str,
        _profile: &BillingProfile,
        _idempotency_key: &str,
    ) -> Result<(), ProviderError> {
        Err(self.unsupported("customer billing details"))
    }

    #[doc(hidden)]
    fn unsupported(&self, operation: &'static str) -> ProviderError {
        ProviderError::Unsupported {
            provider: self.provider(),
            operation,
        }
    }
}
