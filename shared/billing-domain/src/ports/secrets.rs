//! Where the provider credentials come from (Secrets Manager, a file,
//! memory): the secret's text as stored. Reading it is the adapters'
//! business (`billing_providers::credentials`), so every source returns the
//! same text and no source parses.

use crate::secrets::SecretError;
use async_trait::async_trait;
use std::fmt;

/// A secret's stored text. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretText(<{} bytes redacted>)", self.0.len())
    }
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn fetch(&self) -> Result<SecretText, SecretError>;
}

#[async_trait]
impl<T: SecretSource + ?Sized> SecretSource for std::sync::Arc<T> {
    async fn fetch(&self) -> Result<SecretText, SecretError> {
        (**self).fetch().await
    }
}
