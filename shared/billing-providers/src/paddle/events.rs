//! Paddle Billing notifications (`{event_id, event_type, occurred_at,
//! notification_id, data}`) normalized into `ProviderEvent`, and
//! `PaddleWebhooks`, the `WebhookVerifier` that checks the `Paddle-Signature`
//! on the raw bytes first and only then parses them.
//!
//! The dedupe key is `event_id` (`evt_…`): Paddle sends the same one on every
//! retry of a delivery, while `notification_id` differs per destination.
//! `occurred_at` (RFC 3339, fraction dropped) is the event time.
//!
//! ## Events
//!
//! | Paddle `event_type` | `EventKind` |
//! | --- | --- |
//! | `subscription.created`, `subscription.imported` | `SubscriptionSnapshot { Created }` |
//! | `subscription.activated`, `.updated`, `.trialing`, `.past_due` | `SubscriptionSnapshot { Updated }` |
//! | `subscription.paused` | `SubscriptionSnapshot { Paused }` |
//! | `subscription.resumed` | `SubscriptionSnapshot { Resumed }` |
//! | `subscription.canceled` | `SubscriptionDeleted` |
//! | `transaction.completed`, origin `api`/`web`, with a subscription | `CheckoutCompleted` (the checkout's transaction is the session) |
//! | `transaction.completed`, origin `api`/`web`, no subscription | `Unknown` (a one-off purchase, not ours) |
//! | `transaction.completed` (renewals, upgrades, charges), `transaction.paid` | `InvoicePaid` |
//! | `transaction.payment_failed`, `transaction.past_due` | `InvoicePaymentFailed` |
//!
//! `transaction.completed` (checkout or renewal) also reports the payment
//! we invoice, and `transaction.payment_failed` the failed attempt
//! (`payments.rs`). An approved refund or credit adjustment
//! (`adjustment.created`, `adjustment.updated`) gives money back on a
//! transaction: a `PaymentReported` with our credit note's facts.
//! | anything else | `Unknown` |
//!
//! Paddle's webhook references: <https://developer.paddle.com/webhooks/overview>;
//! origins are `api`, `web`, `subscription_recurring`, `subscription_charge`,
//! `subscription_update` and `subscription_payment_method_change`.
//!
//! ## Subscription statuses
//!
//! | Paddle `status` | `SubscriptionStatus` |
//! | --- | --- |
//! | `active` | `Active` |
//! | `trialing` | `Trialing` |
//! | `past_due` | `PastDue` |
//! | `paused` | `Paused` |
//! | `canceled` | `Canceled` |
//! | anything else | `Incomplete` (grants nothing until someone looks) |
//!
//! A `scheduled_change` with action `cancel` (what `POST
//! /subscriptions/{id}/cancel` with `effective_from: next_billing_period`
//! creates) is `cancel_at_period_end`, with `cancel_at` its `effective_at`.
//!
//! ## Tenant and amounts
//!
//! The tenant is `custom_data.tenant_id`: our checkout puts it on the
//! transaction, Paddle copies a transaction's `custom_data` to the
//! subscription it creates and a subscription's to every later transaction
//! (<https://developer.paddle.com/build/transactions/custom-data>).
//! Amounts are `details.totals` strings in the currency's lowest
//! denomination (`"65215"`), read as integers, never through a float:
//! `grand_total` (after credits, before payments) is due, `grand_total −
//! balance` is paid.
//!
//! Error messages never contain payload content: they end up in logs and in
//! the 400 answer.

use super::payments;
use super::signature::{self, DEFAULT_TOLERANCE_SECONDS};
use super::wire::{
    AdjustmentEntity, Notification, SubscriptionEntity, SubscriptionItem, TransactionEntity,
    TransactionItem,
};
use crate::payload::{decode, malformed};
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    Catalog, CheckoutDetails, EventKind, InvoiceDetails, Money, PlanCode, Provider, ProviderEvent,
    SnapshotChange, SubscriptionSnapshot, SubscriptionStatus, TenantId, UnixTime,
};
use serde_json::Value;

/// Verifies and normalizes Paddle deliveries. Holds no secrets: they come
/// per call from the secret cache, so a rotated key needs no rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaddleWebhooks {
    tolerance_seconds: i64,
}

