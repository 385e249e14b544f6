//! create-session through its handler with events/create-session.json and a
//! recording gateway: the happy path, customer reuse, and every refusal; and
//! `POST /billing/portal` through the same handler.
//! (The real Stripe client is exercised against a local Stripe stub in
//! billing-providers and in the end-to-end tests.)

use async_trait::async_trait;
use billing_domain::ports::*;
use billing_domain::*;
use billing_testkit::memory::MemoryStore;
use create_session::SessionApi;
use lambda_http::{Body, Request};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The clock of every request here; idempotency records expire from it.
const NOW: UnixTime = UnixTime(1_800_000_000);

#[derive(Default)]
struct Calls {
    customers: Vec<String>,
    checkouts: Vec<CheckoutRequest>,
    portals: Vec<(String, String)>,
}

#[derive(Clone)]
struct RecordingGateway {
    provider: Provider,
    /// Whether the provider has customer objects (PayPal has none).
    customers: bool,
    calls: Arc<Mutex<Calls>>,
    fail_with: Option<ProviderError>,
}

impl Default for RecordingGateway {
    fn default() -> Self {
        Self {
            provider: Provider::Stripe,
            customers: true,
            calls: Arc::default(),
            fail_with: None,
        }
    }
}

impl RecordingGateway {
    fn for_provider(provider: Provider, customers: bool) -> Self {
        Self {
            provider,
            customers,
            ..Self::default()
        }
    }
}

#[async_trait]
impl BillingGateway for RecordingGateway {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn create_customer(&self, tenant: &TenantId) -> Result<Option<String>, ProviderError> {
        if !self.customers {
            return Ok(None);
        }
        let mut calls = self.calls.lock().unwrap();
        calls.customers.push(tenant.to_string());
        Ok(Some(format!("cus_{}", calls.customers.len())))
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        self.calls.lock().unwrap().checkouts.push(request.clone());
        Ok(CheckoutSession {
            id: "cs_test_1".into(),
            url: "https://checkout.stripe.com/c/pay/cs_test_1".into(),
        })
    }

    async fn create_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
    ) -> Result<String, ProviderError> {
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        self.calls
            .lock()
            .unwrap()
            .portals
            .push((customer_id.to_owned(), return_url.to_owned()));
        Ok("https://billing.stripe.com/p/session/test_1".into())
    }

    async fn cancel_at_period_end(&self, _: &str) -> Result<(), ProviderError> {
        unreachable!("create-session never cancels")
    }
}

fn env() -> billing_lambda::Env {
    billing_lambda::Env::from_pairs([("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com")])
}

fn api(store: MemoryStore, gateway: RecordingGateway) -> SessionApi<MemoryStore> {
    SessionApi::from_env(&env(), store, vec![Box::new(gateway)]).unwrap()
}

fn sample() -> Value {
    let path = format!(
        "{}/../../events/create-session.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn with_body(body: Value) -> Request {
    let mut event = sample();
    event["body"] = body.to_string().into();
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

async fn call(api: &SessionApi<MemoryStore>, req: Request) -> (u16, Value) {
    let (status, body, _) = call_at(api, req, NOW).await;
    (status, body)
}

/// Status, JSON body and whether the answer is a stored replay.
async fn call_at<S>(api: &SessionApi<S>, req: Request, now: UnixTime) -> (u16, Value, bool)
where
    S: CustomerRegistry + IntentRecorder + IdempotencyStore + ProfileStore,
{
    let response = api.handle(req, now).await;
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let Body::Text(text) = response.body() else {
        panic!("JSON text body")
    };
    (
        response.status().as_u16(),
        serde_json::from_str(text).unwrap(),
        replayed,
    )
}

fn body(plan: &str, success: &str) -> Value {
    json!({"plan": plan, "successUrl": success, "cancelUrl": "https://app.example.com/billing"})
}

#[tokio::test]
async fn sample_request_creates_a_checkout_with_a_persisted_customer() {
    let gateway = RecordingGateway::default();
    let store = MemoryStore::new();
    let api = api(store, gateway.clone());
    let req = lambda_http::request::from_str(&sample().to_string()).unwrap();
    let (status, body) = call(&api, req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"sessionUrl": "https://checkout.stripe.com/c/pay/cs_test_1", "sessionId": "cs_test_1"})
    );
    let calls = gateway.calls.lock().unwrap();
    assert_eq!(calls.customers, ["org_acme"]);
    let checkout = &calls.checkouts[0];
    assert_eq!(
        (
            checkout.customer_id.as_deref().unwrap(),
            checkout.price_id.as_str(),
            checkout.plan_code.as_str()
        ),
        ("cus_1", "price_pro_monthly", "pro")
    );
    assert_eq!(checkout.tenant.as_str(), "org_acme");
}

