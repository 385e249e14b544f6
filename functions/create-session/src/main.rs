//! create-session Lambda entry point: builds the store, reads the provider
//! credentials from Secrets Manager and builds a client for every provider
//! in the secret once per cold start (the sandbox's only when
//! `SANDBOX_API_BASE` enables it); `DEFAULT_PROVIDER` (stripe) comes first.

use billing_aws::{load_sdk_config, DynamoStore, SecretsManagerSource};
use billing_domain::Provider;
use billing_lambda::{logging, Env};
use billing_providers::{credentials, registry, ApiClient, HttpConfig};
use create_session::SessionApi;
use lambda_http::{service_fn, Error, Request};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, env.required("BILLING_TABLE")?);
    let source = SecretsManagerSource::from_config(&sdk, env.required("BILLING_SECRET_ID")?);
    let secrets = credentials::load(&source).await?;
    // Three attempts of 4 s stay inside the function's 20 s timeout and API
    // Gateway's 30 s limit.
    let http = ApiClient::new(HttpConfig {
        request_timeout: Duration::from_secs(4),
        ..HttpConfig::default()
    })?;
    let default = env.parsed_or("DEFAULT_PROVIDER", Provider::Stripe)?;
    let endpoints = registry::Endpoints {
        stripe_api_base: env.optional("STRIPE_API_BASE"),
        // The sandbox is a test provider: offered only where explicitly enabled.
        sandbox_api_base: env.optional("SANDBOX_API_BASE"),
    };
    let catalog = billing_lambda::config::catalog()?;
    let gateways = registry::gateways(&secrets, default, &http, &endpoints, &catalog)?;
    let api = SessionApi::from_env(&env, store, gateways)?;
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(api.handle(request).await)
    }))
    .await
}
