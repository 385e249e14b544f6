//! Plan and seat changes on Paddle, their preview, and undoing a scheduled
//! cancellation (`Paddle-Version: 1`):
//!
//! - change now: `PATCH /subscriptions/{id}` with the **full** `items` list
//!   (an item left out is removed; ours have one) and the required
//!   `proration_billing_mode`, `prorated_immediately`: the difference is
//!   charged now, to the minute;
//! - preview: `PATCH /subscriptions/{id}/preview` with the same body; the
//!   amount now is `immediate_transaction.details.totals.grand_total` (the
//!   prorated lines are its `line_items`), the next invoice
//!   `next_transaction`;
//! - resume: `PATCH /subscriptions/{id}` with `scheduled_change: null`, the
//!   only value Paddle accepts there.
//!
//! Paddle has no scheduled item change, so a change at period end is
//! refused (`Capabilities::change_at_period_end` is false) rather than kept
//! and replayed by us.

use super::PaddleGateway;
use crate::timestamps::rfc3339_seconds;
use billing_domain::ports::{ChangePreview, PlanChange, PreviewLine, ProviderError};
use billing_domain::{ChangeTiming, Provider, UnixTime};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct UpdateItems<'a> {
    items: [Item<'a>; 1],
    proration_billing_mode: &'static str,
}

#[derive(Serialize)]
struct Item<'a> {
    price_id: &'a str,
    quantity: u32,
}

/// `{"scheduled_change": null}`: serialized with the null.
#[derive(Serialize)]
struct ClearScheduledChange {
    scheduled_change: Option<()>,
}

#[derive(Deserialize)]
struct Preview {
    currency_code: String,
    immediate_transaction: Option<Transaction>,
    next_transaction: Option<Transaction>,
}

#[derive(Deserialize)]
struct Transaction {
    billing_period: Option<Period>,
    details: Details,
}

#[derive(Deserialize)]
struct Period {
    starts_at: String,
    ends_at: String,
}

#[derive(Deserialize)]
struct Details {
    totals: Totals,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

/// Paddle's amounts: strings of integer minor units.
#[derive(Deserialize)]
struct Totals {
    total: String,
    grand_total: Option<String>,
    tax: Option<String>,
}

#[derive(Deserialize)]
struct LineItem {
    totals: Totals,
    product: Option<Product>,
    proration: Option<Proration>,
}

#[derive(Deserialize)]
struct Product {
    name: String,
}

#[derive(Deserialize)]
struct Proration {
    billing_period: Period,
}

fn unexpected(message: String) -> ProviderError {
    ProviderError::UnexpectedResponse {
        provider: Provider::Paddle,
        message,
    }
}

fn minor(amount: &str) -> Result<i64, ProviderError> {
    amount
        .parse()
        .map_err(|_| unexpected(format!("amount {amount:?} is not integer minor units")))
}

fn time(text: &str) -> Result<UnixTime, ProviderError> {
    rfc3339_seconds(text)
        .map(UnixTime)
        .ok_or_else(|| unexpected(format!("time {text:?} is not RFC 3339")))
}

impl PaddleGateway {
    fn body(change: &PlanChange) -> Result<UpdateItems<'_>, ProviderError> {
        if change.timing == ChangeTiming::PeriodEnd {
            return Err(ProviderError::Unsupported {
                provider: Provider::Paddle,
                operation: "changing the plan at period end",
            });
        }
        Ok(UpdateItems {
            items: [Item {
                price_id: &change.price_id,
                quantity: change.seats,
            }],
            proration_billing_mode: "prorated_immediately",
        })
    }

    pub(super) async fn change(&self, change: &PlanChange) -> Result<(), ProviderError> {
        let body = Self::body(change)?;
        let _: IgnoredAny = self
            .patch(&["subscriptions", &change.subscription_id], &body)
            .await?;
        Ok(())
    }

    pub(super) async fn preview(
        &self,
        change: &PlanChange,
    ) -> Result<ChangePreview, ProviderError> {
        let body = Self::body(change)?;
        let preview: Preview = self
            .patch(
                &["subscriptions", &change.subscription_id, "preview"],
                &body,
            )
            .await?;
        let (due_now, tax, lines) = match &preview.immediate_transaction {
            None => (0, None, Vec::new()),
            Some(now) => {
                let totals = &now.details.totals;
                let due = minor(totals.grand_total.as_deref().unwrap_or(&totals.total))?;
                let tax = totals.tax.as_deref().map(minor).transpose()?;
                let mut lines = Vec::new();
                for item in &now.details.line_items {
                    let Some(proration) = &item.proration else {
                        continue;
                    };
                    lines.push(PreviewLine {
                        description: item
                            .product
                            .as_ref()
                            .map_or_else(String::new, |p| p.name.clone()),
                        amount_minor: minor(&item.totals.total)?,
                        proration: true,
                        period_start: time(&proration.billing_period.starts_at)?,
                        period_end: time(&proration.billing_period.ends_at)?,
                    });
                }
                (due, tax, lines)
            }
        };
        let next = preview
            .next_transaction
            .as_ref()
            .ok_or_else(|| unexpected("the preview has no next transaction".into()))?;
        let next_date = match &next.billing_period {
            Some(period) => time(&period.starts_at)?,
            None => change
                .current_period_end
                .ok_or_else(|| unexpected("the next transaction has no billing period".into()))?,
        };
        Ok(ChangePreview {
            currency: preview.currency_code.to_ascii_lowercase(),
            amount_due_now_minor: due_now,
            // Paddle prorates to the minute at the time of the call.
            proration_date: None,
            lines,
            next_invoice_amount_minor: minor(
                next.details
                    .totals
                    .grand_total
                    .as_deref()
                    .unwrap_or(&next.details.totals.total),
            )?,
            next_invoice_date: next_date,
            tax_minor: tax,
        })
    }

    pub(super) async fn drop_scheduled_change(
        &self,
        subscription_id: &str,
    ) -> Result<(), ProviderError> {
        let _: IgnoredAny = self
            .patch(
                &["subscriptions", subscription_id],
                &ClearScheduledChange {
                    scheduled_change: None,
                },
            )
            .await?;
        Ok(())
    }
}
