//! The one place create-session is assembled: its Lambda `main` and the
//! local server both call [`build`], so the local stack runs what Lambda
//! runs (the same provider HTTP client settings, the same gateways in the
//! same order).

use crate::SessionApi;
use billing_domain::ports::{CustomerRegistry, IdempotencyStore, IntentRecorder, ProfileStore};
use billing_domain::secrets::ProviderSecrets;
use billing_domain::Provider;
use billing_lambda::{Env, InitError};
use billing_providers::{registry, ApiClient, HttpConfig};
use std::time::Duration;

/// Three attempts of 4 s keep one provider call well inside the function's
/// 28 s timeout; a request making several calls (a Stripe plan change) can
/// still run out, and is then retried under its Idempotency-Key.
const PROVIDER_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

/// A gateway for every provider with an entry in `secrets`, the default
/// first. Reads `DEFAULT_PROVIDER` (stripe), `STRIPE_API_BASE`,
/// `SANDBOX_API_BASE` (the test provider, only where set) and what
/// [`SessionApi::from_env`] reads.
pub fn build<S: CustomerRegistry + IntentRecorder + IdempotencyStore + ProfileStore>(
    env: &Env,
    store: S,
    secrets: &ProviderSecrets,
) -> Result<SessionApi<S>, InitError> {
    let http = ApiClient::new(HttpConfig {
        request_timeout: PROVIDER_REQUEST_TIMEOUT,
        ..HttpConfig::default()
    })
    .map_err(|e| InitError::Client(e.to_string()))?;
    let default = env.parsed_or("DEFAULT_PROVIDER", Provider::Stripe)?;
    let endpoints = registry::Endpoints {
        stripe_api_base: env.optional("STRIPE_API_BASE"),
        sandbox_api_base: env.optional("SANDBOX_API_BASE"),
    };
    let catalog = billing_lambda::config::catalog()?;
    let gateways = registry::gateways(secrets, default, &http, &endpoints, &catalog)?;
    Ok(SessionApi::from_env_with_catalog(
        env, store, gateways, catalog,
    )?)
}
