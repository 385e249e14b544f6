//! The embedded store: subscription records, provider-id claims, tenants'
//! provider customers, event dedupe keys and parked events, in redb tables
//! of the shared file. It implements the storage ports with the semantics of
//! `billing_testkit::memory::MemoryStore` and the DynamoDB adapter, and
//! passes the same contract suite (`billing_testkit::store_contract`).
//!
//! # Tables
//!
//! | table            | key                               | value (JSON)                       |
//! |------------------|-----------------------------------|------------------------------------|
//! | `subscriptions`  | tenant                            | `{revision, record}`               |
//! | `provider_refs`  | (provider, `customer`\|`subscription`, id) | `{tenant_id}`             |
//! | `customers`      | (tenant, provider)                | `{customer_id}`                    |
//! | `dedupe_keys`    | (provider, event id)              | `{tenant_id, expires_at}`          |
//! | `parked_events`  | (provider, event id)              | `{envelope, reason, parked_at}`    |
//! | `idempotency_keys` | (tenant, `Idempotency-Key`)     | `{fingerprint, locked_until \| status + body, expires_at}` (`idempotency.rs`) |
//! | `payments`, `payment_ids`, `invoices`, `counters`, `profiles` | see `ledger.rs` | |
//!
//! Keys are redb tuples, so no separator can collide with an id. Values are
//! JSON bytes read with the domain's own serde derives; bytes that do not
//! decode are reported as `StoreError::Corrupt`, never a panic.
//!
//! # Every write is one transaction
//!
//! redb runs one write transaction at a time, so each check-then-write
//! (`commit` with its payment, invoice and number, `claim_customer`, `park`) reads and writes inside ONE write
//! transaction: it is atomic and isolated, and a refusal aborts it, leaving
//! nothing written.
//!
//! # Dedupe keys expire as DynamoDB TTL items do
//!
//! A commit is refused as `Duplicate` whenever the event's dedupe key exists,
//! whatever its `expires_at`, exactly as the DynamoDB adapter's
//! `attribute_not_exists` condition is: DynamoDB deletes expired items in a
//! background sweep some time after they expire, and until then the item is
//! still there for conditional writes. The sweep here is
//! [`EmbeddedStore::purge_expired_dedupe_keys`], run once whenever the file is
//! opened ([`EmbeddedDb::open`]) and on demand; commits never read a clock.

use crate::db::{blocking, EmbeddedDb, EmbeddedError};
use crate::failure::{decode, encode, Failure};
use async_trait::async_trait;
use billing_domain::ledger::{Invoice, Series};
use billing_domain::ports::{
    CommitOutcome, CustomerRegistry, EventCommit, EventLedger, IntentRecorder, ParkedEvent,
    ProviderRef, RefKind, Saved, StoreError, StoredSubscription, SubscriptionReader,
    SubscriptionWrite, TenantDirectory,
};
use billing_domain::{Provider, ProviderEvent, Subscription, TenantId, UnixTime, WebhookEnvelope};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

const SUBSCRIPTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("subscriptions");
const PROVIDER_REFS: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("provider_refs");
const CUSTOMERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("customers");
const DEDUPE_KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("dedupe_keys");
const PARKED_EVENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("parked_events");

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), Failure> {
    txn.open_table(SUBSCRIPTIONS)?;
    txn.open_table(PROVIDER_REFS)?;
    txn.open_table(CUSTOMERS)?;
    txn.open_table(DEDUPE_KEYS)?;
    txn.open_table(PARKED_EVENTS)?;
    Ok(())
}

// ---------- Rows ----------

