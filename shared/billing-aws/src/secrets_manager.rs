//! Provider credentials from AWS Secrets Manager: the `SecretSource` port
//! over one secret's `SecretString`, which `billing_providers::credentials`
//! reads. `billing_providers::SecretCache` sits in front of it, so this is
//! called once per TTL, not per request.
//!
//! The secret's value never reaches an error, a log line or a `Debug`
//! output: errors carry AWS's error codes only.

use crate::aws_error::{classify, describe, Retry};
use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;
use billing_domain::ports::{SecretError, SecretSource, SecretText};

/// Reads one secret (by name or ARN).
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSource {
    /// A source with its own client, built from the shared SDK configuration.
    pub fn from_config(sdk: &aws_config::SdkConfig, secret_id: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), secret_id)
    }

    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn fetch(&self) -> Result<SecretText, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|err| {
                let message = describe("GetSecretValue", &err);
                let retry = match err.as_service_error() {
                    Some(GetSecretValueError::InternalServiceError(_)) => Retry::Transient,
                    // Missing, scheduled for deletion, undecryptable with our
                    // KMS permissions, or a wrong id in our configuration.
                    Some(
                        GetSecretValueError::ResourceNotFoundException(_)
                        | GetSecretValueError::InvalidRequestException(_)
                        | GetSecretValueError::InvalidParameterException(_)
                        | GetSecretValueError::DecryptionFailure(_),
                    ) => Retry::Permanent,
                    _ => classify(&err),
                };
                match retry {
                    Retry::Transient => SecretError::Transient(message),
                    Retry::Permanent => SecretError::Unavailable(message),
                }
            })?;
        let json = output.secret_string().ok_or_else(|| {
            SecretError::Malformed(format!(
                "secret {} has no string value (binary secrets are not read)",
                self.secret_id
            ))
        })?;
        Ok(SecretText::new(json))
    }
}
