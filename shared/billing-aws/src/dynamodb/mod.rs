//! The DynamoDB store: subscription records, event dedupe keys, provider-id
//! claims, tenants' provider customers, parked events, and the ledger
//! (payments log, invoices, their series counters, billing profiles), all
//! in ONE table. It implements the storage ports with the semantics of
//! `billing_testkit::memory::MemoryStore`, and passes the same contract suite
//! (`billing_testkit::store_contract`).
//!
//! # Item layout
//!
//! Key: `pk` (S, partition) + `sk` (S, sort). TTL attribute: `expires_at`
//! (N, epoch seconds), set on dedupe items and idempotency records.
//!
//! | item                        | `pk`                                   | `sk`                  | other attributes |
//! |-----------------------------|----------------------------------------|-----------------------|------------------|
//! | subscription record         | `TENANT#{tenant}`                      | `SUBSCRIPTION`        | `revision` (N), `record_z` (B, deflated JSON), projections (below) |
//! | tenant's provider customer  | `TENANT#{tenant}`                      | `CUSTOMER#{provider}` | `customer_id`, `provider`, `tenant_id` |
//! | idempotency record (our API) | `TENANT#{tenant}`                     | `IDEMPOTENCY#{key}`   | `fingerprint`, `locked_until` or `status` + `body`, `expires_at` (N, TTL) |
//! | billing profile             | `TENANT#{tenant}`                      | `PROFILE`             | `doc` (S, JSON) |
//! | payment (log entry; a payment event's dedupe key) | `TENANT#{tenant}` | `PAYMENT#{time:010}#{provider}#{payment id}` | `doc` (S, JSON) |
//! | invoice                     | `TENANT#{tenant}`                      | `INVOICE#{id}`        | `doc` (B, deflated JSON) |
//! | credit note                 | `TENANT#{tenant}`                      | `CREDIT#{id}`         | `doc` (B, deflated JSON) |
//! | series counter              | `SERIES#{series}` (`SERIES#INV/26-27`) | `SERIES`              | `last` (N): the last number issued |
//! | provider id → tenant        | `REF#{provider}#{customer\|subscription}#{id}` | `REF`         | `tenant_id` |
//! | dedupe key (seen event)     | `EVENT#{provider}#{event_id}`          | `EVENT`               | `tenant_id`, `expires_at` (N, TTL) |
//! | parked event                | `PARKED#{provider}`                    | `{event_id}`          | `envelope` (S, JSON), `reason`, `parked_at` (N), `event_type` |
//!
//! The subscription item's projections are top-level copies of the record's
//! readable fields, for the console, ad-hoc queries and exports: `provider`,
//! `status`, `plan`, `provider_subscription_id`, `current_period_end`,
//! `cancel_at_period_end`, `seats`, `updated_at` (absent when the field is
//! `None`). They are written, never read back. Records written by earlier
//! versions (`record`, plain JSON) still read.
//!
//! **Why the record is one attribute and not mapped attribute by attribute
//! (serde_dynamo):** the record is read and written whole, never partially
//! updated or filtered on its nested facets, so JSON round-trips it exactly
//! (`None` vs absent, nested facets, integers) with the domain's own serde
//! derives, adds no dependency pinned to the SDK's version, and evolves with
//! the domain type. It is deflated because its field names repeat in every
//! facet: packed, a full record stays under the 1 KB of one write unit. The
//! `revision` attribute, outside it, carries the optimistic-concurrency
//! condition.
//!
//! # Every write is conditional
//!
//! `commit` is ONE `TransactWriteItems`, so the dedupe key, the record, the
//! payment, the invoice with its number and the claims land together or not
//! at all: dedupe or payment `attribute_not_exists`, record
//! `attribute_not_exists` (first write) or `revision = :expected`, invoice
//! `attribute_not_exists`, series counter `last = :previous` (or absent for
//! number 1), claims `attribute_not_exists OR tenant_id = :tenant`. The
//! cancellation reasons say which condition failed. Our API's own write of a
//! record (a pending change) is one `PutItem` under the same revision
//! condition.
//!
//! # Write units
//!
//! `capacity` counts what a commit costs by DynamoDB's documented rules; its
//! tests pin a paid invoice's commit (payment, record, invoice, counter, each
//! under 1 KB, ×2 in a transaction) at 8 write units.
//!
//! # Files
//!
//! `keys` is the layout above, `item` the record's encoding, `commit` the
//! conditional writes and what a cancelled transaction means, `ledger` the
//! ledger's items and reads, `capacity` the write-unit count, `idempotency`
//! our API's idempotency records, `table` the set-up for tests and local
//! runs; this file holds the reads and the ports.

mod capacity;
mod commit;
mod idempotency;
mod item;
mod keys;
mod ledger;
mod table;

pub use keys::TTL_ATTRIBUTE;
pub use table::create_table;

