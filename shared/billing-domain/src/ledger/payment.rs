//! Payments: what a provider's event says about one payment attempt
//! (`PaymentFacts`, carried by the normalized event), and the entry the
//! payments log keeps for it (`PaymentRecord`).

use crate::ids::{PlanCode, Provider, TenantId, UnixTime};
use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Success,
    Failed,
    /// Money given back on an earlier payment (`refund_of`): a credit note.
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Success => "success",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

/// How the customer paid, as the provider says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    Card,
    Upi,
    Wallet,
    Bank,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodSummary {
    pub kind: MethodKind,
    /// `visa`, `mastercard`, `rupay`, a wallet's name...
    pub brand: Option<String>,
    pub last4: Option<String>,
}

/// One charge on the provider's invoice or transaction, tax excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLine {
    pub description: String,
    pub quantity: u32,
    pub amount_minor: i64,
    pub proration: bool,
    pub period_start: Option<UnixTime>,
    pub period_end: Option<UnixTime>,
}

/// What one event says about one payment attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFacts {
    /// The provider's id of this attempt (a Stripe invoice and its attempt
    /// number, a Razorpay `pay_…`, a Paddle `txn_…`, a PayPal sale id...):
    /// the same attempt always has the same id, so a second event about it
    /// can never log it twice or invoice it twice.
    pub payment_id: String,
    pub status: PaymentStatus,
    /// Collected (success), attempted (failure) or given back (refund),
    /// tax included; never negative.
    pub amount: Money,
    /// The provider's tax total, when it computed tax itself.
    pub tax_minor: Option<i64>,
    /// The provider's invoice or transaction id.
    pub source_id: Option<String>,
    /// When the provider says the attempt happened.
    pub at: UnixTime,
    pub method: Option<MethodSummary>,
    pub failure_code: Option<String>,
    pub period_start: Option<UnixTime>,
    pub period_end: Option<UnixTime>,
    pub plan: Option<PlanCode>,
    pub seats: Option<u32>,
    /// The provider's charge lines, when the event lists them.
    #[serde(default)]
    pub lines: Vec<ChargeLine>,
    /// For a refund, the provider's id of the payment it gives money back
    /// on (the `payment_id` that payment was logged and invoiced under).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_of: Option<String>,
}

impl PaymentFacts {
    /// An attempt known by its id, outcome, amount and time alone; the
    /// rest is filled in where a provider says more.
    pub fn new(
        payment_id: impl Into<String>,
        status: PaymentStatus,
        amount: Money,
        at: UnixTime,
    ) -> Self {
        PaymentFacts {
            payment_id: payment_id.into(),
            status,
            amount,
            tax_minor: None,
            source_id: None,
            at,
            method: None,
            failure_code: None,
            period_start: None,
            period_end: None,
            plan: None,
            seats: None,
            lines: Vec::new(),
            refund_of: None,
        }
    }
}

/// The payments log's entry for one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub tenant_id: TenantId,
    pub provider: Provider,
    pub payment_id: String,
    pub status: PaymentStatus,
    pub amount: Money,
    pub method: Option<MethodSummary>,
    pub failure_code: Option<String>,
    pub at: UnixTime,
    pub source_id: Option<String>,
    /// Our invoice for a successful payment.
    pub invoice_id: Option<String>,
    /// The event that brought it, for support.
    pub event_id: String,
}

impl PaymentRecord {
    pub fn new(
        tenant: &TenantId,
        provider: Provider,
        event_id: &str,
        facts: &PaymentFacts,
        invoice_id: Option<String>,
    ) -> PaymentRecord {
        PaymentRecord {
            tenant_id: tenant.clone(),
            provider,
            payment_id: facts.payment_id.clone(),
            status: facts.status,
            amount: facts.amount.clone(),
            method: facts.method.clone(),
            failure_code: facts.failure_code.clone(),
            at: facts.at,
            source_id: facts.source_id.clone(),
            invoice_id,
            event_id: event_id.to_owned(),
        }
    }
}
