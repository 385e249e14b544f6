//! Cashfree subscription webhooks normalized into `ProviderEvent`, and
//! `CashfreeWebhooks`, the `WebhookVerifier` that checks the signature on
//! the raw bytes first and only then parses them.
//!
//! Both webhook versions are read, whichever the merchant dashboard is set
//! to: 2023-08-01 (`SUBSCRIPTION_STATUS_CHANGE`, no tags) and 2025-01-01
//! (`SUBSCRIPTION_STATUS_CHANGED`, `subscription_tags` and
//! `next_schedule_date`); the payment events have one shape in both.
//! <https://www.cashfree.com/docs/api-reference/payments/latest/subscription/webhooks>,
//! <https://www.cashfree.com/docs/api-reference/payments/previous/v2023-08-01/subscription/webhooks>
//!
//! | Cashfree event | normalized |
//! |---|---|
//! | `SUBSCRIPTION_STATUS_CHANGED` / `_CHANGE` | `SubscriptionSnapshot` (`Paused` for the paused statuses, else `Updated`); `SubscriptionDeleted` for the ended statuses |
//! | `SUBSCRIPTION_AUTH_STATUS` (authorized) | `CheckoutCompleted`: the hosted checkout ended with a mandate |
//! | `SUBSCRIPTION_PAYMENT_SUCCESS` (`CHARGE`) | `InvoicePaid` (an `AUTH` payment counts as the authorization) |
//! | `SUBSCRIPTION_PAYMENT_FAILED` (`CHARGE`) | `InvoicePaymentFailed` |
//! | anything else (`SUBSCRIPTION_AUTH_STATUS` failed, `…_PAYMENT_NOTIFICATION_INITIATED`, `…_PAYMENT_CANCELLED`, `…_REFUND_STATUS`, `…_CARD_EXPIRY_REMINDER`) | `Unknown`: acknowledged, no state |
//!
//! A failed charge changes no status by itself: Cashfree follows it with a
//! status change (`ON_HOLD` for NACH and cards) when the subscription is
//! affected, and UPI retries on its own.
//!
//! Statuses ([`map_status`]):
//!
//! | Cashfree status | internal | why |
//! |---|---|---|
//! | `INITIALIZED` | `incomplete` | created; the customer has not authorized the mandate |
//! | `BANK_APPROVAL_PENDING` | `incomplete` | authorized, the bank has not confirmed (24-48 h for NACH); nothing can be charged yet |
//! | `ACTIVE` | `active` | mandate live, charges run |
//! | `ON_HOLD` | `past_due` | a recurring charge failed; it can still be retried and recovered |
//! | `PAUSED` | `paused` | paused by the merchant |
//! | `CUSTOMER_PAUSED` | `paused` | paused by the customer from their UPI app |
//! | `CANCELLED` | `canceled` | cancelled by the merchant |
//! | `CUSTOMER_CANCELLED` | `canceled` | cancelled by the customer at their bank or UPI app |
//! | `COMPLETED` | `canceled` | all cycles billed: nothing more will be charged |
//! | `EXPIRED` | `canceled` | reached its expiry date |
//! | `CARD_EXPIRED` | `canceled` | the card behind the mandate expired: terminal, a new checkout is needed |
//! | `LINK_EXPIRED` | `incomplete_expired` | the authorization link expired before the customer completed it |
//! | anything else | `incomplete` | grants nothing until someone looks (logged) |
//!
//! Dedupe key: Cashfree puts no event id in the body. Version 2025-01-01
//! sends an `x-idempotency-key` header, documented as a hash "unique for
//! each unique webhook payload"; 2023-08-01 sends none, and no header is
//! covered by the signature. The key is therefore `sha256:` + the hex
//! SHA-256 of the raw signed body: the same rule as Cashfree's own key (one
//! key per payload, so a retry of a delivery dedupes), the same for both
//! versions, and not choosable by whoever replays a captured delivery.
//!
//! Tenant: `subscription_tags.tenant_id` (we set it at checkout; 2025-01-01
//! status events echo it), else the tenant encoded in our own subscription
//! id ([`tenant_in_subscription_id`]), which every event carries.
//!
//! Cashfree has no customer objects: the subscription (a mandate) is the
//! customer relationship, so its id also stands as the customer id.
//!
//! Error messages never contain payload content: they end up in logs and in
//! the 400 answer.

