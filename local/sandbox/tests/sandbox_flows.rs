//! The sandbox provider end to end over real TCP: the backend's own
//! `SandboxGateway` creates customers and sessions, a plain HTTP client
//! plays the browser on the hosted pages, and a small receiver records the
//! webhook deliveries, each of which is verified with
//! `standard_webhooks::verify`, normalized by `SandboxWebhooks` and folded
//! with `apply_event` into the internal state each outcome must produce.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CheckoutSession, ProviderError, WebhookDelivery,
};
use billing_domain::secrets::WebhookSecret;
use billing_domain::{
    apply_event, Catalog, EventKind, PlanCode, Provider, ProviderEvent, Subscription,
    SubscriptionStatus, TenantId, Transition, UnixTime,
};
use billing_providers::sandbox::wire::SandboxEvent;
use billing_providers::standard_webhooks::{self, DEFAULT_TOLERANCE_SECONDS};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy, SandboxGateway};
use billing_sandbox::{SandboxConfig, SandboxProvider};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const API_KEY: &str = "sk_sandbox_local_development_only";
const SECRET: &str = "whsec_c2FuZGJveC1sb2NhbC1kZXZlbG9wbWVudC1vbmx5LW5vdC1hLXNlY3JldA==";
const SUCCESS_URL: &str = "http://localhost:5173/billing?checkout=done";
const CANCEL_URL: &str = "http://localhost:5173/billing?checkout=canceled&from=\"sandbox\"";
const RETURN_URL: &str = "http://localhost:5173/billing";

fn catalog() -> Catalog {
    Catalog::from_json(
        r#"{"plans":[
        {"code":"free","displayName":"Free","interval":"month","active":true,
         "price":{"amount_minor":0,"currency":"usd"}},
        {"code":"pro","displayName":"Pro","interval":"month","active":true,
         "price":{"amount_minor":1900,"currency":"usd"},
         "providers":{"sandbox":{"priceId":"sbx_price_pro_monthly"}}},
        {"code":"team","displayName":"Team <beta> & co","interval":"year","active":true,
         "price":{"amount_minor":49000,"currency":"usd"},
         "providers":{"sandbox":{"priceId":"sbx_price_team_yearly"}}}
    ]}"#,
    )
    .unwrap()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------- The webhook receiver ----------

