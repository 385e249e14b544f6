//! Payment-provider adapters: they implement `billing_domain`'s ports
//! (`BillingGateway` for the provider's API, `WebhookVerifier` for its signed
//! webhooks) so the Lambda functions never see a provider's wire format.
//!
//! `http` and `signing` are the plumbing every provider reuses (one HTTP
//! client with timeouts and idempotent retries; HMAC and constant-time
//! compare). Each provider then lives in its own module: `stripe` today.

pub mod http;
pub mod signing;
pub mod stripe;

pub use http::{ApiClient, HttpConfig, RetryPolicy};
pub use stripe::{StripeGateway, StripeWebhooks};
