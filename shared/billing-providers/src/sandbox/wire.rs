//! The sandbox provider's JSON wire format, shared by the adapter in this
//! crate and the fake provider (`billing-sandbox`), so the two cannot drift
//! apart: webhook events and the objects they carry, and the requests and
//! responses of its API under `/sandbox/v1/`.
//!
//! Events look like `{"id": "evt_…", "type": "…", "created": <unix s>,
//! "data": {...}}`, where `data` is the object the event is about. Reading
//! is lenient where a newer fake might add something (unknown fields and
//! event types are ignored, a status is kept as its string) and strict where
//! our state depends on it (ids, times, amounts).

use serde::{Deserialize, Serialize};

/// Creates a customer: [`CreateCustomerRequest`] → [`CustomerObject`].
pub const CUSTOMERS_PATH: &str = "/sandbox/v1/customers";
/// Creates a hosted checkout: [`CreateCheckoutSessionRequest`] → [`HostedSessionObject`].
pub const CHECKOUT_SESSIONS_PATH: &str = "/sandbox/v1/checkout_sessions";
/// Creates a customer portal session: [`CreatePortalSessionRequest`] → [`HostedSessionObject`].
pub const PORTAL_SESSIONS_PATH: &str = "/sandbox/v1/portal_sessions";
/// `POST {SUBSCRIPTIONS_PATH}/{id}/cancel` with [`CancelSubscriptionRequest`];
/// `/{id}/resume` and `/{id}/advance` with [`EmptyRequest`]; `/{id}/change`
/// with [`ChangeSubscriptionRequest`]; `/{id}/preview` with the same body →
/// [`PreviewObject`]. Each but the preview answers [`SubscriptionObject`].
pub const SUBSCRIPTIONS_PATH: &str = "/sandbox/v1/subscriptions";
/// Creates a hosted add-a-card page: [`CreateSetupSessionRequest`] → [`HostedSessionObject`].
pub const SETUP_SESSIONS_PATH: &str = "/sandbox/v1/setup_sessions";
/// `POST {PAYMENT_METHODS_PATH}/{id}/detach` with [`EmptyRequest`] → [`PaymentMethodObject`].
/// A customer's cards: `GET {CUSTOMERS_PATH}/{id}/payment_methods` →
/// [`PaymentMethodListObject`], and `POST {CUSTOMERS_PATH}/{id}/default_payment_method`
/// with [`SetDefaultPaymentMethodRequest`] → the same list.
pub const PAYMENT_METHODS_PATH: &str = "/sandbox/v1/payment_methods";

// ---------- Events ----------

/// The event types the sandbox sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxEventType {
    /// `data`: [`CheckoutSessionObject`]. Sent only for a paid checkout.
    CheckoutCompleted,
    /// `data`: [`SubscriptionObject`].
    SubscriptionCreated,
    /// `data`: [`SubscriptionObject`].
    SubscriptionUpdated,
    /// `data`: [`SubscriptionObject`]; the subscription has ended.
    SubscriptionCanceled,
    /// `data`: [`InvoiceObject`].
    InvoicePaid,
    /// `data`: [`InvoiceObject`].
    InvoicePaymentFailed,
    /// `data`: [`PaymentMethodObject`]; a card was saved.
    PaymentMethodAttached,
}

impl SandboxEventType {
    pub const ALL: [SandboxEventType; 7] = [
        SandboxEventType::CheckoutCompleted,
        SandboxEventType::SubscriptionCreated,
        SandboxEventType::SubscriptionUpdated,
        SandboxEventType::SubscriptionCanceled,
        SandboxEventType::InvoicePaid,
        SandboxEventType::InvoicePaymentFailed,
        SandboxEventType::PaymentMethodAttached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SandboxEventType::CheckoutCompleted => "checkout.completed",
            SandboxEventType::SubscriptionCreated => "subscription.created",
            SandboxEventType::SubscriptionUpdated => "subscription.updated",
            SandboxEventType::SubscriptionCanceled => "subscription.canceled",
            SandboxEventType::InvoicePaid => "invoice.paid",
            SandboxEventType::InvoicePaymentFailed => "invoice.payment_failed",
            SandboxEventType::PaymentMethodAttached => "payment_method.attached",
        }
    }

    /// `None` for a type this version does not know.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

/// One webhook event. `D` is the object in `data`: a typed object when the
/// fake builds an event, raw JSON when the adapter reads one (whose type it
/// only learns from `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxEvent<D = serde_json::Value> {
    /// `evt_…`; the same value travels in the `webhook-id` header.
    pub id: String,
    /// A [`SandboxEventType`] string; kept as a string so an unknown type
    /// still reads.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened, Unix seconds. Strictly increasing per customer
    /// between actions; the events of one action share a second and rely on
    /// the domain's same-second precedence of event kinds.
    pub created: i64,
    pub data: D,
}

impl<D> SandboxEvent<D> {
    pub fn new(id: impl Into<String>, event_type: SandboxEventType, created: i64, data: D) -> Self {
        Self {
            id: id.into(),
            event_type: event_type.as_str().to_owned(),
            created,
            data,
        }
    }
}

/// A subscription's status at the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxStatus {
    /// Created, first payment not made (declined card).
    Incomplete,
    Active,
    /// A renewal failed; the provider is still retrying.
    PastDue,
    /// Retries ran out; the subscription stays but is not paid.
    Unpaid,
    Canceled,
}

