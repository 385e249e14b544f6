//! Opening the one redb file that holds both the store and the queue, and
//! running blocking redb work off the async runtime.

use crate::failure::Failure;
use crate::queue::{self, EmbeddedQueue, QueueConfig};
use crate::store::{self, EmbeddedStore};
use billing_domain::UnixTime;
use redb::Database;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why the embedded file could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddedError {
    /// Another process (or another handle in this one) holds the file.
    #[error("{} is already open elsewhere; redb allows one handle per file", path.display())]
    AlreadyOpen { path: PathBuf },
    /// The file could not be read or written (permissions, disk, I/O).
    #[error("cannot open {}: {message}", path.display())]
    Unavailable { path: PathBuf, message: String },
    /// The file exists but is not a database this build can read.
    #[error("{} is not a readable billing database: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
}

impl EmbeddedError {
    fn from_redb(path: &Path, err: redb::Error) -> Self {
        let path = path.to_path_buf();
        if matches!(err, redb::Error::DatabaseAlreadyOpen) {
            return EmbeddedError::AlreadyOpen { path };
        }
        match Failure::from(err) {
            Failure::Corrupt(message) => EmbeddedError::Unreadable { path, message },
            Failure::Transient(message) | Failure::Permanent(message) => {
                EmbeddedError::Unavailable { path, message }
            }
        }
    }

    fn from_failure(path: PathBuf, failure: Failure) -> Self {
        match failure {
            Failure::Corrupt(message) => EmbeddedError::Unreadable { path, message },
            Failure::Transient(message) | Failure::Permanent(message) => {
                EmbeddedError::Unavailable { path, message }
            }
        }
    }
}

/// One open embedded file. Cloning shares the handle; [`EmbeddedDb::store`]
/// and [`EmbeddedDb::queue`] are views of it, so one file serves both.
#[derive(Debug, Clone)]
pub struct EmbeddedDb {
    db: Arc<Database>,
    path: Option<PathBuf>,
}

impl EmbeddedDb {
    /// Opens `path`, creating the file and its tables if absent, then
    /// sweeps the dedupe keys expired at the system clock's now (see
    /// [`EmbeddedStore::purge_expired_dedupe_keys`]), so a file kept across
    /// many runs does not grow forever. Blocking: call it before starting
    /// the runtime or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        let db = Database::create(path)
            .map_err(|e| EmbeddedError::from_redb(path, redb::Error::from(e)))?;
        let opened = Self::with_tables(db, Some(path.to_path_buf()))?;
        let purged = store::purge_expired_dedupe_keys(&opened.db, system_now())
            .map_err(|failure| EmbeddedError::from_failure(path.to_path_buf(), failure))?;
        if purged > 0 {
            tracing::debug!(purged, path = %path.display(), "expired dedupe keys purged at open");
        }
        Ok(opened)
    }

    /// A database that lives in memory only, for tests.
    pub fn open_in_memory() -> Result<Self, EmbeddedError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| EmbeddedError::from_redb(Path::new(IN_MEMORY), redb::Error::from(e)))?;
        Self::with_tables(db, None)
    }

    fn with_tables(db: Database, path: Option<PathBuf>) -> Result<Self, EmbeddedError> {
        let shown = path.clone().unwrap_or_else(|| PathBuf::from(IN_MEMORY));
        create_tables(&db).map_err(|failure| EmbeddedError::from_failure(shown, failure))?;
        Ok(Self {
            db: Arc::new(db),
            path,
        })
    }

    /// The file's path; `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The storage ports over this file.
    pub fn store(&self) -> EmbeddedStore {
        EmbeddedStore::new(Arc::clone(&self.db))
    }

    /// Tells when every view of this file (store, queue, and any blocking
    /// operation still running on one) has been dropped, so that the file
    /// can be opened again: redb allows one handle per file.
    pub fn closing(&self) -> Closing {
        Closing(Arc::downgrade(&self.db))
    }

    /// The event queue in this file, consumed with `config`.
    pub fn queue(&self, config: QueueConfig) -> EmbeddedQueue {
        EmbeddedQueue::new(Arc::clone(&self.db), config)
    }

    #[cfg(test)]
    pub(crate) fn raw(&self) -> &Database {
        &self.db
    }
}

/// See [`EmbeddedDb::closing`].
#[derive(Debug, Clone)]
pub struct Closing(std::sync::Weak<Database>);

impl Closing {
    pub fn is_closed(&self) -> bool {
        self.0.strong_count() == 0
    }
}

const IN_MEMORY: &str = "<in memory>";

/// The system clock's now, in the domain's seconds. The store reads the
/// system clock here only, for the sweep at open; commits never do.
fn system_now() -> UnixTime {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// Creates every table up front, so read transactions never meet a missing
/// one and a file written with another layout is refused at open.
fn create_tables(db: &Database) -> Result<(), Failure> {
    let txn = db.begin_write()?;
    store::create_tables(&txn)?;
    crate::idempotency::create_tables(&txn)?;
    crate::ledger::create_tables(&txn)?;
    queue::create_tables(&txn)?;
    txn.commit()?;
    Ok(())
}

/// Runs `work` on the blocking pool: redb reads and writes block on disk,
/// and a write transaction waits for the previous one to finish.
pub(crate) async fn blocking<T, F>(db: &Arc<Database>, work: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Database) -> Result<T, Failure> + Send + 'static,
{
    let db = Arc::clone(db);
    match tokio::task::spawn_blocking(move || work(&db)).await {
        Ok(result) => result,
        // A panic is a bug: the same call panics again.
        Err(e) if e.is_panic() => Err(Failure::Permanent("the operation panicked".into())),
        Err(_) => Err(Failure::Transient(
            "the operation was cancelled (runtime shutting down)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_an_open_file_again_is_refused_as_already_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("billing.redb");
        let _first = EmbeddedDb::open(&path).unwrap();
        assert_eq!(
            EmbeddedDb::open(&path).unwrap_err(),
            EmbeddedError::AlreadyOpen { path }
        );
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_without_being_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        let text = "these are someone's notes, not a database\n".repeat(200);
        std::fs::write(&path, &text).unwrap();
        let err = EmbeddedDb::open(&path).unwrap_err();
        assert!(matches!(err, EmbeddedError::Unreadable { .. }), "{err:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn a_missing_directory_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("billing.redb");
        assert!(matches!(
            EmbeddedDb::open(&path),
            Err(EmbeddedError::Unavailable { .. })
        ));
    }

    #[test]
    fn a_file_with_another_table_layout_is_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.redb");
        {
            // Same table name as the store's, different key type.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            let other: redb::TableDefinition<u64, u64> =
                redb::TableDefinition::new("subscriptions");
            txn.open_table(other).unwrap();
            txn.commit().unwrap();
        }
        assert!(matches!(
            EmbeddedDb::open(&path),
            Err(EmbeddedError::Unreadable { .. })
        ));
    }

    #[tokio::test]
    async fn a_panicking_operation_is_a_permanent_failure() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let result: Result<(), Failure> = blocking(&db.db, |_| panic!("bug")).await;
        assert!(matches!(result, Err(Failure::Permanent(_))));
    }
}
