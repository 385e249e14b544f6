//! The sandbox API for self-service, in the wire format of
//! `billing_providers::sandbox::wire`, with the same key, body, error and
//! idempotency rules as `api.rs`:
//!
//! - `POST /sandbox/v1/subscriptions/{id}/change` and `.../preview`: a plan
//!   or seat change (`plan_change.rs`) and what it would charge;
//! - `POST .../resume`: undoes a cancellation at period end;
//! - `POST .../advance`: a test clock, ending the current period now;
//! - `GET /sandbox/v1/customers/{id}/payment_methods`, `POST
//!   .../default_payment_method`, `POST /sandbox/v1/payment_methods/{id}/detach`:
//!   saved cards (`cards.rs`);
//! - `POST /sandbox/v1/setup_sessions`: a hosted page that saves a card.
//!
//! A refused change is 400 `invalid_request` (bad quantity or timing,
//! nothing to change), 400 `resource_missing` (unknown price), 404 (unknown
//! subscription or card) or 409 `subscription_not_live`.

use crate::api::{check_hosted_session, hosted_url, subscription_answer, ApiFailure};
use crate::simulation::PortalAction;
use crate::state::SetupSessionRecord;
use crate::{cards, new_id, plan_change, subscription_action_time, unix_now, SandboxProvider};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use billing_providers::sandbox::wire::{
    ChangeSubscriptionRequest, CreateSetupSessionRequest, EmptyRequest, HostedSessionObject,
    SetDefaultPaymentMethodRequest, CUSTOMERS_PATH, PAYMENT_METHODS_PATH, SETUP_SESSIONS_PATH,
    SUBSCRIPTIONS_PATH,
};
use std::sync::Arc;

pub(crate) async fn change_subscription(
    State(provider): State<Arc<SandboxProvider>>,
    Path(subscription_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}/change");
    let sandbox = Arc::clone(&provider);
    provider
        .api_call(
            &headers,
            &path,
            &body,
            async |state, config, request: ChangeSubscriptionRequest| {
                let spec = plan_change::parse_change(&config.catalog, &request)
                    .map_err(ApiFailure::refused)?;
                // Refuse before waiting for a fresh second.
                plan_change::preview(state, &subscription_id, &spec, unix_now())
                    .map_err(ApiFailure::refused)?;
                let at = subscription_action_time(state, &subscription_id).await;
                let events = plan_change::change(state, &subscription_id, &spec, at)
                    .map_err(ApiFailure::refused)?;
                tracing::info!(%subscription_id, price_id = %spec.target.price_id, quantity = spec.target.quantity, "sandbox subscription changed");
                sandbox.send(events);
                subscription_answer(state, &subscription_id)
            },
        )
        .await
}

pub(crate) async fn preview_change(
    State(provider): State<Arc<SandboxProvider>>,
    Path(subscription_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}/preview");
    provider
        .api_call(
            &headers,
            &path,
            &body,
            async |state, config, request: ChangeSubscriptionRequest| {
                let spec = plan_change::parse_change(&config.catalog, &request)
                    .map_err(ApiFailure::refused)?;
                plan_change::preview(state, &subscription_id, &spec, unix_now())
                    .map_err(ApiFailure::refused)
            },
        )
        .await
}

pub(crate) async fn resume_subscription(
    State(provider): State<Arc<SandboxProvider>>,
    Path(subscription_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}/resume");
    provider
        .api_call(&headers, &path, &body, async |state, _, _: EmptyRequest| {
            provider
                .portal_action_now(state, &subscription_id, PortalAction::Resume)
                .await?;
            subscription_answer(state, &subscription_id)
        })
        .await
}

pub(crate) async fn advance_subscription(
    State(provider): State<Arc<SandboxProvider>>,
    Path(subscription_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}/advance");
    let sandbox = Arc::clone(&provider);
    provider
        .api_call(&headers, &path, &body, async |state, _, _: EmptyRequest| {
            if !state.subscriptions.contains_key(&subscription_id) {
                return Err(ApiFailure::not_found("no such subscription"));
            }
            let at = subscription_action_time(state, &subscription_id).await;
            let events =
                plan_change::advance(state, &subscription_id, at).map_err(ApiFailure::refused)?;
            tracing::info!(%subscription_id, "sandbox subscription period advanced");
            sandbox.send(events);
            subscription_answer(state, &subscription_id)
        })
        .await
}

/// `GET`: a read, so no body and no idempotency key.
pub(crate) async fn list_payment_methods(
    State(provider): State<Arc<SandboxProvider>>,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(failure) = provider.authenticate(&headers) {
        return failure.into_response();
    }
    let state = provider.lock_state().await;
    match state.customers.get(&customer_id) {
        Some(customer) => Json(cards::list(customer)).into_response(),
        None => ApiFailure::not_found("no such customer").into_response(),
    }
}

pub(crate) async fn set_default_payment_method(
    State(provider): State<Arc<SandboxProvider>>,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{CUSTOMERS_PATH}/{customer_id}/default_payment_method");
    provider
        .api_call(
            &headers,
            &path,
            &body,
            async |state, _, request: SetDefaultPaymentMethodRequest| {
                if !state.customers.contains_key(&customer_id) {
                    return Err(ApiFailure::not_found("no such customer"));
                }
                let list = cards::set_default(state, &customer_id, &request.payment_method_id)
                    .map_err(ApiFailure::refused)?;
                tracing::info!(%customer_id, "sandbox default payment method set");
                Ok(list)
            },
        )
        .await
}

pub(crate) async fn detach_payment_method(
    State(provider): State<Arc<SandboxProvider>>,
    Path(payment_method_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{PAYMENT_METHODS_PATH}/{payment_method_id}/detach");
    provider
        .api_call(&headers, &path, &body, async |state, _, _: EmptyRequest| {
            let card = cards::detach(state, &payment_method_id).map_err(ApiFailure::refused)?;
            tracing::info!(customer_id = %card.customer_id, "sandbox payment method detached");
            Ok(card)
        })
        .await
}

pub(crate) async fn create_setup_session(
    State(provider): State<Arc<SandboxProvider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider
        .api_call(
            &headers,
            SETUP_SESSIONS_PATH,
            &body,
            async |state, config, request: CreateSetupSessionRequest| {
                check_hosted_session(state, &request.customer_id, &request.return_url)?;
                let session = SetupSessionRecord {
                    id: new_id("seti"),
                    customer_id: request.customer_id,
                    return_url: request.return_url,
                    created: unix_now(),
                    saved: None,
                };
                let answer = HostedSessionObject {
                    url: hosted_url(config, "setup", &session.id),
                    id: session.id.clone(),
                };
                tracing::info!(setup_session_id = %session.id, customer_id = %session.customer_id, "sandbox setup session created");
                state.setup_sessions.insert(session.id.clone(), session);
                Ok(answer)
            },
        )
        .await
}
