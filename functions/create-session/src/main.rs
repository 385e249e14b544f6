//! create-session Lambda entry point: builds the store, reads the Stripe key
//! from Secrets Manager and builds the Stripe client once per cold start
//! (and the sandbox provider's, when `SANDBOX_API_BASE` enables it).

use billing_aws::{load_sdk_config, DynamoStore, SecretsManagerSource};
use billing_domain::ports::SecretSource;
use billing_domain::Provider;
use billing_lambda::{logging, ConfigError, Env};
use billing_providers::{ApiClient, HttpConfig, SandboxGateway, StripeGateway};
use create_session::SessionApi;
use lambda_http::{service_fn, Error, Request};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, env.required("BILLING_TABLE")?);
    let secrets = SecretsManagerSource::from_config(&sdk, env.required("BILLING_SECRET_ID")?)
        .fetch()
        .await?;
    let stripe = secrets
        .provider(Provider::Stripe)
        .ok_or(ConfigError::Invalid {
            name: "BILLING_SECRET_ID",
            reason: "the secret has no \"stripe\" entry".into(),
        })?;
    // Three attempts of 4 s stay inside the function's 20 s timeout and API
    // Gateway's 30 s limit.
    let http = ApiClient::new(HttpConfig {
        request_timeout: Duration::from_secs(4),
        ..HttpConfig::default()
    })?;
    let mut gateway = StripeGateway::from_credentials(stripe, http.clone())?;
    if let Some(base) = env.optional("STRIPE_API_BASE") {
        gateway = gateway.with_base_url(base);
    }
    let mut gateways: Vec<Box<dyn billing_domain::ports::BillingGateway>> = vec![Box::new(gateway)];
    // The sandbox is a test provider: offered only where explicitly enabled.
    if let Some(base) = env.optional("SANDBOX_API_BASE") {
        let sandbox = secrets
            .provider(Provider::Sandbox)
            .ok_or(ConfigError::Invalid {
                name: "SANDBOX_API_BASE",
                reason: "the sandbox is enabled but the secret has no \"sandbox\" entry".into(),
            })?;
        gateways.push(Box::new(SandboxGateway::from_credentials(
            sandbox, http, base,
        )?));
    }
    let api = SessionApi::from_env(&env, store, gateways)?;
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(api.handle(request).await)
    }))
    .await
}
