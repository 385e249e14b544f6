//! Razorpay webhook events (`{entity: "event", event, contains, payload:
//! {subscription: {entity}, payment: {entity}}, created_at}`) normalized into
//! `ProviderEvent`, and `RazorpayWebhooks`, the `WebhookVerifier` that checks
//! the signature on the raw bytes first and only then parses them.
//!
//! The body carries no event id: Razorpay sends it in the
//! `x-razorpay-event-id` header ("The value for this header is unique per
//! event", <https://razorpay.com/docs/webhooks/validate-test/#idempotency>),
//! and that header is the dedupe key. A delivery without it is refused.
//!
//! Every `subscription.*` event carries the whole subscription entity
//! (<https://razorpay.com/docs/webhooks/subscriptions/>: "The payload for all
//! these events contain the subscription entity"), so each one becomes a
//! snapshot; `subscription.charged` also carries the cycle's payment, which
//! the payments log records and our invoice bills. `payment.failed` carries
//! a failed attempt for the log; it names the customer, not the
//! subscription.
//!
//! Error messages never contain payload content: they end up in logs and in
//! the 400 answer.

use super::payments::{self, PaymentEntity, RefundEntity};
use super::signature::{self, SIGNATURE_HEADER};
use super::TENANT_NOTE;
use crate::payload::{decode, malformed};
use async_trait::async_trait;
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    Catalog, EventKind, Provider, ProviderEvent, SnapshotChange, SubscriptionSnapshot,
    SubscriptionStatus, TenantId, UnixTime,
};
use serde::Deserialize;

/// The header carrying Razorpay's unique event id (matched case-insensitively).
pub const EVENT_ID_HEADER: &str = "x-razorpay-event-id";

/// Longer ids are refused: the id becomes a storage key, and Razorpay's are
/// short opaque strings.
const MAX_EVENT_ID_LEN: usize = 128;

/// The events to enable on the Dashboard's webhook. Anything else that
/// arrives is acknowledged and ignored.
pub const SUBSCRIBED_EVENTS: [&str; 10] = [
    "subscription.authenticated",
    "subscription.activated",
    "subscription.charged",
    "subscription.pending",
    "subscription.halted",
    "subscription.updated",
    "subscription.paused",
    "subscription.resumed",
    "subscription.cancelled",
    "subscription.completed",
];

/// The payment events to enable besides: failed attempts for the payments
/// log, refunds for credit notes.
pub const PAYMENT_EVENTS: [&str; 2] = ["payment.failed", "refund.processed"];

/// Every subscription status Razorpay documents
/// (<https://razorpay.com/docs/payments/subscriptions/states/>; `paused` is
/// documented there though the entity reference omits it).
pub const RAZORPAY_STATUSES: [&str; 9] = [
    "created",
    "authenticated",
    "active",
    "pending",
    "halted",
    "cancelled",
    "completed",
    "expired",
    "paused",
];

/// Verifies and normalizes Razorpay deliveries. Holds no secrets: they come
/// per call from the secret cache, so a rotated secret needs no rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RazorpayWebhooks;

impl RazorpayWebhooks {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl WebhookVerifier for RazorpayWebhooks {
    fn provider(&self) -> Provider {
        Provider::Razorpay
    }

    /// `now` is unused: Razorpay signs no timestamp, so there is no window
    /// to check. A replayed delivery is caught by its event id (the dedupe
    /// key); one replayed under a forged id (the header is not signed) is an
    /// authentic old event, which `apply_event` orders by its signed
    /// `created_at` and so cannot move a record backwards.
    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        _now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        let header = delivery
            .header(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingSignature(SIGNATURE_HEADER))?;
        signature::verify(header, &delivery.body, &credentials.webhook_secrets)?;
        parse_event(&delivery.body, event_id(delivery)?, catalog)
    }
}

/// The delivery's `x-razorpay-event-id`. Razorpay always sends it, so a
/// delivery without one is not an event we can dedupe and is refused.
pub fn event_id(delivery: &WebhookDelivery) -> Result<&str, WebhookError> {
    let id = delivery
        .header(EVENT_ID_HEADER)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            WebhookError::MalformedPayload(format!("the {EVENT_ID_HEADER} header is missing"))
        })?;
    if id.len() > MAX_EVENT_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(WebhookError::MalformedPayload(format!(
            "the {EVENT_ID_HEADER} header is not an event id"
        )));
    }
    Ok(id)
}

