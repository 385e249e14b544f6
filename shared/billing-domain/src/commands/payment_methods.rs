//! The tenant's payment methods at its provider: list, add through a hosted
//! page, make one the default, remove one. Every call that names a method
//! first checks that it is among the tenant's own: a provider's method ids
//! are global, and a tenant must never act on another customer's card.

use super::change::require;
use super::{tenant_gateway, CommandError, Gateways};
use crate::ids::TenantId;
use crate::ports::{BillingGateway, CustomerRegistry, PaymentMethod, SubscriptionReader};

/// The tenant's provider and customer there, if it has a billing account.
async fn account<'a, S>(
    store: &S,
    gateways: &'a Gateways,
    tenant: &TenantId,
) -> Result<Option<(&'a dyn BillingGateway, String, bool)>, CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    if let Some(stored) = store.get_subscription(tenant).await? {
        let subscription = stored.subscription;
        let gateway = tenant_gateway(gateways, subscription.provider)?;
        let customer = match subscription.provider_customer_id {
            Some(id) => Some(id),
            None => store.customer_id(tenant, subscription.provider).await?,
        };
        return Ok(customer.map(|id| (gateway, id, subscription.status.is_live())));
    }
    for gateway in gateways {
        if let Some(id) = store.customer_id(tenant, gateway.provider()).await? {
            return Ok(Some((gateway.as_ref(), id, false)));
        }
    }
    Ok(None)
}

/// The tenant's account at a provider that manages payment methods; an
/// error without one.
async fn billing_account<'a, S>(
    store: &S,
    gateways: &'a Gateways,
    tenant: &TenantId,
) -> Result<(&'a dyn BillingGateway, String, bool), CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let (gateway, customer, live) = account(store, gateways, tenant)
        .await?
        .ok_or(CommandError::NoBillingAccount)?;
    capable(gateway)?;
    Ok((gateway, customer, live))
}

fn capable(gateway: &dyn BillingGateway) -> Result<(), CommandError> {
    require(
        gateway,
        gateway.capabilities().payment_methods,
        "payment methods",
    )
}

/// The tenant's methods; none before its first checkout.
pub async fn list_payment_methods<S>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
) -> Result<Vec<PaymentMethod>, CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let Some((gateway, customer, _)) = account(store, gateways, tenant).await? else {
        return Ok(Vec::new());
    };
    capable(gateway)?;
    Ok(gateway.list_payment_methods(&customer).await?)
}

/// A hosted page that adds a method; its URL.
pub async fn setup_payment_method<S>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
    return_url: &str,
    idempotency_key: &str,
) -> Result<String, CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let (gateway, customer, _) = billing_account(store, gateways, tenant).await?;
    Ok(gateway
        .create_setup_session(&customer, return_url, idempotency_key)
        .await?)
}

/// The tenant's account, and its methods if `payment_method_id` is one of
/// them (checked before anything acts on it).
struct OwnMethod<'a> {
    gateway: &'a dyn BillingGateway,
    customer: String,
    live: bool,
    methods: Vec<PaymentMethod>,
}

async fn own_method<'a, S>(
    store: &S,
    gateways: &'a Gateways,
    tenant: &TenantId,
    payment_method_id: &str,
) -> Result<OwnMethod<'a>, CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let (gateway, customer, live) = billing_account(store, gateways, tenant).await?;
    let methods = gateway.list_payment_methods(&customer).await?;
    if !methods.iter().any(|m| m.id == payment_method_id) {
        return Err(CommandError::UnknownPaymentMethod);
    }
    Ok(OwnMethod {
        gateway,
        customer,
        live,
        methods,
    })
}

/// Makes one of the tenant's methods the default for future invoices.
pub async fn set_default_payment_method<S>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
    payment_method_id: &str,
) -> Result<(), CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let own = own_method(store, gateways, tenant, payment_method_id).await?;
    Ok(own
        .gateway
        .set_default_payment_method(&own.customer, payment_method_id)
        .await?)
}

/// Removes one of the tenant's methods, unless it is the last one while a
/// live subscription still has to be charged. Removing the default of a live
/// subscription first makes another method the default, so the next invoice
/// still has one to charge.
pub async fn remove_payment_method<S>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
    payment_method_id: &str,
) -> Result<(), CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let OwnMethod {
        gateway,
        customer,
        live,
        methods,
    } = own_method(store, gateways, tenant, payment_method_id).await?;
    if live && methods.len() == 1 {
        return Err(CommandError::LastPaymentMethod);
    }
    let removing_default = methods
        .iter()
        .any(|m| m.id == payment_method_id && m.is_default);
    if live && removing_default {
        if let Some(next) = methods.iter().find(|m| m.id != payment_method_id) {
            gateway
                .set_default_payment_method(&customer, &next.id)
                .await?;
        }
    }
    Ok(gateway
        .remove_payment_method(&customer, payment_method_id)
        .await?)
}
