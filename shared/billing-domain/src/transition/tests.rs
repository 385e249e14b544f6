//! Tests of `apply_event`: example lifecycles, staleness, and the convergence
//! property (any permutation with duplicates ends where in-order delivery ends).

use super::*;
use crate::event::{CheckoutDetails, InvoiceDetails, SnapshotChange, SubscriptionSnapshot};
use crate::ids::{PlanCode, Provider};
use crate::intent::{ChangeIntent, ChangeTiming};
use crate::money::Money;
use proptest::prelude::*;

const NOW: UnixTime = UnixTime(1_700_000_000);

fn tenant() -> TenantId {
    TenantId::parse("org_1").unwrap()
}

fn event(id: u32, at: i64, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Stripe,
        event_id: format!("evt_{id:06}"),
        event_type: "test".into(),
        occurred_at: UnixTime(at),
        tenant_hint: Some(tenant()),
        payment: None,
        kind,
    }
}

fn snapshot(sub: &str, status: SubscriptionStatus, period_start: i64) -> SubscriptionSnapshot {
    SubscriptionSnapshot {
        subscription_id: sub.into(),
        customer_id: "cus_1".into(),
        status,
        provider_status: status.as_str().into(),
        plan: Some(PlanCode::new("pro")),
        price_id: Some("price_pro".into()),
        current_period_start: Some(UnixTime(period_start)),
        current_period_end: Some(UnixTime(period_start + 30 * 86_400)),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        trial_end: None,
        seats: 1,
    }
}

fn updated(snapshot: SubscriptionSnapshot) -> EventKind {
    EventKind::SubscriptionSnapshot {
        change: SnapshotChange::Updated,
        snapshot,
    }
}

fn invoice(id: &str, sub: &str, created: i64) -> InvoiceDetails {
    InvoiceDetails {
        invoice_id: id.into(),
        customer_id: Some("cus_1".into()),
        subscription_id: Some(sub.into()),
        created: UnixTime(created),
        amount_due: Money::new(1900, "usd"),
        amount_paid: Money::new(0, "usd"),
        attempt_count: 1,
    }
}

fn checkout(sub: &str) -> EventKind {
    EventKind::CheckoutCompleted(CheckoutDetails {
        session_id: format!("cs_{sub}"),
        customer_id: Some("cus_1".into()),
        subscription_id: Some(sub.into()),
        plan: Some(PlanCode::new("pro")),
    })
}

fn fold(events: &[ProviderEvent]) -> Option<Subscription> {
    events.iter().fold(None, |state, e| {
        match apply_event(state.as_ref(), &tenant(), e, NOW) {
            Transition::Applied(next) => Some(*next),
            Transition::Unchanged(_) => state,
        }
    })
}

#[test]
fn checkout_then_snapshot_makes_an_active_subscription() {
    let state = fold(&[
        event(1, 100, checkout("sub_1")),
        event(
            2,
            101,
            updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
        ),
    ])
    .unwrap();
    assert_eq!(state.status, SubscriptionStatus::Active);
    assert_eq!(state.plan, Some(PlanCode::new("pro")));
    assert_eq!(state.provider_subscription_id.as_deref(), Some("sub_1"));
    assert_eq!(state.last_event.unwrap().event_id, "evt_000002");
}

#[test]
fn checkout_alone_shows_a_pending_incomplete_subscription() {
    let state = fold(&[event(1, 100, checkout("sub_1"))]).unwrap();
    assert_eq!(state.status, SubscriptionStatus::Incomplete);
    assert_eq!(state.provider_customer_id.as_deref(), Some("cus_1"));
}

#[test]
fn checkout_completing_after_its_subscription_was_created_does_not_regress_status() {
    let state = fold(&[
        event(
            1,
            100,
            updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
        ),
        event(2, 105, checkout("sub_1")),
    ])
    .unwrap();
    assert_eq!(state.status, SubscriptionStatus::Active);
}

#[test]
fn stale_event_does_not_overwrite_newer_state() {
    let newer = fold(&[event(
        2,
        200,
        updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
    )])
    .unwrap();
    let older = event(
        1,
        150,
        updated(snapshot("sub_1", SubscriptionStatus::PastDue, 100)),
    );
    assert_eq!(
        apply_event(Some(&newer), &tenant(), &older, NOW),
        Transition::Unchanged(Unchanged::Stale)
    );
}

#[test]
fn duplicate_event_changes_nothing() {
    let e = event(
        1,
        100,
        updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
    );
    let state = fold(std::slice::from_ref(&e)).unwrap();
    assert_eq!(
        apply_event(Some(&state), &tenant(), &e, NOW),
        Transition::Unchanged(Unchanged::Stale)
    );
}

