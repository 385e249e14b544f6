//! SecretsManagerSource over moto: the provider-credentials secret is read
//! and parsed, a missing secret is unavailable (not retryable), and a
//! malformed one is reported without echoing its value.

mod common;

use aws_sdk_secretsmanager::primitives::Blob;
use billing_aws::SecretsManagerSource;
use billing_domain::ports::{SecretError, SecretSource};
use billing_domain::Provider;

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
async fn secret_is_fetched_and_parsed() {
    let client = common::secrets_manager().await;
    let name = create_secret(
        &client,
        r#"{"stripe":{"apiKey":"sk_test_123","webhookSecrets":["whsec_old","whsec_new"]},"paddle":{"k":1}}"#,
    )
    .await;

    let secrets = SecretsManagerSource::new(client, &name)
        .fetch()
        .await
        .expect("fetch");

    assert_eq!(
        secrets
            .provider(Provider::Stripe)
            .unwrap()
            .field("apiKey")
            .unwrap(),
        "sk_test_123"
    );
    let webhook: Vec<&str> = secrets
        .webhook_secrets(Provider::Stripe)
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(webhook, ["whsec_old", "whsec_new"]);
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
async fn malformed_secret_is_reported_without_echoing_its_value() {
    let client = common::secrets_manager().await;
    for value in [
        r#"{"stripe": "sk_live_leaked"#,
        r#"{"stripe": "sk_live_leaked"}"#,
        "sk_live_leaked",
    ] {
        let name = create_secret(&client, value).await;
        let result = SecretsManagerSource::new(client.clone(), &name)
            .fetch()
            .await;
        let Err(SecretError::Malformed(message)) = &result else {
            panic!("got {result:?}")
        };
        assert!(!message.contains("leaked"), "{message}");
        assert!(!format!("{result:?}").contains("leaked"));
    }
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
