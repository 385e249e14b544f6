//! create-session: `POST /billing/session` creates a hosted checkout for the
//! caller's tenant and returns its URL; `POST /billing/portal` opens the
//! provider's hosted portal (payment methods, cancel, resume) for a tenant
//! that already has a billing account. The tenant comes from the verified JWT
//! claims; every redirect URL must be on the allowed origins.

mod compose;
mod redirects;

use billing_domain::commands::{self, CommandError, NewCheckout};
use billing_domain::ports::{
    BillingGateway, CustomerContact, CustomerRegistry, IdempotencyStore, ProviderError,
    SubscriptionReader,
};
use billing_domain::{Action, Catalog, TenantId, UnixTime};
use billing_lambda::{idempotency, json_response, request, ApiError, ConfigError, Env};
pub use compose::build;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
pub use redirects::AllowedOrigins;
use serde::{Deserialize, Serialize};

/// Configuration and clients, built once per execution environment.
pub struct SessionApi<S> {
    store: S,
    gateways: Vec<Box<dyn BillingGateway>>,
    catalog: Catalog,
    origins: AllowedOrigins,
    tenant_claim: String,
    role_claim: String,
}

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
struct PortalRequest {
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

impl<S: CustomerRegistry + SubscriptionReader + IdempotencyStore> SessionApi<S> {
    /// `gateways` must not be empty; the first is the default provider.
    pub fn new(
        store: S,
        gateways: Vec<Box<dyn BillingGateway>>,
        catalog: Catalog,
        origins: AllowedOrigins,
        tenant_claim: String,
        role_claim: String,
    ) -> Self {
        assert!(
            !gateways.is_empty(),
            "at least one payment provider is required"
        );
        Self {
            store,
            gateways,
            catalog,
            origins,
            tenant_claim,
            role_claim,
        }
    }

    /// Reads `ALLOWED_REDIRECT_ORIGINS` (required), `TENANT_CLAIM` and
    /// `ROLE_CLAIM` (default `role`), with the deployment's catalog.
    pub fn from_env(
        env: &Env,
        store: S,
        gateways: Vec<Box<dyn BillingGateway>>,
    ) -> Result<Self, ConfigError> {
        let catalog = billing_lambda::config::catalog()?;
        Self::from_env_with_catalog(env, store, gateways, catalog)
    }

    /// [`SessionApi::from_env`] for a caller that has already read the
    /// catalog (to build the gateways), so it is parsed once per cold start.
    pub fn from_env_with_catalog(
        env: &Env,
        store: S,
        gateways: Vec<Box<dyn BillingGateway>>,
        catalog: Catalog,
    ) -> Result<Self, ConfigError> {
        let origins = AllowedOrigins::parse(&env.required("ALLOWED_REDIRECT_ORIGINS")?).map_err(
            |reason| ConfigError::Invalid {
                name: "ALLOWED_REDIRECT_ORIGINS",
                reason,
            },
        )?;
        let claim = env
            .optional("TENANT_CLAIM")
            .unwrap_or_else(|| "tenant_id".into());
        let role_claim = env.optional("ROLE_CLAIM").unwrap_or_else(|| "role".into());
        Ok(Self::new(
            store, gateways, catalog, origins, claim, role_claim,
        ))
    }

    /// Serves one request at `now`. A request with an `Idempotency-Key`
    /// runs once per key and tenant; a repeat gets the first answer.
    pub async fn handle(&self, request: Request, now: UnixTime) -> Response<Body> {
        if request.method() != Method::POST {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            )
            .into_response();
        }
        let request_id = request::request_id(&request);
        // Who may act is settled before the key is looked at, so a refused
        // caller leaves no record behind.
        let tenant = match request::tenant(&request, &self.tenant_claim).and_then(|tenant| {
            request::authorize(&request, &self.role_claim, Action::Manage).map(|_| tenant)
        }) {
            Ok(tenant) => tenant,
            Err(e) => return refused(&request_id, e),
        };
        idempotency::run(
            &self.store,
            &request,
            &tenant,
            now,
            IDEMPOTENCY_LOCK_SECONDS,
            || async {
                let result = if request
                    .raw_http_path()
                    .trim_end_matches('/')
                    .ends_with("/billing/portal")
                {
                    self.portal(&request, &tenant, &request_id)
                        .await
                        .map(|portal| json_response(StatusCode::OK, &portal))
                } else {
                    self.create(&request, &tenant, &request_id)
                        .await
                        .map(|session| json_response(StatusCode::OK, &session))
                };
                result.unwrap_or_else(|e| refused(&request_id, e))
            },
        )
        .await
    }

