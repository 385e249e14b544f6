//! The store contract: the behaviours every implementation of the storage
//! ports (`EventLedger`, `CustomerRegistry`, `IdempotencyStore`) must show,
//! written once and run against each store (the memory store, the DynamoDB
//! store over moto, the embedded store) so they cannot drift apart. The
//! idempotency behaviours are in `idempotency.rs`.
//!
//! Each behaviour is a public async function taking the store and a
//! [`Seed`] that makes its tenant, event and provider ids unique, so stores
//! whose state outlives a test (moto, a file) can be shared between tests.
//! [`store_contract_tests!`](crate::store_contract_tests) expands to one
//! `#[tokio::test]` per behaviour; a test file needs only:
//!
//! ```text
//! billing_testkit::store_contract_tests!(|| async { MemoryStore::new() });
//! ```
//!
//! The crate using the macro needs `tokio` (with `macros` and
//! `rt-multi-thread`) among its dev-dependencies.

mod idempotency;
mod intents;
mod ledger;

pub use idempotency::*;
pub use intents::*;
pub use ledger::*;

use billing_domain::event::{
    CheckoutDetails, EventKind, InvoiceDetails, ProviderEvent, SnapshotChange, SubscriptionSnapshot,
};
use billing_domain::ports::{
    CommitOutcome, CustomerRegistry, EventCommit, EventLedger, ParkedEvent, ProviderRef, RefKind,
    StoreError, SubscriptionWrite,
};
use billing_domain::processing::{process_envelope, ProcessOutcome, ProcessingPolicy};
use billing_domain::subscription::{Facet, InvoiceOutcome, Sources};
use billing_domain::{
    apply_event, ChangeIntent, ChangeTiming, EventOrder, Money, PendingChange, PlanCode, Provider,
    Subscription, SubscriptionStatus, TenantId, Transition, UnixTime, WebhookEnvelope,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Expands to one `#[tokio::test]` per contract behaviour. `$factory` is
/// anything callable as `$factory().await` that yields a fresh store (an
/// `async fn` or a closure returning a future); it is called once per test.
#[macro_export]
macro_rules! store_contract_tests {
    ($factory:expr) => {
        $crate::store_contract_tests!(@each $factory;
            first_commit_creates_the_record_at_revision_one,
            duplicate_event_is_reported_and_writes_nothing,
            stale_commit_is_recorded_as_seen_and_its_redelivery_is_duplicate,
            commit_against_an_old_revision_conflicts_and_writes_nothing,
            claim_owned_by_another_tenant_is_refused_and_writes_nothing,
            claiming_the_same_references_again_for_the_same_tenant_is_fine,
            commit_without_a_write_records_no_claims,
            tenant_for_resolves_claimed_references,
            full_subscription_round_trips_exactly,
            claim_customer_first_writer_wins,
            customer_id_owned_by_another_tenant_is_refused,
            park_is_idempotent,
            event_without_tenant_is_routed_by_claims_or_parked,
            shuffled_duplicated_delivery_converges_on_the_in_order_record,
            a_key_begins_once_and_a_repeat_finds_it_in_progress,
            a_completed_request_is_found_with_its_answer,
            an_ended_lock_or_an_expired_record_frees_the_key,
            a_released_key_begins_afresh,
            a_request_that_lost_its_key_neither_completes_nor_releases_it,
            keys_belong_to_one_tenant,
            saving_a_record_needs_the_revision_it_was_read_at,
            a_payment_is_logged_once_and_invoiced_with_the_next_number,
            a_failed_payment_is_logged_without_an_invoice,
            a_refund_is_credited_in_its_own_series,
            ledger_pages_run_newest_first,
            profiles_are_kept_per_tenant,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_payments_take_gapless_numbers() {
            let store = ::std::sync::Arc::new(($factory)().await);
            $crate::store_contract::concurrent_payments_take_gapless_numbers(
                store,
                &$crate::store_contract::Seed::unique(),
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_requests_with_one_key_start_exactly_once() {
            let store = ::std::sync::Arc::new(($factory)().await);
            $crate::store_contract::concurrent_requests_with_one_key_start_exactly_once(
                store,
                &$crate::store_contract::Seed::unique(),
            )
            .await;
        }

        // Several tasks on several threads deliver at once, so commits race
        // between their read and their conditional write.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_delivery_converges_on_the_in_order_record() {
            let store = ::std::sync::Arc::new(($factory)().await);
            $crate::store_contract::concurrent_delivery_converges_on_the_in_order_record(
                store,
                &$crate::store_contract::Seed::unique(),
            )
            .await;
        }
    };
    (@each $factory:expr; $($behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $behaviour() {
                let store = ($factory)().await;
                $crate::store_contract::$behaviour(&store, &$crate::store_contract::Seed::unique()).await;
            }
        )*
    };
}

// ---------- Ids ----------

/// A prefix unique to one test in this process and across processes, so ids
/// never collide with an earlier run's in a store that keeps state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed(String);

impl Seed {
    pub fn unique() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("{nanos:x}{:x}{n}", std::process::id()))
    }

    /// A seed with a fixed value, for reproducing a failure.
    pub fn fixed(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn tenant(&self, name: &str) -> TenantId {
        TenantId::parse(&format!("t-{}-{name}", self.0)).expect("seeded tenant ids are valid")
    }

    /// A provider-side id such as `cus_<seed>_a`.
    pub fn id(&self, prefix: &str, name: &str) -> String {
        format!("{prefix}_{}_{name}", self.0)
    }

    /// A number from the seed, for the lifecycle generator.
    pub(crate) fn number(&self) -> u64 {
        self.0.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

// ---------- Building commits ----------

pub(crate) const NOW: UnixTime = UnixTime(1_750_000_000);
/// The dedupe expiry every commit built by [`commit`] carries.
pub const DEDUPE_EXPIRES_AT: UnixTime = UnixTime(1_753_000_000);

fn customer_ref(id: &str) -> ProviderRef {
    ProviderRef {
        provider: Provider::Stripe,
        kind: RefKind::Customer,
        id: id.to_owned(),
    }
}

fn subscription_ref(id: &str) -> ProviderRef {
    ProviderRef {
        provider: Provider::Stripe,
        kind: RefKind::Subscription,
        id: id.to_owned(),
    }
}

/// A record told apart from others by its seat count.
fn record(tenant: &TenantId, seats: u32) -> Subscription {
    let mut subscription = Subscription::new(tenant.clone(), Provider::Stripe, NOW);
    subscription.seats = seats;
    subscription.status = SubscriptionStatus::Active;
    subscription
}

/// A Stripe event's commit for `tenant`: `write` is `(expected revision, record)`.
pub fn commit(
    event_id: &str,
    tenant: &TenantId,
    write: Option<(Option<u64>, Subscription)>,
    claims: Vec<ProviderRef>,
) -> EventCommit {
    EventCommit {
        provider: Provider::Stripe,
        event_id: event_id.to_owned(),
        tenant: tenant.clone(),
        dedupe_expires_at: DEDUPE_EXPIRES_AT,
        write: write.map(|(expected_revision, subscription)| SubscriptionWrite {
            expected_revision,
            subscription,
        }),
        claims,
        ledger: None,
    }
}

async fn commit_ok<S: EventLedger + ?Sized>(store: &S, commit: &EventCommit) -> CommitOutcome {
    store
        .commit(commit)
        .await
        .unwrap_or_else(|e| panic!("commit of {} failed: {e}", commit.event_id))
}

pub(crate) async fn stored<S: EventLedger + ?Sized>(
    store: &S,
    tenant: &TenantId,
) -> Option<(Subscription, u64)> {
    store
        .get_subscription(tenant)
        .await
        .unwrap_or_else(|e| panic!("get_subscription({tenant}) failed: {e}"))
        .map(|s| (s.subscription, s.revision))
}

async fn owner<S: EventLedger + ?Sized>(store: &S, reference: &ProviderRef) -> Option<TenantId> {
    store
        .tenant_for(reference)
        .await
        .unwrap_or_else(|e| panic!("tenant_for({reference}) failed: {e}"))
}

// ---------- Commit behaviours ----------

pub async fn first_commit_creates_the_record_at_revision_one<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    assert_eq!(stored(store, &tenant).await, None, "GIVEN no record");

    let outcome = commit_ok(
        store,
        &commit(
            &seed.id("evt", "1"),
            &tenant,
            Some((None, record(&tenant, 1))),
            vec![],
        ),
    )
    .await;

    assert_eq!(outcome, CommitOutcome::Committed);
    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 1), 1)));
}

