//! The sandbox: the fake payment provider of local runs and end-to-end tests
//! (the fake itself is the `billing-sandbox` crate under `local/sandbox`).
//! Its adapter is built exactly like a real provider's, so the local stack
//! exercises the same ports and plumbing as production:
//!
//! - `wire`: its JSON wire format (events, API requests and responses),
//!   shared with the fake so the two cannot drift apart;
//! - `events`: `SandboxWebhooks`, the `WebhookVerifier` (Standard Webhooks
//!   signatures, then normalization into `ProviderEvent`);
//! - `api`: `SandboxGateway`, the `BillingGateway` over its HTTP API.

pub mod api;
pub mod events;
mod payments;
pub mod wire;

pub use api::SandboxGateway;
pub use events::{parse_event, SandboxWebhooks};
