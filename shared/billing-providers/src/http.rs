//! HTTP plumbing every provider adapter reuses: one client built at cold
//! start (timeouts set), a request description that can be sent again
//! unchanged, and `send_with_retries`, which retries what is safe to retry
//! with backoff and jitter and reports a typed outcome the adapter maps onto
//! `ProviderError`.
//!
//! Nothing here knows a provider's URLs or error bodies. Request bodies,
//! credentials and idempotency keys are never logged.

use billing_domain::ports::ProviderError;
use billing_domain::Provider;
use rand::Rng;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use url::Url;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// How often and how patiently a failed call is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The pause before the first retry; it doubles for each further retry.
    pub initial_backoff: Duration,
    /// The longest pause, whatever the attempt count or a `Retry-After` says:
    /// a Lambda answering a browser cannot wait long.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (1 for the first retry):
    /// exponential, capped, with "equal jitter" (half fixed, half random) so
    /// concurrent Lambdas that failed together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let half = base / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::rng().random_range(0..=jitter_nanos))
    }
}

/// Client-wide settings. API Gateway cuts a request off at 29 s and three
/// 10-second attempts plus backoff can overrun that, so a function answering
/// a browser may want a shorter `request_timeout`; a hung provider is rare,
/// and the defaults favour letting a slow-but-working call finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Covers the whole exchange of one attempt, body included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("HTTP client could not be built: {0}")]
pub struct ClientBuildError(String);

/// The one HTTP client of a function instance. Build it once at cold start
/// and clone it into each adapter: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl ApiClient {
    pub fn new(config: HttpConfig) -> Result<Self, ClientBuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Provider APIs do not redirect; following one would resend our
            // credentials somewhere we did not choose.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientBuildError(e.to_string()))?;
        Ok(Self {
            http,
            retry: config.retry,
        })
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The underlying client (same timeouts, no redirects), for the rare
    /// call an [`ApiRequest`] cannot describe: PayPal's verify call, whose
    /// body must embed the delivery's bytes unchanged.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `request` with retries and reads the JSON answer: the one call
    /// every adapter makes. A failure becomes the domain's error (`describe`
    /// reads the provider's 4xx body) and is logged with the URL path only,
    /// never a body or a credential.
    pub async fn call_json<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        provider: Provider,
        describe: impl FnOnce(&ApiResponse) -> Rejection,
    ) -> Result<T, ProviderError> {
        let response = self.send_with_retries(request).await.map_err(|e| {
            let error = e.into_provider_error(provider, describe);
            tracing::warn!(provider = %provider, path = request.url.path(), error = %error, retryable = error.is_retryable(), "provider call failed");
            error
        })?;
        response.json(provider)
    }

    /// Sends `request`, repeating it while the failure is transient and the
    /// request is safe to repeat.
    ///
    /// Retried: timeouts, connection failures, 429 and 5xx, unless the
    /// provider's retry-hint header (see [`ApiRequest::retry_hint_header`])
    /// says otherwise. A POST without an idempotency key is repeated only when
    /// it cannot have reached the provider (connection refused, 429), since
    /// repeating it after a timeout could act twice. Every attempt carries the
    /// same `Idempotency-Key`, so the provider runs the operation at most once.
    pub async fn send_with_retries(&self, request: &ApiRequest) -> Result<ApiResponse, SendError> {
        if let Some(problem) = request.invalid {
            return Err(SendError::InvalidRequest(problem.to_owned()));
        }
        let max_attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (cause, retryable, retry_after) = match self.attempt(request).await {
                Attempt::Success(response) => return Ok(response),
                Attempt::Final(response) => return Err(SendError::Refused(response)),
                Attempt::ServerFailure { status } => {
                    return Err(SendError::Unavailable {
                        attempts: attempt,
                        cause: FailureCause::Status(status),
                    })
                }
                Attempt::Failed {
                    cause,
                    retryable,
                    retry_after,
                } => (cause, retryable, retry_after),
            };
            if !retryable || attempt >= max_attempts {
                return Err(SendError::Unavailable {
                    attempts: attempt,
                    cause,
                });
            }
            let pause = self
                .retry
                .backoff(attempt)
                .max(retry_after.unwrap_or_default())
                .min(self.retry.max_backoff);
            tracing::warn!(
                method = %request.method,
                path = request.url.path(),
                attempt,
                cause = %cause,
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "provider call failed; retrying"
            );
            tokio::time::sleep(pause).await;
        }
    }

    async fn attempt(&self, request: &ApiRequest) -> Attempt {
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone());
        if let Some(key) = &request.idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY, key.clone());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => return transport_failure(&e, request.safe_to_repeat()),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(e) => return transport_failure(&e, request.safe_to_repeat()),
        };
        let response = ApiResponse {
            status: status.as_u16(),
            headers,
            body,
        };
        if status.is_success() {
            return Attempt::Success(response);
        }
        let hint = request
            .retry_hint_header
            .as_ref()
            .and_then(|name| response.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| match v.trim() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            });
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
        let retryable = match hint {
            // The provider knows whether a repeat can have an effect; a
            // `true` still waits for the backoff.
            Some(hint) => hint,
            None if rate_limited => true,
            // A 5xx may have acted already; only an idempotency key makes
            // repeating it harmless.
            None => status.is_server_error() && request.safe_to_repeat(),
        };
        if retryable {
            return Attempt::Failed {
                cause: FailureCause::Status(status.as_u16()),
                retryable: true,
                retry_after: if rate_limited {
                    retry_after(&response.headers)
                } else {
                    None
                },
            };
        }
        if status.is_server_error() {
            Attempt::ServerFailure {
                status: status.as_u16(),
            }
        } else {
            Attempt::Final(response)
        }
    }
}

