//! Sandbox webhook events normalized into `ProviderEvent`, and
//! `SandboxWebhooks`, the `WebhookVerifier` that checks the Standard Webhooks
//! signature on the raw bytes first and only then parses them.
//!
//! The dedupe key is the signed `webhook-id` header; the sandbox sends the
//! body's `id` in it, and a delivery where the two differ is refused, so the
//! id we dedupe on is always the id of the event we apply.
//!
//! Error messages never contain payload content: they end up in logs and in
//! the 400 answer.

use super::payments;
use super::wire::{
    CheckoutSessionObject, InvoiceObject, PaymentMethodObject, SandboxEvent, SandboxEventType,
    SandboxStatus, SubscriptionObject,
};
use crate::payload::{decode, malformed};
use crate::standard_webhooks::{self, DEFAULT_TOLERANCE_SECONDS};
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    Catalog, CheckoutDetails, EventKind, InvoiceDetails, Money, PlanCode, Provider, ProviderEvent,
    SnapshotChange, SubscriptionSnapshot, SubscriptionStatus, TenantId, UnixTime,
};

/// Verifies and normalizes sandbox deliveries. Holds no secrets: they come
/// per call from the secret cache, as for every provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxWebhooks {
    tolerance_seconds: i64,
}

impl Default for SandboxWebhooks {
    fn default() -> Self {
        Self::new()
    }
}

impl SandboxWebhooks {
    /// With the Standard Webhooks default tolerance of 300 seconds.
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
impl WebhookVerifier for SandboxWebhooks {
    fn provider(&self) -> Provider {
        Provider::Sandbox
    }

    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        let secrets = credentials.webhook_secrets.as_slice();
        let verified = standard_webhooks::verify(delivery, secrets, now, self.tolerance_seconds)?;
        let event = parse_event(&delivery.body, catalog)?;
        if event.event_id != verified.id {
            return Err(WebhookError::MalformedPayload(
                "webhook-id header does not match the event id".into(),
            ));
        }
        Ok(event)
    }
}

/// Normalizes an event body. Call it only on a body whose signature was
/// verified (or that was stored after verification, for replay).
pub fn parse_event(body: &[u8], catalog: &Catalog) -> Result<ProviderEvent, WebhookError> {
    let event: SandboxEvent = serde_json::from_slice(body).map_err(|e| malformed("event", &e))?;
    let mut payment = None;
    let (kind, tenant_hint) = match SandboxEventType::parse(&event.event_type) {
        Some(SandboxEventType::CheckoutCompleted) => {
            checkout_completed(decode(&event.data, "checkout session")?)
        }
        Some(SandboxEventType::SubscriptionCreated) => subscription(
            decode(&event.data, "subscription")?,
            catalog,
            Some(SnapshotChange::Created),
        ),
        Some(SandboxEventType::SubscriptionUpdated) => subscription(
            decode(&event.data, "subscription")?,
            catalog,
            Some(SnapshotChange::Updated),
        ),
        Some(SandboxEventType::SubscriptionCanceled) => {
            subscription(decode(&event.data, "subscription")?, catalog, None)
        }
        Some(SandboxEventType::InvoicePaid) => {
            let object: InvoiceObject = decode(&event.data, "invoice")?;
            payment = payments::facts(&object, true, event.created);
            let (details, hint) = invoice(object);
            (EventKind::InvoicePaid(details), hint)
        }
        Some(SandboxEventType::InvoicePaymentFailed) => {
            let object: InvoiceObject = decode(&event.data, "invoice")?;
            payment = payments::facts(&object, false, event.created);
            let (details, hint) = invoice(object);
            (EventKind::InvoicePaymentFailed(details), hint)
        }
        Some(SandboxEventType::PaymentMethodAttached) => {
            let method: PaymentMethodObject = decode(&event.data, "payment method")?;
            (
                EventKind::PaymentMethodAttached {
                    customer_id: Some(method.customer_id),
                    payment_method_id: method.id,
                },
                tenant(&method.tenant_id),
            )
        }
        None => (EventKind::Unknown, None),
    };
    Ok(ProviderEvent {
        provider: Provider::Sandbox,
        event_id: event.id,
        event_type: event.event_type,
        occurred_at: UnixTime(event.created),
        tenant_hint,
        payment,
        kind,
    })
}

