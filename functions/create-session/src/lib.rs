//! create-session: `POST /billing/session` creates a hosted checkout for the
//! caller's tenant and returns its URL; `POST /billing/portal` opens the
//! provider's hosted portal (payment methods, cancel, resume) for a tenant
//! that already has a billing account. The tenant comes from the verified JWT
//! claims; every redirect URL must be on the allowed origins.

mod redirects;

use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CustomerContact, CustomerRegistry, ProviderError, StoreError,
    SubscriptionReader,
};
use billing_domain::{Catalog, Provider, TenantId};
use billing_lambda::{json_response, request, ApiError, ConfigError, Env};
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

impl<S: CustomerRegistry + SubscriptionReader> SessionApi<S> {
    /// `gateways` must not be empty; the first is the default provider.
    pub fn new(
        store: S,
        gateways: Vec<Box<dyn BillingGateway>>,
        catalog: Catalog,
        origins: AllowedOrigins,
        tenant_claim: String,
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
        }
    }

    /// Reads `ALLOWED_REDIRECT_ORIGINS` (required) and `TENANT_CLAIM`.
    pub fn from_env(
        env: &Env,
        store: S,
        gateways: Vec<Box<dyn BillingGateway>>,
    ) -> Result<Self, ConfigError> {
        let catalog = billing_lambda::config::catalog().map_err(|e| ConfigError::Invalid {
            name: "infra/plans.json",
            reason: e.to_string(),
        })?;
        let origins = AllowedOrigins::parse(&env.required("ALLOWED_REDIRECT_ORIGINS")?).map_err(
            |reason| ConfigError::Invalid {
                name: "ALLOWED_REDIRECT_ORIGINS",
                reason,
            },
        )?;
        let claim = env
            .optional("TENANT_CLAIM")
            .unwrap_or_else(|| "tenant_id".into());
        Ok(Self::new(store, gateways, catalog, origins, claim))
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        if request.method() != Method::POST {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            )
            .into_response();
        }
        let request_id = request::request_id(&request);
        let result = if request
            .raw_http_path()
            .trim_end_matches('/')
            .ends_with("/billing/portal")
        {
            self.portal(&request, &request_id)
                .await
                .map(|portal| json_response(StatusCode::OK, &portal))
        } else {
            self.create(&request, &request_id)
                .await
                .map(|session| json_response(StatusCode::OK, &session))
        };
        match result {
            Ok(response) => response,
            Err(e) => {
                tracing::info!(
                    request_id,
                    status = e.status.as_u16(),
                    code = e.code,
                    "checkout refused"
                );
                e.into_response()
            }
        }
    }

    async fn create(
        &self,
        request: &Request,
        request_id: &str,
    ) -> Result<SessionResponse, ApiError> {
        let tenant = request::tenant(request, &self.tenant_claim)?;
        let body: SessionRequest =
            serde_json::from_slice(request::raw_body(request)).map_err(|e| {
                ApiError::bad_request(
                    "invalid_request",
                    format!("body must be {{\"plan\", \"successUrl\", \"cancelUrl\"}}: {e}"),
                )
            })?;

        let existing = self
            .store
            .get_subscription(&tenant)
            .await
            .map_err(store_error)?;
        // A tenant stays with the provider that holds its subscription.
        let gateway = match &existing {
            Some(stored) => {
                let held_by = stored.subscription.provider;
                if let Some(requested) = body.provider.as_deref() {
                    if requested != held_by.as_str() {
                        return Err(ApiError::new(
                            StatusCode::CONFLICT,
                            "provider_mismatch",
                            format!("the tenant is billed through {held_by}"),
                        ));
                    }
                }
                self.enabled(held_by).ok_or_else(|| {
                    tracing::error!(tenant = %tenant, provider = %held_by, "the tenant's provider is not enabled in this deployment");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "provider_misconfigured",
                        "billing is misconfigured",
                    )
                })?
            }
            None => self.gateway(body.provider.as_deref())?,
        };
        let provider = gateway.provider();
        let plan = self.catalog.plan(&body.plan).ok_or_else(|| {
            ApiError::bad_request("unknown_plan", format!("no plan {:?}", body.plan))
        })?;
        if !plan.active {
            return Err(ApiError::bad_request(
                "inactive_plan",
                format!("plan {:?} is no longer sold", body.plan),
            ));
        }
        if plan.is_free() {
            return Err(ApiError::bad_request(
                "free_plan",
                "the free plan needs no checkout",
            ));
        }
        let price_id = plan.price_id(provider).ok_or_else(|| {
            ApiError::bad_request(
                "plan_not_offered",
                format!("plan {:?} is not sold through {provider}", body.plan),
            )
        })?;
        self.origins.check("successUrl", &body.success_url)?;
        self.origins.check("cancelUrl", &body.cancel_url)?;

        // One subscription per tenant: changing plans goes through the portal.
        if let Some(existing) = &existing {
            if existing.subscription.status.is_live() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "subscription_exists",
                    format!("the tenant already has a {} subscription; change plans in the billing portal", existing.subscription.status),
                ));
            }
        }

        let customer_id = self.customer(&tenant, gateway).await?;
        let session = gateway
            .create_checkout_session(&CheckoutRequest {
                tenant: tenant.clone(),
                customer_id,
                plan_code: plan.code.to_string(),
                price_id: price_id.to_owned(),
                success_url: body.success_url,
                cancel_url: body.cancel_url,
                idempotency_key: format!("checkout:{}", uuid::Uuid::new_v4()),
                contact: body.customer,
            })
            .await
            .map_err(provider_error)?;
        tracing::info!(request_id, tenant = %tenant, provider = %provider, plan = %plan.code, session_id = %session.id, "checkout session created");
        Ok(SessionResponse {
            session_url: session.url,
            session_id: session.id,
        })
    }

    async fn portal(
        &self,
        request: &Request,
        request_id: &str,
    ) -> Result<PortalResponse, ApiError> {
        let tenant = request::tenant(request, &self.tenant_claim)?;
        let body: PortalRequest =
            serde_json::from_slice(request::raw_body(request)).map_err(|e| {
                ApiError::bad_request(
                    "invalid_request",
                    format!("body must be {{\"returnUrl\"}}: {e}"),
                )
            })?;
        self.origins.check("returnUrl", &body.return_url)?;

        // The portal belongs to the provider that holds the subscription;
        // without one, to the first enabled provider the tenant is a customer of.
        let (gateway, customer_id) = match self
            .store
            .get_subscription(&tenant)
            .await
            .map_err(store_error)?
        {
            Some(stored) => {
                let provider = stored.subscription.provider;
                let gateway = self.enabled(provider).ok_or_else(|| {
                    tracing::error!(tenant = %tenant, provider = %provider, "the tenant's provider is not enabled in this deployment");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "provider_misconfigured",
                        "billing is misconfigured",
                    )
                })?;
                let customer = match stored.subscription.provider_customer_id {
                    Some(id) => Some(id),
                    None => self
                        .store
                        .customer_id(&tenant, provider)
                        .await
                        .map_err(store_error)?,
                };
                (gateway, customer)
            }
            None => {
                let mut found = (self.gateways[0].as_ref(), None);
                for gateway in &self.gateways {
                    if let Some(id) = self
                        .store
                        .customer_id(&tenant, gateway.provider())
                        .await
                        .map_err(store_error)?
                    {
                        found = (gateway.as_ref(), Some(id));
                        break;
                    }
                }
                found
            }
        };
        let customer_id = customer_id.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_billing_account",
                "the tenant has no billing account yet; start a checkout first",
            )
        })?;
        let url = gateway
            .create_portal_session(&customer_id, &body.return_url)
            .await
            .map_err(provider_error)?;
        tracing::info!(request_id, tenant = %tenant, provider = %gateway.provider(), "portal session created");
        Ok(PortalResponse { url })
    }

    fn enabled(&self, provider: Provider) -> Option<&dyn BillingGateway> {
        self.gateways
            .iter()
            .find(|g| g.provider() == provider)
            .map(|g| g.as_ref())
    }

    fn gateway(&self, requested: Option<&str>) -> Result<&dyn BillingGateway, ApiError> {
        let Some(name) = requested else {
            return Ok(self.gateways[0].as_ref());
        };
        let provider: Provider = name.parse().map_err(|_| {
            ApiError::bad_request("unknown_provider", format!("no provider {name:?}"))
        })?;
        self.enabled(provider).ok_or_else(|| {
            ApiError::bad_request(
                "unknown_provider",
                format!("provider {name:?} is not enabled"),
            )
        })
    }

    /// The tenant's provider customer, created once and persisted before the
    /// checkout, so every later checkout reuses it.
    async fn customer(
        &self,
        tenant: &TenantId,
        gateway: &dyn BillingGateway,
    ) -> Result<Option<String>, ApiError> {
        let provider = gateway.provider();
        if let Some(id) = self
            .store
            .customer_id(tenant, provider)
            .await
            .map_err(store_error)?
        {
            return Ok(Some(id));
        }
        let Some(created) = gateway
            .create_customer(tenant)
            .await
            .map_err(provider_error)?
        else {
            // The provider has no customer objects: the checkout names the tenant.
            return Ok(None);
        };
        // Concurrent first checkouts share the provider's idempotency key, so
        // they normally get the same customer; if not, the first stored wins.
        let kept = self
            .store
            .claim_customer(tenant, provider, &created)
            .await
            .map_err(store_error)?;
        if kept != created {
            tracing::warn!(tenant = %tenant, provider = %provider, "a concurrent request stored another customer first; using it");
        }
        Ok(Some(kept))
    }
}

fn store_error(e: StoreError) -> ApiError {
    tracing::error!(error = %e, retryable = e.is_retryable(), "store call failed");
    if e.is_retryable() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "billing is temporarily unavailable; retry",
        )
    } else {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            "billing storage failed",
        )
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