enum Attempt {
    Success(ApiResponse),
    /// A response that repeating will not change (most 4xx).
    Final(ApiResponse),
    /// A 5xx we must not repeat.
    ServerFailure {
        status: u16,
    },
    Failed {
        cause: FailureCause,
        retryable: bool,
        retry_after: Option<Duration>,
    },
}

fn transport_failure(error: &reqwest::Error, safe_to_repeat: bool) -> Attempt {
    // reqwest's messages carry the URL; the cause is classified instead.
    let cause = if error.is_timeout() {
        FailureCause::Timeout
    } else if error.is_connect() {
        FailureCause::Connect
    } else {
        FailureCause::Network
    };
    Attempt::Failed {
        // A refused connection never reached the provider, so even an
        // unprotected POST can be repeated.
        retryable: safe_to_repeat || cause == FailureCause::Connect,
        cause,
        retry_after: None,
    }
}

/// `Retry-After` in seconds; the HTTP-date form is ignored (providers we use
/// send seconds) and falls back to our own backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The customer-creation idempotency key, the same for every provider: one
/// per tenant, so a retry within the provider's key window returns the first
/// customer. Beyond it, `CustomerRegistry::claim_customer` (first writer
/// wins) keeps one customer per tenant in our records.
pub fn customer_idempotency_key(tenant: &billing_domain::TenantId) -> String {
    format!("customer-create:{tenant}")
}

/// `base` followed by `segments`, each percent-encoded as one path segment,
/// so an id (ours or a caller's) can never change which endpoint is
/// called; `None` when `base` cannot take a path.
pub fn url_with_segments(base: &str, segments: &[&str]) -> Option<String> {
    let mut url = Url::parse(base).ok()?;
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(segments);
    Some(url.into())
}

/// One logical provider call, kept whole so every attempt sends the same
/// bytes. Builder methods never fail; a bad header or body is reported by
/// `send_with_retries` as [`SendError::InvalidRequest`].
#[derive(Clone)]
pub struct ApiRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    idempotency_key: Option<HeaderValue>,
    retry_hint_header: Option<HeaderName>,
    invalid: Option<&'static str>,
}