#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn delivery(&self) -> WebhookDelivery {
        WebhookDelivery {
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct Inbox {
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once they run out.
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = inbox.statuses.lock().unwrap().pop_front().unwrap_or(200);
    inbox.received.lock().unwrap().push(Received {
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        answered: status,
    });
    StatusCode::from_u16(status).unwrap()
}

async fn start_receiver(statuses: Vec<u16>) -> (String, Inbox) {
    let inbox = Inbox {
        received: Arc::default(),
        statuses: Arc::new(Mutex::new(statuses.into())),
    };
    let app = Router::new()
        .route("/billing/webhooks/sandbox", axum::routing::post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/billing/webhooks/sandbox",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

// ---------- The sandbox under test ----------

struct Harness {
    sandbox: Arc<SandboxProvider>,
    base: String,
    inbox: Inbox,
    browser: reqwest::Client,
}

struct Options {
    renewal_delay: Duration,
    state_file: Option<PathBuf>,
    receiver_statuses: Vec<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            renewal_delay: Duration::from_millis(200),
            state_file: None,
            receiver_statuses: Vec::new(),
        }
    }
}

async fn start(options: Options) -> Harness {
    let (webhook_url, inbox) = start_receiver(options.receiver_statuses).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = SandboxConfig::new(
        &base,
        webhook_url,
        API_KEY,
        WebhookSecret::new(SECRET),
        catalog(),
    );
    config.renewal_delay = options.renewal_delay;
    config.state_file = options.state_file;
    let sandbox = SandboxProvider::start(config).unwrap();
    let app = sandbox.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Harness {
        sandbox,
        base,
        inbox,
        browser,
    }
}

impl Harness {
    fn gateway(&self) -> SandboxGateway {
        self.gateway_with_key(API_KEY)
    }

    fn gateway_with_key(&self, key: &str) -> SandboxGateway {
        let client = ApiClient::new(HttpConfig {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
            },
        })
        .unwrap();
        SandboxGateway::new(key, client, &self.base)
    }

    /// A customer for `tenant` and a checkout session for `plan`.
    async fn checkout(&self, tenant: &str, plan: &str, price: &str) -> (String, CheckoutSession) {
        let tenant = TenantId::parse(tenant).unwrap();
        let gateway = self.gateway();
        let customer_id = gateway
            .create_customer(&tenant)
            .await
            .unwrap()
            .expect("sandbox customers exist");
        let session = gateway
            .create_checkout_session(&CheckoutRequest {
                tenant,
                customer_id: Some(customer_id.clone()),
                plan_code: plan.into(),
                price_id: price.into(),
                success_url: SUCCESS_URL.into(),
                cancel_url: CANCEL_URL.into(),
                idempotency_key: format!("checkout:{}", uuid_like()),
                contact: None,
            })
            .await
            .unwrap();
        (customer_id, session)
    }

    async fn pro_checkout(&self) -> (String, CheckoutSession) {
        self.checkout("org_42", "pro", "sbx_price_pro_monthly")
            .await
    }

    async fn get(&self, url: &str) -> (StatusCode, String) {
        let response = self.browser.get(url).send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.text().await.unwrap())
    }

    async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.browser.post(url).form(form).send().await.unwrap()
    }

    async fn choose(&self, session: &CheckoutSession, outcome: &str) -> reqwest::Response {
        self.post_form(&session.url, &[("outcome", outcome)]).await
    }

    async fn api_post(&self, path: &str, key: Option<&str>, body: &str) -> (u16, HeaderMap, Value) {
        let mut request = self
            .browser
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.bearer_auth(API_KEY).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = convert_headers(response.headers());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    async fn settle(&self) {
        tokio::time::timeout(Duration::from_secs(30), self.sandbox.wait_for_deliveries())
            .await
            .expect("deliveries settle");
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    /// The accepted deliveries, each verified and normalized as the
    /// backend's webhook-receive would.
    fn events(&self) -> Vec<ProviderEvent> {
        self.received()
            .iter()
            .filter(|r| r.answered == 200)
            .map(|r| {
                let delivery = r.delivery();
                let verified = standard_webhooks::verify(
                    &delivery,
                    &[WebhookSecret::new(SECRET)],
                    UnixTime(unix_now()),
                    DEFAULT_TOLERANCE_SECONDS,
                )
                .expect("a delivery the backend accepts");
                // The signature is verified above; what SandboxWebhooks
                // does next is exactly this parse.
                let event = billing_providers::sandbox::parse_event(&delivery.body, &catalog())
                    .expect("a sandbox event");
                assert_eq!(event.event_id, verified.id);
                event
            })
            .collect()
    }
}

fn convert_headers(headers: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        out.insert(
            axum::http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            axum::http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    out
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn types(events: &[ProviderEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

/// The tenant's record after the events, in delivery order.
fn fold(events: &[ProviderEvent]) -> Subscription {
    let tenant = TenantId::parse("org_42").unwrap();
    let mut record: Option<Subscription> = None;
    for event in events {
        if let Transition::Applied(next) =
            apply_event(record.as_ref(), &tenant, event, event.occurred_at)
        {
            record = Some(*next);
        }
    }
    record.expect("at least one event changed the record")
}

/// The same events folded in reverse: the final state must not depend on
/// the order the receiver processes them in.
fn fold_reversed(events: &[ProviderEvent]) -> Subscription {
    let mut reversed = events.to_vec();
    reversed.reverse();
    fold(&reversed)
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

// ---------- Checkout outcomes ----------

#[tokio::test]
async fn hosted_checkout_page_shows_plan_price_and_the_three_outcomes() {
    let h = start(Options::default()).await;
    let (_, session) = h.pro_checkout().await;
    assert_eq!(
        session.url,
        format!("{}/sandbox/checkout/{}", h.base, session.id)
    );
    let (status, html) = h.get(&session.url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(">Pro<"), "{html}");
    assert!(html.contains("USD 19.00 / month"), "{html}");
    for testid in ["pay", "decline", "pay-fail-renewal", "cancel"] {
        assert!(
            html.contains(&format!("data-testid=\"{testid}\"")),
            "{testid} in {html}"
        );
    }
    assert!(html.contains(&format!("action=\"/sandbox/checkout/{}\"", session.id)));
}

#[tokio::test]
async fn pay_delivers_checkout_created_and_paid_which_fold_to_active() {
    let h = start(Options::default()).await;
    let (customer_id, session) = h.pro_checkout().await;
    let response = h.choose(&session, "pay").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        format!("{SUCCESS_URL}&session_id={}", session.id)
    );
    h.settle().await;

    let received = h.received();
    for delivery in &received {
        assert_eq!(delivery.header("content-type"), Some("application/json"));
        let body: SandboxEvent = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(delivery.header("webhook-id"), Some(body.id.as_str()));
        assert!(delivery
            .header("webhook-signature")
            .unwrap()
            .starts_with("v1,"));
    }
    let events = h.events();
    assert_eq!(
        types(&events),
        ["checkout.completed", "subscription.created", "invoice.paid"]
    );
    let EventKind::CheckoutCompleted(checkout) = &events[0].kind else {
        panic!("{:?}", events[0].kind)
    };
    assert_eq!(checkout.session_id, session.id);
    assert_eq!(checkout.customer_id.as_deref(), Some(customer_id.as_str()));
    assert_eq!(checkout.plan, Some(PlanCode::new("pro")));
    assert!(events
        .iter()
        .all(|e| e.tenant_hint == Some(TenantId::parse("org_42").unwrap())));
    let EventKind::InvoicePaid(invoice) = &events[2].kind else {
        panic!("{:?}", events[2].kind)
    };
    assert_eq!(invoice.amount_paid.amount_minor, 1900);
    assert_eq!(invoice.amount_paid.currency, "usd");

    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::Active);
        assert_eq!(state.plan, Some(PlanCode::new("pro")));
        assert_eq!(state.provider, Provider::Sandbox);
        assert_eq!(
            state.provider_customer_id.as_deref(),
            Some(customer_id.as_str())
        );
        let start = state.current_period_start.unwrap().0;
        assert_eq!(
            state.current_period_end,
            Some(UnixTime(start + 30 * 86_400))
        );
    }
}

#[tokio::test]
async fn decline_leaves_an_incomplete_subscription_without_completing_the_checkout() {
    let h = start(Options::default()).await;
    let (_, session) = h.pro_checkout().await;
    let response = h.choose(&session, "decline").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        format!("{SUCCESS_URL}&session_id={}", session.id)
    );
    h.settle().await;
    let events = h.events();
    assert_eq!(
        types(&events),
        ["subscription.created", "invoice.payment_failed"]
    );
    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::Incomplete);
    }
}

