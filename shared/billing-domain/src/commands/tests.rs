//! The checkout and portal commands over a recording gateway and an
//! in-memory customer registry: every refusal, in its order, changes nothing
//! and calls no provider.

use super::*;
use crate::catalog::Catalog;
use crate::ids::{TenantId, UnixTime};
use crate::ports::{
    CheckoutRequest, CheckoutSession, CustomerRegistry, StoredSubscription, SubscriptionReader,
};
use crate::subscription::Subscription;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const CATALOG: &str = r#"{"plans":[
    {"code":"free","displayName":"Free","interval":"month","active":true,
     "price":{"amount_minor":0,"currency":"usd"}},
    {"code":"pro","displayName":"Pro","interval":"month","active":true,
     "price":{"amount_minor":1900,"currency":"usd"},
     "providers":{"stripe":{"priceId":"price_pro"},"paypal":{"priceId":"P-PRO"}}},
    {"code":"stripe-only","displayName":"Stripe only","interval":"month","active":true,
     "price":{"amount_minor":900,"currency":"usd"},
     "providers":{"stripe":{"priceId":"price_stripe_only"}}},
    {"code":"legacy","displayName":"Legacy","interval":"year","active":false,
     "price":{"amount_minor":9900,"currency":"usd"},
     "providers":{"stripe":{"priceId":"price_legacy"}}}
]}"#;

fn catalog() -> Catalog {
    Catalog::from_json(CATALOG).unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("org_1").unwrap()
}

/// What a gateway was asked to do.
#[derive(Default)]
struct Calls {
    customers: usize,
    checkouts: Vec<CheckoutRequest>,
    portals: Vec<(String, String)>,
}

struct FakeGateway {
    provider: Provider,
    has_customers: bool,
    fail: bool,
    calls: Arc<Mutex<Calls>>,
}

#[async_trait]
impl BillingGateway for FakeGateway {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn create_customer(&self, _: &TenantId) -> Result<Option<String>, ProviderError> {
        self.calls.lock().unwrap().customers += 1;
        if self.fail {
            return Err(ProviderError::Transient {
                provider: self.provider,
                message: "down".into(),
            });
        }
        Ok(self.has_customers.then(|| format!("cus_{}", self.provider)))
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        self.calls.lock().unwrap().checkouts.push(request.clone());
        Ok(CheckoutSession {
            id: "cs_1".into(),
            url: "https://pay.example/cs_1".into(),
        })
    }

    async fn create_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
    ) -> Result<String, ProviderError> {
        let mut calls = self.calls.lock().unwrap();
        calls.portals.push((customer_id.into(), return_url.into()));
        Ok(format!("https://portal.example/{customer_id}"))
    }

    async fn cancel_at_period_end(&self, _: &str) -> Result<(), ProviderError> {
        unreachable!("no command here cancels")
    }
}

type CallLog = Arc<Mutex<Calls>>;

/// Gateways for `providers` (the first is the default) and their call logs.
fn gateways(providers: &[Provider]) -> (Vec<Box<dyn BillingGateway>>, Vec<CallLog>) {
    let logs: Vec<_> = providers.iter().map(|_| Arc::default()).collect();
    let gateways = providers
        .iter()
        .zip(&logs)
        .map(|(&provider, calls)| {
            Box::new(FakeGateway {
                provider,
                has_customers: provider != Provider::Paypal,
                fail: false,
                calls: Arc::clone(calls),
            }) as Box<dyn BillingGateway>
        })
        .collect();
    (gateways, logs)
}

fn subscription(provider: Provider, status: SubscriptionStatus) -> Subscription {
    let mut subscription = Subscription::new(tenant(), provider, UnixTime(0));
    subscription.status = status;
    subscription
}

fn chosen(
    gateways: &Gateways,
    existing: Option<&Subscription>,
    provider: Option<&str>,
    plan: &str,
) -> Result<(Provider, String, String), CommandError> {
    let catalog = catalog();
    choose_checkout(&catalog, gateways, existing, provider, plan).map(|choice| {
        (
            choice.gateway.provider(),
            choice.plan.code.to_string(),
            choice.price_id.to_owned(),
        )
    })
}

#[test]
fn without_a_subscription_the_requested_provider_is_used_else_the_default() {
    let (gateways, _) = gateways(&[Provider::Stripe, Provider::Paypal]);
    assert_eq!(
        chosen(&gateways, None, None, "pro").unwrap(),
        (Provider::Stripe, "pro".into(), "price_pro".into())
    );
    assert_eq!(
        chosen(&gateways, None, Some("paypal"), "pro").unwrap(),
        (Provider::Paypal, "pro".into(), "P-PRO".into())
    );
    assert_eq!(
        chosen(&gateways, None, Some("bitcoin"), "pro").unwrap_err(),
        CommandError::UnknownProvider("bitcoin".into())
    );
    assert_eq!(
        chosen(&gateways, None, Some("paddle"), "pro").unwrap_err(),
        CommandError::ProviderNotEnabled("paddle".into())
    );
}

