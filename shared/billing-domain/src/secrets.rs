//! Provider credentials as the adapters use them: per provider, its webhook
//! signing secrets (several while one rotates) and its own fields (API keys).
//! Where they are stored and how they are encoded is the adapters' business
//! (`billing_providers::credentials` reads the per-stage secret's JSON).

use crate::ids::Provider;
use std::collections::BTreeMap;
use std::fmt;

/// Why provider credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret temporarily unavailable: {0}")]
    Transient(String),
    #[error("secret missing or access denied: {0}")]
    Unavailable(String),
    #[error("secret is not valid provider-credentials JSON: {0}")]
    Malformed(String),
}

impl SecretError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SecretError::Transient(_))
    }
}

/// A webhook signing secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// One provider's entry in the secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ProviderCredentials {
    pub webhook_secrets: Vec<WebhookSecret>,
    /// The provider's own fields (API keys...), read by its adapter.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ProviderCredentials {
    /// Credentials holding only webhook secrets (tests, tools).
    pub fn with_webhook_secrets(secrets: impl IntoIterator<Item = WebhookSecret>) -> Self {
        Self {
            webhook_secrets: secrets.into_iter().collect(),
            fields: serde_json::Map::new(),
        }
    }

    /// A required string field, e.g. Stripe's `apiKey`.
    pub fn field(&self, name: &str) -> Result<&str, SecretError> {
        self.fields
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError::Malformed(format!("missing string field {name:?}")))
    }
}

impl fmt::Debug for ProviderCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderCredentials")
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Every provider's credentials from the secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderSecrets {
    providers: BTreeMap<Provider, ProviderCredentials>,
}

impl ProviderSecrets {
    pub fn new(providers: BTreeMap<Provider, ProviderCredentials>) -> Self {
        Self { providers }
    }

    /// Only the entries of `providers` (those that exist).
    pub fn restricted_to(&self, providers: &[Provider]) -> Self {
        Self::new(
            self.providers
                .iter()
                .filter(|(provider, _)| providers.contains(provider))
                .map(|(provider, credentials)| (*provider, credentials.clone()))
                .collect(),
        )
    }

    pub fn provider(&self, provider: Provider) -> Option<&ProviderCredentials> {
        self.providers.get(&provider)
    }

    /// The provider's entry, or an empty one when the secret has none (a
    /// verifier then finds no secret and refuses). Borrowed: called once per
    /// webhook delivery.
    pub fn credentials_or_empty(&self, provider: Provider) -> &ProviderCredentials {
        static EMPTY: std::sync::LazyLock<ProviderCredentials> =
            std::sync::LazyLock::new(ProviderCredentials::default);
        self.provider(provider).unwrap_or(&EMPTY)
    }

    pub fn webhook_secrets(&self, provider: Provider) -> &[WebhookSecret] {
        self.provider(provider)
            .map(|c| c.webhook_secrets.as_slice())
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> ProviderSecrets {
        let mut fields = serde_json::Map::new();
        fields.insert("apiKey".into(), "sk_test_1".into());
        fields.insert("empty".into(), "".into());
        ProviderSecrets::new(BTreeMap::from([(
            Provider::Stripe,
            ProviderCredentials {
                webhook_secrets: vec![WebhookSecret::new("whsec_a"), WebhookSecret::new("whsec_b")],
                fields,
            },
        )]))
    }

    #[test]
    fn fields_are_read_by_name_and_a_missing_or_empty_one_is_malformed() {
        let secrets = secrets();
        let stripe = secrets.provider(Provider::Stripe).unwrap();
        assert_eq!(stripe.field("apiKey").unwrap(), "sk_test_1");
        assert!(matches!(
            stripe.field("missing"),
            Err(SecretError::Malformed(_))
        ));
        assert!(matches!(
            stripe.field("empty"),
            Err(SecretError::Malformed(_))
        ));
    }

    #[test]
    fn a_provider_without_an_entry_has_no_webhook_secrets() {
        let secrets = secrets();
        assert_eq!(secrets.webhook_secrets(Provider::Stripe).len(), 2);
        assert!(secrets.webhook_secrets(Provider::Paddle).is_empty());
        assert!(secrets
            .credentials_or_empty(Provider::Paddle)
            .webhook_secrets
            .is_empty());
    }

    #[test]
    fn restricting_keeps_only_the_named_providers_that_have_entries() {
        let secrets = secrets();
        let kept = secrets.restricted_to(&[Provider::Stripe, Provider::Paddle]);
        assert_eq!(kept, secrets);
        let none = secrets.restricted_to(&[Provider::Paddle]);
        assert!(none.provider(Provider::Stripe).is_none());
        assert_eq!(none, ProviderSecrets::default());
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let shown = format!("{:?}", secrets());
        assert!(
            !shown.contains("sk_test_1") && !shown.contains("whsec_a"),
            "{shown}"
        );
    }
}
