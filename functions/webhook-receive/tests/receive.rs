//! webhook-receive through its handler: every signed sample delivery in
//! events/ is accepted and queued, and every refusal answers with the right
//! status without losing the event (the provider retries anything non-2xx).

use billing_domain::ports::{QueueError, WebhookVerifier};
use billing_domain::{EventKind, UnixTime};
use billing_providers::stripe::{sign, StripeWebhooks};
use billing_providers::{SecretCache, SecretCachePolicy};
use billing_testkit::memory::{MemoryQueue, StaticSecrets};
use lambda_http::{Body, Request};
use serde_json::Value;
use std::sync::Arc;
use webhook_receive::{WebhookReceiver, MAX_BODY_BYTES};

const DEV_SECRETS: &str = include_str!("../../../infra/dev-secrets.json");
const OTHER_SECRET: &str =
    r#"{"stripe":{"apiKey":"sk_test_x","webhookSecrets":["whsec_some_other_secret"]}}"#;

fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn sample_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(events_dir().join(name)).unwrap()).unwrap()
}

/// The names of the files in events/ starting with `prefix`, sorted.
fn samples(prefix: &str) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Every `events/webhook-stripe-*.json`, by file name.
fn stripe_samples() -> Vec<String> {
    let names = samples("webhook-stripe-");
    assert!(names.len() >= 7, "sample deliveries missing: {names:?}");
    names
}

/// The signing time in the sample's `stripe-signature` header.
fn signed_at(event: &Value) -> UnixTime {
    let header = event["headers"]["stripe-signature"].as_str().unwrap();
    UnixTime(
        header
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap(),
    )
}

fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

type Receiver = WebhookReceiver<Arc<MemoryQueue>, Arc<StaticSecrets>>;

fn receiver(secrets: &str) -> (Receiver, Arc<MemoryQueue>, Arc<StaticSecrets>) {
    let queue = Arc::new(MemoryQueue::new());
    let source = Arc::new(StaticSecrets::new(secrets));
    let verifiers: Vec<Box<dyn WebhookVerifier>> = vec![Box::new(StripeWebhooks::new())];
    let catalog = billing_lambda::config::catalog().unwrap();
    let cache = SecretCache::new(source.clone(), SecretCachePolicy::default());
    (
        WebhookReceiver::new(queue.clone(), cache, verifiers, catalog),
        queue,
        source,
    )
}

async fn call(receiver: &Receiver, event: &Value, now: UnixTime) -> (u16, Value) {
    let response = receiver.handle(request(event), now).await;
    let Body::Text(text) = response.body() else {
        panic!("JSON text body")
    };
    (
        response.status().as_u16(),
        serde_json::from_str(text).unwrap(),
    )
}

#[tokio::test]
async fn every_signed_sample_delivery_is_accepted_and_handled_ones_are_queued() {
    let (receiver, queue, _) = receiver(DEV_SECRETS);
    for name in stripe_samples() {
        let event = sample_json(&name);
        let (status, body) = call(&receiver, &event, signed_at(&event)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["received"], true);
        let queued = queue.drain();
        if name.contains("unhandled") {
            assert!(
                queued.is_empty(),
                "{name}: unknown event types are acknowledged, not queued"
            );
        } else {
            assert_eq!(queued.len(), 1, "{name}");
            let envelope = &queued[0];
            assert_eq!(envelope.event_id, body["eventId"].as_str().unwrap());
            assert!(!matches!(envelope.event.kind, EventKind::Unknown));
            assert_eq!(
                envelope.request_id,
                event["requestContext"]["requestId"].as_str().unwrap()
            );
            // The audit copy is the signed body, byte for byte.
            let raw = request(&event);
            assert_eq!(
                envelope.raw_payload.as_bytes(),
                billing_lambda::request::raw_body(&raw)
            );
        }
    }
}

fn checkout_sample() -> Value {
    sample_json("webhook-stripe-checkout-session-completed.json")
}

#[tokio::test]
async fn a_tampered_body_is_refused_and_nothing_is_queued() {
    let (receiver, queue, _) = receiver(DEV_SECRETS);
    let mut event = checkout_sample();
    let now = signed_at(&event);
    event["body"] = event["body"]
        .as_str()
        .unwrap()
        .replace("org_acme", "org_evil")
        .into();
    let (status, body) = call(&receiver, &event, now).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_signature"))
    );
    assert!(queue.drain().is_empty());
}

#[tokio::test]
async fn stale_missing_and_malformed_signatures_are_400() {
    let (receiver, queue, _) = receiver(DEV_SECRETS);
    let event = checkout_sample();
    let now = signed_at(&event);
    let (status, body) = call(&receiver, &event, now.plus_seconds(301)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("stale_timestamp"))
    );

    let mut missing = event.clone();
    missing["headers"]
        .as_object_mut()
        .unwrap()
        .remove("stripe-signature");
    let (status, body) = call(&receiver, &missing, now).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("missing_signature"))
    );

    let mut garbage = event.clone();
    garbage["headers"]["stripe-signature"] = "nonsense".into();
    let (status, body) = call(&receiver, &garbage, now).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_signature"))
    );
    assert!(queue.drain().is_empty());
}

