//! The parts of Stripe's API objects the gateway reads (as of the pinned
//! `Stripe-Version`, 2025-07-30.basil): created objects, Checkout and
//! portal sessions, subscriptions with their items, subscription schedules,
//! preview invoices, customers and card payment methods, and the invoices
//! webhook events carry. Unknown fields are ignored; what we act on is
//! required.

use serde::Deserialize;
use std::collections::BTreeMap;

/// An object's free-form metadata.
pub(crate) type Metadata = BTreeMap<String, String>;

/// A reference Stripe sends as an id, or as the whole object when the
/// request asked for it to be expanded.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum ExpandableId {
    Id(String),
    Object { id: String },
}

impl ExpandableId {
    pub(crate) fn into_id(self) -> String {
        match self {
            ExpandableId::Id(id) | ExpandableId::Object { id } => id,
        }
    }

    pub(crate) fn id(&self) -> &str {
        match self {
            ExpandableId::Id(id) | ExpandableId::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CreatedObject {
    pub id: String,
}

#[derive(Deserialize)]
pub(crate) struct SessionObject {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PortalObject {
    pub url: String,
}

#[derive(Deserialize)]
pub(crate) struct List<T> {
    pub data: Vec<T>,
}

/// A subscription: since basil, the period lives on each item.
#[derive(Deserialize)]
pub(crate) struct Subscription {
    pub id: String,
    pub items: List<SubscriptionItem>,
    /// The schedule managing it, if any.
    pub schedule: Option<ExpandableId>,
    pub default_payment_method: Option<ExpandableId>,
}

#[derive(Deserialize)]
pub(crate) struct SubscriptionItem {
    pub id: String,
    pub price: ExpandableId,
    #[serde(default = "one")]
    pub quantity: u32,
    pub current_period_end: Option<i64>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
pub(crate) struct Schedule {
    pub id: String,
    pub current_phase: Option<PhaseBounds>,
    #[serde(default)]
    pub phases: Vec<PhaseBounds>,
}

#[derive(Deserialize, Clone, Copy)]
pub(crate) struct PhaseBounds {
    pub start_date: i64,
    pub end_date: Option<i64>,
}

/// A preview invoice (`POST /v1/invoices/create_preview`).
#[derive(Deserialize)]
pub(crate) struct PreviewInvoice {
    pub currency: String,
    pub amount_due: i64,
    pub period_end: Option<i64>,
    #[serde(default)]
    pub total_taxes: Option<Vec<Tax>>,
    pub lines: List<InvoiceLine>,
}

#[derive(Deserialize)]
pub(crate) struct Tax {
    pub amount: i64,
}

#[derive(Deserialize)]
pub(crate) struct InvoiceLine {
    pub description: Option<String>,
    pub amount: i64,
    #[serde(default)]
    pub quantity: Option<u32>,
    pub period: LinePeriod,
    pub parent: Option<LineParent>,
    /// Before basil, prorations were flagged on the line itself.
    #[serde(default)]
    pub proration: bool,
}

#[derive(Deserialize)]
pub(crate) struct LinePeriod {
    pub start: i64,
    pub end: i64,
}

#[derive(Deserialize)]
pub(crate) struct LineParent {
    pub subscription_item_details: Option<SubscriptionItemDetails>,
}

#[derive(Deserialize)]
pub(crate) struct SubscriptionItemDetails {
    #[serde(default)]
    pub proration: bool,
}

impl InvoiceLine {
    /// Basil marks prorations on the line's parent.
    pub(crate) fn is_proration(&self) -> bool {
        self.proration
            || self
                .parent
                .as_ref()
                .and_then(|p| p.subscription_item_details.as_ref())
                .is_some_and(|d| d.proration)
    }
}

#[derive(Deserialize)]
pub(crate) struct Customer {
    pub invoice_settings: Option<InvoiceSettings>,
}

#[derive(Deserialize)]
pub(crate) struct InvoiceSettings {
    pub default_payment_method: Option<ExpandableId>,
}

#[derive(Deserialize)]
pub(crate) struct PaymentMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub card: Option<Card>,
}

/// Only what a billing page may show of a card.
#[derive(Deserialize)]
pub(crate) struct Card {
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
}

/// An invoice as `invoice.*` events carry it, in either API-version shape.
#[derive(Deserialize)]
pub(crate) struct InvoiceObject {
    pub id: String,
    pub customer: Option<ExpandableId>,
    pub created: i64,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    #[serde(default)]
    pub attempt_count: u32,
    /// Before basil.
    pub subscription: Option<ExpandableId>,
    /// Before basil.
    pub subscription_details: Option<InvoiceSubscriptionDetails>,
    /// From basil on.
    pub parent: Option<InvoiceParent>,
    /// Stripe Tax's figures (basil); empty or absent when Stripe computed none.
    #[serde(default)]
    pub total_taxes: Option<Vec<Tax>>,
    pub status_transitions: Option<StatusTransitions>,
    pub lines: Option<List<InvoiceLine>>,
}

#[derive(Deserialize)]
pub(crate) struct InvoiceSubscriptionDetails {
    pub metadata: Option<Metadata>,
}

#[derive(Deserialize)]
pub(crate) struct InvoiceParent {
    pub subscription_details: Option<ParentSubscriptionDetails>,
}

#[derive(Deserialize)]
pub(crate) struct ParentSubscriptionDetails {
    pub subscription: Option<ExpandableId>,
    pub metadata: Option<Metadata>,
}

#[derive(Deserialize)]
pub(crate) struct StatusTransitions {
    pub paid_at: Option<i64>,
}

/// A credit note as `credit_note.*` events carry it.
#[derive(Deserialize)]
pub(crate) struct CreditNoteObject {
    pub id: String,
    pub customer: Option<ExpandableId>,
    /// The invoice it credits.
    pub invoice: ExpandableId,
    pub currency: String,
    /// Tax included, in minor units.
    pub total: i64,
    pub created: i64,
    /// `pre_payment` (lowers what is due before payment), `post_payment`
    /// (credits a paid invoice: refund, balance credit or out of band).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}
