//! Plan and seat changes on Stripe, their preview, cancel and resume
//! (`Stripe-Version` 2025-07-30.basil):
//!
//! - **Change now:** `POST /v1/subscriptions/{id}` with `items[0][id]` (the
//!   item is replaced, not added), `items[0][price]`, `items[0][quantity]`,
//!   `proration_behavior=always_invoice` (the prorations are charged now),
//!   `proration_date` (the preview's moment, so the charge equals the
//!   preview) and `payment_behavior=pending_if_incomplete` (the change only
//!   takes effect once that charge is paid).
//! - **Change at period end:** a subscription schedule: `POST
//!   /v1/subscription_schedules` with `from_subscription` (no other
//!   parameter is allowed with it), then `POST
//!   /v1/subscription_schedules/{id}` with two phases: the current one,
//!   unchanged, with its `start_date` and `end_date`, and the new items for
//!   one interval, `end_behavior=release`.
//! - **Preview:** `POST /v1/invoices/create_preview` with `subscription` and
//!   `subscription_details` (items, `proration_behavior`, `proration_date`);
//!   once for what is charged now (the proration lines), and once with
//!   `preview_mode=recurring` and no prorations for the next invoice.
//! - **Cancel and resume:** `cancel_at_period_end` true or false; cancelling
//!   at once is `DELETE /v1/subscriptions/{id}`. A subscription a schedule
//!   manages refuses these, so its schedule is released first
//!   (`POST /v1/subscription_schedules/{id}/release`), which also drops a
//!   pending change at period end.
//!
//! A change's writes take idempotency keys derived from the request's key,
//! so a rerun of one request makes none of them twice. Cancel and resume
//! take a fresh key per call (our retries of that call share it): after a
//! resume, cancelling again must act again. Cancelling now is a `DELETE`,
//! which Stripe treats as idempotent.

use super::wire::{CreatedObject, PreviewInvoice, Schedule, Subscription, SubscriptionItem};
use super::StripeGateway;
use billing_domain::ports::{ChangePreview, PlanChange, PreviewLine, ProviderError};
use billing_domain::{ChangeTiming, Interval, Provider, UnixTime};

fn unexpected(message: impl Into<String>) -> ProviderError {
    ProviderError::UnexpectedResponse {
        provider: Provider::Stripe,
        message: message.into(),
    }
}

/// The single item a subscription of ours has.
fn only_item(subscription: &Subscription) -> Result<&SubscriptionItem, ProviderError> {
    match subscription.items.data.as_slice() {
        [item] => Ok(item),
        [] => Err(unexpected("the subscription has no item")),
        _ => Err(unexpected(
            "the subscription has several items; change it in the Stripe dashboard",
        )),
    }
}

fn interval(interval: Interval) -> &'static str {
    match interval {
        Interval::Month => "month",
        Interval::Year => "year",
    }
}

impl StripeGateway {
    async fn subscription(&self, id: &str) -> Result<Subscription, ProviderError> {
        self.get(&self.url(&["subscriptions", id])).await
    }

    /// Releases the schedule managing `subscription`, if any.
    async fn release_schedule(
        &self,
        subscription: &Subscription,
        key: &str,
    ) -> Result<(), ProviderError> {
        if let Some(schedule) = &subscription.schedule {
            let _: CreatedObject = self
                .post(
                    &self.url(&["subscription_schedules", schedule.id(), "release"]),
                    &[],
                    &format!("{key}:release"),
                )
                .await?;
        }
        Ok(())
    }