impl PaddleWebhooks {
    /// A window other than our 60 seconds (see `signature` for why not
    /// Paddle's 5), e.g. the deployment's setting.
    pub fn with_tolerance_seconds(tolerance_seconds: i64) -> Self {
        Self { tolerance_seconds }
    }

    pub fn new() -> Self {
        Self::default()
    }
}

impl Default for PaddleWebhooks {
    fn default() -> Self {
        Self::with_tolerance_seconds(DEFAULT_TOLERANCE_SECONDS)
    }
}

#[async_trait::async_trait]
impl WebhookVerifier for PaddleWebhooks {
    fn provider(&self) -> Provider {
        Provider::Paddle
    }

    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        signature::verify_delivery(
            delivery,
            &credentials.webhook_secrets,
            now,
            self.tolerance_seconds,
        )?;
        parse_event(&delivery.body, catalog)
    }
}

/// Paddle's subscription statuses and ours; the table in the module docs.
pub const STATUS_MAP: [(&str, SubscriptionStatus); 5] = [
    ("active", SubscriptionStatus::Active),
    ("trialing", SubscriptionStatus::Trialing),
    ("past_due", SubscriptionStatus::PastDue),
    ("paused", SubscriptionStatus::Paused),
    ("canceled", SubscriptionStatus::Canceled),
];

/// A Paddle subscription status as ours. One we do not know grants nothing
/// (`Incomplete`): granting access on an unknown status would be the
/// costlier mistake. The original string stays in `provider_status`.
pub fn map_status(status: &str) -> SubscriptionStatus {
    STATUS_MAP
        .iter()
        .find(|(paddle, _)| *paddle == status)
        .map(|(_, ours)| *ours)
        .unwrap_or_else(|| {
            tracing::warn!("unrecognised paddle subscription status; treating as incomplete");
            SubscriptionStatus::Incomplete
        })
}

/// What an event type means to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Snapshot(SnapshotChange),
    SubscriptionEnded,
    TransactionPaid,
    TransactionCompleted,
    TransactionFailed,
    Adjustment,
    Ignored,
}

fn meaning(event_type: &str) -> Meaning {
    match event_type {
        "subscription.created" | "subscription.imported" => {
            Meaning::Snapshot(SnapshotChange::Created)
        }
        "subscription.activated"
        | "subscription.updated"
        | "subscription.trialing"
        | "subscription.past_due" => Meaning::Snapshot(SnapshotChange::Updated),
        "subscription.paused" => Meaning::Snapshot(SnapshotChange::Paused),
        "subscription.resumed" => Meaning::Snapshot(SnapshotChange::Resumed),
        "subscription.canceled" => Meaning::SubscriptionEnded,
        "transaction.paid" => Meaning::TransactionPaid,
        "transaction.completed" => Meaning::TransactionCompleted,
        "transaction.payment_failed" | "transaction.past_due" => Meaning::TransactionFailed,
        "adjustment.created" | "adjustment.updated" => Meaning::Adjustment,
        _ => Meaning::Ignored,
    }
}