pub async fn duplicate_event_is_reported_and_writes_nothing<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let other = seed.tenant("b");
    let event_id = seed.id("evt", "1");
    let first = commit(
        &event_id,
        &tenant,
        Some((None, record(&tenant, 1))),
        vec![customer_ref(&seed.id("cus", "a"))],
    );
    assert_eq!(commit_ok(store, &first).await, CommitOutcome::Committed);

    // WHEN the same event id comes again, computed from the right revision
    // and claiming a new reference.
    let new_claim = subscription_ref(&seed.id("sub", "a"));
    let again = commit(
        &event_id,
        &tenant,
        Some((Some(1), record(&tenant, 2))),
        vec![new_claim.clone()],
    );
    assert_eq!(commit_ok(store, &again).await, CommitOutcome::Duplicate);
    assert_eq!(
        stored(store, &tenant).await,
        Some((record(&tenant, 1), 1)),
        "record unchanged"
    );
    assert_eq!(owner(store, &new_claim).await, None, "claim not written");

    // WHEN it also fails every other condition, being a duplicate wins.
    let foreign = customer_ref(&seed.id("cus", "b"));
    let claim_for_other = commit(
        &seed.id("evt", "2"),
        &other,
        Some((None, record(&other, 1))),
        vec![foreign.clone()],
    );
    assert_eq!(
        commit_ok(store, &claim_for_other).await,
        CommitOutcome::Committed
    );
    let everything_wrong = commit(
        &event_id,
        &tenant,
        Some((Some(7), record(&tenant, 3))),
        vec![foreign],
    );
    assert_eq!(
        commit_ok(store, &everything_wrong).await,
        CommitOutcome::Duplicate
    );

    // AND a duplicate without a write is a duplicate too.
    assert_eq!(
        commit_ok(store, &commit(&event_id, &tenant, None, vec![])).await,
        CommitOutcome::Duplicate
    );
    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 1), 1)));
}