/// Normalizes an event body delivered under `event_id`. Call it only on a
/// body whose signature was verified.
pub fn parse_event(
    body: &[u8],
    event_id: &str,
    catalog: &Catalog,
) -> Result<ProviderEvent, WebhookError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| malformed("event", &e))?;
    let payment_entity = || -> Result<PaymentEntity, WebhookError> {
        let entity = envelope.payload.pointer("/payment/entity").ok_or_else(|| {
            WebhookError::MalformedPayload("payment event without payload.payment.entity".into())
        })?;
        decode(entity, "payment")
    };
    let mut payment = None;
    let (kind, tenant_hint) = match SubscriptionEvent::parse(&envelope.event) {
        Some(event) => {
            let entity = envelope
                .payload
                .pointer("/subscription/entity")
                .ok_or_else(|| {
                    WebhookError::MalformedPayload(
                        "subscription event without payload.subscription.entity".into(),
                    )
                })?;
            let (snapshot, tenant_hint) = subscription(decode(entity, "subscription")?, catalog);
            if event == SubscriptionEvent::Charged {
                payment = Some(payments::charged(&payment_entity()?, &snapshot));
            }
            (event.kind(snapshot), tenant_hint)
        }
        None if envelope.event == "payment.failed" => {
            let entity = payment_entity()?;
            payment = Some(payments::failed(&entity));
            // Routed by the customer the subscription's events claimed.
            let kind = EventKind::PaymentReported {
                customer_id: entity.customer_id(),
                subscription_id: None,
            };
            (kind, None)
        }
        None if envelope.event == "refund.processed" => {
            let entity = envelope.payload.pointer("/refund/entity").ok_or_else(|| {
                WebhookError::MalformedPayload("refund event without payload.refund.entity".into())
            })?;
            let refund: RefundEntity = decode(entity, "refund")?;
            payment = Some(payments::refunded(&refund));
            // The refunded payment, when sent, names the customer to route by.
            let customer_id = payment_entity().ok().and_then(|p| p.customer_id());
            let kind = EventKind::PaymentReported {
                customer_id,
                subscription_id: None,
            };
            (kind, None)
        }
        None => (EventKind::Unknown, None),
    };
    Ok(ProviderEvent {
        provider: Provider::Razorpay,
        event_id: event_id.to_owned(),
        event_type: envelope.event,
        occurred_at: UnixTime(envelope.created_at),
        tenant_hint,
        payment,
        kind,
    })
}

/// The subscription events we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubscriptionEvent {
    Authenticated,
    Activated,
    Charged,
    Pending,
    Halted,
    Updated,
    Paused,
    Resumed,
    Cancelled,
    Completed,
}

impl SubscriptionEvent {
    fn parse(event: &str) -> Option<Self> {
        Some(match event {
            "subscription.authenticated" => Self::Authenticated,
            "subscription.activated" => Self::Activated,
            "subscription.charged" => Self::Charged,
            "subscription.pending" => Self::Pending,
            "subscription.halted" => Self::Halted,
            "subscription.updated" => Self::Updated,
            "subscription.paused" => Self::Paused,
            "subscription.resumed" => Self::Resumed,
            "subscription.cancelled" => Self::Cancelled,
            "subscription.completed" => Self::Completed,
            _ => return None,
        })
    }

    /// What the event says about `snapshot`, the subscription it carries.
    fn kind(self, snapshot: SubscriptionSnapshot) -> EventKind {
        let change = match self {
            // The first event of a subscription we hear of: the customer has
            // completed the authorization transaction on the hosted page.
            Self::Authenticated => SnapshotChange::Created,
            Self::Activated | Self::Charged | Self::Pending | Self::Halted | Self::Updated => {
                SnapshotChange::Updated
            }
            Self::Paused => SnapshotChange::Paused,
            Self::Resumed => SnapshotChange::Resumed,
            // Neither can be undone: "Once cancelled, a Subscription cannot be
            // restarted"; `completed` means every billing cycle was billed.
            Self::Cancelled | Self::Completed => {
                return EventKind::SubscriptionDeleted { snapshot }
            }
        };
        EventKind::SubscriptionSnapshot { change, snapshot }
    }
}

