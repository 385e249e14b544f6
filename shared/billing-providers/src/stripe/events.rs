//! Stripe webhook events (`{id, type, created, data: {object}}`) normalized
//! into `ProviderEvent`, and `StripeWebhooks`, the `WebhookVerifier` that
//! checks the signature on the raw bytes first and only then parses them.
//!
//! Two API-version shapes are read: before 2025-03-31 ("basil") a
//! subscription's billing period sits on the subscription and an invoice
//! names its subscription at the top level; from basil on the period sits on
//! each subscription item and the invoice names it under
//! `parent.subscription_details`. Which one arrives depends on the webhook
//! endpoint's API version, so both are always accepted.
//!
//! Error messages never contain payload content: they end up in logs and in
//! the 400 answer.

use super::payments;
use super::signature::{self, DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER};
use super::wire::{CreditNoteObject, ExpandableId, InvoiceObject, Metadata};
use crate::payload::{decode, malformed};
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    Catalog, CheckoutDetails, EventKind, InvoiceDetails, Money, PlanCode, Provider, ProviderEvent,
    SnapshotChange, SubscriptionSnapshot, SubscriptionStatus, TenantId, UnixTime,
};
use serde::Deserialize;

/// Verifies and normalizes Stripe deliveries. Holds no secrets: they come
/// per call from the secret cache, so a rotated secret needs no rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeWebhooks {
    tolerance_seconds: i64,
}

impl Default for StripeWebhooks {
    fn default() -> Self {
        Self::new()
    }
}

impl StripeWebhooks {
    /// With Stripe's default timestamp tolerance of 300 seconds.
    pub fn new() -> Self {
        Self {
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        }
    }

    pub fn with_tolerance_seconds(tolerance_seconds: i64) -> Self {
        Self { tolerance_seconds }
    }
}

#[async_trait::async_trait]
impl WebhookVerifier for StripeWebhooks {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        let secrets = credentials.webhook_secrets.as_slice();
        let header = delivery
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature(SIGNATURE_HEADER))?;
        signature::verify(header, &delivery.body, secrets, now, self.tolerance_seconds)?;
        parse_event(&delivery.body, catalog)
    }
}

/// Normalizes an event body. Call it only on a body whose signature was
/// verified (or that was stored after verification, for replay).
pub fn parse_event(body: &[u8], catalog: &Catalog) -> Result<ProviderEvent, WebhookError> {
    let event: Event = serde_json::from_slice(body).map_err(|e| malformed("event", &e))?;
    let object = &event.data.object;
    let mut payment = None;
    let (kind, tenant_hint) = match event.event_type.as_str() {
        "checkout.session.completed" => checkout_completed(decode(object, "checkout session")?),
        "customer.subscription.created" => {
            subscription(object, catalog, Some(SnapshotChange::Created))?
        }
        "customer.subscription.updated" => {
            subscription(object, catalog, Some(SnapshotChange::Updated))?
        }
        "customer.subscription.paused" => {
            subscription(object, catalog, Some(SnapshotChange::Paused))?
        }
        "customer.subscription.resumed" => {
            subscription(object, catalog, Some(SnapshotChange::Resumed))?
        }
        "customer.subscription.deleted" => subscription(object, catalog, None)?,
        "invoice.paid" => {
            let object: InvoiceObject = decode(object, "invoice")?;
            payment = payments::paid(&object, event.created);
            let (details, hint) = invoice(object);
            (EventKind::InvoicePaid(details), hint)
        }
        "invoice.payment_failed" => {
            let object: InvoiceObject = decode(object, "invoice")?;
            payment = Some(payments::failed(&object, event.created));
            let (details, hint) = invoice(object);
            (EventKind::InvoicePaymentFailed(details), hint)
        }
        "credit_note.created" => {
            let note: CreditNoteObject = decode(object, "credit note")?;
            match payments::credited(&note) {
                Some(facts) => {
                    payment = Some(facts);
                    let kind = EventKind::PaymentReported {
                        customer_id: note.customer.map(ExpandableId::into_id),
                        subscription_id: None,
                    };
                    (kind, None)
                }
                None => (EventKind::Unknown, None),
            }
        }
        "payment_method.attached" => {
            let method: PaymentMethodObject = decode(object, "payment method")?;
            let kind = EventKind::PaymentMethodAttached {
                customer_id: method.customer.map(ExpandableId::into_id),
                payment_method_id: method.id,
            };
            (kind, None)
        }
        _ => (EventKind::Unknown, None),
    };
    Ok(ProviderEvent {
        provider: Provider::Stripe,
        event_id: event.id,
        event_type: event.event_type,
        occurred_at: UnixTime(event.created),
        tenant_hint,
        payment,
        kind,
    })
}

