//! create-session Lambda entry point: builds the store, reads the provider
//! credentials from Secrets Manager once per cold start, and assembles the
//! handler with [`create_session::build`], as the local server does.

use billing_aws::{load_sdk_config, DynamoStore, SecretsManagerSource};
use billing_lambda::{clock, logging, Env};
use billing_providers::credentials;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, env.required("BILLING_TABLE")?);
    let source = SecretsManagerSource::from_config(&sdk, env.required("BILLING_SECRET_ID")?);
    let secrets = credentials::load(&source).await?;
    let api = create_session::build(&env, store, &secrets)?;
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(api.handle(request, clock::now()).await)
    }))
    .await
}