#[tokio::test]
async fn a_second_checkout_reuses_the_stored_customer_with_a_fresh_idempotency_key() {
    let gateway = RecordingGateway::default();
    let api = api(MemoryStore::new(), gateway.clone());
    for _ in 0..2 {
        let (status, _) = call(&api, with_body(body("team", "https://app.example.com/ok"))).await;
        assert_eq!(status, 200);
    }
    let calls = gateway.calls.lock().unwrap();
    assert_eq!(calls.customers.len(), 1, "customer created once");
    assert_eq!(calls.checkouts[1].customer_id.as_deref(), Some("cus_1"));
    assert_ne!(
        calls.checkouts[0].idempotency_key,
        calls.checkouts[1].idempotency_key
    );
}

#[tokio::test]
async fn bad_plans_urls_and_bodies_are_400_with_a_code() {
    let api = api(MemoryStore::new(), RecordingGateway::default());
    let cases = [
        (body("gold", "https://app.example.com/ok"), "unknown_plan"),
        (body("free", "https://app.example.com/ok"), "free_plan"),
        (
            body("pro", "https://evil.example.net/ok"),
            "redirect_not_allowed",
        ),
        (body("pro", "not a url"), "invalid_redirect"),
        (json!({"plan": "pro"}), "invalid_request"),
        (
            json!({"plan": "pro", "successUrl": "https://app.example.com/", "cancelUrl": "https://app.example.com/", "extra": 1}),
            "invalid_request",
        ),
        (
            json!({"plan": "pro", "successUrl": "https://app.example.com/", "cancelUrl": "https://app.example.com/", "provider": "paypal2"}),
            "unknown_provider",
        ),
    ];
    for (request, code) in cases {
        let (status, body) = call(&api, with_body(request.clone())).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{request}"
        );
    }
}