/// Normalizes a notification body. Call it only on a body whose signature
/// was verified (or that was stored after verification, for replay).
pub fn parse_event(body: &[u8], catalog: &Catalog) -> Result<ProviderEvent, WebhookError> {
    let notification: Notification =
        serde_json::from_slice(body).map_err(|e| malformed("event", &e))?;
    let occurred_at = time(&notification.occurred_at, "event: occurred_at")?;
    let data = &notification.data;
    let mut payment = None;
    let (kind, tenant_hint) = match meaning(&notification.event_type) {
        Meaning::Snapshot(change) => {
            subscription(decode(data, "subscription")?, catalog, Some(change))?
        }
        Meaning::SubscriptionEnded => subscription(decode(data, "subscription")?, catalog, None)?,
        Meaning::TransactionPaid => {
            let transaction: TransactionEntity = decode(data, "transaction")?;
            let hint = tenant_hint(transaction.custom_data.as_ref());
            (EventKind::InvoicePaid(invoice(&transaction, true)?), hint)
        }
        Meaning::TransactionFailed => {
            let transaction: TransactionEntity = decode(data, "transaction")?;
            let hint = tenant_hint(transaction.custom_data.as_ref());
            let details = invoice(&transaction, false)?;
            // `transaction.past_due` reports a state, not an attempt.
            if notification.event_type == "transaction.payment_failed" {
                payment = Some(payments::failed(&transaction, &details)?);
            }
            (EventKind::InvoicePaymentFailed(details), hint)
        }
        Meaning::TransactionCompleted => {
            let transaction: TransactionEntity = decode(data, "transaction")?;
            // A transaction without totals collected nothing we can invoice.
            if transaction.details.is_some() {
                payment = payments::completed(&transaction, &invoice(&transaction, true)?)?;
            }
            completed_transaction(transaction, catalog)?
        }
        Meaning::Adjustment => {
            let adjustment: AdjustmentEntity = decode(data, "adjustment")?;
            match payments::adjusted(&adjustment)? {
                Some(facts) => {
                    payment = Some(facts);
                    let kind = EventKind::PaymentReported {
                        customer_id: adjustment.customer_id.clone(),
                        subscription_id: adjustment.subscription_id.clone(),
                    };
                    (kind, None)
                }
                None => (EventKind::Unknown, None),
            }
        }
        Meaning::Ignored => (EventKind::Unknown, None),
    };
    Ok(ProviderEvent {
        provider: Provider::Paddle,
        event_id: notification.event_id,
        event_type: notification.event_type,
        occurred_at: UnixTime(occurred_at),
        tenant_hint,
        payment,
        kind,
    })
}

/// `change` is `None` once the subscription has ended.
fn subscription(
    sub: SubscriptionEntity,
    catalog: &Catalog,
    change: Option<SnapshotChange>,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let tenant_hint = tenant_hint(sub.custom_data.as_ref());
    // The item whose price is in our catalog is the plan; add-ons are not.
    let item = sub
        .items
        .iter()
        .find(|item| {
            item.price_id()
                .is_some_and(|price| catalog.plan_for_price(Provider::Paddle, price).is_some())
        })
        .or_else(|| sub.items.first());
    let price_id = item.and_then(SubscriptionItem::price_id).map(str::to_owned);
    let plan = price_id
        .as_deref()
        .and_then(|price| catalog.plan_for_price(Provider::Paddle, price))
        .map(|plan| plan.code.clone());
    let seats = match item.and_then(|item| item.quantity) {
        Some(quantity) => u32::try_from(quantity).map_err(|_| {
            WebhookError::MalformedPayload("subscription: quantity out of range".into())
        })?,
        None => 1,
    };
    let (current_period_start, current_period_end) = match &sub.current_billing_period {
        Some(period) => (
            Some(time(
                &period.starts_at,
                "subscription: current_billing_period",
            )?),
            Some(time(
                &period.ends_at,
                "subscription: current_billing_period",
            )?),
        ),
        None => (None, None),
    };
    let cancel_at = match sub
        .scheduled_change
        .as_ref()
        .filter(|change| change.action == "cancel")
    {
        Some(change) => Some(time(
            &change.effective_at,
            "subscription: scheduled_change",
        )?),
        None => None,
    };
    let canceled_at = optional_time(sub.canceled_at.as_deref(), "subscription: canceled_at")?;
    let trial_end = optional_time(
        item.and_then(|item| item.trial_dates.as_ref())
            .map(|trial| trial.ends_at.as_str()),
        "subscription: trial_dates",
    )?;
    let snapshot = SubscriptionSnapshot {
        subscription_id: sub.id,
        customer_id: sub.customer_id,
        status: map_status(&sub.status),
        provider_status: sub.status,
        plan,
        price_id,
        current_period_start: current_period_start.map(UnixTime),
        current_period_end: current_period_end.map(UnixTime),
        cancel_at_period_end: cancel_at.is_some(),
        cancel_at: cancel_at.map(UnixTime),
        canceled_at: canceled_at.map(UnixTime),
        trial_end: trial_end.map(UnixTime),
        seats,
    };
    let kind = match change {
        Some(change) => EventKind::SubscriptionSnapshot { change, snapshot },
        None => EventKind::SubscriptionDeleted { snapshot },
    };
    Ok((kind, tenant_hint))
}

