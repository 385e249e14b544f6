//! `StripeGateway`: the `BillingGateway` port over Stripe's REST API
//! (customers, Checkout Sessions, Customer Portal sessions; plan changes,
//! previews, cancel and resume in `changes.rs`; payment methods in
//! `cards.rs`; the billing profile on the customer in `customers.rs`).
//!
//! Stripe takes form-encoded bodies with bracketed keys (`metadata[tenant_id]`)
//! and a bearer secret key. Every POST carries an `Idempotency-Key`, so our
//! retries (and the caller's) never create a second object, and Stripe's
//! `Stripe-Should-Retry` answer header overrides our own retry guess. Every
//! request pins `Stripe-Version` ([`PINNED_API_VERSION`]), so the shapes we
//! send and read do not move with the account's default version.

use super::wire::{CreatedObject, PortalObject, SessionObject};
use crate::http::{url_with_segments, ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ledger::BillingProfile;
use billing_domain::ports::{
    BillingGateway, Capabilities, ChangeAccepted, ChangePreview, CheckoutRequest, CheckoutSession,
    PaymentMethod, PlanChange, ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Provider, TenantId};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::fmt;

pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// The API version every request names: a basil version, where the invoice
/// preview is `POST /v1/invoices/create_preview`, periods live on
/// subscription items and prorations are marked on a line's parent, and the
/// first with a schedule phase's `duration` (2025-07-30.basil), which a
/// change at period end sets.
pub const PINNED_API_VERSION: &str = "2025-07-30.basil";

const SHOULD_RETRY_HEADER: &str = "stripe-should-retry";

/// Stripe's billing API for one secret key.
#[derive(Clone)]
pub struct StripeGateway {
    api_key: String,
    base_url: String,
    api_version: String,
    client: ApiClient,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .finish()
    }
}

impl StripeGateway {
    /// Talks to `https://api.stripe.com` with [`PINNED_API_VERSION`].
    /// `client` is the function's shared [`ApiClient`].
    pub fn new(api_key: impl Into<String>, client: ApiClient) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: PINNED_API_VERSION.to_owned(),
            client,
        }
    }

    /// Reads the `apiKey` field of the `stripe` entry in the provider secret.
    pub fn from_credentials(
        credentials: &ProviderCredentials,
        client: ApiClient,
    ) -> Result<Self, SecretError> {
        Ok(Self::new(credentials.field("apiKey")?, client))
    }

    /// Another API host: a local fake, stripe-mock, or a test server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Another `Stripe-Version` than [`PINNED_API_VERSION`]. The requests
    /// and answers here are written for the pinned one; the webhook parser
    /// reads both pre- and post-basil shapes either way.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// The URL of `/v1/` and `segments`, each one encoded path segment, so
    /// an id can never change which endpoint is called. (A base URL that
    /// takes no path gives an empty URL, which the request reports.)
    pub(super) fn url(&self, segments: &[&str]) -> String {
        url_with_segments(&format!("{}/v1", self.base_url), segments).unwrap_or_default()
    }

    async fn send<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T, ProviderError> {
        let request = request
            .bearer_auth(&self.api_key)
            .retry_hint_header(SHOULD_RETRY_HEADER)
            .header("stripe-version", &self.api_version);
        self.client
            .call_json(&request, Provider::Stripe, stripe_rejection)
            .await
    }

    /// A POST of `url` (from [`StripeGateway::url`]) with the key, the form
    /// and the idempotency key, sent with retries.
    pub(super) async fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        self.send(
            ApiRequest::post(url)
                .form(form)
                .idempotency_key(idempotency_key),
        )
        .await
    }

    /// A GET of `url` (from [`StripeGateway::url`]), retried as reads are.
    pub(super) async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, ProviderError> {
        self.send(ApiRequest::get(url)).await
    }

    /// A DELETE of `url` (from [`StripeGateway::url`]).
    pub(super) async fn delete<T: DeserializeOwned>(&self, url: &str) -> Result<T, ProviderError> {
        self.send(ApiRequest::delete(url)).await
    }
}

