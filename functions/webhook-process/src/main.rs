//! webhook-process Lambda entry point: builds the DynamoDB store once per
//! cold start and applies each SQS batch, reporting per-message failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use billing_aws::{load_sdk_config, DynamoStore};
use billing_lambda::{clock, logging, Env};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use webhook_process::EventProcessor;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let env = Env::from_process();
    let sdk = load_sdk_config().await;
    let store = DynamoStore::from_config(&sdk, env.required("BILLING_TABLE")?);
    let processor = EventProcessor::from_env(&env, store)?;
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(processor.handle(event.payload, clock::now()).await)
    }))
    .await
}
