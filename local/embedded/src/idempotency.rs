//! Idempotency records of our own API in the embedded store: table
//! `idempotency_keys`, key (tenant, `Idempotency-Key`), value
//! `{fingerprint, locked_until | status + body, expires_at}`. Every change
//! reads and writes inside one write transaction: of two concurrent requests
//! with one key exactly one starts, and only the request whose record still
//! holds the key completes or releases it, as DynamoDB's conditions ensure.

use crate::failure::{decode, encode, Failure};
use crate::store::EmbeddedStore;
use async_trait::async_trait;
use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord, RecordState};
use billing_domain::ports::{Begun, IdempotencyStore, Settled, StoreError};
use billing_domain::{TenantId, UnixTime};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

const IDEMPOTENCY_KEYS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("idempotency_keys");

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), Failure> {
    txn.open_table(IDEMPOTENCY_KEYS)?;
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordRow {
    fingerprint: String,
    /// Set while in progress.
    locked_until: Option<i64>,
    /// Set once completed.
    status: Option<u16>,
    body: Option<String>,
    expires_at: i64,
}

impl RecordRow {
    fn from_record(record: &IdempotencyRecord) -> Self {
        let (locked_until, status, body) = match &record.state {
            RecordState::InProgress { locked_until } => (Some(locked_until.0), None, None),
            RecordState::Completed { status, body } => (None, Some(*status), Some(body.clone())),
        };
        Self {
            fingerprint: record.fingerprint.clone(),
            locked_until,
            status,
            body,
            expires_at: record.expires_at.0,
        }
    }

    fn into_record(self) -> Result<IdempotencyRecord, Failure> {
        let state = match (self.locked_until, self.status, self.body) {
            (Some(locked_until), None, None) => RecordState::InProgress {
                locked_until: UnixTime(locked_until),
            },
            (None, Some(status), Some(body)) => RecordState::Completed { status, body },
            _ => {
                return Err(Failure::Corrupt(
                    "idempotency record is neither in progress nor completed".into(),
                ))
            }
        };
        Ok(IdempotencyRecord {
            fingerprint: self.fingerprint,
            state,
            expires_at: UnixTime(self.expires_at),
        })
    }
}

#[async_trait]
impl IdempotencyStore for EmbeddedStore {
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        let (tenant, key) = (tenant.as_str().to_owned(), key.as_str().to_owned());
        let row = RecordRow::from_record(record);
        self.run("beginning an idempotent request", move |db| {
            let row = encode("idempotency record", &row)?;
            let txn = db.begin_write()?;
            if let Some(existing) = read_record(&txn, &tenant, &key)?.filter(|e| e.is_live(now)) {
                txn.abort()?;
                return Ok(Begun::Existing(existing));
            }
            txn.open_table(IDEMPOTENCY_KEYS)?
                .insert((tenant.as_str(), key.as_str()), row.as_slice())?;
            txn.commit()?;
            Ok(Begun::Started)
        })
        .await
    }

    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        let (tenant, key) = (tenant.as_str().to_owned(), key.as_str().to_owned());
        let (begun, row) = (begun.clone(), RecordRow::from_record(completed));
        self.run("completing an idempotent request", move |db| {
            let row = encode("idempotency record", &row)?;
            let txn = db.begin_write()?;
            if read_record(&txn, &tenant, &key)?.as_ref() != Some(&begun) {
                txn.abort()?;
                return Ok(Settled::Lost);
            }
            txn.open_table(IDEMPOTENCY_KEYS)?
                .insert((tenant.as_str(), key.as_str()), row.as_slice())?;
            txn.commit()?;
            Ok(Settled::Held)
        })
        .await
    }

    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        let (tenant, key) = (tenant.as_str().to_owned(), key.as_str().to_owned());
        let begun = begun.clone();
        self.run("releasing an idempotent request", move |db| {
            let txn = db.begin_write()?;
            if read_record(&txn, &tenant, &key)?.as_ref() != Some(&begun) {
                txn.abort()?;
                return Ok(Settled::Lost);
            }
            txn.open_table(IDEMPOTENCY_KEYS)?
                .remove((tenant.as_str(), key.as_str()))?;
            txn.commit()?;
            Ok(Settled::Held)
        })
        .await
    }
}

/// The key's record as the write transaction sees it.
fn read_record(
    txn: &WriteTransaction,
    tenant: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, Failure> {
    let table = txn.open_table(IDEMPOTENCY_KEYS)?;
    let found = table.get((tenant, key))?;
    match found {
        Some(bytes) => Ok(Some(
            decode::<RecordRow>("idempotency record", bytes.value())?.into_record()?,
        )),
        None => Ok(None),
    }
}
