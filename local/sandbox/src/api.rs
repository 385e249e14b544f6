//! The sandbox provider API under `/sandbox/v1/`, in the wire format of
//! `billing_providers::sandbox::wire`: create a customer, a hosted checkout
//! session, a portal session; cancel a subscription.
//!
//! Like a real provider: a bearer API key is required (401 otherwise), a
//! body that is not the expected JSON is a 400, every error is
//! `{"error": {"code", "message"}}`, and an `Idempotency-Key` makes a
//! repeated request return the first answer (the same key with a different
//! request is refused). Only successful answers are kept for a key, so a
//! request refused for bad input can be corrected and retried.
//!
//! `POST /sandbox/v1/subscriptions/{id}/cancel` with `{"at_period_end":
//! true}` does what the portal's "Cancel at period end" button does (a
//! `subscription.updated` event), with `false` what "Cancel now" does (a
//! `subscription.canceled` event), and answers the subscription as it now
//! is. A request that changes nothing (already set to cancel) sends nothing
//! and still answers 200. An unknown subscription is a 404
//! `resource_missing`; one that has ended or never started (canceled,
//! incomplete) is a 409 `subscription_not_live`, as the portal refuses it
//! with a 409: the request is well formed, the subscription's state is what
//! forbids it.

use crate::simulation::{self, ActionError, PortalAction};
use crate::state::{
    CheckoutSessionRecord, CustomerRecord, IdempotentAnswer, PortalSessionRecord, SandboxState,
};
use crate::{new_id, subscription_action_time, unix_now, SandboxConfig, SandboxProvider};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use billing_domain::{Provider, TenantId};
use billing_providers::http::json_problem;
use billing_providers::sandbox::wire::{
    ApiErrorBody, CancelSubscriptionRequest, CreateCheckoutSessionRequest, CreateCustomerRequest,
    CreatePortalSessionRequest, CustomerObject, HostedSessionObject, SubscriptionObject,
    CHECKOUT_SESSIONS_PATH, CUSTOMERS_PATH, PORTAL_SESSIONS_PATH, SUBSCRIPTIONS_PATH,
};
use billing_providers::signing::constant_time_eq;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A refused API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiFailure {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiFailure {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A parameter names an object that does not exist.
    pub(crate) fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "resource_missing", message)
    }

    /// The object the path names does not exist.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "resource_missing", message)
    }

    /// A subscription action the subscription cannot take.
    pub(crate) fn refused(error: ActionError) -> Self {
        match error {
            ActionError::UnknownSubscription => Self::not_found("no such subscription"),
            ActionError::UnknownPaymentMethod => Self::not_found("no such payment method"),
            ActionError::UnknownPrice => Self::missing(error.to_string()),
            ActionError::InvalidChange(_) => Self::invalid(error.to_string()),
            ActionError::NotLive => Self::new(
                StatusCode::CONFLICT,
                "subscription_not_live",
                error.to_string(),
            ),
            // Not reachable from a subscription named by id; kept distinct
            // rather than folded into one of the above.
            ActionError::UnknownSession
            | ActionError::AlreadyCompleted
            | ActionError::UnknownCustomer
            | ActionError::AmbiguousSubscription => Self::new(
                StatusCode::CONFLICT,
                "action_not_possible",
                error.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ApiErrorBody::new(self.code, self.message)),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub(crate) async fn create_customer(
    State(provider): State<Arc<SandboxProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider
        .api_call(&headers, CUSTOMERS_PATH, &body, async |state, _, request: CreateCustomerRequest| {
            if TenantId::parse(&request.tenant_id).is_err() {
                return Err(ApiFailure::invalid("tenant_id is not a valid tenant id"));
            }
            let customer = CustomerRecord {
                id: new_id("cus"),
                tenant_id: request.tenant_id,
                created: unix_now(),
                last_event_at: None,
                payment_methods: Vec::new(),
                default_payment_method: None,
            };
            let answer = CustomerObject {
                id: customer.id.clone(),
                tenant_id: customer.tenant_id.clone(),
            };
            tracing::info!(customer_id = %customer.id, tenant = %customer.tenant_id, "sandbox customer created");
            state.customers.insert(customer.id.clone(), customer);
            Ok(answer)
        })
        .await
}

pub(crate) async fn create_checkout_session(
    State(provider): State<Arc<SandboxProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider
        .api_call(
            &headers,
            CHECKOUT_SESSIONS_PATH,
            &body,
            async |state, config, request: CreateCheckoutSessionRequest| {
                let customer = state
                    .customers
                    .get(&request.customer_id)
                    .ok_or_else(|| ApiFailure::missing("no such customer"))?;
                if customer.tenant_id != request.tenant_id {
                    return Err(ApiFailure::new(
                        StatusCode::BAD_REQUEST,
                        "tenant_mismatch",
                        "the customer belongs to another tenant",
                    ));
                }
                let plan = config
                    .catalog
                    .plan_for_price(Provider::Sandbox, &request.price_id)
                    .ok_or_else(|| {
                        ApiFailure::new(
                            StatusCode::BAD_REQUEST,
                            "unknown_price",
                            "price_id is not a sandbox price of the catalog",
                        )
                    })?;
                if plan.code.as_str() != request.plan_code {
                    return Err(ApiFailure::new(
                        StatusCode::BAD_REQUEST,
                        "plan_mismatch",
                        "price_id belongs to another plan than plan_code",
                    ));
                }
                check_return_url(&request.success_url, "success_url")?;
                check_return_url(&request.cancel_url, "cancel_url")?;
                let session = CheckoutSessionRecord {
                    id: new_id("cs"),
                    customer_id: request.customer_id,
                    tenant_id: request.tenant_id,
                    plan_code: request.plan_code,
                    price_id: request.price_id,
                    amount_minor: plan.price.amount_minor,
                    currency: plan.price.currency.clone(),
                    interval: plan.interval,
                    success_url: request.success_url,
                    cancel_url: request.cancel_url,
                    created: unix_now(),
                    completion: None,
                };
                let answer = HostedSessionObject {
                    url: hosted_url(config, "checkout", &session.id),
                    id: session.id.clone(),
                };
                tracing::info!(session_id = %session.id, customer_id = %session.customer_id, plan = %session.plan_code, "sandbox checkout session created");
                state.checkout_sessions.insert(session.id.clone(), session);
                Ok(answer)
            },
        )
        .await
}

pub(crate) async fn create_portal_session(
    State(provider): State<Arc<SandboxProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider
        .api_call(
            &headers,
            PORTAL_SESSIONS_PATH,
            &body,
            async |state, config, request: CreatePortalSessionRequest| {
                check_hosted_session(state, &request.customer_id, &request.return_url)?;
                let session = PortalSessionRecord {
                    id: new_id("ps"),
                    customer_id: request.customer_id,
                    return_url: request.return_url,
                    created: unix_now(),
                };
                let answer = HostedSessionObject {
                    url: hosted_url(config, "portal", &session.id),
                    id: session.id.clone(),
                };
                tracing::info!(portal_session_id = %session.id, customer_id = %session.customer_id, "sandbox portal session created");
                state.portal_sessions.insert(session.id.clone(), session);
                Ok(answer)
            },
        )
        .await
}

/// `POST /sandbox/v1/subscriptions/{subscription_id}/cancel`: the portal's
/// "Cancel at period end" (`at_period_end: true`) or "Cancel now" (`false`)
/// through the API; see the module documentation for the answers.
pub(crate) async fn cancel_subscription(
    State(provider): State<Arc<SandboxProvider>>,
    Path(subscription_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The id is part of the idempotency fingerprint: one key cannot cancel
    // two subscriptions.
    let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}/cancel");
    provider
        .api_call(
            &headers,
            &path,
            &body,
            async |state, _, request: CancelSubscriptionRequest| {
                let action = if request.at_period_end {
                    PortalAction::Cancel
                } else {
                    PortalAction::CancelNow
                };
                provider
                    .portal_action_now(state, &subscription_id, action)
                    .await?;
                subscription_answer(state, &subscription_id)
            },
        )
        .await
}

impl SandboxProvider {
    /// What a portal button does, through the API: nothing when it would
    /// change nothing, else the action at the subscription's next action
    /// time, its events queued under the state lock like every other
    /// action's.
    pub(crate) async fn portal_action_now(
        &self,
        state: &mut SandboxState,
        subscription_id: &str,
        action: PortalAction,
    ) -> Result<(), ApiFailure> {
        let changes = simulation::portal_action_changes(state, subscription_id, action)
            .map_err(ApiFailure::refused)?;
        if changes {
            let at = subscription_action_time(state, subscription_id).await;
            let events = simulation::apply_portal_action(state, subscription_id, action, at)
                .map_err(ApiFailure::refused)?;
            tracing::info!(%subscription_id, ?action, "sandbox subscription action through the API");
            self.send(events);
        }
        Ok(())
    }
}

pub(crate) fn subscription_answer(
    state: &SandboxState,
    subscription_id: &str,
) -> Result<SubscriptionObject, ApiFailure> {
    state
        .subscriptions
        .get(subscription_id)
        .map(simulation::subscription_object)
        .ok_or_else(|| ApiFailure::not_found("no such subscription"))
}

pub(crate) fn hosted_url(config: &SandboxConfig, page: &str, id: &str) -> String {
    format!(
        "{}/sandbox/{page}/{id}",
        config.public_base_url.trim_end_matches('/')
    )
}

/// What a customer's hosted page (portal, add a card) needs: the customer,
/// and a return URL a browser can follow.
pub(crate) fn check_hosted_session(
    state: &SandboxState,
    customer_id: &str,
    return_url: &str,
) -> Result<(), ApiFailure> {
    if !state.customers.contains_key(customer_id) {
        return Err(ApiFailure::missing("no such customer"));
    }
    check_return_url(return_url, "return_url")
}

/// Return URLs are followed by a browser after the hosted page: absolute
/// http(s) only.
fn check_return_url(value: &str, field: &str) -> Result<(), ApiFailure> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(ApiFailure::invalid(format!(
            "{field} must be an absolute http(s) URL"
        ))),
    }
}