#[tokio::test]
async fn unknown_provider_is_404_and_oversized_body_is_413() {
    let (receiver, _, _) = receiver(DEV_SECRETS);
    let mut event = checkout_sample();
    let now = signed_at(&event);
    event["pathParameters"]["provider"] = "acme-pay".into();
    event["rawPath"] = "/billing/webhooks/acme-pay".into();
    let (status, body) = call(&receiver, &event, now).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_provider"))
    );

    let mut big = checkout_sample();
    big["isBase64Encoded"] = false.into();
    big["body"] = "x".repeat(MAX_BODY_BYTES + 1).into();
    let (status, _) = call(&receiver, &big, now).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn a_failed_enqueue_is_a_5xx_so_the_provider_retries() {
    let (receiver, queue, _) = receiver(DEV_SECRETS);
    let event = checkout_sample();
    for error in [
        QueueError::Transient("throttled".into()),
        QueueError::Permanent("access denied".into()),
    ] {
        queue.fail_with(Some(error));
        let (status, body) = call(&receiver, &event, signed_at(&event)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("enqueue_failed"))
        );
    }
    // The provider's retry succeeds once the queue is back.
    queue.fail_with(None);
    let (status, _) = call(&receiver, &event, signed_at(&event)).await;
    assert_eq!(status, 200);
    assert_eq!(queue.drain().len(), 1);
}

#[tokio::test]
async fn unreadable_secrets_are_503() {
    let (receiver, _, _) = receiver("not json");
    let event = checkout_sample();
    let (status, body) = call(&receiver, &event, signed_at(&event)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("secrets_unavailable"))
    );
}

#[tokio::test]
async fn a_secret_rotated_after_the_cache_filled_is_picked_up_before_refusing() {
    // The cache is filled with an old secret; the delivery is signed with the
    // development secret, which the store now holds.
    let (receiver, queue, source) = receiver(OTHER_SECRET);
    let event = checkout_sample();
    let now = signed_at(&event);
    let (status, _) = call(&receiver, &event, now).await;
    assert_eq!(status, 400, "signed with a secret we do not hold yet");
    source.replace(DEV_SECRETS);
    // Forced refreshes are rate limited (30 s), so a burst of forged
    // deliveries cannot hammer Secrets Manager: within the limit, still 400.
    let (status, _) = call(&receiver, &event, now.plus_seconds(5)).await;
    assert_eq!(status, 400);
    let (status, body) = call(&receiver, &event, now.plus_seconds(31)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(queue.drain().len(), 1);
}

#[tokio::test]
async fn a_delivery_signed_with_any_listed_secret_is_accepted() {
    let both = r#"{"stripe":{"apiKey":"k","webhookSecrets":["whsec_old_one","whsec_new_one"]}}"#;
    let (receiver, queue, _) = receiver(both);
    let mut event = checkout_sample();
    let now = signed_at(&event);
    let raw = request(&event);
    let body = billing_lambda::request::raw_body(&raw).to_vec();
    event["headers"]["stripe-signature"] = sign(
        &billing_domain::secrets::WebhookSecret::new("whsec_old_one"),
        now,
        &body,
    )
    .into();
    let (status, _) = call(&receiver, &event, now).await;
    assert_eq!(status, 200);
    assert_eq!(queue.drain().len(), 1);
}

/// Every `events/webhook-sandbox-*.json` and the time it was signed at.
fn sandbox_samples() -> Vec<(String, Value, UnixTime)> {
    let names = samples("webhook-sandbox-");
    assert!(
        names.len() >= 2,
        "sandbox sample deliveries missing: {names:?}"
    );
    names
        .into_iter()
        .map(|name| {
            let event = sample_json(&name);
            let at = sent_at(&event);
            (name, event, at)
        })
        .collect()
}

#[tokio::test]
async fn sandbox_samples_are_accepted_where_the_sandbox_is_enabled() {
    let queue = Arc::new(MemoryQueue::new());
    let verifiers: Vec<Box<dyn WebhookVerifier>> = vec![
        Box::new(StripeWebhooks::new()),
        Box::new(billing_providers::SandboxWebhooks::new()),
    ];
    let cache = SecretCache::new(
        Arc::new(StaticSecrets::new(DEV_SECRETS)),
        SecretCachePolicy::default(),
    );
    let receiver: Receiver = WebhookReceiver::new(
        queue.clone(),
        cache,
        verifiers,
        billing_lambda::config::catalog().unwrap(),
    );
    for (name, event, at) in sandbox_samples() {
        let (status, body) = call(&receiver, &event, at).await;
        assert_eq!(status, 200, "{name}: {body}");
        let queued = queue.drain();
        assert_eq!(queued.len(), 1, "{name}");
        assert_eq!(
            queued[0].event_id,
            event["headers"]["webhook-id"].as_str().unwrap(),
            "{name}: the webhook-id is the dedupe key"
        );
        assert_eq!(
            queued[0].event.tenant_hint.as_ref().map(|t| t.as_str()),
            Some("org_acme")
        );
    }
}

#[tokio::test]
async fn sandbox_deliveries_are_refused_where_the_sandbox_is_not_enabled() {
    let (receiver, queue, _) = receiver(DEV_SECRETS);
    for (name, event, at) in sandbox_samples() {
        let (status, body) = call(&receiver, &event, at).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("unknown_provider")),
            "{name}"
        );
    }
    assert!(queue.drain().is_empty());
}

