//! The payment an `invoice.*` event reports, for our payments log and
//! invoice: `invoice.paid` is the success (one per Stripe invoice, so the
//! invoice id is the attempt's id), `invoice.payment_failed` one failed
//! attempt (the invoice id and its attempt number). A paid invoice of zero
//! (a trial's first invoice) collected nothing and is no payment. A
//! `credit_note.created` for a paid invoice (`post_payment`) gives money
//! back on it: our credit note. (A `charge.refunded` names no invoice since
//! basil, so the credit note is what we follow.)
//!
//! The figures: `amount_paid`, and Stripe Tax's `total_taxes` when it
//! computed any (otherwise our own rules split the amount); the lines with
//! their periods and proration flags. The card is not in the invoice since
//! basil (it sits on the expanded `payments`), so none is recorded.

use super::wire::{CreditNoteObject, InvoiceObject};
use billing_domain::ledger::{ChargeLine, PaymentFacts, PaymentStatus};
use billing_domain::{Money, UnixTime};

pub(super) fn paid(invoice: &InvoiceObject, event_created: i64) -> Option<PaymentFacts> {
    if invoice.amount_paid <= 0 {
        return None;
    }
    let paid_at = invoice
        .status_transitions
        .as_ref()
        .and_then(|t| t.paid_at)
        .unwrap_or(event_created);
    Some(facts(
        invoice,
        invoice.id.clone(),
        PaymentStatus::Success,
        invoice.amount_paid,
        paid_at,
    ))
}

/// The decline code sits on the PaymentIntent, not the invoice, so the log
/// records none for Stripe.
pub(super) fn failed(invoice: &InvoiceObject, event_created: i64) -> PaymentFacts {
    facts(
        invoice,
        format!("{}#{}", invoice.id, invoice.attempt_count.max(1)),
        PaymentStatus::Failed,
        invoice.amount_due,
        event_created,
    )
}

fn facts(
    invoice: &InvoiceObject,
    payment_id: String,
    status: PaymentStatus,
    amount: i64,
    at: i64,
) -> PaymentFacts {
    let tax = invoice
        .total_taxes
        .as_ref()
        .filter(|taxes| !taxes.is_empty())
        .map(|taxes| taxes.iter().map(|t| t.amount).sum());
    let lines: Vec<ChargeLine> = invoice
        .lines
        .as_ref()
        .map(|l| l.data.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|line| ChargeLine {
            description: line
                .description
                .clone()
                .unwrap_or_else(|| "Subscription".into()),
            quantity: line.quantity.unwrap_or(1),
            amount_minor: line.amount,
            proration: line.is_proration(),
            period_start: Some(UnixTime(line.period.start)),
            period_end: Some(UnixTime(line.period.end)),
        })
        .collect();
    // The period billed: the lines' span (an invoice's own period_start and
    // period_end name the previous period for advance billing).
    let period_start = lines.iter().filter_map(|l| l.period_start).min();
    let period_end = lines.iter().filter_map(|l| l.period_end).max();
    PaymentFacts {
        payment_id,
        refund_of: None,
        status,
        amount: Money::new(amount, &invoice.currency),
        tax_minor: tax,
        source_id: Some(invoice.id.clone()),
        at: UnixTime(at),
        method: None,
        failure_code: None,
        period_start,
        period_end,
        plan: None,
        seats: None,
        lines,
    }
}

/// The credit of a paid invoice; `None` for one issued before payment
/// (it lowered what was due, and our invoice shows what was paid).
pub(super) fn credited(note: &CreditNoteObject) -> Option<PaymentFacts> {
    if note.kind.as_deref() == Some("pre_payment") || note.total <= 0 {
        return None;
    }
    Some(PaymentFacts {
        refund_of: Some(note.invoice.id().to_owned()),
        source_id: Some(note.id.clone()),
        ..PaymentFacts::new(
            note.id.clone(),
            PaymentStatus::Refunded,
            Money::new(note.total, &note.currency),
            UnixTime(note.created),
        )
    })
}
