//! The one place webhook-receive is assembled: its Lambda `main` and the
//! local server both call [`build`], so the local stack verifies with the
//! same verifiers and the same PayPal client settings as Lambda.

use crate::WebhookReceiver;
use billing_domain::ports::{EventQueue, SecretSource};
use billing_lambda::{Env, InitError};
use billing_providers::{registry, ApiClient, HttpConfig, RetryPolicy};
use std::time::Duration;

/// Every provider's verifier (the sandbox's only where `SANDBOX_API_BASE`
/// is set: it is a test provider), with `WEBHOOK_TOLERANCE_SECONDS` (300)
/// and what [`WebhookReceiver::from_env`] reads.
pub fn build<Q: EventQueue, S: SecretSource>(
    env: &Env,
    queue: Q,
    secrets: S,
) -> Result<WebhookReceiver<Q, S>, InitError> {
    let tolerance = env.parsed_or(
        "WEBHOOK_TOLERANCE_SECONDS",
        billing_providers::stripe::signature::DEFAULT_TOLERANCE_SECONDS,
    )?;
    // PayPal's verification (a token call, then the verify call) must fit
    // in the function's 10 s timeout: two attempts of 2 s each per call.
    // Anything slower is answered 503 and PayPal delivers again.
    let http = ApiClient::new(HttpConfig {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
    })
    .map_err(|e| InitError::Client(e.to_string()))?;
    let sandbox_enabled = env.optional("SANDBOX_API_BASE").is_some();
    let verifiers = registry::verifiers(tolerance, sandbox_enabled, &http);
    Ok(WebhookReceiver::from_env(env, queue, secrets, verifiers)?)
}
