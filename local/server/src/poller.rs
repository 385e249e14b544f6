//! The local event source mapping: polls the queue (embedded or SQS), hands
//! each batch to webhook-process as the `SqsEvent` Lambda would deliver, and
//! deletes the messages the handler did not report as failed. Failed ones
//! come back after their visibility timeout and, after the queue's receive
//! limit, move to its dead-letter queue, as in AWS.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use billing_domain::ports::{EventLedger, QueueError};
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webhook_process::EventProcessor;

/// One message as received from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
    pub sent_timestamp_ms: u64,
}

/// The consuming side of a queue.
#[async_trait]
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` messages, made invisible to further receives for a while.
    async fn receive(&self, max: usize) -> Result<Vec<QueuedMessage>, QueueError>;
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
}

#[async_trait]
impl QueueConsumer for billing_aws::SqsQueue {
    async fn receive(&self, max: usize) -> Result<Vec<QueuedMessage>, QueueError> {
        // A short long-poll: an idle local server makes one call a second.
        let max = i32::try_from(max).unwrap_or(10);
        Ok(billing_aws::SqsQueue::receive(self, max, 1)
            .await?
            .into_iter()
            .map(|m| QueuedMessage {
                message_id: m.message_id,
                receipt_handle: m.receipt_handle,
                body: m.body,
                receive_count: m.receive_count,
                sent_timestamp_ms: m.sent_timestamp_ms.unwrap_or(0),
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        billing_aws::SqsQueue::delete(self, receipt_handle).await
    }
}

#[async_trait]
impl QueueConsumer for billing_embedded::EmbeddedQueue {
    async fn receive(&self, max: usize) -> Result<Vec<QueuedMessage>, QueueError> {
        Ok(self
            .receive_now(max)
            .await?
            .into_iter()
            .map(|m| QueuedMessage {
                message_id: m.message_id,
                receipt_handle: m.receipt_handle,
                body: m.body,
                receive_count: m.receive_count,
                sent_timestamp_ms: m.sent_at_ms,
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        if !billing_embedded::EmbeddedQueue::delete(self, receipt_handle).await? {
            return Err(QueueError::Permanent(
                "receipt handle is stale: the message was received again".into(),
            ));
        }
        Ok(())
    }
}

/// The SQS event Lambda would build for these messages.
pub fn sqs_event(messages: &[QueuedMessage], queue_arn: &str) -> Result<SqsEvent, String> {
    let records: Vec<_> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent_timestamp_ms.to_string(),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": m.sent_timestamp_ms.to_string(),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).map_err(|e| e.to_string())
}

/// Polling settings; the template's batch size is 10.
#[derive(Debug, Clone, Copy)]
pub struct PollerConfig {
    pub batch_size: usize,
    /// The pause after an empty receive or a queue error.
    pub idle_wait: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            idle_wait: Duration::from_millis(100),
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn run<L: EventLedger>(
    consumer: Arc<dyn QueueConsumer>,
    processor: Arc<EventProcessor<L>>,
    config: PollerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let busy = match poll_once(consumer.as_ref(), &processor, config.batch_size).await {
            Ok(handled) => handled > 0,
            Err(e) => {
                tracing::error!(error = %e, retryable = e.is_retryable(), "polling the event queue failed");
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(config.idle_wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// One receive-process-delete round; returns how many messages it handled.
pub async fn poll_once<L: EventLedger>(
    consumer: &dyn QueueConsumer,
    processor: &EventProcessor<L>,
    batch_size: usize,
) -> Result<usize, QueueError> {
    let messages = consumer.receive(batch_size).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    let event = sqs_event(
        &messages,
        "arn:aws:sqs:us-east-1:000000000000:billing-local",
    )
    .map_err(QueueError::Permanent)?;
    let response = processor.handle(event, billing_lambda::clock::now()).await;
    let failed: HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for message in &messages {
        if failed.contains(message.message_id.as_str()) {
            continue;
        }
        if let Err(e) = consumer.delete(&message.receipt_handle).await {
            // Not deleting only means processing it again: a duplicate the
            // ledger recognises.
            tracing::warn!(message_id = %message.message_id, error = %e, "deleting a processed message failed");
        }
    }
    Ok(messages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_the_sqs_event_lambda_would_deliver() {
        let message = QueuedMessage {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body: "{}".into(),
            receive_count: 3,
            sent_timestamp_ms: 1_800_000_000_000,
        };
        let event = sqs_event(&[message], "arn:aws:sqs:us-east-1:000000000000:q").unwrap();
        let record = &event.records[0];
        assert_eq!(record.message_id.as_deref(), Some("m-1"));
        assert_eq!(record.receipt_handle.as_deref(), Some("r-1"));
        assert_eq!(record.body.as_deref(), Some("{}"));
        assert_eq!(record.attributes["ApproximateReceiveCount"], "3");
    }
}
