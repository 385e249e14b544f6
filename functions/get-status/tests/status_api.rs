//! get-status through its handler with the sample events from events/:
//! status for subscribed, past-due and unknown tenants, the public plan list,
//! and every failure path.

use async_trait::async_trait;
use billing_domain::ledger::{Invoice, PaymentRecord};
use billing_domain::ports::{
    EventLedger, LedgerReader, Page, PageRequest, StoreError, StoredSubscription,
    SubscriptionReader,
};
use billing_domain::processing::{process_envelope, ProcessingPolicy};
use billing_domain::*;
use billing_testkit::memory::MemoryStore;
use get_status::StatusApi;
use lambda_http::{Body, Request};
use serde_json::{json, Value};

const TENANT: &str = "org_acme";
const T: i64 = 1_767_225_600;

fn sample(name: &str) -> Request {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn with_claims(claims: Option<Value>) -> Request {
    let path = format!(
        "{}/../../events/get-status.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    match claims {
        Some(c) => event["requestContext"]["authorizer"]["jwt"]["claims"] = c,
        None => {
            event["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn api<R: SubscriptionReader + LedgerReader>(store: R) -> StatusApi<R> {
    StatusApi::from_env(&billing_lambda::Env::from_pairs([]), store).unwrap()
}

async fn call<R: SubscriptionReader + LedgerReader>(
    api: &StatusApi<R>,
    req: Request,
    now: i64,
) -> (u16, Value) {
    let response = api.handle(req, UnixTime(now)).await;
    let Body::Text(text) = response.body() else {
        panic!("JSON text body")
    };
    (
        response.status().as_u16(),
        serde_json::from_str(text).unwrap(),
    )
}

fn snapshot(status: SubscriptionStatus) -> SubscriptionSnapshot {
    SubscriptionSnapshot {
        subscription_id: "sub_1".into(),
        customer_id: "cus_1".into(),
        status,
        provider_status: status.as_str().into(),
        plan: Some(PlanCode::new("pro")),
        price_id: Some("price_pro_monthly".into()),
        current_period_start: Some(UnixTime(T)),
        current_period_end: Some(UnixTime(T + 31 * 86_400)),
        cancel_at_period_end: true,
        cancel_at: Some(UnixTime(T + 31 * 86_400)),
        canceled_at: None,
        trial_end: None,
        seats: 3,
    }
}

async fn store_with(status: SubscriptionStatus) -> MemoryStore {
    let store = MemoryStore::new();
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: "evt_1".into(),
        event_type: "customer.subscription.updated".into(),
        occurred_at: UnixTime(T),
        tenant_hint: Some(TenantId::parse(TENANT).unwrap()),
        payment: None,
        kind: EventKind::SubscriptionSnapshot {
            change: SnapshotChange::Updated,
            snapshot: snapshot(status),
        },
    };
    let envelope = WebhookEnvelope::new(event, "{}".into(), UnixTime(T), "req".into());
    process_envelope(
        &store as &dyn EventLedger,
        &envelope,
        UnixTime(T),
        &ProcessingPolicy::default(),
        &billing_lambda::config::invoicing().unwrap(),
    )
    .await
    .unwrap();
    store
}

#[tokio::test]
async fn active_subscription_reports_full_access_and_plan_entitlements() {
    let api = api(store_with(SubscriptionStatus::Active).await);
    let (status, body) = call(&api, sample("get-status.json"), T + 60).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "plan": "pro", "status": "active", "access": "full",
            "currentPeriodEnd": "2026-02-01T00:00:00Z", "cancelAtPeriodEnd": true,
            "cancelAt": "2026-02-01T00:00:00Z", "canceledAt": null, "trialEnd": null,
            "graceEndsAt": null, "seats": 3,
            "entitlements": {"projects": 20, "seats": 5, "sso": false},
            "provider": "stripe", "updatedAt": "2026-01-01T00:00:00Z",
            "pendingChange": null
        })
    );
}

#[tokio::test]
async fn past_due_keeps_grace_access_until_the_grace_period_ends() {
    let api = api(store_with(SubscriptionStatus::PastDue).await);
    let (_, body) = call(&api, sample("get-status.json"), T + 86_400).await;
    assert_eq!(body["access"], "grace");
    assert_eq!(body["graceEndsAt"], "2026-01-08T00:00:00Z");
    assert_eq!(body["entitlements"]["projects"], 20);
    let (_, body) = call(&api, sample("get-status.json"), T + 7 * 86_400).await;
    assert_eq!(body["access"], "none");
    assert_eq!(
        body["entitlements"]["projects"], 1,
        "free entitlements once access is gone"
    );
}