#[tokio::test]
async fn pay_fail_renewal_goes_past_due_in_a_later_second() {
    let h = start(Options::default()).await;
    let (_, session) = h.pro_checkout().await;
    assert_eq!(
        h.choose(&session, "pay_fail_renewal")
            .await
            .status()
            .as_u16(),
        303
    );
    h.settle().await;
    let events = h.events();
    assert_eq!(
        types(&events),
        [
            "checkout.completed",
            "subscription.created",
            "invoice.paid",
            "invoice.payment_failed",
            "subscription.updated"
        ]
    );
    let activated = events[1].occurred_at;
    let renewed = events[4].occurred_at;
    assert!(renewed > activated, "{renewed:?} after {activated:?}");
    let EventKind::InvoicePaymentFailed(invoice) = &events[3].kind else {
        panic!("{:?}", events[3].kind)
    };
    assert_eq!(invoice.created, renewed);
    assert_eq!(invoice.attempt_count, 1);
    assert_eq!(invoice.amount_paid.amount_minor, 0);

    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::PastDue);
        assert_eq!(state.past_due_since, Some(renewed));
        assert_eq!(state.current_period_start, Some(renewed));
        assert_eq!(
            state.current_period_end,
            Some(renewed.plus_seconds(30 * 86_400))
        );
    }
}