use super::payments;
use super::signature::{self, DEFAULT_TOLERANCE_SECONDS};
use super::wire::{
    minor_units, numbers_as_strings, parse_time, tag, tenant_in_subscription_id, CashfreeEventType,
    CashfreeStatus, Envelope, PaymentData, StatusChangeData, Tags,
};
use crate::payload::{decode, malformed};
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    Catalog, CheckoutDetails, EventKind, InvoiceDetails, Money, PlanCode, Provider, ProviderEvent,
    SnapshotChange, SubscriptionSnapshot, SubscriptionStatus, TenantId, UnixTime,
};
use sha2::{Digest, Sha256};

/// Cashfree subscriptions are charged in rupees; a payment event that names
/// no currency is in INR.
const DEFAULT_CURRENCY: &str = "inr";

/// Verifies and normalizes Cashfree deliveries. Holds no secrets: they come
/// per call from the secret cache, so a rotated secret needs no rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashfreeWebhooks {
    tolerance_seconds: i64,
}

impl Default for CashfreeWebhooks {
    fn default() -> Self {
        Self::new()
    }
}

impl CashfreeWebhooks {
    /// With the default window of three days (see `signature`).
    pub fn new() -> Self {
        Self {
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        }
    }

    pub fn with_tolerance_seconds(tolerance_seconds: i64) -> Self {
        Self { tolerance_seconds }
    }
}

#[async_trait::async_trait]
impl WebhookVerifier for CashfreeWebhooks {
    fn provider(&self) -> Provider {
        Provider::Cashfree
    }

    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        let keys = signing_keys(credentials);
        signature::verify(delivery, &keys, now, self.tolerance_seconds)?;
        parse_event(&delivery.body, catalog)
    }
}

/// The keys a delivery may be signed with. Cashfree signs with the API
/// client secret: every entry of `webhookSecrets` (the current client
/// secret and, while keys rotate, the previous one) and the `clientSecret`
/// field itself. Empty strings are skipped: anyone can compute an HMAC
/// under an empty key.
pub fn signing_keys(credentials: &ProviderCredentials) -> Vec<&str> {
    let mut keys: Vec<&str> = credentials
        .webhook_secrets
        .iter()
        .map(|secret| secret.expose())
        .filter(|key| !key.is_empty())
        .collect();
    if let Ok(client_secret) = credentials.field("clientSecret") {
        if !keys.contains(&client_secret) {
            keys.push(client_secret);
        }
    }
    keys
}

