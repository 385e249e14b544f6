//! PayPal's OAuth 2.0 access token: every PayPal REST call carries
//! `Authorization: Bearer <token>`, obtained with the app's client id and
//! secret (`POST /v1/oauth2/token`, HTTP Basic auth,
//! `grant_type=client_credentials`), and valid for `expires_in` seconds
//! (about nine hours). <https://developer.paypal.com/api/rest/authentication/>
//!
//! [`CachedAccessTokens`] fetches one and reuses it until shortly before it
//! expires, so a warm Lambda does not spend a token call per webhook or per
//! checkout. [`AccessTokenSource`] is the seam: the gateway and the verifier
//! take any source (a shared cache, or a fixed token in tests).

use crate::http::{ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{ProviderError, SecretError};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::Provider;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, Instant};

/// The path of PayPal's token endpoint, below the API base URL.
pub const TOKEN_PATH: &str = "/v1/oauth2/token";

/// A token is not handed out once fewer than this many seconds of its life
/// remain: a call started with it must not outlive it.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A REST app's client id and secret (`clientId`, `clientSecret` in the
/// `paypal` entry of the provider secret). `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    client_id: String,
    client_secret: String,
}

impl AppCredentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    pub fn from_credentials(credentials: &ProviderCredentials) -> Result<Self, SecretError> {
        Ok(Self::new(
            credentials.field("clientId")?,
            credentials.field("clientSecret")?,
        ))
    }

    /// Which cache entry a token belongs to: another app, a rotated secret
    /// or another environment never reuses it.
    fn cache_key(&self, base_url: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [base_url, &self.client_id, &self.client_secret] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.finalize().into()
    }
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppCredentials(<redacted>)")
    }
}

/// A bearer token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// Where a PayPal bearer token comes from.
#[async_trait]
pub trait AccessTokenSource: Send + Sync {
    /// A token for `app` on the API at `base_url`, valid for a while yet.
    async fn access_token(
        &self,
        client: &ApiClient,
        base_url: &str,
        app: &AppCredentials,
    ) -> Result<AccessToken, ProviderError>;

    /// PayPal refused `token`: never hand it out again.
    async fn forget(&self, token: &AccessToken);
}

struct CachedToken {
    key: [u8; 32],
    token: AccessToken,
    refresh_at: Instant,
}

/// Tokens fetched with the client-credentials grant and cached, one app at a
/// time (a deployment has one PayPal app). Concurrent callers wait for a
/// single fetch instead of each fetching.
pub struct CachedAccessTokens {
    refresh_margin: Duration,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

impl Default for CachedAccessTokens {
    fn default() -> Self {
        Self::new()
    }
}

impl CachedAccessTokens {
    pub fn new() -> Self {
        Self::with_refresh_margin(DEFAULT_REFRESH_MARGIN)
    }

    pub fn with_refresh_margin(refresh_margin: Duration) -> Self {
        Self {
            refresh_margin,
            cached: tokio::sync::Mutex::new(None),
        }
    }
}

impl fmt::Debug for CachedAccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedAccessTokens")
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl AccessTokenSource for CachedAccessTokens {
    async fn access_token(
        &self,
        client: &ApiClient,
        base_url: &str,
        app: &AppCredentials,
    ) -> Result<AccessToken, ProviderError> {
        let key = app.cache_key(base_url);
        // Held across the fetch on purpose: the second caller then finds
        // the first caller's token.
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_ref() {
            if entry.key == key && Instant::now() < entry.refresh_at {
                return Ok(entry.token.clone());
            }
        }
        let fetched = fetch_token(client, base_url, app).await?;
        let lifetime = Duration::from_secs(fetched.expires_in);
        // A token that lives less than the margin is used for this call only.
        let refresh_at = Instant::now() + lifetime.saturating_sub(self.refresh_margin);
        let token = AccessToken::new(fetched.access_token);
        *cached = Some(CachedToken {
            key,
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    async fn forget(&self, token: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|entry| entry.token == *token) {
            *cached = None;
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds; PayPal documents it as the token's remaining validity.
    expires_in: u64,
}

async fn fetch_token(
    client: &ApiClient,
    base_url: &str,
    app: &AppCredentials,
) -> Result<TokenResponse, ProviderError> {
    let request = ApiRequest::post(&format!("{base_url}{TOKEN_PATH}"))
        .basic_auth(&app.client_id, &app.client_secret)
        .header("accept", "application/json")
        .form(&[("grant_type", "client_credentials")]);
    client
        .call_json(&request, Provider::Paypal, oauth_rejection)
        .await
}

/// The token endpoint answers errors the OAuth 2.0 way (RFC 6749 5.2):
/// `{"error": "invalid_client", "error_description": "..."}`.
fn oauth_rejection(response: &ApiResponse) -> Rejection {
    #[derive(Deserialize)]
    struct Body {
        error: Option<String>,
        error_description: Option<String>,
    }
    serde_json::from_slice::<Body>(&response.body)
        .map(|body| Rejection {
            code: body.error,
            message: body.error_description,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_credentials_and_tokens() {
        let app = AppCredentials::new("client-visible-id", "secret-value");
        let shown = format!("{app:?} {:?}", AccessToken::new("A21AA-token"));
        assert!(
            !shown.contains("secret-value")
                && !shown.contains("A21AA")
                && !shown.contains("client-visible-id"),
            "{shown}"
        );
    }

    #[test]
    fn cache_key_changes_with_environment_app_and_secret() {
        let app = AppCredentials::new("id", "secret");
        let key = app.cache_key("https://api-m.paypal.com");
        assert_eq!(key, app.cache_key("https://api-m.paypal.com"));
        assert_ne!(key, app.cache_key("https://api-m.sandbox.paypal.com"));
        assert_ne!(
            key,
            AppCredentials::new("id", "rotated").cache_key("https://api-m.paypal.com")
        );
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            AppCredentials::new("ab", "c").cache_key("x"),
            AppCredentials::new("a", "bc").cache_key("x")
        );
    }

    #[test]
    fn oauth_errors_keep_code_and_description() {
        let response = ApiResponse {
            status: 401,
            headers: Default::default(),
            body:
                br#"{"error":"invalid_client","error_description":"Client Authentication failed"}"#
                    .to_vec(),
        };
        let rejection = oauth_rejection(&response);
        assert_eq!(rejection.code.as_deref(), Some("invalid_client"));
        assert_eq!(
            rejection.message.as_deref(),
            Some("Client Authentication failed")
        );
    }
}
