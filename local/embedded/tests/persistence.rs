//! What the store and the queue hold survives dropping every handle and
//! reopening the file, as the local stack's data survives a restart, except
//! the expired dedupe keys, which opening the file sweeps.

use billing_domain::ports::{
    CommitOutcome, CustomerRegistry, EventLedger, ParkedEvent, ProviderRef, RefKind,
    SubscriptionReader, TenantDirectory,
};
use billing_domain::{
    EventKind, Provider, ProviderEvent, Subscription, SubscriptionStatus, UnixTime, WebhookEnvelope,
};
use billing_embedded::{EmbeddedDb, EmbeddedStore, QueueConfig};
use billing_testkit::store_contract::{commit, full_subscription, Seed};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Far enough ahead that the sweep at open (at the system clock's now)
/// never deletes the test's keys.
const FAR_FUTURE: UnixTime = UnixTime(4_000_000_000);

/// Long past by the system clock, so the sweep at open deletes the key.
const LONG_AGO: UnixTime = UnixTime(1);

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
}

fn envelope(event_id: &str) -> WebhookEnvelope {
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: event_id.to_owned(),
        event_type: "invoice.paid".into(),
        occurred_at: UnixTime(1_700_000_000),
        tenant_hint: None,
        payment: None,
        kind: EventKind::Unknown,
    };
    WebhookEnvelope::new(event, "{}".into(), UnixTime(1_700_000_001), "req".into())
}

fn reopen(path: &Path) -> EmbeddedDb {
    EmbeddedDb::open(path).expect("reopen the file")
}

#[tokio::test]
async fn store_state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.redb");
    let seed = Seed::unique();
    let tenant = seed.tenant("a");
    let record = full_subscription(&tenant, &seed);
    let subscription_ref = ProviderRef {
        provider: Provider::Stripe,
        kind: RefKind::Subscription,
        id: seed.id("sub", "a"),
    };
    let customer = seed.id("cus", "a");
    let mut first = commit(
        "evt_1",
        &tenant,
        Some((None, record.clone())),
        vec![subscription_ref.clone()],
    );
    first.dedupe_expires_at = FAR_FUTURE;
    let parked = ParkedEvent {
        envelope: envelope("evt_orphan"),
        reason: "no tenant".into(),
        parked_at: UnixTime(1_700_000_002),
    };
    {
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.commit(&first).await, Ok(CommitOutcome::Committed));
        store
            .claim_customer(&tenant, Provider::Stripe, &customer)
            .await
            .unwrap();
        store.park(&parked).await.unwrap();
    }

    let store = reopen(&path).store();

    let stored = store.get_subscription(&tenant).await.unwrap().unwrap();
    assert_eq!((stored.subscription, stored.revision), (record, 1));
    assert_eq!(
        store.tenant_for(&subscription_ref).await,
        Ok(Some(tenant.clone()))
    );
    assert_eq!(
        store.customer_id(&tenant, Provider::Stripe).await,
        Ok(Some(customer.clone()))
    );
    assert_eq!(
        store.commit(&first).await,
        Ok(CommitOutcome::Duplicate),
        "the dedupe key was kept"
    );
    assert_eq!(store.parked().await, Ok(vec![parked]));
    let mut next = commit(
        "evt_2",
        &tenant,
        Some((
            Some(1),
            Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(5)),
        )),
        vec![],
    );
    next.dedupe_expires_at = FAR_FUTURE;
    assert_eq!(store.commit(&next).await, Ok(CommitOutcome::Committed));
    assert_eq!(
        store
            .get_subscription(&tenant)
            .await
            .unwrap()
            .unwrap()
            .revision,
        2,
        "revisions continue from the stored one"
    );
}

#[tokio::test]
async fn opening_the_file_purges_expired_dedupe_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.redb");
    let seed = Seed::unique();
    let tenant = seed.tenant("a");
    let mut expired = commit("evt_expired", &tenant, None, vec![]);
    expired.dedupe_expires_at = LONG_AGO;
    let mut live = commit("evt_live", &tenant, None, vec![]);
    live.dedupe_expires_at = FAR_FUTURE;
    {
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.commit(&expired).await, Ok(CommitOutcome::Committed));
        assert_eq!(store.commit(&live).await, Ok(CommitOutcome::Committed));
        assert_eq!(
            store.commit(&expired).await,
            Ok(CommitOutcome::Duplicate),
            "not swept while the file stays open"
        );
    }

    let store = reopen(&path).store();
    assert_eq!(
        store.purge_expired_dedupe_keys(LONG_AGO).await,
        Ok(0),
        "opening already swept it"
    );
    assert_eq!(
        store.commit(&expired).await,
        Ok(CommitOutcome::Committed),
        "the expired key was purged at open"
    );
    assert_eq!(
        store.commit(&live).await,
        Ok(CommitOutcome::Duplicate),
        "the live key was kept"
    );
}

#[tokio::test]
async fn queued_messages_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.redb");
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receive_count: 5,
    };
    let in_flight;
    {
        let queue = EmbeddedDb::open(&path).unwrap().queue(config);
        for id in ["evt_1", "evt_2"] {
            billing_domain::ports::EventQueue::enqueue(&queue, &envelope(id))
                .await
                .unwrap();
        }
        // Received but never deleted: the consumer died mid-batch.
        in_flight = queue.receive(1, at(0)).await.unwrap().remove(0);
    }

    let queue = reopen(&path).queue(config);
    assert_eq!(queue.message_count().await, Ok(2));

    let visible = queue.receive(10, at(1)).await.unwrap();
    assert_eq!(visible.len(), 1, "the in-flight one stays hidden");
    let body: WebhookEnvelope = serde_json::from_str(&visible[0].body).unwrap();
    assert_eq!(body, envelope("evt_2"));

    let back = queue.receive(10, at(30)).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].message_id, in_flight.message_id);
    assert_eq!(back[0].receive_count, 2);
    assert_eq!(queue.delete(&in_flight.receipt_handle).await, Ok(false));
}

#[tokio::test]
async fn order_and_dead_letters_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.redb");
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(10),
        max_receive_count: 1,
    };
    {
        let queue = EmbeddedDb::open(&path).unwrap().queue(config);
        queue.send("poison".into()).await.unwrap();
        queue.receive(10, at(0)).await.unwrap();
        queue.receive(10, at(10)).await.unwrap();
        queue.send("older".into()).await.unwrap();
    }

    let queue = reopen(&path).queue(config);
    queue.send("newer".into()).await.unwrap();

    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    let bodies: Vec<_> = queue
        .receive(10, at(20))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["older", "newer"], "sequence numbers keep counting");
}

#[tokio::test]
async fn store_and_queue_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.redb");
    let seed = Seed::unique();
    let tenant = seed.tenant("a");
    {
        let db = EmbeddedDb::open(&path).unwrap();
        assert_eq!(db.path(), Some(path.as_path()));
        let (store, queue) = (db.store(), db.queue(QueueConfig::default()));
        let mut record = Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(1));
        record.status = SubscriptionStatus::Active;
        let mut write = commit("evt_1", &tenant, Some((None, record)), vec![]);
        write.dedupe_expires_at = FAR_FUTURE;
        store.commit(&write).await.unwrap();
        queue.send("body".into()).await.unwrap();
    }

    let db = reopen(&path);
    assert!(db
        .store()
        .get_subscription(&tenant)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        db.queue(QueueConfig::default()).message_count().await,
        Ok(1)
    );
}