/// The dedupe key of a delivery: `sha256:<hex>` of its raw body (see the
/// module docs).
pub fn dedupe_key(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

/// Normalizes an event body. Call it only on a body whose signature was
/// verified (or that was stored after verification, for replay).
pub fn parse_event(body: &[u8], catalog: &Catalog) -> Result<ProviderEvent, WebhookError> {
    let exact = numbers_as_strings(body);
    let envelope: Envelope = serde_json::from_slice(&exact).map_err(|e| malformed("event", &e))?;
    let event_type = CashfreeEventType::parse(&envelope.event_type);
    let occurred_at = match (
        envelope.event_time.as_deref().and_then(parse_time),
        event_type,
    ) {
        (Some(time), _) => time,
        // An event we do not act on is acknowledged whatever its time: the
        // dashboard's test delivery must get its 200 for the endpoint to be
        // saved, and an ignored event's time is never read.
        (None, None) => UnixTime(0),
        (None, Some(_)) => {
            return Err(WebhookError::MalformedPayload(
                "event: event_time is missing or not a timestamp".into(),
            ))
        }
    };
    let data = &envelope.data;
    let (kind, tenant_hint) = match event_type {
        Some(CashfreeEventType::StatusChanged) => {
            status_changed(decode(data, "subscription")?, catalog, occurred_at)
        }
        Some(CashfreeEventType::AuthStatus) => authorization(decode(data, "authorization")?)?,
        Some(CashfreeEventType::PaymentSuccess) => {
            payment(decode(data, "payment")?, true, occurred_at)?
        }
        Some(CashfreeEventType::PaymentFailed) => {
            payment(decode(data, "payment")?, false, occurred_at)?
        }
        None => (EventKind::Unknown, None),
    };
    let payment = match &kind {
        EventKind::InvoicePaid(details) => payments::charge(details, true),
        EventKind::InvoicePaymentFailed(details) => payments::charge(details, false),
        _ => None,
    };
    Ok(ProviderEvent {
        provider: Provider::Cashfree,
        event_id: dedupe_key(body),
        event_type: envelope.event_type,
        occurred_at,
        tenant_hint,
        payment,
        kind,
    })
}

fn status_changed(
    data: StatusChangeData,
    catalog: &Catalog,
    occurred_at: UnixTime,
) -> (EventKind, Option<TenantId>) {
    let details = data.subscription_details;
    let tenant_hint = tenant_hint(details.subscription_tags.as_ref(), &details.subscription_id);
    let price_id = data
        .plan_details
        .and_then(|plan| plan.plan_id)
        .filter(|id| !id.is_empty());
    let plan = price_id
        .as_deref()
        .and_then(|id| catalog.plan_for_price(Provider::Cashfree, id))
        .map(|plan| plan.code.clone());
    let status = map_status(&details.subscription_status);
    let ended = status == SubscriptionStatus::Canceled;
    let snapshot = SubscriptionSnapshot {
        subscription_id: details.subscription_id.clone(),
        customer_id: details.subscription_id,
        status,
        provider_status: details.subscription_status,
        plan,
        price_id,
        // Cashfree reports when it charges next, not when the period began.
        current_period_start: None,
        current_period_end: details
            .next_schedule_date
            .as_deref()
            .and_then(optional_time),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: ended.then_some(occurred_at),
        trial_end: None,
        seats: 1,
    };
    let kind = if ended {
        EventKind::SubscriptionDeleted { snapshot }
    } else {
        let change = if status == SubscriptionStatus::Paused {
            SnapshotChange::Paused
        } else {
            SnapshotChange::Updated
        };
        EventKind::SubscriptionSnapshot { change, snapshot }
    };
    (kind, tenant_hint)
}

/// Cashfree's statuses; the table and its reasons are in the module docs.
pub fn map_status(status: &str) -> SubscriptionStatus {
    match CashfreeStatus::parse(status) {
        Some(CashfreeStatus::Initialized | CashfreeStatus::BankApprovalPending) => {
            SubscriptionStatus::Incomplete
        }
        Some(CashfreeStatus::Active) => SubscriptionStatus::Active,
        Some(CashfreeStatus::OnHold) => SubscriptionStatus::PastDue,
        Some(CashfreeStatus::Paused | CashfreeStatus::CustomerPaused) => SubscriptionStatus::Paused,
        Some(
            CashfreeStatus::Cancelled
            | CashfreeStatus::CustomerCancelled
            | CashfreeStatus::Completed
            | CashfreeStatus::Expired
            | CashfreeStatus::CardExpired,
        ) => SubscriptionStatus::Canceled,
        Some(CashfreeStatus::LinkExpired) => SubscriptionStatus::IncompleteExpired,
        None => {
            tracing::warn!("unrecognised Cashfree subscription status; treating as incomplete");
            SubscriptionStatus::Incomplete
        }
    }
}

/// An authorized mandate completes the hosted checkout; a failed one is
/// only acknowledged (the customer may try again on the same page).
fn authorization(data: PaymentData) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let subscription_id = required_subscription_id(&data)?;
    if !data.authorized() {
        return Ok((EventKind::Unknown, None));
    }
    let tenant_hint = tenant_hint(data.tags(), &subscription_id);
    let details = CheckoutDetails {
        session_id: subscription_id.clone(),
        customer_id: Some(subscription_id.clone()),
        subscription_id: Some(subscription_id),
        plan: tag(data.tags(), "plan").map(PlanCode::new),
    };
    Ok((EventKind::CheckoutCompleted(details), tenant_hint))
}