fn checkout_completed(session: CheckoutSessionObject) -> (EventKind, Option<TenantId>) {
    let plan = Some(session.plan_code)
        .filter(|p| !p.is_empty())
        .map(PlanCode::new);
    let details = CheckoutDetails {
        session_id: session.id,
        customer_id: Some(session.customer_id),
        subscription_id: Some(session.subscription_id),
        plan,
    };
    (
        EventKind::CheckoutCompleted(details),
        tenant(&session.tenant_id),
    )
}

/// `change` is `None` for a cancellation (the subscription has ended).
fn subscription(
    sub: SubscriptionObject,
    catalog: &Catalog,
    change: Option<SnapshotChange>,
) -> (EventKind, Option<TenantId>) {
    let tenant_hint = tenant(&sub.tenant_id);
    let plan = catalog
        .plan_for_price(Provider::Sandbox, &sub.price_id)
        .map(|plan| plan.code.clone());
    let snapshot = SubscriptionSnapshot {
        subscription_id: sub.id,
        customer_id: sub.customer_id,
        status: map_status(&sub.status),
        provider_status: sub.status,
        plan,
        price_id: Some(sub.price_id),
        current_period_start: sub.current_period_start.map(UnixTime),
        current_period_end: sub.current_period_end.map(UnixTime),
        cancel_at_period_end: sub.cancel_at_period_end,
        cancel_at: sub.cancel_at.map(UnixTime),
        canceled_at: sub.canceled_at.map(UnixTime),
        // The sandbox has no trials.
        trial_end: None,
        seats: sub.quantity,
    };
    let kind = match change {
        Some(change) => EventKind::SubscriptionSnapshot { change, snapshot },
        None => EventKind::SubscriptionDeleted { snapshot },
    };
    (kind, tenant_hint)
}

/// The sandbox's statuses. One we do not know grants nothing (`Incomplete`)
/// until someone looks; the original string stays in `provider_status`.
pub fn map_status(status: &str) -> SubscriptionStatus {
    match SandboxStatus::parse(status) {
        Some(SandboxStatus::Incomplete) => SubscriptionStatus::Incomplete,
        Some(SandboxStatus::Active) => SubscriptionStatus::Active,
        Some(SandboxStatus::PastDue) => SubscriptionStatus::PastDue,
        Some(SandboxStatus::Unpaid) => SubscriptionStatus::Unpaid,
        Some(SandboxStatus::Canceled) => SubscriptionStatus::Canceled,
        None => {
            tracing::warn!("unrecognised sandbox subscription status; treating as incomplete");
            SubscriptionStatus::Incomplete
        }
    }
}

fn invoice(invoice: InvoiceObject) -> (InvoiceDetails, Option<TenantId>) {
    let tenant_hint = tenant(&invoice.tenant_id);
    let details = InvoiceDetails {
        invoice_id: invoice.id,
        customer_id: Some(invoice.customer_id),
        subscription_id: Some(invoice.subscription_id),
        created: UnixTime(invoice.created),
        amount_due: Money::new(invoice.amount_due, &invoice.currency),
        amount_paid: Money::new(invoice.amount_paid, &invoice.currency),
        attempt_count: invoice.attempt_count,
    };
    (details, tenant_hint)
}

/// A hint that is not a valid tenant id is dropped, not fatal: the processor
/// can still resolve the tenant from the customer or subscription id.
fn tenant(raw: &str) -> Option<TenantId> {
    match TenantId::parse(raw) {
        Ok(tenant) => Some(tenant),
        Err(_) => {
            tracing::warn!("sandbox event names a tenant id that is not valid; ignoring the hint");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sandbox_status_maps_to_its_namesake() {
        for status in SandboxStatus::ALL {
            assert_eq!(map_status(status.as_str()).as_str(), status.as_str());
        }
    }

    #[test]
    fn unknown_status_grants_no_access() {
        assert_eq!(map_status("trialing"), SubscriptionStatus::Incomplete);
    }
}
