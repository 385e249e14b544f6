//! The hosted add-a-card page: `GET /sandbox/setup/{setup_session_id}`
//! offers the test cards, and `POST` (form `card=visa|mastercard|amex`)
//! saves one for the customer (the default if it is the first), sends
//! `payment_method.attached`, and returns the browser to the session's
//! `return_url`. A page saves one card; "Back" leaves without saving.
//!
//! `data-testid`s: `card-visa`, `card-mastercard`, `card-amex`,
//! `save-card`, `return`.

use crate::cards::{self, TEST_CARDS};
use crate::checkout::see_other;
use crate::html::{escape, message, page, safe_href};
use crate::state::SetupSessionRecord;
use crate::{next_event_time, SandboxProvider};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(crate) struct CardForm {
    card: String,
}

pub(crate) async fn show(
    State(provider): State<Arc<SandboxProvider>>,
    Path(setup_session_id): Path<String>,
) -> Response {
    let state = provider.lock_state().await;
    match state.setup_sessions.get(&setup_session_id) {
        None => not_found(),
        Some(session) if session.saved.is_some() => already_saved(session),
        Some(session) => setup_page(session),
    }
}

pub(crate) async fn submit(
    State(provider): State<Arc<SandboxProvider>>,
    Path(setup_session_id): Path<String>,
    form: Result<Form<CardForm>, FormRejection>,
) -> Response {
    let Some(kind) = form
        .ok()
        .map(|Form(f)| f.card)
        .filter(|kind| TEST_CARDS.iter().any(|(value, _, _)| value == kind))
    else {
        return message(
            StatusCode::BAD_REQUEST,
            "Unknown card",
            "Choose one of the test cards.",
            None,
        );
    };
    let mut state = provider.lock_state().await;
    let Some(session) = state.setup_sessions.get(&setup_session_id).cloned() else {
        return not_found();
    };
    if session.saved.is_some() {
        let mut response = already_saved(&session);
        *response.status_mut() = StatusCode::CONFLICT;
        return response;
    }
    let last_event_at = state
        .customers
        .get(&session.customer_id)
        .and_then(|c| c.last_event_at);
    let at = next_event_time(last_event_at).await;
    let (card_id, events) = match cards::save_card(&mut state, &session.customer_id, &kind, at) {
        Ok(saved) => saved,
        Err(error) => {
            return message(
                StatusCode::CONFLICT,
                "Card not saved",
                &error.to_string(),
                None,
            )
        }
    };
    if let Some(stored) = state.setup_sessions.get_mut(&setup_session_id) {
        stored.saved = Some(card_id);
    }
    tracing::info!(setup_session_id = %session.id, "sandbox card saved");
    provider.send(events);
    provider.persist(&state);
    see_other(&session.return_url)
}

fn setup_page(session: &SetupSessionRecord) -> Response {
    let options = TEST_CARDS
        .iter()
        .enumerate()
        .map(|(i, (value, brand, last4))| {
            format!(
                "<label><input type=\"radio\" name=\"card\" value=\"{value}\" data-testid=\"card-{value}\"{checked}> \
                 {brand} •••• {last4}, expires 12/2034</label><br>",
                value = escape(value),
                brand = escape(brand),
                last4 = escape(last4),
                checked = if i == 0 { " checked" } else { "" },
            )
        })
        .collect::<String>();
    let body = format!(
        "<h1>Add a card</h1><p class=\"muted\">Test cards only: nothing is charged.</p>\
         <form method=\"post\" action=\"{action}\">{options}\
         <div class=\"actions\"><button class=\"primary\" type=\"submit\" data-testid=\"save-card\">Save card</button></div></form>\
         <p><a href=\"{back}\" data-testid=\"return\">Back without saving</a></p>",
        action = escape(&format!("/sandbox/setup/{}", session.id)),
        back = safe_href(&session.return_url),
    );
    page(StatusCode::OK, "Add a card", &body)
}

fn already_saved(session: &SetupSessionRecord) -> Response {
    message(
        StatusCode::OK,
        "Card saved",
        "This page already saved a card.",
        Some((&session.return_url, "Return to the application")),
    )
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No such page",
        "This add-a-card page does not exist.",
        None,
    )
}
