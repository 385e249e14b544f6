//! PayPal webhook events (`{id, event_type, create_time, resource}`)
//! normalized into `ProviderEvent`, and `PaypalWebhooks`, the
//! `WebhookVerifier` that has PayPal vouch for the raw bytes first (see
//! `signature`) and only then parses them.
//!
//! The dedupe key is the event's `id` (`WH-...`): PayPal resends the same
//! event, under the same id, to every retry and every subscribed URL. The
//! event time is `create_time`. The tenant is the subscription's
//! `custom_id`, which our checkout sets; a sale names only its subscription
//! (`billing_agreement_id`), through which the processor finds the tenant.
//!
//! Error messages never contain payload content: they end up in logs and in
//! the 400 answer.

use super::formats::{currency_exponent, decimal_to_minor_units, parse_rfc3339};
use super::oauth::{AccessTokenSource, AppCredentials, CachedAccessTokens};
use super::payments;
use super::signature::{
    verification_request_body, PostbackFailure, TransmissionHeaders, VerifyEndpoint,
    DEFAULT_TOLERANCE_SECONDS,
};
use super::LIVE_API_BASE;
use crate::http::ApiClient;
use crate::payload::{decode, malformed};
use billing_domain::ports::{ProviderError, WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    Catalog, EventKind, InvoiceDetails, Money, Provider, ProviderEvent, SnapshotChange,
    SubscriptionSnapshot, SubscriptionStatus, TenantId, UnixTime,
};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;

/// Verifies PayPal deliveries through PayPal's verify endpoint and
/// normalizes them. Holds no credentials: the app's client id and secret and
/// the webhook id come per call from the secret cache.
#[derive(Clone)]
pub struct PaypalWebhooks {
    client: ApiClient,
    endpoint: VerifyEndpoint,
    tokens: Arc<dyn AccessTokenSource>,
    base_url: String,
    tolerance_seconds: i64,
}

impl fmt::Debug for PaypalWebhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalWebhooks")
            .field("base_url", &self.base_url)
            .field("tolerance_seconds", &self.tolerance_seconds)
            .finish_non_exhaustive()
    }
}

impl PaypalWebhooks {
    /// Verifies against the live API (`apiBase` in the secret, or
    /// [`with_base_url`](Self::with_base_url), selects another), with a
    /// 300-second transmission-time window and its own token cache.
    /// `client` is the function's shared [`ApiClient`]: its timeouts bound
    /// both the token and the verify call.
    pub fn new(client: ApiClient) -> Self {
        Self {
            endpoint: VerifyEndpoint::new(client.http_client().clone()),
            client,
            tokens: Arc::new(CachedAccessTokens::new()),
            base_url: LIVE_API_BASE.to_owned(),
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        }
    }

    /// Another API host when the secret names none: the sandbox, or a test
    /// server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    pub fn with_tolerance_seconds(mut self, tolerance_seconds: i64) -> Self {
        self.tolerance_seconds = tolerance_seconds;
        self
    }

    /// Shares a token source, e.g. with a `PaypalGateway` in one process.
    pub fn with_access_tokens(mut self, tokens: Arc<dyn AccessTokenSource>) -> Self {
        self.tokens = tokens;
        self
    }
}

#[async_trait::async_trait]
impl WebhookVerifier for PaypalWebhooks {
    fn provider(&self) -> Provider {
        Provider::Paypal
    }

    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        // PayPal has no shared signing secret: the webhook id (the
        // listener's registration) plus the app credentials that may ask
        // PayPal about it play that part.
        let (Ok(webhook_id), Ok(app)) = (
            credentials.field("webhookId"),
            AppCredentials::from_credentials(credentials),
        ) else {
            return Err(WebhookError::NoSecretConfigured);
        };
        let base_url = super::api_base(credentials).unwrap_or_else(|| self.base_url.clone());
        let headers = TransmissionHeaders::from_delivery(delivery)?;
        headers.check_transmission_time(now, self.tolerance_seconds)?;
        let request_body = verification_request_body(&headers, webhook_id, &delivery.body)?;

