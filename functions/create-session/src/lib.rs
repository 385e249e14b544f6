//! create-session: every route that calls a payment provider, so that the
//! provider secret stays with this one function (see `infra/README.md`):
//!
//! - `POST /billing/session`: a hosted checkout for a plan;
//! - `POST /billing/portal`: the provider's hosted portal;
//! - `POST /billing/subscription/{preview,change,cancel,resume}`: plan and
//!   seat changes with their preview, cancelling and resuming;
//! - `GET /billing/payment-methods`, `POST .../setup`, `.../{id}/default`,
//!   `DELETE .../{id}`: the tenant's payment methods;
//! - `GET`, `PUT /billing/profile`: the tenant's billing profile, copied
//!   onto its provider customer.
//!
//! The tenant and role come from the verified JWT claims; every redirect
//! URL must be on the allowed origins; mutating routes run once per
//! `Idempotency-Key`.

mod checkout;
mod compose;
mod errors;
mod payment_methods;
mod profile;
mod redirects;
mod routes;
mod subscription;

use billing_domain::ports::{
    BillingGateway, CustomerRegistry, IdempotencyStore, IntentRecorder, ProfileStore,
};
use billing_domain::{Catalog, TenantId, UnixTime};
use billing_lambda::{idempotency, json_response, request, ApiError, ConfigError, Env};
pub use checkout::{PortalResponse, SessionResponse};
pub use compose::build;
use errors::refused;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
pub use payment_methods::{PaymentMethodBody, PaymentMethodsResponse};
pub use profile::ProfileBody;
pub use redirects::AllowedOrigins;
use routes::Route;

/// Configuration and clients, built once per execution environment.
pub struct SessionApi<S> {
    store: S,
    gateways: Vec<Box<dyn BillingGateway>>,
    catalog: Catalog,
    origins: AllowedOrigins,
    tenant_claim: String,
    role_claim: String,
}

impl<S: CustomerRegistry + IntentRecorder + IdempotencyStore + ProfileStore> SessionApi<S> {
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

    /// Serves one request at `now`. A mutating request with an
    /// `Idempotency-Key` runs once per key and tenant; a repeat gets the
    /// first answer.
    pub async fn handle(&self, request: Request, now: UnixTime) -> Response<Body> {
        let request_id = request::request_id(&request);
        let Some(route) = request::route_key(&request).and_then(Route::from_key) else {
            return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
                .into_response();
        };
        let key = route.key();
        // Who may act is settled before the key is looked at, so a refused
        // caller leaves no record behind. Cancelling at once needs the
        // owner, which only the body tells, so that body is read second.
        let tenant = match request::tenant(&request, &self.tenant_claim).and_then(|tenant| {
            request::authorize(&request, &self.role_claim, route.action()).map(|_| tenant)
        }) {
            Ok(tenant) => tenant,
            Err(e) => return refused(&request_id, key, e),
        };
        if route == Route::Cancel {
            if let Err(e) = subscription::cancel_body(&request).and_then(|body| {
                request::authorize(
                    &request,
                    &self.role_claim,
                    subscription::cancel_action(&body),
                )
            }) {
                return refused(&request_id, key, e);
            }
        }
        let run = || self.serve(route, &request, &tenant, &request_id, now);
        if route.is_mutating() {
            idempotency::run(
                &self.store,
                &request,
                &tenant,
                now,
                IDEMPOTENCY_LOCK_SECONDS,
                run,
            )
            .await
        } else {
            run().await
        }
    }

    async fn serve(
        &self,
        route: Route,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
        now: UnixTime,
    ) -> Response<Body> {
        const OK: StatusCode = StatusCode::OK;
        // The state these change arrives by webhook: accepted, not done.
        const ACCEPTED: StatusCode = StatusCode::ACCEPTED;
        let result = match route {
            Route::Checkout => self
                .checkout(request, tenant, request_id)
                .await
                .map(|b| json_response(OK, &b)),
            Route::Portal => self
                .portal(request, tenant, request_id)
                .await
                .map(|b| json_response(OK, &b)),
            Route::Preview => self
                .preview(request, tenant, now)
                .await
                .map(|b| json_response(OK, &b)),
            Route::Change => self
                .change(request, tenant, request_id, now)
                .await
                .map(|b| json_response(ACCEPTED, &b)),
            Route::Cancel => self
                .cancel(request, tenant, request_id, now)
                .await
                .map(|b| json_response(ACCEPTED, &b)),
            Route::Resume => self
                .resume(tenant, request_id)
                .await
                .map(|b| json_response(ACCEPTED, &b)),
            Route::ListPaymentMethods => self
                .list_payment_methods(tenant)
                .await
                .map(|b| json_response(OK, &b)),
            Route::SetupPaymentMethod => self
                .setup_payment_method(request, tenant, request_id)
                .await
                .map(|b| json_response(OK, &b)),
            Route::DefaultPaymentMethod => self
                .default_payment_method(request, tenant, request_id)
                .await
                .map(|b| json_response(OK, &b)),
            Route::RemovePaymentMethod => self
                .remove_payment_method(request, tenant, request_id)
                .await
                .map(|b| json_response(OK, &b)),
            Route::GetProfile => self
                .get_profile(tenant)
                .await
                .map(|b| json_response(OK, &b)),
            Route::PutProfile => self
                .put_profile(request, tenant, now)
                .await
                .map(|b| json_response(OK, &b)),
        };
        result.unwrap_or_else(|e| refused(request_id, route.key(), e))
    }
}

/// How long a request holds its `Idempotency-Key` if it never finishes (a
/// crashed invocation): longer than the function's timeout in
/// `template.yaml` (a test holds the two together).
pub const IDEMPOTENCY_LOCK_SECONDS: i64 = 30;
