//! What the sandbox does when the customer acts, and the webhook events a
//! real provider would send for it: pay, decline, pay then fail the first
//! renewal (checkout page); cancel at period end, resume, cancel now
//! (portal; the API's cancel call does the same as the portal's cancel and
//! cancel-now buttons).
//!
//! Periods are simulated with fixed lengths: a month is 30 days, a year 365
//! days. A simulated renewal happens `renewal_delay` after payment, not at
//! the period's end: the first period is cut short and the renewal starts a
//! new full period at the moment it fails.
//!
//! Every function here takes the action's time `at` (see
//! `next_event_time`), changes the records, stamps the customer's latest
//! event time, and returns the events in the order they must be delivered.

use crate::new_id;
use crate::state::{
    CheckoutSessionRecord, Completion, CustomerRecord, Outcome, SandboxState, SubscriptionRecord,
};
use billing_domain::Interval;
use billing_providers::sandbox::wire::{
    CheckoutSessionObject, InvoiceCard, InvoiceObject, PaymentMethodObject, SandboxEvent,
    SandboxEventType, SandboxStatus, ScheduledChangeObject, SubscriptionObject,
};
use serde::Serialize;

/// The simulated length of a monthly period.
pub const MONTH_SECONDS: i64 = 30 * 86_400;
/// The simulated length of a yearly period.
pub const YEAR_SECONDS: i64 = 365 * 86_400;

pub(crate) fn period_seconds(interval: Interval) -> i64 {
    match interval {
        Interval::Month => MONTH_SECONDS,
        Interval::Year => YEAR_SECONDS,
    }
}

/// The object an event carries; serialized as the object itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum EventData {
    Checkout(CheckoutSessionObject),
    Subscription(SubscriptionObject),
    Invoice(InvoiceObject),
    PaymentMethod(PaymentMethodObject),
}

pub(crate) type Event = SandboxEvent<EventData>;

/// Why an action could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ActionError {
    #[error("no such checkout session")]
    UnknownSession,
    #[error("this checkout is already complete")]
    AlreadyCompleted,
    #[error("the session's customer no longer exists")]
    UnknownCustomer,
    #[error("no such subscription for this customer")]
    UnknownSubscription,
    #[error("the customer has several subscriptions; say which one")]
    AmbiguousSubscription,
    #[error("this subscription has ended or never started; it cannot be changed")]
    NotLive,
    #[error("no such price in the sandbox catalog")]
    UnknownPrice,
    #[error("{0}")]
    InvalidChange(&'static str),
    #[error("no such payment method")]
    UnknownPaymentMethod,
}

/// The checkout page was submitted with `outcome` at `at`.
pub(crate) fn complete_checkout(
    state: &mut SandboxState,
    session_id: &str,
    outcome: Outcome,
    at: i64,
) -> Result<Vec<Event>, ActionError> {
    let session = state
        .checkout_sessions
        .get(session_id)
        .ok_or(ActionError::UnknownSession)?;
    if session.completion.is_some() {
        return Err(ActionError::AlreadyCompleted);
    }
    if !state.customers.contains_key(&session.customer_id) {
        return Err(ActionError::UnknownCustomer);
    }
    let session = session.clone();
    let paid = outcome != Outcome::Decline;
    let subscription = SubscriptionRecord {
        id: new_id("sub"),
        customer_id: session.customer_id.clone(),
        tenant_id: session.tenant_id.clone(),
        status: if paid {
            SandboxStatus::Active
        } else {
            SandboxStatus::Incomplete
        },
        plan_code: session.plan_code.clone(),
        price_id: session.price_id.clone(),
        amount_minor: session.amount_minor,
        currency: session.currency.clone(),
        interval: session.interval,
        // A declined first payment still opens the period, as real
        // providers do for an incomplete subscription.
        current_period_start: at,
        current_period_end: at.saturating_add(period_seconds(session.interval)),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        quantity: 1,
        created: at,
        scheduled_change: None,
    };

    let mut events = Vec::with_capacity(3);
    if paid {
        // Only a checkout that took a payment completes; a declined card
        // leaves the customer on the page at a real provider.
        events.push(checkout_completed(&session, &subscription.id, at));
    }
    events.push(subscription_event(
        SandboxEventType::SubscriptionCreated,
        &subscription,
        at,
    ));
    if let Some(customer) = state.customers.get_mut(&session.customer_id) {
        if paid {
            // The card just charged stays on file, as at a real provider.
            crate::cards::save_checkout_card(customer);
        }
    }
    let card = crate::cards::default_card(&state.customers, &session.customer_id);
    events.push(invoice_event(&subscription, card, at, paid));

    if let Some(stored) = state.checkout_sessions.get_mut(session_id) {
        stored.completion = Some(Completion {
            outcome,
            subscription_id: subscription.id.clone(),
            at,
        });
    }
    stamp(state.customers.get_mut(&session.customer_id), at);
    state
        .subscriptions
        .insert(subscription.id.clone(), subscription);
    Ok(events)
}