impl SandboxProvider {
    /// The steps every API call shares: authenticate, decode the body,
    /// replay or refuse a known idempotency key, run `act` under the state
    /// lock, remember the answer for the key, save the state.
    ///
    /// `act` is async so an action can wait for its event time
    /// (`next_event_time`) while holding the lock; it queues its events
    /// itself (`SandboxProvider::send`), still under the lock. `path` is the
    /// request's own path, path parameters included.
    pub(crate) async fn api_call<Req, Res, F>(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
        act: F,
    ) -> Response
    where
        Req: DeserializeOwned + Serialize,
        Res: Serialize,
        F: AsyncFnOnce(&mut SandboxState, &SandboxConfig, Req) -> Result<Res, ApiFailure>,
    {
        if let Err(failure) = self.authenticate(headers) {
            return failure.into_response();
        }
        let request: Req = match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(error) => {
                return ApiFailure::invalid(format!(
                    "body is not the expected JSON: {}",
                    json_problem(&error)
                ))
                .into_response()
            }
        };
        let key = match idempotency_key(headers) {
            Ok(key) => key,
            Err(failure) => return failure.into_response(),
        };
        // The typed request, re-encoded: field order and whitespace in the
        // client's body do not make two equal requests differ.
        let fingerprint = format!(
            "{path}\n{}",
            serde_json::to_string(&request).unwrap_or_default()
        );

