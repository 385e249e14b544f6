//! The ledger's items: the payment log entry, the invoice and its series
//! counter (written inside the event commit's transaction, `commit.rs`),
//! the tenant's billing profile, and the paged reads of invoices and
//! payments.
//!
//! A payment event's log entry doubles as its dedupe key: it is keyed by
//! the payment attempt, which every delivery of the event names alike, so
//! such a commit writes no separate `EVENT#` item. That keeps a paid
//! invoice's commit at four items (payment, record, invoice, counter).

use super::commit::{names_in, ITEM_IS_NEW};
use super::item::{n, packed, s, string_attribute, unpacked, Item};
use super::keys::{
    credit_note_sk, invoice_sk, payment_sk, series_pk, tenant_pk, INVOICE_PREFIX, PAYMENT_PREFIX,
    PROFILE_SK, SERIES_SK,
};
use super::{store_error, DynamoStore};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use billing_domain::ledger::{BillingProfile, DocumentKind, Invoice, PaymentRecord, Series};
use billing_domain::ports::{LedgerWrite, Page, PageRequest, StoreError, MAX_PAGE_SIZE};
use billing_domain::{Provider, TenantId};
use serde::de::DeserializeOwned;

/// The counter holds the last number its series issued.
const LAST: &str = "last";
pub(super) const COUNTER_IS_NEW: &str = "attribute_not_exists(#pk)";
pub(super) const COUNTER_IS_AT: &str = "#last = :previous";

/// The items a ledger write adds to the commit.
pub(super) struct LedgerItems {
    pub payment: TransactWriteItem,
    /// The invoice's put and its counter's conditional update.
    pub invoice: Option<(TransactWriteItem, TransactWriteItem)>,
}

impl DynamoStore {
    pub(super) fn ledger_items(
        &self,
        tenant: &TenantId,
        ledger: &LedgerWrite,
    ) -> Result<LedgerItems, StoreError> {
        let payment = &ledger.payment;
        let item = Item::from([
            ("pk".into(), s(tenant_pk(tenant))),
            (
                "sk".into(),
                s(payment_sk(
                    payment.at,
                    payment.provider,
                    &payment.payment_id,
                )),
            ),
            ("doc".into(), s(json("payment", payment)?)),
        ]);
        let payment = TransactWriteItem::builder()
            .put(self.put(item, ITEM_IS_NEW, &[])?)
            .build();
        let invoice = match &ledger.invoice {
            None => None,
            Some(invoice) => Some((
                TransactWriteItem::builder()
                    .put(self.put(invoice_item(tenant, invoice)?, ITEM_IS_NEW, &[])?)
                    .build(),
                TransactWriteItem::builder()
                    .update(self.counter_update(&invoice.series(), invoice.sequence)?)
                    .build(),
            )),
        };
        Ok(LedgerItems { payment, invoice })
    }