#[tokio::test]
async fn completed_session_is_not_paid_twice() {
    let h = start(Options::default()).await;
    let (_, session) = h.pro_checkout().await;
    h.choose(&session, "pay").await;
    h.settle().await;

    let again = h.choose(&session, "pay").await;
    assert_eq!(again.status().as_u16(), 409);
    let (status, html) = h.get(&session.url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("already complete"), "{html}");
    assert!(!html.contains("data-testid=\"pay\""), "{html}");
    h.settle().await;
    assert_eq!(h.received().len(), 3);
}

#[tokio::test]
async fn unknown_sessions_are_not_found() {
    let h = start(Options::default()).await;
    let url = format!("{}/sandbox/checkout/cs_nope", h.base);
    assert_eq!(h.get(&url).await.0, StatusCode::NOT_FOUND);
    let response = h.post_form(&url, &[("outcome", "pay")]).await;
    assert_eq!(response.status().as_u16(), 404);
    let portal = format!("{}/sandbox/portal/ps_nope", h.base);
    assert_eq!(h.get(&portal).await.0, StatusCode::NOT_FOUND);
    let response = h.post_form(&portal, &[("action", "cancel")]).await;
    assert_eq!(response.status().as_u16(), 404);
    h.settle().await;
    assert!(h.received().is_empty());
}

#[tokio::test]
async fn unknown_outcome_is_a_bad_request_and_sends_nothing() {
    let h = start(Options::default()).await;
    let (_, session) = h.pro_checkout().await;
    assert_eq!(h.choose(&session, "refund").await.status().as_u16(), 400);
    let response = h.post_form(&session.url, &[]).await;
    assert_eq!(response.status().as_u16(), 400);
    // The session is still open.
    assert!(h.get(&session.url).await.1.contains("data-testid=\"pay\""));
    h.settle().await;
    assert!(h.received().is_empty());
}

#[tokio::test]
async fn page_escapes_what_it_interpolates() {
    let h = start(Options::default()).await;
    let (_, session) = h.checkout("org_42", "team", "sbx_price_team_yearly").await;
    let (_, html) = h.get(&session.url).await;
    assert!(html.contains("Team &lt;beta&gt; &amp; co"), "{html}");
    assert!(!html.contains("<beta>"), "{html}");
    assert!(html.contains("USD 490.00 / year"), "{html}");
    assert!(
        html.contains(
            "href=\"http://localhost:5173/billing?checkout=canceled&amp;from=%22sandbox%22\""
        ),
        "{html}"
    );
}

// ---------- API ----------