        let mut state = self.lock_state().await;
        if let Some(key) = &key {
            if let Some(answer) = state.idempotency.get(key) {
                if answer.fingerprint != fingerprint {
                    return ApiFailure::new(
                        StatusCode::BAD_REQUEST,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with a different request",
                    )
                    .into_response();
                }
                let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
                let mut response = (status, Json(answer.body.clone())).into_response();
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return response;
            }
        }
        let answer = match act(&mut state, self.config(), request).await {
            Ok(answer) => answer,
            Err(failure) => return failure.into_response(),
        };
        let Ok(answer) = serde_json::to_value(answer) else {
            // The action took place (and its events are queued): keep it.
            self.persist(&state);
            return ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "answer could not be encoded",
            )
            .into_response();
        };
        if let Some(key) = key {
            state.idempotency.insert(
                key,
                IdempotentAnswer {
                    fingerprint,
                    status: StatusCode::OK.as_u16(),
                    body: answer.clone(),
                },
            );
        }
        self.persist(&state);
        (StatusCode::OK, Json(answer)).into_response()
    }

    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<(), ApiFailure> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match presented {
            Some(key) if constant_time_eq(key.as_bytes(), self.config().api_key.as_bytes()) => {
                Ok(())
            }
            // Never say what was expected, nor echo what was sent.
            _ => Err(ApiFailure::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid API key (Authorization: Bearer <key>)",
            )),
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiFailure> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiFailure::invalid(format!(
            "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
        ))),
    }
}
