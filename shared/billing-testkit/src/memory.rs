//! In-memory implementations of the storage, queue and secret ports, with the
//! same conditional and transactional semantics as the DynamoDB adapter.

use async_trait::async_trait;
use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord};
use billing_domain::ledger::{BillingProfile, DocumentKind, Invoice, PaymentRecord, Series};
use billing_domain::ports::{
    page_of, payment_record_key, LedgerReader, Page, PageRequest, ProfileStore,
};
use billing_domain::ports::{
    Begun, IdempotencyStore, IntentRecorder, Saved, Settled, SubscriptionWrite,
};
use billing_domain::ports::{
    CommitOutcome, CustomerRegistry, EventCommit, EventLedger, EventQueue, ParkedEvent,
    ProviderRef, QueueError, SecretError, SecretSource, SecretText, StoreError, StoredSubscription,
    SubscriptionReader, TenantDirectory,
};
use billing_domain::{Provider, ProviderEvent, TenantId, UnixTime, WebhookEnvelope};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Tables {
    subscriptions: HashMap<TenantId, StoredSubscription>,
    refs: HashMap<ProviderRef, TenantId>,
    customers: HashMap<(TenantId, Provider), String>,
    seen_events: HashSet<(Provider, String)>,
    parked: Vec<ParkedEvent>,
    idempotency: HashMap<(TenantId, IdempotencyKey), IdempotencyRecord>,
    profiles: HashMap<TenantId, BillingProfile>,
    /// The payments log by tenant and sort key, and the attempts it holds.
    payments: BTreeMap<(TenantId, String), PaymentRecord>,
    payment_ids: HashSet<(Provider, String)>,
    invoices: BTreeMap<(TenantId, String), Invoice>,
    /// The last number each series issued.
    counters: HashMap<Series, u64>,
}

/// A store whose every operation is atomic under one lock.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn parked(&self) -> Vec<ParkedEvent> {
        self.tables().parked.clone()
    }
}

#[async_trait]
impl SubscriptionReader for MemoryStore {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        Ok(self.tables().subscriptions.get(tenant).cloned())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn begin_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        let mut tables = self.tables();
        let slot = (tenant.clone(), key.clone());
        if let Some(existing) = tables.idempotency.get(&slot).filter(|r| r.is_live(now)) {
            return Ok(Begun::Existing(existing.clone()));
        }
        tables.idempotency.insert(slot, record.clone());
        Ok(Begun::Started)
    }

    async fn complete_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        let mut tables = self.tables();
        let slot = (tenant.clone(), key.clone());
        if tables.idempotency.get(&slot) != Some(begun) {
            return Ok(Settled::Lost);
        }
        tables.idempotency.insert(slot, completed.clone());
        Ok(Settled::Held)
    }

    async fn release_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        let mut tables = self.tables();
        let slot = (tenant.clone(), key.clone());
        if tables.idempotency.get(&slot) != Some(begun) {
            return Ok(Settled::Lost);
        }
        tables.idempotency.remove(&slot);
        Ok(Settled::Held)
    }
}

#[async_trait]
impl TenantDirectory for MemoryStore {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        Ok(self.tables().refs.get(reference).cloned())
    }
}

#[async_trait]
impl CustomerRegistry for MemoryStore {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .tables()
            .customers
            .get(&(tenant.clone(), provider))
            .cloned())
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        let mut t = self.tables();
        if let Some(existing) = t.customers.get(&(tenant.clone(), provider)) {
            return Ok(existing.clone());
        }
        let reference = ProviderRef {
            provider,
            kind: billing_domain::ports::RefKind::Customer,
            id: customer_id.to_owned(),
        };
        if let Some(owner) = t.refs.get(&reference) {
            if owner != tenant {
                return Err(StoreError::Permanent(format!(
                    "{reference} already belongs to another tenant"
                )));
            }
        }
        t.refs.insert(reference, tenant.clone());
        t.customers
            .insert((tenant.clone(), provider), customer_id.to_owned());
        Ok(customer_id.to_owned())
    }
}

#[async_trait]
impl IntentRecorder for MemoryStore {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        let mut t = self.tables();
        let tenant = &write.subscription.tenant_id;
        let current = t.subscriptions.get(tenant).map(|s| s.revision);
        if current != write.expected_revision {
            return Ok(Saved::RevisionConflict);
        }
        t.subscriptions.insert(
            tenant.clone(),
            StoredSubscription {
                subscription: write.subscription.clone(),
                revision: write.expected_revision.map_or(1, |r| r + 1),
            },
        );
        Ok(Saved::Written)
    }
}

