//! The payment an `invoice.*` sandbox event reports: `invoice.paid` is the
//! success (the invoice id is the attempt's id), `invoice.payment_failed`
//! one declined attempt (the invoice id and attempt number). The sandbox
//! says which card it charged, the plan, seats and period, and why a card
//! was declined; it computes no tax, so our rules split the amount.

use super::wire::InvoiceObject;
use billing_domain::ledger::{ChargeLine, MethodKind, MethodSummary, PaymentFacts, PaymentStatus};
use billing_domain::{Money, PlanCode, UnixTime};

pub(super) fn facts(
    invoice: &InvoiceObject,
    paid: bool,
    event_created: i64,
) -> Option<PaymentFacts> {
    let (payment_id, status, amount) = if paid {
        (
            invoice.id.clone(),
            PaymentStatus::Success,
            invoice.amount_paid,
        )
    } else {
        (
            format!("{}#{}", invoice.id, invoice.attempt_count.max(1)),
            PaymentStatus::Failed,
            invoice.amount_due,
        )
    };
    // A paid invoice of nothing collected nothing: no payment to log.
    if paid && amount <= 0 {
        return None;
    }
    let plan = invoice
        .plan_code
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(PlanCode::new);
    let quantity = invoice.quantity.unwrap_or(1);
    let description = match (&plan, invoice.proration) {
        (Some(plan), true) => format!("{plan} × {quantity}, prorated for the rest of the period"),
        (Some(plan), false) => format!("{plan} × {quantity}"),
        (None, _) => "Subscription".to_owned(),
    };
    Some(PaymentFacts {
        payment_id,
        refund_of: None,
        status,
        amount: Money::new(amount, &invoice.currency),
        tax_minor: None,
        source_id: Some(invoice.id.clone()),
        at: UnixTime(event_created),
        method: invoice.card.as_ref().map(|card| MethodSummary {
            kind: MethodKind::Card,
            brand: Some(card.brand.clone()),
            last4: Some(card.last4.clone()),
        }),
        failure_code: if paid {
            None
        } else {
            invoice.failure_code.clone()
        },
        period_start: invoice.period_start.map(UnixTime),
        period_end: invoice.period_end.map(UnixTime),
        lines: vec![ChargeLine {
            description,
            quantity,
            amount_minor: invoice.amount_due,
            proration: invoice.proration,
            period_start: invoice.period_start.map(UnixTime),
            period_end: invoice.period_end.map(UnixTime),
        }],
        plan,
        seats: invoice.quantity,
    })
}
