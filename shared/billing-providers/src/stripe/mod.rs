//! Stripe: webhook signature verification (`signature`), event normalization
//! and the `WebhookVerifier` (`events`), and the `BillingGateway` over its
//! REST API (`api`, with plan changes, their preview, cancel and resume in
//! `changes` and payment methods in `cards`), reading the objects in `wire`.

pub mod api;
mod cards;
mod changes;
mod customers;
pub mod events;
mod payments;
pub mod signature;
mod wire;

pub use api::StripeGateway;
pub use events::{parse_event, StripeWebhooks};
pub use signature::sign;