#[tokio::test]
async fn api_requires_the_bearer_key() {
    let h = start(Options::default()).await;
    let url = format!("{}/sandbox/v1/customers", h.base);
    for auth in [None, Some("Bearer wrong"), Some(API_KEY), Some("Basic abc")] {
        let mut request = h
            .browser
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"tenant_id":"org_42"}"#);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(!body.to_string().contains(API_KEY));
    }
    let error = h
        .gateway_with_key("sk_sandbox_wrong")
        .create_customer(&TenantId::parse("org_42").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Configuration {
                provider: Provider::Sandbox,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn bad_json_is_a_400_with_a_json_error() {
    let h = start(Options::default()).await;
    for body in [
        "{not json",
        r#"{"tenant":"org_42"}"#,
        r#"{"tenant_id":"bad tenant!"}"#,
    ] {
        let (status, _, error) = h.api_post("/sandbox/v1/customers", None, body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"]["code"], "invalid_request", "{body}");
    }
}

#[tokio::test]
async fn same_idempotency_key_gives_the_same_answer() {
    let h = start(Options::default()).await;
    let body = r#"{"tenant_id":"org_42"}"#;
    let (status, _, first) = h.api_post("/sandbox/v1/customers", Some("k-1"), body).await;
    assert_eq!(status, 200);
    // Same request, other spacing and key order: still the same request.
    let (status, headers, second) = h
        .api_post(
            "/sandbox/v1/customers",
            Some("k-1"),
            r#"{ "tenant_id" : "org_42" }"#,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(first, second);
    assert_eq!(
        headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (_, _, other) = h.api_post("/sandbox/v1/customers", Some("k-2"), body).await;
    assert_ne!(other["id"], first["id"]);
    let (status, _, refused) = h
        .api_post(
            "/sandbox/v1/customers",
            Some("k-1"),
            r#"{"tenant_id":"org_43"}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");

    // The gateway's per-tenant key makes a repeated creation return the
    // first customer.
    let tenant = TenantId::parse("org_7").unwrap();
    let gateway = h.gateway();
    assert_eq!(
        gateway.create_customer(&tenant).await.unwrap(),
        gateway.create_customer(&tenant).await.unwrap()
    );
}

#[tokio::test]
async fn checkout_creation_checks_customer_price_plan_and_urls() {
    let h = start(Options::default()).await;
    let (_, _, customer) = h
        .api_post("/sandbox/v1/customers", None, r#"{"tenant_id":"org_42"}"#)
        .await;
    let customer_id = customer["id"].as_str().unwrap();
    // One field changed from a valid request each time.
    let request = |field: &str, value: &str| {
        let mut body = json!({
            "customer_id": customer_id, "tenant_id": "org_42", "plan_code": "pro",
            "price_id": "sbx_price_pro_monthly", "success_url": SUCCESS_URL, "cancel_url": RETURN_URL,
        });
        if !field.is_empty() {
            body[field] = value.into();
        }
        body.to_string()
    };
    let cases = [
        ("customer_id", "cus_nope", "resource_missing"),
        ("tenant_id", "org_43", "tenant_mismatch"),
        ("price_id", "price_pro_monthly", "unknown_price"),
        ("plan_code", "team", "plan_mismatch"),
        ("success_url", "javascript:alert(1)", "invalid_request"),
        ("cancel_url", "/relative", "invalid_request"),
    ];
    for (field, value, code) in cases {
        let (status, _, error) = h
            .api_post(
                "/sandbox/v1/checkout_sessions",
                None,
                &request(field, value),
            )
            .await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some(code)),
            "{field}"
        );
    }
    let (status, _, session) = h
        .api_post("/sandbox/v1/checkout_sessions", None, &request("", ""))
        .await;
    assert_eq!(status, 200);
    assert!(session["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/sandbox/checkout/cs_", h.base)));
}

// ---------- Portal ----------

#[tokio::test]
async fn portal_cancel_and_resume_send_subscription_updates() {
    let h = start(Options::default()).await;
    let (customer_id, session) = h.pro_checkout().await;
    h.choose(&session, "pay").await;
    let portal_url = h
        .gateway()
        .create_portal_session(&customer_id, RETURN_URL)
        .await
        .unwrap();
    assert!(portal_url.starts_with(&format!("{}/sandbox/portal/ps_", h.base)));
    let portal_path = portal_url.strip_prefix(&h.base).unwrap().to_owned();

    let (status, html) = h.get(&portal_url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("data-testid=\"cancel-at-period-end\""),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"{RETURN_URL}\"")), "{html}");

    let response = h.post_form(&portal_url, &[("action", "cancel")]).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), portal_path);
    let (_, html) = h.get(&portal_url).await;
    assert!(html.contains("data-testid=\"resume\""), "{html}");

    h.settle().await;
    let after_cancel = fold(&h.events());
    assert!(after_cancel.cancel_at_period_end);
    assert_eq!(after_cancel.cancel_at, after_cancel.current_period_end);
    assert_eq!(after_cancel.status, SubscriptionStatus::Active);

    let response = h.post_form(&portal_url, &[("action", "resume")]).await;
    assert_eq!(response.status().as_u16(), 303);
    // A second click on resume changes and sends nothing.
    h.post_form(&portal_url, &[("action", "resume")]).await;
    h.settle().await;

    let events = h.events();
    assert_eq!(
        types(&events),
        [
            "checkout.completed",
            "subscription.created",
            "invoice.paid",
            "subscription.updated",
            "subscription.updated"
        ]
    );
    assert!(events[3].occurred_at > events[1].occurred_at);
    assert!(events[4].occurred_at > events[3].occurred_at);
    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::Active);
        assert!(!state.cancel_at_period_end);
        assert_eq!(state.cancel_at, None);
    }
}

