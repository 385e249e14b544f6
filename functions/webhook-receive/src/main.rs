//! webhook-receive Lambda entry point: builds the SQS queue, the secret
//! source and every provider's verifier once per cold start. The sandbox
//! provider's verifier is added only when `SANDBOX_API_BASE` is set.

use billing_aws::{load_sdk_config, SecretsManagerSource, SqsQueue};
use billing_lambda::{clock, logging, Env};
use billing_providers::registry;
use lambda_http::{service_fn, Error, Request};
use webhook_receive::WebhookReceiver;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let queue = SqsQueue::from_config(&sdk, env.required("BILLING_QUEUE_URL")?);
    let secrets = SecretsManagerSource::from_config(&sdk, env.required("BILLING_SECRET_ID")?);
    let tolerance = env.parsed_or(
        "WEBHOOK_TOLERANCE_SECONDS",
        billing_providers::stripe::signature::DEFAULT_TOLERANCE_SECONDS,
    )?;
    // The sandbox is a test provider: accepted only where explicitly enabled.
    // PayPal's verification (a token call, then the verify call) must fit
    // in the function's 10 s timeout: two attempts of 2 s each per call.
    // Anything slower is answered 503 and PayPal delivers again.
    let http = billing_providers::ApiClient::new(billing_providers::HttpConfig {
        connect_timeout: std::time::Duration::from_secs(1),
        request_timeout: std::time::Duration::from_secs(2),
        retry: billing_providers::RetryPolicy {
            max_attempts: 2,
            ..billing_providers::RetryPolicy::default()
        },
    })?;
    let verifiers =
        registry::verifiers(tolerance, env.optional("SANDBOX_API_BASE").is_some(), &http);
    let receiver = WebhookReceiver::from_env(&env, queue, secrets, verifiers)?;
    let receiver = &receiver;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(receiver.handle(request, clock::now()).await)
    }))
    .await
}
