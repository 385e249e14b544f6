//! The embedded queue behaves like the SQS queue it stands in for: order,
//! visibility timeout, receipt handles, receive counts and the redrive to
//! the dead-letter table. Time is passed in, so no test sleeps.

use billing_domain::ports::EventQueue;
use billing_domain::{EventKind, Provider, ProviderEvent, UnixTime, WebhookEnvelope};
use billing_embedded::{EmbeddedDb, EmbeddedQueue, QueueConfig};
use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T0_SECONDS: u64 = 1_800_000_000;

fn at(seconds_after_t0: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0_SECONDS + seconds_after_t0)
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn queue(config: QueueConfig) -> EmbeddedQueue {
    EmbeddedDb::open_in_memory().unwrap().queue(config)
}

fn config(visibility_seconds: u64, max_receive_count: u32) -> QueueConfig {
    QueueConfig {
        visibility_timeout: Duration::from_secs(visibility_seconds),
        max_receive_count,
    }
}

fn envelope(event_id: &str) -> WebhookEnvelope {
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: event_id.to_owned(),
        event_type: "customer.tax_id.created".into(),
        occurred_at: UnixTime(1_700_000_000),
        tenant_hint: None,
        payment: None,
        kind: EventKind::Unknown,
    };
    WebhookEnvelope::new(
        event,
        format!(r#"{{"id":"{event_id}"}}"#),
        UnixTime(1_700_000_001),
        format!("req-{event_id}"),
    )
}

#[test]
fn default_config_is_thirty_seconds_and_five_receives() {
    assert_eq!(
        QueueConfig::default(),
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 5
        }
    );
}

#[tokio::test]
async fn enqueued_envelopes_are_received_oldest_first_as_their_json() {
    let queue = queue(QueueConfig::default());
    let sent: Vec<_> = ["evt_1", "evt_2", "evt_3"].map(envelope).into();
    let before = SystemTime::now();
    for e in &sent {
        queue.enqueue(e).await.unwrap();
    }

    let received = queue.receive(10, at(0)).await.unwrap();

    let bodies: Vec<WebhookEnvelope> = received
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    assert_eq!(bodies, sent);
    assert!(received.iter().all(|m| m.receive_count == 1));
    assert!(received.iter().all(|m| m.sent_at_ms >= millis(before)));
    let ids: HashSet<_> = received.iter().map(|m| &m.message_id).collect();
    let handles: HashSet<_> = received.iter().map(|m| &m.receipt_handle).collect();
    assert_eq!(
        (ids.len(), handles.len()),
        (3, 3),
        "ids and handles are unique"
    );
}

#[tokio::test]
async fn receive_hands_out_at_most_max_messages_and_the_rest_next_time() {
    let queue = queue(QueueConfig::default());
    for body in ["a", "b", "c"] {
        queue.send(body.into()).await.unwrap();
    }

    let first = queue.receive(2, at(0)).await.unwrap();
    let second = queue.receive(2, at(0)).await.unwrap();

    let bodies = |batch: &[billing_embedded::ReceivedMessage]| {
        batch.iter().map(|m| m.body.clone()).collect::<Vec<_>>()
    };
    assert_eq!(bodies(&first), ["a", "b"]);
    assert_eq!(bodies(&second), ["c"]);
    assert!(queue.receive(0, at(0)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_received_message_is_hidden_until_its_visibility_timeout_passes() {
    let queue = queue(config(30, 5));
    queue.send("body".into()).await.unwrap();
    let first = queue.receive(10, at(0)).await.unwrap();
    assert_eq!(first.len(), 1);

    assert!(queue.receive(10, at(29)).await.unwrap().is_empty());
    assert_eq!(queue.visible_count(at(29)).await, Ok(0));
    assert_eq!(queue.message_count().await, Ok(1), "still in flight");

    let again = queue.receive(10, at(30)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2, "each receive counts");
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
}

#[tokio::test]
async fn delete_with_the_latest_receipt_handle_removes_the_message() {
    let queue = queue(config(30, 5));
    queue.send("body".into()).await.unwrap();
    let received = queue.receive(10, at(0)).await.unwrap();

    assert_eq!(queue.delete(&received[0].receipt_handle).await, Ok(true));

    assert_eq!(queue.message_count().await, Ok(0));
    assert!(queue.receive(10, at(60)).await.unwrap().is_empty());
    assert_eq!(
        queue.delete(&received[0].receipt_handle).await,
        Ok(false),
        "a second delete finds nothing"
    );
}

#[tokio::test]
async fn delete_with_a_stale_receipt_handle_returns_false_and_keeps_the_message() {
    let queue = queue(config(30, 5));
    queue.send("body".into()).await.unwrap();
    let stale = queue.receive(10, at(0)).await.unwrap().remove(0);
    let latest = queue.receive(10, at(30)).await.unwrap().remove(0);

    assert_eq!(queue.delete(&stale.receipt_handle).await, Ok(false));
    assert_eq!(queue.message_count().await, Ok(1));

    assert_eq!(queue.delete(&latest.receipt_handle).await, Ok(true));
    assert_eq!(queue.message_count().await, Ok(0));
}

#[tokio::test]
async fn delete_with_an_unknown_handle_returns_false() {
    let queue = queue(QueueConfig::default());
    queue.send("body".into()).await.unwrap();
    assert_eq!(queue.delete("no-such-handle").await, Ok(false));
    assert_eq!(queue.message_count().await, Ok(1));
}

#[tokio::test]
async fn the_latest_handle_still_deletes_after_the_timeout_if_nobody_received_it_again() {
    let queue = queue(config(30, 5));
    queue.send("body".into()).await.unwrap();
    let received = queue.receive(10, at(0)).await.unwrap().remove(0);
    assert_eq!(queue.visible_count(at(45)).await, Ok(1));
    assert_eq!(queue.delete(&received.receipt_handle).await, Ok(true));
}

#[tokio::test]
async fn a_message_received_max_receive_count_times_moves_to_the_dead_letter_table() {
    let queue = queue(config(10, 3));
    let message_id = queue.send("poison".into()).await.unwrap();
    let mut last = None;
    for (i, seconds) in [0, 10, 20].into_iter().enumerate() {
        let batch = queue.receive(10, at(seconds)).await.unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].receive_count, i as u32 + 1);
        last = Some(batch[0].clone());
    }

    // The fourth receive finds it exhausted: redriven, not handed out.
    assert!(queue.receive(10, at(30)).await.unwrap().is_empty());

    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, message_id);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].receive_count, 3);
    assert_eq!(dead[0].dead_lettered_at_ms, millis(at(30)));
    assert_eq!(queue.message_count().await, Ok(0));
    let last = last.unwrap();
    assert_eq!(
        queue.delete(&last.receipt_handle).await,
        Ok(false),
        "a dead letter cannot be deleted through its old handle"
    );
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
}

