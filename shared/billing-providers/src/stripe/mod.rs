//! Stripe: webhook signature verification (`signature`), event normalization
//! and the `WebhookVerifier` (`events`), and the `BillingGateway` over its
//! REST API (`api`).

pub mod api;
pub mod events;
pub mod signature;

pub use api::StripeGateway;
pub use events::{parse_event, StripeWebhooks};
pub use signature::sign;
