//! create-session's self-service routes through its handler, with the
//! sample events in events/ and a recording gateway: each route's answer,
//! the role gates (viewers read, owners and admins change, only owners
//! cancel at once), an `Idempotency-Key` replay that calls no provider
//! again, a provider outage that records nothing, and every refusal's code.

use async_trait::async_trait;
use billing_domain::event::{EventOrder, SubscriptionSnapshot};
use billing_domain::ports::*;
use billing_domain::subscription::Facet;
use billing_domain::*;
use billing_testkit::memory::MemoryStore;
use create_session::SessionApi;
use lambda_http::{Body, Request};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const NOW: UnixTime = UnixTime(1_767_300_000);
const PERIOD_START: i64 = 1_767_225_600;
const PERIOD_END: i64 = PERIOD_START + 31 * 86_400;

#[derive(Default, Debug)]
struct Calls {
    previews: Vec<PlanChange>,
    changes: Vec<PlanChange>,
    cancels: Vec<bool>,
    resumes: usize,
    lists: usize,
    setups: Vec<(String, String)>,
    defaults: Vec<String>,
    removals: Vec<String>,
}

#[derive(Clone)]
struct Gateway {
    capabilities: Capabilities,
    methods: Vec<&'static str>,
    fail_with: Option<ProviderError>,
    calls: Arc<Mutex<Calls>>,
}

impl Default for Gateway {
    fn default() -> Self {
        Self {
            capabilities: Capabilities::ALL,
            methods: vec!["pm_TestAcme01", "pm_TestAcme02"],
            fail_with: None,
            calls: Arc::default(),
        }
    }
}

impl Gateway {
    fn outcome(&self) -> Result<(), ProviderError> {
        self.fail_with.clone().map_or(Ok(()), Err)
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap()
    }
}

#[async_trait]
impl BillingGateway for Gateway {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn create_checkout_session(
        &self,
        _: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        unreachable!("no checkout here")
    }

    async fn cancel_at_period_end(&self, _: &str) -> Result<(), ProviderError> {
        self.outcome()?;
        self.calls().cancels.push(true);
        Ok(())
    }

    async fn cancel_now(&self, _: &str) -> Result<(), ProviderError> {
        self.outcome()?;
        self.calls().cancels.push(false);
        Ok(())
    }

    async fn resume(&self, _: &str) -> Result<(), ProviderError> {
        self.outcome()?;
        self.calls().resumes += 1;
        Ok(())
    }

    async fn preview_change(&self, change: &PlanChange) -> Result<ChangePreview, ProviderError> {
        self.outcome()?;
        self.calls().previews.push(change.clone());
        Ok(ChangePreview {
            currency: "usd".into(),
            amount_due_now_minor: 12_345,
            proration_date: change.proration_date,
            lines: vec![PreviewLine {
                description: "Remaining time on Team × 3".into(),
                amount_minor: 12_345,
                proration: true,
                period_start: change.proration_date.expect("a preview now has its moment"),
                period_end: UnixTime(PERIOD_END),
            }],
            next_invoice_amount_minor: 14_700,
            next_invoice_date: UnixTime(PERIOD_END),
            tax_minor: None,
        })
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        self.outcome()?;
        self.calls().changes.push(change.clone());
        Ok(ChangeAccepted::default())
    }

    async fn list_payment_methods(&self, _: &str) -> Result<Vec<PaymentMethod>, ProviderError> {
        self.outcome()?;
        self.calls().lists += 1;
        Ok(self
            .methods
            .iter()
            .enumerate()
            .map(|(i, id)| PaymentMethod {
                id: (*id).into(),
                kind: "card".into(),
                brand: Some("visa".into()),
                last4: Some("4242".into()),
                exp_month: Some(12),
                exp_year: Some(2034),
                is_default: i == 0,
            })
            .collect())
    }

    async fn create_setup_session(
        &self,
        customer: &str,
        return_url: &str,
        _: &str,
    ) -> Result<String, ProviderError> {
        self.outcome()?;
        self.calls()
            .setups
            .push((customer.into(), return_url.into()));
        Ok("https://checkout.stripe.com/c/setup/cs_setup_1".into())
    }

    async fn set_default_payment_method(&self, _: &str, id: &str) -> Result<(), ProviderError> {
        self.outcome()?;
        self.calls().defaults.push(id.into());
        Ok(())
    }

