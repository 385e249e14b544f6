//! `StripeGateway`: the `BillingGateway` port over Stripe's REST API
//! (customers, Checkout Sessions, Customer Portal sessions).
//!
//! Stripe takes form-encoded bodies with bracketed keys (`metadata[tenant_id]`)
//! and a bearer secret key. Every POST carries an `Idempotency-Key`, so our
//! retries (and the caller's) never create a second object, and Stripe's
//! `Stripe-Should-Retry` answer header overrides our own retry guess.

use crate::http::{ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CheckoutSession, ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Provider, TenantId};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::fmt;

pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

const SHOULD_RETRY_HEADER: &str = "stripe-should-retry";

/// Stripe's billing API for one secret key.
#[derive(Clone)]
pub struct StripeGateway {
    api_key: String,
    base_url: String,
    api_version: Option<String>,
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
    /// Talks to `https://api.stripe.com` with the account's default API
    /// version. `client` is the function's shared [`ApiClient`].
    pub fn new(api_key: impl Into<String>, client: ApiClient) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: None,
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

    /// Pins `Stripe-Version` on requests instead of the account default.
    /// The webhook parser reads both pre- and post-basil shapes either way.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// A POST with the key, the form and the idempotency key, sent with retries.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        let mut request = ApiRequest::post(&format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .form(form)
            .idempotency_key(idempotency_key)
            .retry_hint_header(SHOULD_RETRY_HEADER);
        if let Some(version) = &self.api_version {
            request = request.header("stripe-version", version);
        }
        self.client
            .call_json(&request, Provider::Stripe, stripe_rejection)
            .await
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

#[derive(Deserialize)]
struct CreatedObject {
    id: String,
}

#[derive(Deserialize)]
struct SessionObject {
    id: String,
    url: Option<String>,
}

#[derive(Deserialize)]
struct PortalObject {
    url: String,
}

#[async_trait]
impl BillingGateway for StripeGateway {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn create_customer(&self, tenant: &TenantId) -> Result<Option<String>, ProviderError> {
        let customer: CreatedObject = self
            .post(
                "/v1/customers",
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
            .post("/v1/checkout/sessions", &form, &request.idempotency_key)
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
                "/v1/billing_portal/sessions",
                &[("customer", customer_id), ("return_url", return_url)],
                &idempotency_key,
            )
            .await?;
        Ok(portal.url)
    }

    async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<(), ProviderError> {
        let _: CreatedObject = self
            .post(
                &format!("/v1/subscriptions/{subscription_id}"),
                &[("cancel_at_period_end", "true")],
                // Fresh per call: after a resume, cancelling again must not
                // replay the earlier answer; our own retries share the key.
                &format!(
                    "cancel-at-period-end:{subscription_id}:{}",
                    uuid::Uuid::new_v4()
                ),
            )
            .await?;
        Ok(())
    }
}
