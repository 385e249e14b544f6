//! webhook-process batches against the in-memory store: partial batch
//! failures for poison and failing messages, duplicates acknowledged, and
//! unresolvable events parked rather than dropped.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use billing_domain::ledger::{BillingProfile, Series};
use billing_domain::ports::*;
use billing_domain::processing::ProcessingPolicy;
use billing_domain::*;
use billing_testkit::memory::MemoryStore;
use serde_json::json;
use webhook_process::EventProcessor;

const T: i64 = 1_767_225_600;

fn envelope(id: &str, tenant_hint: Option<&str>, status: SubscriptionStatus) -> WebhookEnvelope {
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: id.into(),
        event_type: "customer.subscription.updated".into(),
        occurred_at: UnixTime(T),
        tenant_hint: tenant_hint.map(|t| TenantId::parse(t).unwrap()),
        payment: None,
        kind: EventKind::SubscriptionSnapshot {
            change: SnapshotChange::Updated,
            snapshot: SubscriptionSnapshot {
                subscription_id: format!("sub_{id}"),
                customer_id: format!("cus_{id}"),
                status,
                provider_status: status.as_str().into(),
                plan: Some(PlanCode::new("pro")),
                price_id: Some("price_pro_monthly".into()),
                current_period_start: Some(UnixTime(T)),
                current_period_end: Some(UnixTime(T + 100)),
                cancel_at_period_end: false,
                cancel_at: None,
                canceled_at: None,
                trial_end: None,
                seats: 1,
            },
        },
    };
    WebhookEnvelope::new(event, "{}".into(), UnixTime(T), "req-1".into())
}

fn batch(bodies: &[String]) -> SqsEvent {
    let records: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body, "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn poison_messages_fail_alone_and_the_rest_of_the_batch_applies() {
    let processor = EventProcessor::new(
        MemoryStore::new(),
        ProcessingPolicy::default(),
        billing_lambda::config::invoicing().unwrap(),
    );
    let good = serde_json::to_string(&envelope(
        "evt_a",
        Some("org_a"),
        SubscriptionStatus::Active,
    ))
    .unwrap();
    let mut future = envelope("evt_b", Some("org_b"), SubscriptionStatus::Active);
    future.version = 99;
    let bodies = vec![
        "not json".to_owned(),
        good.clone(),
        serde_json::to_string(&future).unwrap(),
        r#"{"version":1}"#.to_owned(),
    ];
    let response = processor.handle(batch(&bodies), UnixTime(T)).await;
    assert_eq!(failed_ids(&response), ["m0", "m2", "m3"]);
}

#[tokio::test]
async fn a_redelivered_batch_is_acknowledged_and_changes_nothing() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let processor = EventProcessor::new(
        store.clone(),
        ProcessingPolicy::default(),
        billing_lambda::config::invoicing().unwrap(),
    );
    let body = serde_json::to_string(&envelope(
        "evt_a",
        Some("org_a"),
        SubscriptionStatus::Active,
    ))
    .unwrap();
    let first = processor
        .handle(batch(std::slice::from_ref(&body)), UnixTime(T))
        .await;
    assert!(first.batch_item_failures.is_empty());
    let tenant = TenantId::parse("org_a").unwrap();
    let applied = store.get_subscription(&tenant).await.unwrap().unwrap();

    let again = processor
        .handle(batch(&[body.clone(), body]), UnixTime(T + 5))
        .await;
    assert!(again.batch_item_failures.is_empty());
    let after = store.get_subscription(&tenant).await.unwrap().unwrap();
    assert_eq!(
        after, applied,
        "same record, same revision, same updated_at"
    );
}

#[tokio::test]
async fn an_event_without_resolvable_tenant_is_parked_not_dropped() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let processor = EventProcessor::new(
        store.clone(),
        ProcessingPolicy::default(),
        billing_lambda::config::invoicing().unwrap(),
    );
    let body =
        serde_json::to_string(&envelope("evt_orphan", None, SubscriptionStatus::Active)).unwrap();
    let response = processor.handle(batch(&[body]), UnixTime(T)).await;
    assert!(response.batch_item_failures.is_empty());
    let parked = store.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].envelope.event_id, "evt_orphan");
}

/// Fails every store call with the given error.
struct FailingLedger(StoreError);

#[async_trait]
impl SubscriptionReader for FailingLedger {
    async fn get_subscription(
        &self,
        _: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        Err(self.0.clone())
    }
}

#[async_trait]
impl TenantDirectory for FailingLedger {
    async fn tenant_for(&self, _: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        Err(self.0.clone())
    }
}

#[async_trait]
impl EventLedger for FailingLedger {
    async fn commit(&self, _: &EventCommit) -> Result<CommitOutcome, StoreError> {
        Err(self.0.clone())
    }

    async fn already_committed(&self, _: &TenantId, _: &ProviderEvent) -> Result<bool, StoreError> {
        Err(self.0.clone())
    }

    async fn invoice_for_payment(
        &self,
        _: &TenantId,
        _: Provider,
        _: &str,
    ) -> Result<Option<billing_domain::ledger::Invoice>, StoreError> {
        Err(self.0.clone())
    }

    async fn next_sequence(&self, _: &Series) -> Result<u64, StoreError> {
        Err(self.0.clone())
    }

    async fn park(&self, _: &ParkedEvent) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
}

#[async_trait]
impl ProfileStore for FailingLedger {
    async fn get_profile(&self, _: &TenantId) -> Result<Option<BillingProfile>, StoreError> {
        Err(self.0.clone())
    }

    async fn put_profile(&self, _: &TenantId, _: &BillingProfile) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn store_failures_return_the_message_to_the_queue() {
    for error in [
        StoreError::Transient("throttled".into()),
        StoreError::Permanent("denied".into()),
    ] {
        let processor = EventProcessor::new(
            FailingLedger(error),
            ProcessingPolicy::default(),
            billing_lambda::config::invoicing().unwrap(),
        );
        let with_tenant = serde_json::to_string(&envelope(
            "evt_a",
            Some("org_a"),
            SubscriptionStatus::Active,
        ))
        .unwrap();
        let without =
            serde_json::to_string(&envelope("evt_b", None, SubscriptionStatus::Active)).unwrap();
        let response = processor
            .handle(batch(&[with_tenant, without]), UnixTime(T))
            .await;
        assert_eq!(failed_ids(&response), ["m0", "m1"]);
    }
}

#[test]
fn a_dedupe_memory_shorter_than_provider_retries_is_refused_at_init() {
    let env = billing_lambda::Env::from_pairs([("DEDUPE_TTL_DAYS", "2")]);
    assert!(EventProcessor::from_env(&env, MemoryStore::new()).is_err());
    let env = billing_lambda::Env::from_pairs([("DEDUPE_TTL_DAYS", "35")]);
    assert!(EventProcessor::from_env(&env, MemoryStore::new()).is_ok());
}
