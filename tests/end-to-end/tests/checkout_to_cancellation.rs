//! The whole flow through the four handlers on moto: create a checkout
//! session (Stripe API stubbed locally), receive signed Stripe webhooks into
//! SQS, process the queued batch into DynamoDB, read the status. Then the same
//! deliveries duplicated and shuffled, processed concurrently, must end in the
//! same state; and a deletion ends in canceled with no access.

use aws_config::{Region, SdkConfig};
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::config::Credentials;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use billing_aws::{create_table, DynamoStore, SecretsManagerSource, SqsQueue};
use billing_domain::ports::{CustomerRegistry, WebhookVerifier};
use billing_domain::processing::ProcessingPolicy;
use billing_domain::{Provider, TenantId, UnixTime};
use billing_lambda::Env;
use billing_providers::{ApiClient, HttpConfig, StripeGateway, StripeWebhooks};
use billing_providers::{SecretCache, SecretCachePolicy};
use create_session::SessionApi;
use get_status::StatusApi;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use webhook_process::EventProcessor;
use webhook_receive::WebhookReceiver;

const ENDPOINT_VAR: &str = "BILLING_TEST_AWS_ENDPOINT";
const API_KEY: &str = "sk_test_e2e_key";
const CUSTOMER: &str = "cus_TestAcme01";

fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| {
            panic!("{ENDPOINT_VAR} is not set: run `scripts/test`, which starts moto and sets it")
        })
}

async fn sdk() -> SdkConfig {
    billing_aws::sdk_config_loader()
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn sample(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(events_dir().join(name)).unwrap()).unwrap()
}

fn signed_at(event: &Value) -> UnixTime {
    let header = event["headers"]["stripe-signature"].as_str().unwrap();
    UnixTime(header.split(',').next().unwrap()[2..].parse().unwrap())
}

fn request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn json_body(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    let lambda_http::Body::Text(text) = response.body() else {
        panic!("JSON text body")
    };
    serde_json::from_str(text).unwrap()
}

// ---------- A local Stripe API that checks what Stripe documents ----------

/// One request the stub accepted: which endpoint, and its form fields.
type StubCall = (String, HashMap<String, String>);

#[derive(Clone, Default)]
struct StripeStub {
    calls: Arc<Mutex<Vec<StubCall>>>,
}

fn check_auth(headers: &HeaderMap) -> Result<(), StatusCode> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = headers.get("content-type").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {API_KEY}"))
        || key.is_empty()
        || form != Some("application/x-www-form-urlencoded")
    {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(())
}

async fn customers(
    State(stub): State<StripeStub>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    check_auth(&headers)?;
    assert_eq!(
        form.get("metadata[tenant_id]").map(String::as_str),
        Some("org_acme")
    );
    stub.calls.lock().unwrap().push(("customers".into(), form));
    Ok(Json(json!({"id": CUSTOMER, "object": "customer"})))
}

async fn checkout_sessions(
    State(stub): State<StripeStub>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    check_auth(&headers)?;
    for (field, value) in [
        ("mode", "subscription"),
        ("customer", CUSTOMER),
        ("line_items[0][price]", "price_pro_monthly"),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", "org_acme"),
        ("subscription_data[metadata][tenant_id]", "org_acme"),
        ("success_url", "https://app.example.com/billing/success"),
        ("cancel_url", "https://app.example.com/billing"),
    ] {
        assert_eq!(
            form.get(field).map(String::as_str),
            Some(value),
            "checkout field {field}"
        );
    }
    stub.calls.lock().unwrap().push(("checkout".into(), form));
    Ok(Json(
        json!({"id": "cs_test_a1TestAcme01", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_a1TestAcme01"}),
    ))
}

async fn start_stripe_stub() -> (String, StripeStub) {
    let stub = StripeStub::default();
    let app = Router::new()
        .route("/v1/customers", post(customers))
        .route("/v1/checkout/sessions", post(checkout_sessions))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), stub)
}

// ---------- The deployed system, on moto ----------

struct System {
    sdk: SdkConfig,
    table: String,
    queue_url: String,
    secret_id: String,
}