use crate::aws_error::{classify, describe, Retry};
use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord};
use billing_domain::ledger::{BillingProfile, Invoice, PaymentRecord, Series};
use billing_domain::ports::{
    Begun, CommitOutcome, CustomerRegistry, EventCommit, EventLedger, IdempotencyStore,
    IntentRecorder, ParkedEvent, ProviderRef, Saved, Settled, StoreError, StoredSubscription,
    SubscriptionReader, SubscriptionWrite, TenantDirectory,
};
use billing_domain::ports::{LedgerReader, Page, PageRequest, ProfileStore};
use billing_domain::{Provider, ProviderEvent, TenantId, UnixTime};
use commit::{names_in, ITEM_IS_NEW};
use item::{n, read_subscription, s, string_attribute, Item};
use keys::{
    customer_sk, event_pk, parked_pk, payment_sk, ref_pk, tenant_pk, EVENT_SK, REF_SK,
    SUBSCRIPTION_SK,
};

/// The storage ports over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store with its own client, built from the shared SDK configuration.
    pub fn from_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    /// `client` is built once per cold start and shared; `table` is the
    /// table's name (from the function's environment).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(
        &self,
        operation: &str,
        pk: String,
        sk: String,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            // Reads follow writes made a moment ago by another invocation
            // (the revision check, a claim just committed): never stale.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(operation, &e))?;
        Ok(output.item)
    }
}

/// An SDK failure as the store's error, keeping whether a retry may succeed.
fn store_error<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = describe(operation, err);
    match classify(err) {
        Retry::Transient => StoreError::Transient(message),
        Retry::Permanent => StoreError::Permanent(message),
    }
}

#[async_trait]
impl SubscriptionReader for DynamoStore {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        let item = self
            .get_item(
                "GetItem subscription",
                tenant_pk(tenant),
                SUBSCRIPTION_SK.into(),
            )
            .await?;
        item.map(|item| read_subscription(tenant, &item))
            .transpose()
    }
}

#[async_trait]
impl IntentRecorder for DynamoStore {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        self.save_record(write).await
    }
}

#[async_trait]
impl TenantDirectory for DynamoStore {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        let Some(item) = self
            .get_item(
                "GetItem provider reference",
                ref_pk(reference),
                REF_SK.into(),
            )
            .await?
        else {
            return Ok(None);
        };
        let tenant = string_attribute(&item, "tenant_id")
            .and_then(|t| TenantId::parse(t).ok())
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "mapping of {reference}: tenant_id is missing or invalid"
                ))
            })?;
        Ok(Some(tenant))
    }
}

#[async_trait]
impl CustomerRegistry for DynamoStore {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        let Some(item) = self
            .get_item("GetItem customer", tenant_pk(tenant), customer_sk(provider))
            .await?
        else {
            return Ok(None);
        };
        let id = string_attribute(&item, "customer_id").ok_or_else(|| {
            StoreError::Corrupt(format!(
                "{provider} customer of tenant {tenant}: customer_id is missing"
            ))
        })?;
        Ok(Some(id.to_owned()))
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        self.claim_customer_transaction(tenant, provider, customer_id)
            .await
    }
}

#[async_trait]
impl EventLedger for DynamoStore {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        self.commit_transaction(commit).await
    }

    async fn already_committed(
        &self,
        tenant: &TenantId,
        event: &ProviderEvent,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = match &event.payment {
            Some(p) => (
                tenant_pk(tenant),
                payment_sk(p.at, event.provider, &p.payment_id),
            ),
            None => (event_pk(event.provider, &event.event_id), EVENT_SK.into()),
        };
        Ok(self.get_item("GetItem dedupe key", pk, sk).await?.is_some())
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
        let envelope = &parked.envelope;
        let json = serde_json::to_string(envelope)
            .map_err(|e| StoreError::Permanent(format!("envelope does not serialize: {e}")))?;
        let item = Item::from([
            ("pk".into(), s(parked_pk(envelope.provider))),
            ("sk".into(), s(envelope.event_id.as_str())),
            ("envelope".into(), s(json)),
            ("reason".into(), s(parked.reason.as_str())),
            ("parked_at".into(), n(parked.parked_at.seconds())),
            ("event_type".into(), s(envelope.event.event_type.as_str())),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(ITEM_IS_NEW)
            .set_expression_attribute_names(Some(names_in(ITEM_IS_NEW)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Parked by an earlier delivery: the first reason is kept.
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(store_error("PutItem parked event", &err)),
        }
    }
}

#[async_trait]
impl ProfileStore for DynamoStore {
    async fn get_profile(&self, tenant: &TenantId) -> Result<Option<BillingProfile>, StoreError> {
        self.read_profile(tenant).await
    }

    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError> {
        self.write_profile(tenant, profile).await
    }
}

#[async_trait]
impl LedgerReader for DynamoStore {
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        self.invoices_page(tenant, page).await
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        self.read_invoice(tenant, id).await
    }

    async fn list_payments(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        self.payments_page(tenant, page).await
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        self.begin_idempotent_request(tenant, key, record, now)
            .await
    }

    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        self.complete_idempotent_request(tenant, key, begun, completed)
            .await
    }

    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        self.release_idempotent_request(tenant, key, begun).await
    }
}
