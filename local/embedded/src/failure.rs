//! How redb's and serde's failures become the ports' errors, keeping whether
//! a retry may succeed (transient), the stored bytes are unreadable
//! (corrupt), or neither (permanent).

use billing_domain::ports::{QueueError, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failed operation on the embedded file, before it is told which port it
/// failed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Transient(String),
    Permanent(String),
    Corrupt(String),
}

impl Failure {
    pub(crate) fn into_store_error(self, operation: &str) -> StoreError {
        match self {
            Failure::Transient(m) => StoreError::Transient(format!("{operation}: {m}")),
            Failure::Permanent(m) => StoreError::Permanent(format!("{operation}: {m}")),
            Failure::Corrupt(m) => StoreError::Corrupt(format!("{operation}: {m}")),
        }
    }

    /// The queue port has no "corrupt": rereading the same bytes fails the
    /// same way, which is what permanent means.
    pub(crate) fn into_queue_error(self, operation: &str) -> QueueError {
        match self {
            Failure::Transient(m) => QueueError::Transient(format!("{operation}: {m}")),
            Failure::Permanent(m) | Failure::Corrupt(m) => {
                QueueError::Permanent(format!("{operation}: {m}"))
            }
        }
    }
}

impl From<redb::Error> for Failure {
    fn from(err: redb::Error) -> Self {
        let message = err.to_string();
        match err {
            // redb's word for a file that is not a redb database.
            redb::Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Failure::Corrupt(message)
            }
            // The disk or another holder of the file may let go.
            redb::Error::Io(_)
            | redb::Error::DatabaseAlreadyOpen
            | redb::Error::TransactionInProgress
            | redb::Error::TableAlreadyOpen(..) => Failure::Transient(message),
            // The file holds something this build cannot read.
            redb::Error::Corrupted(_)
            | redb::Error::UpgradeRequired(_)
            | redb::Error::TableTypeMismatch { .. }
            | redb::Error::TypeDefinitionChanged { .. }
            | redb::Error::TableIsMultimap(_)
            | redb::Error::TableIsNotMultimap(_)
            | redb::Error::TableDoesNotExist(_) => Failure::Corrupt(message),
            // A value too large, and the handle-is-dead family (an earlier
            // I/O failure, a poisoned lock, a closed database): redb asks
            // for the file to be reopened, so retrying on this handle fails
            // the same way.
            _ => Failure::Permanent(message),
        }
    }
}

/// redb's per-operation error types, all of which convert into `redb::Error`.
macro_rules! from_redb_error {
    ($($error:ty),* $(,)?) => {
        $(
            impl From<$error> for Failure {
                fn from(err: $error) -> Self {
                    Failure::from(redb::Error::from(err))
                }
            }
        )*
    };
}

from_redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
);

/// Serializes a row. Failing means a value the domain type cannot express
/// as JSON (a bug, not weather).
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(value)
        .map_err(|e| Failure::Permanent(format!("{what} does not serialize: {e}")))
}

/// Deserializes a row. The message names the kind of error and its position
/// only: serde's own text may quote stored values, and rows hold message
/// bodies and customer data that must stay out of logs.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        Failure::Corrupt(format!(
            "{what} is unreadable ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_and_lock_failures_are_transient() {
        let io = redb::Error::Io(std::io::Error::from(std::io::ErrorKind::WouldBlock));
        assert!(matches!(Failure::from(io), Failure::Transient(_)));
        assert!(matches!(
            Failure::from(redb::Error::DatabaseAlreadyOpen),
            Failure::Transient(_)
        ));
        assert!(Failure::Transient("x".into())
            .into_store_error("op")
            .is_retryable());
        assert!(Failure::Transient("x".into())
            .into_queue_error("op")
            .is_retryable());
    }

    #[test]
    fn unreadable_files_are_corrupt_and_dead_handles_are_permanent() {
        assert!(matches!(
            Failure::from(redb::Error::Corrupted("bad page".into())),
            Failure::Corrupt(_)
        ));
        let not_redb = redb::Error::Io(std::io::Error::from(std::io::ErrorKind::InvalidData));
        assert!(matches!(Failure::from(not_redb), Failure::Corrupt(_)));
        assert!(matches!(
            Failure::from(redb::Error::TableDoesNotExist("t".into())),
            Failure::Corrupt(_)
        ));
        assert!(matches!(
            Failure::from(redb::Error::PreviousIo),
            Failure::Permanent(_)
        ));
        assert!(matches!(
            Failure::from(redb::Error::ValueTooLarge(1 << 33)),
            Failure::Permanent(_)
        ));
    }

    #[test]
    fn corrupt_is_a_store_corruption_and_a_permanent_queue_error() {
        let corrupt = Failure::Corrupt("row".into());
        assert!(matches!(
            corrupt.clone().into_store_error("read"),
            StoreError::Corrupt(m) if m == "read: row"
        ));
        assert!(matches!(
            corrupt.into_queue_error("receive"),
            QueueError::Permanent(m) if m == "receive: row"
        ));
    }

    #[test]
    fn undecodable_rows_are_corrupt_without_quoting_their_content() {
        let secret = br#"{"revision": "cus_secret_value"}"#;
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Row {
            revision: u64,
        }
        let Err(Failure::Corrupt(message)) = decode::<Row>("row", secret) else {
            panic!("expected a corrupt row");
        };
        assert!(!message.contains("cus_secret_value"), "{message}");
        assert!(matches!(
            decode::<Row>("row", &[0xff, 0xfe]),
            Err(Failure::Corrupt(_))
        ));
    }
}
