//! The contract of `IntentRecorder`: our API writes a record back only at
//! the revision it read, so it never overwrites a webhook's change it did
//! not see, and the webhook path's revisions carry on after it.

use super::{commit, stored, Seed};
use billing_domain::ports::{CommitOutcome, EventLedger, IntentRecorder, Saved, SubscriptionWrite};
use billing_domain::{Provider, Subscription, SubscriptionStatus, TenantId, UnixTime};

fn record(tenant: &TenantId, seats: u32) -> Subscription {
    let mut subscription = Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(1));
    subscription.status = SubscriptionStatus::Active;
    subscription.seats = seats;
    subscription
}

async fn save<S: IntentRecorder + ?Sized>(
    store: &S,
    expected_revision: Option<u64>,
    subscription: Subscription,
) -> Saved {
    store
        .save_subscription(&SubscriptionWrite {
            expected_revision,
            subscription,
        })
        .await
        .unwrap_or_else(|e| panic!("save_subscription failed: {e}"))
}

pub async fn saving_a_record_needs_the_revision_it_was_read_at<S>(store: &S, seed: &Seed)
where
    S: EventLedger + IntentRecorder,
{
    let tenant = seed.tenant("a");
    // No record: a save that expects one writes nothing.
    assert_eq!(
        save(store, Some(1), record(&tenant, 9)).await,
        Saved::RevisionConflict
    );
    assert_eq!(stored(store, &tenant).await, None);

    let first = commit(
        &seed.id("evt", "1"),
        &tenant,
        Some((None, record(&tenant, 1))),
        vec![],
    );
    assert_eq!(
        store.commit(&first).await.unwrap(),
        CommitOutcome::Committed
    );

    // A save at the read revision lands at the next one.
    assert_eq!(
        save(store, Some(1), record(&tenant, 2)).await,
        Saved::Written
    );
    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 2), 2)));

    // A save from the old read, or as if there were no record, conflicts.
    assert_eq!(
        save(store, Some(1), record(&tenant, 3)).await,
        Saved::RevisionConflict
    );
    assert_eq!(
        save(store, None, record(&tenant, 3)).await,
        Saved::RevisionConflict
    );
    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 2), 2)));

    // The webhook path carries on from the saved revision.
    let stale = commit(
        &seed.id("evt", "2"),
        &tenant,
        Some((Some(1), record(&tenant, 4))),
        vec![],
    );
    assert_eq!(
        store.commit(&stale).await.unwrap(),
        CommitOutcome::RevisionConflict
    );
    let next = commit(
        &seed.id("evt", "3"),
        &tenant,
        Some((Some(2), record(&tenant, 5))),
        vec![],
    );
    assert_eq!(store.commit(&next).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 5), 3)));
}
