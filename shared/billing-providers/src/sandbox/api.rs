//! `SandboxGateway`: the `BillingGateway` port over the sandbox provider's
//! HTTP API (customers, hosted checkout, portal and add-a-card sessions,
//! plan changes with their preview, cancel and resume, saved cards),
//! written like any real provider's adapter on the shared `ApiClient`. The
//! sandbox can do everything the port asks.
//!
//! The sandbox takes JSON bodies and a bearer API key. Every mutating POST
//! carries an `Idempotency-Key` (the same on each retry of one call), so a
//! retried call never acts twice. Ids in paths are percent-encoded segments.

use super::wire::{
    ApiErrorBody, CancelSubscriptionRequest, ChangeSubscriptionRequest,
    CreateCheckoutSessionRequest, CreateCustomerRequest, CreatePortalSessionRequest,
    CreateSetupSessionRequest, CustomerObject, EmptyRequest, HostedSessionObject,
    PaymentMethodListObject, PaymentMethodObject, PreviewObject, SetDefaultPaymentMethodRequest,
    SubscriptionObject, CHECKOUT_SESSIONS_PATH, CUSTOMERS_PATH, PAYMENT_METHODS_PATH,
    PORTAL_SESSIONS_PATH, SETUP_SESSIONS_PATH, SUBSCRIPTIONS_PATH,
};
use crate::http::{url_with_segments, ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, Capabilities, ChangeAccepted, ChangePreview, CheckoutRequest, CheckoutSession,
    PaymentMethod, PlanChange, PreviewLine, ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{ChangeTiming, Provider, TenantId, UnixTime};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// The sandbox's API for one API key.
#[derive(Clone)]
pub struct SandboxGateway {
    api_key: String,
    base_url: String,
    client: ApiClient,
}

impl fmt::Debug for SandboxGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxGateway")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl SandboxGateway {
    /// `base_url` is where the sandbox is mounted (the local server's
    /// address, e.g. `http://127.0.0.1:3000`); paths start at `/sandbox/v1`.
    pub fn new(api_key: impl Into<String>, client: ApiClient, base_url: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            client,
        }
    }

    /// Reads the `apiKey` field of the `sandbox` entry in the provider secret.
    pub fn from_credentials(
        credentials: &ProviderCredentials,
        client: ApiClient,
        base_url: impl Into<String>,
    ) -> Result<Self, SecretError> {
        Ok(Self::new(credentials.field("apiKey")?, client, base_url))
    }

    /// A JSON POST with the key and the idempotency key, sent with retries.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        let request = ApiRequest::post(&format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .json(body)
            .idempotency_key(idempotency_key);
        self.client
            .call_json(&request, Provider::Sandbox, sandbox_rejection)
            .await
    }

    /// `/sandbox/v1/{collection}/{id}/{action}` with `id` as one encoded
    /// segment; `collection` is one of the `*_PATH` constants.
    fn action_path(&self, collection: &str, id: &str, action: &str) -> String {
        let base = format!("{}{collection}", self.base_url);
        url_with_segments(&base, &[id, action])
            .and_then(|url| url.strip_prefix(&self.base_url).map(str::to_owned))
            // A base that takes no path: `ApiRequest` reports the bad URL.
            .unwrap_or_default()
    }

    /// A subscription action with a body, answered by the subscription.
    async fn subscription_action<B: Serialize>(
        &self,
        subscription_id: &str,
        action: &str,
        body: &B,
        idempotency_key: &str,
    ) -> Result<SubscriptionObject, ProviderError> {
        let path = self.action_path(SUBSCRIPTIONS_PATH, subscription_id, action);
        self.post(&path, body, idempotency_key).await
    }

    async fn payment_methods(
        &self,
        customer_id: &str,
    ) -> Result<PaymentMethodListObject, ProviderError> {
        let path = self.action_path(CUSTOMERS_PATH, customer_id, "payment_methods");
        let request =
            ApiRequest::get(&format!("{}{path}", self.base_url)).bearer_auth(&self.api_key);
        self.client
            .call_json(&request, Provider::Sandbox, sandbox_rejection)
            .await
    }
}

/// A fresh key for one call: our own retries of it share the key, but a
/// later call of the same kind (cancel after a resume) must act again.
fn fresh_key(kind: &str, id: &str) -> String {
    format!("{kind}:{id}:{}", uuid::Uuid::new_v4())
}

fn change_body(change: &PlanChange) -> ChangeSubscriptionRequest {
    ChangeSubscriptionRequest {
        price_id: change.price_id.clone(),
        quantity: change.seats,
        timing: change.timing.as_str().to_owned(),
        // A moment only means something for a change now.
        proration_date: change
            .proration_date
            .filter(|_| change.timing == ChangeTiming::Now)
            .map(|date| date.seconds()),
    }
}

fn payment_method(method: PaymentMethodObject, default: Option<&str>) -> PaymentMethod {
    PaymentMethod {
        is_default: default == Some(method.id.as_str()),
        id: method.id,
        kind: method.kind,
        brand: Some(method.brand),
        last4: Some(method.last4),
        exp_month: Some(method.exp_month),
        exp_year: Some(method.exp_year),
    }
}

/// The sandbox's error body: `{"error": {"code", "message"}}`.
fn sandbox_rejection(response: &ApiResponse) -> Rejection {
    match serde_json::from_slice::<ApiErrorBody>(&response.body) {
        Ok(body) => Rejection {
            code: Some(body.error.code),
            message: Some(body.error.message),
        },
        Err(_) => Rejection::default(),
    }
}

