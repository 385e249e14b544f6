//! Provider credentials from a JSON file in the Secrets Manager secret's
//! shape (`BILLING_SECRETS_FILE`, by default the committed development file
//! `infra/dev-secrets.json`). The file is read on every fetch, so editing it
//! is a rotation, picked up by the receiver's secret cache as in AWS.

use async_trait::async_trait;
use billing_domain::ports::{SecretError, SecretSource, SecretText};
use std::path::PathBuf;

pub struct FileSecrets {
    path: PathBuf,
}

impl FileSecrets {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

#[async_trait]
impl SecretSource for FileSecrets {
    async fn fetch(&self) -> Result<SecretText, SecretError> {
        let json = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
            SecretError::Unavailable(format!("reading {}: {e}", self.path.display()))
        })?;
        Ok(SecretText::new(json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::Provider;
    use billing_providers::credentials;

    #[tokio::test]
    async fn the_development_file_has_stripe_and_sandbox_credentials() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/dev-secrets.json");
        let secrets = credentials::load(&FileSecrets::new(path)).await.unwrap();
        for provider in [Provider::Stripe, Provider::Sandbox] {
            assert!(secrets.provider(provider).is_some(), "{provider}");
            assert!(!secrets.webhook_secrets(provider).is_empty(), "{provider}");
        }
    }

    #[tokio::test]
    async fn a_missing_or_malformed_file_is_a_clear_error() {
        let missing = FileSecrets::new("/nonexistent/billing-secrets.json")
            .fetch()
            .await
            .unwrap_err();
        assert!(
            matches!(&missing, SecretError::Unavailable(m) if m.contains("billing-secrets.json")),
            "{missing}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(
            credentials::load(&FileSecrets::new(&path)).await,
            Err(SecretError::Malformed(_))
        ));
    }
}