/// The first renewal of `subscription_id` fails at `at`: a new period
/// starts, its invoice is not paid, and the subscription goes past due. A
/// subscription set to cancel at period end ends instead; one that is no
/// longer active is left alone (`None`).
pub(crate) fn fail_first_renewal(
    state: &mut SandboxState,
    subscription_id: &str,
    at: i64,
) -> Option<Vec<Event>> {
    let subscription = state.subscriptions.get_mut(subscription_id)?;
    if subscription.status != SandboxStatus::Active {
        return None;
    }
    let card = crate::cards::default_card(&state.customers, &subscription.customer_id);
    let events = if subscription.cancel_at_period_end {
        subscription.status = SandboxStatus::Canceled;
        subscription.canceled_at = Some(at);
        vec![subscription_event(
            SandboxEventType::SubscriptionCanceled,
            subscription,
            at,
        )]
    } else {
        subscription.status = SandboxStatus::PastDue;
        subscription.current_period_start = at;
        subscription.current_period_end = at.saturating_add(period_seconds(subscription.interval));
        vec![
            invoice_event(subscription, card, at, false),
            subscription_event(SandboxEventType::SubscriptionUpdated, subscription, at),
        ]
    };
    let customer_id = subscription.customer_id.clone();
    stamp(state.customers.get_mut(&customer_id), at);
    Some(events)
}

/// A portal button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortalAction {
    /// Cancel at the end of the current period.
    Cancel,
    /// Undo a pending cancellation.
    Resume,
    /// End the subscription at once.
    CancelNow,
}

impl PortalAction {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "cancel" => Some(PortalAction::Cancel),
            "resume" => Some(PortalAction::Resume),
            "cancel_now" => Some(PortalAction::CancelNow),
            _ => None,
        }
    }
}

/// The subscription a portal action is about: the named one (which must be
/// the customer's), or the customer's only live one.
pub(crate) fn portal_target(
    state: &SandboxState,
    customer_id: &str,
    subscription_id: Option<&str>,
) -> Result<String, ActionError> {
    match subscription_id.filter(|id| !id.is_empty()) {
        Some(id) => state
            .subscriptions
            .get(id)
            .filter(|s| s.customer_id == customer_id)
            .map(|s| s.id.clone())
            .ok_or(ActionError::UnknownSubscription),
        None => {
            let mut live = state
                .subscriptions
                .values()
                .filter(|s| s.customer_id == customer_id && s.is_live());
            match (live.next(), live.next()) {
                (Some(only), None) => Ok(only.id.clone()),
                (None, _) => Err(ActionError::UnknownSubscription),
                (Some(_), Some(_)) => Err(ActionError::AmbiguousSubscription),
            }
        }
    }
}

/// Whether `action` would change `subscription_id`; a repeated click (cancel
/// when already canceling, resume when not) changes nothing and sends
/// nothing.
pub(crate) fn portal_action_changes(
    state: &SandboxState,
    subscription_id: &str,
    action: PortalAction,
) -> Result<bool, ActionError> {
    let subscription = state
        .subscriptions
        .get(subscription_id)
        .ok_or(ActionError::UnknownSubscription)?;
    if !subscription.is_live() {
        return Err(ActionError::NotLive);
    }
    Ok(match action {
        PortalAction::Cancel => !subscription.cancel_at_period_end,
        PortalAction::Resume => subscription.cancel_at_period_end,
        PortalAction::CancelNow => true,
    })
}