#[test]
fn a_tenant_stays_with_the_provider_of_its_subscription() {
    let (gateways, _) = gateways(&[Provider::Stripe, Provider::Paypal]);
    let ended = subscription(Provider::Paypal, SubscriptionStatus::Canceled);
    assert_eq!(
        chosen(&gateways, Some(&ended), None, "pro").unwrap().0,
        Provider::Paypal
    );
    assert_eq!(
        chosen(&gateways, Some(&ended), Some("paypal"), "pro")
            .unwrap()
            .0,
        Provider::Paypal
    );
    assert_eq!(
        chosen(&gateways, Some(&ended), Some("stripe"), "pro").unwrap_err(),
        CommandError::ProviderMismatch {
            held_by: Provider::Paypal
        }
    );
    let elsewhere = subscription(Provider::Paddle, SubscriptionStatus::Canceled);
    assert_eq!(
        chosen(&gateways, Some(&elsewhere), None, "pro").unwrap_err(),
        CommandError::TenantProviderDisabled(Provider::Paddle)
    );
}

#[test]
fn plan_refusals_come_in_order_unknown_inactive_free_not_offered() {
    let (gateways, _) = gateways(&[Provider::Paypal, Provider::Stripe]);
    let refusal = |plan| chosen(&gateways, None, None, plan).unwrap_err();
    assert_eq!(refusal("gold"), CommandError::UnknownPlan("gold".into()));
    assert_eq!(
        refusal("legacy"),
        CommandError::InactivePlan("legacy".into())
    );
    assert_eq!(refusal("free"), CommandError::FreePlan);
    assert_eq!(
        refusal("stripe-only"),
        CommandError::PlanNotOffered {
            plan: "stripe-only".into(),
            provider: Provider::Paypal
        }
    );
    // A provider refusal comes before any plan refusal.
    assert_eq!(
        chosen(&gateways, None, Some("bitcoin"), "gold").unwrap_err(),
        CommandError::UnknownProvider("bitcoin".into())
    );
}

#[test]
fn only_a_live_subscription_refuses_another_checkout() {
    let (gateways, _) = gateways(&[Provider::Stripe]);
    for status in SubscriptionStatus::ALL {
        let existing = subscription(Provider::Stripe, status);
        let result = chosen(&gateways, Some(&existing), None, "pro");
        if status.is_live() {
            assert_eq!(
                result.unwrap_err(),
                CommandError::SubscriptionExists { status },
                "{status}"
            );
        } else {
            assert!(result.is_ok(), "{status}");
        }
    }
    // The plan is checked first: an unknown plan is reported as such.
    let live = subscription(Provider::Stripe, SubscriptionStatus::Active);
    assert_eq!(
        chosen(&gateways, Some(&live), None, "gold").unwrap_err(),
        CommandError::UnknownPlan("gold".into())
    );
}

/// Customers by (tenant, provider); the first claim wins.
#[derive(Default)]
struct Customers {
    stored: Mutex<BTreeMap<(String, Provider), String>>,
    subscription: Option<Subscription>,
}

#[async_trait]
impl CustomerRegistry for Customers {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        let stored = self.stored.lock().unwrap();
        Ok(stored.get(&(tenant.to_string(), provider)).cloned())
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        let mut stored = self.stored.lock().unwrap();
        let key = (tenant.to_string(), provider);
        Ok(stored
            .entry(key)
            .or_insert_with(|| customer_id.into())
            .clone())
    }
}

#[async_trait]
impl SubscriptionReader for Customers {
    async fn get_subscription(
        &self,
        _: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        Ok(self
            .subscription
            .clone()
            .map(|subscription| StoredSubscription {
                subscription,
                revision: 1,
            }))
    }
}

fn new_checkout() -> NewCheckout {
    NewCheckout {
        tenant: tenant(),
        success_url: "https://app.example/ok".into(),
        cancel_url: "https://app.example/cancel".into(),
        idempotency_key: "checkout:1".into(),
        contact: None,
    }
}

pub(super) fn block<F: std::future::Future>(f: F) -> F::Output {
    // The fakes never wait: every future is ready when first polled.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn a_first_checkout_creates_and_stores_the_customer_and_a_second_reuses_it() {
    let (gateways, logs) = gateways(&[Provider::Stripe]);
    let catalog = catalog();
    let store = Customers::default();
    let choice = choose_checkout(&catalog, &gateways, None, None, "pro").unwrap();
    for _ in 0..2 {
        let started = block(start_checkout(&store, &choice, new_checkout())).unwrap();
        assert_eq!(started.session.id, "cs_1");
        assert!(!started.lost_customer_race);
    }
    let calls = logs[0].lock().unwrap();
    assert_eq!(calls.customers, 1);
    assert_eq!(calls.checkouts.len(), 2);
    let request = &calls.checkouts[1];
    assert_eq!(request.customer_id.as_deref(), Some("cus_stripe"));
    assert_eq!(
        (request.plan_code.as_str(), request.price_id.as_str()),
        ("pro", "price_pro")
    );
    assert_eq!(request.idempotency_key, "checkout:1");
}

