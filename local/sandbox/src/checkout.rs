//! The hosted checkout page: `GET /sandbox/checkout/{session_id}` shows the
//! plan and price with three outcomes to choose from, and `POST` records
//! the choice, queues the webhooks a real provider would send, and returns
//! the browser to the session's `success_url` with `session_id` added.
//!
//! Element ids and `data-testid`s (`pay`, `decline`, `pay-fail-renewal`,
//! `cancel`) let a browser test click through without reading text.

use crate::html::{escape, format_money, message, page, safe_href};
use crate::simulation::{self, ActionError};
use crate::state::{CheckoutSessionRecord, Outcome};
use crate::{next_event_time, SandboxProvider};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use billing_domain::{Catalog, Interval, Provider};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(crate) struct OutcomeForm {
    outcome: String,
}

pub(crate) async fn show(
    State(provider): State<Arc<SandboxProvider>>,
    Path(session_id): Path<String>,
) -> Response {
    let state = provider.lock_state().await;
    match state.checkout_sessions.get(&session_id) {
        None => not_found(),
        Some(session) => match &session.completion {
            Some(completion) => already_completed(session, completion.outcome),
            None => checkout_page(session, &provider.config().catalog),
        },
    }
}

pub(crate) async fn submit(
    State(provider): State<Arc<SandboxProvider>>,
    Path(session_id): Path<String>,
    form: Result<Form<OutcomeForm>, FormRejection>,
) -> Response {
    let Some(outcome) = form.ok().and_then(|Form(f)| Outcome::parse(&f.outcome)) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Unknown outcome",
            "Choose pay, decline or pay_fail_renewal.",
            None,
        );
    };

    let mut state = provider.lock_state().await;
    let Some(session) = state.checkout_sessions.get(&session_id).cloned() else {
        return not_found();
    };
    if let Some(completion) = &session.completion {
        let mut response = already_completed(&session, completion.outcome);
        *response.status_mut() = StatusCode::CONFLICT;
        return response;
    }
    let Some(redirect) = return_location(&session.success_url, &session.id) else {
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Broken return URL",
            "This session's success URL cannot be parsed, so the checkout was not recorded.",
            None,
        );
    };
    let last_event_at = state
        .customers
        .get(&session.customer_id)
        .and_then(|c| c.last_event_at);
    // Holding the lock across this (at most one second) wait keeps every
    // customer's actions in strictly increasing seconds.
    let at = next_event_time(last_event_at).await;
    let events = match simulation::complete_checkout(&mut state, &session_id, outcome, at) {
        Ok(events) => events,
        Err(ActionError::UnknownSession) => return not_found(),
        Err(error) => {
            return message(
                StatusCode::CONFLICT,
                "Checkout not possible",
                &error.to_string(),
                None,
            )
        }
    };
    let subscription_id = state
        .checkout_sessions
        .get(&session_id)
        .and_then(|s| s.completion.as_ref())
        .map(|c| c.subscription_id.clone());
    tracing::info!(session_id = %session.id, outcome = outcome.describe(), "sandbox checkout submitted");
    provider.send(events);
    provider.persist(&state);
    drop(state);

    if outcome == Outcome::PayFailRenewal {
        if let Some(subscription_id) = subscription_id {
            provider.schedule_failed_renewal(subscription_id);
        }
    }
    see_other(&redirect)
}

impl SandboxProvider {
    /// After `renewal_delay`, the subscription's first renewal fails (see
    /// `simulation::fail_first_renewal`). Counts as pending work meanwhile.
    fn schedule_failed_renewal(self: &Arc<Self>, subscription_id: String) {
        let pending = self.pending.begin();
        let provider = Arc::clone(self);
        tokio::spawn(async move {
            let _pending = pending;
            tokio::time::sleep(provider.config().renewal_delay).await;
            let mut state = provider.lock_state().await;
            let Some(customer_id) = state
                .subscriptions
                .get(&subscription_id)
                .map(|s| s.customer_id.clone())
            else {
                return;
            };
            let last_event_at = state
                .customers
                .get(&customer_id)
                .and_then(|c| c.last_event_at);
            let at = next_event_time(last_event_at).await;
            match simulation::fail_first_renewal(&mut state, &subscription_id, at) {
                Some(events) => {
                    tracing::info!(%subscription_id, "sandbox renewal failed (simulated)");
                    provider.send(events);
                    provider.persist(&state);
                }
                None => {
                    tracing::info!(%subscription_id, "sandbox subscription no longer active; renewal not simulated");
                }
            }
        });
    }
}