/// Carries out a portal action at `at` (check it with
/// [`portal_action_changes`] first).
pub(crate) fn apply_portal_action(
    state: &mut SandboxState,
    subscription_id: &str,
    action: PortalAction,
    at: i64,
) -> Result<Vec<Event>, ActionError> {
    if !portal_action_changes(state, subscription_id, action)? {
        return Ok(Vec::new());
    }
    let subscription = state
        .subscriptions
        .get_mut(subscription_id)
        .ok_or(ActionError::UnknownSubscription)?;
    let event_type = match action {
        PortalAction::Cancel => {
            subscription.cancel_at_period_end = true;
            subscription.cancel_at = Some(subscription.current_period_end);
            // A cancellation drops a change waiting for the period's end.
            subscription.scheduled_change = None;
            SandboxEventType::SubscriptionUpdated
        }
        PortalAction::Resume => {
            subscription.cancel_at_period_end = false;
            subscription.cancel_at = None;
            SandboxEventType::SubscriptionUpdated
        }
        PortalAction::CancelNow => {
            subscription.status = SandboxStatus::Canceled;
            subscription.canceled_at = Some(at);
            subscription.scheduled_change = None;
            SandboxEventType::SubscriptionCanceled
        }
    };
    let event = subscription_event(event_type, subscription, at);
    let customer_id = subscription.customer_id.clone();
    stamp(state.customers.get_mut(&customer_id), at);
    Ok(vec![event])
}

pub(crate) fn stamp(customer: Option<&mut CustomerRecord>, at: i64) {
    if let Some(customer) = customer {
        customer.last_event_at = Some(customer.last_event_at.map_or(at, |last| last.max(at)));
    }
}

fn checkout_completed(session: &CheckoutSessionRecord, subscription_id: &str, at: i64) -> Event {
    SandboxEvent::new(
        new_id("evt"),
        SandboxEventType::CheckoutCompleted,
        at,
        EventData::Checkout(CheckoutSessionObject {
            id: session.id.clone(),
            customer_id: session.customer_id.clone(),
            subscription_id: subscription_id.to_owned(),
            tenant_id: session.tenant_id.clone(),
            plan_code: session.plan_code.clone(),
        }),
    )
}

pub(crate) fn subscription_event(
    event_type: SandboxEventType,
    subscription: &SubscriptionRecord,
    at: i64,
) -> Event {
    SandboxEvent::new(
        new_id("evt"),
        event_type,
        at,
        EventData::Subscription(subscription_object(subscription)),
    )
}

/// The subscription as the wire shows it: in `subscription.*` events and in
/// the API's answers.
pub(crate) fn subscription_object(subscription: &SubscriptionRecord) -> SubscriptionObject {
    SubscriptionObject {
        id: subscription.id.clone(),
        customer_id: subscription.customer_id.clone(),
        tenant_id: subscription.tenant_id.clone(),
        status: subscription.status.as_str().to_owned(),
        price_id: subscription.price_id.clone(),
        current_period_start: Some(subscription.current_period_start),
        current_period_end: Some(subscription.current_period_end),
        cancel_at_period_end: subscription.cancel_at_period_end,
        cancel_at: subscription.cancel_at,
        canceled_at: subscription.canceled_at,
        quantity: subscription.quantity,
        scheduled_change: subscription.scheduled_change.as_ref().map(|change| {
            ScheduledChangeObject {
                price_id: change.price_id.clone(),
                quantity: change.quantity,
                effective_at: subscription.current_period_end,
            }
        }),
    }
}

/// The invoice for the period starting at `at`, charged once.
fn invoice_event(
    subscription: &SubscriptionRecord,
    card: Option<InvoiceCard>,
    at: i64,
    paid: bool,
) -> Event {
    let total = subscription
        .amount_minor
        .saturating_mul(subscription.quantity.into());
    invoice_for(subscription, card, total, paid, at, at)
}

