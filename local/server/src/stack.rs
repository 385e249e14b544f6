//! Assembles the local system: the store, queue and secrets of the chosen
//! backend, the four function handlers built exactly as their `main.rs`
//! builds them, the sandbox provider, the API Gateway emulation in front, and
//! the queue poller behind.

use crate::apigw::{self, Incoming};
use crate::auth::DevAuth;
use crate::config::{Backend, LocalConfig};
use crate::poller::{self, PollerConfig, QueueConsumer};
use crate::routes::{self, Function, Route};
use crate::secrets_file::FileSecrets;
use crate::web;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use billing_domain::ports::{
    CustomerRegistry, EventLedger, EventQueue, IdempotencyStore, IntentRecorder, LedgerReader,
    SecretSource,
};
use billing_domain::secrets::ProviderSecrets;
use billing_domain::Provider;
use billing_lambda::{clock, Env};
use billing_providers::credentials;
use billing_sandbox::{SandboxConfig, SandboxProvider};
use create_session::SessionApi;
use get_status::StatusApi;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webhook_process::EventProcessor;
use webhook_receive::WebhookReceiver;

/// Everything the handlers need from storage.
pub trait BillingStore:
    EventLedger + CustomerRegistry + IdempotencyStore + IntentRecorder + LedgerReader
{
}
impl<T> BillingStore for T where
    T: EventLedger + CustomerRegistry + IdempotencyStore + IntentRecorder + LedgerReader + ?Sized
{
}

type Store = Arc<dyn BillingStore>;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] billing_lambda::ConfigError),
    #[error("cannot open the embedded store: {0}")]
    Embedded(String),
    #[error("cannot read provider secrets: {0}")]
    Secrets(String),
    #[error("cannot start the sandbox provider: {0}")]
    Sandbox(String),
    #[error("cannot assemble a function: {0}")]
    Init(#[from] billing_lambda::InitError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Routes(#[from] routes::RouteError),
    #[error("{0}")]
    Auth(#[from] crate::auth::AuthConfigError),
}

struct Api {
    routes: Vec<Route>,
    auth: DevAuth,
    session: SessionApi<Store>,
    status: StatusApi<Store>,
    receiver: WebhookReceiver<Arc<dyn EventQueue>, Arc<dyn SecretSource>>,
}

/// A started local system.
pub struct RunningStack {
    pub base_url: String,
    pub sandbox: Arc<SandboxProvider>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    poller: JoinHandle<()>,
    closing: Option<billing_embedded::Closing>,
}

impl RunningStack {
    /// Stops accepting requests, lets the poller finish its batch, and waits
    /// until the embedded file is released, so that it can be opened again
    /// at once (a blocking store operation of a request cut short by the
    /// shutdown may still hold it for a moment).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.poller.await;
        let _ = self.server.await;
        if let Some(closing) = self.closing {
            for _ in 0..500 {
                if closing.is_closed() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            tracing::warn!("the embedded file is still open 5 s after the stop");
        }
    }

    /// Resolves when the server stops (after [`RunningStack::stop`] or a
    /// failure of the listener).
    pub async fn wait(&mut self) {
        let _ = (&mut self.server).await;
    }
}

/// Starts the system on `config.bind` (port 0 picks a free one).
pub async fn start(config: LocalConfig, auth: DevAuth) -> Result<RunningStack, StartError> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind,
        source,
    })?;
    let base_url = format!("http://{addr}");

    let Backing {
        store,
        queue,
        consumer,
        secrets,
        sandbox_state,
        closing,
    } = open_backend(&config).await?;
    let provider_secrets = credentials::load(&secrets)
        .await
        .map_err(|e| StartError::Secrets(e.to_string()))?;

    let mut origins = vec![base_url.clone()];
    origins.extend(config.extra_origins.iter().cloned());
    let origins = origins.join(",");
    let tenant_claim = auth.tenant_claim().to_owned();
    // The first provider offered at checkout is the default, as
    // DEFAULT_PROVIDER is in a stage; the sandbox is switched on by its base
    // URL, as SandboxApiBase does in a stage.
    let default_provider = config.checkout_providers[0].as_str();
    let env = Env::from_pairs([
        ("ALLOWED_REDIRECT_ORIGINS", origins.as_str()),
        ("TENANT_CLAIM", tenant_claim.as_str()),
        ("PAST_DUE_GRACE_DAYS", config.past_due_grace_days.as_str()),
        ("DEFAULT_PROVIDER", default_provider),
        ("SANDBOX_API_BASE", base_url.as_str()),
        // Edits to the secrets file take effect within seconds.
        ("SECRET_CACHE_TTL_SECONDS", "5"),
        ("DEDUPE_TTL_DAYS", "35"),
    ]);

    let sandbox = start_sandbox(&config, &provider_secrets, &base_url, sandbox_state)?;
    // A stage offers every provider in its secret; locally the secrets file
    // has them all, so BILLING_CHECKOUT_PROVIDERS says which to offer.
    let offered = provider_secrets.restricted_to(&config.checkout_providers);
    for provider in &config.checkout_providers {
        if offered.provider(*provider).is_none() {
            return Err(StartError::Secrets(format!(
                "the secrets have no {provider:?} entry"
            )));
        }
    }

    let api = Arc::new(Api {
        routes: routes::api_routes()?,
        auth: auth.clone(),
        session: create_session::build(&env, store.clone(), &offered)?,
        status: StatusApi::from_env(&env, store.clone())?,
        receiver: webhook_receive::build(&env, queue, secrets)?,
    });
    let processor = Arc::new(EventProcessor::from_env(&env, store)?);

    let app = web::router(auth)
        .merge(sandbox.router())
        .merge(Router::new().fallback(serve_api).with_state(api));

    let (shutdown, watcher) = watch::channel(false);
    let poller = tokio::spawn(poller::run(
        consumer,
        processor,
        PollerConfig::default(),
        watcher.clone(),
    ));
    let mut server_watcher = watcher;
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = server_watcher.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "local server failed");
        }
    });
    tracing::info!(url = %base_url, backend = ?config.backend, "local billing server started");
    Ok(RunningStack {
        base_url,
        sandbox,
        shutdown,
        server,
        poller,
        closing,
    })
}