/// `success_url` with `session_id=<id>` added to its query.
fn return_location(success_url: &str, session_id: &str) -> Option<String> {
    let mut url = url::Url::parse(success_url).ok()?;
    url.query_pairs_mut().append_pair("session_id", session_id);
    Some(url.into())
}

pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Broken return URL",
            "The return URL cannot be sent as a redirect.",
            None,
        ),
    }
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Checkout not found",
        "There is no sandbox checkout session with this id. It may belong to a sandbox that was restarted without a state file.",
        None,
    )
}

fn already_completed(session: &CheckoutSessionRecord, outcome: Outcome) -> Response {
    let location = return_location(&session.success_url, &session.id);
    message(
        StatusCode::OK,
        "Checkout already complete",
        &format!(
            "This checkout was completed before ({}). Nothing was charged or sent again.",
            outcome.describe()
        ),
        location
            .as_deref()
            .map(|l| (l, "Return to the application")),
    )
}

pub(crate) fn interval_label(interval: Interval) -> &'static str {
    match interval {
        Interval::Month => "month",
        Interval::Year => "year",
    }
}

fn checkout_page(session: &CheckoutSessionRecord, catalog: &Catalog) -> Response {
    let plan_name = catalog
        .plan_for_price(Provider::Sandbox, &session.price_id)
        .map(|plan| plan.display_name.clone())
        .unwrap_or_else(|| session.plan_code.clone());
    let price = format!(
        "{} / {}",
        format_money(session.amount_minor, &session.currency),
        interval_label(session.interval)
    );
    let action = format!("/sandbox/checkout/{}", session.id);
    let body = format!(
        "<h1>Subscribe to <span data-testid=\"plan-name\">{plan}</span></h1>\
         <p class=\"price\" data-testid=\"price\">{price}</p>\
         <p class=\"muted\">Tenant <code>{tenant}</code> · session <code>{session_id}</code></p>\
         <form method=\"post\" action=\"{action}\"><div class=\"actions\">\
         <button class=\"primary\" type=\"submit\" name=\"outcome\" value=\"pay\" id=\"pay\" data-testid=\"pay\">Pay {price}</button>\
         <button class=\"warn\" type=\"submit\" name=\"outcome\" value=\"decline\" id=\"decline\" data-testid=\"decline\">Decline the card</button>\
         <button class=\"neutral\" type=\"submit\" name=\"outcome\" value=\"pay_fail_renewal\" id=\"pay-fail-renewal\" data-testid=\"pay-fail-renewal\">Pay now, fail the first renewal</button>\
         </div></form>\
         <p><a href=\"{cancel}\" id=\"cancel\" data-testid=\"cancel\">Cancel and return</a></p>",
        plan = escape(&plan_name),
        price = escape(&price),
        tenant = escape(&session.tenant_id),
        session_id = escape(&session.id),
        action = escape(&action),
        cancel = safe_href(&session.cancel_url),
    );
    page(StatusCode::OK, &format!("Checkout: {plan_name}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_is_appended_to_the_existing_query() {
        assert_eq!(
            return_location("http://localhost:5173/billing?success=1", "cs_1").as_deref(),
            Some("http://localhost:5173/billing?success=1&session_id=cs_1")
        );
        assert_eq!(
            return_location("https://app.example.com/done#top", "cs_1").as_deref(),
            Some("https://app.example.com/done?session_id=cs_1#top")
        );
        assert_eq!(return_location("not a url", "cs_1"), None);
    }
}
