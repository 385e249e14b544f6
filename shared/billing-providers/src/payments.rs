//! Payment facts for providers whose payment events say no more than the
//! invoice outcome already does (PayPal, Cashfree): the attempt's id and
//! time, the amount, and the method and failure reason where known. No
//! provider tax: our rules split the amount.

use billing_domain::ledger::{MethodSummary, PaymentFacts, PaymentStatus};
use billing_domain::{InvoiceDetails, UnixTime};

pub(crate) struct Attempt {
    pub payment_id: String,
    pub at: UnixTime,
    pub method: Option<MethodSummary>,
    pub failure_code: Option<String>,
}

/// The payment of `details`; a paid invoice of nothing collected nothing
/// and is no payment.
pub(crate) fn from_invoice(
    details: &InvoiceDetails,
    paid: bool,
    attempt: Attempt,
) -> Option<PaymentFacts> {
    let (status, amount) = if paid {
        (PaymentStatus::Success, details.amount_paid.clone())
    } else {
        (PaymentStatus::Failed, details.amount_due.clone())
    };
    if paid && amount.amount_minor <= 0 {
        return None;
    }
    Some(PaymentFacts {
        source_id: Some(details.invoice_id.clone()),
        method: attempt.method,
        failure_code: if paid { None } else { attempt.failure_code },
        ..PaymentFacts::new(attempt.payment_id, status, amount, attempt.at)
    })
}
