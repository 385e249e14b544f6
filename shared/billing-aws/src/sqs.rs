//! The SQS event queue between webhook-receive and webhook-process: sending a
//! verified envelope ([`SqsQueue`], the `EventQueue` port) and reading a
//! received message's body back into one ([`envelope_from_message_body`]).
//! [`SqsQueue::receive`] and [`SqsQueue::delete`] consume the queue the way
//! Lambda's event source mapping does, for the local server and for tools.
//!
//! The body is the envelope as JSON. Two message attributes, `provider` and
//! `event_id`, let an operator filter or inspect messages (in the DLQ, say)
//! without parsing bodies.

use crate::aws_error::{classify, describe, Retry};
use async_trait::async_trait;
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use aws_sdk_sqs::Client;
use billing_domain::ports::{EventQueue, QueueError};
use billing_domain::WebhookEnvelope;

/// Sends envelopes to one queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    max_message_bytes: usize,
}

impl SqsQueue {
    /// SQS's largest message: 1 MiB (256 KiB before August 2025), body and
    /// attributes together. A queue whose `MaximumMessageSize` is lower
    /// should say so with [`SqsQueue::with_max_message_bytes`]; SQS rejects
    /// the message anyway, as a permanent error.
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_576;

    /// `client` is built once per cold start; `queue_url` comes from the
    /// function's environment.
    /// A queue with its own client, built from the shared SDK configuration.
    pub fn from_config(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), queue_url)
    }

    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            max_message_bytes: Self::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Refuse, without a call, envelopes larger than the queue's own limit.
    pub fn with_max_message_bytes(mut self, max_message_bytes: usize) -> Self {
        self.max_message_bytes = max_message_bytes;
        self
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

/// SQS counts each attribute's name, data type and value towards the limit.
fn message_size(body: &str, attributes: &[(&str, &str)]) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, value)| name.len() + "String".len() + value.len())
            .sum::<usize>()
}

fn queue_error(
    err: &aws_sdk_sqs::error::SdkError<SendMessageError, aws_sdk_sqs::config::http::HttpResponse>,
) -> QueueError {
    let message = describe("SendMessage", err);
    let retry = match err.as_service_error() {
        Some(SendMessageError::RequestThrottled(_) | SendMessageError::KmsThrottled(_)) => {
            Retry::Transient
        }
        // The queue or its key is gone, disabled or not ours: configuration,
        // not weather.
        Some(
            SendMessageError::QueueDoesNotExist(_)
            | SendMessageError::InvalidAddress(_)
            | SendMessageError::InvalidSecurity(_)
            | SendMessageError::InvalidMessageContents(_)
            | SendMessageError::UnsupportedOperation(_)
            | SendMessageError::KmsAccessDenied(_)
            | SendMessageError::KmsDisabled(_)
            | SendMessageError::KmsInvalidKeyUsage(_)
            | SendMessageError::KmsInvalidState(_)
            | SendMessageError::KmsNotFound(_)
            | SendMessageError::KmsOptInRequired(_),
        ) => Retry::Permanent,
        _ => classify(err),
    };
    match retry {
        Retry::Transient => QueueError::Transient(message),
        Retry::Permanent => QueueError::Permanent(message),
    }
}

#[async_trait]
impl EventQueue for SqsQueue {
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError> {
        let body = serde_json::to_string(envelope)
            .map_err(|e| QueueError::Permanent(format!("envelope does not serialize: {e}")))?;
        let attributes = [
            ("provider", envelope.provider.as_str()),
            ("event_id", envelope.event_id.as_str()),
        ];
        let size = message_size(&body, &attributes);
        if size > self.max_message_bytes {
            // Retrying cannot shrink it; the provider's delivery is answered
            // with an error and the event is fetched by reconciliation.
            return Err(QueueError::Permanent(format!(
                "envelope of {} event {} is {size} bytes, over the queue's limit of {} bytes",
                envelope.provider, envelope.event_id, self.max_message_bytes
            )));
        }
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| {
                    QueueError::Permanent(format!("building message attribute {name}: {e}"))
                })?;
            request = request.message_attributes(name, value);
        }
        request.send().await.map_err(|e| queue_error(&e))?;
        Ok(())
    }
}

