//! AWS adapters of the billing domain's ports: the DynamoDB store
//! ([`DynamoStore`]: subscription records, dedupe keys, provider-id claims,
//! parked events), the SQS event queue ([`SqsQueue`]) and the Secrets Manager
//! credentials source ([`SecretsManagerSource`]).
//!
//! Every SDK failure is classified as retryable or not *before* it is turned
//! into the domain's error, so a Lambda can tell "put it back on the queue"
//! from "send it to the DLQ". Clients are built once per cold start by the
//! caller from [`load_sdk_config`] and handed to the adapters.

mod aws_error;
pub mod dynamodb;
pub mod secrets_manager;
pub mod sqs;

pub use dynamodb::{create_table, DynamoStore};
pub use secrets_manager::SecretsManagerSource;
pub use sqs::{envelope_from_message_body, EnvelopeBodyError, ReceivedMessage, SqsQueue};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use std::time::Duration;

/// Attempts per SDK call, first one included. The SDK's standard mode backs
/// off on throttling and 5xx; more than a few attempts would only eat into
/// the Lambda's own timeout, and SQS redelivery is the retry of last resort.
pub const SDK_MAX_ATTEMPTS: u32 = 3;

/// The shared SDK configuration: region, credentials and endpoint from the
/// environment (`AWS_ENDPOINT_URL` points every client at moto in tests and
/// local runs), standard retries and bounded timeouts.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader().load().await
}

/// The loader behind [`load_sdk_config`], for callers that set the
/// endpoint, region or credentials explicitly (the adapter tests do).
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .timeout_config(sdk_timeouts())
}

/// Without timeouts a stuck connection would hold the invocation until the
/// Lambda itself times out; with them it becomes a retryable error.
fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}
