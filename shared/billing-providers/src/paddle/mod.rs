//! Paddle Billing: webhook signature verification (`signature`),
//! notification normalization and the `WebhookVerifier` (`events`), and the
//! `BillingGateway` over its REST API (`api`). `rfc3339` reads the date-times
//! Paddle uses everywhere into unix seconds.
//!
//! Secret entry: `{"paddle": {"apiKey": "pdl_live_apikey_…", "webhookSecrets":
//! ["pdl_ntfset_…"], "apiBase": "https://sandbox-api.paddle.com" (optional),
//! "checkoutUrl": "https://app.example.com/pay" (optional)}}`.

pub mod api;
pub mod events;
pub mod rfc3339;
pub mod signature;

pub use api::PaddleGateway;
pub use events::{map_status, parse_event, PaddleWebhooks};
pub use signature::sign;
