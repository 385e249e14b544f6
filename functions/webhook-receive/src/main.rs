//! webhook-receive Lambda entry point: builds the SQS queue and the secret
//! source once per cold start, and assembles the handler with
//! [`webhook_receive::build`], as the local server does.

use billing_aws::{load_sdk_config, SecretsManagerSource, SqsQueue};
use billing_lambda::{clock, logging, Env};
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let queue = SqsQueue::from_config(&sdk, env.required("BILLING_QUEUE_URL")?);
    let secrets = SecretsManagerSource::from_config(&sdk, env.required("BILLING_SECRET_ID")?);
    let receiver = webhook_receive::build(&env, queue, secrets)?;
    let receiver = &receiver;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(receiver.handle(request, clock::now()).await)
    }))
    .await
}
