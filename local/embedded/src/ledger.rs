//! The ledger in the embedded store: payments log, invoices, the series
//! counters that number them, and tenants' billing profiles. The checks and
//! writes here run inside the event commit's write transaction
//! (`store.rs`), so a payment, its invoice, its number and the event's
//! dedupe key land together or not at all.
//!
//! | table          | key                          | value (JSON)       |
//! |----------------|------------------------------|--------------------|
//! | `payments`     | (tenant, payment sort key)   | `PaymentRecord`    |
//! | `payment_ids`  | (provider, payment id)       | tenant id          |
//! | `invoices`     | (tenant, invoice id)         | `Invoice`          |
//! | `counters`     | series (`INV/26-27`)         | last number issued |
//! | `profiles`     | tenant                       | `BillingProfile`   |

use crate::failure::{decode, encode, Failure};
use crate::store::EmbeddedStore;
use async_trait::async_trait;
use billing_domain::ledger::{BillingProfile, DocumentKind, Invoice, PaymentRecord, Series};
use billing_domain::ports::{
    page_of, payment_record_key, EventCommit, LedgerReader, Page, PageRequest, ProfileStore,
    StoreError,
};
use billing_domain::{Provider, TenantId};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;

const PAYMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("payments");
const PAYMENT_IDS: TableDefinition<(&str, &str), &str> = TableDefinition::new("payment_ids");
const INVOICES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("invoices");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), Failure> {
    txn.open_table(PAYMENTS)?;
    txn.open_table(PAYMENT_IDS)?;
    txn.open_table(INVOICES)?;
    txn.open_table(COUNTERS)?;
    txn.open_table(PROFILES)?;
    Ok(())
}

/// The payment the commit logs was logged before: the event is a duplicate.
pub(crate) fn payment_seen(txn: &WriteTransaction, commit: &EventCommit) -> Result<bool, Failure> {
    let Some(ledger) = &commit.ledger else {
        return Ok(false);
    };
    let payment = &ledger.payment;
    let ids = txn.open_table(PAYMENT_IDS)?;
    let seen = ids
        .get((payment.provider.as_str(), payment.payment_id.as_str()))?
        .is_some();
    Ok(seen)
}

/// Whether a payment attempt was logged, read outside a commit.
pub(crate) fn payment_logged(
    db: &redb::Database,
    provider: &str,
    payment_id: &str,
) -> Result<bool, Failure> {
    let txn = db.begin_read()?;
    let ids = txn.open_table(PAYMENT_IDS)?;
    let seen = ids.get((provider, payment_id))?.is_some();
    Ok(seen)
}

/// Another commit took the invoice's number first.
pub(crate) fn number_taken(txn: &WriteTransaction, commit: &EventCommit) -> Result<bool, Failure> {
    let Some(invoice) = commit.ledger.as_ref().and_then(|l| l.invoice.as_ref()) else {
        return Ok(false);
    };
    let counters = txn.open_table(COUNTERS)?;
    let last = counters
        .get(invoice.series().as_str())?
        .map_or(0, |v| v.value());
    Ok(last + 1 != invoice.sequence)
}

/// Writes what the refusal checks cleared.
pub(crate) fn write_ledger(txn: &WriteTransaction, commit: &EventCommit) -> Result<(), Failure> {
    let Some(ledger) = &commit.ledger else {
        return Ok(());
    };
    let tenant = commit.tenant.as_str();
    let payment = &ledger.payment;
    let row = encode("payment", payment)?;
    txn.open_table(PAYMENTS)?.insert(
        (tenant, payment_record_key(payment).as_str()),
        row.as_slice(),
    )?;
    txn.open_table(PAYMENT_IDS)?.insert(
        (payment.provider.as_str(), payment.payment_id.as_str()),
        tenant,
    )?;
    if let Some(invoice) = &ledger.invoice {
        let row = encode("invoice", invoice)?;
        txn.open_table(INVOICES)?
            .insert((tenant, invoice.id.as_str()), row.as_slice())?;
        txn.open_table(COUNTERS)?
            .insert(invoice.series().as_str(), invoice.sequence)?;
    }
    Ok(())
}