        let token = self
            .tokens
            .access_token(&self.client, &base_url, &app)
            .await
            .map_err(token_failure)?;
        match self
            .endpoint
            .confirm(&base_url, token.expose(), request_body)
            .await
        {
            Ok(()) => parse_event(&delivery.body, catalog),
            Err(failure) => {
                if failure == PostbackFailure::Unauthorized {
                    self.tokens.forget(&token).await;
                }
                Err(postback_failure(failure))
            }
        }
    }
}

/// PayPal's token or verify call failed for reasons on PayPal's side: the
/// delivery is answered 5xx and PayPal delivers it again later.
const VERIFIER_UNAVAILABLE: WebhookError =
    WebhookError::VerifierUnavailable("PayPal's verification API is unavailable");

fn token_failure(error: ProviderError) -> WebhookError {
    if error.is_retryable() || matches!(error, ProviderError::UnexpectedResponse { .. }) {
        tracing::error!(error = %error, "PayPal token call failed; delivery not verified");
        return VERIFIER_UNAVAILABLE;
    }
    // Our app credentials were refused: perhaps rotated since the secret
    // cache was filled, which `InvalidSignature` makes the caller refresh.
    tracing::error!(error = %error, "PayPal refused our app credentials; delivery not verified");
    WebhookError::InvalidSignature
}

fn postback_failure(failure: PostbackFailure) -> WebhookError {
    match failure {
        PostbackFailure::NotVerified => WebhookError::InvalidSignature,
        PostbackFailure::Unauthorized => {
            tracing::error!("PayPal refused our token on the verify call");
            WebhookError::InvalidSignature
        }
        PostbackFailure::Refused { status, code } => {
            tracing::warn!(
                status,
                code = code.as_deref().unwrap_or("none"),
                "PayPal refused the verify request"
            );
            WebhookError::InvalidSignature
        }
        PostbackFailure::Unavailable(cause) => {
            tracing::error!(cause = %cause, "PayPal verify call failed; delivery not verified");
            VERIFIER_UNAVAILABLE
        }
    }
}

/// Normalizes an event body. Call it only on a body PayPal has vouched
/// for (or that was stored after verification, for replay).
pub fn parse_event(body: &[u8], catalog: &Catalog) -> Result<ProviderEvent, WebhookError> {
    let event: Event = serde_json::from_slice(body).map_err(|e| malformed("event", &e))?;
    let occurred_at = rfc3339(&event.create_time, "event create_time")?;
    let resource = &event.resource;
    let mut refunded = None;
    let (kind, tenant_hint) = match event.event_type.as_str() {
        "BILLING.SUBSCRIPTION.CREATED" => {
            subscription_change(resource, catalog, SnapshotChange::Created)?
        }
        "BILLING.SUBSCRIPTION.ACTIVATED" | "BILLING.SUBSCRIPTION.UPDATED" => {
            subscription_change(resource, catalog, SnapshotChange::Updated)?
        }
        "BILLING.SUBSCRIPTION.SUSPENDED" => {
            subscription_change(resource, catalog, SnapshotChange::Paused)?
        }
        "BILLING.SUBSCRIPTION.CANCELLED" | "BILLING.SUBSCRIPTION.EXPIRED" => {
            let (snapshot, tenant) = snapshot(decode(resource, "subscription")?, catalog)?;
            (EventKind::SubscriptionDeleted { snapshot }, tenant)
        }
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED" => {
            failed_payment(decode(resource, "subscription")?, &event.id, occurred_at)?
        }
        "PAYMENT.SALE.COMPLETED" => completed_sale(decode(resource, "sale")?, occurred_at)?,
        "PAYMENT.SALE.REFUNDED" => {
            let refund: RefundResource = decode(resource, "refund")?;
            let hint = custom_id_tenant(refund.custom.as_deref());
            refunded = Some(payments::refund(&refund, occurred_at)?);
            let kind = EventKind::PaymentReported {
                customer_id: None,
                subscription_id: refund.billing_agreement_id.clone(),
            };
            (kind, hint)
        }
        _ => (EventKind::Unknown, None),
    };
    let payment = match &kind {
        EventKind::PaymentReported { .. } => refunded,
        EventKind::InvoicePaid(details) => payments::sale(details),
        EventKind::InvoicePaymentFailed(details) => {
            payments::failed(details, failure_reason(resource))
        }
        _ => None,
    };
    Ok(ProviderEvent {
        provider: Provider::Paypal,
        event_id: event.id,
        event_type: event.event_type,
        occurred_at: UnixTime(occurred_at),
        tenant_hint,
        payment,
        kind,
    })
}

