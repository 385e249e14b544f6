//! Plan and seat changes at the sandbox, their preview, and the end of a
//! period (the test clock's "advance"): what each does to a subscription
//! and the events a real provider would send.
//!
//! - A change `now` is prorated (`proration.rs`): the subscription takes
//!   the new price and quantity at once (`subscription.updated`), and a
//!   positive amount due is charged at once (`invoice.paid`).
//! - A change at `period_end` is kept as the subscription's
//!   `scheduled_change` (`subscription.updated`, still on the old price).
//! - Advancing a subscription ends its period now: one set to cancel ends
//!   (`subscription.canceled`); otherwise a scheduled change is applied,
//!   the next period starts where the last one ended, and its invoice is
//!   paid (`subscription.updated`, `invoice.paid`).

use crate::proration::{prorate, Proration, Side};
use crate::simulation::{
    invoice_for, period_seconds, stamp, subscription_event, ActionError, Event,
};
use crate::state::{SandboxState, ScheduledChange, SubscriptionRecord};
use billing_domain::{Catalog, Provider};
use billing_providers::sandbox::wire::{
    ChangeSubscriptionRequest, PreviewLineObject, PreviewObject, SandboxEventType, SandboxStatus,
};

/// When a change takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timing {
    Now,
    PeriodEnd,
}

/// A change request checked against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeSpec {
    pub target: ScheduledChange,
    pub currency: String,
    pub timing: Timing,
    pub proration_date: Option<i64>,
}

pub(crate) fn parse_change(
    catalog: &Catalog,
    request: &ChangeSubscriptionRequest,
) -> Result<ChangeSpec, ActionError> {
    let plan = catalog
        .plan_for_price(Provider::Sandbox, &request.price_id)
        .ok_or(ActionError::UnknownPrice)?;
    if request.quantity == 0 {
        return Err(ActionError::InvalidChange("quantity must be at least 1"));
    }
    let timing = match request.timing.as_str() {
        "now" => Timing::Now,
        "period_end" => Timing::PeriodEnd,
        _ => {
            return Err(ActionError::InvalidChange(
                "timing must be now or period_end",
            ))
        }
    };
    if timing == Timing::PeriodEnd && request.proration_date.is_some() {
        return Err(ActionError::InvalidChange(
            "proration_date applies only to a change now",
        ));
    }
    Ok(ChangeSpec {
        target: ScheduledChange {
            plan_code: plan.code.to_string(),
            price_id: request.price_id.clone(),
            amount_minor: plan.price.amount_minor,
            interval: plan.interval,
            quantity: request.quantity,
        },
        currency: plan.price.currency.clone(),
        timing,
        proration_date: request.proration_date,
    })
}

/// The subscription, if a change may be made to it: active, same currency,
/// and actually different.
fn changeable<'a>(
    state: &'a SandboxState,
    subscription_id: &str,
    spec: &ChangeSpec,
) -> Result<&'a SubscriptionRecord, ActionError> {
    let subscription = state
        .subscriptions
        .get(subscription_id)
        .ok_or(ActionError::UnknownSubscription)?;
    if subscription.status != SandboxStatus::Active {
        return Err(ActionError::NotLive);
    }
    if subscription.currency != spec.currency {
        return Err(ActionError::InvalidChange(
            "the new price is in another currency",
        ));
    }
    if subscription.price_id == spec.target.price_id
        && subscription.quantity == spec.target.quantity
    {
        return Err(ActionError::InvalidChange("nothing would change"));
    }
    Ok(subscription)
}

fn label(plan_code: &str, quantity: u32) -> String {
    format!("{plan_code} × {quantity}")
}

fn proration(subscription: &SubscriptionRecord, spec: &ChangeSpec, at: i64) -> Proration {
    let old = label(&subscription.plan_code, subscription.quantity);
    let new = label(&spec.target.plan_code, spec.target.quantity);
    let new_period = (spec.target.interval != subscription.interval)
        .then(|| period_seconds(spec.target.interval));
    prorate(
        Side {
            label: &old,
            total: subscription
                .amount_minor
                .saturating_mul(subscription.quantity.into()),
        },
        Side {
            label: &new,
            total: spec
                .target
                .amount_minor
                .saturating_mul(spec.target.quantity.into()),
        },
        (
            subscription.current_period_start,
            subscription.current_period_end,
        ),
        spec.proration_date.unwrap_or(at),
        new_period,
    )
}

