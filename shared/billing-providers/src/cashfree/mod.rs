//! Cashfree Subscriptions: webhook signature verification (`signature`),
//! event normalization and the `WebhookVerifier` (`events`), the
//! `BillingGateway` over its Subscriptions API (`api`), and its wire format
//! with the exact decoding of amounts, IST timestamps and our subscription
//! ids (`wire`).
//!
//! Secret entry (`"cashfree"` in the per-stage secret):
//! `{"clientId": "...", "clientSecret": "...", "webhookSecrets": ["..."],
//! "environment": "production", "apiVersion": "2025-01-01"}`. Cashfree signs
//! webhooks with the client secret, so `clientSecret` always verifies; list
//! the previous client secret in `webhookSecrets` while keys rotate.
//! `environment` (`sandbox` or `production`, the default) and `apiVersion`
//! (default `2025-01-01`) are optional.
//!
//! Cashfree has no customer objects and no hosted customer portal, so both
//! are the `BillingGateway` defaults (none, `Unsupported`); the checkout
//! carries the payer's contact details instead.

pub mod api;
pub mod events;
mod payments;
pub mod signature;
pub mod wire;

pub use api::{CashfreeEnvironment, CashfreeGateway};
pub use events::{parse_event, CashfreeWebhooks};
pub use signature::{sign, signed_delivery};
