//! Starting a hosted checkout: which provider, plan and price (a pure
//! choice), then the tenant's provider customer (created once, kept before
//! the checkout) and the provider's checkout session.

use super::{enabled, tenant_gateway, CommandError, Gateways};
use crate::catalog::{Catalog, Plan};
use crate::ids::{Provider, TenantId};
use crate::ports::{
    BillingGateway, CheckoutRequest, CheckoutSession, CustomerContact, CustomerRegistry,
};
use crate::subscription::Subscription;

/// Where a checkout goes: the gateway, the plan and its price there.
pub struct CheckoutChoice<'a> {
    pub gateway: &'a dyn BillingGateway,
    pub plan: &'a Plan,
    pub price_id: &'a str,
}

/// Chooses the provider, plan and price of a checkout, in this order of
/// refusal: the tenant stays with the provider holding its subscription
/// (naming another is a mismatch), else the requested provider, else the
/// default (the first gateway); then the plan must exist, be active, not be
/// free and be sold through that provider; then the tenant must have no live
/// subscription.
pub fn choose_checkout<'a>(
    catalog: &'a Catalog,
    gateways: &'a Gateways,
    existing: Option<&Subscription>,
    requested_provider: Option<&str>,
    plan_code: &str,
) -> Result<CheckoutChoice<'a>, CommandError> {
    let gateway = match existing {
        Some(subscription) => {
            let held_by = subscription.provider;
            if requested_provider.is_some_and(|requested| requested != held_by.as_str()) {
                return Err(CommandError::ProviderMismatch { held_by });
            }
            tenant_gateway(gateways, held_by)?
        }
        None => requested_gateway(gateways, requested_provider)?,
    };
    let provider = gateway.provider();
    let plan = catalog
        .plan(plan_code)
        .ok_or_else(|| CommandError::UnknownPlan(plan_code.to_owned()))?;
    if !plan.active {
        return Err(CommandError::InactivePlan(plan_code.to_owned()));
    }
    if plan.is_free() {
        return Err(CommandError::FreePlan);
    }
    let price_id = plan
        .price_id(provider)
        .ok_or_else(|| CommandError::PlanNotOffered {
            plan: plan_code.to_owned(),
            provider,
        })?;
    // One subscription per tenant: changing plans is another command.
    if let Some(subscription) = existing.filter(|s| s.status.is_live()) {
        return Err(CommandError::SubscriptionExists {
            status: subscription.status,
        });
    }
    Ok(CheckoutChoice {
        gateway,
        plan,
        price_id,
    })
}

fn requested_gateway<'a>(
    gateways: &'a Gateways,
    requested: Option<&str>,
) -> Result<&'a dyn BillingGateway, CommandError> {
    let Some(name) = requested else {
        return Ok(gateways[0].as_ref());
    };
    let provider: Provider = name
        .parse()
        .map_err(|_| CommandError::UnknownProvider(name.to_owned()))?;
    enabled(gateways, provider).ok_or_else(|| CommandError::ProviderNotEnabled(name.to_owned()))
}

/// What the caller supplies beyond the choice.
pub struct NewCheckout {
    pub tenant: TenantId,
    pub success_url: String,
    pub cancel_url: String,
    /// The provider's idempotency key: the same on every run of one request
    /// (the caller derives it from the request's own `Idempotency-Key`).
    pub idempotency_key: String,
    pub contact: Option<CustomerContact>,
}

/// A started checkout.
#[derive(Debug)]
pub struct CheckoutStarted {
    pub session: CheckoutSession,
    /// A concurrent first checkout stored another customer first, and this
    /// one uses it (worth a warning: the provider holds an unused customer).
    pub lost_customer_race: bool,
}

/// Creates the checkout session for a choice, with the tenant's provider
/// customer: the stored one, else one created now and stored before the
/// checkout so every later checkout reuses it. Concurrent first checkouts
/// share the provider's idempotency key, so they normally get the same
/// customer; if not, the first stored wins.
pub async fn start_checkout(
    store: &(impl CustomerRegistry + ?Sized),
    choice: &CheckoutChoice<'_>,
    checkout: NewCheckout,
) -> Result<CheckoutStarted, CommandError> {
    let gateway = choice.gateway;
    let provider = gateway.provider();
    let (customer_id, lost_customer_race) =
        match store.customer_id(&checkout.tenant, provider).await? {
            Some(id) => (Some(id), false),
            None => match gateway.create_customer(&checkout.tenant).await? {
                // The provider has no customer objects: the checkout names the tenant.
                None => (None, false),
                Some(created) => {
                    let kept = store
                        .claim_customer(&checkout.tenant, provider, &created)
                        .await?;
                    let lost = kept != created;
                    (Some(kept), lost)
                }
            },
        };
    let session = gateway
        .create_checkout_session(&CheckoutRequest {
            tenant: checkout.tenant,
            customer_id,
            plan_code: choice.plan.code.to_string(),
            price_id: choice.price_id.to_owned(),
            success_url: checkout.success_url,
            cancel_url: checkout.cancel_url,
            idempotency_key: checkout.idempotency_key,
            contact: checkout.contact,
        })
        .await?;
    Ok(CheckoutStarted {
        session,
        lost_customer_race,
    })
}