#[tokio::test]
async fn missing_claims_are_401() {
    let api = api(MemoryStore::new(), RecordingGateway::default());
    let mut event = sample();
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, _) = call(
        &api,
        lambda_http::request::from_str(&event.to_string()).unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

async fn seed_subscription(store: &MemoryStore, customer: Option<&str>) {
    seed_subscription_with(
        store,
        Provider::Stripe,
        SubscriptionStatus::Active,
        customer,
    )
    .await
}

async fn seed_subscription_with(
    store: &MemoryStore,
    provider: Provider,
    status: SubscriptionStatus,
    customer: Option<&str>,
) {
    let tenant = TenantId::parse("org_acme").unwrap();
    let mut sub = Subscription::new(tenant.clone(), provider, UnixTime(1));
    sub.status = status;
    sub.provider_customer_id = customer.map(str::to_owned);
    let commit = EventCommit {
        provider,
        event_id: "evt_seed".into(),
        tenant,
        dedupe_expires_at: UnixTime(100),
        write: Some(SubscriptionWrite {
            expected_revision: None,
            subscription: sub,
        }),
        claims: vec![],
        ledger: None,
    };
    assert_eq!(
        store.commit(&commit).await.unwrap(),
        CommitOutcome::Committed
    );
}

#[tokio::test]
async fn a_tenant_with_a_live_subscription_gets_409() {
    let store = MemoryStore::new();
    seed_subscription(&store, None).await;
    let api = api(store, RecordingGateway::default());
    let (status, body) = call(&api, with_body(body("pro", "https://app.example.com/ok"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("subscription_exists"))
    );
}

#[tokio::test]
async fn provider_failures_map_to_503_502_and_500() {
    let cases = [
        (
            ProviderError::Transient {
                provider: Provider::Stripe,
                message: "timeout".into(),
            },
            503,
        ),
        (
            ProviderError::Rejected {
                provider: Provider::Stripe,
                status: 400,
                code: Some("resource_missing".into()),
                message: "No such price".into(),
            },
            502,
        ),
        (
            ProviderError::Configuration {
                provider: Provider::Stripe,
                message: "bad key".into(),
            },
            500,
        ),
    ];
    for (error, expected) in cases {
        let gateway = RecordingGateway {
            fail_with: Some(error.clone()),
            ..Default::default()
        };
        let api = api(MemoryStore::new(), gateway);
        let (status, body) = call(&api, with_body(body("pro", "https://app.example.com/ok"))).await;
        assert_eq!(status, expected, "{error}");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("bad key"),
            "internal detail leaked"
        );
    }
}

#[test]
fn configuration_without_allowed_origins_fails_at_init() {
    let none = billing_lambda::Env::from_pairs([]);
    assert!(SessionApi::from_env(
        &none,
        MemoryStore::new(),
        vec![Box::new(RecordingGateway::default())]
    )
    .is_err());
    let bad =
        billing_lambda::Env::from_pairs([("ALLOWED_REDIRECT_ORIGINS", "http://app.example.com")]);
    assert!(SessionApi::from_env(
        &bad,
        MemoryStore::new(),
        vec![Box::new(RecordingGateway::default())]
    )
    .is_err());
}

fn portal_request(body: Value) -> Request {
    let mut event = sample();
    event["rawPath"] = "/billing/portal".into();
    event["routeKey"] = "POST /billing/portal".into();
    event["requestContext"]["routeKey"] = "POST /billing/portal".into();
    event["requestContext"]["http"]["path"] = "/billing/portal".into();
    event["body"] = body.to_string().into();
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn portal_body() -> Value {
    json!({"returnUrl": "https://app.example.com/billing"})
}

#[tokio::test]
async fn portal_opens_for_the_customer_of_the_tenants_subscription() {
    let store = MemoryStore::new();
    seed_subscription(&store, Some("cus_from_subscription")).await;
    let gateway = RecordingGateway::default();
    let api = api(store, gateway.clone());
    let (status, body) = call(&api, portal_request(portal_body())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"url": "https://billing.stripe.com/p/session/test_1"})
    );
    assert_eq!(
        gateway.calls.lock().unwrap().portals,
        [(
            "cus_from_subscription".to_owned(),
            "https://app.example.com/billing".to_owned()
        )]
    );
}

#[tokio::test]
async fn portal_opens_for_a_customer_created_by_an_unfinished_checkout() {
    let gateway = RecordingGateway::default();
    let api = api(MemoryStore::new(), gateway.clone());
    let (status, _) = call(&api, with_body(body("pro", "https://app.example.com/ok"))).await;
    assert_eq!(status, 200);
    let (status, body) = call(&api, portal_request(portal_body())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gateway.calls.lock().unwrap().portals[0].0, "cus_1");
}

#[tokio::test]
async fn portal_without_a_billing_account_is_404_and_calls_no_provider() {
    let gateway = RecordingGateway::default();
    let api = api(MemoryStore::new(), gateway.clone());
    let (status, body) = call(&api, portal_request(portal_body())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no_billing_account"))
    );
    assert!(gateway.calls.lock().unwrap().portals.is_empty());
}

#[tokio::test]
async fn portal_refuses_bad_bodies_foreign_return_urls_and_provider_failures() {
    let store = MemoryStore::new();
    seed_subscription(&store, Some("cus_1")).await;
    let portal = api(store, RecordingGateway::default());
    let cases = [
        (json!({}), 400, "invalid_request"),
        (
            json!({"returnUrl": "https://app.example.com/", "extra": true}),
            400,
            "invalid_request",
        ),
        (
            json!({"returnUrl": "https://evil.example.net/"}),
            400,
            "redirect_not_allowed",
        ),
    ];
    for (request, expected_status, code) in cases {
        let (status, body) = call(&portal, portal_request(request.clone())).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected_status, Some(code)),
            "{request}"
        );
    }

    let store = MemoryStore::new();
    seed_subscription(&store, Some("cus_1")).await;
    let failing = RecordingGateway {
        fail_with: Some(ProviderError::Transient {
            provider: Provider::Stripe,
            message: "timeout".into(),
        }),
        ..Default::default()
    };
    let api = api(store, failing);
    let (status, body) = call(&api, portal_request(portal_body())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("provider_unavailable"))
    );
}

