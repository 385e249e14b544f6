//! The parts of Paddle Billing's notification payloads the adapter reads:
//! the notification, subscriptions and transactions with their totals,
//! line items and payment attempts. Only the fields we read; unknown ones
//! are ignored. Amounts are integer strings of the currency's lowest unit.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(super) struct Notification {
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: String,
    pub data: Value,
}

#[derive(Deserialize)]
pub(super) struct SubscriptionEntity {
    pub id: String,
    pub status: String,
    pub customer_id: String,
    #[serde(default)]
    pub items: Vec<SubscriptionItem>,
    pub current_billing_period: Option<TimePeriod>,
    pub scheduled_change: Option<ScheduledChange>,
    pub canceled_at: Option<String>,
    pub custom_data: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct SubscriptionItem {
    pub price: Option<PriceReference>,
    pub quantity: Option<u64>,
    pub trial_dates: Option<TimePeriod>,
}

impl SubscriptionItem {
    pub(super) fn price_id(&self) -> Option<&str> {
        self.price.as_ref().map(|price| price.id.as_str())
    }
}

#[derive(Deserialize)]
pub(super) struct PriceReference {
    pub id: String,
}

#[derive(Deserialize)]
pub(super) struct TimePeriod {
    pub starts_at: String,
    pub ends_at: String,
}

#[derive(Deserialize)]
pub(super) struct ScheduledChange {
    pub action: String,
    pub effective_at: String,
}

#[derive(Deserialize)]
pub(super) struct TransactionEntity {
    pub id: String,
    pub origin: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub currency_code: Option<String>,
    pub created_at: String,
    pub details: Option<TransactionDetails>,
    #[serde(default)]
    pub items: Vec<TransactionItem>,
    #[serde(default)]
    pub payments: Vec<PaymentAttempt>,
    pub custom_data: Option<Value>,
    pub billing_period: Option<TimePeriod>,
    pub billed_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TransactionItem {
    pub price: Option<PriceReference>,
    pub price_id: Option<String>,
}

impl TransactionItem {
    pub(super) fn price_id(&self) -> Option<&str> {
        self.price
            .as_ref()
            .map(|price| price.id.as_str())
            .or(self.price_id.as_deref())
    }
}

#[derive(Deserialize)]
pub(super) struct TransactionDetails {
    pub totals: TransactionTotals,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
}

#[derive(Deserialize)]
pub(super) struct TransactionTotals {
    pub total: String,
    pub tax: Option<String>,
    pub grand_total: Option<String>,
    pub balance: Option<String>,
    pub currency_code: Option<String>,
}

/// One payment attempt of a transaction, newest first.
#[derive(Deserialize)]
pub(super) struct PaymentAttempt {
    pub payment_attempt_id: String,
    pub status: String,
    pub error_code: Option<String>,
    pub method_details: Option<MethodDetails>,
    pub created_at: String,
    pub captured_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MethodDetails {
    #[serde(rename = "type")]
    pub kind: String,
    pub card: Option<CardDetails>,
}

#[derive(Deserialize)]
pub(super) struct CardDetails {
    #[serde(rename = "type")]
    pub brand: Option<String>,
    pub last4: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct LineItem {
    pub quantity: Option<u64>,
    pub proration: Option<Value>,
    pub totals: Option<LineTotals>,
    pub product: Option<Product>,
}

#[derive(Deserialize)]
pub(super) struct LineTotals {
    pub subtotal: String,
}

#[derive(Deserialize)]
pub(super) struct Product {
    pub name: Option<String>,
}

/// An adjustment: a refund, credit or chargeback of a billed transaction.
#[derive(Deserialize)]
pub(super) struct AdjustmentEntity {
    pub id: String,
    /// `refund`, `credit`, `chargeback`, `chargeback_warning`, ...
    pub action: String,
    /// `pending_approval`, `approved`, `rejected`, `reversed`.
    pub status: String,
    pub transaction_id: String,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub currency_code: String,
    pub totals: AdjustmentTotals,
    pub created_at: String,
}

#[derive(Deserialize)]
pub(super) struct AdjustmentTotals {
    /// Tax included, lowest unit, as a string.
    pub total: String,
}
