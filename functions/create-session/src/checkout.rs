//! `POST /billing/session` (a hosted checkout for a plan) and
//! `POST /billing/portal` (the provider's hosted portal).

use crate::errors::command_error;
use crate::SessionApi;
use billing_domain::commands::{self, NewCheckout};
use billing_domain::ports::{CustomerContact, CustomerRegistry, SubscriptionReader};
use billing_domain::TenantId;
use billing_lambda::{idempotency, request, ApiError};
use lambda_http::Request;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SessionRequest {
    plan: String,
    success_url: String,
    cancel_url: String,
    /// Defaults to the provider of the tenant's existing subscription, else
    /// the deployment's first configured provider.
    provider: Option<String>,
    /// Who pays; required by some providers (Cashfree), prefilled by others.
    customer: Option<CustomerContact>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReturnRequest {
    return_url: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalResponse {
    pub url: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    pub session_url: String,
    pub session_id: String,
}

/// The request's body as `T`, or 400 `invalid_request` saying the shape.
pub(crate) fn body<T: serde::de::DeserializeOwned>(
    request: &Request,
    shape: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(request::raw_body(request))
        .map_err(|e| ApiError::bad_request("invalid_request", format!("body must be {shape}: {e}")))
}

/// The provider idempotency key of a request's call `purpose`: the same on
/// every run under one `Idempotency-Key`, so a rerun after a 5xx or a crash
/// cannot act twice; fresh without the header.
pub(crate) fn provider_key(purpose: &str, request: &Request, tenant: &TenantId) -> String {
    format!(
        "{purpose}:{}",
        idempotency::provider_key(request, tenant)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    )
}

impl<S> SessionApi<S> {
    /// The `{"returnUrl"}` body of the portal and the payment-method setup
    /// page, its URL on an allowed origin.
    pub(crate) fn return_url(&self, request: &Request) -> Result<String, ApiError> {
        let body: ReturnRequest = body(request, "{\"returnUrl\"}")?;
        self.origins.check("returnUrl", &body.return_url)?;
        Ok(body.return_url)
    }
}

impl<S: CustomerRegistry + SubscriptionReader> SessionApi<S> {
    pub(crate) async fn checkout(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<SessionResponse, ApiError> {
        let body: SessionRequest = body(request, "{\"plan\", \"successUrl\", \"cancelUrl\"}")?;
        self.origins.check("successUrl", &body.success_url)?;
        self.origins.check("cancelUrl", &body.cancel_url)?;

        let existing = self
            .store
            .get_subscription(tenant)
            .await
            .map_err(ApiError::from_store)?;
        let choice = commands::choose_checkout(
            &self.catalog,
            &self.gateways,
            existing.as_ref().map(|stored| &stored.subscription),
            body.provider.as_deref(),
            &body.plan,
        )
        .map_err(|e| command_error(e, tenant))?;
        let started = commands::start_checkout(
            &self.store,
            &choice,
            NewCheckout {
                tenant: tenant.clone(),
                success_url: body.success_url,
                cancel_url: body.cancel_url,
                idempotency_key: provider_key("checkout", request, tenant),
                contact: body.customer,
            },
        )
        .await
        .map_err(|e| command_error(e, tenant))?;
        let provider = choice.gateway.provider();
        if started.lost_customer_race {
            tracing::warn!(tenant = %tenant, provider = %provider, "a concurrent request stored another customer first; using it");
        }
        tracing::info!(request_id, tenant = %tenant, provider = %provider, plan = %choice.plan.code, session_id = %started.session.id, "checkout session created");
        Ok(SessionResponse {
            session_url: started.session.url,
            session_id: started.session.id,
        })
    }

    pub(crate) async fn portal(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<PortalResponse, ApiError> {
        let return_url = self.return_url(request)?;
        let (url, provider) =
            commands::open_portal(&self.store, &self.gateways, tenant, &return_url)
                .await
                .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, provider = %provider, "portal session created");
        Ok(PortalResponse { url })
    }
}
