//! The embedded event queue: a stand-in for the SQS standard queue between
//! webhook-receive and webhook-process, durable in the shared file.
//!
//! webhook-receive enqueues through the `EventQueue` port; the local server's
//! poller plays Lambda's SQS event source mapping with [`EmbeddedQueue::receive`]
//! and [`EmbeddedQueue::delete`]. As in SQS:
//!
//! - a received message is invisible for the visibility timeout, then is
//!   received again unless it was deleted;
//! - every receive counts and hands out a fresh receipt handle; only the
//!   latest handle deletes the message;
//! - a message received `max_receive_count` times is moved to the
//!   dead-letter table instead of being received again (the redrive policy).
//!
//! Messages are handed out oldest first (by a sequence number taken at
//! enqueue), a little stricter than SQS's best-effort order.
//!
//! # Tables
//!
//! | table                | key            | value                         |
//! |----------------------|----------------|-------------------------------|
//! | `queue_messages`     | sequence (u64) | message row (JSON)            |
//! | `queue_receipts`     | receipt handle | sequence of its message       |
//! | `queue_dead_letters` | sequence (u64) | dead-letter row (JSON)        |
//! | `queue_meta`         | `next_sequence`| the next sequence number      |
//!
//! Message bodies are never logged; logs name message ids.

use crate::db::blocking;
use crate::failure::{decode, encode, Failure};
use async_trait::async_trait;
use billing_domain::ports::{EventQueue, QueueError};
use billing_domain::WebhookEnvelope;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use redb::{Table, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("queue_messages");
const RECEIPTS: TableDefinition<&str, u64> = TableDefinition::new("queue_receipts");
const DEAD_LETTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("queue_dead_letters");
const META: TableDefinition<&str, u64> = TableDefinition::new("queue_meta");
const NEXT_SEQUENCE: &str = "next_sequence";

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), Failure> {
    txn.open_table(MESSAGES)?;
    txn.open_table(RECEIPTS)?;
    txn.open_table(DEAD_LETTERS)?;
    txn.open_table(META)?;
    Ok(())
}

/// How the queue is consumed, as an SQS queue's attributes and redrive
/// policy say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays hidden from other receives.
    pub visibility_timeout: Duration,
    /// Receives after which a message goes to the dead-letter table. SQS
    /// accepts 1 to 1000; 0 is read as 1.
    pub max_receive_count: u32,
}

impl Default for QueueConfig {
    /// SQS's default visibility timeout and this project's redrive limit.
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 5,
        }
    }
}

/// One message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Deletes the message until it is received again.
    pub receipt_handle: String,
    pub body: String,
    /// Receives so far, this one included (SQS's `ApproximateReceiveCount`).
    pub receive_count: u32,
    /// When it was enqueued, in Unix milliseconds (SQS's `SentTimestamp`).
    pub sent_at_ms: u64,
}

/// A message moved to the dead-letter table by the redrive policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
    pub sent_at_ms: u64,
    pub dead_lettered_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MessageRow {
    message_id: String,
    body: String,
    sent_at_ms: u64,
    /// Receivable from this instant on; 0 until first received.
    visible_at_ms: u64,
    receive_count: u32,
    /// The latest receive's handle, the only one that deletes.
    receipt_handle: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeadLetterRow {
    message_id: String,
    body: String,
    sent_at_ms: u64,
    receive_count: u32,
    dead_lettered_at_ms: u64,
}

/// Unix milliseconds; instants before 1970 count as 0.
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn read_message(sequence: u64, bytes: &[u8]) -> Result<MessageRow, Failure> {
    decode(&format!("queued message #{sequence}"), bytes)
}

/// The queue in the embedded file. Cloning shares the file.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    db: Arc<Database>,
    config: QueueConfig,
}