pub async fn stale_commit_is_recorded_as_seen_and_its_redelivery_is_duplicate<S>(
    store: &S,
    seed: &Seed,
) where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let created = commit(
        &seed.id("evt", "new"),
        &tenant,
        Some((None, record(&tenant, 1))),
        vec![],
    );
    assert_eq!(commit_ok(store, &created).await, CommitOutcome::Committed);

    // WHEN an event that changes nothing is committed (write None).
    let stale_id = seed.id("evt", "stale");
    assert_eq!(
        commit_ok(store, &commit(&stale_id, &tenant, None, vec![])).await,
        CommitOutcome::Committed
    );
    assert_eq!(
        stored(store, &tenant).await,
        Some((record(&tenant, 1), 1)),
        "record untouched"
    );

    // THEN its re-delivery is a duplicate, even if it would now write.
    assert_eq!(
        commit_ok(store, &commit(&stale_id, &tenant, None, vec![])).await,
        CommitOutcome::Duplicate
    );
    let would_write = commit(
        &stale_id,
        &tenant,
        Some((Some(1), record(&tenant, 2))),
        vec![],
    );
    assert_eq!(
        commit_ok(store, &would_write).await,
        CommitOutcome::Duplicate
    );

    // AND a stale event for a tenant without a record leaves it without one.
    let nobody = seed.tenant("nobody");
    assert_eq!(
        commit_ok(store, &commit(&seed.id("evt", "x"), &nobody, None, vec![])).await,
        CommitOutcome::Committed
    );
    assert_eq!(stored(store, &nobody).await, None);
}

pub async fn commit_against_an_old_revision_conflicts_and_writes_nothing<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let first = commit(
        &seed.id("evt", "1"),
        &tenant,
        Some((None, record(&tenant, 1))),
        vec![],
    );
    assert_eq!(commit_ok(store, &first).await, CommitOutcome::Committed);
    let second = commit(
        &seed.id("evt", "2"),
        &tenant,
        Some((Some(1), record(&tenant, 2))),
        vec![],
    );
    assert_eq!(commit_ok(store, &second).await, CommitOutcome::Committed);
    assert_eq!(
        stored(store, &tenant).await,
        Some((record(&tenant, 2), 2)),
        "revisions count up"
    );

    // WHEN an event computed from revision 1 commits.
    let late_id = seed.id("evt", "3");
    let late_claim = subscription_ref(&seed.id("sub", "a"));
    let late = commit(
        &late_id,
        &tenant,
        Some((Some(1), record(&tenant, 3))),
        vec![late_claim.clone()],
    );
    assert_eq!(
        commit_ok(store, &late).await,
        CommitOutcome::RevisionConflict
    );
    assert_eq!(
        stored(store, &tenant).await,
        Some((record(&tenant, 2), 2)),
        "record unchanged"
    );
    assert_eq!(owner(store, &late_claim).await, None, "claim not written");

    // AND "no record" is a stale expectation once one exists.
    let blind = commit(&late_id, &tenant, Some((None, record(&tenant, 3))), vec![]);
    assert_eq!(
        commit_ok(store, &blind).await,
        CommitOutcome::RevisionConflict
    );

    // AND an expected revision for a tenant without a record conflicts too.
    let nobody = seed.tenant("nobody");
    let phantom = commit(
        &seed.id("evt", "4"),
        &nobody,
        Some((Some(1), record(&nobody, 1))),
        vec![],
    );
    assert_eq!(
        commit_ok(store, &phantom).await,
        CommitOutcome::RevisionConflict
    );
    assert_eq!(stored(store, &nobody).await, None);

    // THEN the dedupe key was not consumed: after re-reading, the event commits.
    let retried = commit(
        &late_id,
        &tenant,
        Some((Some(2), record(&tenant, 3))),
        vec![late_claim.clone()],
    );
    assert_eq!(commit_ok(store, &retried).await, CommitOutcome::Committed);
    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 3), 3)));
    assert_eq!(owner(store, &late_claim).await, Some(tenant));
}

pub async fn claim_owned_by_another_tenant_is_refused_and_writes_nothing<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let owner_tenant = seed.tenant("owner");
    let intruder = seed.tenant("intruder");
    let customer = customer_ref(&seed.id("cus", "shared"));
    let owned = commit(
        &seed.id("evt", "1"),
        &owner_tenant,
        Some((None, record(&owner_tenant, 1))),
        vec![customer.clone()],
    );
    assert_eq!(commit_ok(store, &owned).await, CommitOutcome::Committed);

    // WHEN another tenant's event claims a free reference and the owned one.
    let free = subscription_ref(&seed.id("sub", "free"));
    let event_id = seed.id("evt", "2");
    let intrusion = commit(
        &event_id,
        &intruder,
        Some((None, record(&intruder, 5))),
        vec![free.clone(), customer.clone()],
    );
    assert_eq!(
        commit_ok(store, &intrusion).await,
        CommitOutcome::ClaimedByOtherTenant {
            reference: customer.clone()
        }
    );

    // THEN nothing was written: no record, no claim, no dedupe key.
    assert_eq!(stored(store, &intruder).await, None);
    assert_eq!(owner(store, &free).await, None);
    assert_eq!(owner(store, &customer).await, Some(owner_tenant.clone()));
    let without_foreign_claim = commit(
        &event_id,
        &intruder,
        Some((None, record(&intruder, 5))),
        vec![free.clone()],
    );
    assert_eq!(
        commit_ok(store, &without_foreign_claim).await,
        CommitOutcome::Committed
    );
    assert_eq!(owner(store, &free).await, Some(intruder.clone()));

    // AND an event that changes nothing still may not claim it.
    let unchanged = commit(
        &seed.id("evt", "3"),
        &intruder,
        None,
        vec![customer.clone()],
    );
    assert_eq!(
        commit_ok(store, &unchanged).await,
        CommitOutcome::ClaimedByOtherTenant {
            reference: customer
        }
    );
}