/// PayPal subscription status → ours. PayPal's own dunning decides: it keeps
/// a subscription `ACTIVE` while it retries a failed payment and suspends it
/// once `failed_payments_count` reaches the plan's threshold; that count
/// "resets to 0 after a successful payment". Unknown statuses grant no
/// access (`incomplete`), since granting access by mistake would be the
/// costlier error; the original string stays in `provider_status`.
pub fn map_status(status: &str, failed_payments_count: u32) -> SubscriptionStatus {
    match status {
        "APPROVAL_PENDING" | "APPROVED" => SubscriptionStatus::Incomplete,
        "ACTIVE" => SubscriptionStatus::Active,
        "SUSPENDED" if failed_payments_count > 0 => SubscriptionStatus::Unpaid,
        "SUSPENDED" => SubscriptionStatus::Paused,
        "CANCELLED" | "EXPIRED" => SubscriptionStatus::Canceled,
        _ => {
            tracing::warn!("unrecognised PayPal subscription status; treating as incomplete");
            SubscriptionStatus::Incomplete
        }
    }
}

fn subscription_change(
    resource: &serde_json::Value,
    catalog: &Catalog,
    change: SnapshotChange,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let (snapshot, tenant) = snapshot(decode(resource, "subscription")?, catalog)?;
    Ok((EventKind::SubscriptionSnapshot { change, snapshot }, tenant))
}

fn snapshot(
    sub: SubscriptionResource,
    catalog: &Catalog,
) -> Result<(SubscriptionSnapshot, Option<TenantId>), WebhookError> {
    let billing = sub.billing_info.unwrap_or_default();
    let status = map_status(&sub.status, billing.failed_payments_count);
    let plan = sub
        .plan_id
        .as_deref()
        .and_then(|price| catalog.plan_for_price(Provider::Paypal, price))
        .map(|plan| plan.code.clone());
    let seats = match &sub.quantity {
        Some(quantity) => quantity.count()?,
        None => 1,
    };
    let canceled_at = match status {
        SubscriptionStatus::Canceled => optional_time(sub.status_update_time.as_deref())?,
        _ => None,
    };
    let snapshot = SubscriptionSnapshot {
        // PayPal has no customer object, and a payer's PayPal account may
        // pay for several tenants, so the subscription is its own customer
        // reference: claiming the payer id would park the second tenant.
        customer_id: sub.id.clone(),
        subscription_id: sub.id,
        status,
        provider_status: sub.status,
        plan,
        price_id: sub.plan_id,
        // The payment that opened the current cycle, and the next charge,
        // which closes it.
        current_period_start: optional_time(
            billing
                .last_payment
                .as_ref()
                .and_then(|p| p.time.as_deref()),
        )?,
        current_period_end: optional_time(billing.next_billing_time.as_deref())?,
        // PayPal has no "cancel at period end": cancelling ends at once.
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at,
        trial_end: None,
        seats,
    };
    Ok((snapshot, custom_id_tenant(sub.custom_id.as_deref())))
}

/// A failed charge names no PayPal object of its own, so the event id
/// stands for it; its time is the failed attempt's.
fn failed_payment(
    sub: SubscriptionResource,
    event_id: &str,
    occurred_at: i64,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let billing = sub.billing_info.unwrap_or_default();
    let failed = billing.last_failed_payment.ok_or_else(|| {
        WebhookError::MalformedPayload("subscription: no last_failed_payment".into())
    })?;
    let details = InvoiceDetails {
        invoice_id: event_id.to_owned(),
        customer_id: Some(sub.id.clone()),
        subscription_id: Some(sub.id),
        created: optional_time(failed.time.as_deref())?.unwrap_or(UnixTime(occurred_at)),
        amount_due: failed.amount.money()?,
        amount_paid: Money::new(0, &failed.amount.currency_code),
        attempt_count: billing.failed_payments_count,
    };
    Ok((
        EventKind::InvoicePaymentFailed(details),
        custom_id_tenant(sub.custom_id.as_deref()),
    ))
}

