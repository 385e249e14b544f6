//! The self-service commands (plan and seat change, preview, cancel,
//! resume, payment methods) over a recording gateway and an in-memory
//! record: every refusal, in its order, calls no provider and changes
//! nothing; an accepted change is recorded as the pending change.

use super::tests::block as block_on;
use super::*;
use crate::catalog::Catalog;
use crate::event::{EventOrder, SubscriptionSnapshot};
use crate::ids::{PlanCode, TenantId, UnixTime};
use crate::intent::ChangeTiming;
use crate::ports::{
    Capabilities, ChangeAccepted, ChangePreview, CheckoutRequest, CheckoutSession,
    CustomerRegistry, IntentRecorder, PaymentMethod, PlanChange, Saved, StoredSubscription,
    SubscriptionReader, SubscriptionWrite,
};
use crate::subscription::{Facet, Subscription};
use async_trait::async_trait;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

const CATALOG: &str = r#"{"plans":[
    {"code":"free","displayName":"Free","interval":"month","active":true,
     "price":{"amount_minor":0,"currency":"usd"}},
    {"code":"pro","displayName":"Pro","interval":"month","active":true,"maxSeats":5,
     "price":{"amount_minor":1900,"currency":"usd"},
     "providers":{"sandbox":{"priceId":"sbx_pro"}}},
    {"code":"team","displayName":"Team","interval":"month","active":true,"minSeats":2,"maxSeats":50,
     "price":{"amount_minor":4900,"currency":"usd"},
     "providers":{"sandbox":{"priceId":"sbx_team"}}},
    {"code":"pro-yearly","displayName":"Pro yearly","interval":"year","active":true,
     "price":{"amount_minor":19000,"currency":"usd"},
     "providers":{"sandbox":{"priceId":"sbx_pro_yearly"}}},
    {"code":"stripe-only","displayName":"Stripe only","interval":"month","active":true,
     "price":{"amount_minor":900,"currency":"usd"},
     "providers":{"stripe":{"priceId":"price_stripe_only"}}},
    {"code":"legacy","displayName":"Legacy","interval":"month","active":false,
     "price":{"amount_minor":900,"currency":"usd"},
     "providers":{"sandbox":{"priceId":"sbx_legacy"}}}
]}"#;

const NOW: UnixTime = UnixTime(10_000);
const PERIOD_END: UnixTime = UnixTime(50_000);

fn catalog() -> Catalog {
    Catalog::from_json(CATALOG).unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("org_1").unwrap()
}

const EVERYTHING: Capabilities = Capabilities::ALL;

#[derive(Default, Debug)]
struct Calls {
    previews: Vec<PlanChange>,
    changes: Vec<PlanChange>,
    cancels: Vec<(String, bool)>,
    resumes: Vec<String>,
    defaults: Vec<String>,
    removals: Vec<String>,
    setups: Vec<String>,
}

impl Calls {
    fn any(&self) -> bool {
        !(self.previews.is_empty()
            && self.changes.is_empty()
            && self.cancels.is_empty()
            && self.resumes.is_empty()
            && self.defaults.is_empty()
            && self.removals.is_empty()
            && self.setups.is_empty())
    }
}

struct Gateway {
    capabilities: Capabilities,
    fail: bool,
    methods: Vec<PaymentMethod>,
    calls: Arc<Mutex<Calls>>,
}