#[test]
fn same_second_update_outranks_create_whatever_the_ids() {
    let created = event(
        9,
        100,
        EventKind::SubscriptionSnapshot {
            change: SnapshotChange::Created,
            snapshot: snapshot("sub_1", SubscriptionStatus::Incomplete, 100),
        },
    );
    let update = event(
        1,
        100,
        updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
    );
    assert_eq!(
        fold(&[update.clone(), created.clone()]).unwrap().status,
        SubscriptionStatus::Active
    );
    assert_eq!(
        fold(&[created, update]).unwrap().status,
        SubscriptionStatus::Active
    );
}

#[test]
fn deletion_ends_in_canceled_even_if_the_snapshot_says_otherwise() {
    let state = fold(&[
        event(
            1,
            100,
            updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
        ),
        event(
            2,
            200,
            EventKind::SubscriptionDeleted {
                snapshot: snapshot("sub_1", SubscriptionStatus::Active, 100),
            },
        ),
    ])
    .unwrap();
    assert_eq!(state.status, SubscriptionStatus::Canceled);
}

#[test]
fn past_due_grace_is_anchored_on_the_unpaid_invoice() {
    let state = fold(&[
        event(
            1,
            100,
            updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
        ),
        event(
            2,
            5_000,
            EventKind::InvoicePaymentFailed(invoice("in_2", "sub_1", 4_000)),
        ),
        event(
            3,
            5_001,
            updated(snapshot("sub_1", SubscriptionStatus::PastDue, 4_000)),
        ),
    ])
    .unwrap();
    assert_eq!(state.past_due_since, Some(UnixTime(4_000)));
}

#[test]
fn past_due_without_invoice_event_falls_back_to_period_start() {
    let state = fold(&[event(
        1,
        100,
        updated(snapshot("sub_1", SubscriptionStatus::PastDue, 90)),
    )])
    .unwrap();
    assert_eq!(state.past_due_since, Some(UnixTime(90)));
}

#[test]
fn paid_invoice_clears_the_grace_anchor_once_active_again() {
    let state = fold(&[
        event(
            1,
            5_000,
            EventKind::InvoicePaymentFailed(invoice("in_2", "sub_1", 4_000)),
        ),
        event(
            2,
            5_001,
            updated(snapshot("sub_1", SubscriptionStatus::PastDue, 4_000)),
        ),
        event(
            3,
            6_000,
            EventKind::InvoicePaid(invoice("in_2", "sub_1", 4_000)),
        ),
        event(
            4,
            6_001,
            updated(snapshot("sub_1", SubscriptionStatus::Active, 4_000)),
        ),
    ])
    .unwrap();
    assert_eq!(state.status, SubscriptionStatus::Active);
    assert_eq!(state.past_due_since, None);
}

#[test]
fn a_new_checkout_after_cancellation_shows_pending_until_its_snapshot_arrives() {
    let canceled = [
        event(
            1,
            100,
            updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
        ),
        event(
            2,
            200,
            EventKind::SubscriptionDeleted {
                snapshot: snapshot("sub_1", SubscriptionStatus::Canceled, 100),
            },
        ),
        event(3, 300, checkout("sub_2")),
    ];
    let pending = fold(&canceled).unwrap();
    assert_eq!(pending.status, SubscriptionStatus::Incomplete);
    assert_eq!(pending.provider_subscription_id.as_deref(), Some("sub_2"));

    let mut all = canceled.to_vec();
    all.push(event(
        4,
        299,
        updated(snapshot("sub_2", SubscriptionStatus::Active, 299)),
    ));
    let active = fold(&all).unwrap();
    assert_eq!(active.status, SubscriptionStatus::Active);
    assert_eq!(active.provider_subscription_id.as_deref(), Some("sub_2"));
}

#[test]
fn unknown_and_payment_method_events_change_nothing() {
    let state = fold(&[event(
        1,
        100,
        updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
    )]);
    for kind in [
        EventKind::Unknown,
        EventKind::PaymentMethodAttached {
            customer_id: Some("cus_1".into()),
            payment_method_id: "pm_1".into(),
        },
    ] {
        assert!(matches!(
            apply_event(state.as_ref(), &tenant(), &event(2, 200, kind), NOW),
            Transition::Unchanged(Unchanged::UnknownEvent | Unchanged::NoStateEffect)
        ));
    }
}