    async fn remove_payment_method(&self, _: &str, id: &str) -> Result<(), ProviderError> {
        self.outcome()?;
        self.calls().removals.push(id.into());
        Ok(())
    }
}

fn tenant() -> TenantId {
    TenantId::parse("org_acme").unwrap()
}

fn api(store: Arc<MemoryStore>, gateway: &Gateway) -> SessionApi<Arc<MemoryStore>> {
    let env =
        billing_lambda::Env::from_pairs([("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com")]);
    SessionApi::from_env(&env, store, vec![Box::new(gateway.clone())]).unwrap()
}

/// A tenant subscribed to `plan` with `seats` through Stripe, as a webhook
/// left it.
async fn subscribed(status: SubscriptionStatus, plan: &str, seats: u32) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let mut subscription = Subscription::new(tenant(), Provider::Stripe, UnixTime(PERIOD_START));
    subscription.sources.snapshot = Some(Facet {
        order: EventOrder {
            occurred_at: UnixTime(PERIOD_START + 10),
            rank: 2,
            event_id: "evt_seed".into(),
        },
        provider: Provider::Stripe,
        value: SubscriptionSnapshot {
            subscription_id: "sub_1TestAcme01".into(),
            customer_id: "cus_TestAcme01".into(),
            status,
            provider_status: status.as_str().into(),
            plan: Some(PlanCode::new(plan)),
            price_id: Some(format!("price_{plan}_monthly")),
            current_period_start: Some(UnixTime(PERIOD_START)),
            current_period_end: Some(UnixTime(PERIOD_END)),
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            trial_end: None,
            seats,
        },
    });
    subscription.materialize();
    let commit = EventCommit {
        provider: Provider::Stripe,
        event_id: "evt_seed".into(),
        tenant: tenant(),
        dedupe_expires_at: UnixTime(i64::MAX),
        write: Some(SubscriptionWrite {
            expected_revision: None,
            subscription,
        }),
        claims: Vec::new(),
        ledger: None,
    };
    assert_eq!(
        store.commit(&commit).await.unwrap(),
        CommitOutcome::Committed
    );
    store
}

async fn active() -> Arc<MemoryStore> {
    subscribed(SubscriptionStatus::Active, "pro", 1).await
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// A sample event with another body.
fn with_body(name: &str, body: Value) -> Value {
    let mut event = sample(name);
    event["body"] = body.to_string().into();
    event
}

/// A sample event sent by a caller with `role` (`None`: no role claim).
fn as_role(mut event: Value, role: Option<&str>) -> Value {
    let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
    match role {
        Some(role) => claims["role"] = role.into(),
        None => {
            claims.as_object_mut().unwrap().remove("role");
        }
    }
    event
}

fn with_key(mut event: Value, key: &str) -> Value {
    event["headers"]["idempotency-key"] = key.into();
    event
}

/// Status, JSON body, and whether the answer is a replay.
async fn call(api: &SessionApi<Arc<MemoryStore>>, event: &Value) -> (u16, Value, bool) {
    let response = api.handle(request(event), NOW).await;
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

async fn stored(store: &MemoryStore) -> StoredSubscription {
    store.get_subscription(&tenant()).await.unwrap().unwrap()
}

const MUTATING: [&str; 6] = [
    "change-plan.json",
    "cancel-subscription.json",
    "resume-subscription.json",
    "setup-payment-method.json",
    "set-default-payment-method.json",
    "remove-payment-method.json",
];

#[tokio::test]
async fn a_preview_answers_the_providers_amounts_in_minor_units_with_rfc3339_dates() {
    let gateway = Gateway::default();
    let api = api(active().await, &gateway);
    let (status, body, _) = call(&api, &sample("preview-change.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "currency": "usd", "amountDueNowMinor": 12_345,
            "prorationDate": "2026-01-01T20:40:00Z",
            "lines": [{"description": "Remaining time on Team × 3", "amountMinor": 12_345,
                       "proration": true, "periodStart": "2026-01-01T20:40:00Z",
                       "periodEnd": "2026-02-01T00:00:00Z"}],
            "nextInvoice": {"amountMinor": 14_700, "date": "2026-02-01T00:00:00Z"}
        })
    );
    let calls = gateway.calls();
    assert_eq!(calls.previews.len(), 1);
    assert_eq!(
        (calls.previews[0].price_id.as_str(), calls.previews[0].seats),
        ("price_team_monthly", 3)
    );
}

#[tokio::test]
async fn a_change_at_period_end_is_accepted_and_shows_as_pending_until_the_webhook() {
    let gateway = Gateway::default();
    let store = active().await;
    let api = api(Arc::clone(&store), &gateway);
    let (status, body, _) = call(&api, &sample("change-plan.json")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"pendingChange": {"plan": "team", "seats": 3, "effectiveAt": "2026-02-01T00:00:00Z"}})
    );
    let record = stored(&store).await;
    assert_eq!(
        record.subscription.pending_change,
        Some(PendingChange {
            plan: PlanCode::new("team"),
            seats: 3,
            effective_at: UnixTime(PERIOD_END),
        })
    );
    assert_eq!(gateway.calls().changes[0].timing, ChangeTiming::PeriodEnd);
    // The provider's key is derived from the request's own key.
    assert!(gateway.calls().changes[0]
        .idempotency_key
        .starts_with("change:"));
}

