//! DynamoDB-specific behaviour of DynamoStore over moto, beyond the shared
//! store contract: the documented item layout, the TTL, that a canceled
//! transaction leaves the table exactly as it was, and error typing.

mod common;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use billing_aws::DynamoStore;
use billing_domain::event::{EventKind, ProviderEvent};
use billing_domain::ports::{
    CommitOutcome, EventLedger, ParkedEvent, ProviderRef, RefKind, StoreError, SubscriptionReader,
};
use billing_domain::{
    Provider, Subscription, SubscriptionStatus, TenantId, UnixTime, WebhookEnvelope,
};
use billing_testkit::store_contract::{commit, Seed, DEDUPE_EXPIRES_AT};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

async fn scan(store: &DynamoStore) -> Vec<Item> {
    let client = common::dynamodb().await;
    let mut items = client
        .scan()
        .table_name(store.table())
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
    items
}

async fn item(store: &DynamoStore, pk: &str, sk: &str) -> Option<Item> {
    let client = common::dynamodb().await;
    client
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .send()
        .await
        .expect("get_item")
        .item
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        other => panic!("attribute {name} is {other:?}"),
    }
}

fn active(tenant: &TenantId, seats: u32) -> Subscription {
    let mut s = Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(1_750_000_000));
    s.status = SubscriptionStatus::Active;
    s.seats = seats;
    s.provider_subscription_id = Some("sub_1".into());
    s
}