#[test]
fn updated_at_moves_only_when_the_record_changes() {
    let first = fold(&[event(
        1,
        100,
        updated(snapshot("sub_1", SubscriptionStatus::Active, 100)),
    )])
    .unwrap();
    let later = UnixTime(NOW.0 + 60);
    let e2 = event(
        2,
        200,
        updated(snapshot("sub_1", SubscriptionStatus::PastDue, 100)),
    );
    let Transition::Applied(second) = apply_event(Some(&first), &tenant(), &e2, later) else {
        panic!("newer event must apply");
    };
    assert_eq!(second.created_at, NOW);
    assert_eq!(second.updated_at, later);
}

// ---- Property: convergence under permutation and duplication ----

fn status_strategy() -> impl Strategy<Value = SubscriptionStatus> {
    prop::sample::select(SubscriptionStatus::ALL.to_vec())
}

/// One step of a generated lifecycle, before ids and times are assigned.
#[derive(Debug, Clone)]
enum Step {
    Checkout(u8),
    /// Subscription, change, status, cancel at period end, and which of
    /// the intents' targets (if any) the snapshot shows.
    Snapshot(u8, SnapshotChange, SubscriptionStatus, bool, u8),
    Deleted(u8),
    Invoice(u8, bool),
    PaymentMethod,
    Unknown,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let change = prop::sample::select(vec![
        SnapshotChange::Created,
        SnapshotChange::Updated,
        SnapshotChange::Paused,
        SnapshotChange::Resumed,
    ]);
    prop_oneof![
        1 => (0u8..2).prop_map(Step::Checkout),
        4 => (0u8..2, change, status_strategy(), any::<bool>(), 0u8..3)
            .prop_map(|(s, c, st, cancel, target)| Step::Snapshot(s, c, st, cancel, target)),
        1 => (0u8..2).prop_map(Step::Deleted),
        2 => (0u8..3, any::<bool>()).prop_map(|(i, paid)| Step::Invoice(i, paid)),
        1 => Just(Step::PaymentMethod),
        1 => Just(Step::Unknown),
    ]
}

/// A lifecycle in provider order: times never go back and often repeat, so
/// the same-second tie rule is exercised.
fn lifecycle() -> impl Strategy<Value = Vec<ProviderEvent>> {
    prop::collection::vec((step_strategy(), 0i64..3), 1..14).prop_map(|steps| {
        let mut at = 1_000;
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (step, gap))| {
                at += gap;
                let sub = |n: u8| format!("sub_{n}");
                let kind = match step {
                    Step::Checkout(s) => checkout(&sub(s)),
                    Step::Snapshot(s, change, status, cancel, target) => {
                        let mut snap = snapshot(&sub(s), status, at - 10);
                        snap.cancel_at_period_end = cancel;
                        if let Some((plan, seats)) = target_of(target) {
                            snap.plan = Some(PlanCode::new(plan));
                            snap.seats = seats;
                        }
                        EventKind::SubscriptionSnapshot {
                            change,
                            snapshot: snap,
                        }
                    }
                    Step::Deleted(s) => EventKind::SubscriptionDeleted {
                        snapshot: snapshot(&sub(s), SubscriptionStatus::Canceled, at - 10),
                    },
                    Step::Invoice(n, paid) => {
                        let inv = invoice(&format!("in_{n}"), "sub_0", 900 + i64::from(n));
                        if paid {
                            EventKind::InvoicePaid(inv)
                        } else {
                            EventKind::InvoicePaymentFailed(inv)
                        }
                    }
                    Step::PaymentMethod => EventKind::PaymentMethodAttached {
                        customer_id: Some("cus_1".into()),
                        payment_method_id: "pm_1".into(),
                    },
                    Step::Unknown => EventKind::Unknown,
                };
                event(i as u32, at, kind)
            })
            .collect()
    })
}

/// A lifecycle plus a delivery of it: shuffled, with some events repeated.
fn delivery() -> impl Strategy<Value = (Vec<ProviderEvent>, Vec<ProviderEvent>)> {
    lifecycle().prop_flat_map(|events| {
        let n = events.len();
        let dupes = prop::collection::vec(0..n, 0..n * 2);
        (Just(events), dupes).prop_flat_map(|(events, dupes)| {
            let mut delivered = events.clone();
            delivered.extend(dupes.into_iter().map(|i| events[i].clone()));
            (Just(events), Just(delivered).prop_shuffle())
        })
    })
}

/// The plan and seats a generated snapshot or intent may name; 0 is the
/// lifecycle's own (pro, 1 seat).
fn target_of(n: u8) -> Option<(&'static str, u32)> {
    match n {
        1 => Some(("team", 3)),
        2 => Some(("pro", 4)),
        _ => None,
    }
}

/// What happens to the record: a delivered event, or our API recording the
/// change a provider accepted.
#[derive(Debug, Clone)]
enum Op {
    Event(Box<ProviderEvent>),
    Intent(ChangeIntent),
}