/// A stand-in for PayPal's token and verify endpoints: SUCCESS exactly when
/// the postback names the development webhook id, as PayPal would answer
/// for a delivery signed for that webhook.
async fn fake_paypal() -> String {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/v1/oauth2/token",
            post(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"access_token":"A21AAF-local","token_type":"Bearer","expires_in":32400}"#,
                )
            }),
        )
        .route(
            "/v1/notifications/verify-webhook-signature",
            post(|body: String| async move {
                let request: Value = serde_json::from_str(&body).unwrap();
                let status = if request["webhook_id"] == "WH-LOCAL-DEVELOPMENT-ONLY" {
                    "SUCCESS"
                } else {
                    "FAILURE"
                };
                (
                    [("content-type", "application/json")],
                    format!(r#"{{"verification_status":"{status}"}}"#),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// When the sample says it was sent: each scheme's own timestamp header.
fn sent_at(event: &Value) -> UnixTime {
    let headers = &event["headers"];
    if let Some(seconds) = headers["webhook-timestamp"].as_str() {
        return UnixTime(seconds.parse().unwrap());
    }
    if let Some(paddle) = headers["paddle-signature"].as_str() {
        let ts = paddle.split(';').next().unwrap().trim_start_matches("ts=");
        return UnixTime(ts.parse().unwrap());
    }
    if let Some(millis) = headers["x-webhook-timestamp"].as_str() {
        return UnixTime(millis.parse::<i64>().unwrap() / 1000);
    }
    if let Some(time) = headers["paypal-transmission-time"].as_str() {
        return UnixTime(billing_providers::timestamps::rfc3339_seconds(time).unwrap());
    }
    // Razorpay signs no time.
    UnixTime(1_767_225_600)
}

/// The receiver as deployed (every provider's verifier, no sandbox) on the
/// development secrets, with PayPal's API at `paypal_api`.
fn deployed_receiver(paypal_api: &str) -> (Receiver, Arc<MemoryQueue>) {
    let mut secrets: Value = serde_json::from_str(DEV_SECRETS).unwrap();
    secrets["paypal"]["apiBase"] = paypal_api.into();
    let queue = Arc::new(MemoryQueue::new());
    let http = billing_providers::ApiClient::new(billing_providers::HttpConfig::default()).unwrap();
    let receiver = WebhookReceiver::new(
        queue.clone(),
        SecretCache::new(
            Arc::new(StaticSecrets::new(secrets.to_string())),
            SecretCachePolicy::default(),
        ),
        billing_providers::registry::verifiers(300, false, &http),
        billing_lambda::config::catalog().unwrap(),
    );
    (receiver, queue)
}

#[tokio::test]
async fn every_providers_sample_delivery_is_verified_and_queued() {
    let paypal_api = fake_paypal().await;
    let (receiver, queue) = deployed_receiver(&paypal_api);
    let mut seen = Vec::new();
    for provider in ["razorpay", "paypal", "cashfree", "paddle"] {
        let names = samples(&format!("webhook-{provider}-"));
        assert!(!names.is_empty(), "no sample delivery for {provider}");
        for name in names {
            let event = sample_json(&name);
            let (status, body) = call(&receiver, &event, sent_at(&event)).await;
            assert_eq!(status, 200, "{name}: {body}");
            let queued = queue.drain();
            assert_eq!(queued.len(), 1, "{name}");
            assert_eq!(queued[0].provider.as_str(), provider);
            assert_eq!(
                queued[0].event.tenant_hint.as_ref().map(|t| t.as_str()),
                Some("org_acme"),
                "{name}"
            );
            seen.push(provider);
        }
    }
    assert_eq!(seen.len(), 4);
}

#[tokio::test]
async fn a_signature_that_cannot_be_checked_now_is_a_503_and_nothing_is_queued() {
    // PayPal's API unreachable: a port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (receiver, queue) = deployed_receiver(&base);
    let event = sample_json("webhook-paypal-subscription-activated.json");
    let (status, body) = call(&receiver, &event, sent_at(&event)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("verifier_unavailable"))
    );
    assert!(queue.drain().is_empty());
}