#[tokio::test]
async fn dead_lettering_does_not_use_up_the_receive_batch() {
    let queue = queue(config(10, 1));
    queue.send("exhausted".into()).await.unwrap();
    assert_eq!(queue.receive(1, at(0)).await.unwrap().len(), 1);
    queue.send("fresh".into()).await.unwrap();

    let batch = queue.receive(1, at(10)).await.unwrap();

    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].body, "fresh");
    assert_eq!(queue.dead_letters().await.unwrap()[0].body, "exhausted");
}

#[tokio::test]
async fn a_zero_max_receive_count_is_read_as_one() {
    let queue = queue(config(10, 0));
    queue.send("body".into()).await.unwrap();
    assert_eq!(queue.receive(10, at(0)).await.unwrap().len(), 1);
    assert!(queue.receive(10, at(10)).await.unwrap().is_empty());
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
}

#[tokio::test]
async fn redrive_returns_dead_letters_to_their_place_with_a_fresh_count() {
    let queue = queue(config(10, 1));
    queue.send("first".into()).await.unwrap();
    queue.receive(10, at(0)).await.unwrap();
    queue.send("second".into()).await.unwrap();
    assert_eq!(queue.receive(1, at(10)).await.unwrap()[0].body, "second");
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);

    assert_eq!(queue.redrive_dead_letters().await, Ok(1));

    assert!(queue.dead_letters().await.unwrap().is_empty());
    let batch = queue.receive(10, at(11)).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].body, "first");
    assert_eq!(batch[0].receive_count, 1);
    assert_eq!(queue.redrive_dead_letters().await, Ok(0));
}

#[tokio::test]
async fn visible_count_counts_only_messages_receivable_now() {
    let queue = queue(config(30, 5));
    for body in ["a", "b", "c"] {
        queue.send(body.into()).await.unwrap();
    }
    queue.receive(1, at(0)).await.unwrap();
    assert_eq!(queue.visible_count(at(0)).await, Ok(2));
    assert_eq!(queue.visible_count(at(30)).await, Ok(3));
    assert_eq!(queue.message_count().await, Ok(3));
}

#[tokio::test]
async fn concurrent_senders_lose_no_message() {
    let queue = queue(QueueConfig::default());
    let mut tasks = Vec::new();
    for task in 0..4 {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                queue.send(format!("{task}-{i}")).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let received = queue.receive(100, at(0)).await.unwrap();
    assert_eq!(received.len(), 40);
    for task in 0..4 {
        let own: Vec<_> = received
            .iter()
            .filter(|m| m.body.starts_with(&format!("{task}-")))
            .map(|m| m.body.clone())
            .collect();
        let sent: Vec<_> = (0..10).map(|i| format!("{task}-{i}")).collect();
        assert_eq!(own, sent, "each sender's messages keep their order");
    }
}

#[tokio::test]
async fn receive_now_uses_the_system_clock() {
    let queue = queue(config(3_600, 5));
    queue.send("body".into()).await.unwrap();
    assert_eq!(queue.receive_now(10).await.unwrap().len(), 1);
    assert!(
        queue.receive_now(10).await.unwrap().is_empty(),
        "hidden for an hour"
    );
    assert_eq!(
        queue
            .visible_count(SystemTime::now() + Duration::from_secs(3_601))
            .await,
        Ok(1)
    );
}
