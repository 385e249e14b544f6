//! Normalized, provider-agnostic billing events. Provider adapters turn a
//! verified webhook delivery into a `ProviderEvent`; `apply_event` folds it
//! into the tenant's subscription record.

use crate::ids::{PlanCode, Provider, TenantId, UnixTime};
use crate::ledger::PaymentFacts;
use crate::money::Money;
use crate::status::SubscriptionStatus;
use serde::{Deserialize, Serialize};

/// The total order in which events supersede each other.
///
/// Tie rule: events compare by the provider's event time (seconds), then by
/// `rank` (a fixed precedence of event kinds within the same second: a
/// subscription is created before it is updated and updated before it is
/// deleted), then by event id, byte-wise. Two events of the same kind in the
/// same second are thus ordered by id: deterministic whatever the delivery
/// order, though not necessarily the provider's causal order; the next event
/// or a reconciliation run corrects such a pick.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventOrder {
    pub occurred_at: UnixTime,
    pub rank: u8,
    pub event_id: String,
}

/// A verified delivery, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    pub provider: Provider,
    /// The provider's event id; with `provider` it is the dedupe key.
    pub event_id: String,
    /// The provider's event type, kept for logs and the audit trail.
    pub event_type: String,
    /// When the provider says the event happened.
    pub occurred_at: UnixTime,
    /// The tenant named in the event itself (checkout reference or
    /// subscription metadata); otherwise the processor resolves it from the
    /// provider customer or subscription id.
    pub tenant_hint: Option<TenantId>,
    /// The payment attempt the event reports, if any: what the payments
    /// log and, for a success, the invoice are built from. Kept apart from
    /// `kind` because a subscription event can report a payment too
    /// (Razorpay's `subscription.charged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentFacts>,
    pub kind: EventKind,
}

impl ProviderEvent {
    pub fn order(&self) -> EventOrder {
        EventOrder {
            occurred_at: self.occurred_at,
            rank: self.kind.rank(),
            event_id: self.event_id.clone(),
        }
    }

    /// Provider ids that identify the tenant, for routing and for the
    /// uniqueness mapping.
    pub fn customer_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::CheckoutCompleted(c) => c.customer_id.as_deref(),
            EventKind::SubscriptionSnapshot { snapshot, .. }
            | EventKind::SubscriptionDeleted { snapshot } => Some(&snapshot.customer_id),
            EventKind::InvoicePaid(i) | EventKind::InvoicePaymentFailed(i) => {
                i.customer_id.as_deref()
            }
            EventKind::PaymentMethodAttached { customer_id, .. }
            | EventKind::PaymentReported { customer_id, .. } => customer_id.as_deref(),
            EventKind::Unknown => None,
        }
    }

    pub fn subscription_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::CheckoutCompleted(c) => c.subscription_id.as_deref(),
            EventKind::SubscriptionSnapshot { snapshot, .. }
            | EventKind::SubscriptionDeleted { snapshot } => Some(&snapshot.subscription_id),
            EventKind::InvoicePaid(i) | EventKind::InvoicePaymentFailed(i) => {
                i.subscription_id.as_deref()
            }
            EventKind::PaymentReported {
                subscription_id, ..
            } => subscription_id.as_deref(),
            EventKind::PaymentMethodAttached { .. } | EventKind::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotChange {
    Created,
    Updated,
    Paused,
    Resumed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    CheckoutCompleted(CheckoutDetails),
    SubscriptionSnapshot {
        change: SnapshotChange,
        snapshot: SubscriptionSnapshot,
    },
    SubscriptionDeleted {
        snapshot: SubscriptionSnapshot,
    },
    InvoicePaid(InvoiceDetails),
    InvoicePaymentFailed(InvoiceDetails),
    PaymentMethodAttached {
        customer_id: Option<String>,
        payment_method_id: String,
    },
    /// An event that only reports a payment attempt (its `payment`): no
    /// subscription state, the ids route it to the tenant.
    PaymentReported {
        customer_id: Option<String>,
        subscription_id: Option<String>,
    },
    /// A signed event type we do not act on: acknowledged and logged.
    Unknown,
}

impl EventKind {
    /// Precedence within one second; see [`EventOrder`].
    pub fn rank(&self) -> u8 {
        match self {
            EventKind::Unknown
            | EventKind::PaymentMethodAttached { .. }
            | EventKind::PaymentReported { .. } => 0,
            EventKind::CheckoutCompleted(_) => 1,
            EventKind::SubscriptionSnapshot {
                change: SnapshotChange::Created,
                ..
            } => 2,
            EventKind::SubscriptionSnapshot { .. } => 3,
            EventKind::SubscriptionDeleted { .. } => 4,
            EventKind::InvoicePaymentFailed(_) => 2,
            EventKind::InvoicePaid(_) => 3,
        }
    }
}

/// A completed hosted checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutDetails {
    pub session_id: String,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    /// The plan the checkout was created for, from its metadata.
    pub plan: Option<PlanCode>,
}

/// The provider's full view of a subscription at the event's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSnapshot {
    pub subscription_id: String,
    pub customer_id: String,
    pub status: SubscriptionStatus,
    /// The provider's own status string, kept for support and audit.
    pub provider_status: String,
    /// The catalog plan of the subscription's price; `None` when the price
    /// is not in this deployment's catalog.
    pub plan: Option<PlanCode>,
    pub price_id: Option<String>,
    pub current_period_start: Option<UnixTime>,
    pub current_period_end: Option<UnixTime>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<UnixTime>,
    pub canceled_at: Option<UnixTime>,
    pub trial_end: Option<UnixTime>,
    pub seats: u32,
}

/// An invoice's payment outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDetails {
    pub invoice_id: String,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    /// When the invoice was created; for a renewal, the start of the period
    /// it bills. Orders invoices against each other.
    pub created: UnixTime,
    pub amount_due: Money,
    pub amount_paid: Money,
    pub attempt_count: u32,
}