/// The adapters of the chosen backend.
struct Backing {
    store: Store,
    queue: Arc<dyn EventQueue>,
    consumer: Arc<dyn QueueConsumer>,
    secrets: Arc<dyn SecretSource>,
    /// Where the sandbox keeps its own state; in memory without one.
    sandbox_state: Option<std::path::PathBuf>,
    /// The embedded file's handle, to wait for its release on stop.
    closing: Option<billing_embedded::Closing>,
}

async fn open_backend(config: &LocalConfig) -> Result<Backing, StartError> {
    Ok(match &config.backend {
        Backend::Embedded { data_dir } => {
            std::fs::create_dir_all(data_dir)
                .map_err(|e| StartError::Embedded(format!("{}: {e}", data_dir.display())))?;
            let db = billing_embedded::EmbeddedDb::open(&data_dir.join("billing.redb"))
                .map_err(|e| StartError::Embedded(e.to_string()))?;
            let queue = Arc::new(db.queue(billing_embedded::QueueConfig {
                visibility_timeout: config.visibility_timeout,
                ..Default::default()
            }));
            Backing {
                store: Arc::new(db.store()),
                queue: queue.clone(),
                consumer: queue,
                secrets: Arc::new(FileSecrets::new(&config.secrets_file)),
                sandbox_state: Some(data_dir.join("sandbox.json")),
                closing: Some(db.closing()),
            }
        }
        Backend::Aws {
            table,
            queue_url,
            secret_id,
        } => {
            let sdk = billing_aws::load_sdk_config().await;
            let queue = Arc::new(billing_aws::SqsQueue::from_config(&sdk, queue_url));
            Backing {
                store: Arc::new(billing_aws::DynamoStore::from_config(&sdk, table)),
                queue: queue.clone(),
                consumer: queue,
                secrets: Arc::new(billing_aws::SecretsManagerSource::from_config(
                    &sdk, secret_id,
                )),
                sandbox_state: None,
                closing: None,
            }
        }
    })
}

fn start_sandbox(
    config: &LocalConfig,
    secrets: &ProviderSecrets,
    base_url: &str,
    state_file: Option<std::path::PathBuf>,
) -> Result<Arc<SandboxProvider>, StartError> {
    let credentials = secrets
        .provider(Provider::Sandbox)
        .ok_or_else(|| StartError::Secrets("the secrets have no \"sandbox\" entry".into()))?;
    let api_key = credentials
        .field("apiKey")
        .map_err(|e| StartError::Secrets(e.to_string()))?;
    let webhook_secret = secrets
        .webhook_secrets(Provider::Sandbox)
        .first()
        .cloned()
        .ok_or_else(|| StartError::Secrets("the sandbox has no webhook secret".into()))?;
    let catalog = billing_lambda::config::catalog()
        .map_err(|e| StartError::Sandbox(format!("catalog: {e}")))?;
    SandboxProvider::start(SandboxConfig {
        public_base_url: base_url.to_owned(),
        webhook_url: format!("{base_url}/billing/webhooks/sandbox"),
        api_key: api_key.to_owned(),
        webhook_secret,
        catalog,
        state_file,
        renewal_delay: config.sandbox_renewal_delay,
    })
    .map_err(|e| StartError::Sandbox(e.to_string()))
}

/// API Gateway's answers when no route or no valid token matches.
fn gateway_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

async fn serve_api(
    State(api): State<Arc<Api>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((route, params)) = routes::find(&api.routes, method.as_str(), uri.path()) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = if route.public {
        None
    } else {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        match api.auth.verify(authorization) {
            Ok(claims) => Some(claims),
            Err(e) => {
                tracing::info!(route = %route.key(), reason = %e, "request refused by the JWT authorizer");
                return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
        }
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let incoming = Incoming {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        request_id: &request_id,
        now_ms,
    };
    let event = apigw::event(&incoming, route, &params, claims.as_ref());
    let request = match apigw::request(&event) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(error = %e, "API Gateway event did not parse");
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let response = match route.function {
        Function::CreateSession => api.session.handle(request, clock::now()).await,
        Function::GetStatus => api.status.handle(request, clock::now()).await,
        Function::WebhookReceive => api.receiver.handle(request, clock::now()).await,
    };
    let (parts, body) = response.into_parts();
    let mut response = Response::from_parts(parts, axum::body::Body::from(apigw::body_bytes(body)));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}