#[tokio::test]
async fn tenant_without_subscription_gets_status_none_on_the_free_plan() {
    let api = api(MemoryStore::new());
    let (status, body) = call(&api, sample("get-status.json"), T).await;
    assert_eq!(status, 200);
    assert_eq!(body["plan"], "free");
    assert_eq!(body["status"], "none");
    assert_eq!(body["access"], "none");
    assert_eq!(
        body["entitlements"],
        json!({"projects": 1, "seats": 1, "sso": false})
    );
}

#[tokio::test]
async fn plans_route_lists_the_active_catalog_without_auth() {
    let api = api(MemoryStore::new());
    let (status, body) = call(&api, sample("get-plans.json"), T).await;
    assert_eq!(status, 200);
    let codes: Vec<_> = body["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["free", "pro", "team", "pro-yearly"]);
    assert_eq!(
        body["plans"][1]["price"],
        json!({"amountMinor": 1900, "currency": "usd"})
    );
}

#[tokio::test]
async fn missing_token_is_401_and_missing_tenant_claim_is_403() {
    let api = api(MemoryStore::new());
    let (status, body) = call(&api, with_claims(None), T).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, body) = call(&api, with_claims(Some(json!({"sub": "u"}))), T).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("no_tenant"))
    );
}

struct FailingStore(StoreError);

#[async_trait]
impl SubscriptionReader for FailingStore {
    async fn get_subscription(
        &self,
        _: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        Err(self.0.clone())
    }
}

#[async_trait]
impl LedgerReader for FailingStore {
    async fn list_invoices(
        &self,
        _: &TenantId,
        _: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        Err(self.0.clone())
    }

    async fn get_invoice(&self, _: &TenantId, _: &str) -> Result<Option<Invoice>, StoreError> {
        Err(self.0.clone())
    }

    async fn list_payments(
        &self,
        _: &TenantId,
        _: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn store_failures_are_503_when_retryable_and_500_otherwise() {
    let api = api(FailingStore(StoreError::Transient("throttled".into())));
    let (status, body) = call(&api, sample("get-status.json"), T).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("store_unavailable"))
    );
    let api = self::api(FailingStore(StoreError::Permanent("denied".into())));
    let (status, _) = call(&api, sample("get-status.json"), T).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_rejected() {
    let api = api(MemoryStore::new());
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../events/get-plans.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    event["requestContext"]["http"]["method"] = "POST".into();
    let (status, _) = call(
        &api,
        lambda_http::request::from_str(&event.to_string()).unwrap(),
        T,
    )
    .await;
    assert_eq!(status, 405);
    event["rawPath"] = "/billing/nope".into();
    event["routeKey"] = "GET /billing/nope".into();
    event["requestContext"]["routeKey"] = "GET /billing/nope".into();
    let (status, _) = call(
        &api,
        lambda_http::request::from_str(&event.to_string()).unwrap(),
        T,
    )
    .await;
    assert_eq!(status, 404);
}

#[test]
fn invalid_grace_days_fail_at_init() {
    let env = billing_lambda::Env::from_pairs([("PAST_DUE_GRACE_DAYS", "-1")]);
    assert!(StatusApi::from_env(&env, MemoryStore::new()).is_err());
    let env = billing_lambda::Env::from_pairs([("PAST_DUE_GRACE_DAYS", "seven")]);
    assert!(StatusApi::from_env(&env, MemoryStore::new()).is_err());
}

#[tokio::test]
async fn a_pending_change_shows_until_a_day_past_when_it_was_due() {
    use billing_domain::ports::{IntentRecorder, SubscriptionReader, SubscriptionWrite};
    let store = store_with(SubscriptionStatus::Active).await;
    let tenant = TenantId::parse(TENANT).unwrap();
    let stored = store.get_subscription(&tenant).await.unwrap().unwrap();
    let period_end = UnixTime(T + 31 * 86_400);
    let intent = ChangeIntent {
        subscription_id: stored
            .subscription
            .provider_subscription_id
            .clone()
            .unwrap(),
        plan: PlanCode::new("team"),
        seats: 4,
        timing: ChangeTiming::PeriodEnd,
        effective_at: period_end,
        requested_at: UnixTime(T + 30),
    };
    let Transition::Applied(next) =
        record_intent(&stored.subscription, Some(intent), UnixTime(T + 30))
    else {
        panic!("the intent is new")
    };
    store
        .save_subscription(&SubscriptionWrite {
            expected_revision: Some(stored.revision),
            subscription: *next,
        })
        .await
        .unwrap();
    let api = api(store);
    let (_, body) = call(&api, sample("get-status.json"), T + 60).await;
    assert_eq!(
        body["pendingChange"],
        json!({"plan": "team", "seats": 4, "effectiveAt": "2026-02-01T00:00:00Z"})
    );
    assert_eq!(body["plan"], "pro", "the plan itself changes by webhook");
    let overdue = period_end.seconds() + OVERDUE_AFTER_SECONDS + 1;
    let (_, body) = call(&api, sample("get-status.json"), overdue).await;
    assert_eq!(body["pendingChange"], Value::Null);
}