impl System {
    async fn provision() -> Self {
        let sdk = sdk().await;
        let table = unique("billing-e2e");
        create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .unwrap();
        let queue_url = aws_sdk_sqs::Client::new(&sdk)
            .create_queue()
            .queue_name(unique("billing-e2e-queue"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let secret_id = unique("billing-e2e/providers");
        let dev: Value =
            serde_json::from_str(include_str!("../../../infra/dev-secrets.json")).unwrap();
        let secret = json!({"stripe": {"apiKey": API_KEY, "webhookSecrets": dev["stripe"]["webhookSecrets"]}});
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(&secret_id)
            .secret_string(secret.to_string())
            .send()
            .await
            .unwrap();
        Self {
            sdk,
            table,
            queue_url,
            secret_id,
        }
    }

    fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.table)
    }

    fn receiver(&self) -> WebhookReceiver<SqsQueue, SecretsManagerSource> {
        let verifiers: Vec<Box<dyn WebhookVerifier>> = vec![Box::new(StripeWebhooks::new())];
        WebhookReceiver::new(
            SqsQueue::new(aws_sdk_sqs::Client::new(&self.sdk), &self.queue_url),
            SecretCache::new(
                SecretsManagerSource::new(
                    aws_sdk_secretsmanager::Client::new(&self.sdk),
                    &self.secret_id,
                ),
                SecretCachePolicy::default(),
            ),
            verifiers,
            billing_lambda::config::catalog().unwrap(),
        )
    }

    fn status_api(&self) -> StatusApi<DynamoStore> {
        StatusApi::from_env(&Env::from_pairs([]), self.store()).unwrap()
    }

    /// Posts each sample delivery to webhook-receive; all must be accepted.
    async fn deliver(&self, names: &[&str]) {
        let receiver = self.receiver();
        for name in names {
            let event = sample(name);
            let response = receiver.handle(request(&event), signed_at(&event)).await;
            assert_eq!(response.status(), 200, "{name}: {}", json_body(&response));
        }
    }

