//! The provider secret kept between invocations: fetched once, kept for a
//! TTL, refreshed on demand after a failed signature (rate limited, so forged
//! deliveries cannot turn into a Secrets Manager call each). A failed refresh
//! keeps serving the previous secrets, so a Secrets Manager outage does not
//! stop webhooks.

use crate::credentials;
use billing_domain::ports::SecretSource;
use billing_domain::secrets::{ProviderSecrets, SecretError};
use billing_domain::UnixTime;
use std::sync::{Arc, Mutex};

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
        let secrets = Arc::new(credentials::load(&self.source).await?);
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
    use billing_domain::ports::SecretText;
    use billing_domain::secrets::WebhookSecret;
    use billing_domain::Provider;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SECRET: &str =
        r#"{"stripe":{"apiKey":"sk_test_1","webhookSecrets":["whsec_a","whsec_b"]}}"#;

    /// Counts fetches; returns the JSON currently set, or fails when empty.
    struct CountingSource {
        fetches: AtomicUsize,
        json: Mutex<String>,
    }

    #[async_trait]
    impl SecretSource for CountingSource {
        async fn fetch(&self) -> Result<SecretText, SecretError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let json = self.json.lock().unwrap().clone();
            if json.is_empty() {
                return Err(SecretError::Transient("down".into()));
            }
            Ok(SecretText::new(json))
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