#[tokio::test]
async fn a_change_now_passes_the_previews_proration_moment() {
    let gateway = Gateway::default();
    let api = api(active().await, &gateway);
    let body = json!({"plan": "team", "seats": 3, "timing": "now", "prorationDate": "2026-01-01T20:30:00Z"});
    let (status, answer, _) = call(&api, &with_body("change-plan.json", body)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        gateway.calls().changes[0].proration_date,
        Some(UnixTime(1_767_299_400))
    );
    assert_eq!(
        answer["pendingChange"]["effectiveAt"],
        "2026-01-01T20:40:00Z"
    );
}

#[tokio::test]
async fn cancel_resume_and_payment_method_samples_reach_the_provider() {
    let gateway = Gateway::default();
    let api = api(active().await, &gateway);
    let (status, body, _) = call(&api, &sample("cancel-subscription.json")).await;
    assert_eq!((status, body), (202, json!({"accepted": true})));
    let (status, body, _) = call(&api, &sample("list-payment-methods.json")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["paymentMethods"][0],
        json!({"id": "pm_TestAcme01", "type": "card", "brand": "visa", "last4": "4242",
               "expMonth": 12, "expYear": 2034, "isDefault": true})
    );
    let (status, body, _) = call(&api, &sample("setup-payment-method.json")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"url": "https://checkout.stripe.com/c/setup/cs_setup_1"})
        )
    );
    let (status, body, _) = call(&api, &sample("set-default-payment-method.json")).await;
    assert_eq!(
        (status, body),
        (200, json!({"id": "pm_TestAcme02", "isDefault": true}))
    );
    let (status, body, _) = call(&api, &sample("remove-payment-method.json")).await;
    assert_eq!(
        (status, body),
        (200, json!({"id": "pm_TestAcme01", "removed": true}))
    );
    let calls = gateway.calls();
    assert_eq!(calls.cancels, [true]);
    assert_eq!(
        calls.setups,
        [(
            "cus_TestAcme01".into(),
            "https://app.example.com/billing".into()
        )]
    );
    // The sample removes the default card (as the gateway lists it): the
    // other one becomes the default first, so the subscription keeps one.
    assert_eq!(calls.defaults, ["pm_TestAcme02", "pm_TestAcme02"]);
    assert_eq!(calls.removals, ["pm_TestAcme01"]);
}

#[tokio::test]
async fn resume_needs_a_pending_cancellation() {
    let gateway = Gateway::default();
    let api = api(active().await, &gateway);
    let (status, body, _) = call(&api, &sample("resume-subscription.json")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("no_pending_cancellation"))
    );
    assert_eq!(gateway.calls().resumes, 0);
}

