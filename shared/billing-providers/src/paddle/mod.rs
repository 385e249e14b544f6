//! Paddle Billing: webhook signature verification (`signature`),
//! notification normalization and the `WebhookVerifier` (`events`), and the
//! `BillingGateway` over its REST API (`api`). Its RFC 3339 date-times are
//! read by the shared `crate::timestamps`.
//!
//! Secret entry: `{"paddle": {"apiKey": "pdl_live_apikey_…", "webhookSecrets":
//! ["pdl_ntfset_…"], "apiBase": "https://sandbox-api.paddle.com" (optional),
//! "checkoutUrl": "https://app.example.com/pay" (optional)}}`.

pub mod api;
mod changes;
pub mod events;
mod payments;
pub mod signature;
mod wire;

pub use api::PaddleGateway;
pub use events::{map_status, parse_event, PaddleWebhooks};
pub use signature::sign;