#[tokio::test]
async fn portal_cancel_now_ends_the_subscription() {
    let h = start(Options::default()).await;
    let (customer_id, session) = h.pro_checkout().await;
    h.choose(&session, "pay").await;
    let portal_url = h
        .gateway()
        .create_portal_session(&customer_id, RETURN_URL)
        .await
        .unwrap();
    let response = h.post_form(&portal_url, &[("action", "cancel_now")]).await;
    assert_eq!(response.status().as_u16(), 303);
    // An ended subscription cannot be changed any more.
    let again = h.post_form(&portal_url, &[("action", "cancel_now")]).await;
    assert_eq!(again.status().as_u16(), 404);
    h.settle().await;
    let events = h.events();
    assert_eq!(events.last().unwrap().event_type, "subscription.canceled");
    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::Canceled);
    }
}

// ---------- Persistence and delivery ----------

#[tokio::test]
async fn state_survives_a_restart_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox-state.json");
    let first = start(Options {
        state_file: Some(path.clone()),
        ..Options::default()
    })
    .await;
    let (customer_id, session) = first.pro_checkout().await;
    assert!(path.exists());

    let second = start(Options {
        state_file: Some(path.clone()),
        ..Options::default()
    })
    .await;
    // The same tenant's customer is found again through its idempotency key.
    let again = second
        .gateway()
        .create_customer(&TenantId::parse("org_42").unwrap())
        .await
        .unwrap();
    assert_eq!(again, Some(customer_id));
    let url = format!("{}/sandbox/checkout/{}", second.base, session.id);
    let (status, html) = second.get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("USD 19.00 / month"), "{html}");
    assert_eq!(
        second
            .post_form(&url, &[("outcome", "pay")])
            .await
            .status()
            .as_u16(),
        303
    );
    second.settle().await;
    assert_eq!(fold(&second.events()).status, SubscriptionStatus::Active);

    // And the completion itself survives the next restart.
    let third = start(Options {
        state_file: Some(path),
        ..Options::default()
    })
    .await;
    let url = format!("{}/sandbox/checkout/{}", third.base, session.id);
    assert_eq!(
        third
            .post_form(&url, &[("outcome", "pay")])
            .await
            .status()
            .as_u16(),
        409
    );
}

#[tokio::test]
async fn failed_delivery_is_retried_with_the_same_event() {
    let h = start(Options {
        receiver_statuses: vec![500, 503],
        ..Options::default()
    })
    .await;
    let (_, session) = h.pro_checkout().await;
    h.choose(&session, "pay").await;
    h.settle().await;

    let received = h.received();
    assert_eq!(received.len(), 5, "two refusals, then three deliveries");
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 503, 200, 200, 200]
    );
    let first_id = received[0].header("webhook-id").unwrap();
    assert!(received[..3]
        .iter()
        .all(|r| r.header("webhook-id") == Some(first_id) && r.body == received[0].body));
    // Order is kept: the retried event is still the first one accepted.
    let events = h.events();
    assert_eq!(events[0].event_id, first_id);
    assert_eq!(events[0].event_type, "checkout.completed");
    assert_eq!(fold(&events).status, SubscriptionStatus::Active);
}

// ---------- API: cancel a subscription ----------