#[tokio::test]
async fn viewers_may_read_but_every_mutating_route_refuses_them_and_records_nothing() {
    let gateway = Gateway::default();
    let store = active().await;
    let api = api(Arc::clone(&store), &gateway);
    for role in [Some("viewer"), None, Some("OWNER"), Some("billing")] {
        for name in MUTATING {
            let event = with_key(as_role(sample(name), role), "viewer-key");
            let (status, body, _) = call(&api, &event).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("forbidden_role")),
                "{name} as {role:?}"
            );
        }
    }
    assert_eq!(
        format!("{:?}", gateway.calls()),
        format!("{:?}", Calls::default())
    );
    assert_eq!(stored(&store).await.revision, 1, "nothing written");
    // The key was never taken: an owner may use it now.
    let owner = with_key(sample("cancel-subscription.json"), "viewer-key");
    assert_eq!(call(&api, &owner).await.0, 202);
    for name in ["preview-change.json", "list-payment-methods.json"] {
        let (status, body, _) = call(&api, &as_role(sample(name), Some("viewer"))).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
}

#[tokio::test]
async fn who_may_cancel_is_settled_before_the_body_is_read() {
    let api = api(active().await, &Gateway::default());
    let mut garbled = sample("cancel-subscription.json");
    garbled["body"] = "{not json".into();
    let (status, body, _) = call(&api, &as_role(garbled.clone(), Some("viewer"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );
    let (status, body, _) = call(&api, &garbled).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "an owner learns what is wrong with the body"
    );
}

#[tokio::test]
async fn cancelling_at_once_is_the_owners_alone() {
    let gateway = Gateway::default();
    let api = api(active().await, &gateway);
    let now = with_body("cancel-subscription.json", json!({"atPeriodEnd": false}));
    let (status, body, _) = call(&api, &as_role(now.clone(), Some("admin"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );
    assert!(gateway.calls().cancels.is_empty());
    // An admin may still cancel at period end, and an empty body means that.
    let at_end = with_body("cancel-subscription.json", json!({}));
    assert_eq!(call(&api, &as_role(at_end, Some("admin"))).await.0, 202);
    let mut empty = sample("cancel-subscription.json");
    empty.as_object_mut().unwrap().remove("body");
    assert_eq!(call(&api, &as_role(empty, Some("admin"))).await.0, 202);
    assert_eq!(call(&api, &now).await.0, 202, "the owner may");
    assert_eq!(gateway.calls().cancels, [true, true, false]);
}

#[tokio::test]
async fn a_replayed_idempotency_key_changes_the_plan_once() {
    let gateway = Gateway::default();
    let store = active().await;
    let api = api(Arc::clone(&store), &gateway);
    let event = sample("change-plan.json");
    let (first_status, first, replayed) = call(&api, &event).await;
    assert_eq!((first_status, replayed), (202, false));
    let (again_status, again, replayed) = call(&api, &event).await;
    assert_eq!((again_status, &again, replayed), (202, &first, true));
    assert_eq!(gateway.calls().changes.len(), 1, "one provider call");
    assert_eq!(stored(&store).await.revision, 2, "one intent written");
    // A new key is a new request: the change is already pending.
    let (status, body, _) = call(&api, &with_key(event, "another-key")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("change_pending"))
    );
    assert_eq!(gateway.calls().changes.len(), 1);
}

#[tokio::test]
async fn a_provider_outage_records_nothing_and_a_retry_under_the_key_runs_again() {
    for (failure, expected) in [
        (
            ProviderError::Transient {
                provider: Provider::Stripe,
                message: "timed out after 3 attempts".into(),
            },
            (503, "provider_unavailable"),
        ),
        (
            ProviderError::Rejected {
                provider: Provider::Stripe,
                status: 400,
                code: Some("resource_missing".into()),
                message: "No such subscription".into(),
            },
            (502, "provider_error"),
        ),
    ] {
        let store = active().await;
        let failing = Gateway {
            fail_with: Some(failure),
            ..Gateway::default()
        };
        let event = sample("change-plan.json");
        let (status, body, _) = call(&api(Arc::clone(&store), &failing), &event).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected.0, Some(expected.1))
        );
        let record = stored(&store).await;
        assert_eq!(record.revision, 1);
        assert_eq!(record.subscription.pending_change, None);
        // The answer was not kept: the same key runs again once the provider is back.
        let healthy = Gateway::default();
        let (status, _, replayed) = call(&api(Arc::clone(&store), &healthy), &event).await;
        assert_eq!((status, replayed), (202, false));
        assert_eq!(healthy.calls().changes.len(), 1);
    }
}