#[tokio::test]
async fn portal_without_claims_is_401() {
    let api = api(MemoryStore::new(), RecordingGateway::default());
    let mut event: Value = serde_json::to_value(sample()).unwrap();
    event["rawPath"] = "/billing/portal".into();
    event["body"] = portal_body().to_string().into();
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, _) = call(
        &api,
        lambda_http::request::from_str(&event.to_string()).unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn portal_sample_event_opens_the_portal() {
    let store = MemoryStore::new();
    seed_subscription(&store, Some("cus_TestAcme01")).await;
    let gateway = RecordingGateway::default();
    let api = api(store, gateway.clone());
    let path = format!(
        "{}/../../events/create-portal-session.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let event = std::fs::read_to_string(path).unwrap();
    let (status, body) = call(&api, lambda_http::request::from_str(&event).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gateway.calls.lock().unwrap().portals[0].0, "cus_TestAcme01");
}

fn api_with(store: MemoryStore, gateways: &[&RecordingGateway]) -> SessionApi<MemoryStore> {
    let gateways: Vec<Box<dyn BillingGateway>> = gateways
        .iter()
        .map(|g| Box::new((*g).clone()) as Box<dyn BillingGateway>)
        .collect();
    SessionApi::from_env(&env(), store, gateways).unwrap()
}

fn with_provider(provider: Option<&str>) -> Request {
    let mut request = body("pro", "https://app.example.com/ok");
    if let Some(provider) = provider {
        request["provider"] = provider.into();
    }
    with_body(request)
}

#[tokio::test]
async fn provider_is_the_requested_one_else_the_first_configured() {
    let stripe = RecordingGateway::default();
    let razorpay = RecordingGateway::for_provider(Provider::Razorpay, true);
    let api = api_with(MemoryStore::new(), &[&stripe, &razorpay]);
    assert_eq!(call(&api, with_provider(None)).await.0, 200);
    assert_eq!(stripe.calls.lock().unwrap().checkouts.len(), 1);
    let (status, body) = call(&api, with_provider(Some("razorpay"))).await;
    assert_eq!(status, 200, "{body}");
    let calls = razorpay.calls.lock().unwrap();
    assert_eq!(calls.checkouts.len(), 1);
    assert_eq!(
        calls.checkouts[0].price_id, "plan_ProMonthly0001",
        "the plan maps to the chosen provider's price"
    );
}

#[tokio::test]
async fn a_tenant_stays_with_the_provider_of_its_subscription() {
    let store = MemoryStore::new();
    // A past subscription (not live) held by Razorpay.
    seed_subscription_with(
        &store,
        Provider::Razorpay,
        SubscriptionStatus::Canceled,
        None,
    )
    .await;
    let stripe = RecordingGateway::default();
    let razorpay = RecordingGateway::for_provider(Provider::Razorpay, true);
    let api = api_with(store, &[&stripe, &razorpay]);
    let (status, body) = call(&api, with_provider(None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(razorpay.calls.lock().unwrap().checkouts.len(), 1);
    assert!(stripe.calls.lock().unwrap().checkouts.is_empty());

    let (status, body) = call(&api, with_provider(Some("stripe"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("provider_mismatch"))
    );
    assert!(stripe.calls.lock().unwrap().checkouts.is_empty());
}

#[tokio::test]
async fn a_provider_without_customers_gets_a_checkout_naming_the_tenant_only() {
    let paypal = RecordingGateway::for_provider(Provider::Paypal, false);
    let api = api_with(MemoryStore::new(), &[&paypal]);
    let mut request = body("pro", "https://app.example.com/ok");
    request["customer"] = json!({"email": "payer@example.com"});
    let (status, body) = call(&api, with_body(request)).await;
    assert_eq!(status, 200, "{body}");
    let calls = paypal.calls.lock().unwrap();
    assert!(calls.customers.is_empty());
    let checkout = &calls.checkouts[0];
    assert_eq!(checkout.customer_id, None);
    assert_eq!(
        checkout.contact.as_ref().and_then(|c| c.email.as_deref()),
        Some("payer@example.com")
    );
}

#[tokio::test]
async fn a_portal_the_provider_does_not_offer_is_409() {
    let store = MemoryStore::new();
    seed_subscription(&store, Some("cus_1")).await;
    let gateway = RecordingGateway {
        fail_with: Some(ProviderError::Unsupported {
            provider: Provider::Stripe,
            operation: "a customer portal",
        }),
        ..Default::default()
    };
    let api = api(store, gateway);
    let (status, body) = call(&api, portal_request(portal_body())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_supported_by_provider"))
    );
}

/// `request` as sent by a caller whose token has `role` (`None`: no role claim).
fn as_role(request: Request, role: Option<&str>) -> Request {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let mut context = match request.request_context() {
        RequestContext::ApiGatewayV2(context) => context,
        _ => panic!("an HTTP API request"),
    };
    let claims = &mut context
        .authorizer
        .as_mut()
        .unwrap()
        .jwt
        .as_mut()
        .unwrap()
        .claims;
    match role {
        Some(role) => claims.insert("role".into(), role.into()),
        None => claims.remove("role"),
    };
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

#[tokio::test]
async fn viewers_and_tokens_without_a_known_role_may_not_check_out_or_open_the_portal() {
    let store = MemoryStore::new();
    seed_subscription(&store, Some("cus_1")).await;
    let gateway = RecordingGateway::default();
    let api = api(store, gateway.clone());
    for role in [Some("viewer"), None, Some("Owner"), Some("billing-admin")] {
        for request in [with_body(sample_body()), portal_request(portal_body())] {
            let (status, body) = call(&api, as_role(request, role)).await;
            assert_eq!(status, 403, "{role:?}: {body}");
            assert_eq!(body["error"]["code"], "forbidden_role", "{role:?}");
        }
    }
    let calls = gateway.calls.lock().unwrap();
    assert!(calls.customers.is_empty() && calls.checkouts.is_empty() && calls.portals.is_empty());
}

#[tokio::test]
async fn owners_and_admins_may_check_out_and_open_the_portal() {
    for role in ["owner", "admin"] {
        let gateway = RecordingGateway::default();
        let api = api(MemoryStore::new(), gateway.clone());
        let (status, body) = call(&api, as_role(with_body(sample_body()), Some(role))).await;
        assert_eq!(status, 200, "{role}: {body}");
        let (status, body) = call(&api, as_role(portal_request(portal_body()), Some(role))).await;
        assert_eq!(status, 200, "{role}: {body}");
    }
}

#[tokio::test]
async fn the_role_claim_is_configurable() {
    let gateway = RecordingGateway::default();
    let env = billing_lambda::Env::from_pairs([
        ("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com"),
        ("ROLE_CLAIM", "custom:billing_role"),
    ]);
    let api = SessionApi::from_env(&env, MemoryStore::new(), vec![Box::new(gateway)]).unwrap();
    // The sample's `role: owner` is not the configured claim: a viewer.
    let (status, _) = call(&api, with_body(sample_body())).await;
    assert_eq!(status, 403);
}

fn sample_body() -> Value {
    serde_json::from_str(sample()["body"].as_str().unwrap()).unwrap()
}

/// `request` with an `Idempotency-Key` header.
fn with_key(mut request: Request, key: &str) -> Request {
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

#[tokio::test]
async fn a_repeated_idempotency_key_gets_the_first_answer_without_a_second_provider_call() {
    let gateway = RecordingGateway::default();
    let api = api(MemoryStore::new(), gateway.clone());
    let (status, first, replayed) =
        call_at(&api, with_key(with_body(sample_body()), "key-1"), NOW).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let later = UnixTime(NOW.0 + 3_600);
    let (status, again, replayed) =
        call_at(&api, with_key(with_body(sample_body()), "key-1"), later).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    assert_eq!(gateway.calls.lock().unwrap().checkouts.len(), 1);
    // Without a key, or with another, the request runs again.
    call_at(&api, with_body(sample_body()), later).await;
    call_at(&api, with_key(with_body(sample_body()), "key-2"), later).await;
    assert_eq!(gateway.calls.lock().unwrap().checkouts.len(), 3);
}

#[tokio::test]
async fn the_same_key_with_another_body_or_route_is_422_and_runs_nothing() {
    let gateway = RecordingGateway::default();
    let api = api(MemoryStore::new(), gateway.clone());
    call_at(&api, with_key(with_body(sample_body()), "key-1"), NOW).await;
    let other_plan = body("team", "https://app.example.com/billing/success");
    for request in [with_body(other_plan), portal_request(portal_body())] {
        let (status, body, _) = call_at(&api, with_key(request, "key-1"), NOW).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "idempotency_key_reused");
    }
    let calls = gateway.calls.lock().unwrap();
    assert_eq!((calls.checkouts.len(), calls.portals.len()), (1, 0));
}

#[tokio::test]
async fn a_repeat_while_the_first_still_runs_is_409_until_its_lock_ends() {
    use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord};
    let store = MemoryStore::new();
    let gateway = RecordingGateway::default();
    // A first request that began and never finished (its invocation died).
    let request = with_key(with_body(sample_body()), "key-1");
    let fingerprint = billing_lambda::idempotency::fingerprint(&request);
    let key = IdempotencyKey::parse("key-1").unwrap();
    let tenant = TenantId::parse("org_acme").unwrap();
    let running = IdempotencyRecord::begin(fingerprint, NOW, 30);
    store
        .begin_request(&tenant, &key, &running, NOW)
        .await
        .unwrap();
    let api = api(store, gateway.clone());
    let (status, body, _) = call_at(
        &api,
        with_key(with_body(sample_body()), "key-1"),
        UnixTime(NOW.0 + 29),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "request_in_progress");
    assert!(gateway.calls.lock().unwrap().checkouts.is_empty());
    let (status, _, _) = call_at(
        &api,
        with_key(with_body(sample_body()), "key-1"),
        UnixTime(NOW.0 + 30),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_provider_outage_is_not_kept_so_the_retry_runs_afresh() {
    let failing = RecordingGateway {
        fail_with: Some(ProviderError::Transient {
            provider: Provider::Stripe,
            message: "timeout".into(),
        }),
        ..RecordingGateway::default()
    };
    let store = std::sync::Arc::new(MemoryStore::new());
    let api_failing = SessionApi::from_env(&env(), store.clone(), vec![Box::new(failing)]).unwrap();
    let (status, _, _) = call_at(
        &api_failing,
        with_key(with_body(sample_body()), "key-1"),
        NOW,
    )
    .await;
    assert_eq!(status, 503);
    let working = RecordingGateway::default();
    let api_working = SessionApi::from_env(&env(), store, vec![Box::new(working.clone())]).unwrap();
    let (status, _, replayed) = call_at(
        &api_working,
        with_key(with_body(sample_body()), "key-1"),
        NOW,
    )
    .await;
    assert_eq!((status, replayed), (200, false));
    assert_eq!(working.calls.lock().unwrap().checkouts.len(), 1);
}

#[tokio::test]
async fn a_malformed_key_is_400_and_a_refused_role_records_nothing() {
    let gateway = RecordingGateway::default();
    let store = std::sync::Arc::new(MemoryStore::new());
    let api = SessionApi::from_env(&env(), store.clone(), vec![Box::new(gateway.clone())]).unwrap();
    for key in ["has space", &"k".repeat(256)] {
        let (status, body, _) = call_at(&api, with_key(with_body(sample_body()), key), NOW).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_request");
    }
    let viewer = as_role(with_key(with_body(sample_body()), "key-v"), Some("viewer"));
    assert_eq!(call_at(&api, viewer, NOW).await.0, 403);
    // The owner's request under the same key runs: the refusal kept nothing.
    let (status, _, replayed) =
        call_at(&api, with_key(with_body(sample_body()), "key-v"), NOW).await;
    assert_eq!((status, replayed), (200, false));
    assert_eq!(gateway.calls.lock().unwrap().checkouts.len(), 1);
}

/// A provider that times out on the first checkout (after taking it, as a
/// real timeout may) and answers the next; it records every idempotency key
/// it is sent.
#[derive(Clone, Default)]
struct FlakyGateway {
    keys: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl BillingGateway for FlakyGateway {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let mut keys = self.keys.lock().unwrap();
        keys.push(request.idempotency_key.clone());
        if keys.len() == 1 {
            return Err(ProviderError::Transient {
                provider: Provider::Stripe,
                message: "timed out".into(),
            });
        }
        Ok(CheckoutSession {
            id: "cs_1".into(),
            url: "https://checkout.stripe.com/c/pay/cs_1".into(),
        })
    }

    async fn cancel_at_period_end(&self, _: &str) -> Result<(), ProviderError> {
        unreachable!("checkout never cancels")
    }
}

#[tokio::test]
async fn a_rerun_under_one_idempotency_key_sends_the_provider_the_same_key() {
    let gateway = FlakyGateway::default();
    let api =
        SessionApi::from_env(&env(), MemoryStore::new(), vec![Box::new(gateway.clone())]).unwrap();
    let request = || with_key(with_body(sample_body()), "key-1");
    assert_eq!(call_at(&api, request(), NOW).await.0, 503);
    assert_eq!(call_at(&api, request(), NOW).await.0, 200);
    // Another key, or none, is another checkout for the provider too.
    call_at(&api, with_key(with_body(sample_body()), "key-2"), NOW).await;
    call_at(&api, with_body(sample_body()), NOW).await;
    call_at(&api, with_body(sample_body()), NOW).await;
    let keys = gateway.keys.lock().unwrap();
    assert_eq!(keys.len(), 5);
    assert_eq!(keys[0], keys[1], "the rerun reuses the provider key");
    assert!(keys[0].starts_with("checkout:"));
    let distinct: std::collections::HashSet<_> = keys[1..].iter().collect();
    assert_eq!(distinct.len(), 4, "{keys:?}");
}

/// The memory store, with idempotency calls failing as an unreachable store would.
struct IdempotencyDown {
    store: MemoryStore,
    fail_begin: bool,
}

#[async_trait]
impl ProfileStore for IdempotencyDown {
    async fn get_profile(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<ledger::BillingProfile>, StoreError> {
        self.store.get_profile(tenant).await
    }

    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &ledger::BillingProfile,
    ) -> Result<(), StoreError> {
        self.store.put_profile(tenant, profile).await
    }
}

#[async_trait]
impl SubscriptionReader for IdempotencyDown {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        self.store.get_subscription(tenant).await
    }
}

#[async_trait]
impl CustomerRegistry for IdempotencyDown {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        self.store.customer_id(tenant, provider).await
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        self.store
            .claim_customer(tenant, provider, customer_id)
            .await
    }
}

#[async_trait]
impl IntentRecorder for IdempotencyDown {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        self.store.save_subscription(write).await
    }
}

#[async_trait]
impl IdempotencyStore for IdempotencyDown {
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &billing_domain::idempotency::IdempotencyKey,
        record: &billing_domain::idempotency::IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        if self.fail_begin {
            return Err(StoreError::Transient("throttled".into()));
        }
        self.store.begin_request(tenant, key, record, now).await
    }

    async fn complete_request(
        &self,
        _: &TenantId,
        _: &billing_domain::idempotency::IdempotencyKey,
        _: &billing_domain::idempotency::IdempotencyRecord,
        _: &billing_domain::idempotency::IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        Err(StoreError::Transient("throttled".into()))
    }

    async fn release_request(
        &self,
        _: &TenantId,
        _: &billing_domain::idempotency::IdempotencyKey,
        _: &billing_domain::idempotency::IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        Err(StoreError::Transient("throttled".into()))
    }
}

#[tokio::test]
async fn an_idempotency_store_outage_before_the_request_is_503_and_calls_no_provider() {
    let gateway = RecordingGateway::default();
    let store = IdempotencyDown {
        store: MemoryStore::new(),
        fail_begin: true,
    };
    let api = SessionApi::from_env(&env(), store, vec![Box::new(gateway.clone())]).unwrap();
    let (status, body, _) = call_at(&api, with_key(with_body(sample_body()), "key-1"), NOW).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(gateway.calls.lock().unwrap().checkouts.is_empty());
}

#[tokio::test]
async fn an_answer_stands_when_its_record_cannot_be_updated() {
    let gateway = RecordingGateway::default();
    let store = IdempotencyDown {
        store: MemoryStore::new(),
        fail_begin: false,
    };
    let api = SessionApi::from_env(&env(), store, vec![Box::new(gateway.clone())]).unwrap();
    let (status, body, _) = call_at(&api, with_key(with_body(sample_body()), "key-1"), NOW).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gateway.calls.lock().unwrap().checkouts.len(), 1);
}

#[tokio::test]
async fn a_replay_carries_the_first_answers_headers_and_the_replay_mark() {
    let api = api(MemoryStore::new(), RecordingGateway::default());
    let first = api
        .handle(with_key(with_body(sample_body()), "key-1"), NOW)
        .await;
    let again = api
        .handle(with_key(with_body(sample_body()), "key-1"), NOW)
        .await;
    for header in ["content-type", "cache-control"] {
        assert_eq!(
            first.headers().get(header),
            again.headers().get(header),
            "{header}"
        );
    }
    assert!(first.headers().get("idempotent-replayed").is_none());
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}