impl Harness {
    /// The id of the subscription the deliveries so far created (the only one).
    fn subscription_id(&self) -> String {
        let ids: Vec<String> = self
            .received()
            .iter()
            .filter_map(|r| serde_json::from_slice::<SandboxEvent>(&r.body).ok())
            .filter(|e| e.event_type == "subscription.created")
            .map(|e| e.data["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "exactly one subscription created: {ids:?}");
        ids[0].clone()
    }

    /// A paid pro subscription, its deliveries settled; its id.
    async fn paid_subscription(&self) -> String {
        let (_, session) = self.pro_checkout().await;
        assert_eq!(self.choose(&session, "pay").await.status().as_u16(), 303);
        self.settle().await;
        self.subscription_id()
    }

    async fn cancel(
        &self,
        subscription_id: &str,
        key: Option<&str>,
        body: &str,
    ) -> (u16, HeaderMap, Value) {
        self.api_post(&cancel_path(subscription_id), key, body)
            .await
    }
}

fn cancel_path(subscription_id: &str) -> String {
    format!("/sandbox/v1/subscriptions/{subscription_id}/cancel")
}

/// The last delivery's decoded body.
fn last_body(h: &Harness) -> SandboxEvent {
    serde_json::from_slice(&h.received().last().unwrap().body).unwrap()
}

#[tokio::test]
async fn gateway_cancel_at_period_end_sends_the_portals_update_once() {
    let h = start(Options::default()).await;
    let subscription_id = h.paid_subscription().await;

    h.gateway()
        .cancel_at_period_end(&subscription_id)
        .await
        .unwrap();
    h.settle().await;
    let events = h.events();
    assert_eq!(
        types(&events),
        [
            "checkout.completed",
            "subscription.created",
            "invoice.paid",
            "subscription.updated"
        ]
    );
    // A later second than the checkout's events, as for a portal action.
    assert!(events[3].occurred_at > events[1].occurred_at);
    let sent = last_body(&h);
    assert_eq!(sent.data["id"], subscription_id.as_str());
    assert_eq!(sent.data["status"], "active");
    assert_eq!(sent.data["cancel_at_period_end"], true);
    assert_eq!(sent.data["cancel_at"], sent.data["current_period_end"]);
    assert_eq!(sent.data["canceled_at"], Value::Null);
    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::Active);
        assert!(state.cancel_at_period_end);
        assert_eq!(state.cancel_at, state.current_period_end);
        assert_eq!(
            state.provider_subscription_id.as_deref(),
            Some(subscription_id.as_str())
        );
    }

    // A second cancel (the gateway gives each call its own key) changes
    // nothing and sends nothing.
    h.gateway()
        .cancel_at_period_end(&subscription_id)
        .await
        .unwrap();
    // A retry of one call, under its key, is replayed: same answer.
    let key = format!("cancel-at-period-end:{subscription_id}:retried");
    let (status, _, first) = h
        .cancel(&subscription_id, Some(&key), r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(first, sent.data);
    let (status, headers, replayed) = h
        .cancel(&subscription_id, Some(&key), r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(replayed, sent.data);

    // Without a key, a request that changes nothing still answers the
    // subscription, and sends nothing.
    let (status, headers, again) = h
        .cancel(&subscription_id, None, r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 200);
    assert!(headers.get("idempotent-replayed").is_none());
    assert_eq!(again, sent.data);

    h.settle().await;
    assert_eq!(h.received().len(), 4, "no further delivery");

    // The portal sees the same subscription: it now offers "Resume".
    let customer_id = sent.data["customer_id"].as_str().unwrap();
    let portal_url = h
        .gateway()
        .create_portal_session(customer_id, RETURN_URL)
        .await
        .unwrap();
    let (_, html) = h.get(&portal_url).await;
    assert!(html.contains("data-testid=\"resume\""), "{html}");
}

#[tokio::test]
async fn api_cancel_now_ends_the_subscription_then_refuses_further_cancels() {
    let h = start(Options::default()).await;
    let subscription_id = h.paid_subscription().await;

    let (status, _, answer) = h
        .cancel(
            &subscription_id,
            Some("cancel-now-1"),
            r#"{"at_period_end":false}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["id"], subscription_id.as_str());
    assert_eq!(answer["status"], "canceled");
    assert!(answer["canceled_at"].is_i64(), "{answer}");
    h.settle().await;
    let events = h.events();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].event_type, "subscription.canceled");
    assert!(events[3].occurred_at > events[1].occurred_at);
    assert_eq!(last_body(&h).data, answer);
    for state in [fold(&events), fold_reversed(&events)] {
        assert_eq!(state.status, SubscriptionStatus::Canceled);
    }

    // The same key is still answered from the first call...
    let (status, _, replayed) = h
        .cancel(
            &subscription_id,
            Some("cancel-now-1"),
            r#"{"at_period_end":false}"#,
        )
        .await;
    assert_eq!((status, &replayed), (200, &answer));
    // ...but a new request on an ended subscription is a conflict.
    for body in [r#"{"at_period_end":false}"#, r#"{"at_period_end":true}"#] {
        let (status, _, error) = h.cancel(&subscription_id, None, body).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(error["error"]["code"], "subscription_not_live", "{body}");
    }
    let error = h
        .gateway()
        .cancel_at_period_end(&subscription_id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ProviderError::Rejected { provider: Provider::Sandbox, status: 409, code: Some(code), .. }
                if code == "subscription_not_live"
        ),
        "{error:?}"
    );
    h.settle().await;
    assert_eq!(h.received().len(), 4, "a refused cancel sends nothing");
}