    pub(super) async fn change(&self, change: &PlanChange) -> Result<(), ProviderError> {
        let subscription = self.subscription(&change.subscription_id).await?;
        let item = only_item(&subscription)?;
        let key = &change.idempotency_key;
        let seats = change.seats.to_string();
        match change.timing {
            ChangeTiming::Now => {
                self.release_schedule(&subscription, key).await?;
                let proration_date = change.proration_date.map(|d| d.seconds().to_string());
                let mut form = vec![
                    ("items[0][id]", item.id.as_str()),
                    ("items[0][price]", change.price_id.as_str()),
                    ("items[0][quantity]", seats.as_str()),
                    ("proration_behavior", "always_invoice"),
                    ("payment_behavior", "pending_if_incomplete"),
                ];
                // Without one Stripe prorates at its own now, and a rerun
                // under the same key sends the same request.
                if let Some(date) = &proration_date {
                    form.push(("proration_date", date.as_str()));
                }
                let _: CreatedObject = self
                    .post(&self.url(&["subscriptions", &subscription.id]), &form, key)
                    .await?;
            }
            ChangeTiming::PeriodEnd => {
                let schedule: Schedule = match &subscription.schedule {
                    Some(existing) => {
                        self.get(&self.url(&["subscription_schedules", existing.id()]))
                            .await?
                    }
                    None => {
                        self.post(
                            &self.url(&["subscription_schedules"]),
                            &[("from_subscription", subscription.id.as_str())],
                            &format!("{key}:schedule"),
                        )
                        .await?
                    }
                };
                let current = schedule
                    .current_phase
                    .or_else(|| schedule.phases.first().copied())
                    .ok_or_else(|| unexpected("the schedule has no current phase"))?;
                let start = current.start_date.to_string();
                let end = current
                    .end_date
                    .or(item.current_period_end)
                    .ok_or_else(|| unexpected("the current phase has no end"))?
                    .to_string();
                let current_seats = item.quantity.to_string();
                let _: CreatedObject = self
                    .post(
                        &self.url(&["subscription_schedules", &schedule.id]),
                        &[
                            ("end_behavior", "release"),
                            ("proration_behavior", "none"),
                            ("phases[0][items][0][price]", item.price.id()),
                            ("phases[0][items][0][quantity]", current_seats.as_str()),
                            ("phases[0][start_date]", start.as_str()),
                            ("phases[0][end_date]", end.as_str()),
                            ("phases[1][items][0][price]", change.price_id.as_str()),
                            ("phases[1][items][0][quantity]", seats.as_str()),
                            ("phases[1][duration][interval]", interval(change.interval)),
                            ("phases[1][duration][interval_count]", "1"),
                        ],
                        &format!("{key}:phases"),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn preview(
        &self,
        change: &PlanChange,
    ) -> Result<ChangePreview, ProviderError> {
        let subscription = self.subscription(&change.subscription_id).await?;
        let item = only_item(&subscription)?;
        let seats = change.seats.to_string();
        let proration_date = change.proration_date.map(|d| d.seconds().to_string());
        let base = [
            ("subscription", subscription.id.as_str()),
            ("subscription_details[items][0][id]", item.id.as_str()),
            (
                "subscription_details[items][0][price]",
                change.price_id.as_str(),
            ),
            ("subscription_details[items][0][quantity]", seats.as_str()),
        ];
        // A preview changes nothing; a fresh key only lets our retries run.
        let key = format!("preview:{}", uuid::Uuid::new_v4());
        let url = self.url(&["invoices", "create_preview"]);
        let mut next_form = base.to_vec();
        next_form.extend([
            ("preview_mode", "recurring"),
            ("subscription_details[proration_behavior]", "none"),
        ]);
        let next: PreviewInvoice = self.post(&url, &next_form, &format!("{key}:next")).await?;
        let next_date = next
            .lines
            .data
            .iter()
            .map(|line| line.period.start)
            .min()
            .or(next.period_end)
            .or(item.current_period_end)
            .ok_or_else(|| unexpected("the preview has no date"))?;
        let (now, lines) = match change.timing {
            ChangeTiming::PeriodEnd => (None, Vec::new()),
            ChangeTiming::Now => {
                let mut form = base.to_vec();
                form.push(("subscription_details[proration_behavior]", "always_invoice"));
                if let Some(date) = &proration_date {
                    form.push(("subscription_details[proration_date]", date.as_str()));
                }
                let now: PreviewInvoice = self.post(&url, &form, &key).await?;
                let lines = now
                    .lines
                    .data
                    .iter()
                    .filter(|line| line.is_proration())
                    .map(|line| PreviewLine {
                        description: line.description.clone().unwrap_or_default(),
                        amount_minor: line.amount,
                        proration: true,
                        period_start: UnixTime(line.period.start),
                        period_end: UnixTime(line.period.end),
                    })
                    .collect();
                (Some(now), lines)
            }
        };
        let taxes = |invoice: &PreviewInvoice| {
            invoice
                .total_taxes
                .as_ref()
                .map(|taxes| taxes.iter().map(|t| t.amount).sum::<i64>())
        };
        Ok(ChangePreview {
            currency: next.currency.clone(),
            amount_due_now_minor: now.as_ref().map_or(0, |n| n.amount_due),
            proration_date: change.proration_date.filter(|_| now.is_some()),
            lines,
            next_invoice_amount_minor: next.amount_due,
            next_invoice_date: UnixTime(next_date),
            tax_minor: now.as_ref().and_then(taxes),
        })
    }

    pub(super) async fn set_cancel_at_period_end(
        &self,
        subscription_id: &str,
        cancel: bool,
    ) -> Result<(), ProviderError> {
        // Fresh per call: after a resume, cancelling again must act again;
        // our own retries of this one call share the key.
        let key = format!(
            "{}:{subscription_id}:{}",
            if cancel {
                "cancel-at-period-end"
            } else {
                "resume"
            },
            uuid::Uuid::new_v4()
        );
        let subscription = self.subscription(subscription_id).await?;
        self.release_schedule(&subscription, &key).await?;
        let _: CreatedObject = self
            .post(
                &self.url(&["subscriptions", subscription_id]),
                &[(
                    "cancel_at_period_end",
                    if cancel { "true" } else { "false" },
                )],
                &key,
            )
            .await?;
        Ok(())
    }

    pub(super) async fn cancel_immediately(
        &self,
        subscription_id: &str,
    ) -> Result<(), ProviderError> {
        let _: CreatedObject = self
            .delete(&self.url(&["subscriptions", subscription_id]))
            .await?;
        Ok(())
    }
}
