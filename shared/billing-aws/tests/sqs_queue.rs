//! SqsQueue over moto: what webhook-receive sends is what webhook-process
//! reads back, sizes and missing queues fail permanently, a message that
//! keeps failing ends in the dead-letter queue, and the consumer side
//! (receive, delete) behaves like Lambda's event source.

mod common;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use billing_aws::{envelope_from_message_body, SqsQueue};
use billing_domain::event::{EventKind, InvoiceDetails, ProviderEvent};
use billing_domain::ports::{EventQueue, QueueError};
use billing_domain::{Money, Provider, TenantId, UnixTime, WebhookEnvelope};
use billing_testkit::store_contract::Seed;

fn envelope(raw_payload: String) -> WebhookEnvelope {
    let seed = Seed::unique();
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: seed.id("evt", "q"),
        event_type: "invoice.paid".into(),
        occurred_at: UnixTime(1_750_000_000),
        tenant_hint: Some(TenantId::parse("org_42").unwrap()),
        payment: None,
        kind: EventKind::InvoicePaid(InvoiceDetails {
            invoice_id: "in_1".into(),
            customer_id: Some("cus_1".into()),
            subscription_id: Some("sub_1".into()),
            created: UnixTime(1_749_999_000),
            amount_due: Money::new(1_999, "usd"),
            amount_paid: Money::new(1_999, "usd"),
            attempt_count: 1,
        }),
    };
    WebhookEnvelope::new(event, raw_payload, UnixTime(1_750_000_001), "req-7".into())
}

async fn create_queue(client: &aws_sdk_sqs::Client, name: &str) -> String {
    let created = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create_queue");
    created.queue_url().expect("queue url").to_owned()
}

async fn receive(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<aws_sdk_sqs::types::Message> {
    client
        .receive_message()
        .queue_url(queue_url)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .max_number_of_messages(10)
        // Visible again at once, as if the consumer had failed.
        .visibility_timeout(0)
        .send()
        .await
        .expect("receive_message")
        .messages
        .unwrap_or_default()
}

#[tokio::test]
async fn sent_envelope_is_received_and_parsed_back_identical() {
    let client = common::sqs().await;
    let queue_url = create_queue(&client, &common::unique_name("billing-events")).await;
    let sent = envelope(r#"{"id":"evt_1","object":"event","note":"ünïcödé ✓"}"#.into());

    SqsQueue::new(client.clone(), &queue_url)
        .enqueue(&sent)
        .await
        .expect("enqueue");

    let messages = receive(&client, &queue_url).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let received = envelope_from_message_body(message.body().expect("body")).expect("parse");
    assert_eq!(received, sent);
    let attributes = message.message_attributes().expect("message attributes");
    assert_eq!(attributes["provider"].string_value(), Some("stripe"));
    assert_eq!(
        attributes["event_id"].string_value(),
        Some(sent.event_id.as_str())
    );
}

#[tokio::test]
async fn oversized_envelope_is_refused_permanently_without_sending() {
    let client = common::sqs().await;
    let queue_url = create_queue(&client, &common::unique_name("billing-events")).await;
    let huge = envelope("x".repeat(SqsQueue::DEFAULT_MAX_MESSAGE_BYTES));

    let result = SqsQueue::new(client.clone(), &queue_url)
        .enqueue(&huge)
        .await;

    assert!(
        matches!(&result, Err(QueueError::Permanent(m)) if m.contains("over the queue's limit")),
        "got {result:?}"
    );
    assert!(receive(&client, &queue_url).await.is_empty());
}

#[tokio::test]
async fn queue_with_a_lower_size_limit_refuses_permanently() {
    let client = common::sqs().await;
    let created = client
        .create_queue()
        .queue_name(common::unique_name("billing-small"))
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .expect("create_queue");
    let queue_url = created.queue_url().unwrap();
    let result = SqsQueue::new(client.clone(), queue_url)
        .enqueue(&envelope("y".repeat(2_000)))
        .await;
    // SQS itself refuses it (this adapter was not told the lower limit).
    assert!(
        matches!(&result, Err(QueueError::Permanent(m)) if !m.contains("over the queue's limit")),
        "got {result:?}"
    );
}

#[tokio::test]
async fn missing_queue_is_a_permanent_error() {
    let client = common::sqs().await;
    let queue_url = format!(
        "{}/123456789012/{}",
        common::endpoint(),
        common::unique_name("no-such-queue")
    );
    let result = SqsQueue::new(client, queue_url)
        .enqueue(&envelope("{}".into()))
        .await;
    assert!(
        matches!(&result, Err(QueueError::Permanent(_))),
        "got {result:?}"
    );
}

#[tokio::test]
async fn unreachable_queue_endpoint_is_a_transient_error() {
    let config = common::sdk_config_for(common::UNREACHABLE_ENDPOINT).await;
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&config),
        "http://127.0.0.1:9/123456789012/q",
    );
    let result = queue.enqueue(&envelope("{}".into())).await;
    assert!(
        matches!(&result, Err(e) if e.is_retryable()),
        "got {result:?}"
    );
}

#[tokio::test]
async fn message_received_twice_without_delete_moves_to_the_dead_letter_queue() {
    let client = common::sqs().await;
    let dlq_url = create_queue(&client, &common::unique_name("billing-events-dlq")).await;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("get_queue_attributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("dlq arn");
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let queue_url = client
        .create_queue()
        .queue_name(common::unique_name("billing-events"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .expect("create_queue")
        .queue_url
        .expect("queue url");
    let sent = envelope("{}".into());
    SqsQueue::new(client.clone(), &queue_url)
        .enqueue(&sent)
        .await
        .expect("enqueue");

    // Two failed processing attempts: received, never deleted.
    for attempt in 1..=2 {
        let messages = receive(&client, &queue_url).await;
        assert_eq!(messages.len(), 1, "attempt {attempt}");
    }
    // The third receive finds the redrive limit reached.
    assert!(receive(&client, &queue_url).await.is_empty());
    let dead = receive(&client, &dlq_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        envelope_from_message_body(dead[0].body().unwrap()).unwrap(),
        sent
    );
}

#[tokio::test]
async fn received_messages_carry_their_receive_count_and_deleted_ones_are_gone() {
    let client = common::sqs().await;
    let queue_url = client
        .create_queue()
        .queue_name(common::unique_name("billing-events"))
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .expect("create_queue")
        .queue_url
        .expect("queue url");
    let queue = SqsQueue::new(client.clone(), &queue_url);
    let sent = envelope("{}".into());
    queue.enqueue(&sent).await.expect("enqueue");

    let first = queue.receive(10, 0).await.expect("receive");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(first[0].sent_timestamp_ms.is_some());
    assert_eq!(envelope_from_message_body(&first[0].body).unwrap(), sent);

    // Visibility timeout 0: handed out again, counted again.
    let second = queue.receive(10, 0).await.expect("receive");
    assert_eq!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].receive_count, 2);

    queue
        .delete(&second[0].receipt_handle)
        .await
        .expect("delete");
    assert!(queue.receive(10, 0).await.expect("receive").is_empty());
}

#[tokio::test]
async fn receiving_from_a_missing_queue_is_a_permanent_error() {
    let client = common::sqs().await;
    let queue_url = format!(
        "{}/123456789012/{}",
        common::endpoint(),
        common::unique_name("no-such-queue")
    );
    let result = SqsQueue::new(client, queue_url).receive(1, 0).await;
    assert!(
        matches!(&result, Err(QueueError::Permanent(_))),
        "got {result:?}"
    );
}
