//! PayPal: webhook verification by postback (`signature`), event
//! normalization and the `WebhookVerifier` (`events`), the `BillingGateway`
//! over the Subscriptions API (`api`), the cached OAuth token every call
//! needs (`oauth`), and exact reading of PayPal's times and amounts
//! (`formats`).
//!
//! ## Secret
//!
//! `{"paypal": {"clientId": "...", "clientSecret": "...", "webhookId": "...",
//! "apiBase": "https://api-m.sandbox.paypal.com"}}`: the REST app's
//! credentials, the id PayPal gave our webhook listener, and optionally the
//! API host (live, `https://api-m.paypal.com`, when absent). PayPal has no
//! shared webhook secret, so `webhookSecrets` is not read; without a
//! `webhookId` (or app credentials) every delivery is refused as
//! `NoSecretConfigured`.
//!
//! ## Verification: PayPal's verify endpoint, not local RSA
//!
//! PayPal signs `transmission_id|transmission_time|webhook_id|crc32(body)`
//! with RSA-SHA256 under a certificate named by `PAYPAL-CERT-URL`, and
//! offers two checks (<https://developer.paypal.com/api/rest/webhooks/rest/>):
//! verifying that signature ourselves, or posting the headers and the event
//! to `POST /v1/notifications/verify-webhook-signature`. We post. Checking
//! locally needs RSA, X.509 parsing and chain validation, plus CRC32, none
//! of which the workspace has, and certificate fetching whose host
//! allowlist and cache would be ours to get right; the postback costs one
//! API call per delivery (on a cached token) and leaves the cryptography to
//! PayPal. Before posting we still check locally what we can: all five
//! headers present and well-formed, the certificate URL on a PayPal host,
//! the transmission time within 300 seconds of our clock (a replayed
//! delivery costs no call), and the body being exactly one JSON object,
//! which we splice into the request unchanged (see `signature`).
//!
//! An outage of the token or verify call is `WebhookError::VerifierUnavailable`,
//! answered 503: nothing is lost, PayPal retries any non-2xx answer 25 times
//! over 3 days, and no secret refresh is triggered for it.
//!
//! ## Events (subscribe the webhook to these)
//!
//! | PayPal event                          | Normalized as                         |
//! |---------------------------------------|---------------------------------------|
//! | `BILLING.SUBSCRIPTION.CREATED`        | snapshot, `Created`                   |
//! | `BILLING.SUBSCRIPTION.ACTIVATED`      | snapshot, `Updated`                   |
//! | `BILLING.SUBSCRIPTION.UPDATED`        | snapshot, `Updated`                   |
//! | `BILLING.SUBSCRIPTION.SUSPENDED`      | snapshot, `Paused`                    |
//! | `BILLING.SUBSCRIPTION.CANCELLED`      | `SubscriptionDeleted`                 |
//! | `BILLING.SUBSCRIPTION.EXPIRED`        | `SubscriptionDeleted`                 |
//! | `BILLING.SUBSCRIPTION.PAYMENT.FAILED` | `InvoicePaymentFailed`                |
//! | `PAYMENT.SALE.COMPLETED`              | `InvoicePaid` (subscription sales)    |
//! | anything else                         | `Unknown` (acknowledged, ignored)     |
//!
//! <https://developer.paypal.com/docs/subscriptions/reference/webhooks/>
//!
//! ## Statuses
//!
//! | PayPal `status`    | `failed_payments_count` | Ours         | Why |
//! |--------------------|-------------------------|--------------|-----|
//! | `APPROVAL_PENDING` | any                     | `incomplete` | created; the buyer has not agreed yet |
//! | `APPROVED`         | any                     | `incomplete` | agreed, not yet active: nothing charged |
//! | `ACTIVE`           | any                     | `active`     | PayPal keeps it active while it retries a failed payment (see below) |
//! | `SUSPENDED`        | > 0                     | `unpaid`     | PayPal suspended it on reaching the plan's payment-failure threshold |
//! | `SUSPENDED`        | 0                       | `paused`     | suspended by the merchant; reactivation resumes it |
//! | `CANCELLED`        | any                     | `canceled`   | ended for good |
//! | `EXPIRED`          | any                     | `canceled`   | ran through its billing cycles: ended for good |
//! | anything else      | any                     | `incomplete` | unknown: grant nothing |
//!
//! We never derive `past_due` from PayPal. PayPal runs its own dunning (it
//! retries a failed payment, counts a failure, bills the outstanding
//! balance with the next cycle, and suspends at the threshold;
//! <https://developer.paypal.com/platforms/subscriptions/customize/payment-failure-retry/>),
//! and when a later payment succeeds it sends only `PAYMENT.SALE.COMPLETED`,
//! never a subscription event: a `past_due` read from
//! `failed_payments_count` could not be cleared and would lock out a tenant
//! who paid. PayPal's retry period is the grace period; a failed payment is
//! recorded as an unpaid invoice, and suspension ends access.
//!
//! ## Checkout, portal, cancellation
//!
//! - Checkout: `POST /v1/billing/subscriptions` with `plan_id` (the
//!   catalog's PayPal price id), `custom_id` = tenant id, and
//!   `application_context` (`return_url`, `cancel_url`, `SUBSCRIBE_NOW`,
//!   `NO_SHIPPING`), keyed by `PayPal-Request-Id`; the `approve` link is
//!   the hosted page, the subscription id the session id.
//! - No customer objects: `create_customer` is `Ok(None)`, and the
//!   subscription id doubles as the customer reference in events.
//! - No hosted portal, and no cancel-at-period-end (PayPal's cancel and
//!   suspend act at once): both are `ProviderError::Unsupported`;
//!   subscribers manage PayPal subscriptions in their PayPal account.

pub mod api;
pub mod events;
pub mod formats;
pub mod oauth;
mod payments;
pub mod signature;

pub use api::PaypalGateway;
pub use events::{map_status, parse_event, PaypalWebhooks};
pub use oauth::{AccessToken, AccessTokenSource, AppCredentials, CachedAccessTokens};

use billing_domain::secrets::ProviderCredentials;

/// PayPal's live REST API.
pub const LIVE_API_BASE: &str = "https://api-m.paypal.com";

/// PayPal's sandbox REST API (sandbox apps, webhooks and buyers).
pub const SANDBOX_API_BASE: &str = "https://api-m.sandbox.paypal.com";

/// The secret's optional `apiBase`, without a trailing slash.
fn api_base(credentials: &ProviderCredentials) -> Option<String> {
    credentials
        .field("apiBase")
        .ok()
        .map(|base| base.trim_end_matches('/').to_owned())
}