/// Stripe's error body: `{"error": {"type", "code", "message", ...}}`.
fn stripe_rejection(response: &ApiResponse) -> Rejection {
    #[derive(Deserialize)]
    struct Body {
        error: ErrorObject,
    }
    #[derive(Deserialize)]
    struct ErrorObject {
        #[serde(rename = "type")]
        kind: Option<String>,
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Body>(&response.body) {
        // Not every error has a `code` (most `api_error`s do not); the type
        // is still a stable machine-readable reason.
        Ok(Body { error }) => Rejection {
            code: error.code.or(error.kind),
            message: error.message,
        },
        Err(_) => Rejection::default(),
    }
}

#[async_trait]
impl BillingGateway for StripeGateway {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn create_customer(&self, tenant: &TenantId) -> Result<Option<String>, ProviderError> {
        let customer: CreatedObject = self
            .post(
                &self.url(&["customers"]),
                &[("metadata[tenant_id]", tenant.as_str())],
                &crate::http::customer_idempotency_key(tenant),
            )
            .await?;
        Ok(Some(customer.id))
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let tenant = request.tenant.as_str();
        let plan = request.plan_code.as_str();
        // The tenant and plan travel three ways so every event can name the
        // tenant: client_reference_id and metadata on the session
        // (checkout.session.completed), subscription metadata on the
        // subscription and its invoices (customer.subscription.*, invoice.*).
        let mut form = vec![("mode", "subscription")];
        match (&request.customer_id, &request.contact) {
            (Some(customer), _) => form.push(("customer", customer.as_str())),
            (None, Some(contact)) => {
                if let Some(email) = &contact.email {
                    form.push(("customer_email", email.as_str()));
                }
            }
            (None, None) => {}
        }
        form.extend([
            ("line_items[0][price]", request.price_id.as_str()),
            ("line_items[0][quantity]", "1"),
            ("success_url", request.success_url.as_str()),
            ("cancel_url", request.cancel_url.as_str()),
            ("client_reference_id", tenant),
            ("metadata[tenant_id]", tenant),
            ("metadata[plan]", plan),
            ("subscription_data[metadata][tenant_id]", tenant),
            ("subscription_data[metadata][plan]", plan),
        ]);
        let session: SessionObject = self
            .post(
                &self.url(&["checkout", "sessions"]),
                &form,
                &request.idempotency_key,
            )
            .await?;
        let url = session
            .url
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: Provider::Stripe,
                message: "checkout session has no url".into(),
            })?;
        Ok(CheckoutSession {
            id: session.id,
            url,
        })
    }

    async fn create_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
    ) -> Result<String, ProviderError> {
        // A portal session is short-lived and harmless to duplicate, but a
        // fresh key per call still lets our own retries of this one call
        // collapse into one session.
        let idempotency_key = format!("portal-session:{}", uuid::Uuid::new_v4());
        let portal: PortalObject = self
            .post(
                &self.url(&["billing_portal", "sessions"]),
                &[("customer", customer_id), ("return_url", return_url)],
                &idempotency_key,
            )
            .await?;
        Ok(portal.url)
    }

    async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.set_cancel_at_period_end(subscription_id, true).await
    }

    async fn resume(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.set_cancel_at_period_end(subscription_id, false).await
    }

    async fn cancel_now(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.cancel_immediately(subscription_id).await
    }

    async fn preview_change(&self, change: &PlanChange) -> Result<ChangePreview, ProviderError> {
        self.preview(change).await
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        self.change(change).await?;
        Ok(ChangeAccepted::default())
    }

    async fn list_payment_methods(
        &self,
        customer_id: &str,
    ) -> Result<Vec<PaymentMethod>, ProviderError> {
        self.cards(customer_id).await
    }

    async fn create_setup_session(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        self.setup_session(customer_id, return_url, idempotency_key)
            .await
    }

    async fn set_default_payment_method(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        self.make_default(customer_id, payment_method_id).await
    }

    /// The customer's name, email, address and tax id (`customers.rs`).
    async fn update_customer(
        &self,
        customer_id: &str,
        profile: &BillingProfile,
        idempotency_key: &str,
    ) -> Result<(), ProviderError> {
        self.copy_profile(customer_id, profile, idempotency_key)
            .await
    }

    async fn remove_payment_method(
        &self,
        _customer_id: &str,
        payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        self.detach(payment_method_id).await
    }
}