/// `transaction.completed`: the end of our checkout for a transaction the
/// checkout created (origin `api`, or `web` when Paddle.js made it),
/// otherwise a paid renewal or charge.
fn completed_transaction(
    transaction: TransactionEntity,
    catalog: &Catalog,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let hint = tenant_hint(transaction.custom_data.as_ref());
    if !matches!(transaction.origin.as_deref(), Some("api" | "web")) {
        return Ok((EventKind::InvoicePaid(invoice(&transaction, true)?), hint));
    }
    if transaction.subscription_id.is_none() {
        return Ok((EventKind::Unknown, None));
    }
    let plan = transaction
        .custom_data
        .as_ref()
        .and_then(|data| data.get("plan"))
        .and_then(Value::as_str)
        .filter(|plan| !plan.is_empty())
        .map(PlanCode::new)
        .or_else(|| {
            transaction
                .items
                .iter()
                .filter_map(TransactionItem::price_id)
                .find_map(|price| catalog.plan_for_price(Provider::Paddle, price))
                .map(|plan| plan.code.clone())
        });
    let details = CheckoutDetails {
        session_id: transaction.id,
        customer_id: transaction.customer_id,
        subscription_id: transaction.subscription_id,
        plan,
    };
    Ok((EventKind::CheckoutCompleted(details), hint))
}

/// A transaction as the invoice it is for us. `paid` says which event
/// brought it, for when Paddle leaves out `balance`.
fn invoice(transaction: &TransactionEntity, paid: bool) -> Result<InvoiceDetails, WebhookError> {
    let totals = &transaction
        .details
        .as_ref()
        .ok_or_else(|| WebhookError::MalformedPayload("transaction: no details.totals".into()))?
        .totals;
    let currency = totals
        .currency_code
        .as_deref()
        .or(transaction.currency_code.as_deref())
        .ok_or_else(|| WebhookError::MalformedPayload("transaction: no currency_code".into()))?;
    let due = match &totals.grand_total {
        Some(grand_total) => minor_units(grand_total, "grand_total")?,
        // Older payloads without `grand_total`: nothing was credited.
        None => minor_units(&totals.total, "total")?,
    };
    let paid_amount = match &totals.balance {
        Some(balance) => due
            .checked_sub(minor_units(balance, "balance")?)
            .ok_or_else(|| {
                WebhookError::MalformedPayload("transaction: amounts out of range".into())
            })?,
        None if paid => due,
        None => 0,
    };
    Ok(InvoiceDetails {
        invoice_id: transaction.id.clone(),
        customer_id: transaction.customer_id.clone(),
        subscription_id: transaction.subscription_id.clone(),
        created: UnixTime(time(&transaction.created_at, "transaction: created_at")?),
        amount_due: Money::new(due, currency),
        amount_paid: Money::new(paid_amount, currency),
        // Each entry of `payments` is one attempt, failed or captured.
        attempt_count: u32::try_from(transaction.payments.len()).unwrap_or(u32::MAX),
    })
}

/// An amount in the currency's lowest denomination, as Paddle sends it: an
/// optionally negative integer string (credits make totals negative). A
/// decimal point or anything else is refused rather than guessed at.
pub(super) fn minor_units(text: &str, field: &'static str) -> Result<i64, WebhookError> {
    let magnitude = text.strip_prefix('-').unwrap_or(text);
    if magnitude.is_empty() || !magnitude.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::MalformedPayload(format!(
            "transaction: {field} is not an integer amount"
        )));
    }
    text.parse().map_err(|_| {
        WebhookError::MalformedPayload(format!("transaction: {field} is out of range"))
    })
}

/// `custom_data.tenant_id`. A value that is not a valid tenant id is
/// dropped, not fatal: the processor can still resolve the tenant from the
/// customer or subscription id.
fn tenant_hint(custom_data: Option<&Value>) -> Option<TenantId> {
    let raw = custom_data?.get("tenant_id")?.as_str()?;
    match TenantId::parse(raw) {
        Ok(tenant) => Some(tenant),
        Err(_) => {
            tracing::warn!("paddle event names a tenant id that is not valid; ignoring the hint");
            None
        }
    }
}

