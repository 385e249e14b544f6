//! The payment a PayPal event reports: `PAYMENT.SALE.COMPLETED` is a
//! subscription cycle's captured sale (the sale id is the attempt's id; the
//! invoice we issue bills it), `BILLING.SUBSCRIPTION.PAYMENT.FAILED` a
//! failed charge (it names no object of its own, so the event id stands
//! for the attempt) with PayPal's `reason_code`. PayPal says only that the
//! buyer paid through PayPal, so the method is the PayPal wallet.
//! `PAYMENT.SALE.REFUNDED` gives money back on a sale: our credit note. The
//! refund names the sale, not the subscription, so it reaches its tenant
//! through the sale's custom id when PayPal carries it (else it is parked).

use super::events::RefundResource;
use super::formats::{currency_exponent, decimal_to_minor_units, parse_rfc3339};
use crate::payments::{from_invoice, Attempt};
use billing_domain::ledger::{MethodKind, MethodSummary, PaymentFacts, PaymentStatus};
use billing_domain::ports::WebhookError;
use billing_domain::{InvoiceDetails, Money, UnixTime};

fn wallet() -> Option<MethodSummary> {
    Some(MethodSummary {
        kind: MethodKind::Wallet,
        brand: Some("paypal".into()),
        last4: None,
    })
}

pub(super) fn sale(details: &InvoiceDetails) -> Option<PaymentFacts> {
    from_invoice(
        details,
        true,
        Attempt {
            payment_id: details.invoice_id.clone(),
            at: details.created,
            method: wallet(),
            failure_code: None,
        },
    )
}

pub(super) fn failed(
    details: &InvoiceDetails,
    reason_code: Option<String>,
) -> Option<PaymentFacts> {
    from_invoice(
        details,
        false,
        Attempt {
            payment_id: details.invoice_id.clone(),
            at: details.created,
            method: wallet(),
            failure_code: reason_code,
        },
    )
}

pub(super) fn refund(
    refund: &RefundResource,
    occurred_at: i64,
) -> Result<PaymentFacts, WebhookError> {
    let exponent = currency_exponent(&refund.amount.currency);
    let amount = decimal_to_minor_units(&refund.amount.total, exponent).ok_or_else(|| {
        WebhookError::MalformedPayload("refund: amount.total is not a decimal amount".into())
    })?;
    let at = match refund.create_time.as_deref() {
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            WebhookError::MalformedPayload("refund: create_time is not an RFC 3339 time".into())
        })?,
        None => occurred_at,
    };
    Ok(PaymentFacts {
        refund_of: Some(refund.sale_id.clone()),
        source_id: Some(refund.id.clone()),
        method: wallet(),
        ..PaymentFacts::new(
            refund.id.clone(),
            PaymentStatus::Refunded,
            Money::new(amount.abs(), &refund.amount.currency),
            UnixTime(at),
        )
    })
}