#[async_trait]
impl BillingGateway for SandboxGateway {
    fn provider(&self) -> Provider {
        Provider::Sandbox
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn create_customer(&self, tenant: &TenantId) -> Result<Option<String>, ProviderError> {
        let body = CreateCustomerRequest {
            tenant_id: tenant.as_str().to_owned(),
        };
        let customer: CustomerObject = self
            .post(
                CUSTOMERS_PATH,
                &body,
                &crate::http::customer_idempotency_key(tenant),
            )
            .await?;
        Ok(Some(customer.id))
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        // The tenant and plan ride on the session so every event it leads
        // to can name the tenant without a lookup.
        // The sandbox, like Stripe, bills a customer object created first.
        let customer_id =
            request
                .customer_id
                .clone()
                .ok_or_else(|| ProviderError::Configuration {
                    provider: Provider::Sandbox,
                    message: "a sandbox checkout needs the customer created first".into(),
                })?;
        let body = CreateCheckoutSessionRequest {
            customer_id,
            tenant_id: request.tenant.as_str().to_owned(),
            plan_code: request.plan_code.clone(),
            price_id: request.price_id.clone(),
            success_url: request.success_url.clone(),
            cancel_url: request.cancel_url.clone(),
        };
        let session: HostedSessionObject = self
            .post(CHECKOUT_SESSIONS_PATH, &body, &request.idempotency_key)
            .await?;
        Ok(CheckoutSession {
            id: session.id,
            url: session.url,
        })
    }

    async fn create_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
    ) -> Result<String, ProviderError> {
        // A fresh key per call: harmless to create two portal sessions, but
        // our own retries of this one call collapse into one.
        let idempotency_key = format!("portal-session:{}", uuid::Uuid::new_v4());
        let body = CreatePortalSessionRequest {
            customer_id: customer_id.to_owned(),
            return_url: return_url.to_owned(),
        };
        let session: HostedSessionObject = self
            .post(PORTAL_SESSIONS_PATH, &body, &idempotency_key)
            .await?;
        Ok(session.url)
    }

    async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.subscription_action(
            subscription_id,
            "cancel",
            &CancelSubscriptionRequest {
                at_period_end: true,
            },
            &fresh_key("cancel-at-period-end", subscription_id),
        )
        .await?;
        Ok(())
    }

    async fn cancel_now(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.subscription_action(
            subscription_id,
            "cancel",
            &CancelSubscriptionRequest {
                at_period_end: false,
            },
            &fresh_key("cancel-now", subscription_id),
        )
        .await?;
        Ok(())
    }

    async fn resume(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.subscription_action(
            subscription_id,
            "resume",
            &EmptyRequest {},
            &fresh_key("resume", subscription_id),
        )
        .await?;
        Ok(())
    }

    async fn preview_change(&self, change: &PlanChange) -> Result<ChangePreview, ProviderError> {
        let path = self.action_path(SUBSCRIPTIONS_PATH, &change.subscription_id, "preview");
        // A preview changes nothing: no idempotency key to remember.
        let request = ApiRequest::post(&format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&change_body(change));
        let preview: PreviewObject = self
            .client
            .call_json(&request, Provider::Sandbox, sandbox_rejection)
            .await?;
        Ok(ChangePreview {
            currency: preview.currency,
            amount_due_now_minor: preview.amount_due_now,
            proration_date: (change.timing == ChangeTiming::Now)
                .then_some(UnixTime(preview.proration_date)),
            lines: preview
                .lines
                .into_iter()
                .map(|line| PreviewLine {
                    description: line.description,
                    amount_minor: line.amount,
                    proration: line.proration,
                    period_start: UnixTime(line.period_start),
                    period_end: UnixTime(line.period_end),
                })
                .collect(),
            next_invoice_amount_minor: preview.next_invoice_amount,
            next_invoice_date: UnixTime(preview.next_invoice_date),
            tax_minor: None,
        })
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        self.subscription_action(
            &change.subscription_id,
            "change",
            &change_body(change),
            &change.idempotency_key,
        )
        .await?;
        Ok(ChangeAccepted::default())
    }

    async fn list_payment_methods(
        &self,
        customer_id: &str,
    ) -> Result<Vec<PaymentMethod>, ProviderError> {
        let list = self.payment_methods(customer_id).await?;
        let default = list.default_payment_method.as_deref();
        Ok(list
            .data
            .into_iter()
            .map(|method| payment_method(method, default))
            .collect())
    }

    async fn create_setup_session(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        let body = CreateSetupSessionRequest {
            customer_id: customer_id.to_owned(),
            return_url: return_url.to_owned(),
        };
        let session: HostedSessionObject = self
            .post(SETUP_SESSIONS_PATH, &body, idempotency_key)
            .await?;
        Ok(session.url)
    }

    async fn set_default_payment_method(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        let path = self.action_path(CUSTOMERS_PATH, customer_id, "default_payment_method");
        let _: PaymentMethodListObject = self
            .post(
                &path,
                &SetDefaultPaymentMethodRequest {
                    payment_method_id: payment_method_id.to_owned(),
                },
                &fresh_key("default-payment-method", customer_id),
            )
            .await?;
        Ok(())
    }

    async fn remove_payment_method(
        &self,
        _customer_id: &str,
        payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        let path = self.action_path(PAYMENT_METHODS_PATH, payment_method_id, "detach");
        let _: PaymentMethodObject = self
            .post(
                &path,
                &EmptyRequest {},
                &fresh_key("detach", payment_method_id),
            )
            .await?;
        Ok(())
    }
}