fn subscription(
    sub: SubscriptionEntity,
    catalog: &Catalog,
) -> (SubscriptionSnapshot, Option<TenantId>) {
    let tenant_hint = sub
        .notes
        .as_ref()
        // Razorpay sends empty notes as `[]`; `get` on an array is `None`.
        .and_then(|notes| notes.get(TENANT_NOTE))
        .and_then(serde_json::Value::as_str)
        .and_then(|tenant| TenantId::parse(tenant).ok());
    let plan = sub
        .plan_id
        .as_deref()
        .and_then(|plan_id| catalog.plan_for_price(Provider::Razorpay, plan_id))
        .map(|plan| plan.code.clone());
    // `customer_id` is filled once the customer completes the authorization
    // transaction, i.e. before any event we act on. Should one arrive
    // without it, the subscription id stands in: an empty id would be one
    // customer shared by every tenant in the id mapping.
    let customer_id = sub
        .customer_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| sub.id.clone());
    let snapshot = SubscriptionSnapshot {
        customer_id,
        status: map_status(&sub.status),
        provider_status: sub.status,
        plan,
        price_id: sub.plan_id,
        current_period_start: sub.current_start.map(UnixTime),
        current_period_end: sub.current_end.map(UnixTime),
        // Razorpay's entity has no documented field for a cancellation
        // scheduled at cycle end: the subscription stays `active` until
        // `subscription.cancelled` arrives when the cycle ends.
        cancel_at_period_end: false,
        cancel_at: None,
        // "when the subscription was completed or was cancelled".
        canceled_at: sub.ended_at.map(UnixTime),
        // Our subscriptions start at authorization: no trial period.
        trial_end: None,
        // Razorpay's default quantity.
        seats: sub.quantity.unwrap_or(1),
        subscription_id: sub.id,
    };
    (snapshot, tenant_hint)
}

/// Razorpay's subscription statuses (see the table in the module docs of
/// `razorpay`). One we do not know grants nothing (`Incomplete`) until
/// someone looks; the original string stays in `provider_status`.
pub fn map_status(status: &str) -> SubscriptionStatus {
    match status {
        "created" | "authenticated" => SubscriptionStatus::Incomplete,
        "active" => SubscriptionStatus::Active,
        "pending" => SubscriptionStatus::PastDue,
        "halted" => SubscriptionStatus::Unpaid,
        "cancelled" | "completed" => SubscriptionStatus::Canceled,
        "expired" => SubscriptionStatus::IncompleteExpired,
        "paused" => SubscriptionStatus::Paused,
        _ => SubscriptionStatus::Incomplete,
    }
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    created_at: i64,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct SubscriptionEntity {
    id: String,
    plan_id: Option<String>,
    customer_id: Option<String>,
    status: String,
    current_start: Option<i64>,
    current_end: Option<i64>,
    ended_at: Option<i64>,
    /// Beyond `u32` the entity does not fit and is refused as malformed.
    quantity: Option<u32>,
    /// An object of strings, or `[]` when empty.
    notes: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_maps_as_the_table_says() {
        let expected = [
            ("created", SubscriptionStatus::Incomplete),
            ("authenticated", SubscriptionStatus::Incomplete),
            ("active", SubscriptionStatus::Active),
            ("pending", SubscriptionStatus::PastDue),
            ("halted", SubscriptionStatus::Unpaid),
            ("cancelled", SubscriptionStatus::Canceled),
            ("completed", SubscriptionStatus::Canceled),
            ("expired", SubscriptionStatus::IncompleteExpired),
            ("paused", SubscriptionStatus::Paused),
        ];
        assert_eq!(
            expected.map(|(status, _)| status),
            RAZORPAY_STATUSES,
            "the table covers every documented status, in order"
        );
        for (status, internal) in expected {
            assert_eq!(map_status(status), internal, "{status}");
        }
    }

    #[test]
    fn only_active_grants_full_access_and_only_ended_statuses_are_not_live() {
        for status in RAZORPAY_STATUSES {
            let internal = map_status(status);
            let live = matches!(status, "active" | "pending" | "halted" | "paused");
            assert_eq!(internal.is_live(), live, "{status}");
        }
    }

    #[test]
    fn unknown_or_differently_cased_status_grants_no_access() {
        for status in ["some_future_status", "Active", "ACTIVE", "canceled", ""] {
            assert_eq!(
                map_status(status),
                SubscriptionStatus::Incomplete,
                "{status}"
            );
        }
    }

    #[test]
    fn every_subscribed_event_is_acted_on() {
        for event in SUBSCRIBED_EVENTS {
            assert!(SubscriptionEvent::parse(event).is_some(), "{event}");
        }
        assert_eq!(SubscriptionEvent::parse("payment.failed"), None);
        assert_eq!(SubscriptionEvent::parse("subscription.unknown"), None);
    }

    #[test]
    fn only_cancelled_and_completed_end_the_subscription() {
        let snapshot = SubscriptionSnapshot {
            subscription_id: "sub_1".into(),
            customer_id: "cust_1".into(),
            status: SubscriptionStatus::Active,
            provider_status: "active".into(),
            plan: None,
            price_id: None,
            current_period_start: None,
            current_period_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            trial_end: None,
            seats: 1,
        };
        for event in SUBSCRIBED_EVENTS {
            let kind = SubscriptionEvent::parse(event).map(|e| e.kind(snapshot.clone()));
            let ends = matches!(kind, Some(EventKind::SubscriptionDeleted { .. }));
            let expect_end = matches!(event, "subscription.cancelled" | "subscription.completed");
            assert_eq!(ends, expect_end, "{event}");
        }
    }
}
