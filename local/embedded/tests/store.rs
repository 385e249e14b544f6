//! The embedded store's behaviours beyond the shared contract: dedupe keys
//! expire like DynamoDB TTL items (an expired key still blocks redeliveries
//! until the sweep deletes it), the sweep deletes only expired keys, and
//! parked events are listed for tools.

use billing_domain::ports::{CommitOutcome, EventCommit, EventLedger, ParkedEvent};
use billing_domain::{EventKind, Provider, ProviderEvent, UnixTime, WebhookEnvelope};
use billing_embedded::{EmbeddedDb, EmbeddedStore};
use billing_testkit::store_contract::{commit, Seed};

/// The time the tests sweep at.
const NOW: UnixTime = UnixTime(1_800_000_000);

fn store() -> EmbeddedStore {
    EmbeddedDb::open_in_memory().unwrap().store()
}

fn expiring(event_id: &str, seed: &Seed, expires_at: UnixTime) -> EventCommit {
    let mut commit = commit(event_id, &seed.tenant("a"), None, vec![]);
    commit.dedupe_expires_at = expires_at;
    commit
}

fn parked(event_id: &str, parked_at: i64) -> ParkedEvent {
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: event_id.to_owned(),
        event_type: "invoice.paid".into(),
        occurred_at: UnixTime(1_700_000_000),
        tenant_hint: None,
        payment: None,
        kind: EventKind::Unknown,
    };
    ParkedEvent {
        envelope: WebhookEnvelope::new(event, "{}".into(), UnixTime(1), "req".into()),
        reason: format!("parked at {parked_at}"),
        parked_at: UnixTime(parked_at),
    }
}

#[tokio::test]
async fn an_expired_dedupe_key_still_blocks_a_redelivery_until_purged() {
    let store = store();
    let seed = Seed::unique();
    // Expired decades ago by any clock: commits do not look.
    let expired = expiring("evt_old", &seed, UnixTime(1));
    assert_eq!(store.commit(&expired).await, Ok(CommitOutcome::Committed));
    assert_eq!(
        store.commit(&expired).await,
        Ok(CommitOutcome::Duplicate),
        "an expired key not yet swept is still there, as in DynamoDB"
    );

    assert_eq!(store.purge_expired_dedupe_keys(NOW).await, Ok(1));
    assert_eq!(
        store.commit(&expired).await,
        Ok(CommitOutcome::Committed),
        "the sweep forgot the key"
    );
    assert_eq!(store.commit(&expired).await, Ok(CommitOutcome::Duplicate));
}

#[tokio::test]
async fn a_refused_redelivery_keeps_the_first_expiry() {
    let store = store();
    let seed = Seed::unique();
    store
        .commit(&expiring("evt_1", &seed, NOW.plus_seconds(-5)))
        .await
        .unwrap();
    let later = expiring("evt_1", &seed, NOW.plus_seconds(100));
    assert_eq!(store.commit(&later).await, Ok(CommitOutcome::Duplicate));

    assert_eq!(
        store.purge_expired_dedupe_keys(NOW).await,
        Ok(1),
        "the refused commit wrote nothing, so the key still expires first"
    );
}

#[tokio::test]
async fn a_recommitted_event_takes_its_new_expiry() {
    let store = store();
    let seed = Seed::unique();
    store
        .commit(&expiring("evt_1", &seed, NOW.plus_seconds(-5)))
        .await
        .unwrap();
    assert_eq!(store.purge_expired_dedupe_keys(NOW).await, Ok(1));

    let renewed = expiring("evt_1", &seed, NOW.plus_seconds(100));
    assert_eq!(store.commit(&renewed).await, Ok(CommitOutcome::Committed));
    assert_eq!(store.purge_expired_dedupe_keys(NOW).await, Ok(0));
    assert_eq!(store.commit(&renewed).await, Ok(CommitOutcome::Duplicate));
}

#[tokio::test]
async fn purge_deletes_only_expired_dedupe_keys() {
    let store = store();
    let seed = Seed::unique();
    let old = expiring("evt_old", &seed, NOW.plus_seconds(-10));
    let due = expiring("evt_due", &seed, NOW);
    let live = expiring("evt_live", &seed, NOW.plus_seconds(10));
    for commit in [&old, &due, &live] {
        store.commit(commit).await.unwrap();
    }

    assert_eq!(
        store.purge_expired_dedupe_keys(NOW).await,
        Ok(2),
        "a key expiring exactly at the sweep's now is expired"
    );
    assert_eq!(store.purge_expired_dedupe_keys(NOW).await, Ok(0));

    assert_eq!(store.commit(&old).await, Ok(CommitOutcome::Committed));
    assert_eq!(store.commit(&due).await, Ok(CommitOutcome::Committed));
    assert_eq!(store.commit(&live).await, Ok(CommitOutcome::Duplicate));
}

#[tokio::test]
async fn parked_events_are_listed_oldest_first_with_their_first_reason() {
    let store = store();
    assert_eq!(store.parked().await, Ok(vec![]));
    let (late, early) = (parked("evt_b", 20), parked("evt_a", 10));
    store.park(&late).await.unwrap();
    store.park(&early).await.unwrap();
    let mut again = late.clone();
    again.reason = "parked again".into();
    store.park(&again).await.unwrap();

    assert_eq!(store.parked().await, Ok(vec![early, late]));
}
