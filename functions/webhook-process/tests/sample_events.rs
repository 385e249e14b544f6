//! The sample SQS batch in events/webhook-process-batch.json: it must be
//! exactly what webhook-receive enqueues for the sample Stripe deliveries
//! (rewrite it with `UPDATE_EVENTS=1 cargo test -p webhook-process`), and
//! processing it must produce the lifecycle's final state.

use aws_lambda_events::event::sqs::SqsEvent;
use billing_domain::ports::WebhookVerifier;
use billing_domain::processing::ProcessingPolicy;
use billing_domain::UnixTime;
use billing_providers::stripe::StripeWebhooks;
use billing_providers::{SecretCache, SecretCachePolicy};
use billing_testkit::memory::{MemoryQueue, StaticSecrets};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use webhook_process::EventProcessor;
use webhook_receive::WebhookReceiver;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// The sample deliveries in lifecycle order (the batch keeps this order).
const DELIVERIES: &[&str] = &[
    "webhook-stripe-subscription-created.json",
    "webhook-stripe-invoice-paid.json",
    "webhook-stripe-subscription-updated.json",
    "webhook-stripe-checkout-session-completed.json",
    "webhook-stripe-invoice-payment-failed.json",
    "webhook-stripe-subscription-past-due.json",
    "webhook-stripe-subscription-deleted.json",
];

async fn expected_batch() -> Value {
    let queue = Arc::new(MemoryQueue::new());
    let verifiers: Vec<Box<dyn WebhookVerifier>> = vec![Box::new(StripeWebhooks::new())];
    let receiver = WebhookReceiver::new(
        queue.clone(),
        SecretCache::new(
            StaticSecrets::new(include_str!("../../../infra/dev-secrets.json")),
            SecretCachePolicy::default(),
        ),
        verifiers,
        billing_lambda::config::catalog().unwrap(),
    );
    let mut records = Vec::new();
    for (i, name) in DELIVERIES.iter().enumerate() {
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(events_dir().join(name)).unwrap())
                .unwrap();
        let header = event["headers"]["stripe-signature"].as_str().unwrap();
        let at: i64 = header.split(',').next().unwrap()[2..].parse().unwrap();
        let response = receiver
            .handle(
                lambda_http::request::from_str(&event.to_string()).unwrap(),
                UnixTime(at),
            )
            .await;
        assert_eq!(response.status(), 200, "{name}");
        let envelope = queue.drain().pop().unwrap();
        records.push(json!({
            "messageId": format!("00000000-0000-4000-8000-{:012}", i + 1),
            "receiptHandle": format!("sample-receipt-handle-{}", i + 1),
            "body": serde_json::to_string(&envelope).unwrap(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": (at * 1000).to_string(),
                "SenderId": "AROAEXAMPLE:webhook-receive",
                "ApproximateFirstReceiveTimestamp": (at * 1000 + 5).to_string()
            },
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:billing-dev-queue",
            "awsRegion": "us-east-1"
        }));
    }
    json!({ "Records": records })
}

#[tokio::test]
async fn the_sample_batch_is_what_webhook_receive_enqueues() {
    let expected = expected_batch().await;
    let path = events_dir().join("webhook-process-batch.json");
    if std::env::var_os("UPDATE_EVENTS").is_some() {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&expected).unwrap() + "\n",
        )
        .unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("events/webhook-process-batch.json missing: run UPDATE_EVENTS=1 cargo test -p webhook-process")).unwrap();
    assert_eq!(
        committed, expected,
        "stale sample batch: run UPDATE_EVENTS=1 cargo test -p webhook-process"
    );
}

#[tokio::test]
async fn processing_the_sample_batch_in_any_order_ends_canceled() {
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("webhook-process-batch.json")).unwrap(),
    )
    .unwrap();
    let records = committed["Records"].as_array().unwrap().clone();
    // In order, reversed, and duplicated: the same final record.
    let orders: Vec<Vec<Value>> = vec![
        records.clone(),
        records.iter().rev().cloned().collect(),
        records
            .iter()
            .chain(records.iter().rev())
            .cloned()
            .collect(),
    ];
    let mut finals = Vec::new();
    for order in orders {
        let store = Arc::new(billing_testkit::memory::MemoryStore::new());
        let processor = EventProcessor::new(
            store.clone(),
            ProcessingPolicy::default(),
            billing_lambda::config::invoicing().unwrap(),
        );
        let batch: SqsEvent = serde_json::from_value(json!({ "Records": order })).unwrap();
        let response = processor.handle(batch, UnixTime(1_770_000_000)).await;
        assert!(response.batch_item_failures.is_empty());
        let status_api =
            get_status::StatusApi::from_env(&billing_lambda::Env::from_pairs([]), store).unwrap();
        let request = lambda_http::request::from_str(
            &std::fs::read_to_string(events_dir().join("get-status.json")).unwrap(),
        )
        .unwrap();
        let response = status_api.handle(request, UnixTime(1_770_000_000)).await;
        let lambda_http::Body::Text(text) = response.body() else {
            panic!()
        };
        finals.push(serde_json::from_str::<Value>(text).unwrap());
    }
    assert_eq!(finals[0]["status"], "canceled");
    assert_eq!(finals[0]["access"], "none");
    assert!(finals.iter().all(|f| f == &finals[0]), "{finals:#?}");
}