fn checkout_completed(session: CheckoutSessionObject) -> (EventKind, Option<TenantId>) {
    // Our sessions are all subscriptions; a one-off payment session (made in
    // the Dashboard, say) says nothing about a subscription.
    if session.mode.as_deref() != Some("subscription") {
        return (EventKind::Unknown, None);
    }
    let tenant_hint = session
        .client_reference_id
        .as_deref()
        .and_then(tenant)
        .or_else(|| metadata_tenant(session.metadata.as_ref()));
    let plan = session
        .metadata
        .as_ref()
        .and_then(|m| m.get("plan"))
        .filter(|p| !p.is_empty())
        .map(PlanCode::new);
    let details = CheckoutDetails {
        session_id: session.id,
        customer_id: session.customer.map(ExpandableId::into_id),
        subscription_id: session.subscription.map(ExpandableId::into_id),
        plan,
    };
    (EventKind::CheckoutCompleted(details), tenant_hint)
}

/// `change` is `None` for a deletion.
fn subscription(
    object: &serde_json::Value,
    catalog: &Catalog,
    change: Option<SnapshotChange>,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let sub: SubscriptionObject = decode(object, "subscription")?;
    let tenant_hint = metadata_tenant(sub.metadata.as_ref());
    let first_item = sub.items.and_then(|items| items.data.into_iter().next());
    let price_id = first_item
        .as_ref()
        .and_then(|item| item.price.clone())
        .map(ExpandableId::into_id);
    let plan = price_id
        .as_deref()
        .and_then(|price| catalog.plan_for_price(Provider::Stripe, price))
        .map(|plan| plan.code.clone());
    let seats = match first_item.as_ref().and_then(|item| item.quantity) {
        Some(quantity) => u32::try_from(quantity).map_err(|_| {
            WebhookError::MalformedPayload("subscription: quantity out of range".into())
        })?,
        None => 1,
    };
    // Top level before basil, on the item from basil on.
    let current_period_start = sub
        .current_period_start
        .or_else(|| first_item.as_ref().and_then(|i| i.current_period_start));
    let current_period_end = sub
        .current_period_end
        .or_else(|| first_item.as_ref().and_then(|i| i.current_period_end));
    let snapshot = SubscriptionSnapshot {
        subscription_id: sub.id,
        customer_id: sub.customer.into_id(),
        status: map_status(&sub.status),
        provider_status: sub.status,
        plan,
        price_id,
        current_period_start: current_period_start.map(UnixTime),
        current_period_end: current_period_end.map(UnixTime),
        cancel_at_period_end: sub.cancel_at_period_end,
        cancel_at: sub.cancel_at.map(UnixTime),
        canceled_at: sub.canceled_at.map(UnixTime),
        trial_end: sub.trial_end.map(UnixTime),
        seats,
    };
    let kind = match change {
        Some(change) => EventKind::SubscriptionSnapshot { change, snapshot },
        None => EventKind::SubscriptionDeleted { snapshot },
    };
    Ok((kind, tenant_hint))
}