pub async fn claiming_the_same_references_again_for_the_same_tenant_is_fine<S>(
    store: &S,
    seed: &Seed,
) where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let claims = vec![
        subscription_ref(&seed.id("sub", "a")),
        customer_ref(&seed.id("cus", "a")),
    ];
    let first = commit(
        &seed.id("evt", "1"),
        &tenant,
        Some((None, record(&tenant, 1))),
        claims.clone(),
    );
    assert_eq!(commit_ok(store, &first).await, CommitOutcome::Committed);

    // The same references again, and one listed twice in one commit.
    let mut repeated = claims.clone();
    repeated.push(claims[0].clone());
    let second = commit(
        &seed.id("evt", "2"),
        &tenant,
        Some((Some(1), record(&tenant, 2))),
        repeated,
    );
    assert_eq!(commit_ok(store, &second).await, CommitOutcome::Committed);

    assert_eq!(stored(store, &tenant).await, Some((record(&tenant, 2), 2)));
    for reference in &claims {
        assert_eq!(owner(store, reference).await, Some(tenant.clone()));
    }
}

pub async fn commit_without_a_write_records_no_claims<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let reference = customer_ref(&seed.id("cus", "a"));
    let unchanged = commit(&seed.id("evt", "1"), &tenant, None, vec![reference.clone()]);
    assert_eq!(commit_ok(store, &unchanged).await, CommitOutcome::Committed);
    assert_eq!(
        owner(store, &reference).await,
        None,
        "claims travel with a record change only"
    );
}

pub async fn tenant_for_resolves_claimed_references<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let a = seed.tenant("a");
    let b = seed.tenant("b");
    let (sub_a, cus_a) = (
        subscription_ref(&seed.id("sub", "a")),
        customer_ref(&seed.id("cus", "a")),
    );
    let cus_b = customer_ref(&seed.id("cus", "b"));
    assert_eq!(
        commit_ok(
            store,
            &commit(
                &seed.id("evt", "a"),
                &a,
                Some((None, record(&a, 1))),
                vec![sub_a.clone(), cus_a.clone()]
            )
        )
        .await,
        CommitOutcome::Committed
    );
    assert_eq!(
        commit_ok(
            store,
            &commit(
                &seed.id("evt", "b"),
                &b,
                Some((None, record(&b, 1))),
                vec![cus_b.clone()]
            )
        )
        .await,
        CommitOutcome::Committed
    );

    assert_eq!(owner(store, &sub_a).await, Some(a.clone()));
    assert_eq!(owner(store, &cus_a).await, Some(a));
    assert_eq!(owner(store, &cus_b).await, Some(b));
    // The kind is part of the reference: the same id as a subscription is unknown.
    assert_eq!(owner(store, &subscription_ref(&cus_b.id)).await, None);
    assert_eq!(
        owner(store, &customer_ref(&seed.id("cus", "unknown"))).await,
        None
    );
}

