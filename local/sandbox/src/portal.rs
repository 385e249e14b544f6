//! The hosted customer portal: `GET /sandbox/portal/{portal_session_id}`
//! lists the customer's subscriptions with "Cancel at period end" /
//! "Resume" (and "Cancel now") buttons, and `POST` (form `action=cancel|
//! resume|cancel_now`, optional `subscription_id`) applies one, queues the
//! `subscription.updated` (or `subscription.canceled`) event and redirects
//! back to the portal page.
//!
//! `data-testid`s: `cancel-at-period-end`, `resume`, `cancel-now`, `return`.

use crate::checkout::{interval_label, see_other};
use crate::html::{escape, format_money, format_time, message, page, safe_href};
use crate::simulation::{self, ActionError, PortalAction};
use crate::state::{PortalSessionRecord, SandboxState, SubscriptionRecord};
use crate::{next_event_time, SandboxProvider};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use billing_domain::{Catalog, Provider};
use billing_providers::sandbox::wire::SandboxStatus;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(crate) struct ActionForm {
    action: String,
    #[serde(default)]
    subscription_id: Option<String>,
}

pub(crate) async fn show(
    State(provider): State<Arc<SandboxProvider>>,
    Path(portal_session_id): Path<String>,
) -> Response {
    let state = provider.lock_state().await;
    match state.portal_sessions.get(&portal_session_id) {
        None => not_found(),
        Some(session) => portal_page(&state, session, &provider.config().catalog),
    }
}

pub(crate) async fn submit(
    State(provider): State<Arc<SandboxProvider>>,
    Path(portal_session_id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let Some((action, subscription_id)) = form.ok().and_then(|Form(f)| {
        PortalAction::parse(&f.action).map(|action| (action, f.subscription_id))
    }) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Unknown action",
            "Choose cancel, resume or cancel_now.",
            None,
        );
    };

    let mut state = provider.lock_state().await;
    let Some(session) = state.portal_sessions.get(&portal_session_id).cloned() else {
        return not_found();
    };
    let portal = format!("/sandbox/portal/{}", session.id);
    let target =
        simulation::portal_target(&state, &session.customer_id, subscription_id.as_deref())
            .and_then(|id| {
                simulation::portal_action_changes(&state, &id, action).map(|changes| (id, changes))
            });
    let (subscription_id, changes) = match target {
        Ok(target) => target,
        Err(error) => return refused(&error, &portal),
    };
    if !changes {
        // A repeated click: nothing to do, nothing to send.
        return see_other(&portal);
    }
    let last_event_at = state
        .customers
        .get(&session.customer_id)
        .and_then(|c| c.last_event_at);
    // See checkout::submit: the wait keeps the customer's actions in
    // strictly increasing seconds.
    let at = next_event_time(last_event_at).await;
    match simulation::apply_portal_action(&mut state, &subscription_id, action, at) {
        Ok(events) => {
            tracing::info!(portal_session_id = %session.id, %subscription_id, ?action, "sandbox portal action");
            provider.send(events);
            provider.persist(&state);
            see_other(&portal)
        }
        Err(error) => refused(&error, &portal),
    }
}

fn refused(error: &ActionError, portal: &str) -> Response {
    let status = match error {
        ActionError::UnknownSubscription => StatusCode::NOT_FOUND,
        ActionError::AmbiguousSubscription => StatusCode::BAD_REQUEST,
        _ => StatusCode::CONFLICT,
    };
    message(
        status,
        "Action not possible",
        &error.to_string(),
        Some((portal, "Back to the portal")),
    )
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Portal session not found",
        "There is no sandbox portal session with this id. It may belong to a sandbox that was restarted without a state file.",
        None,
    )
}

fn portal_page(state: &SandboxState, session: &PortalSessionRecord, catalog: &Catalog) -> Response {
    let mut subscriptions: Vec<&SubscriptionRecord> = state
        .subscriptions
        .values()
        .filter(|s| s.customer_id == session.customer_id)
        .collect();
    subscriptions.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));

    let action = escape(&format!("/sandbox/portal/{}", session.id));
    let list = if subscriptions.is_empty() {
        "<p class=\"muted\" data-testid=\"no-subscriptions\">No subscriptions yet.</p>".to_owned()
    } else {
        subscriptions
            .iter()
            .map(|s| subscription_card(s, catalog, &action))
            .collect::<String>()
    };
    let body = format!(
        "<h1>Manage your subscription</h1>{list}\
         <p><a href=\"{back}\" id=\"return\" data-testid=\"return\">Return to the application</a></p>",
        back = safe_href(&session.return_url),
    );
    page(StatusCode::OK, "Subscription portal", &body)
}

fn subscription_card(s: &SubscriptionRecord, catalog: &Catalog, action: &str) -> String {
    let plan_name = catalog
        .plan_for_price(Provider::Sandbox, &s.price_id)
        .map(|plan| plan.display_name.clone())
        .unwrap_or_else(|| s.plan_code.clone());
    let price = format!(
        "{} / {}",
        format_money(s.amount_minor, &s.currency),
        interval_label(s.interval)
    );
    let period = match (s.status, s.cancel_at_period_end) {
        (SandboxStatus::Canceled, _) => format!(
            "Ended {}",
            format_time(s.canceled_at.unwrap_or(s.current_period_end))
        ),
        (_, true) => format!("Cancels {}", format_time(s.current_period_end)),
        (SandboxStatus::Incomplete, _) => "First payment failed".to_owned(),
        _ => format!("Renews {}", format_time(s.current_period_end)),
    };
    let buttons = if !s.is_live() {
        String::new()
    } else {
        let toggle = if s.cancel_at_period_end {
            "<button class=\"primary\" type=\"submit\" name=\"action\" value=\"resume\" data-testid=\"resume\">Resume</button>"
        } else {
            "<button class=\"neutral\" type=\"submit\" name=\"action\" value=\"cancel\" data-testid=\"cancel-at-period-end\">Cancel at period end</button>"
        };
        format!(
            "<form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"subscription_id\" value=\"{id}\">\
             <div class=\"actions\">{toggle}\
             <button class=\"warn\" type=\"submit\" name=\"action\" value=\"cancel_now\" data-testid=\"cancel-now\">Cancel now</button>\
             </div></form>",
            id = escape(&s.id),
        )
    };
    format!(
        "<section class=\"subscription\" data-testid=\"subscription\" data-subscription-id=\"{id}\">\
         <strong>{plan}</strong> · {price}<br>\
         <span data-testid=\"status\">{status}</span> · <span class=\"muted\">{period}</span>{buttons}</section>",
        id = escape(&s.id),
        plan = escape(&plan_name),
        price = escape(&price),
        status = escape(s.status.as_str()),
        period = escape(&period),
    )
}