#[tokio::test]
async fn committed_items_follow_the_documented_layout_with_ttl_on_dedupe_keys() {
    let store = common::fresh_store().await;
    let seed = Seed::unique();
    let tenant = seed.tenant("a");
    let customer = ProviderRef {
        provider: Provider::Stripe,
        kind: RefKind::Customer,
        id: seed.id("cus", "a"),
    };

    let outcome = store
        .commit(&commit(
            &seed.id("evt", "1"),
            &tenant,
            Some((None, active(&tenant, 4))),
            vec![customer.clone()],
        ))
        .await;
    assert_eq!(outcome, Ok(CommitOutcome::Committed));

    let record = item(&store, &format!("TENANT#{tenant}"), "SUBSCRIPTION")
        .await
        .expect("subscription item");
    assert_eq!(text(&record, "revision"), "1");
    assert_eq!(text(&record, "status"), "active");
    assert_eq!(text(&record, "seats"), "4");
    assert_eq!(text(&record, "provider_subscription_id"), "sub_1");
    assert!(!record.contains_key("expires_at"), "records never expire");
    assert!(
        !record.contains_key("plan"),
        "absent fields are left out, not null"
    );

    let mapping = item(
        &store,
        &format!("REF#stripe#customer#{}", customer.id),
        "REF",
    )
    .await
    .expect("mapping item");
    assert_eq!(text(&mapping, "tenant_id"), tenant.as_str());

    let dedupe = item(
        &store,
        &format!("EVENT#stripe#{}", seed.id("evt", "1")),
        "EVENT",
    )
    .await
    .expect("dedupe item");
    assert_eq!(
        text(&dedupe, "expires_at"),
        DEDUPE_EXPIRES_AT.seconds().to_string()
    );

    let ttl = common::dynamodb()
        .await
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .expect("ttl");
    let ttl = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn canceled_transactions_leave_every_item_as_it_was() {
    let store = common::fresh_store().await;
    let seed = Seed::unique();
    let (a, b) = (seed.tenant("a"), seed.tenant("b"));
    let taken = ProviderRef {
        provider: Provider::Stripe,
        kind: RefKind::Subscription,
        id: seed.id("sub", "a"),
    };
    let free = ProviderRef {
        provider: Provider::Stripe,
        kind: RefKind::Customer,
        id: seed.id("cus", "b"),
    };
    store
        .commit(&commit(
            &seed.id("evt", "1"),
            &a,
            Some((None, active(&a, 1))),
            vec![taken.clone()],
        ))
        .await
        .unwrap();
    let before = scan(&store).await;
    assert_eq!(before.len(), 3, "record, mapping, dedupe key");

    let attempts = [
        // Duplicate event id, with a valid write and a fresh claim.
        (
            commit(
                &seed.id("evt", "1"),
                &a,
                Some((Some(1), active(&a, 2))),
                vec![free.clone()],
            ),
            CommitOutcome::Duplicate,
        ),
        // Stale revision, with a fresh dedupe key and claim.
        (
            commit(
                &seed.id("evt", "2"),
                &a,
                Some((None, active(&a, 2))),
                vec![free.clone()],
            ),
            CommitOutcome::RevisionConflict,
        ),
        // Another tenant's claim, with a fresh dedupe key, record and claim.
        (
            commit(
                &seed.id("evt", "3"),
                &b,
                Some((None, active(&b, 2))),
                vec![free.clone(), taken.clone()],
            ),
            CommitOutcome::ClaimedByOtherTenant {
                reference: taken.clone(),
            },
        ),
    ];
    for (attempt, expected) in attempts {
        assert_eq!(store.commit(&attempt).await, Ok(expected));
        assert_eq!(
            scan(&store).await,
            before,
            "nothing written by {}",
            attempt.event_id
        );
    }
}

#[tokio::test]
async fn parked_events_keep_the_first_reason_and_the_whole_envelope() {
    let store = common::fresh_store().await;
    let seed = Seed::unique();
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: seed.id("evt", "p"),
        event_type: "invoice.paid".into(),
        occurred_at: UnixTime(1_750_000_000),
        tenant_hint: None,
        payment: None,
        kind: EventKind::Unknown,
    };
    let envelope = WebhookEnvelope::new(
        event,
        r#"{"id":"evt"}"#.into(),
        UnixTime(1_750_000_001),
        "req-1".into(),
    );
    let parked = ParkedEvent {
        envelope: envelope.clone(),
        reason: "first reason".into(),
        parked_at: UnixTime(1_750_000_002),
    };
    store.park(&parked).await.unwrap();
    store
        .park(&ParkedEvent {
            reason: "second reason".into(),
            ..parked
        })
        .await
        .unwrap();

    let item = item(&store, "PARKED#stripe", &envelope.event_id)
        .await
        .expect("parked item");
    assert_eq!(text(&item, "reason"), "first reason");
    assert_eq!(text(&item, "parked_at"), "1750000002");
    assert_eq!(text(&item, "event_type"), "invoice.paid");
    let stored: WebhookEnvelope = serde_json::from_str(&text(&item, "envelope")).unwrap();
    assert_eq!(stored, envelope);
    assert_eq!(scan(&store).await.len(), 1);
}

#[tokio::test]
async fn unreadable_record_is_corrupt() {
    let store = common::fresh_store().await;
    let tenant = Seed::unique().tenant("a");
    common::dynamodb()
        .await
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .item("sk", AttributeValue::S("SUBSCRIPTION".into()))
        .item("revision", AttributeValue::N("1".into()))
        .item("record", AttributeValue::S(r#"{"tenant_id": 42}"#.into()))
        .send()
        .await
        .unwrap();
    let read = store.get_subscription(&tenant).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "got {read:?}");
}

#[tokio::test]
async fn missing_table_is_a_permanent_error() {
    let store = DynamoStore::new(
        common::dynamodb().await,
        common::unique_name("no-such-table"),
    );
    let tenant = Seed::unique().tenant("a");
    let read = store.get_subscription(&tenant).await;
    assert!(
        matches!(read, Err(StoreError::Permanent(_))),
        "got {read:?}"
    );
    let write = store.commit(&commit("evt_1", &tenant, None, vec![])).await;
    assert!(
        matches!(write, Err(StoreError::Permanent(_))),
        "got {write:?}"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_a_transient_error() {
    let config = common::sdk_config_for(common::UNREACHABLE_ENDPOINT).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), "any-table");
    let read = store.get_subscription(&Seed::unique().tenant("a")).await;
    assert!(matches!(&read, Err(e) if e.is_retryable()), "got {read:?}");
}
