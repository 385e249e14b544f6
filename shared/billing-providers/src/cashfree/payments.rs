//! The payment a Cashfree subscription payment event reports: a `CHARGE`
//! that succeeded (the one we invoice) or failed, by `cf_payment_id`, at
//! its scheduled date (the same on every retry of the notification). The
//! mandate's `AUTH` payment is the authorization, not a charge, and is not
//! logged. Cashfree's subscription payment notifications name no method
//! or decline code in the fields we read.

use crate::payments::{from_invoice, Attempt};
use billing_domain::ledger::PaymentFacts;
use billing_domain::InvoiceDetails;

/// A failed attempt's id carries its attempt number: a retry of the same
/// scheduled charge may keep the payment id, and a later success must not
/// look like a repeat of a failure.
pub(super) fn charge(details: &InvoiceDetails, paid: bool) -> Option<PaymentFacts> {
    let payment_id = if paid {
        details.invoice_id.clone()
    } else {
        format!("{}#{}", details.invoice_id, details.attempt_count.max(1))
    };
    from_invoice(
        details,
        paid,
        Attempt {
            payment_id,
            at: details.created,
            method: None,
            failure_code: None,
        },
    )
}