    async fn create(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<SessionResponse, ApiError> {
        let body: SessionRequest =
            serde_json::from_slice(request::raw_body(request)).map_err(|e| {
                ApiError::bad_request(
                    "invalid_request",
                    format!("body must be {{\"plan\", \"successUrl\", \"cancelUrl\"}}: {e}"),
                )
            })?;
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
                // The same on every run under one Idempotency-Key, so a rerun
                // after a 5xx or a crash cannot open a second checkout.
                idempotency_key: format!(
                    "checkout:{}",
                    idempotency::provider_key(request, tenant)
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
                ),
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

    async fn portal(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<PortalResponse, ApiError> {
        let body: PortalRequest =
            serde_json::from_slice(request::raw_body(request)).map_err(|e| {
                ApiError::bad_request(
                    "invalid_request",
                    format!("body must be {{\"returnUrl\"}}: {e}"),
                )
            })?;
        self.origins.check("returnUrl", &body.return_url)?;
        let (url, provider) =
            commands::open_portal(&self.store, &self.gateways, tenant, &body.return_url)
                .await
                .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, provider = %provider, "portal session created");
        Ok(PortalResponse { url })
    }
}

/// How long a request holds its `Idempotency-Key` if it never finishes (a
/// crashed invocation): longer than the function's timeout in
/// `template.yaml` (a test holds the two together).
pub const IDEMPOTENCY_LOCK_SECONDS: i64 = 30;

/// A refusal, logged and answered.
fn refused(request_id: &str, e: ApiError) -> Response<Body> {
    tracing::info!(
        request_id,
        status = e.status.as_u16(),
        code = e.code,
        "checkout refused"
    );
    e.into_response()
}

/// A refused or failed command as the API's answer.
fn command_error(e: CommandError, tenant: &TenantId) -> ApiError {
    let message = e.to_string();
    match e {
        CommandError::ProviderMismatch { .. } => {
            ApiError::new(StatusCode::CONFLICT, "provider_mismatch", message)
        }
        CommandError::TenantProviderDisabled(provider) => {
            tracing::error!(tenant = %tenant, provider = %provider, "the tenant's provider is not enabled in this deployment");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "provider_misconfigured",
                "billing is misconfigured",
            )
        }
        CommandError::UnknownProvider(_) | CommandError::ProviderNotEnabled(_) => {
            ApiError::bad_request("unknown_provider", message)
        }
        CommandError::UnknownPlan(_) => ApiError::bad_request("unknown_plan", message),
        CommandError::InactivePlan(_) => ApiError::bad_request("inactive_plan", message),
        CommandError::FreePlan => ApiError::bad_request("free_plan", message),
        CommandError::PlanNotOffered { .. } => ApiError::bad_request("plan_not_offered", message),
        CommandError::SubscriptionExists { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "subscription_exists",
            format!("{message}; change plans in the billing portal"),
        ),
        CommandError::NoBillingAccount => ApiError::new(
            StatusCode::NOT_FOUND,
            "no_billing_account",
            format!("{message}; start a checkout first"),
        ),
        CommandError::Store(e) => ApiError::from_store(e),
        CommandError::Provider(e) => provider_error(e),
    }
}

fn provider_error(e: ProviderError) -> ApiError {
    tracing::error!(error = %e, retryable = e.is_retryable(), "provider call failed");
    match e {
        ProviderError::Transient { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            "the payment provider is unavailable; retry",
        ),
        ProviderError::Rejected { .. } | ProviderError::UnexpectedResponse { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_error",
            "the payment provider refused the checkout",
        ),
        ProviderError::Configuration { .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "provider_misconfigured",
            "billing is misconfigured",
        ),
        ProviderError::Unsupported {
            provider,
            operation,
        } => ApiError::new(
            StatusCode::CONFLICT,
            "not_supported_by_provider",
            format!("{provider} does not offer {operation}"),
        ),
    }
}