/// A message handed out by [`SqsQueue::receive`]; invisible to other
/// consumers until its visibility timeout passes or it is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// How often SQS has handed this message out, this time included.
    pub receive_count: u32,
    /// When SQS first accepted the message, in epoch milliseconds.
    pub sent_timestamp_ms: Option<u64>,
}

impl SqsQueue {
    /// Receives up to `max` (1 to 10) messages, waiting up to `wait_seconds`
    /// (long polling) for the first one.
    pub async fn receive(
        &self,
        max: i32,
        wait_seconds: i32,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| consumer_error("ReceiveMessage", &e))?;
        let mut received = Vec::new();
        for message in output.messages.unwrap_or_default() {
            let attribute = |name: MessageSystemAttributeName| {
                message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&name))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let (Some(message_id), Some(receipt_handle)) =
                (message.message_id.clone(), message.receipt_handle.clone())
            else {
                return Err(QueueError::Permanent(
                    "ReceiveMessage returned a message without id or receipt handle".into(),
                ));
            };
            received.push(ReceivedMessage {
                message_id,
                receipt_handle,
                body: message.body.clone().unwrap_or_default(),
                receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1),
                sent_timestamp_ms: attribute(MessageSystemAttributeName::SentTimestamp),
            });
        }
        Ok(received)
    }

    /// Removes a processed message. A stale receipt handle (the message was
    /// received again since) is an error from SQS, reported as permanent.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| consumer_error("DeleteMessage", &e))?;
        Ok(())
    }
}

fn consumer_error<E>(
    operation: &str,
    err: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> QueueError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = describe(operation, err);
    match classify(err) {
        Retry::Transient => QueueError::Transient(message),
        Retry::Permanent => QueueError::Permanent(message),
    }
}

/// Why a received message body is not an envelope this build can process.
/// None is retryable: the same body fails the same way, so the message goes
/// to the DLQ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeBodyError {
    #[error("message body is not JSON ({0})")]
    NotJson(String),
    #[error("envelope version {found} is not supported; this build reads version {supported}")]
    UnsupportedVersion { found: u64, supported: u32 },
    #[error("message body is not a webhook envelope: {0}")]
    Malformed(String),
}

impl EnvelopeBodyError {
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Reads an SQS message body written by [`SqsQueue::enqueue`]. The version is
/// checked before the shape, so a message from a newer writer is reported
/// as such rather than as malformed.
pub fn envelope_from_message_body(body: &str) -> Result<WebhookEnvelope, EnvelopeBodyError> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| {
        EnvelopeBodyError::NotJson(format!("line {} column {}", e.line(), e.column()))
    })?;
    let found = value
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| EnvelopeBodyError::Malformed("no numeric `version` field".into()))?;
    if found != u64::from(WebhookEnvelope::VERSION) {
        return Err(EnvelopeBodyError::UnsupportedVersion {
            found,
            supported: WebhookEnvelope::VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| EnvelopeBodyError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_json_bodies_and_other_versions_are_told_apart() {
        assert!(matches!(
            envelope_from_message_body("hello"),
            Err(EnvelopeBodyError::NotJson(_))
        ));
        assert_eq!(
            envelope_from_message_body(r#"{"version": 2, "whatever": true}"#),
            Err(EnvelopeBodyError::UnsupportedVersion {
                found: 2,
                supported: WebhookEnvelope::VERSION
            })
        );
        assert!(matches!(
            envelope_from_message_body(r#"{"version": 1}"#),
            Err(EnvelopeBodyError::Malformed(_))
        ));
        assert!(matches!(
            envelope_from_message_body("{}"),
            Err(EnvelopeBodyError::Malformed(_))
        ));
        assert!(!EnvelopeBodyError::NotJson(String::new()).is_retryable());
    }

    #[test]
    fn attributes_count_towards_the_message_size() {
        assert_eq!(
            message_size("abc", &[("provider", "stripe")]),
            3 + 8 + 6 + 6
        );
    }
}