#[derive(Debug, Serialize, Deserialize)]
struct SubscriptionRow {
    revision: u64,
    record: Subscription,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefRow {
    tenant_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CustomerRow {
    customer_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct DedupeRow {
    tenant_id: String,
    expires_at: UnixTime,
}

impl DedupeRow {
    /// Like a DynamoDB item whose TTL passed: the sweep may delete it, but
    /// until it does the key still blocks a redelivery.
    fn is_expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ParkedRow {
    envelope: WebhookEnvelope,
    reason: String,
    parked_at: UnixTime,
}

fn ref_key(reference: &ProviderRef) -> (&str, &str, &str) {
    (
        reference.provider.as_str(),
        reference.kind.as_str(),
        reference.id.as_str(),
    )
}

/// A stored tenant id, validated as the domain validates one: the serde
/// derive alone would accept any string.
fn tenant_from_row(what: &str, raw: &str) -> Result<TenantId, Failure> {
    TenantId::parse(raw).map_err(|_| Failure::Corrupt(format!("{what}: tenant id is invalid")))
}

fn read_subscription(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    tenant: &TenantId,
) -> Result<Option<StoredSubscription>, Failure> {
    let Some(bytes) = table.get(tenant.as_str())? else {
        return Ok(None);
    };
    let what = format!("subscription record of tenant {tenant}");
    let row: SubscriptionRow = decode(&what, bytes.value())?;
    if &row.record.tenant_id != tenant {
        return Err(Failure::Corrupt(format!(
            "{what}: record belongs to another tenant"
        )));
    }
    Ok(Some(StoredSubscription {
        subscription: row.record,
        revision: row.revision,
    }))
}

fn read_owner(
    table: &impl ReadableTable<(&'static str, &'static str, &'static str), &'static [u8]>,
    reference: &ProviderRef,
) -> Result<Option<TenantId>, Failure> {
    let Some(bytes) = table.get(ref_key(reference))? else {
        return Ok(None);
    };
    let what = format!("mapping of {reference}");
    let row: RefRow = decode(&what, bytes.value())?;
    tenant_from_row(&what, &row.tenant_id).map(Some)
}

fn read_customer(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    tenant: &TenantId,
    provider: Provider,
) -> Result<Option<String>, Failure> {
    let Some(bytes) = table.get((tenant.as_str(), provider.as_str()))? else {
        return Ok(None);
    };
    let row: CustomerRow = decode(
        &format!("{provider} customer of tenant {tenant}"),
        bytes.value(),
    )?;
    Ok(Some(row.customer_id))
}

/// The claims of a commit without repeats, in the commit's order.
fn unique_claims(claims: &[ProviderRef]) -> Vec<&ProviderRef> {
    let mut seen = HashSet::new();
    claims.iter().filter(|r| seen.insert(*r)).collect()
}

/// Deletes the dedupe keys expired at `now` in one write transaction and
/// returns how many: the TTL sweep (see the module docs). Rows that do not
/// decode are left alone.
pub(crate) fn purge_expired_dedupe_keys(db: &Database, now: UnixTime) -> Result<usize, Failure> {
    let txn = db.begin_write()?;
    let mut purged = 0;
    {
        let mut table = txn.open_table(DEDUPE_KEYS)?;
        table.retain(|_, bytes| {
            let expired =
                serde_json::from_slice::<DedupeRow>(bytes).is_ok_and(|row| row.is_expired(now));
            purged += usize::from(expired);
            !expired
        })?;
    }
    txn.commit()?;
    Ok(purged)
}

// ---------- The store ----------

/// The storage ports over the embedded file. Cloning shares the file.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    pub(crate) fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    /// Opens `path` for the store alone. To share the file with the queue,
    /// open it once with [`EmbeddedDb::open`] and take both from there.
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        Ok(EmbeddedDb::open(path)?.store())
    }

    pub(crate) async fn run<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, Failure> + Send + 'static,
    {
        blocking(&self.db, work)
            .await
            .map_err(|f| f.into_store_error(operation))
    }

    /// Every parked event, oldest first, for review and replay.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, StoreError> {
        self.run("reading parked events", |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(PARKED_EVENTS)?;
            let mut parked = Vec::new();
            for entry in table.iter()? {
                let (key, bytes) = entry?;
                let (provider, event_id) = key.value();
                let row: ParkedRow = decode(
                    &format!("parked {provider} event {event_id}"),
                    bytes.value(),
                )?;
                parked.push(ParkedEvent {
                    envelope: row.envelope,
                    reason: row.reason,
                    parked_at: row.parked_at,
                });
            }
            // Stable: events parked in the same second stay in key order.
            parked.sort_by_key(|p| p.parked_at);
            Ok(parked)
        })
        .await
    }