#[test]
fn a_customer_stored_first_by_a_concurrent_checkout_is_used_and_reported() {
    let (gateways, logs) = gateways(&[Provider::Stripe]);
    let catalog = catalog();
    let store = Customers::default();
    let choice = choose_checkout(&catalog, &gateways, None, None, "pro").unwrap();
    // The other request's claim lands between our lookup and our claim.
    let racing = RacingRegistry {
        inner: &store,
        other: "cus_other",
    };
    let started = block(start_checkout(&racing, &choice, new_checkout())).unwrap();
    assert!(started.lost_customer_race);
    let calls = logs[0].lock().unwrap();
    assert_eq!(calls.checkouts[0].customer_id.as_deref(), Some("cus_other"));
}

/// A registry where another request claims a customer just before ours.
struct RacingRegistry<'a> {
    inner: &'a Customers,
    other: &'static str,
}

#[async_trait]
impl CustomerRegistry for RacingRegistry<'_> {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        self.inner.customer_id(tenant, provider).await
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        self.inner
            .claim_customer(tenant, provider, self.other)
            .await?;
        self.inner
            .claim_customer(tenant, provider, customer_id)
            .await
    }
}

#[test]
fn a_provider_without_customers_gets_a_checkout_naming_the_tenant_only() {
    let (gateways, logs) = gateways(&[Provider::Paypal]);
    let catalog = catalog();
    let store = Customers::default();
    let choice = choose_checkout(&catalog, &gateways, None, None, "pro").unwrap();
    block(start_checkout(&store, &choice, new_checkout())).unwrap();
    assert_eq!(logs[0].lock().unwrap().checkouts[0].customer_id, None);
    assert!(store.stored.lock().unwrap().is_empty());
}

#[test]
fn a_provider_failure_stores_nothing_and_makes_no_checkout() {
    let calls = Arc::new(Mutex::new(Calls::default()));
    let gateways: Vec<Box<dyn BillingGateway>> = vec![Box::new(FakeGateway {
        provider: Provider::Stripe,
        has_customers: true,
        fail: true,
        calls: Arc::clone(&calls),
    })];
    let catalog = catalog();
    let store = Customers::default();
    let choice = choose_checkout(&catalog, &gateways, None, None, "pro").unwrap();
    let err = block(start_checkout(&store, &choice, new_checkout())).unwrap_err();
    assert!(matches!(err, CommandError::Provider(_)) && err.is_retryable());
    assert!(store.stored.lock().unwrap().is_empty());
    assert!(calls.lock().unwrap().checkouts.is_empty());
}

#[test]
fn the_portal_opens_for_the_subscriptions_provider_and_customer() {
    let (gateways, logs) = gateways(&[Provider::Stripe, Provider::Paypal]);
    let mut held = subscription(Provider::Paypal, SubscriptionStatus::Active);
    held.provider_customer_id = Some("cus_paypal_9".into());
    let store = Customers {
        subscription: Some(held),
        ..Customers::default()
    };
    let (url, provider) = block(open_portal(
        &store,
        &gateways,
        &tenant(),
        "https://app.example",
    ))
    .unwrap();
    assert_eq!(
        (url.as_str(), provider),
        ("https://portal.example/cus_paypal_9", Provider::Paypal)
    );
    assert!(logs[0].lock().unwrap().portals.is_empty());
}

#[test]
fn without_a_subscription_the_portal_opens_for_a_stored_customer_or_is_refused() {
    let (gateways, logs) = gateways(&[Provider::Stripe, Provider::Paypal]);
    let store = Customers::default();
    assert_eq!(
        block(open_portal(
            &store,
            &gateways,
            &tenant(),
            "https://app.example"
        ))
        .unwrap_err(),
        CommandError::NoBillingAccount
    );
    assert!(logs
        .iter()
        .all(|calls| calls.lock().unwrap().portals.is_empty()));
    block(store.claim_customer(&tenant(), Provider::Paypal, "cus_p")).unwrap();
    let (_, provider) = block(open_portal(
        &store,
        &gateways,
        &tenant(),
        "https://app.example",
    ))
    .unwrap();
    assert_eq!(provider, Provider::Paypal);
    assert_eq!(
        logs[1].lock().unwrap().portals,
        [("cus_p".into(), "https://app.example".into())]
    );
}