impl SandboxStatus {
    pub const ALL: [SandboxStatus; 5] = [
        SandboxStatus::Incomplete,
        SandboxStatus::Active,
        SandboxStatus::PastDue,
        SandboxStatus::Unpaid,
        SandboxStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SandboxStatus::Incomplete => "incomplete",
            SandboxStatus::Active => "active",
            SandboxStatus::PastDue => "past_due",
            SandboxStatus::Unpaid => "unpaid",
            SandboxStatus::Canceled => "canceled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// `checkout.completed` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSessionObject {
    /// `cs_…`
    pub id: String,
    pub customer_id: String,
    /// The subscription the checkout created.
    pub subscription_id: String,
    pub tenant_id: String,
    pub plan_code: String,
}

/// `subscription.*` data: the whole subscription as it is after the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionObject {
    /// `sub_…`
    pub id: String,
    pub customer_id: String,
    pub tenant_id: String,
    /// A [`SandboxStatus`] string.
    pub status: String,
    pub price_id: String,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    #[serde(default = "one")]
    pub quantity: u32,
    /// A change waiting for the period's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_change: Option<ScheduledChangeObject>,
}

fn one() -> u32 {
    1
}

/// A plan or seat change that takes effect when the current period ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChangeObject {
    pub price_id: String,
    pub quantity: u32,
    pub effective_at: i64,
}

/// A saved card: never more than brand, last four digits and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodObject {
    /// `pm_…`
    pub id: String,
    pub customer_id: String,
    pub tenant_id: String,
    /// Always `card` at the sandbox.
    #[serde(rename = "type")]
    pub kind: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
}

/// `invoice.*` data. Amounts are integer minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceObject {
    /// `in_…`
    pub id: String,
    pub customer_id: String,
    pub subscription_id: String,
    pub tenant_id: String,
    /// For a renewal, the start of the period it bills.
    pub created: i64,
    pub amount_due: i64,
    pub amount_paid: i64,
    /// Lowercase ISO 4217.
    pub currency: String,
    #[serde(default)]
    pub attempt_count: u32,
    /// What it bills: the plan, seats and period, and whether it is a
    /// proration (a plan change's charge).
    #[serde(default)]
    pub plan_code: Option<String>,
    #[serde(default)]
    pub quantity: Option<u32>,
    #[serde(default)]
    pub period_start: Option<i64>,
    #[serde(default)]
    pub period_end: Option<i64>,
    #[serde(default)]
    pub proration: bool,
    /// The card charged (or declined).
    #[serde(default)]
    pub card: Option<InvoiceCard>,
    /// Why a payment failed (`card_declined`).
    #[serde(default)]
    pub failure_code: Option<String>,
}

/// The card an invoice was charged to: brand and last four digits only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceCard {
    pub brand: String,
    pub last4: String,
}

// ---------- API ----------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCustomerRequest {
    pub tenant_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerObject {
    /// `cus_…`
    pub id: String,
    pub tenant_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCheckoutSessionRequest {
    pub customer_id: String,
    pub tenant_id: String,
    pub plan_code: String,
    /// The plan's sandbox price id from the catalog.
    pub price_id: String,
    /// Where the hosted page returns after any outcome, with `session_id`
    /// added to its query.
    pub success_url: String,
    /// Where "Cancel and return" leads.
    pub cancel_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePortalSessionRequest {
    pub customer_id: String,
    pub return_url: String,
}

/// Cancels a subscription, at the end of its period or at once; answered
/// with the subscription as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscriptionRequest {
    pub at_period_end: bool,
}

/// A plan or seat change of a subscription, or its preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSubscriptionRequest {
    /// The new plan's sandbox price id.
    pub price_id: String,
    pub quantity: u32,
    /// `now` (prorated) or `period_end`.
    pub timing: String,
    /// For `now`: the moment proration is computed for (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proration_date: Option<i64>,
}

/// What a change would charge. Amounts are integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewObject {
    pub currency: String,
    pub amount_due_now: i64,
    pub proration_date: i64,
    pub lines: Vec<PreviewLineObject>,
    pub next_invoice_amount: i64,
    pub next_invoice_date: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewLineObject {
    pub description: String,
    pub amount: i64,
    pub proration: bool,
    pub period_start: i64,
    pub period_end: i64,
}

/// A body-less action (resume, advance, detach): `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSetupSessionRequest {
    pub customer_id: String,
    /// Where the page returns after the card is saved or the customer goes back.
    pub return_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDefaultPaymentMethodRequest {
    pub payment_method_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodListObject {
    pub data: Vec<PaymentMethodObject>,
    pub default_payment_method: Option<String>,
}

/// A created checkout or portal session: its id and hosted page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedSessionObject {
    pub id: String,
    pub url: String,
}

/// Every non-2xx API answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// Machine-readable: `unauthorized`, `invalid_request`,
    /// `resource_missing`, `idempotency_key_reused`, …
    pub code: String,
    /// For people; never echoes credentials.
    pub message: String,
}

impl ApiErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ApiErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_and_statuses_round_trip_through_their_strings() {
        for t in SandboxEventType::ALL {
            assert_eq!(SandboxEventType::parse(t.as_str()), Some(t));
        }
        for s in SandboxStatus::ALL {
            assert_eq!(SandboxStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.as_str())
            );
        }
        assert_eq!(SandboxEventType::parse("customer.created"), None);
    }

    #[test]
    fn typed_event_serializes_to_the_documented_shape() {
        let event = SandboxEvent::new(
            "evt_1",
            SandboxEventType::CheckoutCompleted,
            1_700_000_000,
            CheckoutSessionObject {
                id: "cs_1".into(),
                customer_id: "cus_1".into(),
                subscription_id: "sub_1".into(),
                tenant_id: "org_1".into(),
                plan_code: "pro".into(),
            },
        );
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({
                "id": "evt_1", "type": "checkout.completed", "created": 1_700_000_000,
                "data": {"id": "cs_1", "customer_id": "cus_1", "subscription_id": "sub_1",
                         "tenant_id": "org_1", "plan_code": "pro"}
            })
        );
    }
}