/// A recurring charge's outcome, as an invoice: one Cashfree payment is one
/// invoice, its retries more attempts of it.
fn payment(
    data: PaymentData,
    paid: bool,
    occurred_at: UnixTime,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    if data.is_authorization() {
        return if paid {
            authorization(data)
        } else {
            Ok((EventKind::Unknown, None))
        };
    }
    let subscription_id = required_subscription_id(&data)?;
    let invoice_id = data
        .cf_payment_id
        .clone()
        .or_else(|| data.payment_id.clone())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            WebhookError::MalformedPayload("payment: no cf_payment_id or payment_id".into())
        })?;
    let amount = data
        .payment_amount
        .as_deref()
        .ok_or_else(|| WebhookError::MalformedPayload("payment: missing payment_amount".into()))
        .and_then(|text| {
            minor_units(text).ok_or_else(|| {
                WebhookError::MalformedPayload(
                    "payment: payment_amount is not an amount with two decimals".into(),
                )
            })
        })?;
    let currency = data
        .payment_currency
        .as_deref()
        .filter(|c| !c.is_empty())
        .unwrap_or(DEFAULT_CURRENCY);
    // The scheduled date is the period the charge bills; it orders invoices.
    let created = data
        .payment_schedule_date
        .as_deref()
        .or(data.payment_initiated_date.as_deref())
        .and_then(optional_time)
        .unwrap_or(occurred_at);
    // `retry_attempts` counts the retries, so the attempts are one more.
    let attempt_count = data
        .retry_attempts
        .as_deref()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    let tenant_hint = tenant_hint(data.tags(), &subscription_id);
    let details = InvoiceDetails {
        invoice_id,
        customer_id: Some(subscription_id.clone()),
        subscription_id: Some(subscription_id),
        created,
        amount_due: Money::new(amount, currency),
        amount_paid: Money::new(if paid { amount } else { 0 }, currency),
        attempt_count,
    };
    let kind = if paid {
        EventKind::InvoicePaid(details)
    } else {
        EventKind::InvoicePaymentFailed(details)
    };
    Ok((kind, tenant_hint))
}

fn required_subscription_id(data: &PaymentData) -> Result<String, WebhookError> {
    data.subscription_id()
        .map(str::to_owned)
        .ok_or_else(|| WebhookError::MalformedPayload("payment: no subscription_id".into()))
}

/// The tenant from our tags, else from our subscription id. A tag that is
/// not a valid tenant id is dropped, not fatal.
fn tenant_hint(tags: Option<&Tags>, subscription_id: &str) -> Option<TenantId> {
    let tagged = tag(tags, "tenant_id").and_then(|raw| match TenantId::parse(raw) {
        Ok(tenant) => Some(tenant),
        Err(_) => {
            tracing::warn!("Cashfree event tags a tenant id that is not valid; ignoring the tag");
            None
        }
    });
    tagged.or_else(|| tenant_in_subscription_id(subscription_id))
}

/// An informational date we can do without: unreadable is logged and
/// skipped rather than refusing the whole event.
fn optional_time(text: &str) -> Option<UnixTime> {
    let parsed = parse_time(text);
    if parsed.is_none() {
        tracing::warn!("Cashfree event has a date that is not a timestamp; ignoring it");
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::secrets::WebhookSecret;

    #[test]
    fn every_cashfree_status_maps_as_the_table_says() {
        use CashfreeStatus as C;
        use SubscriptionStatus as S;
        let table = [
            (C::Initialized, S::Incomplete),
            (C::BankApprovalPending, S::Incomplete),
            (C::Active, S::Active),
            (C::OnHold, S::PastDue),
            (C::Paused, S::Paused),
            (C::CustomerPaused, S::Paused),
            (C::Cancelled, S::Canceled),
            (C::CustomerCancelled, S::Canceled),
            (C::Completed, S::Canceled),
            (C::Expired, S::Canceled),
            (C::LinkExpired, S::IncompleteExpired),
            (C::CardExpired, S::Canceled),
        ];
        assert_eq!(
            table.len(),
            CashfreeStatus::ALL.len(),
            "a status is missing"
        );
        for (cashfree, internal) in table {
            assert_eq!(
                map_status(cashfree.as_str()),
                internal,
                "{}",
                cashfree.as_str()
            );
        }
    }

    #[test]
    fn unknown_status_grants_no_access() {
        assert_eq!(
            map_status("SOME_FUTURE_STATUS"),
            SubscriptionStatus::Incomplete
        );
        assert_eq!(map_status("active"), SubscriptionStatus::Incomplete);
    }

    #[test]
    fn signing_keys_are_the_listed_secrets_and_the_client_secret_without_empty_ones() {
        let mut credentials = ProviderCredentials::with_webhook_secrets([
            WebhookSecret::new("old"),
            WebhookSecret::new(""),
            WebhookSecret::new("current"),
        ]);
        credentials
            .fields
            .insert("clientSecret".into(), serde_json::json!("current"));
        assert_eq!(signing_keys(&credentials), ["old", "current"]);
        credentials
            .fields
            .insert("clientSecret".into(), serde_json::json!("newest"));
        assert_eq!(signing_keys(&credentials), ["old", "current", "newest"]);
        assert!(signing_keys(&ProviderCredentials::default()).is_empty());
    }

    #[test]
    fn dedupe_key_is_the_body_digest() {
        assert_eq!(
            dedupe_key(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
