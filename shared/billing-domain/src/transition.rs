//! `apply_event`: the pure transition from a stored subscription record and a
//! normalized event to the next record.
//!
//! Each facet of the record (latest snapshot, latest checkout, latest
//! invoice outcome) keeps only the greatest event under a total order, and
//! the visible fields are a function of the facets. Keeping a maximum is
//! commutative, associative and idempotent, so duplicated, retried and
//! reordered deliveries all converge on the in-order result, and an event
//! that is not newer than its facet changes nothing.

use crate::event::{EventKind, ProviderEvent};
use crate::ids::{TenantId, UnixTime};
use crate::intent::ChangeIntent;
use crate::status::SubscriptionStatus;
use crate::subscription::{Facet, InvoiceOutcome, Subscription};

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The record changed; this is the new record to store.
    Applied(Box<Subscription>),
    /// The record stays as it is.
    Unchanged(Unchanged),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    /// The stored record already reflects a newer (or this very) event.
    Stale,
    /// A known event that carries no subscription state (a payment method
    /// lives at the provider, which stays its source of truth).
    NoStateEffect,
    /// An event type we do not act on.
    UnknownEvent,
}

impl Unchanged {
    pub fn as_str(self) -> &'static str {
        match self {
            Unchanged::Stale => "stale",
            Unchanged::NoStateEffect => "no_state_effect",
            Unchanged::UnknownEvent => "unknown_event",
        }
    }
}

/// Applies `event` to the tenant's `current` record at processing time `now`.
pub fn apply_event(
    current: Option<&Subscription>,
    tenant: &TenantId,
    event: &ProviderEvent,
    now: UnixTime,
) -> Transition {
    let mut next = match current {
        Some(existing) => existing.clone(),
        None => Subscription::new(tenant.clone(), event.provider, now),
    };
    let order = event.order();
    let provider = event.provider;
    let sources = &mut next.sources;

    let changed = match &event.kind {
        EventKind::Unknown => return Transition::Unchanged(Unchanged::UnknownEvent),
        EventKind::PaymentMethodAttached { .. } | EventKind::PaymentReported { .. } => {
            return Transition::Unchanged(Unchanged::NoStateEffect)
        }
        EventKind::CheckoutCompleted(checkout) => keep_newest(
            &mut sources.checkout,
            Facet {
                order,
                provider,
                value: checkout.clone(),
            },
            |f| f.order.clone(),
        ),
        EventKind::SubscriptionSnapshot { snapshot, .. } => keep_newest(
            &mut sources.snapshot,
            Facet {
                order,
                provider,
                value: snapshot.clone(),
            },
            |f| f.order.clone(),
        ),
        EventKind::SubscriptionDeleted { snapshot } => {
            let mut snapshot = snapshot.clone();
            snapshot.status = SubscriptionStatus::Canceled;
            keep_newest(
                &mut sources.snapshot,
                Facet {
                    order,
                    provider,
                    value: snapshot,
                },
                |f| f.order.clone(),
            )
        }
        EventKind::InvoicePaid(invoice) | EventKind::InvoicePaymentFailed(invoice) => {
            let paid = matches!(event.kind, EventKind::InvoicePaid(_));
            // Newer invoices supersede older ones whatever their event times;
            // within one invoice, the newest event decides.
            keep_newest(
                &mut sources.invoice,
                Facet {
                    order,
                    provider,
                    value: InvoiceOutcome {
                        invoice: invoice.clone(),
                        paid,
                    },
                },
                |f| {
                    (
                        f.value.invoice.created,
                        f.value.invoice.invoice_id.clone(),
                        f.order.clone(),
                    )
                },
            )
        }
    };

    if !changed {
        return Transition::Unchanged(Unchanged::Stale);
    }
    next.materialize();
    next.updated_at = now;
    Transition::Applied(Box::new(next))
}

/// Records the change our API asked for on an existing record, keeping the
/// newer of it and any intent already there (by request time, then by what
/// it asks for, so that the order is total), or drops the intent (`None`),
/// as a cancellation does. Like an event, recording commutes with every
/// event: `pendingChange` is a function of the newest intent and the newest
/// snapshot.
pub fn record_intent(
    current: &Subscription,
    intent: Option<ChangeIntent>,
    now: UnixTime,
) -> Transition {
    let mut next = current.clone();
    let changed = match intent {
        Some(intent) => keep_newest(&mut next.sources.intent, intent, |i| {
            (
                i.requested_at,
                i.plan.clone(),
                i.seats,
                i.timing.as_str(),
                i.effective_at,
                i.subscription_id.clone(),
            )
        }),
        None => next.sources.intent.take().is_some(),
    };
    if !changed {
        return Transition::Unchanged(Unchanged::Stale);
    }
    next.materialize();
    next.updated_at = now;
    Transition::Applied(Box::new(next))
}

/// Replaces `slot` with `candidate` if the candidate sorts strictly after it.
fn keep_newest<T, K: Ord>(slot: &mut Option<T>, candidate: T, key: impl Fn(&T) -> K) -> bool {
    let newer = slot.as_ref().is_none_or(|held| key(&candidate) > key(held));
    if newer {
        *slot = Some(candidate);
    }
    newer
}

#[cfg(test)]
mod tests;