#[tokio::test]
async fn api_cancel_of_an_incomplete_subscription_is_a_conflict() {
    let h = start(Options::default()).await;
    let (_, session) = h.pro_checkout().await;
    h.choose(&session, "decline").await;
    h.settle().await;
    let subscription_id = h.subscription_id();
    let (status, _, error) = h
        .cancel(&subscription_id, None, r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "subscription_not_live");
    h.settle().await;
    assert_eq!(h.received().len(), 2);
}

#[tokio::test]
async fn api_cancel_refuses_unknown_subscriptions_bad_keys_and_bad_bodies() {
    let h = start(Options::default()).await;
    let subscription_id = h.paid_subscription().await;

    // Unknown subscription: 404 resource_missing, over HTTP and through
    // the gateway.
    let (status, _, error) = h
        .cancel("sub_nope", None, r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "resource_missing");
    let error = h
        .gateway()
        .cancel_at_period_end("sub_nope")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ProviderError::Rejected { provider: Provider::Sandbox, status: 404, code: Some(code), .. }
                if code == "resource_missing"
        ),
        "{error:?}"
    );

    // A wrong API key: 401 before anything is looked up, so an unknown and
    // a known subscription answer alike and nothing changes.
    for id in ["sub_nope", subscription_id.as_str()] {
        let response = h
            .browser
            .post(format!("{}{}", h.base, cancel_path(id)))
            .bearer_auth("sk_sandbox_wrong")
            .header("content-type", "application/json")
            .body(r#"{"at_period_end":true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{id}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized");
    }
    let error = h
        .gateway_with_key("sk_sandbox_wrong")
        .cancel_at_period_end(&subscription_id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Configuration {
                provider: Provider::Sandbox,
                ..
            }
        ),
        "{error:?}"
    );

    // Bodies that are not a CancelSubscriptionRequest.
    for body in [
        "",
        "{}",
        r#"{"at_period_end":"yes"}"#,
        r#"{"at_period_end":true,"prorate":true}"#,
    ] {
        let (status, _, error) = h.cancel(&subscription_id, None, body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"]["code"], "invalid_request", "{body}");
    }

    // One idempotency key cannot cancel two subscriptions: the path is
    // part of the request.
    let (status, _, _) = h
        .cancel(
            &subscription_id,
            Some("cancel-k"),
            r#"{"at_period_end":true}"#,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, error) = h
        .cancel("sub_other", Some("cancel-k"), r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "idempotency_key_reused");

    h.settle().await;
    let events = h.events();
    assert_eq!(
        types(&events[3..]),
        ["subscription.updated"],
        "only the one accepted cancel was sent"
    );
}

#[tokio::test]
async fn api_cancel_is_kept_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox-state.json");
    let first = start(Options {
        state_file: Some(path.clone()),
        ..Options::default()
    })
    .await;
    let subscription_id = first.paid_subscription().await;
    first
        .gateway()
        .cancel_at_period_end(&subscription_id)
        .await
        .unwrap();
    first.settle().await;

    let second = start(Options {
        state_file: Some(path),
        ..Options::default()
    })
    .await;
    // Already set to cancel after the restart: answered, nothing sent.
    let (status, _, answer) = second
        .cancel(&subscription_id, None, r#"{"at_period_end":true}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["cancel_at_period_end"], true);
    second
        .gateway()
        .cancel_at_period_end(&subscription_id)
        .await
        .unwrap();
    second.settle().await;
    assert!(second.received().is_empty());
}
