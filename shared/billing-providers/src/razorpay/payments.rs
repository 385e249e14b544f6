//! The payment a Razorpay event reports: `subscription.charged` carries the
//! captured payment of a billing cycle (the success we invoice),
//! `payment.failed` a failed attempt, and `refund.processed` money given
//! back on a payment (our credit note). The payment entity's own `tax` is GST
//! on Razorpay's fee, not tax the customer paid, so it is not used: our
//! rules split the amount. Of the method, only its kind and the wallet or
//! bank name are kept; a card's network needs the card entity, and a UPI
//! address is personal data.

use billing_domain::ledger::{MethodKind, MethodSummary, PaymentFacts, PaymentStatus};
use billing_domain::{Money, SubscriptionSnapshot, UnixTime};
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct PaymentEntity {
    id: String,
    /// Integer paise (or the currency's minor unit).
    amount: i64,
    currency: String,
    invoice_id: Option<String>,
    customer_id: Option<String>,
    method: Option<String>,
    bank: Option<String>,
    wallet: Option<String>,
    error_code: Option<String>,
    error_reason: Option<String>,
    created_at: i64,
}

/// A processed refund (`payload.refund.entity`).
#[derive(Deserialize)]
pub(super) struct RefundEntity {
    id: String,
    amount: i64,
    currency: String,
    payment_id: String,
    created_at: i64,
}

pub(super) fn refunded(refund: &RefundEntity) -> PaymentFacts {
    PaymentFacts {
        refund_of: Some(refund.payment_id.clone()),
        source_id: Some(refund.id.clone()),
        ..PaymentFacts::new(
            refund.id.clone(),
            PaymentStatus::Refunded,
            Money::new(refund.amount, &refund.currency),
            UnixTime(refund.created_at),
        )
    }
}

impl PaymentEntity {
    pub(super) fn customer_id(&self) -> Option<String> {
        self.customer_id.clone().filter(|id| !id.is_empty())
    }
}

fn method(payment: &PaymentEntity) -> Option<MethodSummary> {
    let kind = match payment.method.as_deref()? {
        "card" => MethodKind::Card,
        "upi" => MethodKind::Upi,
        "wallet" => MethodKind::Wallet,
        "netbanking" | "emandate" | "nach" => MethodKind::Bank,
        _ => MethodKind::Other,
    };
    Some(MethodSummary {
        kind,
        brand: payment.wallet.clone().or_else(|| payment.bank.clone()),
        last4: None,
    })
}

/// The captured payment of `subscription.charged`, billing the cycle the
/// subscription snapshot describes.
pub(super) fn charged(payment: &PaymentEntity, snapshot: &SubscriptionSnapshot) -> PaymentFacts {
    let mut facts = facts(payment, PaymentStatus::Success);
    facts.period_start = snapshot.current_period_start;
    facts.period_end = snapshot.current_period_end;
    facts.plan = snapshot.plan.clone();
    facts.seats = Some(snapshot.seats);
    facts
}

pub(super) fn failed(payment: &PaymentEntity) -> PaymentFacts {
    let mut facts = facts(payment, PaymentStatus::Failed);
    facts.failure_code = payment
        .error_reason
        .clone()
        .or_else(|| payment.error_code.clone());
    facts
}

fn facts(payment: &PaymentEntity, status: PaymentStatus) -> PaymentFacts {
    PaymentFacts {
        source_id: payment
            .invoice_id
            .clone()
            .or_else(|| Some(payment.id.clone())),
        method: method(payment),
        ..PaymentFacts::new(
            payment.id.clone(),
            status,
            Money::new(payment.amount, &payment.currency),
            UnixTime(payment.created_at),
        )
    }
}