/// Folds operations the way the system does: events through `apply_event`,
/// intents through `record_intent`, which a command only does once it has
/// read a record (so an intent before any record waits for the first one).
fn fold_ops(ops: &[Op]) -> Option<Subscription> {
    let mut state: Option<Subscription> = None;
    let mut waiting = Vec::new();
    for op in ops {
        match op {
            Op::Event(e) => {
                if let Transition::Applied(next) = apply_event(state.as_ref(), &tenant(), e, NOW) {
                    state = Some(*next);
                }
            }
            Op::Intent(i) => waiting.push(i.clone()),
        }
        if state.is_some() {
            for intent in waiting.drain(..) {
                let current = state.as_ref().expect("checked above");
                if let Transition::Applied(next) = record_intent(current, Some(intent), NOW) {
                    state = Some(*next);
                }
            }
        }
    }
    state
}

fn intent_strategy() -> impl Strategy<Value = ChangeIntent> {
    (0u8..2, 1u8..3, prop::bool::ANY, 990i64..1_030, 0i64..40).prop_map(
        |(sub, target, later, requested, wait)| {
            let (plan, seats) = target_of(target).expect("1 and 2 name targets");
            let timing = if later {
                ChangeTiming::PeriodEnd
            } else {
                ChangeTiming::Now
            };
            ChangeIntent {
                subscription_id: format!("sub_{sub}"),
                plan: PlanCode::new(plan),
                seats,
                timing,
                effective_at: UnixTime(match timing {
                    ChangeTiming::Now => requested,
                    ChangeTiming::PeriodEnd => requested + wait,
                }),
                requested_at: UnixTime(requested),
            }
        },
    )
}

/// A delivery with up to two intents recorded: in order (each intent where
/// its request time falls) and shuffled with duplicated events (each intent
/// anywhere).
fn delivery_with_intents() -> impl Strategy<Value = (Vec<Op>, Vec<Op>)> {
    (delivery(), prop::collection::vec(intent_strategy(), 0..3))
        .prop_flat_map(|((in_order, delivered), intents)| {
            let positions = prop::collection::vec(0..=delivered.len(), intents.len());
            (Just((in_order, delivered, intents)), positions)
        })
        .prop_map(|((in_order, delivered, intents), positions)| {
            let mut ordered: Vec<Op> = in_order
                .into_iter()
                .map(|e| Op::Event(Box::new(e)))
                .collect();
            for intent in &intents {
                let at = ordered
                    .iter()
                    .position(
                        |op| matches!(op, Op::Event(e) if e.occurred_at > intent.requested_at),
                    )
                    .unwrap_or(ordered.len());
                ordered.insert(at, Op::Intent(intent.clone()));
            }
            let mut shuffled: Vec<Op> = delivered
                .into_iter()
                .map(|e| Op::Event(Box::new(e)))
                .collect();
            for (intent, at) in intents.into_iter().zip(positions) {
                shuffled.insert(at.min(shuffled.len()), Op::Intent(intent));
            }
            (ordered, shuffled)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn intents_in_the_mix_still_converge_on_the_in_order_state((in_order, delivered) in delivery_with_intents()) {
        let end = fold_ops(&in_order);
        prop_assert_eq!(fold_ops(&delivered), end.clone());
        if let Some(state) = end {
            // What status shows follows from the newest intent and snapshot alone.
            let expected = state
                .sources
                .intent
                .as_ref()
                .filter(|i| i.is_pending(state.sources.snapshot.as_ref()))
                .map(ChangeIntent::pending_change);
            prop_assert_eq!(state.pending_change, expected);
        }
    }

    #[test]
    fn any_permutation_with_duplicates_ends_in_the_in_order_state((in_order, delivered) in delivery()) {
        prop_assert_eq!(fold(&delivered), fold(&in_order));
    }

    #[test]
    fn replaying_any_delivered_event_changes_nothing((in_order, _) in delivery()) {
        if let Some(state) = fold(&in_order) {
            for e in &in_order {
                let again = apply_event(Some(&state), &tenant(), e, NOW);
                prop_assert!(matches!(again, Transition::Unchanged(_)), "{:?} re-applied", e.event_id);
            }
        }
    }

    #[test]
    fn last_event_is_the_newest_state_bearing_event((in_order, _) in delivery()) {
        let newest = in_order
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::Unknown | EventKind::PaymentMethodAttached { .. }))
            .map(|e| e.order())
            .max();
        if let Some(state) = fold(&in_order) {
            // Only the newest invoice's events count for the invoice facet,
            // so the newest event overall may be an older invoice's.
            prop_assert!(state.last_event <= newest);
        } else {
            prop_assert!(newest.is_none());
        }
    }
}