impl EmbeddedQueue {
    pub(crate) fn new(db: Arc<Database>, config: QueueConfig) -> Self {
        Self { db, config }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    async fn run<T, F>(&self, operation: &'static str, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, Failure> + Send + 'static,
    {
        blocking(&self.db, work)
            .await
            .map_err(|f| f.into_queue_error(operation))
    }

    /// Appends a message with `body` as it is, and returns its id once the
    /// write is committed. [`EventQueue::enqueue`] sends envelopes through
    /// this; tools and tests may send any body (a poison message, say).
    pub async fn send(&self, body: String) -> Result<String, QueueError> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let row = MessageRow {
            message_id: message_id.clone(),
            body,
            sent_at_ms: unix_millis(SystemTime::now()),
            visible_at_ms: 0,
            receive_count: 0,
            receipt_handle: None,
        };
        let bytes = encode("queued message", &row).map_err(|f| f.into_queue_error("send"))?;
        let sequence = self
            .run("send", move |db| {
                let txn = db.begin_write()?;
                let sequence = {
                    let mut meta = txn.open_table(META)?;
                    let sequence = meta.get(NEXT_SEQUENCE)?.map_or(1, |s| s.value());
                    meta.insert(NEXT_SEQUENCE, sequence.saturating_add(1))?;
                    sequence
                };
                txn.open_table(MESSAGES)?
                    .insert(sequence, bytes.as_slice())?;
                txn.commit()?;
                Ok(sequence)
            })
            .await?;
        tracing::debug!(%message_id, sequence, "message queued");
        Ok(message_id)
    }

    /// Up to `max` messages visible at `now`, oldest first. Each is hidden
    /// until `now` + the visibility timeout, has its receive count raised
    /// and gets a fresh receipt handle. A visible message already received
    /// `max_receive_count` times is moved to the dead-letter table instead.
    pub async fn receive(
        &self,
        max: usize,
        now: SystemTime,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let now_ms = unix_millis(now);
        let hidden_until = now_ms.saturating_add(duration_millis(self.config.visibility_timeout));
        let max_receive_count = self.config.max_receive_count.max(1);
        let (received, dead) = self
            .run("receive", move |db| {
                let txn = db.begin_write()?;
                let outcome = {
                    let mut messages = txn.open_table(MESSAGES)?;
                    let mut receipts = txn.open_table(RECEIPTS)?;
                    let mut dead_letters = txn.open_table(DEAD_LETTERS)?;
                    let (due, exhausted) =
                        visible_messages(&messages, max, now_ms, max_receive_count)?;

                    let mut dead = Vec::with_capacity(exhausted.len());
                    for (sequence, row) in exhausted {
                        forget_receipt(&mut receipts, &row)?;
                        messages.remove(sequence)?;
                        let letter = DeadLetterRow {
                            message_id: row.message_id,
                            body: row.body,
                            sent_at_ms: row.sent_at_ms,
                            receive_count: row.receive_count,
                            dead_lettered_at_ms: now_ms,
                        };
                        let bytes = encode("dead letter", &letter)?;
                        dead_letters.insert(sequence, bytes.as_slice())?;
                        dead.push((letter.message_id, letter.receive_count));
                    }

                    let mut received = Vec::with_capacity(due.len());
                    for (sequence, mut row) in due {
                        forget_receipt(&mut receipts, &row)?;
                        let handle = uuid::Uuid::new_v4().to_string();
                        receipts.insert(handle.as_str(), sequence)?;
                        row.receive_count = row.receive_count.saturating_add(1);
                        row.visible_at_ms = hidden_until;
                        row.receipt_handle = Some(handle.clone());
                        let bytes = encode("queued message", &row)?;
                        messages.insert(sequence, bytes.as_slice())?;
                        received.push(ReceivedMessage {
                            message_id: row.message_id,
                            receipt_handle: handle,
                            body: row.body,
                            receive_count: row.receive_count,
                            sent_at_ms: row.sent_at_ms,
                        });
                    }
                    (received, dead)
                };
                txn.commit()?;
                Ok(outcome)
            })
            .await?;
        for (message_id, receive_count) in dead {
            tracing::warn!(%message_id, receive_count, "message moved to the dead-letter table");
        }
        Ok(received)
    }

    /// [`EmbeddedQueue::receive`] at the system clock's now.
    pub async fn receive_now(&self, max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.receive(max, SystemTime::now()).await
    }

    /// Deletes the message `receipt_handle` was handed out with, if that is
    /// still its latest receive. `false` when the handle is unknown or stale
    /// (the message was received again since, deleted, or dead-lettered);
    /// the message, if any, is left as it is.
    pub async fn delete(&self, receipt_handle: &str) -> Result<bool, QueueError> {
        let handle = receipt_handle.to_owned();
        self.run("delete", move |db| {
            let txn = db.begin_write()?;
            let deleted = {
                let mut receipts = txn.open_table(RECEIPTS)?;
                let sequence = receipts.remove(handle.as_str())?.map(|s| s.value());
                match sequence {
                    Some(sequence) => txn.open_table(MESSAGES)?.remove(sequence)?.is_some(),
                    None => false,
                }
            };
            if deleted {
                txn.commit()?;
            } else {
                txn.abort()?;
            }
            Ok(deleted)
        })
        .await
    }

    /// The dead-letter table, oldest message first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        self.run("read dead letters", |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(DEAD_LETTERS)?;
            let mut letters = Vec::new();
            for entry in table.iter()? {
                let (sequence, bytes) = entry?;
                let row: DeadLetterRow =
                    decode(&format!("dead letter #{}", sequence.value()), bytes.value())?;
                letters.push(DeadLetter {
                    message_id: row.message_id,
                    body: row.body,
                    receive_count: row.receive_count,
                    sent_at_ms: row.sent_at_ms,
                    dead_lettered_at_ms: row.dead_lettered_at_ms,
                });
            }
            Ok(letters)
        })
        .await
    }

    /// Moves every dead letter back to the queue, visible at once and with
    /// its receive count reset, like an SQS DLQ redrive; returns how many.
    pub async fn redrive_dead_letters(&self) -> Result<usize, QueueError> {
        self.run("redrive dead letters", |db| {
            let txn = db.begin_write()?;
            let moved = {
                let mut dead_letters = txn.open_table(DEAD_LETTERS)?;
                let mut messages = txn.open_table(MESSAGES)?;
                let mut moved = 0;
                while let Some((sequence, bytes)) = dead_letters.pop_first()? {
                    let sequence = sequence.value();
                    let row: DeadLetterRow =
                        decode(&format!("dead letter #{sequence}"), bytes.value())?;
                    let message = MessageRow {
                        message_id: row.message_id,
                        body: row.body,
                        sent_at_ms: row.sent_at_ms,
                        visible_at_ms: 0,
                        receive_count: 0,
                        receipt_handle: None,
                    };
                    // Sequences are never reused, so the message returns to
                    // its original place in the order.
                    let bytes = encode("queued message", &message)?;
                    messages.insert(sequence, bytes.as_slice())?;
                    moved += 1;
                }
                moved
            };
            txn.commit()?;
            Ok(moved)
        })
        .await
    }

    /// Messages in the queue, visible or in flight (not the dead letters).
    pub async fn message_count(&self) -> Result<usize, QueueError> {
        self.run("count messages", |db| {
            let txn = db.begin_read()?;
            let count = txn.open_table(MESSAGES)?.len()?;
            Ok(usize::try_from(count).unwrap_or(usize::MAX))
        })
        .await
    }

    /// Messages a receive at `now` would consider (visible, including any it
    /// would dead-letter).
    pub async fn visible_count(&self, now: SystemTime) -> Result<usize, QueueError> {
        let now_ms = unix_millis(now);
        self.run("count visible messages", move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(MESSAGES)?;
            let mut visible = 0;
            for entry in table.iter()? {
                let (sequence, bytes) = entry?;
                if read_message(sequence.value(), bytes.value())?.visible_at_ms <= now_ms {
                    visible += 1;
                }
            }
            Ok(visible)
        })
        .await
    }
}

