//! The sandbox payment provider: a fake provider that runs inside the local
//! server (like Hyperswitch's dummy connector), so the whole billing flow
//! (create a checkout, pay on a hosted page, receive signed webhooks, manage
//! the subscription in a portal) runs on one machine with no account
//! anywhere. The backend talks to it through `billing_providers::sandbox`,
//! an adapter written exactly like a real provider's.
//!
//! - `api`: the provider API under `/sandbox/v1/` (bearer key, JSON,
//!   idempotency keys): customers, checkout and portal sessions, and
//!   cancelling a subscription (at period end or at once);
//!   `self_service_api`: plan changes and their preview, resume, the test
//!   clock (`advance`), saved cards and add-a-card sessions;
//! - `checkout`, `portal` and `setup`: the hosted pages a browser (or a
//!   test) clicks through; `html` renders them;
//! - `simulation`, `plan_change` and `cards`: what each action does to the
//!   provider's state and which events a real provider would send for it;
//!   `proration` is the documented proration rule;
//! - `delivery`: signs each event the Standard Webhooks way and POSTs it to
//!   the webhook URL, in order, retrying with backoff;
//! - `state`: the provider's records, optionally persisted to a JSON file.
//!
//! Event times: every action's events share one second and rely on the
//! domain's same-second precedence of kinds (checkout < created < updated);
//! successive actions on one customer always fall in strictly later seconds
//! (the action waits for the next second if needed), so the final state is
//! right whatever order the receiver processes them in.
//!
//! Wiring, inside a tokio runtime (every route is absolute, under
//! `/sandbox/`, so the router is merged rather than nested):
//!
//! ```text
//! let sandbox = SandboxProvider::start(SandboxConfig::new(
//!     "http://127.0.0.1:3000",
//!     "http://127.0.0.1:3000/billing/webhooks/sandbox",
//!     api_key, webhook_secret, catalog,
//! ))?;
//! let app = backend_routes.merge(sandbox.router());
//! ```

mod api;
mod cards;
mod checkout;
mod delivery;
mod html;
mod plan_change;
mod portal;
mod proration;
mod self_service_api;
mod setup;
mod simulation;
mod state;

use axum::routing::{get, post};
use axum::Router;
use billing_domain::secrets::WebhookSecret;
use billing_domain::Catalog;
use billing_providers::sandbox::wire::{
    SandboxEvent, CHECKOUT_SESSIONS_PATH, CUSTOMERS_PATH, PAYMENT_METHODS_PATH,
    PORTAL_SESSIONS_PATH, SETUP_SESSIONS_PATH, SUBSCRIPTIONS_PATH,
};
use billing_providers::standard_webhooks;
use delivery::{Outgoing, PendingWork};
use serde::Serialize;
use state::SandboxState;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Mutex, MutexGuard};

pub use delivery::{DELIVERY_ATTEMPTS, FIRST_RETRY_DELAY};
pub use simulation::{MONTH_SECONDS, YEAR_SECONDS};

/// How long after "pay" the simulated first renewal fails, unless configured.
pub const DEFAULT_RENEWAL_DELAY: Duration = Duration::from_secs(3);

/// Where the sandbox lives and whom it talks to.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The base URL browsers reach the sandbox's routes at, e.g.
    /// `http://127.0.0.1:3000`: hosted page URLs are built from it.
    pub public_base_url: String,
    /// Where deliveries go, e.g. `http://127.0.0.1:3000/billing/webhooks/sandbox`.
    pub webhook_url: String,
    /// The `Authorization: Bearer` value the API requires.
    pub api_key: String,
    /// `whsec_…`, signs every delivery.
    pub webhook_secret: WebhookSecret,
    /// Plans and prices: a checkout must name a sandbox price of the catalog;
    /// the hosted page shows the plan's name and price.
    pub catalog: Catalog,
    /// A JSON file keeping customers, sessions and subscriptions across
    /// restarts. Queued deliveries and a pending simulated renewal are not
    /// kept.
    pub state_file: Option<PathBuf>,
    /// How long after "pay" the simulated first renewal fails.
    pub renewal_delay: Duration,
}