/// PayPal's `billing_info.last_failed_payment.reason_code`, when sent.
fn failure_reason(resource: &serde_json::Value) -> Option<String> {
    resource
        .pointer("/billing_info/last_failed_payment/reason_code")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// A completed sale of a subscription is a paid cycle. Sales outside a
/// subscription (no `billing_agreement_id`) are not ours to act on.
fn completed_sale(
    sale: SaleResource,
    occurred_at: i64,
) -> Result<(EventKind, Option<TenantId>), WebhookError> {
    let Some(subscription_id) = sale.billing_agreement_id.filter(|id| !id.is_empty()) else {
        return Ok((EventKind::Unknown, None));
    };
    let exponent = currency_exponent(&sale.amount.currency);
    let paid = decimal_to_minor_units(&sale.amount.total, exponent).ok_or_else(|| {
        WebhookError::MalformedPayload("sale: amount.total is not a decimal amount".into())
    })?;
    let amount = Money::new(paid, &sale.amount.currency);
    let details = InvoiceDetails {
        invoice_id: sale.id,
        customer_id: Some(subscription_id.clone()),
        subscription_id: Some(subscription_id),
        created: optional_time(sale.create_time.as_deref())?.unwrap_or(UnixTime(occurred_at)),
        amount_due: amount.clone(),
        amount_paid: amount,
        attempt_count: 1,
    };
    Ok((
        EventKind::InvoicePaid(details),
        custom_id_tenant(sale.custom.as_deref()),
    ))
}

/// `custom_id` carries the tenant id our checkout put there. One that is
/// not a valid tenant id (a subscription made outside our checkout) is
/// dropped: the processor can still route by the subscription id.
fn custom_id_tenant(custom_id: Option<&str>) -> Option<TenantId> {
    let raw = custom_id.filter(|raw| !raw.is_empty())?;
    TenantId::parse(raw)
        .inspect_err(|_| tracing::warn!("PayPal custom_id is not a tenant id; ignoring the hint"))
        .ok()
}

fn rfc3339(text: &str, what: &'static str) -> Result<i64, WebhookError> {
    parse_rfc3339(text)
        .ok_or_else(|| WebhookError::MalformedPayload(format!("{what} is not an RFC 3339 time")))
}

fn optional_time(text: Option<&str>) -> Result<Option<UnixTime>, WebhookError> {
    text.map(|t| rfc3339(t, "subscription time").map(UnixTime))
        .transpose()
}

// ---------- PayPal's wire shapes (only the fields we read) ----------

#[derive(Deserialize)]
struct Event {
    id: String,
    event_type: String,
    create_time: String,
    resource: serde_json::Value,
}

/// <https://developer.paypal.com/docs/api/subscriptions/v1/#subscriptions_get>
#[derive(Deserialize)]
struct SubscriptionResource {
    id: String,
    status: String,
    plan_id: Option<String>,
    custom_id: Option<String>,
    quantity: Option<Quantity>,
    status_update_time: Option<String>,
    billing_info: Option<BillingInfo>,
}

/// Documented as a string (`"1"`); a number is read too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Quantity {
    Text(String),
    Number(u64),
}

impl Quantity {
    fn count(&self) -> Result<u32, WebhookError> {
        let parsed = match self {
            Quantity::Text(text) => text.parse::<u32>().ok(),
            Quantity::Number(n) => u32::try_from(*n).ok(),
        };
        parsed.ok_or_else(|| {
            WebhookError::MalformedPayload("subscription: quantity is not a seat count".into())
        })
    }
}

#[derive(Deserialize, Default)]
struct BillingInfo {
    next_billing_time: Option<String>,
    last_payment: Option<LastPayment>,
    #[serde(default)]
    failed_payments_count: u32,
    last_failed_payment: Option<FailedPayment>,
}

#[derive(Deserialize)]
struct LastPayment {
    time: Option<String>,
}

