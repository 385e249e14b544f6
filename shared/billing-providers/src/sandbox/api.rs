//! `SandboxGateway`: the `BillingGateway` port over the sandbox provider's
//! HTTP API (customers, hosted checkout sessions, portal sessions), written
//! like any real provider's adapter on the shared `ApiClient`.
//!
//! The sandbox takes JSON bodies and a bearer API key. Every POST carries an
//! `Idempotency-Key` (the same on each retry of one call), so a retried call
//! never creates a second object.

use super::wire::{
    ApiErrorBody, CancelSubscriptionRequest, CreateCheckoutSessionRequest, CreateCustomerRequest,
    CreatePortalSessionRequest, CustomerObject, HostedSessionObject, SubscriptionObject,
    CHECKOUT_SESSIONS_PATH, CUSTOMERS_PATH, PORTAL_SESSIONS_PATH, SUBSCRIPTIONS_PATH,
};
use crate::http::{ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CheckoutSession, ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Provider, TenantId};
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
        let _: SubscriptionObject = self
            .post(
                &format!("{SUBSCRIPTIONS_PATH}/{subscription_id}/cancel"),
                &CancelSubscriptionRequest {
                    at_period_end: true,
                },
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
