//! `PaddleGateway`: the `BillingGateway` port over the Paddle Billing API
//! (transactions as checkouts, customer portal sessions, scheduled
//! cancellation).
//!
//! Paddle takes JSON bodies, a bearer API key and `Paddle-Version: 1`
//! (<https://developer.paddle.com/api-reference/about/versioning>), and
//! answers `{"data": …, "meta": …}` or `{"error": {"type", "code", "detail",
//! …}}`. Paddle has no idempotency keys
//! (<https://developer.paddle.com/sdks/libraries>), so none is sent and the
//! shared client repeats a POST only when it cannot have reached Paddle
//! (connection refused, 429). What a repeat could do twice is harmless here
//! anyway: an unpaid transaction charges nobody, and scheduling the same
//! cancellation twice changes nothing.
//!
//! - Checkout: `POST /transactions` with the plan's price, `custom_data`
//!   naming the tenant and plan, the customer when we know one, and
//!   `checkout.url` when configured. Paddle answers with `checkout.url`, our
//!   page with `?_ptxn=<transaction id>` appended, where Paddle.js opens the
//!   checkout; without a configured URL Paddle uses the account's default
//!   payment link (<https://developer.paddle.com/build/transactions/default-payment-link>).
//!   Paddle's API takes no success or cancel URL: that page's Paddle.js
//!   settings send the customer on.
//! - Customers: none are created up front. Paddle's `POST /customers` needs
//!   an email, which we do not have per tenant, and the checkout collects it
//!   and creates the customer itself; `create_customer` answers `None` and
//!   the customer id arrives with the first events.
//! - Portal: `POST /customers/{id}/portal-sessions` returns authenticated
//!   links; `data.urls.general.overview` is the portal's home. Paddle's portal
//!   has no return URL, so ours is not sent.
//! - Cancellation: `POST /subscriptions/{id}/cancel` with `effective_from:
//!   next_billing_period` (or `immediately`), which leaves a
//!   `scheduled_change` the webhooks report.
//! - Plan changes, their preview and undoing a cancellation: `changes.rs`.

use crate::http::{ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, Capabilities, ChangeAccepted, ChangePreview, CheckoutRequest, CheckoutSession,
    PlanChange, ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::Provider;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

pub const DEFAULT_BASE_URL: &str = "https://api.paddle.com";
pub const SANDBOX_BASE_URL: &str = "https://sandbox-api.paddle.com";

/// The API version every request pins.
pub const API_VERSION: &str = "1";

/// Paddle's billing API for one API key.
#[derive(Clone, Debug)]
pub struct PaddleGateway {
    api_key: ApiKey,
    base_url: String,
    checkout_url: Option<String>,
    client: ApiClient,
}

/// The API key, which `Debug` never shows.
#[derive(Clone)]
struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PaddleGateway {
    /// Talks to the live API, `https://api.paddle.com`, with the account's
    /// default payment link. `client` is the function's shared [`ApiClient`].
    pub fn new(api_key: impl Into<String>, client: ApiClient) -> Self {
        Self {
            api_key: ApiKey(api_key.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            checkout_url: None,
            client,
        }
    }

    /// Reads the `paddle` entry of the provider secret: `apiKey`, and
    /// optionally `apiBase` (e.g. [`SANDBOX_BASE_URL`]) and `checkoutUrl`
    /// (the page with Paddle.js that opens checkouts).
    pub fn from_credentials(
        credentials: &ProviderCredentials,
        client: ApiClient,
    ) -> Result<Self, SecretError> {
        let mut gateway = Self::new(credentials.field("apiKey")?, client);
        if let Some(base_url) = optional_field(credentials, "apiBase")? {
            gateway = gateway.with_base_url(base_url);
        }
        if let Some(checkout_url) = optional_field(credentials, "checkoutUrl")? {
            gateway = gateway.with_checkout_url(checkout_url);
        }
        Ok(gateway)
    }

    /// Another API host: the sandbox, or a test server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The page (on a domain Paddle approved) where Paddle.js opens the
    /// checkout; Paddle appends `?_ptxn=<transaction id>` to it.
    pub fn with_checkout_url(mut self, checkout_url: impl Into<String>) -> Self {
        self.checkout_url = Some(checkout_url.into());
        self
    }

    /// The URL of `segments` under the base URL, each percent-encoded, so an
    /// id can never change which endpoint is called.
    fn endpoint(&self, segments: &[&str]) -> String {
        let Ok(mut url) = Url::parse(&self.base_url) else {
            // Left for `ApiRequest` to report as a configuration error.
            return self.base_url.clone();
        };
        match url.path_segments_mut() {
            Ok(mut path) => {
                path.pop_if_empty().extend(segments);
            }
            // A base that cannot take a path (`mailto:…`): an empty URL
            // makes `ApiRequest` report the misconfiguration.
            Err(()) => return String::new(),
        }
        url.into()
    }

    /// A JSON POST with the key and the version, answered by `{"data": T}`.
    pub(super) async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ProviderError> {
        self.send(ApiRequest::post(&self.endpoint(segments)), body)
            .await
    }

    /// A JSON PATCH, as [`PaddleGateway::post`].
    pub(super) async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, ProviderError> {
        self.send(ApiRequest::patch(&self.endpoint(segments)), body)
            .await
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        request: ApiRequest,
        body: &B,
    ) -> Result<T, ProviderError> {
        let request = request
            .bearer_auth(&self.api_key.0)
            .header("paddle-version", API_VERSION)
            .json(body);
        let envelope: Envelope<T> = self
            .client
            .call_json(&request, Provider::Paddle, paddle_rejection)
            .await?;
        Ok(envelope.data)
    }
}

/// An optional string field of the secret; present but not a non-empty
/// string is a mistake worth reporting.
fn optional_field<'a>(
    credentials: &'a ProviderCredentials,
    name: &str,
) -> Result<Option<&'a str>, SecretError> {
    match credentials.fields.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(_) => credentials.field(name).map(Some),
    }
}

