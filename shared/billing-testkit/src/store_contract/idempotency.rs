//! The store contract for idempotency records of our own API: every store
//! begins a key once, keeps a completed answer, frees an expired record or an
//! ended lock, forgets a released key, keeps tenants apart, lets exactly one
//! of several concurrent requests with one key start, and never lets a
//! request that lost its key overwrite or delete its successor's record.

use super::Seed;
use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord, RECORD_TTL_SECONDS};
use billing_domain::ports::{Begun, IdempotencyStore, Settled};
use billing_domain::UnixTime;
use std::sync::Arc;

const NOW: UnixTime = UnixTime(1_800_000_000);
const LOCK: i64 = 30;

fn key(seed: &Seed, name: &str) -> IdempotencyKey {
    IdempotencyKey::parse(&seed.id("key", name)).unwrap()
}

fn begun(fingerprint: &str, now: UnixTime) -> IdempotencyRecord {
    IdempotencyRecord::begin(fingerprint.into(), now, LOCK)
}

pub async fn a_key_begins_once_and_a_repeat_finds_it_in_progress<S>(store: &S, seed: &Seed)
where
    S: IdempotencyStore,
{
    let (tenant, key) = (seed.tenant("idem"), key(seed, "once"));
    let first = begun("fp", NOW);
    assert_eq!(
        store
            .begin_request(&tenant, &key, &first, NOW)
            .await
            .unwrap(),
        Begun::Started
    );
    let again = store
        .begin_request(
            &tenant,
            &key,
            &begun("fp", UnixTime(NOW.0 + 1)),
            UnixTime(NOW.0 + 1),
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        Begun::Existing(first),
        "the first record stays, untouched"
    );
}