    /// Moves the series' counter to `sequence`, only from `sequence - 1`
    /// (or from nothing, for the first number).
    fn counter_update(&self, series: &Series, sequence: u64) -> Result<Update, StoreError> {
        let condition = if sequence == 1 {
            COUNTER_IS_NEW
        } else {
            COUNTER_IS_AT
        };
        let mut names = names_in(condition);
        names.insert("#last".into(), LAST.into());
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(series_pk(series)))
            .key("sk", s(SERIES_SK))
            .update_expression("SET #last = :next")
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":next", n(sequence));
        if sequence > 1 {
            update = update.expression_attribute_values(":previous", n(sequence - 1));
        }
        update
            .build()
            .map_err(|e| StoreError::Permanent(format!("building an Update: {e}")))
    }

    pub(super) async fn series_next(&self, series: &Series) -> Result<u64, StoreError> {
        let item = self
            .get_item(
                "GetItem series counter",
                series_pk(series),
                SERIES_SK.into(),
            )
            .await?;
        let last = match item.as_ref().and_then(|i| i.get(LAST)) {
            None => 0,
            Some(AttributeValue::N(value)) => value.parse::<u64>().map_err(|_| {
                StoreError::Corrupt(format!(
                    "counter of series {}: not a count",
                    series.as_str()
                ))
            })?,
            Some(_) => {
                return Err(StoreError::Corrupt(format!(
                    "counter of series {}: not a number",
                    series.as_str()
                )))
            }
        };
        Ok(last + 1)
    }

    pub(super) async fn read_profile(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<BillingProfile>, StoreError> {
        let Some(item) = self
            .get_item(
                "GetItem billing profile",
                tenant_pk(tenant),
                PROFILE_SK.into(),
            )
            .await?
        else {
            return Ok(None);
        };
        let doc = string_attribute(&item, "doc").unwrap_or_default();
        serde_json::from_str(doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("billing profile of tenant {tenant}: {e}")))
    }

    pub(super) async fn write_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError> {
        let item = Item::from([
            ("pk".into(), s(tenant_pk(tenant))),
            ("sk".into(), s(PROFILE_SK)),
            ("doc".into(), s(json("billing profile", profile)?)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem billing profile", &e))?;
        Ok(())
    }

    /// An invoice, or else a credit note, by id.
    pub(super) async fn read_invoice(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        for sk in [invoice_sk(id), credit_note_sk(id)] {
            if let Some(item) = self
                .get_item("GetItem invoice", tenant_pk(tenant), sk)
                .await?
            {
                return read_invoice_item(&item).map(Some);
            }
        }
        Ok(None)
    }

    /// One page of the tenant's items under `prefix`, newest (greatest sort
    /// key) first. It asks for one item more than the page holds, so the
    /// cursor is set exactly when another page exists.
    pub(super) async fn page<T>(
        &self,
        operation: &str,
        tenant: &TenantId,
        prefix: &str,
        page: &PageRequest,
        read: impl Fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let limit = page.limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(tenant_pk(tenant)))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit as i32 + 1);
        if let Some(cursor) = &page.cursor {
            query = query
                .exclusive_start_key("pk", s(tenant_pk(tenant)))
                .exclusive_start_key("sk", s(format!("{prefix}{cursor}")));
        }
        let output = query.send().await.map_err(|e| store_error(operation, &e))?;
        let items = output.items.unwrap_or_default();
        let more = items.len() > limit;
        let mut page_items = Vec::with_capacity(limit);
        let mut last_key = None;
        for item in items.iter().take(limit) {
            page_items.push(read(item)?);
            last_key =
                string_attribute(item, "sk").map(|sk| sk.trim_start_matches(prefix).to_owned());
        }
        Ok(Page {
            items: page_items,
            next_cursor: if more { last_key } else { None },
        })
    }

    /// The invoice of a payment: a tenant has few, so its invoices are
    /// paged through rather than indexed (a refund is rare; an index would
    /// cost every paid invoice's commit a write).
    pub(super) async fn invoice_of_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        let mut page = PageRequest {
            cursor: None,
            limit: MAX_PAGE_SIZE,
        };
        loop {
            let found = self.invoices_page(tenant, &page).await?;
            if let Some(invoice) = found.items.into_iter().find(|invoice| {
                invoice.provider == provider
                    && invoice.payment_id == payment_id
                    && invoice.kind == DocumentKind::Invoice
            }) {
                return Ok(Some(invoice));
            }
            match found.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(None),
            }
        }
    }

    pub(super) async fn invoices_page(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        self.page(
            "Query invoices",
            tenant,
            INVOICE_PREFIX,
            page,
            read_invoice_item,
        )
        .await
    }

    pub(super) async fn payments_page(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        self.page("Query payments", tenant, PAYMENT_PREFIX, page, |item| {
            document(item, "doc", "payment")
        })
        .await
    }
}

fn json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Permanent(format!("{what} does not serialize: {e}")))
}

/// The invoice or credit note, packed; its sort key shows the number.
fn invoice_item(tenant: &TenantId, invoice: &Invoice) -> Result<Item, StoreError> {
    let sk = match invoice.kind {
        DocumentKind::Invoice => invoice_sk(&invoice.id),
        DocumentKind::CreditNote => credit_note_sk(&invoice.id),
    };
    Ok(Item::from([
        ("pk".into(), s(tenant_pk(tenant))),
        ("sk".into(), s(sk)),
        ("doc".into(), packed("invoice", invoice)?),
    ]))
}

fn read_invoice_item(item: &Item) -> Result<Invoice, StoreError> {
    let sk = string_attribute(item, "sk").unwrap_or_default();
    unpacked(item, "doc")
        .map_err(|e| StoreError::Corrupt(format!("invoice item {sk}: {e}")))?
        .ok_or_else(|| StoreError::Corrupt(format!("invoice item {sk}: doc is missing")))
}

fn document<T: DeserializeOwned>(item: &Item, name: &str, what: &str) -> Result<T, StoreError> {
    let sk = string_attribute(item, "sk").unwrap_or_default();
    let doc = string_attribute(item, name)
        .ok_or_else(|| StoreError::Corrupt(format!("{what} item {sk}: {name} is missing")))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{what} item {sk}: {e}")))
}