pub(super) fn time(text: &str, what: &str) -> Result<i64, WebhookError> {
    crate::timestamps::rfc3339_seconds(text)
        .ok_or_else(|| WebhookError::MalformedPayload(format!("{what} is not an RFC 3339 time")))
}

fn optional_time(text: Option<&str>, what: &str) -> Result<Option<i64>, WebhookError> {
    text.map(|text| time(text, what)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_paddle_status_maps_as_the_table_says() {
        let expected = [
            ("active", SubscriptionStatus::Active),
            ("trialing", SubscriptionStatus::Trialing),
            ("past_due", SubscriptionStatus::PastDue),
            ("paused", SubscriptionStatus::Paused),
            ("canceled", SubscriptionStatus::Canceled),
        ];
        for (paddle, ours) in expected {
            assert_eq!(map_status(paddle), ours, "{paddle}");
        }
        // The table covers every status Paddle documents, and no other.
        assert_eq!(STATUS_MAP.len(), expected.len());
    }

    #[test]
    fn unknown_or_differently_spelled_status_grants_no_access() {
        for status in ["incomplete", "Active", "cancelled", "", "past-due"] {
            assert_eq!(
                map_status(status),
                SubscriptionStatus::Incomplete,
                "{status}"
            );
        }
    }

    #[test]
    fn every_status_we_map_to_is_one_a_paddle_subscription_can_reach() {
        // No Paddle status lands on a state Paddle never has (unpaid,
        // incomplete_expired, none).
        for (_, ours) in STATUS_MAP {
            assert!(!matches!(
                ours,
                SubscriptionStatus::Unpaid
                    | SubscriptionStatus::IncompleteExpired
                    | SubscriptionStatus::None
                    | SubscriptionStatus::Incomplete
            ));
        }
    }

    #[test]
    fn event_types_map_as_the_table_says() {
        let cases = [
            (
                "subscription.created",
                Meaning::Snapshot(SnapshotChange::Created),
            ),
            (
                "subscription.imported",
                Meaning::Snapshot(SnapshotChange::Created),
            ),
            (
                "subscription.activated",
                Meaning::Snapshot(SnapshotChange::Updated),
            ),
            (
                "subscription.updated",
                Meaning::Snapshot(SnapshotChange::Updated),
            ),
            (
                "subscription.trialing",
                Meaning::Snapshot(SnapshotChange::Updated),
            ),
            (
                "subscription.past_due",
                Meaning::Snapshot(SnapshotChange::Updated),
            ),
            (
                "subscription.paused",
                Meaning::Snapshot(SnapshotChange::Paused),
            ),
            (
                "subscription.resumed",
                Meaning::Snapshot(SnapshotChange::Resumed),
            ),
            ("subscription.canceled", Meaning::SubscriptionEnded),
            ("transaction.paid", Meaning::TransactionPaid),
            ("transaction.completed", Meaning::TransactionCompleted),
            ("transaction.payment_failed", Meaning::TransactionFailed),
            ("transaction.past_due", Meaning::TransactionFailed),
            ("transaction.created", Meaning::Ignored),
            ("transaction.ready", Meaning::Ignored),
            ("customer.created", Meaning::Ignored),
        ];
        for (event_type, expected) in cases {
            assert_eq!(meaning(event_type), expected, "{event_type}");
        }
    }

    #[test]
    fn amounts_are_integer_minor_units_only() {
        assert_eq!(minor_units("65215", "total"), Ok(65_215));
        assert_eq!(minor_units("0", "total"), Ok(0));
        assert_eq!(minor_units("-1000", "total"), Ok(-1_000));
        for bad in [
            "",
            "-",
            "652.15",
            "1e3",
            "+5",
            " 5",
            "５",
            "99999999999999999999",
        ] {
            assert!(
                matches!(
                    minor_units(bad, "total"),
                    Err(WebhookError::MalformedPayload(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn amount_errors_name_the_field_not_the_value() {
        let Err(WebhookError::MalformedPayload(message)) = minor_units("12.34", "grand_total")
        else {
            panic!("malformed amount expected")
        };
        assert!(message.contains("grand_total") && !message.contains("12.34"));
    }
}