pub async fn a_completed_request_is_found_with_its_answer<S>(store: &S, seed: &Seed)
where
    S: IdempotencyStore,
{
    let (tenant, key) = (seed.tenant("idem"), key(seed, "done"));
    let first = begun("fp", NOW);
    store
        .begin_request(&tenant, &key, &first, NOW)
        .await
        .unwrap();
    let done = first.completed(200, r#"{"sessionUrl":"https://pay.example/1"}"#.into());
    let settled = store.complete_request(&tenant, &key, &first, &done).await;
    assert_eq!(settled.unwrap(), Settled::Held);
    // Long after the lock ended, the answer is still there.
    let later = UnixTime(NOW.0 + RECORD_TTL_SECONDS - 1);
    assert_eq!(
        store
            .begin_request(&tenant, &key, &begun("fp", later), later)
            .await
            .unwrap(),
        Begun::Existing(done)
    );
}

pub async fn an_ended_lock_or_an_expired_record_frees_the_key<S>(store: &S, seed: &Seed)
where
    S: IdempotencyStore,
{
    let tenant = seed.tenant("idem");
    let crashed = key(seed, "crashed");
    store
        .begin_request(&tenant, &crashed, &begun("fp", NOW), NOW)
        .await
        .unwrap();
    let unlocked = UnixTime(NOW.0 + LOCK);
    let retry = begun("fp", unlocked);
    assert_eq!(
        store
            .begin_request(&tenant, &crashed, &retry, unlocked)
            .await
            .unwrap(),
        Begun::Started
    );
    assert_eq!(
        store
            .begin_request(&tenant, &crashed, &begun("fp", unlocked), unlocked)
            .await
            .unwrap(),
        Begun::Existing(retry)
    );

    let old = key(seed, "old");
    let first = begun("fp", NOW);
    store
        .begin_request(&tenant, &old, &first, NOW)
        .await
        .unwrap();
    let done = first.completed(200, "{}".into());
    let settled = store.complete_request(&tenant, &old, &first, &done).await;
    assert_eq!(settled.unwrap(), Settled::Held);
    let expired = UnixTime(NOW.0 + RECORD_TTL_SECONDS);
    assert_eq!(
        store
            .begin_request(&tenant, &old, &begun("other", expired), expired)
            .await
            .unwrap(),
        Begun::Started
    );
}

pub async fn a_released_key_begins_afresh<S>(store: &S, seed: &Seed)
where
    S: IdempotencyStore,
{
    let (tenant, key) = (seed.tenant("idem"), key(seed, "released"));
    let first = begun("fp", NOW);
    store
        .begin_request(&tenant, &key, &first, NOW)
        .await
        .unwrap();
    let settled = store.release_request(&tenant, &key, &first).await;
    assert_eq!(settled.unwrap(), Settled::Held);
    assert_eq!(
        store
            .begin_request(&tenant, &key, &begun("fp", NOW), NOW)
            .await
            .unwrap(),
        Begun::Started
    );
    // A key with no record was not held.
    let never = self::key(seed, "never");
    let settled = store.release_request(&tenant, &never, &first).await;
    assert_eq!(settled.unwrap(), Settled::Lost);
}

pub async fn a_request_that_lost_its_key_neither_completes_nor_releases_it<S>(
    store: &S,
    seed: &Seed,
) where
    S: IdempotencyStore,
{
    let (tenant, key) = (seed.tenant("idem"), key(seed, "taken-over"));
    let slow = begun("fp", NOW);
    store
        .begin_request(&tenant, &key, &slow, NOW)
        .await
        .unwrap();
    // Its lock ended; a retry took the key over.
    let unlocked = UnixTime(NOW.0 + LOCK);
    let successor = begun("fp", unlocked);
    let took = store
        .begin_request(&tenant, &key, &successor, unlocked)
        .await;
    assert_eq!(took.unwrap(), Begun::Started);
    let late = slow.completed(200, r#"{"late":true}"#.into());
    let settled = store.complete_request(&tenant, &key, &slow, &late).await;
    assert_eq!(settled.unwrap(), Settled::Lost);
    let settled = store.release_request(&tenant, &key, &slow).await;
    assert_eq!(settled.unwrap(), Settled::Lost);
    let found = store
        .begin_request(&tenant, &key, &begun("fp", unlocked), unlocked)
        .await;
    assert_eq!(
        found.unwrap(),
        Begun::Existing(successor.clone()),
        "the successor's record is untouched"
    );
    let done = successor.completed(200, "{}".into());
    let settled = store
        .complete_request(&tenant, &key, &successor, &done)
        .await;
    assert_eq!(settled.unwrap(), Settled::Held);
}

pub async fn keys_belong_to_one_tenant<S>(store: &S, seed: &Seed)
where
    S: IdempotencyStore,
{
    let key = key(seed, "shared");
    for name in ["one", "two"] {
        let tenant = seed.tenant(name);
        assert_eq!(
            store
                .begin_request(&tenant, &key, &begun(name, NOW), NOW)
                .await
                .unwrap(),
            Begun::Started
        );
    }
}

/// Several requests with one key at once: exactly one starts, and every
/// other finds that one's record.
pub async fn concurrent_requests_with_one_key_start_exactly_once<S>(store: Arc<S>, seed: &Seed)
where
    S: IdempotencyStore + 'static,
{
    let (tenant, key) = (seed.tenant("idem"), key(seed, "race"));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, tenant, key) = (Arc::clone(&store), tenant.clone(), key.clone());
            tokio::spawn(async move {
                let record = begun(&format!("fp-{i}"), NOW);
                let outcome = store
                    .begin_request(&tenant, &key, &record, NOW)
                    .await
                    .unwrap();
                (record, outcome)
            })
        })
        .collect();
    let mut started = Vec::new();
    let mut found = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (record, Begun::Started) => started.push(record),
            (_, Begun::Existing(existing)) => found.push(existing),
        }
    }
    assert_eq!(started.len(), 1, "exactly one request starts");
    assert!(found.iter().all(|existing| *existing == started[0]));
}
