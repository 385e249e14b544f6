//! The local HTTP servers the provider tests talk to instead of a provider.
//!
//! [`FakeServer`] answers scripted replies in order and records every request
//! (method, path, query, headers, body), so a test can assert the exact shape
//! of what an adapter sent and script how the provider answers (status,
//! headers, body, a delay). [`LocalServer`] is what it runs on: any router on
//! 127.0.0.1 with a random port, recording into a [`RequestLog`] when asked,
//! for a stand-in with routes of its own such as `fake_paypal`. Either stops
//! when dropped.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------- What a fake received ----------

/// One request as a fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// The path as sent, percent-encoding kept, without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    fn new(method: Method, uri: &Uri, headers: HeaderMap, body: &[u8]) -> Self {
        Self {
            method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            body: body.to_vec(),
        }
    }

    /// The header's value, when present and readable as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The path and, when there is one, `?` and the query, as sent.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    /// The body as a URL-encoded form; fails the test when a field was sent
    /// twice (a map would silently keep one of them).
    pub fn form(&self) -> BTreeMap<String, String> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&self.body).expect("form body");
        let count = pairs.len();
        let form: BTreeMap<_, _> = pairs.into_iter().collect();
        assert_eq!(form.len(), count, "a form field was sent twice");
        form
    }

    /// The body as JSON; fails the test when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "JSON body expected ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// The requests a server received, in order; clones share one log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Recorded>>>);

impl RequestLog {
    /// Every request so far, in the order received.
    pub fn all(&self) -> Vec<Recorded> {
        self.0.lock().expect("request log").clone()
    }

    /// The one request received; fails the test when there were more or none.
    pub fn only(&self) -> Recorded {
        let requests = self.all();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:?}"
        );
        requests.into_iter().next().expect("one request")
    }
}

/// Records the request in the log, then lets the router answer it.
async fn record(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("request body");
    log.0.lock().expect("request log").push(Recorded::new(
        parts.method.clone(),
        &parts.uri,
        parts.headers.clone(),
        &body,
    ));
    next.run(Request::from_parts(parts, Body::from(body))).await
}

// ---------- What a fake answers ----------

/// A scripted answer: status, headers, body, and how long to wait first.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    delay: Duration,
}

/// `status` with `body` as `application/json`, at once.
pub fn reply(status: u16, body: impl Into<String>) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    Reply {
        status: StatusCode::from_u16(status).expect("an HTTP status"),
        headers,
        body: body.into(),
        delay: Duration::ZERO,
    }
}

impl Reply {
    /// Adds a header (a second one of the same name is added, not replaced).
    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        self
    }

    /// Answers only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// The reply as it is sent, without its delay.
impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.status, self.headers, self.body).into_response()
    }
}

impl From<(u16, &str)> for Reply {
    fn from((status, body): (u16, &str)) -> Self {
        reply(status, body)
    }
}

impl From<(u16, String)> for Reply {
    fn from((status, body): (u16, String)) -> Self {
        reply(status, body)
    }
}

impl From<(u16, Value)> for Reply {
    fn from((status, body): (u16, Value)) -> Self {
        reply(status, body.to_string())
    }
}

// ---------- Servers ----------

/// `app` served on 127.0.0.1 at a random port until this is dropped.
pub struct LocalServer {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { url, task }
    }

    /// Like [`LocalServer::start`], recording every request `app` gets,
    /// whichever route answers it (or none), in `log` first.
    pub async fn recording(app: Router, log: RequestLog) -> Self {
        Self::start(app.layer(middleware::from_fn_with_state(log, record))).await
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server answering scripted replies and recording every request.
pub struct FakeServer {
    server: LocalServer,
    replies: Script,
    log: RequestLog,
}

#[derive(Clone)]
struct Script {
    queue: Arc<Mutex<VecDeque<Reply>>>,
    /// The answer once `queue` is used up; `None`: the last reply repeats.
    otherwise: Option<Reply>,
}

impl Script {
    fn next_reply(&self) -> Reply {
        let mut queue = self.queue.lock().expect("replies");
        if queue.len() > 1 || (self.otherwise.is_some() && !queue.is_empty()) {
            queue.pop_front().expect("a scripted reply")
        } else {
            queue
                .front()
                .or(self.otherwise.as_ref())
                .cloned()
                .expect("a scripted reply")
        }
    }
}

async fn answer(State(replies): State<Script>) -> Response {
    let reply = replies.next_reply();
    tokio::time::sleep(reply.delay).await;
    reply.into_response()
}

impl FakeServer {
    /// Answers `replies` in order; the last one repeats.
    pub async fn start<R: Into<Reply>>(replies: impl IntoIterator<Item = R>) -> Self {
        Self::scripted(replies, None).await
    }

    /// Answers each of `replies` once, then `otherwise` to every later request.
    pub async fn start_then<R: Into<Reply>>(
        replies: impl IntoIterator<Item = R>,
        otherwise: impl Into<Reply>,
    ) -> Self {
        Self::scripted(replies, Some(otherwise.into())).await
    }

    /// A server with nothing to answer yet, for replies that name its URL:
    /// script it with [`FakeServer::push`] before a request arrives.
    pub async fn unscripted() -> Self {
        Self::scripted(Vec::<Reply>::new(), None).await
    }

    async fn scripted<R: Into<Reply>>(
        replies: impl IntoIterator<Item = R>,
        otherwise: Option<Reply>,
    ) -> Self {
        let replies = Script {
            queue: Arc::new(Mutex::new(replies.into_iter().map(Into::into).collect())),
            otherwise,
        };
        let log = RequestLog::default();
        let app = Router::new().fallback(answer).with_state(replies.clone());
        let server = LocalServer::recording(app, log.clone()).await;
        Self {
            server,
            replies,
            log,
        }
    }

    /// Adds `reply` to the end of the script.
    pub fn push(&self, reply: impl Into<Reply>) {
        self.replies
            .queue
            .lock()
            .expect("replies")
            .push_back(reply.into());
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.all()
    }

    /// The one request received; fails the test when there were more or none.
    pub fn only_request(&self) -> Recorded {
        self.log.only()
    }
}

/// A URL where nothing listens: a port bound and released again, so almost
/// certainly closed.
pub fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    format!("http://{}", listener.local_addr().expect("local address"))
}

/// A plan or seat change of subscription `subscription_id` to `price_id`
/// with 3 seats, as the change command hands it to a gateway.
pub fn plan_change(
    subscription_id: &str,
    price_id: &str,
    timing: billing_domain::ChangeTiming,
) -> billing_domain::ports::PlanChange {
    billing_domain::ports::PlanChange {
        subscription_id: subscription_id.into(),
        customer_id: None,
        current_price_id: None,
        plan_code: "team".into(),
        price_id: price_id.into(),
        interval: billing_domain::Interval::Month,
        seats: 3,
        timing,
        proration_date: Some(billing_domain::UnixTime(1_768_000_000)),
        current_period_end: Some(billing_domain::UnixTime(1_769_904_000)),
        idempotency_key: "change:abc".into(),
    }
}