    /// Deletes the dedupe keys whose `expires_at` is at or before `now` and
    /// returns how many: the stand-in for DynamoDB's TTL sweeper. Until a
    /// key is swept, a commit of its event is refused as `Duplicate`
    /// however long ago it expired; once swept, the event can be committed
    /// again. [`EmbeddedDb::open`] runs one sweep at the system clock's now;
    /// call this to sweep a long-running process's file, or at a chosen
    /// `now` in tests. Rows that do not decode are left alone.
    pub async fn purge_expired_dedupe_keys(&self, now: UnixTime) -> Result<usize, StoreError> {
        self.run("purging expired dedupe keys", move |db| {
            purge_expired_dedupe_keys(db, now)
        })
        .await
    }
}

/// Why a commit cannot be written, checked in the order the contract ranks
/// them: seen before, record moved on, reference owned by someone else.
fn commit_refusal(
    txn: &WriteTransaction,
    commit: &EventCommit,
) -> Result<Option<CommitOutcome>, Failure> {
    let dedupe = txn.open_table(DEDUPE_KEYS)?;
    if let Some(bytes) = dedupe.get((commit.provider.as_str(), commit.event_id.as_str()))? {
        // Seen before, whatever the key's expiry: like DynamoDB's
        // `attribute_not_exists`, only the sweep forgets a key. The row is
        // still decoded so that a damaged one is reported, not trusted.
        let _: DedupeRow = decode(
            &format!(
                "dedupe key of {} event {}",
                commit.provider, commit.event_id
            ),
            bytes.value(),
        )?;
        return Ok(Some(CommitOutcome::Duplicate));
    }
    if crate::ledger::payment_seen(txn, commit)? {
        return Ok(Some(CommitOutcome::Duplicate));
    }

    if let Some(write) = &commit.write {
        let subscriptions = txn.open_table(SUBSCRIPTIONS)?;
        let current = read_subscription(&subscriptions, &commit.tenant)?.map(|s| s.revision);
        if current != write.expected_revision {
            return Ok(Some(CommitOutcome::RevisionConflict));
        }
    }
    if crate::ledger::number_taken(txn, commit)? {
        return Ok(Some(CommitOutcome::SequenceConflict));
    }

    // An event that changes nothing writes no claim, but a claim owned by
    // another tenant is still refused, as in the memory store.
    let refs = txn.open_table(PROVIDER_REFS)?;
    for reference in unique_claims(&commit.claims) {
        if let Some(owner) = read_owner(&refs, reference)? {
            if owner != commit.tenant {
                return Ok(Some(CommitOutcome::ClaimedByOtherTenant {
                    reference: reference.clone(),
                }));
            }
        }
    }
    Ok(None)
}

fn write_commit(txn: &WriteTransaction, commit: &EventCommit) -> Result<(), Failure> {
    let dedupe = encode(
        "dedupe key",
        &DedupeRow {
            tenant_id: commit.tenant.as_str().to_owned(),
            expires_at: commit.dedupe_expires_at,
        },
    )?;
    // The refusal check found no key for this event, so this creates it.
    txn.open_table(DEDUPE_KEYS)?.insert(
        (commit.provider.as_str(), commit.event_id.as_str()),
        dedupe.as_slice(),
    )?;
    crate::ledger::write_ledger(txn, commit)?;

    let Some(write) = &commit.write else {
        return Ok(());
    };
    let row = encode(
        "subscription record",
        &SubscriptionRow {
            revision: write.expected_revision.map_or(1, |r| r + 1),
            record: write.subscription.clone(),
        },
    )?;
    txn.open_table(SUBSCRIPTIONS)?
        .insert(commit.tenant.as_str(), row.as_slice())?;

    let owner = encode(
        "provider reference",
        &RefRow {
            tenant_id: commit.tenant.as_str().to_owned(),
        },
    )?;
    let mut refs = txn.open_table(PROVIDER_REFS)?;
    for reference in unique_claims(&commit.claims) {
        refs.insert(ref_key(reference), owner.as_slice())?;
    }
    Ok(())
}

#[async_trait]
impl SubscriptionReader for EmbeddedStore {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        let tenant = tenant.clone();
        self.run("reading a subscription", move |db| {
            let txn = db.begin_read()?;
            read_subscription(&txn.open_table(SUBSCRIPTIONS)?, &tenant)
        })
        .await
    }
}

#[async_trait]
impl TenantDirectory for EmbeddedStore {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        let reference = reference.clone();
        self.run("reading a provider reference", move |db| {
            let txn = db.begin_read()?;
            read_owner(&txn.open_table(PROVIDER_REFS)?, &reference)
        })
        .await
    }
}

