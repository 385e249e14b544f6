//! SecretsManagerSource over moto: the provider-credentials secret's text is
//! read exactly as stored and never shown in `Debug` output, a missing secret
//! is unavailable (not retryable), a binary one is malformed, and an
//! unreachable endpoint is transient. Reading the text is
//! `billing_providers::credentials`' job, tested there.

mod common;

use aws_sdk_secretsmanager::primitives::Blob;
use billing_aws::SecretsManagerSource;
use billing_domain::ports::{SecretError, SecretSource};

async fn create_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = common::unique_name("billing/provider-credentials");
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create_secret");
    name
}

#[tokio::test]
async fn secret_text_is_fetched_as_stored_and_redacted_in_debug_output() {
    let client = common::secrets_manager().await;
    let stored = r#"{"stripe":{"apiKey":"sk_test_123","webhookSecrets":["whsec_old","whsec_new"]},"paddle":{"k":1}}"#;
    let name = create_secret(&client, stored).await;

    let text = SecretsManagerSource::new(client, &name)
        .fetch()
        .await
        .expect("fetch");

    assert_eq!(text.expose(), stored);
    let shown = format!("{text:?}");
    assert!(
        !shown.contains("sk_test_123") && !shown.contains("whsec"),
        "{shown}"
    );
}

#[tokio::test]
async fn missing_secret_is_unavailable_and_not_retryable() {
    let client = common::secrets_manager().await;
    let result = SecretsManagerSource::new(client, common::unique_name("no-such-secret"))
        .fetch()
        .await;
    assert!(
        matches!(&result, Err(SecretError::Unavailable(_))),
        "got {result:?}"
    );
    assert!(!result.unwrap_err().is_retryable());
}

#[tokio::test]
async fn binary_secret_is_malformed() {
    let client = common::secrets_manager().await;
    let name = common::unique_name("billing/binary");
    client
        .create_secret()
        .name(&name)
        .secret_binary(Blob::new(b"\x00\x01".to_vec()))
        .send()
        .await
        .expect("create_secret");
    let result = SecretsManagerSource::new(client, &name).fetch().await;
    assert!(
        matches!(&result, Err(SecretError::Malformed(_))),
        "got {result:?}"
    );
}

#[tokio::test]
async fn unreachable_secrets_endpoint_is_a_transient_error() {
    let config = common::sdk_config_for(common::UNREACHABLE_ENDPOINT).await;
    let source = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&config), "any");
    let result = source.fetch().await;
    assert!(
        matches!(&result, Err(SecretError::Transient(_))),
        "got {result:?}"
    );
}