/// A record with every optional field and every facet set, including values
/// that trip up lossy encodings (negative and extreme numbers, non-ASCII).
pub fn full_subscription(tenant: &TenantId, seed: &Seed) -> Subscription {
    let customer_id = seed.id("cus", "full");
    let subscription_id = seed.id("sub", "full");
    let plan = PlanCode::new("team");
    let order = |at: i64, rank: u8, name: &str| EventOrder {
        occurred_at: UnixTime(at),
        rank,
        event_id: seed.id("evt", name),
    };
    let snapshot = SubscriptionSnapshot {
        subscription_id: subscription_id.clone(),
        customer_id: customer_id.clone(),
        status: SubscriptionStatus::PastDue,
        provider_status: "past_due — relance n°2 ✓".into(),
        plan: Some(plan.clone()),
        price_id: Some("price_team_yearly".into()),
        current_period_start: Some(UnixTime(1_700_000_000)),
        current_period_end: Some(UnixTime(1_731_536_000)),
        cancel_at_period_end: true,
        cancel_at: Some(UnixTime(1_731_536_000)),
        canceled_at: Some(UnixTime(1_700_000_500)),
        trial_end: Some(UnixTime(1_699_000_000)),
        seats: u32::MAX,
    };
    let checkout = CheckoutDetails {
        session_id: seed.id("cs", "full"),
        customer_id: Some(customer_id.clone()),
        subscription_id: Some(subscription_id.clone()),
        plan: Some(plan.clone()),
    };
    let invoice = InvoiceOutcome {
        invoice: InvoiceDetails {
            invoice_id: seed.id("in", "full"),
            customer_id: Some(customer_id.clone()),
            subscription_id: Some(subscription_id.clone()),
            created: UnixTime(1_700_000_001),
            amount_due: Money::new(i64::MAX, "USD"),
            amount_paid: Money::new(-4_200, "inr"),
            attempt_count: 3,
        },
        paid: false,
    };
    Subscription {
        tenant_id: tenant.clone(),
        plan: Some(plan),
        provider: Provider::Stripe,
        provider_customer_id: Some(customer_id),
        provider_subscription_id: Some(subscription_id),
        status: SubscriptionStatus::PastDue,
        current_period_start: Some(UnixTime(1_700_000_000)),
        current_period_end: Some(UnixTime(1_731_536_000)),
        cancel_at_period_end: true,
        cancel_at: Some(UnixTime(1_731_536_000)),
        canceled_at: Some(UnixTime(1_700_000_500)),
        trial_end: Some(UnixTime(1_699_000_000)),
        seats: u32::MAX,
        past_due_since: Some(UnixTime(1_700_000_001)),
        pending_change: Some(PendingChange {
            plan: PlanCode::new("pro-yearly"),
            seats: 7,
            effective_at: UnixTime(1_731_536_000),
        }),
        last_event: Some(order(1_700_000_600, 3, "snapshot")),
        created_at: UnixTime(i64::MIN / 2),
        updated_at: UnixTime(i64::MAX),
        sources: Sources {
            snapshot: Some(Facet {
                order: order(1_700_000_600, 3, "snapshot"),
                provider: Provider::Stripe,
                value: snapshot,
            }),
            checkout: Some(Facet {
                order: order(1_699_999_000, 1, "checkout"),
                provider: Provider::Stripe,
                value: checkout,
            }),
            invoice: Some(Facet {
                order: order(1_700_000_100, 2, "invoice"),
                provider: Provider::Stripe,
                value: invoice,
            }),
            intent: Some(ChangeIntent {
                subscription_id: seed.id("sub", "full"),
                plan: PlanCode::new("pro-yearly"),
                seats: 7,
                timing: ChangeTiming::PeriodEnd,
                effective_at: UnixTime(1_731_536_000),
                requested_at: UnixTime(1_700_000_700),
            }),
        },
    }
}

pub async fn full_subscription_round_trips_exactly<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let full = full_subscription(&tenant, seed);
    let outcome = commit_ok(
        store,
        &commit(
            &seed.id("evt", "full"),
            &tenant,
            Some((None, full.clone())),
            vec![],
        ),
    )
    .await;
    assert_eq!(outcome, CommitOutcome::Committed);
    let (read, revision) = stored(store, &tenant).await.expect("record written");
    assert_eq!(read, full);
    assert_eq!(revision, 1);

    // And the empty record (every option None) round-trips as well.
    let empty = Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(0));
    let outcome = commit_ok(
        store,
        &commit(
            &seed.id("evt", "empty"),
            &tenant,
            Some((Some(1), empty.clone())),
            vec![],
        ),
    )
    .await;
    assert_eq!(outcome, CommitOutcome::Committed);
    assert_eq!(stored(store, &tenant).await, Some((empty, 2)));
}

// ---------- Customers ----------

pub async fn claim_customer_first_writer_wins<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let tenant = seed.tenant("a");
    let (first, second) = (seed.id("cus", "first"), seed.id("cus", "second"));
    assert_eq!(
        store
            .customer_id(&tenant, Provider::Stripe)
            .await
            .expect("customer_id"),
        None
    );

    assert_eq!(
        store
            .claim_customer(&tenant, Provider::Stripe, &first)
            .await
            .expect("first claim"),
        first
    );
    // A racing creator of a second customer gets the first one back.
    assert_eq!(
        store
            .claim_customer(&tenant, Provider::Stripe, &second)
            .await
            .expect("second claim"),
        first
    );
    // Claiming the same id again is harmless.
    assert_eq!(
        store
            .claim_customer(&tenant, Provider::Stripe, &first)
            .await
            .expect("repeat claim"),
        first
    );

    assert_eq!(
        store
            .customer_id(&tenant, Provider::Stripe)
            .await
            .expect("customer_id"),
        Some(first.clone())
    );
    assert_eq!(
        owner(store, &customer_ref(&first)).await,
        Some(tenant),
        "the customer routes back to its tenant"
    );
    assert_eq!(
        owner(store, &customer_ref(&second)).await,
        None,
        "the loser's id is not mapped"
    );
}