/// Stripe's subscription statuses. One we do not know yet grants nothing
/// (`Incomplete`) until someone looks: granting access on an unknown status
/// would be the costlier mistake. The original string stays in
/// `provider_status`.
pub fn map_status(status: &str) -> SubscriptionStatus {
    match status {
        "trialing" => SubscriptionStatus::Trialing,
        "active" => SubscriptionStatus::Active,
        "past_due" => SubscriptionStatus::PastDue,
        "incomplete" => SubscriptionStatus::Incomplete,
        "incomplete_expired" => SubscriptionStatus::IncompleteExpired,
        "unpaid" => SubscriptionStatus::Unpaid,
        "paused" => SubscriptionStatus::Paused,
        "canceled" => SubscriptionStatus::Canceled,
        _ => {
            tracing::warn!("unrecognised Stripe subscription status; treating as incomplete");
            SubscriptionStatus::Incomplete
        }
    }
}

fn invoice(invoice: InvoiceObject) -> (InvoiceDetails, Option<TenantId>) {
    let parent_details = invoice.parent.and_then(|p| p.subscription_details);
    let tenant_hint = metadata_tenant(
        invoice
            .subscription_details
            .and_then(|d| d.metadata)
            .as_ref(),
    )
    .or_else(|| metadata_tenant(parent_details.as_ref().and_then(|d| d.metadata.as_ref())));
    let subscription_id = invoice
        .subscription
        .or_else(|| parent_details.and_then(|d| d.subscription))
        .map(ExpandableId::into_id);
    let details = InvoiceDetails {
        invoice_id: invoice.id,
        customer_id: invoice.customer.map(ExpandableId::into_id),
        subscription_id,
        created: UnixTime(invoice.created),
        amount_due: Money::new(invoice.amount_due, &invoice.currency),
        amount_paid: Money::new(invoice.amount_paid, &invoice.currency),
        attempt_count: invoice.attempt_count,
    };
    (details, tenant_hint)
}

fn metadata_tenant(metadata: Option<&Metadata>) -> Option<TenantId> {
    metadata
        .and_then(|m| m.get("tenant_id"))
        .and_then(|t| tenant(t))
}

/// A hint that is not a valid tenant id is dropped, not fatal: the processor
/// can still resolve the tenant from the customer or subscription id.
fn tenant(raw: &str) -> Option<TenantId> {
    match TenantId::parse(raw) {
        Ok(tenant) => Some(tenant),
        Err(_) => {
            tracing::warn!("Stripe event names a tenant id that is not valid; ignoring the hint");
            None
        }
    }
}

// ---------- Stripe's wire shapes (only the fields we read) ----------

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct CheckoutSessionObject {
    id: String,
    mode: Option<String>,
    customer: Option<ExpandableId>,
    subscription: Option<ExpandableId>,
    client_reference_id: Option<String>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: ExpandableId,
    status: String,
    items: Option<List<SubscriptionItem>>,
    current_period_start: Option<i64>,
    current_period_end: Option<i64>,
    #[serde(default)]
    cancel_at_period_end: bool,
    cancel_at: Option<i64>,
    canceled_at: Option<i64>,
    trial_end: Option<i64>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct List<T> {
    data: Vec<T>,
}

#[derive(Deserialize)]
struct SubscriptionItem {
    price: Option<ExpandableId>,
    quantity: Option<u64>,
    current_period_start: Option<i64>,
    current_period_end: Option<i64>,
}

#[derive(Deserialize)]
struct PaymentMethodObject {
    id: String,
    customer: Option<ExpandableId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_maps_to_its_namesake() {
        // `none` is ours alone: Stripe has no such status.
        for status in SubscriptionStatus::ALL
            .into_iter()
            .filter(|s| *s != SubscriptionStatus::None)
        {
            assert_eq!(map_status(status.as_str()), status);
        }
    }

    #[test]
    fn unknown_status_grants_no_access() {
        assert_eq!(
            map_status("some_future_status"),
            SubscriptionStatus::Incomplete
        );
    }

    #[test]
    fn expandable_reference_reads_an_id_or_an_object() {
        let id: ExpandableId = serde_json::from_str(r#""cus_1""#).unwrap();
        let object: ExpandableId =
            serde_json::from_str(r#"{"id":"cus_1","object":"customer"}"#).unwrap();
        assert_eq!(id.into_id(), "cus_1");
        assert_eq!(object.into_id(), "cus_1");
    }
}