impl Gateway {
    fn outcome(&self) -> Result<(), ProviderError> {
        if self.fail {
            Err(ProviderError::Transient {
                provider: Provider::Sandbox,
                message: "down".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl BillingGateway for Gateway {
    fn provider(&self) -> Provider {
        Provider::Sandbox
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn create_checkout_session(
        &self,
        _: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        unreachable!("no command here starts a checkout")
    }

    async fn cancel_at_period_end(&self, id: &str) -> Result<(), ProviderError> {
        self.calls.lock().unwrap().cancels.push((id.into(), true));
        self.outcome()
    }

    async fn cancel_now(&self, id: &str) -> Result<(), ProviderError> {
        self.calls.lock().unwrap().cancels.push((id.into(), false));
        self.outcome()
    }

    async fn resume(&self, id: &str) -> Result<(), ProviderError> {
        self.calls.lock().unwrap().resumes.push(id.into());
        self.outcome()
    }

    async fn preview_change(&self, change: &PlanChange) -> Result<ChangePreview, ProviderError> {
        self.calls.lock().unwrap().previews.push(change.clone());
        self.outcome()?;
        Ok(ChangePreview {
            currency: "usd".into(),
            amount_due_now_minor: 1234,
            proration_date: change.proration_date,
            lines: Vec::new(),
            next_invoice_amount_minor: 4900,
            next_invoice_date: PERIOD_END,
            tax_minor: None,
        })
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        self.calls.lock().unwrap().changes.push(change.clone());
        self.outcome()?;
        Ok(ChangeAccepted::default())
    }

    async fn list_payment_methods(&self, _: &str) -> Result<Vec<PaymentMethod>, ProviderError> {
        self.outcome()?;
        Ok(self.methods.clone())
    }

    async fn create_setup_session(
        &self,
        customer: &str,
        _: &str,
        _: &str,
    ) -> Result<String, ProviderError> {
        self.calls.lock().unwrap().setups.push(customer.into());
        self.outcome()?;
        Ok("https://pay.example/setup".into())
    }

    async fn set_default_payment_method(&self, _: &str, id: &str) -> Result<(), ProviderError> {
        self.calls.lock().unwrap().defaults.push(id.into());
        self.outcome()
    }

    async fn remove_payment_method(&self, _: &str, id: &str) -> Result<(), ProviderError> {
        self.calls.lock().unwrap().removals.push(id.into());
        self.outcome()
    }
}

fn card(id: &str) -> PaymentMethod {
    PaymentMethod {
        id: id.into(),
        kind: "card".into(),
        brand: Some("visa".into()),
        last4: Some("4242".into()),
        exp_month: Some(12),
        exp_year: Some(2030),
        is_default: id == "pm_1",
    }
}

fn gateways(
    capabilities: Capabilities,
    fail: bool,
    methods: &[&str],
) -> (Vec<Box<dyn BillingGateway>>, Arc<Mutex<Calls>>) {
    let calls = Arc::new(Mutex::new(Calls::default()));
    let gateway = Gateway {
        capabilities,
        fail,
        methods: methods.iter().map(|id| card(id)).collect(),
        calls: Arc::clone(&calls),
    };
    (vec![Box::new(gateway)], calls)
}

/// One tenant's record, with a number of conflicts to answer before a save
/// goes through (a webhook landing between our read and our write).
#[derive(Default)]
struct Store {
    record: Mutex<Option<StoredSubscription>>,
    conflicts: Mutex<u32>,
    customer: Option<String>,
}

impl Store {
    fn with(subscription: Option<Subscription>) -> Self {
        Self {
            record: Mutex::new(subscription.map(|subscription| StoredSubscription {
                subscription,
                revision: 1,
            })),
            conflicts: Mutex::new(0),
            customer: None,
        }
    }

    fn current(&self) -> Option<StoredSubscription> {
        self.record.lock().unwrap().clone()
    }
}

#[async_trait]
impl SubscriptionReader for Store {
    async fn get_subscription(
        &self,
        _: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        Ok(self.current())
    }
}

#[async_trait]
impl IntentRecorder for Store {
    async fn save_subscription(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        let mut conflicts = self.conflicts.lock().unwrap();
        let mut record = self.record.lock().unwrap();
        if *conflicts > 0 {
            *conflicts -= 1;
            // Someone else wrote: the revision moves on.
            if let Some(stored) = record.as_mut() {
                stored.revision += 1;
            }
            return Ok(Saved::RevisionConflict);
        }
        match record.as_mut() {
            Some(stored) if Some(stored.revision) == write.expected_revision => {
                stored.subscription = write.subscription.clone();
                stored.revision += 1;
                Ok(Saved::Written)
            }
            _ => Ok(Saved::RevisionConflict),
        }
    }
}

#[async_trait]
impl CustomerRegistry for Store {
    async fn customer_id(&self, _: &TenantId, _: Provider) -> Result<Option<String>, StoreError> {
        Ok(self.customer.clone())
    }

    async fn claim_customer(
        &self,
        _: &TenantId,
        _: Provider,
        id: &str,
    ) -> Result<String, StoreError> {
        Ok(id.into())
    }
}

/// An active sandbox subscription to `plan` with `seats`, as its snapshot
/// made it.
fn subscribed(plan: &str, seats: u32, status: SubscriptionStatus) -> Subscription {
    let mut subscription = Subscription::new(tenant(), Provider::Sandbox, UnixTime(0));
    subscription.sources.snapshot = Some(Facet {
        order: EventOrder {
            occurred_at: UnixTime(100),
            rank: 2,
            event_id: "evt_1".into(),
        },
        provider: Provider::Sandbox,
        value: SubscriptionSnapshot {
            subscription_id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status,
            provider_status: status.as_str().into(),
            plan: Some(PlanCode::new(plan)),
            price_id: Some(format!("sbx_{plan}")),
            current_period_start: Some(UnixTime(0)),
            current_period_end: Some(PERIOD_END),
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            trial_end: None,
            seats,
        },
    });
    subscription.materialize();
    subscription
}

fn request(plan: &str, seats: Option<u32>, timing: ChangeTiming) -> ChangeRequest {
    ChangeRequest {
        plan: plan.into(),
        seats,
        timing,
        proration_date: None,
    }
}

fn choose(
    capabilities: Capabilities,
    subscription: Option<Subscription>,
    request: &ChangeRequest,
    preview: bool,
) -> Result<PlanChange, CommandError> {
    let catalog = catalog();
    let (gateways, _) = gateways(capabilities, false, &[]);
    let stored = subscription.map(|subscription| StoredSubscription {
        subscription,
        revision: 1,
    });
    choose_change(
        &catalog,
        &gateways,
        stored.as_ref(),
        request,
        preview,
        "key".into(),
        NOW,
    )
    .map(|choice| choice.change)
}

#[test]
fn a_change_needs_an_active_or_trialing_subscription() {
    let upgrade = request("team", Some(2), ChangeTiming::Now);
    assert_eq!(
        choose(EVERYTHING, None, &upgrade, false),
        Err(CommandError::NoSubscription)
    );
    let never = Subscription::new(tenant(), Provider::Sandbox, UnixTime(0));
    assert_eq!(
        choose(EVERYTHING, Some(never), &upgrade, false),
        Err(CommandError::NoSubscription)
    );
    for status in [
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::Paused,
    ] {
        assert_eq!(
            choose(
                EVERYTHING,
                Some(subscribed("pro", 1, status)),
                &upgrade,
                false
            ),
            Err(CommandError::SubscriptionNotActive { status })
        );
    }
    let trialing = subscribed("pro", 1, SubscriptionStatus::Trialing);
    assert!(choose(EVERYTHING, Some(trialing), &upgrade, false).is_ok());
}

#[test]
fn plan_and_seat_refusals_come_in_order() {
    let active = || Some(subscribed("pro", 1, SubscriptionStatus::Active));
    let refusal = |plan: &str, seats| {
        choose(
            EVERYTHING,
            active(),
            &request(plan, seats, ChangeTiming::Now),
            false,
        )
        .unwrap_err()
    };
    assert_eq!(
        refusal("gold", None),
        CommandError::UnknownPlan("gold".into())
    );
    assert_eq!(
        refusal("legacy", None),
        CommandError::InactivePlan("legacy".into())
    );
    assert_eq!(refusal("free", None), CommandError::FreePlan);
    assert!(matches!(
        refusal("stripe-only", None),
        CommandError::PlanNotOffered { .. }
    ));
    // Team starts at 2 seats: keeping today's single seat is out of range.
    assert_eq!(
        refusal("team", None),
        CommandError::SeatsOutOfRange {
            seats: 1,
            min: 2,
            max: Some(50)
        }
    );
    assert_eq!(
        refusal("pro", Some(6)),
        CommandError::SeatsOutOfRange {
            seats: 6,
            min: 1,
            max: Some(5)
        }
    );
    assert!(matches!(
        refusal("pro", Some(0)),
        CommandError::SeatsOutOfRange { seats: 0, .. }
    ));
    assert_eq!(refusal("pro", None), CommandError::SamePlan);
    assert_eq!(refusal("pro", Some(1)), CommandError::SamePlan);
    // More seats on the same plan is a change.
    assert_eq!(
        choose(
            EVERYTHING,
            active(),
            &request("pro", Some(3), ChangeTiming::Now),
            false
        )
        .unwrap()
        .seats,
        3
    );
}

#[test]
fn what_the_provider_cannot_do_is_refused_by_operation() {
    let active = || Some(subscribed("pro", 1, SubscriptionStatus::Active));
    let team = |timing| request("team", Some(2), timing);
    let none = Capabilities::default();
    assert_eq!(
        choose(none, active(), &team(ChangeTiming::Now), false),
        Err(CommandError::NotSupported {
            provider: Provider::Sandbox,
            operation: "changing the plan now"
        })
    );
    assert_eq!(
        choose(none, active(), &team(ChangeTiming::PeriodEnd), false),
        Err(CommandError::NotSupported {
            provider: Provider::Sandbox,
            operation: "changing the plan at period end"
        })
    );
    // A preview needs the provider to preview, and to make that change.
    let no_preview = Capabilities {
        preview: false,
        ..EVERYTHING
    };
    assert_eq!(
        choose(no_preview, active(), &team(ChangeTiming::Now), true),
        Err(CommandError::NotSupported {
            provider: Provider::Sandbox,
            operation: "previewing a plan change"
        })
    );
    let only_now = Capabilities {
        change_at_period_end: false,
        ..EVERYTHING
    };
    assert_eq!(
        choose(only_now, active(), &team(ChangeTiming::PeriodEnd), true),
        Err(CommandError::NotSupported {
            provider: Provider::Sandbox,
            operation: "changing the plan at period end"
        })
    );
    let same_interval = Capabilities {
        interval_change: false,
        ..EVERYTHING
    };
    assert_eq!(
        choose(
            same_interval,
            active(),
            &request("pro-yearly", None, ChangeTiming::Now),
            false
        ),
        Err(CommandError::IntervalChangeNotSupported {
            provider: Provider::Sandbox
        })
    );
    assert!(choose(
        EVERYTHING,
        active(),
        &request("pro-yearly", None, ChangeTiming::Now),
        false
    )
    .is_ok());
}

#[test]
fn the_change_carries_the_preview_moment_and_the_period_end() {
    let active = Some(subscribed("pro", 1, SubscriptionStatus::Active));
    let mut now = request("team", Some(2), ChangeTiming::Now);
    now.proration_date = Some(UnixTime(9_990));
    let change = choose(EVERYTHING, active.clone(), &now, false).unwrap();
    assert_eq!(change.proration_date, Some(UnixTime(9_990)));
    assert_eq!(change.current_price_id.as_deref(), Some("sbx_pro"));
    assert_eq!(change.price_id, "sbx_team");
    assert_eq!(change.subscription_id, "sub_1");
    assert_eq!(change.current_period_end, Some(PERIOD_END));
    let defaulted = choose(
        EVERYTHING,
        active.clone(),
        &request("team", Some(2), ChangeTiming::Now),
        false,
    )
    .unwrap();
    // A change without one leaves the moment to the provider (so a rerun
    // sends the same request); a preview is computed now.
    assert_eq!(defaulted.proration_date, None);
    let preview = choose(
        EVERYTHING,
        active.clone(),
        &request("team", Some(2), ChangeTiming::Now),
        true,
    )
    .unwrap();
    assert_eq!(preview.proration_date, Some(NOW));
    // A caller cannot pick the moment (and with it the price): only a
    // preview's from the last half hour is taken.
    for date in [
        NOW.seconds() - PRORATION_DATE_MAX_AGE_SECONDS - 1,
        NOW.seconds() + 1,
        0,
        PERIOD_END.seconds() - 1,
    ] {
        let mut picked = request("team", Some(2), ChangeTiming::Now);
        picked.proration_date = Some(UnixTime(date));
        assert!(
            matches!(
                choose(EVERYTHING, active.clone(), &picked, false),
                Err(CommandError::InvalidRequest(_))
            ),
            "{date}"
        );
    }
    let mut oldest = request("team", Some(2), ChangeTiming::Now);
    oldest.proration_date = Some(UnixTime(NOW.seconds() - PRORATION_DATE_MAX_AGE_SECONDS));
    assert!(choose(EVERYTHING, active.clone(), &oldest, false).is_ok());
    let mut later = request("team", Some(2), ChangeTiming::PeriodEnd);
    later.proration_date = Some(UnixTime(9_990));
    assert!(matches!(
        choose(EVERYTHING, active, &later, false),
        Err(CommandError::InvalidRequest(_))
    ));
}

#[test]
fn an_accepted_change_is_recorded_as_pending_until_its_webhook() {
    let catalog = catalog();
    let store = Store::with(Some(subscribed("pro", 1, SubscriptionStatus::Active)));
    let (gateways, calls) = gateways(EVERYTHING, false, &[]);
    let later = request("team", Some(2), ChangeTiming::PeriodEnd);
    let started = block_on(change_plan(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &later,
        "key-1".into(),
        NOW,
    ))
    .unwrap();
    assert_eq!(started.pending.effective_at, PERIOD_END);
    assert_eq!(calls.lock().unwrap().changes.len(), 1);
    assert_eq!(calls.lock().unwrap().changes[0].idempotency_key, "key-1");
    let stored = store.current().unwrap();
    assert_eq!(stored.subscription.pending_change, Some(started.pending));
    assert_eq!(stored.revision, 2);

    // A second change while one is pending is refused before the provider.
    let again = block_on(change_plan(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &request("pro", Some(3), ChangeTiming::Now),
        "key-2".into(),
        NOW,
    ));
    assert_eq!(again.unwrap_err(), CommandError::ChangePending);
    assert_eq!(calls.lock().unwrap().changes.len(), 1);
    // A preview is still allowed.
    let preview = block_on(preview_change(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &request("pro", Some(3), ChangeTiming::Now),
        NOW,
    ));
    assert_eq!(preview.unwrap().amount_due_now_minor, 1234);
}

#[test]
fn an_overdue_pending_change_no_longer_blocks_a_new_one() {
    let catalog = catalog();
    let mut stuck = subscribed("pro", 1, SubscriptionStatus::Active);
    stuck.sources.intent = Some(crate::intent::ChangeIntent {
        subscription_id: "sub_1".into(),
        plan: PlanCode::new("team"),
        seats: 2,
        timing: ChangeTiming::PeriodEnd,
        effective_at: UnixTime(1_000),
        requested_at: UnixTime(500),
    });
    stuck.materialize();
    assert!(
        stuck.pending_change.is_some(),
        "no snapshot ever settled it"
    );
    let (gateways, calls) = gateways(EVERYTHING, false, &[]);
    let change = request("pro", Some(3), ChangeTiming::Now);
    let at = |now: i64| {
        let store = Store::with(Some(stuck.clone()));
        block_on(change_plan(
            &store,
            &catalog,
            &gateways,
            &tenant(),
            &change,
            "k".into(),
            UnixTime(now),
        ))
    };
    let due = 1_000 + crate::intent::OVERDUE_AFTER_SECONDS;
    assert_eq!(at(due).unwrap_err(), CommandError::ChangePending);
    assert!(at(due + 1).is_ok());
    assert_eq!(calls.lock().unwrap().changes.len(), 1);
}

#[test]
fn recording_retries_when_a_webhook_wrote_meanwhile() {
    let catalog = catalog();
    let store = Store::with(Some(subscribed("pro", 1, SubscriptionStatus::Active)));
    *store.conflicts.lock().unwrap() = 3;
    let (gateways, calls) = gateways(EVERYTHING, false, &[]);
    let now = request("team", Some(2), ChangeTiming::Now);
    block_on(change_plan(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &now,
        "k".into(),
        NOW,
    ))
    .unwrap();
    assert!(store
        .current()
        .unwrap()
        .subscription
        .pending_change
        .is_some());
    assert_eq!(calls.lock().unwrap().changes.len(), 1, "one provider call");

    let store = Store::with(Some(subscribed("pro", 1, SubscriptionStatus::Active)));
    *store.conflicts.lock().unwrap() = 100;
    let outcome = block_on(change_plan(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &now,
        "k".into(),
        NOW,
    ));
    assert_eq!(outcome.unwrap_err(), CommandError::Contended(8));
}

#[test]
fn a_failed_provider_call_records_nothing() {
    let catalog = catalog();
    let before = subscribed("pro", 1, SubscriptionStatus::Active);
    let store = Store::with(Some(before.clone()));
    let (gateways, _) = gateways(EVERYTHING, true, &[]);
    let outcome = block_on(change_plan(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &request("team", Some(2), ChangeTiming::Now),
        "k".into(),
        NOW,
    ));
    assert!(outcome.unwrap_err().is_retryable());
    let stored = store.current().unwrap();
    assert_eq!((stored.subscription, stored.revision), (before, 1));
}

#[test]
fn cancel_and_resume_call_the_provider_and_cancel_drops_a_pending_change() {
    let catalog = catalog();
    let store = Store::with(Some(subscribed("pro", 1, SubscriptionStatus::Active)));
    let (gateways, calls) = gateways(EVERYTHING, false, &[]);
    block_on(change_plan(
        &store,
        &catalog,
        &gateways,
        &tenant(),
        &request("team", Some(2), ChangeTiming::PeriodEnd),
        "k".into(),
        NOW,
    ))
    .unwrap();
    // Nothing to resume yet.
    assert_eq!(
        block_on(resume(&store, &gateways, &tenant())).unwrap_err(),
        CommandError::NoPendingCancellation
    );
    block_on(cancel(&store, &gateways, &tenant(), true, NOW)).unwrap();
    assert_eq!(calls.lock().unwrap().cancels, [("sub_1".into(), true)]);
    let stored = store.current().unwrap().subscription;
    assert_eq!(stored.pending_change, None);
    assert_eq!(stored.sources.intent, None);

    // The cancellation's webhook shows it pending; then resume may go.
    let mut canceling = stored;
    if let Some(facet) = canceling.sources.snapshot.as_mut() {
        facet.value.cancel_at_period_end = true;
    }
    canceling.materialize();
    let store = Store::with(Some(canceling));
    block_on(resume(&store, &gateways, &tenant())).unwrap();
    assert_eq!(calls.lock().unwrap().resumes, ["sub_1"]);

    block_on(cancel(&store, &gateways, &tenant(), false, NOW)).unwrap();
    assert_eq!(
        calls.lock().unwrap().cancels.last(),
        Some(&("sub_1".into(), false))
    );
}

#[test]
fn cancel_and_resume_refuse_what_cannot_be_done() {
    let (gateways, calls) = gateways(Capabilities::default(), false, &[]);
    let none = Store::with(None);
    assert_eq!(
        block_on(cancel(&none, &gateways, &tenant(), true, NOW)).unwrap_err(),
        CommandError::NoSubscription
    );
    let ended = Store::with(Some(subscribed("pro", 1, SubscriptionStatus::Canceled)));
    assert_eq!(
        block_on(cancel(&ended, &gateways, &tenant(), true, NOW)).unwrap_err(),
        CommandError::SubscriptionNotActive {
            status: SubscriptionStatus::Canceled
        }
    );
    let active = Store::with(Some(subscribed("pro", 1, SubscriptionStatus::Active)));
    assert_eq!(
        block_on(cancel(&active, &gateways, &tenant(), false, NOW)).unwrap_err(),
        CommandError::NotSupported {
            provider: Provider::Sandbox,
            operation: "cancelling at once"
        }
    );
    assert!(!calls.lock().unwrap().any());
}

fn account(
    live: bool,
    methods: &[&str],
) -> (Store, Vec<Box<dyn BillingGateway>>, Arc<Mutex<Calls>>) {
    let status = if live {
        SubscriptionStatus::Active
    } else {
        SubscriptionStatus::Canceled
    };
    let store = Store::with(Some(subscribed("pro", 1, status)));
    let (gateways, calls) = gateways(EVERYTHING, false, methods);
    (store, gateways, calls)
}

#[test]
fn payment_methods_are_the_tenants_own_and_the_last_one_of_a_live_subscription_stays() {
    let (store, gateways, calls) = account(true, &["pm_1", "pm_2"]);
    let listed = block_on(list_payment_methods(&store, &gateways, &tenant())).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        block_on(set_default_payment_method(
            &store,
            &gateways,
            &tenant(),
            "pm_other"
        ))
        .unwrap_err(),
        CommandError::UnknownPaymentMethod
    );
    assert_eq!(
        block_on(remove_payment_method(
            &store,
            &gateways,
            &tenant(),
            "pm_other"
        ))
        .unwrap_err(),
        CommandError::UnknownPaymentMethod
    );
    assert!(!calls.lock().unwrap().any());
    block_on(set_default_payment_method(
        &store,
        &gateways,
        &tenant(),
        "pm_2",
    ))
    .unwrap();
    block_on(remove_payment_method(&store, &gateways, &tenant(), "pm_2")).unwrap();
    assert_eq!(
        calls.lock().unwrap().defaults,
        ["pm_2"],
        "pm_2 is not the default"
    );
    // Removing the default (pm_1, as the provider lists it) of a live
    // subscription makes another method the default first.
    block_on(remove_payment_method(&store, &gateways, &tenant(), "pm_1")).unwrap();
    assert_eq!(calls.lock().unwrap().defaults, ["pm_2", "pm_2"]);
    assert_eq!(calls.lock().unwrap().removals, ["pm_2", "pm_1"]);

    let (store, gateways, calls) = account(true, &["pm_1"]);
    assert_eq!(
        block_on(remove_payment_method(&store, &gateways, &tenant(), "pm_1")).unwrap_err(),
        CommandError::LastPaymentMethod
    );
    assert!(!calls.lock().unwrap().any());
    // Once the subscription has ended, the last card may go.
    let (store, gateways, _) = account(false, &["pm_1"]);
    block_on(remove_payment_method(&store, &gateways, &tenant(), "pm_1")).unwrap();
}

#[test]
fn without_a_billing_account_the_list_is_empty_and_setup_is_refused() {
    let store = Store::with(None);
    let (gateways, calls) = gateways(EVERYTHING, false, &["pm_1"]);
    assert_eq!(
        block_on(list_payment_methods(&store, &gateways, &tenant())).unwrap(),
        []
    );
    assert_eq!(
        block_on(setup_payment_method(
            &store,
            &gateways,
            &tenant(),
            "https://app/",
            "k"
        ))
        .unwrap_err(),
        CommandError::NoBillingAccount
    );
    // An unfinished checkout made a customer: that account is used.
    let store = Store {
        customer: Some("cus_9".into()),
        ..Store::default()
    };
    block_on(setup_payment_method(
        &store,
        &gateways,
        &tenant(),
        "https://app/",
        "k",
    ))
    .unwrap();
    assert_eq!(calls.lock().unwrap().setups, ["cus_9"]);
    let (gateways, _) = gateways_without_methods();
    assert_eq!(
        block_on(list_payment_methods(&store, &gateways, &tenant())).unwrap_err(),
        CommandError::NotSupported {
            provider: Provider::Sandbox,
            operation: "payment methods"
        }
    );
}

fn gateways_without_methods() -> (Vec<Box<dyn BillingGateway>>, Arc<Mutex<Calls>>) {
    gateways(
        Capabilities {
            payment_methods: false,
            ..EVERYTHING
        },
        false,
        &[],
    )
}

fn capabilities_strategy() -> impl Strategy<Value = Capabilities> {
    prop::array::uniform7(any::<bool>()).prop_map(|b| Capabilities {
        change_now: b[0],
        change_at_period_end: b[1],
        preview: b[2],
        interval_change: b[3],
        cancel_at_period_end: true,
        resume: b[4],
        cancel_now: b[5],
        payment_methods: b[6],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any change request on any record: a refusal calls no provider and
    /// leaves the record as it was; an accepted change calls the provider
    /// once and leaves exactly that change pending.
    #[test]
    fn a_change_is_either_refused_untouched_or_made_once_and_pending(
        status in prop::sample::select(SubscriptionStatus::ALL.to_vec()),
        current in prop::sample::select(vec!["pro", "team", "pro-yearly", "legacy"]),
        current_seats in 1u32..4,
        target in prop::sample::select(vec!["pro", "team", "pro-yearly", "legacy", "free", "gold", "stripe-only"]),
        seats in prop::option::of(0u32..60),
        later in any::<bool>(),
        capabilities in capabilities_strategy(),
        pending in any::<bool>(),
    ) {
        let catalog = catalog();
        let timing = if later { ChangeTiming::PeriodEnd } else { ChangeTiming::Now };
        let mut before = subscribed(current, current_seats, status);
        if pending {
            before.sources.intent = Some(crate::intent::ChangeIntent {
                subscription_id: "sub_1".into(),
                plan: PlanCode::new("team"),
                seats: 9,
                timing: ChangeTiming::PeriodEnd,
                effective_at: PERIOD_END,
                requested_at: UnixTime(200),
            });
            before.materialize();
        }
        let store = Store::with(Some(before.clone()));
        let (gateways, calls) = gateways(capabilities, false, &[]);
        let outcome = block_on(change_plan(
            &store, &catalog, &gateways, &tenant(), &request(target, seats, timing), "k".into(), NOW,
        ));
        let stored = store.current().unwrap();
        match outcome {
            Err(_) => {
                prop_assert!(!calls.lock().unwrap().any());
                prop_assert_eq!(stored.subscription, before);
                prop_assert_eq!(stored.revision, 1);
            }
            Ok(started) => {
                prop_assert_eq!(calls.lock().unwrap().changes.len(), 1);
                prop_assert!(!pending);
                prop_assert_eq!(stored.subscription.pending_change, Some(started.pending.clone()));
                prop_assert_eq!(started.pending.plan.as_str(), target);
                let plan = catalog.plan(target).unwrap();
                prop_assert!(plan.allows_seats(started.pending.seats));
            }
        }
    }
}