pub async fn customer_id_owned_by_another_tenant_is_refused<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let (a, b) = (seed.tenant("a"), seed.tenant("b"));
    let customer = seed.id("cus", "a");
    store
        .claim_customer(&a, Provider::Stripe, &customer)
        .await
        .expect("claim by a");

    let refused = store.claim_customer(&b, Provider::Stripe, &customer).await;
    assert!(
        matches!(refused, Err(StoreError::Permanent(_))),
        "got {refused:?}"
    );
    assert_eq!(
        store
            .customer_id(&b, Provider::Stripe)
            .await
            .expect("customer_id"),
        None,
        "nothing written for b"
    );
    assert_eq!(
        owner(store, &customer_ref(&customer)).await,
        Some(a.clone())
    );

    // A customer id first claimed through an event belongs to that tenant too.
    let via_event = customer_ref(&seed.id("cus", "event"));
    let committed = commit(
        &seed.id("evt", "1"),
        &a,
        Some((None, record(&a, 1))),
        vec![via_event.clone()],
    );
    assert_eq!(commit_ok(store, &committed).await, CommitOutcome::Committed);
    assert!(store
        .claim_customer(&b, Provider::Stripe, &via_event.id)
        .await
        .is_err());
    let c = seed.tenant("c");
    store
        .claim_customer(&c, Provider::Stripe, &seed.id("cus", "c"))
        .await
        .expect("an unrelated tenant is unaffected");
}

// ---------- Parking ----------

pub(crate) fn envelope(event: ProviderEvent) -> WebhookEnvelope {
    let raw = serde_json::to_string(&event).expect("events serialize");
    WebhookEnvelope::new(event, raw, NOW, "req-contract".into())
}

pub async fn park_is_idempotent<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let event = ProviderEvent {
        provider: Provider::Stripe,
        event_id: seed.id("evt", "parked"),
        event_type: "invoice.paid".into(),
        occurred_at: NOW,
        tenant_hint: None,
        payment: None,
        kind: EventKind::PaymentMethodAttached {
            customer_id: Some(seed.id("cus", "x")),
            payment_method_id: "pm_1".into(),
        },
    };
    let parked = ParkedEvent {
        envelope: envelope(event),
        reason: "no tenant".into(),
        parked_at: NOW,
    };
    store.park(&parked).await.expect("first park");
    store
        .park(&parked)
        .await
        .expect("parking again is not an error");
    let later = ParkedEvent {
        reason: "another reason".into(),
        parked_at: NOW.plus_seconds(60),
        ..parked
    };
    store
        .park(&later)
        .await
        .expect("parking a redelivery is not an error");
}

// ---------- End to end through process_envelope ----------

/// A small deterministic generator (SplitMix64): a failing shuffle can be
/// replayed from the seed printed in the assertion message.
pub(crate) struct Shuffler(pub(crate) u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self) -> bool {
        self.next() & 1 == 1
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// One tenant's subscription history as a provider would send it.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub tenant: TenantId,
    pub customer_id: String,
    pub subscription_id: String,
    pub events: Vec<ProviderEvent>,
}

impl Lifecycle {
    /// The record in-order delivery produces, folded with `apply_event`
    /// alone, at the contract's fixed processing time.
    pub fn in_order_record(&self) -> Option<Subscription> {
        let mut current: Option<Subscription> = None;
        for event in &self.events {
            if let Transition::Applied(next) =
                apply_event(current.as_ref(), &self.tenant, event, NOW)
            {
                current = Some(*next);
            }
        }
        current
    }
}

