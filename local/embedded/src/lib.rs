//! Embedded store and queue for local runs: the storage ports
//! (`billing_domain::ports`) and an SQS standard-queue stand-in, both in ONE
//! redb file, so the whole system runs on localhost without AWS and keeps its
//! state across restarts.
//!
//! redb allows one open handle per file, so the file is opened once as an
//! [`EmbeddedDb`] and the store and the queue are cheap views of it:
//!
//! ```no_run
//! # fn main() -> Result<(), billing_embedded::EmbeddedError> {
//! use billing_embedded::{EmbeddedDb, QueueConfig};
//!
//! let db = EmbeddedDb::open(std::path::Path::new("billing.redb"))?;
//! let store = db.store(); // EventLedger, CustomerRegistry, ...
//! let queue = db.queue(QueueConfig::default()); // EventQueue + receive/delete
//! # let _ = (store, queue);
//! # Ok(())
//! # }
//! ```
//!
//! The semantics are those of `billing_testkit::memory::MemoryStore` and the
//! DynamoDB adapter (the store passes the same contract suite), and of an SQS
//! queue with a redrive policy (visibility timeout, receipt handles,
//! dead-letter table after `max_receive_count` receives).
//!
//! Dedupe keys expire like DynamoDB TTL items: a commit is refused as a
//! duplicate whenever its event's key exists, whatever the key's
//! `dedupe_expires_at`, until a sweep deletes the expired keys, just as
//! DynamoDB's conditional writes still see an expired item until its TTL
//! sweeper removes it. The sweep is
//! [`EmbeddedStore::purge_expired_dedupe_keys`]; [`EmbeddedDb::open`] runs
//! one at the system clock's now, so a long-lived file does not grow
//! forever. Commits never read a clock.

mod db;
mod failure;
mod idempotency;
mod ledger;
mod queue;
mod store;

pub use db::{Closing, EmbeddedDb, EmbeddedError};
pub use queue::{DeadLetter, EmbeddedQueue, QueueConfig, ReceivedMessage};
pub use store::EmbeddedStore;
