//! The payment a Paddle transaction event reports. `transaction.completed`
//! is the success we invoice, checkout or renewal alike (one per
//! transaction, so the transaction id is the attempt's id; the
//! `transaction.paid` before it reports nothing, so a transaction is never
//! logged twice). `transaction.payment_failed` reports its newest failed
//! attempt, by `payment_attempt_id`.
//!
//! An approved `refund`, `credit` or `chargeback` adjustment gives money
//! back on a transaction: our credit note for it (by adjustment id, at its
//! creation, so its `created` and `updated` events are one refund). One
//! pending approval, rejected or a warning credits nothing.
//!
//! Paddle is the merchant of record and always computes tax: its
//! `details.totals.tax` is the invoice's tax. Lines come from
//! `details.line_items` (product name, quantity, subtotal, proration).

use super::events::{minor_units, time};
use super::wire::{AdjustmentEntity, PaymentAttempt, TransactionEntity};
use billing_domain::ledger::{ChargeLine, MethodKind, MethodSummary, PaymentFacts, PaymentStatus};
use billing_domain::ports::WebhookError;
use billing_domain::{InvoiceDetails, Money, UnixTime};

fn method(attempt: &PaymentAttempt) -> Option<MethodSummary> {
    let details = attempt.method_details.as_ref()?;
    let kind = match details.kind.as_str() {
        "card" => MethodKind::Card,
        "apple_pay" | "google_pay" | "paypal" | "alipay" => MethodKind::Wallet,
        "bancontact" | "ideal" | "wire_transfer" => MethodKind::Bank,
        _ => MethodKind::Other,
    };
    let card = details.card.as_ref();
    Some(MethodSummary {
        kind,
        brand: card
            .and_then(|c| c.brand.clone())
            .or_else(|| (kind == MethodKind::Wallet).then(|| details.kind.clone())),
        last4: card.and_then(|c| c.last4.clone()),
    })
}

/// The completed transaction's payment; `invoice` holds its amounts.
pub(super) fn completed(
    transaction: &TransactionEntity,
    invoice: &InvoiceDetails,
) -> Result<Option<PaymentFacts>, WebhookError> {
    if invoice.amount_paid.amount_minor <= 0 {
        return Ok(None);
    }
    let captured = transaction.payments.iter().find(|p| p.status == "captured");
    let at = match captured.and_then(|p| p.captured_at.as_deref()) {
        Some(at) => time(at, "transaction: captured_at")?,
        None => match transaction.billed_at.as_deref() {
            Some(at) => time(at, "transaction: billed_at")?,
            None => invoice.created.seconds(),
        },
    };
    let mut facts = facts(transaction, invoice, PaymentStatus::Success, UnixTime(at))?;
    facts.payment_id = transaction.id.clone();
    facts.amount = invoice.amount_paid.clone();
    facts.method = captured.and_then(method);
    Ok(Some(facts))
}

pub(super) fn failed(
    transaction: &TransactionEntity,
    invoice: &InvoiceDetails,
) -> Result<PaymentFacts, WebhookError> {
    let attempt = transaction.payments.iter().find(|p| p.status != "captured");
    let at = match attempt {
        Some(a) => UnixTime(time(&a.created_at, "transaction: payment created_at")?),
        None => invoice.created,
    };
    let mut facts = facts(transaction, invoice, PaymentStatus::Failed, at)?;
    facts.payment_id = match attempt {
        Some(a) => a.payment_attempt_id.clone(),
        None => format!("{}#{}", transaction.id, transaction.payments.len()),
    };
    facts.amount = invoice.amount_due.clone();
    facts.method = attempt.and_then(method);
    facts.failure_code = attempt.and_then(|a| a.error_code.clone());
    Ok(facts)
}

fn facts(
    transaction: &TransactionEntity,
    invoice: &InvoiceDetails,
    status: PaymentStatus,
    at: UnixTime,
) -> Result<PaymentFacts, WebhookError> {
    let details = transaction.details.as_ref();
    let tax = details
        .and_then(|d| d.totals.tax.as_deref())
        .map(|tax| minor_units(tax, "tax"))
        .transpose()?;
    let mut lines = Vec::new();
    for item in details.map(|d| d.line_items.as_slice()).unwrap_or_default() {
        let amount = match &item.totals {
            Some(totals) => minor_units(&totals.subtotal, "line_items.totals.subtotal")?,
            None => continue,
        };
        lines.push(ChargeLine {
            description: item
                .product
                .as_ref()
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| "Subscription".into()),
            quantity: item
                .quantity
                .and_then(|q| u32::try_from(q).ok())
                .unwrap_or(1),
            amount_minor: amount,
            proration: item.proration.as_ref().is_some_and(|p| !p.is_null()),
            period_start: None,
            period_end: None,
        });
    }
    let period = transaction.billing_period.as_ref();
    Ok(PaymentFacts {
        payment_id: transaction.id.clone(),
        refund_of: None,
        status,
        amount: invoice.amount_paid.clone(),
        tax_minor: tax,
        source_id: Some(transaction.id.clone()),
        at,
        method: None,
        failure_code: None,
        period_start: period
            .map(|p| time(&p.starts_at, "transaction: billing_period"))
            .transpose()?
            .map(UnixTime),
        period_end: period
            .map(|p| time(&p.ends_at, "transaction: billing_period"))
            .transpose()?
            .map(UnixTime),
        plan: None,
        seats: None,
        lines,
    })
}

pub(super) fn adjusted(
    adjustment: &AdjustmentEntity,
) -> Result<Option<PaymentFacts>, WebhookError> {
    let gives_back = matches!(
        adjustment.action.as_str(),
        "refund" | "credit" | "chargeback"
    );
    if !gives_back || adjustment.status != "approved" {
        return Ok(None);
    }
    let total = minor_units(&adjustment.totals.total, "adjustment totals.total")?;
    let at = time(&adjustment.created_at, "adjustment: created_at")?;
    Ok(Some(PaymentFacts {
        refund_of: Some(adjustment.transaction_id.clone()),
        source_id: Some(adjustment.id.clone()),
        ..PaymentFacts::new(
            adjustment.id.clone(),
            PaymentStatus::Refunded,
            Money::new(total.abs(), &adjustment.currency_code),
            UnixTime(at),
        )
    }))
}