#[derive(Deserialize)]
struct FailedPayment {
    amount: AmountWithCurrency,
    time: Option<String>,
}

/// The v1 Subscriptions API's money: `{"currency_code": "USD", "value": "19.00"}`.
#[derive(Deserialize)]
struct AmountWithCurrency {
    currency_code: String,
    value: String,
}

impl AmountWithCurrency {
    fn money(&self) -> Result<Money, WebhookError> {
        let exponent = currency_exponent(&self.currency_code);
        decimal_to_minor_units(&self.value, exponent)
            .map(|minor| Money::new(minor, &self.currency_code))
            .ok_or_else(|| {
                WebhookError::MalformedPayload(
                    "subscription: amount is not a decimal amount".into(),
                )
            })
    }
}

/// The v1 Payments API's sale, which subscriptions still report payments
/// with: `amount` is `{"total": "19.00", "currency": "USD"}`.
#[derive(Deserialize)]
struct SaleResource {
    id: String,
    billing_agreement_id: Option<String>,
    amount: SaleAmount,
    create_time: Option<String>,
    custom: Option<String>,
}

/// A refund of a sale (`PAYMENT.SALE.REFUNDED`).
#[derive(Deserialize)]
pub(super) struct RefundResource {
    pub id: String,
    pub sale_id: String,
    pub amount: SaleAmount,
    pub create_time: Option<String>,
    /// The custom id of the sale's subscription, when PayPal carries it.
    pub custom: Option<String>,
    pub billing_agreement_id: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SaleAmount {
    pub total: String,
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status PayPal documents, with and without failed payments.
    /// <https://developer.paypal.com/api/subscriptions/v1/definitions/subscription_status>
    #[test]
    fn every_documented_status_maps_as_the_table_says() {
        let table = [
            ("APPROVAL_PENDING", 0, SubscriptionStatus::Incomplete),
            ("APPROVAL_PENDING", 1, SubscriptionStatus::Incomplete),
            ("APPROVED", 0, SubscriptionStatus::Incomplete),
            ("APPROVED", 1, SubscriptionStatus::Incomplete),
            ("ACTIVE", 0, SubscriptionStatus::Active),
            ("ACTIVE", 2, SubscriptionStatus::Active),
            ("SUSPENDED", 0, SubscriptionStatus::Paused),
            ("SUSPENDED", 1, SubscriptionStatus::Unpaid),
            ("SUSPENDED", 3, SubscriptionStatus::Unpaid),
            ("CANCELLED", 0, SubscriptionStatus::Canceled),
            ("CANCELLED", 1, SubscriptionStatus::Canceled),
            ("EXPIRED", 0, SubscriptionStatus::Canceled),
            ("EXPIRED", 1, SubscriptionStatus::Canceled),
        ];
        for (status, failures, expected) in table {
            assert_eq!(
                map_status(status, failures),
                expected,
                "{status}/{failures}"
            );
        }
    }

    #[test]
    fn unknown_or_differently_cased_status_grants_no_access() {
        for status in ["SOME_FUTURE_STATUS", "active", ""] {
            assert_eq!(map_status(status, 0), SubscriptionStatus::Incomplete);
        }
    }

    #[test]
    fn only_statuses_paypal_can_resume_stay_live() {
        // A suspended subscription can be reactivated without a new
        // checkout, so a second checkout must stay refused; cancelled and
        // expired ones are over.
        assert!(map_status("SUSPENDED", 0).is_live());
        assert!(map_status("SUSPENDED", 1).is_live());
        assert!(!map_status("CANCELLED", 0).is_live());
        assert!(!map_status("EXPIRED", 0).is_live());
        assert!(!map_status("APPROVAL_PENDING", 0).is_live());
    }

    #[test]
    fn quantity_reads_text_or_number_and_refuses_nonsense() {
        let text: Quantity = serde_json::from_str(r#""20""#).unwrap();
        let number: Quantity = serde_json::from_str("3").unwrap();
        assert_eq!(text.count(), Ok(20));
        assert_eq!(number.count(), Ok(3));
        let bad: Quantity = serde_json::from_str(r#""-1""#).unwrap();
        assert!(bad.count().is_err());
    }
}
