//! Shared setup of the local stack's end-to-end tests: start the whole
//! system (`billing_local::start`) in the embedded mode (a redb file in a
//! temporary directory that lives as long as the stack) or the AWS mode (the
//! template's table, queue and secret on the moto server the test command
//! provisioned), then drive it over HTTP the way a browser and a provider
//! would: bearer tokens, the sandbox's hosted checkout and portal, signed
//! Stripe deliveries, and status polling that waits on a condition with a
//! deadline instead of sleeping.

use base64::Engine;
use billing_domain::secrets::WebhookSecret;
use billing_domain::UnixTime;
use billing_local::{start, Backend, DevAuth, LocalConfig, RunningStack};
use billing_sandbox::SandboxProvider;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a condition on the status may take to become true. Generous:
/// under a loaded machine moto answers slowly, and a passing test never
/// waits this long.
pub const STATUS_DEADLINE: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Where the stack keeps subscriptions and queued events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// redb in a temporary directory.
    Embedded,
    /// DynamoDB, SQS and Secrets Manager on moto.
    Aws,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("seconds fit in i64")
}

/// A string no other test of any run has used: digits only, so it fits
/// inside tenant ids and provider ids alike.
pub fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!(
        "{}{nanos}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A tenant of its own for one test: in the AWS mode every test (and every
/// run against the same moto) shares one table.
pub fn unique_tenant(prefix: &str) -> String {
    format!("{prefix}-{}", unique_token())
}

// ---------- The AWS mode's resources ----------

pub const ENDPOINT_VAR: &str = "BILLING_TEST_AWS_ENDPOINT";
const TABLE_VAR: &str = "BILLING_TEST_TABLE";
const QUEUE_URL_VAR: &str = "BILLING_TEST_QUEUE_URL";
const SECRET_ID_VAR: &str = "BILLING_TEST_SECRET_ID";

/// A variable the test command sets. Unset fails the test rather than
/// skipping it, as in the AWS adapter tests: a green run must mean the AWS
/// mode was exercised.
fn required_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set. The aws:: tests run the local stack against template.yaml's \
             resources on a moto server: run `scripts/test` from the repository root, or \
             `source scripts/lib.sh && start_moto && use_moto_credentials && \
             eval \"$(.venv/bin/python scripts/provision-aws)\" && \
             export {ENDPOINT_VAR}=$MOTO_ENDPOINT {TABLE_VAR}=$BILLING_TABLE \
             {QUEUE_URL_VAR}=$BILLING_QUEUE_URL {SECRET_ID_VAR}=$BILLING_SECRET_ID` \
             before `cargo test -p billing-local`."
        ),
    }
}

/// The stack's AWS adapters read their endpoint, region and credentials
/// from the environment (`billing_aws::load_sdk_config`). The test command
/// normally exports them; whatever it left out is filled in here, once and
/// before any stack starts, from `BILLING_TEST_AWS_ENDPOINT`. An
/// `AWS_ENDPOINT_URL` naming another server is refused: these tests must
/// never reach a real account.
fn aws_environment_for(endpoint: &str) {
    static FILL_IN: Once = Once::new();
    FILL_IN.call_once(|| {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(current) if current.trim_end_matches('/') == endpoint.trim_end_matches('/') => {}
            Ok(other) => panic!(
                "AWS_ENDPOINT_URL is {other} but {ENDPOINT_VAR} is {endpoint}; \
                 the local stack's AWS adapters must talk to the test's moto server"
            ),
            Err(_) => std::env::set_var("AWS_ENDPOINT_URL", endpoint),
        }
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    });
}

/// The backend of the AWS mode: the provisioned table, queue and secret.
pub fn aws_backend() -> Backend {
    let endpoint = required_var(ENDPOINT_VAR);
    let backend = Backend::Aws {
        table: required_var(TABLE_VAR),
        queue_url: required_var(QUEUE_URL_VAR),
        secret_id: required_var(SECRET_ID_VAR),
    };
    aws_environment_for(&endpoint);
    backend
}

// ---------- A running stack and its HTTP client ----------

/// The local system under test, with a client playing browser and provider.
pub struct TestStack {
    stack: RunningStack,
    pub base_url: String,
    pub sandbox: Arc<SandboxProvider>,
    pub http: reqwest::Client,
    auth: DevAuth,
    /// The embedded mode's data directory, removed when the stack is dropped.
    _data_dir: Option<tempfile::TempDir>,
}

/// A test's settings: the mode's defaults, with a chance to adjust them.
pub fn config_for(mode: Mode, data_dir: &Path) -> LocalConfig {
    let mut config = LocalConfig::embedded_for_tests(data_dir.to_path_buf(), &repo_root());
    if mode == Mode::Aws {
        config.backend = aws_backend();
    }
    config
}