/// What the change would charge, changing nothing.
pub(crate) fn preview(
    state: &SandboxState,
    subscription_id: &str,
    spec: &ChangeSpec,
    at: i64,
) -> Result<PreviewObject, ActionError> {
    let subscription = changeable(state, subscription_id, spec)?;
    let new_total = spec
        .target
        .amount_minor
        .saturating_mul(spec.target.quantity.into());
    Ok(match spec.timing {
        Timing::Now => {
            let p = proration(subscription, spec, at);
            PreviewObject {
                currency: subscription.currency.clone(),
                amount_due_now: p.due_now,
                proration_date: spec.proration_date.unwrap_or(at),
                lines: p
                    .lines
                    .into_iter()
                    .map(|line| PreviewLineObject {
                        description: line.description,
                        amount: line.amount,
                        proration: line.proration,
                        period_start: line.period_start,
                        period_end: line.period_end,
                    })
                    .collect(),
                next_invoice_amount: p.next_invoice,
                next_invoice_date: p.period.1,
            }
        }
        Timing::PeriodEnd => PreviewObject {
            currency: subscription.currency.clone(),
            amount_due_now: 0,
            proration_date: at,
            lines: Vec::new(),
            next_invoice_amount: new_total,
            next_invoice_date: subscription.current_period_end,
        },
    })
}

/// Makes the change at `at`.
pub(crate) fn change(
    state: &mut SandboxState,
    subscription_id: &str,
    spec: &ChangeSpec,
    at: i64,
) -> Result<Vec<Event>, ActionError> {
    let charge = match spec.timing {
        Timing::Now => Some(proration(
            changeable(state, subscription_id, spec)?,
            spec,
            at,
        )),
        Timing::PeriodEnd => {
            changeable(state, subscription_id, spec)?;
            None
        }
    };
    let subscription = state
        .subscriptions
        .get_mut(subscription_id)
        .ok_or(ActionError::UnknownSubscription)?;
    let mut events = Vec::with_capacity(2);
    match charge {
        Some(p) => {
            apply(subscription, &spec.target);
            (
                subscription.current_period_start,
                subscription.current_period_end,
            ) = p.period;
            subscription.scheduled_change = None;
            events.push(subscription_event(
                SandboxEventType::SubscriptionUpdated,
                subscription,
                at,
            ));
            if p.due_now > 0 {
                let card = crate::cards::default_card(&state.customers, &subscription.customer_id);
                events.push(invoice_for(subscription, card, p.due_now, true, at, at));
            }
        }
        None => {
            subscription.scheduled_change = Some(spec.target.clone());
            events.push(subscription_event(
                SandboxEventType::SubscriptionUpdated,
                subscription,
                at,
            ));
        }
    }
    let customer_id = subscription.customer_id.clone();
    stamp(state.customers.get_mut(&customer_id), at);
    Ok(events)
}

fn apply(subscription: &mut SubscriptionRecord, target: &ScheduledChange) {
    subscription.plan_code = target.plan_code.clone();
    subscription.price_id = target.price_id.clone();
    subscription.amount_minor = target.amount_minor;
    subscription.interval = target.interval;
    subscription.quantity = target.quantity;
}

/// Ends the subscription's current period at `at` (a test clock): it ends
/// if set to cancel, else renews (with any scheduled change) and is paid.
pub(crate) fn advance(
    state: &mut SandboxState,
    subscription_id: &str,
    at: i64,
) -> Result<Vec<Event>, ActionError> {
    let subscription = state
        .subscriptions
        .get_mut(subscription_id)
        .ok_or(ActionError::UnknownSubscription)?;
    if !subscription.is_live() {
        return Err(ActionError::NotLive);
    }
    let events = if subscription.cancel_at_period_end {
        subscription.status = SandboxStatus::Canceled;
        subscription.canceled_at = Some(at);
        vec![subscription_event(
            SandboxEventType::SubscriptionCanceled,
            subscription,
            at,
        )]
    } else {
        if let Some(target) = subscription.scheduled_change.take() {
            apply(subscription, &target);
        }
        let start = subscription.current_period_end;
        subscription.current_period_start = start;
        subscription.current_period_end =
            start.saturating_add(period_seconds(subscription.interval));
        subscription.status = SandboxStatus::Active;
        let total = subscription
            .amount_minor
            .saturating_mul(subscription.quantity.into());
        vec![
            subscription_event(SandboxEventType::SubscriptionUpdated, subscription, at),
            invoice_for(
                subscription,
                crate::cards::default_card(&state.customers, &subscription.customer_id),
                total,
                true,
                start,
                at,
            ),
        ]
    };
    let customer_id = subscription.customer_id.clone();
    stamp(state.customers.get_mut(&customer_id), at);
    Ok(events)
}