#[async_trait]
impl CustomerRegistry for EmbeddedStore {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        let tenant = tenant.clone();
        self.run("reading a customer", move |db| {
            let txn = db.begin_read()?;
            read_customer(&txn.open_table(CUSTOMERS)?, &tenant, provider)
        })
        .await
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        let tenant = tenant.clone();
        let customer_id = customer_id.to_owned();
        let claimed = self
            .run("claiming a customer", move |db| {
                let txn = db.begin_write()?;
                let reference = ProviderRef {
                    provider,
                    kind: RefKind::Customer,
                    id: customer_id.clone(),
                };
                let existing = read_customer(&txn.open_table(CUSTOMERS)?, &tenant, provider)?;
                if let Some(existing) = existing {
                    // First writer won: answer with its id.
                    txn.abort()?;
                    return Ok(Ok(existing));
                }
                let owner = read_owner(&txn.open_table(PROVIDER_REFS)?, &reference)?;
                if owner.is_some_and(|owner| owner != tenant) {
                    txn.abort()?;
                    return Ok(Err(reference));
                }
                let customer = encode(
                    "customer",
                    &CustomerRow {
                        customer_id: customer_id.clone(),
                    },
                )?;
                let owner = encode(
                    "provider reference",
                    &RefRow {
                        tenant_id: tenant.as_str().to_owned(),
                    },
                )?;
                txn.open_table(CUSTOMERS)?
                    .insert((tenant.as_str(), provider.as_str()), customer.as_slice())?;
                txn.open_table(PROVIDER_REFS)?
                    .insert(ref_key(&reference), owner.as_slice())?;
                txn.commit()?;
                Ok(Ok(customer_id))
            })
            .await?;
        claimed.map_err(|reference| {
            StoreError::Permanent(format!("{reference} already belongs to another tenant"))
        })
    }
}

#[async_trait]
impl IntentRecorder for EmbeddedStore {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        let write = write.clone();
        self.run("saving a subscription record", move |db| {
            let txn = db.begin_write()?;
            let tenant = write.subscription.tenant_id.clone();
            let current = {
                let subscriptions = txn.open_table(SUBSCRIPTIONS)?;
                read_subscription(&subscriptions, &tenant)?.map(|s| s.revision)
            };
            if current != write.expected_revision {
                txn.abort()?;
                return Ok(Saved::RevisionConflict);
            }
            let row = encode(
                "subscription record",
                &SubscriptionRow {
                    revision: write.expected_revision.map_or(1, |r| r + 1),
                    record: write.subscription,
                },
            )?;
            txn.open_table(SUBSCRIPTIONS)?
                .insert(tenant.as_str(), row.as_slice())?;
            txn.commit()?;
            Ok(Saved::Written)
        })
        .await
    }
}