/// One tenant's rows of `table`, newest (greatest key) first.
fn newest_first<T: DeserializeOwned>(
    db: &redb::Database,
    table: TableDefinition<(&str, &str), &[u8]>,
    tenant: &str,
    what: &str,
) -> Result<Vec<(String, T)>, Failure> {
    let txn = db.begin_read()?;
    let table = txn.open_table(table)?;
    let mut rows = Vec::new();
    for entry in table.range((tenant, "")..)?.rev() {
        let (key, bytes) = entry?;
        let (owner, id) = key.value();
        if owner != tenant {
            continue;
        }
        rows.push((
            id.to_owned(),
            decode(&format!("{what} {id}"), bytes.value())?,
        ));
    }
    Ok(rows)
}

impl EmbeddedStore {
    pub(crate) async fn invoice_of_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        let (tenant, payment_id) = (tenant.clone(), payment_id.to_owned());
        self.run("finding a payment's invoice", move |db| {
            let rows: Vec<(String, Invoice)> =
                newest_first(db, INVOICES, tenant.as_str(), "invoice")?;
            Ok(rows
                .into_iter()
                .map(|(_, invoice)| invoice)
                .find(|invoice| {
                    invoice.provider == provider
                        && invoice.payment_id == payment_id
                        && invoice.kind == DocumentKind::Invoice
                }))
        })
        .await
    }

    pub(crate) async fn series_next(&self, series: &Series) -> Result<u64, StoreError> {
        let series = series.as_str().to_owned();
        self.run("reading an invoice counter", move |db| {
            let txn = db.begin_read()?;
            let counters = txn.open_table(COUNTERS)?;
            Ok(counters.get(series.as_str())?.map_or(0, |v| v.value()) + 1)
        })
        .await
    }
}

#[async_trait]
impl ProfileStore for EmbeddedStore {
    async fn get_profile(&self, tenant: &TenantId) -> Result<Option<BillingProfile>, StoreError> {
        let tenant = tenant.clone();
        self.run("reading a billing profile", move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(PROFILES)?;
            let Some(bytes) = table.get(tenant.as_str())? else {
                return Ok(None);
            };
            Ok(Some(decode(
                &format!("billing profile of tenant {tenant}"),
                bytes.value(),
            )?))
        })
        .await
    }

    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError> {
        let row = encode("billing profile", profile)
            .map_err(|f| f.into_store_error("saving a billing profile"))?;
        let tenant = tenant.clone();
        self.run("saving a billing profile", move |db| {
            let txn = db.begin_write()?;
            txn.open_table(PROFILES)?
                .insert(tenant.as_str(), row.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl LedgerReader for EmbeddedStore {
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        let (tenant, page) = (tenant.clone(), page.clone());
        self.run("listing invoices", move |db| {
            let mut rows: Vec<(String, Invoice)> =
                newest_first(db, INVOICES, tenant.as_str(), "invoice")?;
            rows.retain(|(_, invoice)| invoice.kind == DocumentKind::Invoice);
            Ok(page_of(&rows, &page))
        })
        .await
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.run("reading an invoice", move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(INVOICES)?;
            let Some(bytes) = table.get((tenant.as_str(), id.as_str()))? else {
                return Ok(None);
            };
            Ok(Some(decode(&format!("invoice {id}"), bytes.value())?))
        })
        .await
    }

    async fn list_payments(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        let (tenant, page) = (tenant.clone(), page.clone());
        self.run("listing payments", move |db| {
            let rows: Vec<(String, PaymentRecord)> =
                newest_first(db, PAYMENTS, tenant.as_str(), "payment")?;
            Ok(page_of(&rows, &page))
        })
        .await
    }
}