#[tokio::test]
async fn every_refusal_has_its_status_and_code_and_changes_nothing() {
    let change = |body: Value| with_body("change-plan.json", body);
    let cases: Vec<(Arc<MemoryStore>, Gateway, Value, u16, &str)> = vec![
        (
            Arc::new(MemoryStore::new()),
            Gateway::default(),
            sample("change-plan.json"),
            404,
            "no_subscription",
        ),
        (
            subscribed(SubscriptionStatus::PastDue, "pro", 1).await,
            Gateway::default(),
            sample("change-plan.json"),
            409,
            "subscription_not_active",
        ),
        (
            active().await,
            Gateway::default(),
            change(json!({"plan": "pro", "timing": "now"})),
            409,
            "same_plan",
        ),
        (
            active().await,
            Gateway::default(),
            change(json!({"plan": "team", "seats": 101, "timing": "now"})),
            409,
            "seats_out_of_range",
        ),
        (
            active().await,
            Gateway::default(),
            change(json!({"plan": "gold", "timing": "now"})),
            400,
            "unknown_plan",
        ),
        (
            active().await,
            Gateway::default(),
            change(json!({"plan": "free", "timing": "now"})),
            400,
            "free_plan",
        ),
        (
            active().await,
            Gateway::default(),
            change(json!({"plan": "team", "timing": "later"})),
            400,
            "invalid_request",
        ),
        (
            active().await,
            Gateway::default(),
            change(json!({"plan": "team", "timing": "now", "prorationDate": "soon"})),
            400,
            "invalid_request",
        ),
        (
            active().await,
            Gateway::default(),
            change(
                json!({"plan": "team", "timing": "period_end", "prorationDate": "2026-01-01T00:00:00Z"}),
            ),
            400,
            "invalid_request",
        ),
        (
            active().await,
            Gateway {
                capabilities: Capabilities {
                    interval_change: false,
                    ..Gateway::default().capabilities
                },
                ..Gateway::default()
            },
            change(json!({"plan": "pro-yearly", "timing": "now"})),
            400,
            "interval_change_not_supported",
        ),
        (
            active().await,
            Gateway {
                capabilities: Capabilities::default(),
                ..Gateway::default()
            },
            sample("change-plan.json"),
            409,
            "not_supported_by_provider",
        ),
        (
            active().await,
            Gateway {
                methods: vec!["pm_TestAcme01"],
                ..Gateway::default()
            },
            sample("remove-payment-method.json"),
            409,
            "last_payment_method",
        ),
        (
            active().await,
            Gateway {
                methods: vec!["pm_Other"],
                ..Gateway::default()
            },
            sample("set-default-payment-method.json"),
            404,
            "unknown_payment_method",
        ),
        (
            active().await,
            Gateway::default(),
            with_body(
                "setup-payment-method.json",
                json!({"returnUrl": "https://evil.example.net/"}),
            ),
            400,
            "redirect_not_allowed",
        ),
    ];
    for (store, gateway, event, status, code) in cases {
        let before = store.get_subscription(&tenant()).await.unwrap();
        let (got, body, _) = call(&api(Arc::clone(&store), &gateway), &event).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        {
            let calls = gateway.calls();
            assert!(
                calls.changes.is_empty()
                    && calls.defaults.is_empty()
                    && calls.removals.is_empty()
                    && calls.setups.is_empty(),
                "{code}: no change at the provider"
            );
        }
        assert_eq!(
            store.get_subscription(&tenant()).await.unwrap(),
            before,
            "{code}"
        );
    }
}

#[tokio::test]
async fn not_supported_names_the_operation() {
    let gateway = Gateway {
        capabilities: Capabilities {
            change_now: true,
            ..Capabilities::default()
        },
        ..Gateway::default()
    };
    let api = api(active().await, &gateway);
    let (_, body, _) = call(&api, &sample("preview-change.json")).await;
    assert_eq!(
        body["error"]["message"],
        "stripe does not support previewing a plan change"
    );
    let (_, body, _) = call(&api, &sample("list-payment-methods.json")).await;
    assert_eq!(
        body["error"]["message"],
        "stripe does not support payment methods"
    );
}

#[tokio::test]
async fn an_unknown_route_key_is_404() {
    let api = api(active().await, &Gateway::default());
    let mut event = sample("preview-change.json");
    event["routeKey"] = "POST /billing/subscription/pause".into();
    event["requestContext"]["routeKey"] = "POST /billing/subscription/pause".into();
    let (status, body, _) = call(&api, &event).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
