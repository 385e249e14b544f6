//! The tenant's subscription record: one per tenant, as stored.
//!
//! The record keeps, per source of truth, the newest event seen ("facets"):
//! the latest subscription snapshot, the latest checkout, the latest invoice
//! outcome. The visible fields (status, plan, periods...) are derived from
//! those facets by [`Subscription::materialize`]. Because each facet only
//! ever keeps the maximum of a total order, the record is the same whatever
//! order events arrive in and however often; see `transition.rs`.

use crate::event::{CheckoutDetails, EventOrder, InvoiceDetails, SubscriptionSnapshot};
use crate::ids::{PlanCode, Provider, TenantId, UnixTime};
use crate::intent::{ChangeIntent, PendingChange};
use crate::status::SubscriptionStatus;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    // Identity.
    pub tenant_id: TenantId,
    /// `None` while the subscription's price is not in the catalog.
    pub plan: Option<PlanCode>,
    pub provider: Provider,
    pub provider_customer_id: Option<String>,
    pub provider_subscription_id: Option<String>,

    // State.
    pub status: SubscriptionStatus,
    pub current_period_start: Option<UnixTime>,
    pub current_period_end: Option<UnixTime>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<UnixTime>,
    pub canceled_at: Option<UnixTime>,
    pub trial_end: Option<UnixTime>,
    pub seats: u32,
    /// When the unpaid invoice behind a `past_due` status was created: the
    /// anchor of the grace period.
    pub past_due_since: Option<UnixTime>,
    /// A plan or seat change the provider accepted and no webhook has
    /// settled yet (see `intent.rs`).
    #[serde(default)]
    pub pending_change: Option<PendingChange>,

    // Bookkeeping.
    /// The newest event that shaped this record.
    pub last_event: Option<EventOrder>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,

    /// The facets the fields above are derived from.
    pub sources: Sources,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Sources {
    pub snapshot: Option<Facet<SubscriptionSnapshot>>,
    pub checkout: Option<Facet<CheckoutDetails>>,
    pub invoice: Option<Facet<InvoiceOutcome>>,
    /// The newest change our API asked for; not an event, so it plays no
    /// part in `last_event`.
    #[serde(default)]
    pub intent: Option<ChangeIntent>,
}

/// The newest value of one facet and the event that brought it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet<T> {
    pub order: EventOrder,
    pub provider: Provider,
    pub value: T,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceOutcome {
    pub invoice: InvoiceDetails,
    pub paid: bool,
}

impl Subscription {
    /// A tenant's empty record, before any event: the free plan, status none.
    pub fn new(tenant_id: TenantId, provider: Provider, now: UnixTime) -> Self {
        Self {
            tenant_id,
            plan: None,
            provider,
            provider_customer_id: None,
            provider_subscription_id: None,
            status: SubscriptionStatus::None,
            current_period_start: None,
            current_period_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            trial_end: None,
            seats: 0,
            past_due_since: None,
            pending_change: None,
            last_event: None,
            created_at: now,
            updated_at: now,
            sources: Sources::default(),
        }
    }

    /// Recomputes the visible fields from the facets.
    pub fn materialize(&mut self) {
        let Sources {
            snapshot,
            checkout,
            invoice,
            intent,
        } = &self.sources;

        // A checkout newer than the snapshot for a different subscription is a
        // new purchase still waiting for its own snapshot: show it as pending.
        let pending_checkout = checkout.as_ref().filter(|c| match snapshot {
            None => true,
            Some(s) => {
                c.order > s.order
                    && c.value.subscription_id.as_deref() != Some(s.value.subscription_id.as_str())
            }
        });

        if let Some(c) = pending_checkout {
            self.provider = c.provider;
            let c = &c.value;
            self.plan = c.plan.clone();
            self.provider_customer_id = c.customer_id.clone();
            self.provider_subscription_id = c.subscription_id.clone();
            self.status = SubscriptionStatus::Incomplete;
            self.current_period_start = None;
            self.current_period_end = None;
            self.cancel_at_period_end = false;
            self.cancel_at = None;
            self.canceled_at = None;
            self.trial_end = None;
            self.seats = 1;
        } else if let Some(s) = snapshot {
            self.provider = s.provider;
            let s = &s.value;
            self.plan = s.plan.clone();
            self.provider_customer_id = Some(s.customer_id.clone());
            self.provider_subscription_id = Some(s.subscription_id.clone());
            self.status = s.status;
            self.current_period_start = s.current_period_start;
            self.current_period_end = s.current_period_end;
            self.cancel_at_period_end = s.cancel_at_period_end;
            self.cancel_at = s.cancel_at;
            self.canceled_at = s.canceled_at;
            self.trial_end = s.trial_end;
            self.seats = s.seats;
        }

        self.past_due_since = if self.status == SubscriptionStatus::PastDue {
            // Anchor on the unpaid invoice of this subscription; a renewal
            // invoice is created when the period starts, so fall back to that.
            invoice
                .as_ref()
                .filter(|i| {
                    !i.value.paid
                        && i.value.invoice.subscription_id.as_deref()
                            == self.provider_subscription_id.as_deref()
                })
                .map(|i| i.value.invoice.created)
                .or(self.current_period_start)
        } else {
            None
        };

        self.pending_change = intent
            .as_ref()
            .filter(|i| i.is_pending(snapshot.as_ref()))
            .map(ChangeIntent::pending_change);

        self.last_event = [
            snapshot.as_ref().map(|f| &f.order),
            checkout.as_ref().map(|f| &f.order),
            invoice.as_ref().map(|f| &f.order),
        ]
        .into_iter()
        .flatten()
        .max()
        .cloned();
    }
}