impl SandboxConfig {
    /// No state file, and the default renewal delay.
    pub fn new(
        public_base_url: impl Into<String>,
        webhook_url: impl Into<String>,
        api_key: impl Into<String>,
        webhook_secret: WebhookSecret,
        catalog: Catalog,
    ) -> Self {
        Self {
            public_base_url: public_base_url.into(),
            webhook_url: webhook_url.into(),
            api_key: api_key.into(),
            webhook_secret,
            catalog,
            state_file: None,
            renewal_delay: DEFAULT_RENEWAL_DELAY,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("public_base_url", &self.public_base_url)
            .field("webhook_url", &self.webhook_url)
            .field("api_key", &"<redacted>")
            .field("webhook_secret", &self.webhook_secret)
            .field("state_file", &self.state_file)
            .field("renewal_delay", &self.renewal_delay)
            .finish()
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox must be started inside a tokio runtime (it spawns its delivery task)")]
    NoRuntime,
    #[error("{field} is not an absolute http(s) URL")]
    InvalidUrl { field: &'static str },
    #[error("the sandbox API key is empty")]
    EmptyApiKey,
    #[error("the sandbox webhook secret is not of the form whsec_<base64>")]
    InvalidWebhookSecret,
    #[error("sandbox state file {path} could not be read: {source}")]
    StateFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox state file {path} is not valid sandbox state: {problem}")]
    StateFileCorrupt { path: PathBuf, problem: String },
    #[error("the webhook HTTP client could not be built: {0}")]
    HttpClient(String),
}

/// The running fake provider: its state, its routes and its delivery task.
pub struct SandboxProvider {
    config: SandboxConfig,
    state: Mutex<SandboxState>,
    outbox: mpsc::UnboundedSender<Outgoing>,
    pending: PendingWork,
}

impl fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SandboxProvider {
    /// Checks the configuration, loads the state file if any, and spawns the
    /// delivery task on the current tokio runtime.
    pub fn start(config: SandboxConfig) -> Result<Arc<Self>, SandboxError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SandboxError::NoRuntime)?;
        check_http_url(&config.public_base_url, "public_base_url")?;
        check_http_url(&config.webhook_url, "webhook_url")?;
        if config.api_key.is_empty() {
            return Err(SandboxError::EmptyApiKey);
        }
        standard_webhooks::secret_key(&config.webhook_secret)
            .map_err(|_| SandboxError::InvalidWebhookSecret)?;
        let state = match &config.state_file {
            Some(path) => state::load(path)?,
            None => SandboxState::default(),
        };
        let client = delivery::client()?;
        let (outbox, inbox) = mpsc::unbounded_channel();
        runtime.spawn(delivery::run(
            inbox,
            client,
            config.webhook_url.clone(),
            config.webhook_secret.clone(),
        ));
        tracing::info!(
            public_base_url = %config.public_base_url,
            webhook_url = %config.webhook_url,
            persistent = config.state_file.is_some(),
            "sandbox provider started"
        );
        Ok(Arc::new(Self {
            config,
            state: Mutex::new(state),
            outbox,
            pending: PendingWork::default(),
        }))
    }

    /// Every sandbox route, under `/sandbox/`: the API, the hosted checkout
    /// and the portal.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(CUSTOMERS_PATH, post(api::create_customer))
            .route(CHECKOUT_SESSIONS_PATH, post(api::create_checkout_session))
            .route(PORTAL_SESSIONS_PATH, post(api::create_portal_session))
            .route(
                &format!("{SUBSCRIPTIONS_PATH}/{{subscription_id}}/cancel"),
                post(api::cancel_subscription),
            )
            .route(
                &format!("{SUBSCRIPTIONS_PATH}/{{subscription_id}}/change"),
                post(self_service_api::change_subscription),
            )
            .route(
                &format!("{SUBSCRIPTIONS_PATH}/{{subscription_id}}/preview"),
                post(self_service_api::preview_change),
            )
            .route(
                &format!("{SUBSCRIPTIONS_PATH}/{{subscription_id}}/resume"),
                post(self_service_api::resume_subscription),
            )
            .route(
                &format!("{SUBSCRIPTIONS_PATH}/{{subscription_id}}/advance"),
                post(self_service_api::advance_subscription),
            )
            .route(
                &format!("{CUSTOMERS_PATH}/{{customer_id}}/payment_methods"),
                get(self_service_api::list_payment_methods),
            )
            .route(
                &format!("{CUSTOMERS_PATH}/{{customer_id}}/default_payment_method"),
                post(self_service_api::set_default_payment_method),
            )
            .route(
                &format!("{PAYMENT_METHODS_PATH}/{{payment_method_id}}/detach"),
                post(self_service_api::detach_payment_method),
            )
            .route(
                SETUP_SESSIONS_PATH,
                post(self_service_api::create_setup_session),
            )
            .route(
                "/sandbox/setup/{setup_session_id}",
                get(setup::show).post(setup::submit),
            )
            .route(
                "/sandbox/checkout/{session_id}",
                get(checkout::show).post(checkout::submit),
            )
            .route(
                "/sandbox/portal/{portal_session_id}",
                get(portal::show).post(portal::submit),
            )
            .with_state(Arc::clone(self))
    }

    /// The test clock: ends the current period of the tenant's live
    /// subscription now, as `POST .../{id}/advance` does (it ends if set to
    /// cancel, else renews with any scheduled change), and sends its events.
    pub async fn advance_period(&self, tenant_id: &str) -> Result<(), String> {
        let mut state = self.lock_state().await;
        let id = state
            .subscriptions
            .values()
            .filter(|s| s.tenant_id == tenant_id && s.is_live())
            .max_by_key(|s| s.created)
            .map(|s| s.id.clone())
            .ok_or_else(|| format!("tenant {tenant_id} has no live sandbox subscription"))?;
        let at = subscription_action_time(&state, &id).await;
        let events = plan_change::advance(&mut state, &id, at).map_err(|e| e.to_string())?;
        self.send(events);
        self.persist(&state);
        Ok(())
    }