type Due = Vec<(u64, MessageRow)>;

/// The visible messages a receive hands out (up to `max`) and those it
/// dead-letters instead, oldest first.
fn visible_messages(
    messages: &Table<'_, u64, &'static [u8]>,
    max: usize,
    now_ms: u64,
    max_receive_count: u32,
) -> Result<(Due, Due), Failure> {
    let mut due = Vec::new();
    let mut exhausted = Vec::new();
    for entry in messages.iter()? {
        if due.len() >= max {
            break;
        }
        let (sequence, bytes) = entry?;
        let sequence = sequence.value();
        let row = read_message(sequence, bytes.value())?;
        if row.visible_at_ms > now_ms {
            continue;
        }
        if row.receive_count >= max_receive_count {
            exhausted.push((sequence, row));
        } else {
            due.push((sequence, row));
        }
    }
    Ok((due, exhausted))
}

/// Drops a message's latest receipt handle, so it can no longer delete.
fn forget_receipt(
    receipts: &mut Table<'_, &'static str, u64>,
    row: &MessageRow,
) -> Result<(), Failure> {
    if let Some(handle) = &row.receipt_handle {
        receipts.remove(handle.as_str())?;
    }
    Ok(())
}

#[async_trait]
impl EventQueue for EmbeddedQueue {
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError> {
        let body = serde_json::to_string(envelope)
            .map_err(|e| QueueError::Permanent(format!("envelope does not serialize: {e}")))?;
        let message_id = self.send(body).await?;
        tracing::debug!(
            %message_id,
            provider = %envelope.provider,
            event_id = %envelope.event_id,
            "envelope queued"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbeddedDb;

    fn garble_message(db: &EmbeddedDb, sequence: u64) {
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(MESSAGES)
            .unwrap()
            .insert(sequence, b"\xff not json".as_slice())
            .unwrap();
        txn.commit().unwrap();
    }

    #[tokio::test]
    async fn an_undecodable_message_is_a_permanent_error_not_a_panic() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let queue = db.queue(QueueConfig::default());
        queue.send("first".into()).await.unwrap();
        garble_message(&db, 1);

        for result in [
            queue.receive_now(10).await.map(|_| ()),
            queue.visible_count(SystemTime::now()).await.map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(QueueError::Permanent(_))),
                "{result:?}"
            );
        }
        assert_eq!(queue.message_count().await, Ok(1), "nothing was removed");
    }

    #[tokio::test]
    async fn an_undecodable_dead_letter_is_a_permanent_error_and_stays_put() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let queue = db.queue(QueueConfig::default());
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(DEAD_LETTERS)
            .unwrap()
            .insert(7, b"{".as_slice())
            .unwrap();
        txn.commit().unwrap();

        assert!(matches!(
            queue.dead_letters().await,
            Err(QueueError::Permanent(_))
        ));
        assert!(matches!(
            queue.redrive_dead_letters().await,
            Err(QueueError::Permanent(_))
        ));
        assert_eq!(queue.message_count().await, Ok(0));
    }

    #[test]
    fn instants_before_1970_count_as_zero_and_huge_timeouts_saturate() {
        assert_eq!(unix_millis(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(
            unix_millis(UNIX_EPOCH + Duration::from_millis(1_234)),
            1_234
        );
        assert_eq!(duration_millis(Duration::MAX), u64::MAX);
    }
}