impl ApiRequest {
    pub fn new(method: Method, url: &str) -> Self {
        let (url, invalid) = match Url::parse(url) {
            Ok(url) => (url, None),
            Err(_) => (
                Url::parse("http://invalid.invalid/").expect("static URL parses"),
                Some("invalid provider URL"),
            ),
        };
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            idempotency_key: None,
            retry_hint_header: None,
            invalid,
        }
    }

    pub fn get(url: &str) -> Self {
        Self::new(Method::GET, url)
    }

    pub fn post(url: &str) -> Self {
        Self::new(Method::POST, url)
    }

    pub fn delete(url: &str) -> Self {
        Self::new(Method::DELETE, url)
    }

    pub fn patch(url: &str) -> Self {
        Self::new(Method::PATCH, url)
    }

    /// `Authorization: Bearer <token>`, marked sensitive so it never prints.
    pub fn bearer_auth(self, token: &str) -> Self {
        self.authorization(format!("Bearer {token}"))
    }

    /// `Authorization: Basic base64(user:password)` (Razorpay, PayPal's token call).
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.authorization(format!("Basic {encoded}"))
    }

    fn authorization(mut self, value: String) -> Self {
        match HeaderValue::from_str(&value) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.headers.insert(AUTHORIZATION, value);
            }
            Err(_) => self.invalid = Some("credential contains characters not allowed in a header"),
        }
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.invalid = Some("header not allowed in a request"),
        }
        self
    }

    /// An `application/x-www-form-urlencoded` body, encoded once.
    pub fn form<T: Serialize + ?Sized>(mut self, form: &T) -> Self {
        match serde_urlencoded::to_string(form) {
            Ok(body) => {
                self.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                self.body = Some(body.into_bytes());
            }
            Err(_) => self.invalid = Some("form body could not be encoded"),
        }
        self
    }

    /// An `application/json` body, encoded once.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(body) => {
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.body = Some(body);
            }
            Err(_) => self.invalid = Some("JSON body could not be encoded"),
        }
        self
    }

    /// Sent unchanged on every attempt, so the provider recognises retries of
    /// one operation.
    pub fn idempotency_key(mut self, key: &str) -> Self {
        match HeaderValue::from_str(key) {
            Ok(mut key) => {
                // Some keys are derived from customer data; keep them out of Debug.
                key.set_sensitive(true);
                self.idempotency_key = Some(key);
            }
            Err(_) => {
                self.invalid = Some("idempotency key contains characters not allowed in a header")
            }
        }
        self
    }

    /// A response header through which the provider says whether to retry
    /// (`true`/`false`), overriding the status-based decision (Stripe's
    /// `Stripe-Should-Retry`).
    pub fn retry_hint_header(mut self, name: &'static str) -> Self {
        match HeaderName::try_from(name) {
            Ok(name) => self.retry_hint_header = Some(name),
            Err(_) => self.invalid = Some("retry hint header name is invalid"),
        }
        self
    }

    /// GET, PUT and DELETE are idempotent by HTTP's definition; anything
    /// else only with a key the provider deduplicates on.
    fn safe_to_repeat(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            )
    }
}

impl fmt::Debug for ApiRequest {
    // Only what is safe to log: no headers, body or key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.url.path())
            .field("idempotent", &self.idempotency_key.is_some())
            .finish()
    }
}

/// A provider's answer, body read in full.
#[derive(Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The body as `T`. An empty body (a 204 answer) reads as JSON `null`,
    /// so a caller expecting nothing (`IgnoredAny`, `Option`) can read it,
    /// and one expecting an object is told what was missing. The error
    /// message names the problem, never the body (it may hold customer data).
    pub fn json<T: DeserializeOwned>(&self, provider: Provider) -> Result<T, ProviderError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| ProviderError::UnexpectedResponse {
            provider,
            message: format!(
                "HTTP {} body is not the expected JSON: {}",
                self.status,
                json_problem(&e)
            ),
        })
    }
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiResponse")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A serde_json error described without quoting the input: "missing field"
/// names only our own field, anything else says only its category.
pub fn json_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = error.to_string();
    match error.classify() {
        Category::Data if message.starts_with("missing field") => message
            .split(" at line")
            .next()
            .unwrap_or("missing field")
            .to_owned(),
        Category::Data => "a field has the wrong type".to_owned(),
        Category::Syntax => "syntax error".to_owned(),
        Category::Eof => "truncated".to_owned(),
        Category::Io => "unreadable".to_owned(),
    }
}

