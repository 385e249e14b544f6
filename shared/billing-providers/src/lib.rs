//! Payment-provider adapters: they implement `billing_domain`'s ports
//! (`BillingGateway` for the provider's API, `WebhookVerifier` for its signed
//! webhooks) so the Lambda functions never see a provider's wire format.
//!
//! `http`, `signing` and `payload` are the plumbing every provider reuses (one HTTP
//! client with timeouts and idempotent retries; HMAC and constant-time
//! compare, signed-timestamp checks; payload decoding that never quotes the
//! payload; `credentials` reads the provider secret and `secret_cache` keeps
//! it between invocations). Each provider then lives in its own module:
//! `stripe`, and `sandbox`, the fake provider of local runs. `standard_webhooks` is the
//! generic Standard Webhooks (Svix) signature scheme that providers such as
//! the sandbox sign with.

pub mod cashfree;
pub mod credentials;
pub mod http;
pub mod paddle;
pub mod payload;
mod payments;
pub mod paypal;
pub mod razorpay;
pub mod registry;
pub mod sandbox;
pub mod secret_cache;
pub mod signing;
pub mod standard_webhooks;
pub mod stripe;
pub mod timestamps;

pub use cashfree::{CashfreeGateway, CashfreeWebhooks};
pub use http::{ApiClient, HttpConfig, RetryPolicy};
pub use paddle::{PaddleGateway, PaddleWebhooks};
pub use paypal::{PaypalGateway, PaypalWebhooks};
pub use razorpay::{RazorpayGateway, RazorpayWebhooks};
pub use sandbox::{SandboxGateway, SandboxWebhooks};
pub use secret_cache::{SecretCache, SecretCachePolicy};
pub use stripe::{StripeGateway, StripeWebhooks};
