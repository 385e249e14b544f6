//! The store contract (billing_testkit::store_contract), the same list the
//! memory and DynamoDB stores pass, run against EmbeddedStore on a real file:
//! one fresh file in its own temporary directory per test.

use async_trait::async_trait;
use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord};
use billing_domain::ledger::{BillingProfile, Invoice, PaymentRecord, Series};
use billing_domain::ports::{
    Begun, CommitOutcome, CustomerRegistry, EventCommit, EventLedger, IdempotencyStore,
    IntentRecorder, LedgerReader, Page, PageRequest, ParkedEvent, ProfileStore, ProviderRef, Saved,
    Settled, StoreError, StoredSubscription, SubscriptionReader, SubscriptionWrite,
    TenantDirectory,
};
use billing_domain::{Provider, ProviderEvent, TenantId, UnixTime};
use billing_embedded::EmbeddedStore;
use tempfile::TempDir;

/// A store with the directory of its file, removed when the test ends.
struct StoreInTempDir {
    store: EmbeddedStore,
    _dir: TempDir,
}

async fn fresh_store() -> StoreInTempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store =
        EmbeddedStore::open(&dir.path().join("billing.redb")).expect("open the embedded store");
    StoreInTempDir { store, _dir: dir }
}

billing_testkit::store_contract_tests!(fresh_store);

#[async_trait]
impl SubscriptionReader for StoreInTempDir {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        self.store.get_subscription(tenant).await
    }
}

#[async_trait]
impl TenantDirectory for StoreInTempDir {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        self.store.tenant_for(reference).await
    }
}

#[async_trait]
impl CustomerRegistry for StoreInTempDir {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        self.store.customer_id(tenant, provider).await
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        self.store
            .claim_customer(tenant, provider, customer_id)
            .await
    }
}

#[async_trait]
impl IntentRecorder for StoreInTempDir {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        self.store.save_subscription(write).await
    }
}

#[async_trait]
impl EventLedger for StoreInTempDir {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        self.store.commit(commit).await
    }

    async fn already_committed(
        &self,
        tenant: &TenantId,
        event: &ProviderEvent,
    ) -> Result<bool, StoreError> {
        self.store.already_committed(tenant, event).await
    }

    async fn invoice_for_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        self.store
            .invoice_for_payment(tenant, provider, payment_id)
            .await
    }

    async fn next_sequence(&self, series: &Series) -> Result<u64, StoreError> {
        self.store.next_sequence(series).await
    }

    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        self.store.park(parked).await
    }
}

#[async_trait]
impl ProfileStore for StoreInTempDir {
    async fn get_profile(&self, tenant: &TenantId) -> Result<Option<BillingProfile>, StoreError> {
        self.store.get_profile(tenant).await
    }

    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError> {
        self.store.put_profile(tenant, profile).await
    }
}

#[async_trait]
impl LedgerReader for StoreInTempDir {
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        self.store.list_invoices(tenant, page).await
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        self.store.get_invoice(tenant, id).await
    }

    async fn list_payments(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        self.store.list_payments(tenant, page).await
    }
}

#[async_trait]
impl IdempotencyStore for StoreInTempDir {
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        self.store.begin_request(tenant, key, record, now).await
    }

    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        self.store
            .complete_request(tenant, key, begun, completed)
            .await
    }

    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        self.store.release_request(tenant, key, begun).await
    }
}