    /// Resolves once no delivery is queued or in flight and no simulated
    /// renewal is waiting to happen (tests wait on this before asserting).
    pub async fn wait_for_deliveries(&self) {
        self.pending.idle().await;
    }

    fn config(&self) -> &SandboxConfig {
        &self.config
    }

    async fn lock_state(&self) -> MutexGuard<'_, SandboxState> {
        self.state.lock().await
    }

    /// Saves the state after a change. A failed save is logged and the
    /// sandbox carries on from memory: losing the file costs a restart's
    /// worth of test data, refusing the request would cost the whole run.
    fn persist(&self, state: &SandboxState) {
        if let Some(path) = &self.config.state_file {
            if let Err(error) = state::save(path, state) {
                tracing::error!(path = %path.display(), %error, "sandbox state could not be saved");
            }
        }
    }

    /// Queues events for delivery, in order. Call it while holding the state
    /// lock, so events of concurrent actions cannot interleave.
    fn send<D: Serialize>(&self, events: Vec<SandboxEvent<D>>) {
        for event in events {
            let body = match serde_json::to_vec(&event) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(event_id = %event.id, %error, "sandbox event could not be encoded; dropped");
                    continue;
                }
            };
            tracing::info!(event_id = %event.id, event_type = %event.event_type, "sandbox event queued");
            let outgoing = Outgoing {
                event_id: event.id,
                event_type: event.event_type,
                body,
                _pending: self.pending.begin(),
            };
            if self.outbox.send(outgoing).is_err() {
                tracing::error!("sandbox delivery task has stopped; event dropped");
            }
        }
    }
}

fn check_http_url(value: &str, field: &'static str) -> Result<(), SandboxError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(SandboxError::InvalidUrl { field }),
    }
}

/// Now, in Unix seconds.
fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// The time for a customer's next action: now, or, when the customer's last
/// event was this very second (or a later one), the next second, waiting
/// for the clock to reach it so event times stay real. Events of one action
/// may share a second; those of two actions never do.
async fn next_event_time(last_event_at: Option<i64>) -> i64 {
    let now = unix_now();
    let Some(last) = last_event_at.filter(|last| *last >= now) else {
        return now;
    };
    let target = last.saturating_add(1);
    loop {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let target_ms = u128::try_from(target).unwrap_or(0) * 1_000;
        let now_ms = since_epoch.as_millis();
        if now_ms >= target_ms {
            return target;
        }
        let wait = u64::try_from(target_ms - now_ms).unwrap_or(1_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// The time of a subscription's next action: strictly after its customer's
/// last event (see [`next_event_time`]).
async fn subscription_action_time(state: &SandboxState, subscription_id: &str) -> i64 {
    let last_event_at = state
        .subscriptions
        .get(subscription_id)
        .and_then(|s| state.customers.get(&s.customer_id))
        .and_then(|c| c.last_event_at);
    next_event_time(last_event_at).await
}

/// A fresh provider id such as `cus_3f2a…`.
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn next_event_time_is_now_when_the_last_event_is_older() {
        let now = unix_now();
        assert!(next_event_time(None).await >= now);
        assert!(next_event_time(Some(now - 5)).await >= now);
    }

    #[tokio::test]
    async fn next_event_time_waits_for_the_next_second_after_the_last_event() {
        let now = unix_now();
        let next = next_event_time(Some(now)).await;
        assert_eq!(next, now + 1);
        assert!(
            unix_now() >= next,
            "the clock has reached the returned second"
        );
    }

    #[test]
    fn config_debug_redacts_the_api_key_and_secret() {
        let catalog = Catalog::from_json(
            r#"{"plans":[{"code":"free","displayName":"Free","interval":"month","active":true,"price":{"amount_minor":0,"currency":"usd"}}]}"#,
        )
        .unwrap();
        let config = SandboxConfig::new(
            "http://127.0.0.1:1",
            "http://127.0.0.1:1/hook",
            "sk_sandbox_visible?",
            WebhookSecret::new("whsec_c2VjcmV0"),
            catalog,
        );
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk_sandbox_visible") && !shown.contains("c2VjcmV0"));
    }

    #[test]
    fn start_outside_a_runtime_is_an_error_not_a_panic() {
        let catalog = Catalog::from_json(
            r#"{"plans":[{"code":"free","displayName":"Free","interval":"month","active":true,"price":{"amount_minor":0,"currency":"usd"}}]}"#,
        )
        .unwrap();
        let config = SandboxConfig::new(
            "http://127.0.0.1:1",
            "http://127.0.0.1:1/hook",
            "k",
            WebhookSecret::new("whsec_c2VjcmV0"),
            catalog,
        );
        assert!(matches!(
            SandboxProvider::start(config),
            Err(SandboxError::NoRuntime)
        ));
    }
}
