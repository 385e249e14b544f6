//! Razorpay: webhook signature verification (`signature`), event
//! normalization and the `WebhookVerifier` (`events`), and the
//! `BillingGateway` over its Subscriptions API (`api`).
//!
//! # Secret
//!
//! `{"razorpay": {"keyId": "rzp_live_...", "keySecret": "...",
//! "webhookSecrets": ["..."]}}`: the API key pair (HTTP basic auth) and the
//! Dashboard webhook's secret(s). Several webhook secrets may be listed while
//! one is being changed; a delivery signed with any of them verifies.
//!
//! # Customers and portal
//!
//! No customer is created (the `BillingGateway` default): Razorpay fills a
//! subscription's customer itself when the customer authorizes it, and
//! `POST /v1/subscriptions` takes no customer parameter. Razorpay has no
//! hosted customer portal, so the portal is `Unsupported` (the default).
//!
//! # Webhooks
//!
//! Enable the `subscription.*` events of [`events::SUBSCRIBED_EVENTS`] and
//! [`events::PAYMENT_EVENTS`] (`payment.failed` for the payments log,
//! `refund.processed` for credit notes) on one Dashboard webhook pointing at
//! `POST /billing/webhooks/razorpay`. Others (`invoice.*`, other
//! `payment.*`) are acknowledged and ignored: `subscription.pending` is
//! Razorpay's failed-renewal event. `payment.failed` and `refund.processed`
//! name neither the subscription nor our notes, so they are routed by the
//! payment's customer.
//!
//! `X-Razorpay-Signature` is the hex HMAC-SHA256 of the raw body under the
//! webhook secret. The scheme signs **no timestamp**, so there is no
//! tolerance window and no replay check at verification. Replay protection
//! rests on the dedupe key, the `x-razorpay-event-id` header ("unique per
//! event", <https://razorpay.com/docs/webhooks/validate-test/#idempotency>):
//! Razorpay's own retries (for 24 hours) carry the same id and are dropped as
//! duplicates. That header is not signed, so a replay under a fresh id passes
//! the dedupe check; what it replays is still an authentic event with its
//! signed `created_at`, which `apply_event` orders against newer events, so
//! it cannot move a record back. Keep `webhook-process`'s dedupe TTL above
//! Razorpay's 24-hour retry window (it is 35 days).
//!
//! # Status mapping
//!
//! From <https://razorpay.com/docs/payments/subscriptions/states/>:
//!
//! | Razorpay        | Internal             | Why |
//! |-----------------|----------------------|-----|
//! | `created`       | `incomplete`         | Created by our checkout; the customer has not authorized it yet. |
//! | `authenticated` | `incomplete`         | The authorization transaction is done but no billing cycle has started; ours start at once, so `active` follows with the first charge. |
//! | `active`        | `active`             | A billing cycle is running and paid. |
//! | `pending`       | `past_due`           | An auto-charge failed; Razorpay retries (T+1 to T+3 days for cards). The grace period applies. |
//! | `halted`        | `unpaid`             | Every retry failed; invoices keep being generated but nothing is charged until the customer pays or changes the card. |
//! | `cancelled`     | `canceled`           | Cancelled by us or the customer; cannot be restarted. |
//! | `completed`     | `canceled`           | Every billing cycle (`total_count`) was billed; the subscription has ended. |
//! | `expired`       | `incomplete_expired` | The authorization was never completed in time: an abandoned checkout, never a paying subscription. |
//! | `paused`        | `paused`             | Paused from the Dashboard or API; resumes as `active`. |
//! | anything else   | `incomplete`         | Unknown: grants nothing until someone looks (`provider_status` keeps it). |
//!
//! # Events
//!
//! | Razorpay event               | Normalized |
//! |------------------------------|------------|
//! | `subscription.authenticated` | snapshot, `Created` |
//! | `subscription.activated`, `.charged`, `.pending`, `.halted`, `.updated` | snapshot, `Updated` |
//! | `subscription.paused`        | snapshot, `Paused` |
//! | `subscription.resumed`       | snapshot, `Resumed` |
//! | `subscription.cancelled`, `.completed` | `SubscriptionDeleted` |
//! | anything else                | `Unknown` |
//!
//! The tenant travels in the subscription's `notes.tenant_id`, set at
//! checkout and present in every subscription event.

pub mod api;
pub mod events;
mod payments;
pub mod signature;

pub use api::RazorpayGateway;
pub use events::{parse_event, RazorpayWebhooks};
pub use signature::sign;

/// The subscription note naming our tenant.
pub(crate) const TENANT_NOTE: &str = "tenant_id";
/// The subscription note naming the catalog plan bought, for support.
pub(crate) const PLAN_NOTE: &str = "plan";
