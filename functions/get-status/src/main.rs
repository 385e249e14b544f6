//! get-status Lambda entry point: builds the DynamoDB store once per cold
//! start and serves `GET /billing/status` and `GET /billing/plans`.

use billing_aws::{load_sdk_config, DynamoStore};
use billing_lambda::{clock, logging, Env};
use get_status::StatusApi;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, env.required("BILLING_TABLE")?);
    let api = StatusApi::from_env(&env, store)?;
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(api.handle(request, clock::now()).await)
    }))
    .await
}
