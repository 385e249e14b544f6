//! get-status: `GET /billing/status` (the caller's tenant's subscription and
//! access, read from the store only, never from the provider),
//! `GET /billing/plans` (the public, active catalog for a pricing page), and
//! the ledger's reads: invoices (list, breakdown, PDF) and payments
//! (`ledger.rs`, `pdf.rs`). Everything here only reads the table.

pub mod ledger;
pub mod pdf;

use billing_domain::ports::{LedgerReader, SubscriptionReader};
use billing_domain::{
    access_level, AccessLevel, Catalog, Entitlements, GracePolicy, Subscription,
    SubscriptionStatus, TenantId, UnixTime,
};
use billing_lambda::bodies::PendingChangeBody;
use billing_lambda::clock::rfc3339;
use billing_lambda::{json_response, request, ApiError, ConfigError, Env};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

/// Configuration and clients, built once per execution environment.
pub struct StatusApi<R> {
    store: R,
    catalog: Catalog,
    grace: GracePolicy,
    tenant_claim: String,
}

impl<R: SubscriptionReader + LedgerReader> StatusApi<R> {
    pub fn new(store: R, catalog: Catalog, grace: GracePolicy, tenant_claim: String) -> Self {
        Self {
            store,
            catalog,
            grace,
            tenant_claim,
        }
    }

    /// Reads `TENANT_CLAIM` (default `tenant_id`) and `PAST_DUE_GRACE_DAYS` (default 7).
    pub fn from_env(env: &Env, store: R) -> Result<Self, ConfigError> {
        let catalog = billing_lambda::config::catalog()?;
        let days: i64 = env.parsed_or("PAST_DUE_GRACE_DAYS", GracePolicy::DEFAULT_DAYS)?;
        if !(0..=365).contains(&days) {
            return Err(ConfigError::Invalid {
                name: "PAST_DUE_GRACE_DAYS",
                reason: "must be 0 to 365".into(),
            });
        }
        let claim = env
            .optional("TENANT_CLAIM")
            .unwrap_or_else(|| "tenant_id".into());
        Ok(Self::new(store, catalog, GracePolicy::days(days), claim))
    }