    /// Drains the queue the way the Lambda SQS poller would, in batches of
    /// up to 10, deleting only what the processor did not report as failed.
    async fn drain_queue(&self, batches_in_parallel: bool) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut batches = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            batches.push(messages);
        }
        assert!(!batches.is_empty(), "nothing was queued");
        let processor = EventProcessor::new(
            self.store(),
            ProcessingPolicy::default(),
            billing_lambda::config::invoicing().unwrap(),
        );
        let run = |messages: Vec<aws_sdk_sqs::types::Message>| {
            let processor = &processor;
            let sqs = sqs.clone();
            let queue_url = self.queue_url.clone();
            async move {
                let records: Vec<Value> = messages
                    .iter()
                    .map(|m| json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(), "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}}))
                    .collect();
                let event: SqsEvent = serde_json::from_value(json!({"Records": records})).unwrap();
                let response = processor.handle(event, UnixTime(1_770_000_000)).await;
                assert!(
                    response.batch_item_failures.is_empty(),
                    "failures: {:?}",
                    response
                        .batch_item_failures
                        .iter()
                        .map(|f| &f.item_identifier)
                        .collect::<Vec<_>>()
                );
                for m in &messages {
                    sqs.delete_message()
                        .queue_url(&queue_url)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
        };
        if batches_in_parallel {
            let runs: Vec<_> = batches.into_iter().map(run).collect();
            for_all(runs).await;
        } else {
            for messages in batches {
                run(messages).await;
            }
        }
    }

    async fn status(&self, now: i64) -> Value {
        let response = self
            .status_api()
            .handle(request(&sample("get-status.json")), UnixTime(now))
            .await;
        assert_eq!(response.status(), 200);
        json_body(&response)
    }
}

/// Runs futures concurrently on this task (no 'static bound needed).
async fn for_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

const LIFECYCLE: &[&str] = &[
    "webhook-stripe-checkout-session-completed.json",
    "webhook-stripe-subscription-created.json",
    "webhook-stripe-subscription-updated.json",
    "webhook-stripe-invoice-paid.json",
];

/// Before the renewal in the samples, so the subscription is current.
const DURING_FIRST_PERIOD: i64 = 1_767_225_600 + 86_400;

#[tokio::test]
async fn checkout_webhooks_and_status_through_all_four_handlers() {
    let system = System::provision().await;
    let (stripe_url, stub) = start_stripe_stub().await;

    // 1. create-session, against the local Stripe stub.
    let env = Env::from_pairs([("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com")]);
    let gateway = StripeGateway::new(API_KEY, ApiClient::new(HttpConfig::default()).unwrap())
        .with_base_url(stripe_url);
    let sessions = SessionApi::from_env(&env, system.store(), vec![Box::new(gateway)]).unwrap();
    let response = sessions
        .handle(
            request(&sample("create-session.json")),
            UnixTime(1_770_000_000),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", json_body(&response));
    assert_eq!(
        json_body(&response)["sessionUrl"],
        "https://checkout.stripe.com/c/pay/cs_test_a1TestAcme01"
    );
    let tenant = TenantId::parse("org_acme").unwrap();
    assert_eq!(
        system
            .store()
            .customer_id(&tenant, Provider::Stripe)
            .await
            .unwrap()
            .as_deref(),
        Some(CUSTOMER),
        "customer persisted before checkout"
    );

    // Before any webhook the tenant is on the free plan.
    assert_eq!(system.status(DURING_FIRST_PERIOD).await["status"], "none");

    // 2-3. Signed webhooks in, queue drained, status active with full access.
    system.deliver(LIFECYCLE).await;
    system.drain_queue(false).await;
    let active = system.status(DURING_FIRST_PERIOD).await;
    assert_eq!(active["status"], "active", "{active}");
    assert_eq!(active["access"], "full");
    assert_eq!(active["plan"], "pro");
    assert_eq!(active["currentPeriodEnd"], "2026-02-01T00:00:00Z");

    // A second checkout for the now-subscribed tenant is refused and Stripe is not called again.
    let calls_before = stub.calls.lock().unwrap().len();
    let response = sessions
        .handle(
            request(&sample("create-session.json")),
            UnixTime(1_770_000_000),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(stub.calls.lock().unwrap().len(), calls_before);

    // 4. Same deliveries on a fresh system, each twice, shuffled, batches processed concurrently.
    let replay = System::provision().await;
    let shuffled: Vec<&str> = [3, 1, 0, 2, 2, 0, 3, 1]
        .iter()
        .map(|&i| LIFECYCLE[i])
        .collect();
    replay.deliver(&shuffled).await;
    replay.drain_queue(true).await;
    let replayed = replay.status(DURING_FIRST_PERIOD).await;
    assert_eq!(
        replayed, active,
        "duplicated and shuffled delivery converges on the in-order state"
    );

    // Redelivering everything again changes nothing.
    system.deliver(LIFECYCLE).await;
    system.drain_queue(false).await;
    assert_eq!(system.status(DURING_FIRST_PERIOD).await, active);

    // 5. Deletion: canceled, no access, free entitlements.
    system
        .deliver(&["webhook-stripe-subscription-deleted.json"])
        .await;
    system.drain_queue(false).await;
    let canceled = system.status(1_770_000_000).await;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["access"], "none");
    assert_eq!(canceled["entitlements"]["projects"], 1);
}

#[tokio::test]
async fn failed_renewal_gives_grace_then_no_access() {
    let system = System::provision().await;
    system.deliver(LIFECYCLE).await;
    system
        .deliver(&[
            "webhook-stripe-invoice-payment-failed.json",
            "webhook-stripe-subscription-past-due.json",
        ])
        .await;
    system.drain_queue(false).await;
    // The renewal invoice was created at 2026-02-01T00:00:00Z.
    let renewal = 1_767_225_600 + 31 * 86_400;
    let in_grace = system.status(renewal + 86_400).await;
    assert_eq!(
        (in_grace["status"].as_str(), in_grace["access"].as_str()),
        (Some("past_due"), Some("grace"))
    );
    assert_eq!(in_grace["graceEndsAt"], "2026-02-08T00:00:00Z");
    let after = system.status(renewal + 7 * 86_400).await;
    assert_eq!(after["access"], "none");
}