/// Generates a lifecycle from the seed: checkout, creation (trial or not),
/// the first invoice, seat changes, maybe a failed renewal recovered later,
/// maybe a cancellation at period end and deletion, plus a payment-method
/// event and an event type nobody handles. Every event names its tenant.
pub fn generate_lifecycle(seed: &Seed, name: &str) -> Lifecycle {
    const DAY: i64 = 86_400;
    let mut rng = Shuffler(seed.number() ^ name.bytes().map(u64::from).sum::<u64>());
    let tenant = seed.tenant(name);
    let customer_id = seed.id("cus", name);
    let subscription_id = seed.id("sub", name);
    let plan = Some(PlanCode::new("pro"));
    let start = 1_700_000_000 + rng.below(1_000) as i64;
    let mut events = Vec::new();
    let mut push = |at: i64, event_type: &str, kind: EventKind| {
        let event_id = seed.id("evt", &format!("{name}{}", events.len()));
        events.push(ProviderEvent {
            provider: Provider::Stripe,
            event_id,
            event_type: event_type.to_owned(),
            occurred_at: UnixTime(at),
            tenant_hint: Some(tenant.clone()),
            payment: None,
            kind,
        });
    };
    let snapshot = |status, period_start: i64, seats| SubscriptionSnapshot {
        subscription_id: subscription_id.clone(),
        customer_id: customer_id.clone(),
        status,
        provider_status: status.as_str().to_owned(),
        plan: plan.clone(),
        price_id: Some("price_pro_monthly".into()),
        current_period_start: Some(UnixTime(period_start)),
        current_period_end: Some(UnixTime(period_start + 30 * DAY)),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        trial_end: None,
        seats,
    };
    let invoice = |id: &str, created: i64, attempt_count| InvoiceDetails {
        invoice_id: seed.id("in", &format!("{name}{id}")),
        customer_id: Some(customer_id.clone()),
        subscription_id: Some(subscription_id.clone()),
        created: UnixTime(created),
        amount_due: Money::new(1_999, "usd"),
        amount_paid: Money::new(if attempt_count == 0 { 0 } else { 1_999 }, "usd"),
        attempt_count,
    };
    let updated = |snapshot| EventKind::SubscriptionSnapshot {
        change: SnapshotChange::Updated,
        snapshot,
    };

    push(
        start,
        "checkout.session.completed",
        EventKind::CheckoutCompleted(CheckoutDetails {
            session_id: seed.id("cs", name),
            customer_id: Some(customer_id.clone()),
            subscription_id: Some(subscription_id.clone()),
            plan: plan.clone(),
        }),
    );
    push(
        start,
        "payment_method.attached",
        EventKind::PaymentMethodAttached {
            customer_id: Some(customer_id.clone()),
            payment_method_id: seed.id("pm", name),
        },
    );
    let mut created = snapshot(SubscriptionStatus::Active, start + 1, 1);
    if rng.chance() {
        created.status = SubscriptionStatus::Trialing;
        created.trial_end = Some(UnixTime(start + 14 * DAY));
    }
    push(
        start + 1,
        "customer.subscription.created",
        EventKind::SubscriptionSnapshot {
            change: SnapshotChange::Created,
            snapshot: created,
        },
    );
    push(
        start + 1,
        "invoice.paid",
        EventKind::InvoicePaid(invoice("first", start + 1, 1)),
    );
    let mut seats = 1;
    for i in 0..=rng.below(3) as i64 {
        seats = 1 + rng.below(20) as u32;
        push(
            start + 100 * (i + 1),
            "customer.subscription.updated",
            updated(snapshot(SubscriptionStatus::Active, start + 1, seats)),
        );
    }
    push(start + 200, "customer.tax_id.created", EventKind::Unknown);

    let renewal = start + 1 + 30 * DAY;
    if rng.chance() {
        push(
            renewal + 10,
            "invoice.payment_failed",
            EventKind::InvoicePaymentFailed(invoice("renewal", renewal, 0)),
        );
        push(
            renewal + 11,
            "customer.subscription.updated",
            updated(snapshot(SubscriptionStatus::PastDue, renewal, seats)),
        );
        if rng.chance() {
            push(
                renewal + 3_600,
                "invoice.paid",
                EventKind::InvoicePaid(invoice("renewal", renewal, 2)),
            );
            push(
                renewal + 3_601,
                "customer.subscription.updated",
                updated(snapshot(SubscriptionStatus::Active, renewal, seats)),
            );
        }
    } else {
        push(
            renewal + 5,
            "invoice.paid",
            EventKind::InvoicePaid(invoice("renewal", renewal, 1)),
        );
        push(
            renewal + 6,
            "customer.subscription.updated",
            updated(snapshot(SubscriptionStatus::Active, renewal, seats)),
        );
    }
    if rng.chance() {
        let mut cancelling = snapshot(SubscriptionStatus::Active, renewal, seats);
        cancelling.cancel_at_period_end = true;
        cancelling.cancel_at = cancelling.current_period_end;
        push(
            renewal + 10 * DAY,
            "customer.subscription.updated",
            updated(cancelling.clone()),
        );
        let mut deleted = cancelling;
        deleted.canceled_at = Some(UnixTime(renewal + 30 * DAY));
        deleted.provider_status = "canceled".into();
        push(
            renewal + 30 * DAY,
            "customer.subscription.deleted",
            EventKind::SubscriptionDeleted { snapshot: deleted },
        );
    }
    Lifecycle {
        tenant,
        customer_id,
        subscription_id,
        events,
    }
}

/// Delivers like SQS would: a retryable failure is delivered again.
async fn deliver(store: &dyn EventLedger, event: &ProviderEvent) -> ProcessOutcome {
    let envelope = envelope(event.clone());
    let policy = ProcessingPolicy::default();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match process_envelope(
            store,
            &envelope,
            NOW,
            &policy,
            &invoicing(&Seed::fixed("lifecycle")),
        )
        .await
        {
            Ok(outcome) => return outcome,
            Err(e) if e.is_retryable() && attempts < 20 => {
                tokio::time::sleep(Duration::from_millis(5 * attempts)).await
            }
            Err(e) => panic!(
                "processing {} failed after {attempts} attempts: {e}",
                event.event_id
            ),
        }
    }
}

/// The deliveries of a lifecycle in a shuffled order with some duplicated,
/// and how many of them are duplicates of an event that is deduplicated.
fn shuffled_with_duplicates(
    lifecycle: &Lifecycle,
    rng: &mut Shuffler,
) -> (Vec<ProviderEvent>, usize) {
    let mut deliveries = lifecycle.events.clone();
    let mut duplicates = 0;
    for event in &lifecycle.events {
        for _ in 0..rng.below(3) {
            deliveries.push(event.clone());
            if !matches!(event.kind, EventKind::Unknown) {
                duplicates += 1;
            }
        }
    }
    rng.shuffle(&mut deliveries);
    (deliveries, duplicates)
}

