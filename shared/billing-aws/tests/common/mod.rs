//! Shared setup of the AWS adapter tests: real SDK clients pointed at the
//! moto server named by `BILLING_TEST_AWS_ENDPOINT`, and unique resource
//! names (moto keeps state for as long as it runs).
//!
//! Each test builds its own clients: a client's connection pool belongs to
//! the tokio runtime it first ran on, and every `#[tokio::test]` has its own.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use billing_aws::{create_table, DynamoStore};
use billing_testkit::store_contract::Seed;

pub const ENDPOINT_VAR: &str = "BILLING_TEST_AWS_ENDPOINT";

/// The moto endpoint. Unset fails the test rather than skipping it: a green
/// run must mean the adapters were exercised.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!(
            "{ENDPOINT_VAR} is not set. These tests run the AWS adapters against a moto server: \
             run `scripts/test` from the repository root (it starts moto and sets the variable), \
             or start `.venv/bin/moto_server -H 127.0.0.1 -p 5005` and run \
             `{ENDPOINT_VAR}=http://127.0.0.1:5005 cargo test -p billing-aws`."
        ),
    }
}

/// The production configuration (retries, timeouts) aimed at `endpoint`
/// with moto's dummy credentials, so nothing is read from the environment
/// or instance metadata.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    billing_aws::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await
}

pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(&endpoint()).await
}

/// An endpoint where nothing listens: every call fails to connect.
pub const UNREACHABLE_ENDPOINT: &str = "http://127.0.0.1:9";

/// A name no earlier run has used, valid for tables, queues and secrets.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", Seed::unique().as_str())
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config().await)
}

pub async fn secrets_manager() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
}

/// A store over a fresh table of its own.
pub async fn fresh_store() -> DynamoStore {
    let client = dynamodb().await;
    let table = unique_name("billing-test");
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("creating table {table}: {e}"));
    DynamoStore::new(client, table)
}