    pub async fn handle(&self, request: Request, now: UnixTime) -> Response<Body> {
        let Some(route) = Route::of(&request) else {
            return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
                .into_response();
        };
        if request.method() != Method::GET {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use GET",
            )
            .into_response();
        }
        if route == Route::Plans {
            return json_response(StatusCode::OK, &self.plans());
        }
        let tenant = match request::tenant(&request, &self.tenant_claim) {
            Ok(tenant) => tenant,
            Err(e) => return e.into_response(),
        };
        let answer = match route {
            Route::Plans => unreachable!("answered above"),
            Route::Status => self
                .status(&tenant, now)
                .await
                .map(|body| json_response(StatusCode::OK, &body)),
            Route::Invoices => ledger::list_invoices(&self.store, &tenant, &request)
                .await
                .map(|body| json_response(StatusCode::OK, &body)),
            Route::Invoice => ledger::invoice(&self.store, &tenant, &request)
                .await
                .map(|invoice| json_response(StatusCode::OK, &ledger::InvoiceBody::from(&invoice))),
            Route::InvoicePdf => ledger::invoice(&self.store, &tenant, &request)
                .await
                .map(|invoice| {
                    tracing::info!(tenant = %tenant, invoice = %invoice.number, "invoice PDF rendered");
                    ledger::pdf_response(&invoice)
                }),
            Route::Payments => ledger::list_payments(&self.store, &tenant, &request)
                .await
                .map(|body| json_response(StatusCode::OK, &body)),
        };
        answer.unwrap_or_else(ApiError::into_response)
    }

    async fn status(&self, tenant: &TenantId, now: UnixTime) -> Result<StatusBody, ApiError> {
        let stored = self.store.get_subscription(tenant).await.map_err(|e| {
            tracing::error!(tenant = %tenant, error = %e, retryable = e.is_retryable(), "reading subscription failed");
            if e.is_retryable() {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "billing status is temporarily unavailable; retry")
            } else {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store_error", "billing status could not be read")
            }
        })?;
        let body = match stored {
            Some(stored) => self.describe(&stored.subscription, now),
            None => self.free_tenant(),
        };
        tracing::info!(tenant = %tenant, status = body.status.as_str(), access = ?body.access, "status read");
        Ok(body)
    }

    fn describe(&self, sub: &Subscription, now: UnixTime) -> StatusBody {
        let access = access_level(sub, now, &self.grace);
        let plan = sub
            .plan
            .as_ref()
            .and_then(|code| self.catalog.plan(code.as_str()));
        if plan.is_none() {
            // A price missing from the catalog is a deploy mistake: surface it.
            tracing::warn!(tenant = %sub.tenant_id, plan = ?sub.plan, "subscription plan is not in the catalog");
        }
        // Without access a tenant falls back to what the free plan grants.
        let granting = match (access, plan) {
            (AccessLevel::Full | AccessLevel::Grace, Some(plan)) => plan,
            _ => self.catalog.free_plan(),
        };
        StatusBody {
            plan: sub.plan.as_ref().map_or_else(
                || self.catalog.free_plan().code.to_string(),
                |p| p.to_string(),
            ),
            status: sub.status,
            access,
            current_period_end: sub.current_period_end.and_then(rfc3339),
            cancel_at_period_end: sub.cancel_at_period_end,
            cancel_at: sub.cancel_at.and_then(rfc3339),
            canceled_at: sub.canceled_at.and_then(rfc3339),
            trial_end: sub.trial_end.and_then(rfc3339),
            grace_ends_at: match access {
                AccessLevel::Grace => sub
                    .past_due_since
                    .map(|t| t.plus_seconds(self.grace.past_due_grace_seconds))
                    .and_then(rfc3339),
                _ => None,
            },
            seats: sub.seats,
            entitlements: granting.entitlements.clone(),
            provider: Some(sub.provider.as_str()),
            updated_at: rfc3339(sub.updated_at),
            // A change overdue by a day is one no webhook will settle.
            pending_change: sub
                .pending_change
                .as_ref()
                .filter(|pending| !pending.is_overdue(now))
                .map(PendingChangeBody::from),
        }
    }

    fn free_tenant(&self) -> StatusBody {
        let free = self.catalog.free_plan();
        StatusBody {
            plan: free.code.to_string(),
            status: SubscriptionStatus::None,
            access: AccessLevel::None,
            current_period_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            trial_end: None,
            grace_ends_at: None,
            seats: 0,
            entitlements: free.entitlements.clone(),
            provider: None,
            updated_at: None,
            pending_change: None,
        }
    }

    fn plans(&self) -> PlansBody {
        PlansBody {
            plans: self
                .catalog
                .active_plans()
                .map(|p| PlanBody {
                    code: p.code.to_string(),
                    display_name: p.display_name.clone(),
                    interval: p.interval,
                    price: PriceBody {
                        amount_minor: p.price.amount_minor,
                        currency: p.price.currency.clone(),
                    },
                    entitlements: p.entitlements.clone(),
                    min_seats: p.min_seats,
                    max_seats: p.max_seats,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Status,
    Plans,
    Invoices,
    Invoice,
    InvoicePdf,
    Payments,
}

impl Route {
    /// API Gateway's route key, or the path when a caller sends none.
    fn of(request: &Request) -> Option<Route> {
        if let Some(key) = request::route_key(request) {
            let path = key.split_once(' ').map_or(key, |(_, path)| path);
            return Some(match path {
                "/billing/status" => Route::Status,
                "/billing/plans" => Route::Plans,
                "/billing/invoices" => Route::Invoices,
                "/billing/invoices/{id}" => Route::Invoice,
                "/billing/invoices/{id}/pdf" => Route::InvoicePdf,
                "/billing/payments" => Route::Payments,
                _ => return None,
            });
        }
        let path = request.raw_http_path().trim_end_matches('/').to_owned();
        if path.ends_with("/billing/status") {
            Some(Route::Status)
        } else if path.ends_with("/billing/plans") {
            Some(Route::Plans)
        } else if path.ends_with("/billing/invoices") {
            Some(Route::Invoices)
        } else if path.ends_with("/billing/payments") {
            Some(Route::Payments)
        } else {
            None
        }
    }
}

/// The `GET /billing/status` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    pub plan: String,
    pub status: SubscriptionStatus,
    pub access: AccessLevel,
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<String>,
    pub canceled_at: Option<String>,
    pub trial_end: Option<String>,
    /// When a past-due tenant loses access, while in grace.
    pub grace_ends_at: Option<String>,
    pub seats: u32,
    pub entitlements: Entitlements,
    pub provider: Option<&'static str>,
    pub updated_at: Option<String>,
    /// A plan or seat change on its way (recorded by our API, settled by
    /// webhooks).
    pub pending_change: Option<PendingChangeBody>,
}

#[derive(Debug, Serialize)]
pub struct PlansBody {
    pub plans: Vec<PlanBody>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanBody {
    pub code: String,
    pub display_name: String,
    pub interval: billing_domain::Interval,
    pub price: PriceBody,
    pub entitlements: Entitlements,
    pub min_seats: u32,
    pub max_seats: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceBody {
    pub amount_minor: i64,
    pub currency: String,
}