#[async_trait]
impl EventLedger for MemoryStore {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let key = (commit.provider, commit.event_id.clone());
        let payment_key = commit
            .ledger
            .as_ref()
            .map(|l| (l.payment.provider, l.payment.payment_id.clone()));
        if t.seen_events.contains(&key)
            || payment_key
                .as_ref()
                .is_some_and(|p| t.payment_ids.contains(p))
        {
            return Ok(CommitOutcome::Duplicate);
        }
        if let Some(write) = &commit.write {
            let current = t.subscriptions.get(&commit.tenant).map(|s| s.revision);
            if current != write.expected_revision {
                return Ok(CommitOutcome::RevisionConflict);
            }
        }
        let invoice = commit.ledger.as_ref().and_then(|l| l.invoice.as_ref());
        if let Some(invoice) = invoice {
            let last = t.counters.get(&invoice.series()).copied().unwrap_or(0);
            if last + 1 != invoice.sequence {
                return Ok(CommitOutcome::SequenceConflict);
            }
        }
        for reference in &commit.claims {
            if let Some(owner) = t.refs.get(reference) {
                if owner != &commit.tenant {
                    return Ok(CommitOutcome::ClaimedByOtherTenant {
                        reference: reference.clone(),
                    });
                }
            }
        }
        t.seen_events.insert(key);
        if let Some(ledger) = &commit.ledger {
            let payment = &ledger.payment;
            t.payment_ids.extend(payment_key);
            t.payments.insert(
                (commit.tenant.clone(), payment_record_key(payment)),
                payment.clone(),
            );
            if let Some(invoice) = &ledger.invoice {
                t.counters.insert(invoice.series(), invoice.sequence);
                t.invoices
                    .insert((commit.tenant.clone(), invoice.id.clone()), invoice.clone());
            }
        }
        if let Some(write) = &commit.write {
            let revision = write.expected_revision.map_or(1, |r| r + 1);
            t.subscriptions.insert(
                commit.tenant.clone(),
                StoredSubscription {
                    subscription: write.subscription.clone(),
                    revision,
                },
            );
            for reference in &commit.claims {
                t.refs.insert(reference.clone(), commit.tenant.clone());
            }
        }
        Ok(CommitOutcome::Committed)
    }

    async fn already_committed(
        &self,
        _tenant: &TenantId,
        event: &ProviderEvent,
    ) -> Result<bool, StoreError> {
        let t = self.tables();
        Ok(t.seen_events
            .contains(&(event.provider, event.event_id.clone()))
            || event.payment.as_ref().is_some_and(|p| {
                t.payment_ids
                    .contains(&(event.provider, p.payment_id.clone()))
            }))
    }

    async fn invoice_for_payment(
        &self,
        tenant: &TenantId,
        provider: Provider,
        payment_id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        Ok(self
            .tables()
            .invoices
            .iter()
            .find(|((owner, _), invoice)| {
                owner == tenant
                    && invoice.provider == provider
                    && invoice.payment_id == payment_id
                    && invoice.kind == DocumentKind::Invoice
            })
            .map(|(_, invoice)| invoice.clone()))
    }

    async fn next_sequence(&self, series: &Series) -> Result<u64, StoreError> {
        Ok(self.tables().counters.get(series).copied().unwrap_or(0) + 1)
    }

    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        let mut t = self.tables();
        let same = |p: &ParkedEvent| {
            p.envelope.provider == parked.envelope.provider
                && p.envelope.event_id == parked.envelope.event_id
        };
        if !t.parked.iter().any(same) {
            t.parked.push(parked.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl ProfileStore for MemoryStore {
    async fn get_profile(&self, tenant: &TenantId) -> Result<Option<BillingProfile>, StoreError> {
        Ok(self.tables().profiles.get(tenant).cloned())
    }

    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError> {
        self.tables()
            .profiles
            .insert(tenant.clone(), profile.clone());
        Ok(())
    }
}

/// One tenant's entries of `map`, newest (greatest key) first.
fn newest_first<T: Clone>(
    map: &BTreeMap<(TenantId, String), T>,
    tenant: &TenantId,
) -> Vec<(String, T)> {
    map.iter()
        .filter(|((owner, _), _)| owner == tenant)
        .rev()
        .map(|((_, key), item)| (key.clone(), item.clone()))
        .collect()
}

#[async_trait]
impl LedgerReader for MemoryStore {
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Invoice>, StoreError> {
        let mut invoices = newest_first(&self.tables().invoices, tenant);
        invoices.retain(|(_, invoice)| invoice.kind == DocumentKind::Invoice);
        Ok(page_of(&invoices, page))
    }

    async fn get_invoice(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        Ok(self
            .tables()
            .invoices
            .get(&(tenant.clone(), id.to_owned()))
            .cloned())
    }

    async fn list_payments(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<PaymentRecord>, StoreError> {
        Ok(page_of(
            &newest_first(&self.tables().payments, tenant),
            page,
        ))
    }
}

/// A queue that keeps what was sent, or fails every send when told to.
#[derive(Default)]
pub struct MemoryQueue {
    sent: Mutex<Vec<WebhookEnvelope>>,
    failure: Mutex<Option<QueueError>>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail_with(&self, error: Option<QueueError>) {
        *self.failure.lock().unwrap() = error;
    }

    pub fn drain(&self) -> Vec<WebhookEnvelope> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

#[async_trait]
impl EventQueue for MemoryQueue {
    async fn enqueue(&self, envelope: &WebhookEnvelope) -> Result<(), QueueError> {
        if let Some(error) = self.failure.lock().unwrap().clone() {
            return Err(error);
        }
        self.sent.lock().unwrap().push(envelope.clone());
        Ok(())
    }
}

/// Secrets held in memory as the JSON the real secret would contain.
pub struct StaticSecrets {
    json: Mutex<String>,
}

impl StaticSecrets {
    pub fn new(json: impl Into<String>) -> Self {
        Self {
            json: Mutex::new(json.into()),
        }
    }

    /// Simulates a rotation in Secrets Manager.
    pub fn replace(&self, json: impl Into<String>) {
        *self.json.lock().unwrap() = json.into();
    }
}

#[async_trait]
impl SecretSource for StaticSecrets {
    async fn fetch(&self) -> Result<SecretText, SecretError> {
        Ok(SecretText::new(self.json.lock().unwrap().clone()))
    }
}
