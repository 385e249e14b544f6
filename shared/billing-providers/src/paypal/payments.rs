//! The payment a PayPal event reports: `PAYMENT.SALE.COMPLETED` is a
//! subscription cycle's captured sale (the sale id is the attempt's id; the
//! invoice we issue bills it), `BILLING.SUBSCRIPTION.PAYMENT.FAILED` a
//! failed charge (it names no object of its own, so the event id stands
//! for the attempt) with PayPal's `reason_code`. PayPal says only that the
//! buyer paid through PayPal, so the method is the PayPal wallet.

use crate::payments::{from_invoice, Attempt};
use billing_domain::ledger::{MethodKind, MethodSummary, PaymentFacts};
use billing_domain::InvoiceDetails;

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