impl TestStack {
    /// A stack in `mode` with the test defaults.
    pub async fn start(mode: Mode) -> Self {
        Self::start_with(mode, |_| {}).await
    }

    /// A stack in `mode` whose settings `adjust` changes first.
    pub async fn start_with(mode: Mode, adjust: impl FnOnce(&mut LocalConfig)) -> Self {
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        let mut config = config_for(mode, data_dir.path());
        adjust(&mut config);
        let mut stack = Self::start_config(config).await;
        stack._data_dir = Some(data_dir);
        stack
    }

    /// An embedded stack on a data directory the test owns (to restart on it).
    pub async fn start_embedded_in(data_dir: &Path) -> Self {
        Self::start_config(config_for(Mode::Embedded, data_dir)).await
    }

    async fn start_config(config: LocalConfig) -> Self {
        let auth = DevAuth::development().expect("the committed dev auth settings");
        let stack = start(config, auth.clone())
            .await
            .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
        let http = reqwest::Client::builder()
            // The hosted pages answer 303; the test reads where they point.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Self {
            base_url: stack.base_url.clone(),
            sandbox: Arc::clone(&stack.sandbox),
            stack,
            http,
            auth,
            _data_dir: None,
        }
    }

    /// Stops the server and lets the poller finish its batch (in the AWS
    /// mode it may hold other tests' messages).
    pub async fn stop(self) {
        self.stack.stop().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A bearer token for `tenant`, as the identity provider would issue.
    pub fn token(&self, tenant: &str) -> String {
        self.auth
            .issue(tenant, "owner", unix_now(), 3600)
            .expect("a dev token")
    }

    /// A bearer token for `tenant` with `role` (owner, admin, viewer).
    pub fn token_as(&self, tenant: &str, role: &str) -> String {
        self.auth
            .issue(tenant, role, unix_now(), 3600)
            .expect("a dev token")
    }

    /// A request to our API as `tenant`'s owner: `method` and `path`, with
    /// a JSON body if any; returns the status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tenant: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(self.token(tenant));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        read(response).await
    }

    /// `GET /billing/status` as `tenant`; the status must be readable.
    pub async fn status(&self, tenant: &str) -> Value {
        let response = self
            .http
            .get(self.url("/billing/status"))
            .bearer_auth(self.token(tenant))
            .send()
            .await
            .expect("GET /billing/status");
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK, "GET /billing/status: {body}");
        body
    }

    /// Polls the tenant's status until `condition` holds and returns it;
    /// fails with the last status seen after [`STATUS_DEADLINE`].
    pub async fn wait_until(
        &self,
        tenant: &str,
        what: &str,
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + STATUS_DEADLINE;
        loop {
            let status = self.status(tenant).await;
            if condition(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{tenant}: {what} did not happen within {STATUS_DEADLINE:?}; last status {status}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Polls until the tenant's `status` is `expected` and returns the body.
    pub async fn wait_for_status(&self, tenant: &str, expected: &str) -> Value {
        self.wait_until(tenant, &format!("status {expected}"), |s| {
            s["status"] == expected
        })
        .await
    }

    /// `POST /billing/session` as `tenant` for `plan`, returning to pages on
    /// the server's own origin.
    pub async fn request_checkout(&self, tenant: &str, plan: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/billing/session"))
            .bearer_auth(self.token(tenant))
            .json(&serde_json::json!({
                "plan": plan,
                "successUrl": self.url("/checkout/return"),
                "cancelUrl": self.url("/checkout/cancelled"),
            }))
            .send()
            .await
            .expect("POST /billing/session");
        read(response).await
    }

    /// A checkout session that must be created; returns its hosted page URL.
    pub async fn checkout(&self, tenant: &str, plan: &str) -> String {
        let (status, body) = self.request_checkout(tenant, plan).await;
        assert_eq!(status, StatusCode::OK, "POST /billing/session: {body}");
        assert!(body["sessionId"].as_str().is_some_and(|id| !id.is_empty()));
        let url = body["sessionUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionUrl in {body}"));
        assert!(
            url.starts_with(&self.base_url),
            "the sandbox's checkout page is served by the local server: {url}"
        );
        url.to_owned()
    }

    /// Submits the hosted checkout page with `outcome` (`pay`, `decline`,
    /// `pay_fail_renewal`); the browser goes back to the success URL.
    pub async fn complete_checkout(&self, session_url: &str, outcome: &str) {
        let location = self.submit_form(session_url, &[("outcome", outcome)]).await;
        assert!(
            location.starts_with(&self.url("/checkout/return")),
            "checkout returns to its success URL: {location}"
        );
    }

    /// A checkout for `plan` paid with `outcome`.
    pub async fn subscribe(&self, tenant: &str, plan: &str, outcome: &str) {
        let session_url = self.checkout(tenant, plan).await;
        self.complete_checkout(&session_url, outcome).await;
    }

    /// `POST /billing/portal` as `tenant`; returns the hosted portal's URL.
    pub async fn portal(&self, tenant: &str) -> String {
        let response = self
            .http
            .post(self.url("/billing/portal"))
            .bearer_auth(self.token(tenant))
            .json(&serde_json::json!({ "returnUrl": self.url("/") }))
            .send()
            .await
            .expect("POST /billing/portal");
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK, "POST /billing/portal: {body}");
        body["url"]
            .as_str()
            .unwrap_or_else(|| panic!("no url in {body}"))
            .to_owned()
    }

    /// Clicks a portal button (`cancel`, `resume`, `cancel_now`).
    pub async fn portal_action(&self, portal_url: &str, action: &str) {
        self.submit_form(portal_url, &[("action", action)]).await;
    }

    /// Posts a hosted page's form; it must answer 303. Returns the location.
    pub async fn submit_form(&self, url: &str, form: &[(&str, &str)]) -> String {
        let response = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::SEE_OTHER, "POST {url} {form:?}: {body}");
        location.unwrap_or_else(|| panic!("POST {url}: 303 without a location"))
    }

    /// Posts a Stripe delivery with the given `Stripe-Signature`, if any.
    pub async fn post_stripe(&self, body: &str, signature: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url("/billing/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        let response = request.send().await.expect("POST /billing/webhooks/stripe");
        read(response).await
    }

    /// Delivers a Stripe event signed now with the development secret, as
    /// Stripe would; it must be accepted.
    pub async fn deliver_stripe(&self, delivery: &StripeDelivery) {
        let signature = stripe_signature(&delivery.body, unix_now());
        let (status, body) = self.post_stripe(&delivery.body, Some(&signature)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", delivery.sample);
    }
}

/// A response's status and JSON body (`null` when the body is not JSON).
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a response body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The status without `updatedAt`, which records when the store was written
/// and so differs between two tenants that reached the same state.
pub fn without_updated_at(status: &Value) -> Value {
    let mut status = status.clone();
    if let Some(fields) = status.as_object_mut() {
        fields.remove("updatedAt");
    }
    status
}

// ---------- Stripe deliveries from the sample events ----------

/// The development Stripe webhook secret of `infra/dev-secrets.json`, which
/// the embedded mode reads and `scripts/provision-aws` stores in the secret.
pub fn stripe_webhook_secret() -> WebhookSecret {
    let path = repo_root().join("infra/dev-secrets.json");
    let secrets: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("dev-secrets.json is JSON");
    WebhookSecret::new(
        secrets["stripe"]["webhookSecrets"][0]
            .as_str()
            .expect("a Stripe webhook secret in dev-secrets.json"),
    )
}

/// `Stripe-Signature` for `body` at `timestamp` with the development secret.
pub fn stripe_signature(body: &str, timestamp: i64) -> String {
    billing_providers::stripe::sign(
        &stripe_webhook_secret(),
        UnixTime(timestamp),
        body.as_bytes(),
    )
}

/// One of `events/webhook-stripe-*.json`, made to belong to a tenant of the
/// test's own.
#[derive(Debug, Clone)]
pub struct StripeDelivery {
    /// The sample's file name.
    pub sample: String,
    pub body: String,
}

/// The raw body of an API Gateway sample event (`body`, base64 when
/// `isBase64Encoded`).
pub fn sample_body(file_name: &str) -> String {
    let path = repo_root().join("events").join(file_name);
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{file_name}: {e}"));
    let body = event["body"]
        .as_str()
        .unwrap_or_else(|| panic!("{file_name} has no body"));
    if event["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|e| panic!("{file_name}: body is not base64: {e}"));
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{file_name}: body is not UTF-8: {e}"))
    } else {
        body.to_owned()
    }
}

/// A tenant of the test's own standing in for the samples' `org_acme`:
/// its deliveries are the samples with the tenant replaced and the event,
/// customer, subscription, invoice and session ids made unique (shared by
/// this tenant's samples, so they refer to one another as the originals do),
/// so no delivery of one test is a duplicate of another test's or run's.
pub struct SampleTenant {
    pub tenant: String,
    token: String,
}

impl SampleTenant {
    pub fn new(prefix: &str) -> Self {
        let token = unique_token();
        Self {
            tenant: format!("{prefix}-{token}"),
            token,
        }
    }

    pub fn delivery(&self, file_name: &str) -> StripeDelivery {
        let body = sample_body(file_name)
            .replace("org_acme", &self.tenant)
            .replace("TestAcme0", &format!("T{}Acme0", self.token))
            .replace("evt_1Test", &format!("evt_1T{}", self.token));
        StripeDelivery {
            sample: file_name.to_owned(),
            body,
        }
    }
}