/// Why a call failed for good, after any retries.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Timeouts, connection failures, 429 or 5xx: the provider may answer
    /// later.
    #[error("provider unavailable after {attempts} attempt(s): {cause}")]
    Unavailable { attempts: u32, cause: FailureCause },
    /// A final non-success answer (4xx, or an unexpected 1xx/3xx).
    #[error("provider refused the request with HTTP {}", .0.status)]
    Refused(ApiResponse),
    /// The request could not be built: bad base URL, credential or header.
    #[error("request could not be built: {0}")]
    InvalidRequest(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    Timeout,
    Connect,
    /// The exchange broke some other way (reset, unreadable body).
    Network,
    Status(u16),
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Timeout => f.write_str("timed out"),
            FailureCause::Connect => f.write_str("connection failed"),
            FailureCause::Network => f.write_str("network error"),
            FailureCause::Status(status) => write!(f, "HTTP {status}"),
        }
    }
}

/// What a provider's error body says, in its own words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rejection {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl SendError {
    /// Maps onto the domain's error. `describe` reads the provider's error
    /// body; it is used for 4xx only.
    pub fn into_provider_error(
        self,
        provider: Provider,
        describe: impl FnOnce(&ApiResponse) -> Rejection,
    ) -> ProviderError {
        match self {
            SendError::Unavailable { .. } => ProviderError::Transient {
                provider,
                message: self.to_string(),
            },
            SendError::InvalidRequest(message) => {
                ProviderError::Configuration { provider, message }
            }
            SendError::Refused(response) => {
                let status = response.status;
                if !(400..500).contains(&status) {
                    return ProviderError::UnexpectedResponse {
                        provider,
                        message: format!("unexpected HTTP {status}"),
                    };
                }
                let rejection = describe(&response);
                if status == 401 || status == 403 {
                    // The provider's message may echo part of the key, so
                    // only the code is kept.
                    let code = rejection
                        .code
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    return ProviderError::Configuration {
                        provider,
                        message: format!("credentials refused with HTTP {status}{code}"),
                    };
                }
                ProviderError::Rejected {
                    provider,
                    status,
                    message: rejection
                        .message
                        .unwrap_or_else(|| format!("HTTP {status}")),
                    code: rejection.code,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(initial_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(initial_ms),
            max_backoff: Duration::from_millis(max_ms),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let p = policy(100, 1_000);
        for _ in 0..50 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = p.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(p.backoff(30) <= Duration::from_millis(1_000));
        }
    }

    #[test]
    fn request_debug_shows_no_credentials_or_keys() {
        let request = ApiRequest::post("https://api.example.com/v1/things?x=1")
            .bearer_auth("sk_test_secret")
            .idempotency_key("key-for-org_1")
            .form(&[("metadata[tenant_id]", "org_1")]);
        let shown = format!("{request:?}");
        assert!(
            !shown.contains("sk_test_secret") && !shown.contains("org_1"),
            "{shown}"
        );
        assert!(shown.contains("/v1/things"));
    }

    #[test]
    fn invalid_url_or_credential_is_reported_not_panicked() {
        assert!(ApiRequest::post("not a url").invalid.is_some());
        assert!(ApiRequest::post("https://x.test/")
            .bearer_auth("a\nb")
            .invalid
            .is_some());
    }

    #[test]
    fn post_is_repeatable_only_with_an_idempotency_key() {
        assert!(!ApiRequest::post("https://x.test/").safe_to_repeat());
        assert!(ApiRequest::post("https://x.test/")
            .idempotency_key("k")
            .safe_to_repeat());
        assert!(ApiRequest::get("https://x.test/").safe_to_repeat());
    }

    #[test]
    fn json_problems_never_quote_the_input() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Shape {
            id: String,
            n: i64,
        }
        let wrong_type =
            serde_json::from_str::<Shape>(r#"{"id":"x","n":"secret-value"}"#).unwrap_err();
        assert!(!json_problem(&wrong_type).contains("secret-value"));
        let missing = serde_json::from_str::<Shape>(r#"{"n":1}"#).unwrap_err();
        assert_eq!(json_problem(&missing), "missing field `id`");
    }

    #[test]
    fn unauthorized_maps_to_configuration_without_the_provider_message() {
        let refused = SendError::Refused(ApiResponse {
            status: 401,
            headers: HeaderMap::new(),
            body: Vec::new(),
        });
        let error = refused.into_provider_error(Provider::Stripe, |_| Rejection {
            code: None,
            message: Some("Invalid API Key provided: sk_test_****1234".into()),
        });
        assert!(matches!(error, ProviderError::Configuration { .. }));
        assert!(!error.to_string().contains("sk_test"));
    }
}
