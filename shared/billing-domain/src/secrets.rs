//! Provider credentials as stored in the one per-stage secret, and the cache
//! that keeps them between invocations.
//!
//! Secret JSON: `{"stripe": {"apiKey": "sk_...", "webhookSecrets": ["whsec_..."]}, ...}`.
//! Each provider object has a `webhookSecrets` array (several while a secret
//! rotates); every other field is that provider's own credentials.

use crate::ids::{Provider, UnixTime};
use crate::ports::{SecretError, SecretSource};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// A webhook signing secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
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
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCredentials {
    #[serde(default)]
    pub webhook_secrets: Vec<WebhookSecret>,
    /// The provider's own fields (API keys...), read by its adapter.
    #[serde(flatten)]
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
    /// Parses the secret's JSON. Unknown provider names are skipped (a secret
    /// may be shared with a newer deployment); malformed entries are errors.
    pub fn from_json(json: &str) -> Result<Self, SecretError> {
        let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(json).map_err(|e| {
            SecretError::Malformed(format!("not a JSON object: {}", e.classify_name()))
        })?;
        let mut providers = BTreeMap::new();
        for (name, value) in raw {
            let Ok(provider) = name.parse::<Provider>() else {
                continue;
            };
            let credentials: ProviderCredentials = serde_json::from_value(value).map_err(|_| {
                SecretError::Malformed(format!("entry {name:?} is not a credentials object"))
            })?;
            providers.insert(provider, credentials);
        }
        Ok(Self { providers })
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

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    // serde_json's messages can quote the input, and the input is a secret.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// How long cached secrets live and how often a failed signature may force a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretCachePolicy {
    pub ttl_seconds: i64,
    /// Forged deliveries must not turn into a Secrets Manager call each, so a
    /// forced refresh happens at most this often.
    pub min_forced_refresh_seconds: i64,
}

impl Default for SecretCachePolicy {
    fn default() -> Self {
        Self {
            ttl_seconds: 300,
            min_forced_refresh_seconds: 30,
        }
    }
}

#[derive(Default)]
struct CacheState {
    secrets: Option<Arc<ProviderSecrets>>,
    fetched_at: i64,
    last_forced_at: Option<i64>,
}

/// Secrets fetched once, kept for a TTL, refreshed on demand after a failed
/// signature. A failed refresh keeps serving the previous secrets, so a
/// Secrets Manager outage does not stop webhooks.
pub struct SecretCache<S> {
    source: S,
    policy: SecretCachePolicy,
    state: Mutex<CacheState>,
}

impl<S: SecretSource> SecretCache<S> {
    pub fn new(source: S, policy: SecretCachePolicy) -> Self {
        Self {
            source,
            policy,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// Current secrets, fetching them if none are cached or the TTL ran out.
    pub async fn get(&self, now: UnixTime) -> Result<Arc<ProviderSecrets>, SecretError> {
        let cached = {
            let state = self.lock();
            state.secrets.clone().map(|s| (s, state.fetched_at))
        };
        match cached {
            Some((secrets, fetched_at)) if now.0 - fetched_at < self.policy.ttl_seconds => {
                Ok(secrets)
            }
            Some((stale, _)) => Ok(self.fetch(now).await.unwrap_or(stale)),
            None => self.fetch(now).await,
        }
    }

    /// Refetches after a signature failed to verify. `None` when a forced
    /// refresh ran too recently or the fetch failed: the caller answers with
    /// the original failure.
    pub async fn refresh_after_failed_signature(
        &self,
        now: UnixTime,
    ) -> Option<Arc<ProviderSecrets>> {
        {
            let mut state = self.lock();
            if let Some(last) = state.last_forced_at {
                if now.0 - last < self.policy.min_forced_refresh_seconds {
                    return None;
                }
            }
            state.last_forced_at = Some(now.0);
        }
        self.fetch(now).await.ok()
    }

    async fn fetch(&self, now: UnixTime) -> Result<Arc<ProviderSecrets>, SecretError> {
        let secrets = Arc::new(self.source.fetch().await?);
        let mut state = self.lock();
        state.secrets = Some(secrets.clone());
        state.fetched_at = now.0;
        Ok(secrets)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // The state is plain data, so a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SECRET: &str = r#"{"stripe":{"apiKey":"sk_test_1","webhookSecrets":["whsec_a","whsec_b"]},"future-provider":{"x":1}}"#;

    #[test]
    fn secret_json_parses_per_provider_and_skips_unknown_providers() {
        let secrets = ProviderSecrets::from_json(SECRET).unwrap();
        let stripe = secrets.provider(Provider::Stripe).unwrap();
        assert_eq!(stripe.field("apiKey").unwrap(), "sk_test_1");
        assert_eq!(secrets.webhook_secrets(Provider::Stripe).len(), 2);
        assert!(stripe.field("missing").is_err());
    }

    #[test]
    fn malformed_secret_errors_never_echo_the_secret() {
        for bad in [
            r#"{"stripe": "sk_live_oops"}"#,
            r#"sk_live_oops"#,
            r#"{"stripe":{"webhookSecrets":"whsec_x"}}"#,
        ] {
            let err = ProviderSecrets::from_json(bad).unwrap_err().to_string();
            assert!(!err.contains("oops") && !err.contains("whsec_x"), "{err}");
        }
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let secrets = ProviderSecrets::from_json(SECRET).unwrap();
        let shown = format!("{secrets:?}");
        assert!(
            !shown.contains("sk_test_1") && !shown.contains("whsec_a"),
            "{shown}"
        );
    }

    /// Counts fetches; returns the JSON currently set, or fails when empty.
    struct CountingSource {
        fetches: AtomicUsize,
        json: Mutex<String>,
    }

    #[async_trait]
    impl SecretSource for CountingSource {
        async fn fetch(&self) -> Result<ProviderSecrets, SecretError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let json = self.json.lock().unwrap().clone();
            if json.is_empty() {
                return Err(SecretError::Transient("down".into()));
            }
            ProviderSecrets::from_json(&json)
        }
    }

    fn cache() -> SecretCache<CountingSource> {
        SecretCache::new(
            CountingSource {
                fetches: AtomicUsize::new(0),
                json: Mutex::new(SECRET.into()),
            },
            SecretCachePolicy {
                ttl_seconds: 300,
                min_forced_refresh_seconds: 30,
            },
        )
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        // The cache never awaits anything but the source, which is ready at once.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn secrets_are_fetched_once_then_again_after_the_ttl() {
        let cache = cache();
        block(cache.get(UnixTime(0))).unwrap();
        block(cache.get(UnixTime(299))).unwrap();
        assert_eq!(cache.source.fetches.load(Ordering::SeqCst), 1);
        block(cache.get(UnixTime(300))).unwrap();
        assert_eq!(cache.source.fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn failed_refresh_keeps_serving_the_previous_secrets() {
        let cache = cache();
        block(cache.get(UnixTime(0))).unwrap();
        cache.source.json.lock().unwrap().clear();
        let still = block(cache.get(UnixTime(1_000))).unwrap();
        assert_eq!(still.webhook_secrets(Provider::Stripe).len(), 2);
    }

    #[test]
    fn first_fetch_failure_is_an_error() {
        let cache = cache();
        cache.source.json.lock().unwrap().clear();
        assert!(block(cache.get(UnixTime(0))).unwrap_err().is_retryable());
    }

    #[test]
    fn forced_refresh_picks_up_a_rotated_secret_but_is_rate_limited() {
        let cache = cache();
        block(cache.get(UnixTime(0))).unwrap();
        *cache.source.json.lock().unwrap() =
            r#"{"stripe":{"apiKey":"k","webhookSecrets":["whsec_new"]}}"#.into();
        let fresh = block(cache.refresh_after_failed_signature(UnixTime(10))).unwrap();
        assert_eq!(
            fresh.webhook_secrets(Provider::Stripe),
            [WebhookSecret::new("whsec_new")]
        );
        assert!(block(cache.refresh_after_failed_signature(UnixTime(20))).is_none());
        assert!(block(cache.refresh_after_failed_signature(UnixTime(40))).is_some());
        assert_eq!(cache.source.fetches.load(Ordering::SeqCst), 3);
        // The forced refresh also served later reads.
        assert_eq!(
            block(cache.get(UnixTime(41)))
                .unwrap()
                .webhook_secrets(Provider::Stripe)
                .len(),
            1
        );
    }
}