pub async fn shuffled_duplicated_delivery_converges_on_the_in_order_record<S>(
    store: &S,
    seed: &Seed,
) where
    S: EventLedger + CustomerRegistry,
{
    // In order, through the store: the same as the pure fold.
    let in_order = generate_lifecycle(seed, "ordered");
    for event in &in_order.events {
        let outcome = deliver(store, event).await;
        assert!(
            !matches!(
                outcome,
                ProcessOutcome::Parked { .. } | ProcessOutcome::Duplicate { .. }
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(
        stored(store, &in_order.tenant).await.map(|(s, _)| s),
        in_order.in_order_record()
    );

    // Shuffled with duplicates, for a few generated lifecycles.
    for round in 0..3 {
        let lifecycle = generate_lifecycle(seed, &format!("shuffled{round}"));
        let mut rng = Shuffler(seed.number().wrapping_add(round));
        let (deliveries, duplicates) = shuffled_with_duplicates(&lifecycle, &mut rng);
        let order: Vec<&str> = deliveries.iter().map(|e| e.event_id.as_str()).collect();

        let mut duplicate_outcomes = 0;
        for event in &deliveries {
            match deliver(store, event).await {
                ProcessOutcome::Duplicate { tenant } => {
                    assert_eq!(tenant, lifecycle.tenant);
                    duplicate_outcomes += 1;
                }
                ProcessOutcome::Parked { reason } => panic!("{} parked: {reason}", event.event_id),
                _ => {}
            }
        }

        let expected = lifecycle.in_order_record();
        assert!(expected.is_some());
        assert_eq!(
            stored(store, &lifecycle.tenant).await.map(|(s, _)| s),
            expected,
            "seed {} round {round}, delivery order {order:?}",
            seed.as_str()
        );
        assert_eq!(
            duplicate_outcomes, duplicates,
            "each repeated delivery is reported as a duplicate"
        );
        assert_eq!(
            owner(store, &subscription_ref(&lifecycle.subscription_id)).await,
            Some(lifecycle.tenant.clone())
        );
        assert_eq!(
            owner(store, &customer_ref(&lifecycle.customer_id)).await,
            Some(lifecycle.tenant.clone())
        );
    }
}

/// Takes the store by `Arc` because spawned tasks outlive the borrow.
pub async fn concurrent_delivery_converges_on_the_in_order_record<S>(store: Arc<S>, seed: &Seed)
where
    S: EventLedger + CustomerRegistry + 'static,
{
    let lifecycle = generate_lifecycle(seed, "concurrent");
    let mut rng = Shuffler(seed.number());
    let (deliveries, _) = shuffled_with_duplicates(&lifecycle, &mut rng);

    // A few events raced in one task with join!, the rest across spawned
    // tasks, several deliveries each.
    let (raced, spread) = deliveries.split_at(3.min(deliveries.len()));
    let raced_store: &dyn EventLedger = &*store;
    let ledger = |i: usize| async move { deliver(raced_store, &raced[i]).await };
    let _ = tokio::join!(ledger(0), ledger(1), ledger(2));

    let mut tasks = Vec::new();
    for chunk in spread.chunks(spread.len().div_ceil(4).max(1)) {
        let store = Arc::clone(&store);
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for event in &chunk {
                deliver(&*store, event).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("delivery task panicked");
    }

    assert_eq!(
        stored(&*store, &lifecycle.tenant).await.map(|(s, _)| s),
        lifecycle.in_order_record(),
        "seed {}",
        seed.as_str()
    );
}

pub async fn event_without_tenant_is_routed_by_claims_or_parked<S>(store: &S, seed: &Seed)
where
    S: EventLedger + CustomerRegistry,
{
    let lifecycle = generate_lifecycle(seed, "routed");
    let checkout = &lifecycle.events[0];
    assert!(
        matches!(
            deliver(store, checkout).await,
            ProcessOutcome::Applied { .. }
        ),
        "GIVEN the checkout claimed the ids"
    );

    // WHEN an invoice names only the subscription and customer.
    let invoice = ProviderEvent {
        provider: Provider::Stripe,
        event_id: seed.id("evt", "routed-invoice"),
        event_type: "invoice.paid".into(),
        occurred_at: UnixTime(1_800_000_000),
        tenant_hint: None,
        payment: None,
        kind: EventKind::InvoicePaid(InvoiceDetails {
            invoice_id: seed.id("in", "routed"),
            customer_id: Some(lifecycle.customer_id.clone()),
            subscription_id: Some(lifecycle.subscription_id.clone()),
            created: UnixTime(1_800_000_000),
            amount_due: Money::new(500, "eur"),
            amount_paid: Money::new(500, "eur"),
            attempt_count: 1,
        }),
    };
    assert_eq!(
        deliver(store, &invoice).await,
        ProcessOutcome::Applied {
            tenant: lifecycle.tenant.clone(),
            logged: None,
        }
    );

    // WHEN one names ids nobody claimed, it is parked, again on redelivery.
    let orphan = ProviderEvent {
        event_id: seed.id("evt", "orphan"),
        kind: EventKind::InvoicePaid(InvoiceDetails {
            customer_id: Some(seed.id("cus", "orphan")),
            subscription_id: Some(seed.id("sub", "orphan")),
            ..match &invoice.kind {
                EventKind::InvoicePaid(details) => details.clone(),
                _ => unreachable!(),
            }
        }),
        ..invoice.clone()
    };
    assert!(matches!(
        deliver(store, &orphan).await,
        ProcessOutcome::Parked { .. }
    ));
    assert!(matches!(
        deliver(store, &orphan).await,
        ProcessOutcome::Parked { .. }
    ));
    assert_eq!(
        owner(store, &customer_ref(&seed.id("cus", "orphan"))).await,
        None
    );
}