#[async_trait]
impl EventLedger for EmbeddedStore {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        if let Some(write) = &commit.write {
            if write.subscription.tenant_id != commit.tenant {
                return Err(StoreError::Permanent(format!(
                    "commit for tenant {} carries the record of tenant {}",
                    commit.tenant, write.subscription.tenant_id
                )));
            }
        }
        let commit = commit.clone();
        self.run("committing an event", move |db| {
            let txn = db.begin_write()?;
            if let Some(refused) = commit_refusal(&txn, &commit)? {
                txn.abort()?;
                return Ok(refused);
            }
            write_commit(&txn, &commit)?;
            txn.commit()?;
            Ok(CommitOutcome::Committed)
        })
        .await
    }

    async fn already_committed(
        &self,
        _tenant: &TenantId,
        event: &ProviderEvent,
    ) -> Result<bool, StoreError> {
        let provider = event.provider;
        let event_id = event.event_id.clone();
        let payment_id = event.payment.as_ref().map(|p| p.payment_id.clone());
        self.run("reading a dedupe key", move |db| {
            if let Some(payment_id) = payment_id {
                if crate::ledger::payment_logged(db, provider.as_str(), &payment_id)? {
                    return Ok(true);
                }
            }
            let txn = db.begin_read()?;
            let dedupe = txn.open_table(DEDUPE_KEYS)?;
            Ok(dedupe
                .get((provider.as_str(), event_id.as_str()))?
                .is_some())
        })
        .await
    }

    async fn invoice_for_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        self.invoice_of_payment(tenant, provider, payment_id).await
    }

    async fn next_sequence(&self, series: &Series) -> Result<u64, StoreError> {
        self.series_next(series).await
    }

    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        let provider = parked.envelope.provider;
        let event_id = parked.envelope.event_id.clone();
        let row = encode(
            "parked event",
            &ParkedRow {
                envelope: parked.envelope.clone(),
                reason: parked.reason.clone(),
                parked_at: parked.parked_at,
            },
        )
        .map_err(|f| f.into_store_error("parking an event"))?;
        self.run("parking an event", move |db| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(PARKED_EVENTS)?;
                let key = (provider.as_str(), event_id.as_str());
                // Parked by an earlier delivery: the first reason is kept.
                if table.get(key)?.is_some() {
                    drop(table);
                    txn.abort()?;
                    return Ok(());
                }
                table.insert(key, row.as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_testkit::store_contract::{commit, Seed};

    fn garble<K: redb::Key + 'static>(
        db: &EmbeddedDb,
        table: TableDefinition<K, &'static [u8]>,
        key: K::SelfType<'_>,
    ) {
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(table)
            .unwrap()
            .insert(key, b"{not json \xff".as_slice())
            .unwrap();
        txn.commit().unwrap();
    }

    fn record(tenant: &TenantId) -> Subscription {
        Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(1))
    }

    #[tokio::test]
    async fn an_undecodable_record_is_corrupt_for_reads_and_commits() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let store = db.store();
        let tenant = Seed::unique().tenant("a");
        garble(&db, SUBSCRIPTIONS, tenant.as_str());

        assert!(matches!(
            store.get_subscription(&tenant).await,
            Err(StoreError::Corrupt(_))
        ));
        let write = commit("evt_1", &tenant, Some((Some(1), record(&tenant))), vec![]);
        assert!(matches!(
            store.commit(&write).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn a_record_stored_under_another_tenant_is_corrupt() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let store = db.store();
        let seed = Seed::unique();
        let (a, b) = (seed.tenant("a"), seed.tenant("b"));
        let row = encode(
            "row",
            &SubscriptionRow {
                revision: 1,
                record: record(&b),
            },
        )
        .unwrap();
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(SUBSCRIPTIONS)
            .unwrap()
            .insert(a.as_str(), row.as_slice())
            .unwrap();
        txn.commit().unwrap();

        assert!(matches!(
            store.get_subscription(&a).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn undecodable_mappings_customers_dedupe_keys_and_parked_events_are_corrupt() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let store = db.store();
        let tenant = Seed::unique().tenant("a");
        let reference = ProviderRef {
            provider: Provider::Stripe,
            kind: RefKind::Customer,
            id: "cus_1".into(),
        };
        garble(&db, PROVIDER_REFS, ref_key(&reference));
        garble(&db, CUSTOMERS, (tenant.as_str(), "stripe"));
        garble(&db, DEDUPE_KEYS, ("stripe", "evt_1"));
        garble(&db, PARKED_EVENTS, ("stripe", "evt_2"));

        assert!(matches!(
            store.tenant_for(&reference).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store.customer_id(&tenant, Provider::Stripe).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store
                .claim_customer(&tenant, Provider::Stripe, "cus_1")
                .await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store.commit(&commit("evt_1", &tenant, None, vec![])).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(store.parked().await, Err(StoreError::Corrupt(_))));
        // A purge leaves what it cannot read.
        assert_eq!(
            store.purge_expired_dedupe_keys(UnixTime(i64::MAX)).await,
            Ok(0)
        );
    }

    #[tokio::test]
    async fn a_mapping_to_an_invalid_tenant_id_is_corrupt() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let reference = ProviderRef {
            provider: Provider::Stripe,
            kind: RefKind::Subscription,
            id: "sub_1".into(),
        };
        let row = encode(
            "row",
            &RefRow {
                tenant_id: "not a tenant#".into(),
            },
        )
        .unwrap();
        let txn = db.raw().begin_write().unwrap();
        txn.open_table(PROVIDER_REFS)
            .unwrap()
            .insert(ref_key(&reference), row.as_slice())
            .unwrap();
        txn.commit().unwrap();

        assert!(matches!(
            db.store().tenant_for(&reference).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn a_commit_carrying_another_tenants_record_is_refused_and_writes_nothing() {
        let db = EmbeddedDb::open_in_memory().unwrap();
        let store = db.store();
        let seed = Seed::unique();
        let (a, b) = (seed.tenant("a"), seed.tenant("b"));
        let mixed = commit("evt_1", &a, Some((None, record(&b))), vec![]);

        assert!(matches!(
            store.commit(&mixed).await,
            Err(StoreError::Permanent(_))
        ));
        assert_eq!(store.get_subscription(&a).await, Ok(None));
        assert_eq!(store.get_subscription(&b).await, Ok(None));
        let retried = commit("evt_1", &a, Some((None, record(&a))), vec![]);
        assert_eq!(store.commit(&retried).await, Ok(CommitOutcome::Committed));
    }
}