/// Paddle's error body, `{"error": {"type", "code", "detail", ...}}`:
/// `code` is the stable reason (`type` when a code is missing), `detail`
/// the human one.
fn paddle_rejection(response: &ApiResponse) -> Rejection {
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let error = &body["error"];
    let text = |key: &str| error.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    Rejection {
        code: text("code").or_else(|| text("type")),
        message: text("detail"),
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Serialize)]
struct CreateTransaction<'a> {
    items: [TransactionItem<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<&'a str>,
    custom_data: CustomData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout: Option<CheckoutSettings<'a>>,
}

#[derive(Serialize)]
struct TransactionItem<'a> {
    price_id: &'a str,
    quantity: u32,
}

/// What every event of this purchase will carry in `custom_data`.
#[derive(Serialize)]
struct CustomData<'a> {
    tenant_id: &'a str,
    plan: &'a str,
}

#[derive(Serialize)]
struct CheckoutSettings<'a> {
    url: &'a str,
}

#[derive(Deserialize)]
struct TransactionObject {
    id: String,
    checkout: Option<TransactionCheckout>,
}

#[derive(Deserialize)]
struct TransactionCheckout {
    url: Option<String>,
}

#[derive(Deserialize)]
struct PortalSessionObject {
    urls: PortalUrls,
}

#[derive(Deserialize)]
struct PortalUrls {
    general: GeneralPortalUrls,
}

#[derive(Deserialize)]
struct GeneralPortalUrls {
    overview: String,
}

#[derive(Serialize)]
struct CancelSubscription {
    effective_from: &'static str,
}

/// An empty JSON object: a portal session for the customer as a whole.
#[derive(Serialize)]
struct NoSubscriptions {}

#[async_trait]
impl BillingGateway for PaddleGateway {
    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let body = CreateTransaction {
            items: [TransactionItem {
                price_id: &request.price_id,
                quantity: 1,
            }],
            customer_id: request.customer_id.as_deref(),
            custom_data: CustomData {
                tenant_id: request.tenant.as_str(),
                plan: &request.plan_code,
            },
            checkout: self
                .checkout_url
                .as_deref()
                .map(|url| CheckoutSettings { url }),
        };
        let transaction: TransactionObject = self.post(&["transactions"], &body).await?;
        let url = transaction
            .checkout
            .and_then(|checkout| checkout.url)
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: Provider::Paddle,
                message: "transaction has no checkout url (is a default payment link set?)".into(),
            })?;
        Ok(CheckoutSession {
            id: transaction.id,
            url,
        })
    }

    async fn create_portal_session(
        &self,
        customer_id: &str,
        _return_url: &str,
    ) -> Result<String, ProviderError> {
        let session: PortalSessionObject = self
            .post(
                &["customers", customer_id, "portal-sessions"],
                &NoSubscriptions {},
            )
            .await?;
        Ok(session.urls.general.overview)
    }

    async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.cancel(subscription_id, "next_billing_period").await
    }

    async fn cancel_now(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.cancel(subscription_id, "immediately").await
    }

    async fn resume(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.drop_scheduled_change(subscription_id).await
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        self.change(change).await?;
        Ok(ChangeAccepted::default())
    }

    async fn preview_change(&self, change: &PlanChange) -> Result<ChangePreview, ProviderError> {
        self.preview(change).await
    }

    fn provider(&self) -> Provider {
        Provider::Paddle
    }

    fn capabilities(&self) -> Capabilities {
        // No scheduled item change at Paddle, hence no change at period end.
        Capabilities {
            change_now: true,
            preview: true,
            interval_change: true,
            cancel_at_period_end: true,
            resume: true,
            cancel_now: true,
            ..Capabilities::default()
        }
    }
}

impl PaddleGateway {
    async fn cancel(
        &self,
        subscription_id: &str,
        effective_from: &'static str,
    ) -> Result<(), ProviderError> {
        let _: IgnoredAny = self
            .post(
                &["subscriptions", subscription_id, "cancel"],
                &CancelSubscription { effective_from },
            )
            .await?;
        Ok(())
    }
}