/// An invoice of `amount` charged to `card`, sent at `at`: `created` is the
/// start of the period a renewal bills, or `at` for a proration.
pub(crate) fn invoice_for(
    subscription: &SubscriptionRecord,
    card: Option<InvoiceCard>,
    amount: i64,
    paid: bool,
    created: i64,
    at: i64,
) -> Event {
    let event_type = if paid {
        SandboxEventType::InvoicePaid
    } else {
        SandboxEventType::InvoicePaymentFailed
    };
    SandboxEvent::new(
        new_id("evt"),
        event_type,
        at,
        EventData::Invoice(InvoiceObject {
            id: new_id("in"),
            customer_id: subscription.customer_id.clone(),
            subscription_id: subscription.id.clone(),
            tenant_id: subscription.tenant_id.clone(),
            created,
            amount_due: amount,
            amount_paid: if paid { amount } else { 0 },
            currency: subscription.currency.clone(),
            attempt_count: 1,
            plan_code: Some(subscription.plan_code.clone()),
            quantity: Some(subscription.quantity),
            // A renewal bills the period it opens; a proration the rest of it.
            period_start: Some(created.max(subscription.current_period_start)),
            period_end: Some(subscription.current_period_end),
            proration: created != subscription.current_period_start,
            card,
            failure_code: (!paid).then(|| "card_declined".to_owned()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CustomerRecord;

    const AT: i64 = 1_750_000_000;

    fn state_with_session(interval: Interval) -> SandboxState {
        let mut state = SandboxState::default();
        state.customers.insert(
            "cus_1".into(),
            CustomerRecord {
                id: "cus_1".into(),
                tenant_id: "org_1".into(),
                created: AT - 10,
                last_event_at: None,
                payment_methods: Vec::new(),
                default_payment_method: None,
            },
        );
        state.checkout_sessions.insert(
            "cs_1".into(),
            CheckoutSessionRecord {
                id: "cs_1".into(),
                customer_id: "cus_1".into(),
                tenant_id: "org_1".into(),
                plan_code: "pro".into(),
                price_id: "sbx_price_pro_monthly".into(),
                amount_minor: 1900,
                currency: "usd".into(),
                interval,
                success_url: "http://localhost/ok".into(),
                cancel_url: "http://localhost/no".into(),
                created: AT - 5,
                completion: None,
            },
        );
        state
    }

    fn types(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.event_type.as_str()).collect()
    }

    #[test]
    fn pay_sends_checkout_created_and_paid_in_one_second() {
        let mut state = state_with_session(Interval::Month);
        let events = complete_checkout(&mut state, "cs_1", Outcome::Pay, AT).unwrap();
        assert_eq!(
            types(&events),
            ["checkout.completed", "subscription.created", "invoice.paid"]
        );
        assert!(events.iter().all(|e| e.created == AT));
        let EventData::Subscription(sub) = &events[1].data else {
            panic!()
        };
        assert_eq!(sub.status, "active");
        assert_eq!(sub.current_period_end, Some(AT + MONTH_SECONDS));
        assert_eq!(state.customers["cus_1"].last_event_at, Some(AT));
    }

    #[test]
    fn yearly_plan_period_is_365_days() {
        let mut state = state_with_session(Interval::Year);
        let events = complete_checkout(&mut state, "cs_1", Outcome::Pay, AT).unwrap();
        let EventData::Subscription(sub) = &events[1].data else {
            panic!()
        };
        assert_eq!(sub.current_period_end, Some(AT + 365 * 86_400));
    }

    #[test]
    fn decline_creates_an_incomplete_subscription_without_completing_the_checkout() {
        let mut state = state_with_session(Interval::Month);
        let events = complete_checkout(&mut state, "cs_1", Outcome::Decline, AT).unwrap();
        assert_eq!(
            types(&events),
            ["subscription.created", "invoice.payment_failed"]
        );
        let EventData::Invoice(invoice) = &events[1].data else {
            panic!()
        };
        assert_eq!((invoice.amount_due, invoice.amount_paid), (1900, 0));
    }

    #[test]
    fn a_session_completes_only_once() {
        let mut state = state_with_session(Interval::Month);
        complete_checkout(&mut state, "cs_1", Outcome::Pay, AT).unwrap();
        assert_eq!(
            complete_checkout(&mut state, "cs_1", Outcome::Pay, AT + 1),
            Err(ActionError::AlreadyCompleted)
        );
        assert_eq!(state.subscriptions.len(), 1);
    }

    #[test]
    fn failed_renewal_opens_a_new_period_and_goes_past_due() {
        let mut state = state_with_session(Interval::Month);
        let events = complete_checkout(&mut state, "cs_1", Outcome::PayFailRenewal, AT).unwrap();
        let EventData::Subscription(sub) = &events[1].data else {
            panic!()
        };
        let renewal = AT + 3;
        let events = fail_first_renewal(&mut state, &sub.id, renewal).unwrap();
        assert_eq!(
            types(&events),
            ["invoice.payment_failed", "subscription.updated"]
        );
        let EventData::Invoice(invoice) = &events[0].data else {
            panic!()
        };
        assert_eq!((invoice.created, invoice.attempt_count), (renewal, 1));
        let EventData::Subscription(updated) = &events[1].data else {
            panic!()
        };
        assert_eq!(updated.status, "past_due");
        assert_eq!(updated.current_period_start, Some(renewal));
        assert_eq!(updated.current_period_end, Some(renewal + MONTH_SECONDS));
        // A second renewal failure is not simulated.
        assert_eq!(fail_first_renewal(&mut state, &sub.id, renewal + 1), None);
    }

    #[test]
    fn renewal_of_a_subscription_set_to_cancel_ends_it() {
        let mut state = state_with_session(Interval::Month);
        complete_checkout(&mut state, "cs_1", Outcome::PayFailRenewal, AT).unwrap();
        let id = portal_target(&state, "cus_1", None).unwrap();
        apply_portal_action(&mut state, &id, PortalAction::Cancel, AT + 1).unwrap();
        let events = fail_first_renewal(&mut state, &id, AT + 2).unwrap();
        assert_eq!(types(&events), ["subscription.canceled"]);
    }

    #[test]
    fn portal_cancel_and_resume_toggle_cancel_at_period_end_once_each() {
        let mut state = state_with_session(Interval::Month);
        complete_checkout(&mut state, "cs_1", Outcome::Pay, AT).unwrap();
        let id = portal_target(&state, "cus_1", None).unwrap();

        let events = apply_portal_action(&mut state, &id, PortalAction::Cancel, AT + 1).unwrap();
        let EventData::Subscription(sub) = &events[0].data else {
            panic!()
        };
        assert!(sub.cancel_at_period_end);
        assert_eq!(sub.cancel_at, sub.current_period_end);
        assert_eq!(
            apply_portal_action(&mut state, &id, PortalAction::Cancel, AT + 2).unwrap(),
            Vec::new(),
            "a second click changes nothing"
        );

        let events = apply_portal_action(&mut state, &id, PortalAction::Resume, AT + 2).unwrap();
        let EventData::Subscription(sub) = &events[0].data else {
            panic!()
        };
        assert!(!sub.cancel_at_period_end);
        assert_eq!(sub.cancel_at, None);
        assert_eq!(state.customers["cus_1"].last_event_at, Some(AT + 2));
    }

    #[test]
    fn canceled_or_incomplete_subscriptions_cannot_be_changed() {
        let mut state = state_with_session(Interval::Month);
        let events = complete_checkout(&mut state, "cs_1", Outcome::Decline, AT).unwrap();
        let EventData::Subscription(sub) = &events[0].data else {
            panic!()
        };
        assert_eq!(
            apply_portal_action(&mut state, &sub.id, PortalAction::Cancel, AT + 1),
            Err(ActionError::NotLive)
        );
        assert_eq!(
            portal_target(&state, "cus_1", None),
            Err(ActionError::UnknownSubscription)
        );
        assert_eq!(
            portal_target(&state, "cus_other", Some(&sub.id)),
            Err(ActionError::UnknownSubscription)
        );
    }

    #[test]
    fn events_serialize_with_the_object_itself_as_data() {
        let mut state = state_with_session(Interval::Month);
        let events = complete_checkout(&mut state, "cs_1", Outcome::Pay, AT).unwrap();
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["type"], "checkout.completed");
        assert_eq!(json["data"]["id"], "cs_1");
        assert_eq!(json["data"]["plan_code"], "pro");
    }
}
