//! Opening the provider's hosted portal for the tenant's billing account.

use super::{tenant_gateway, CommandError, Gateways};
use crate::ids::{Provider, TenantId};
use crate::ports::{BillingGateway, CustomerRegistry, SubscriptionReader};

/// The portal URL, and its provider: the provider holding the tenant's
/// subscription, for its customer; without a subscription, the first enabled
/// provider the tenant is a customer of (an unfinished checkout made one).
pub async fn open_portal<S>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
    return_url: &str,
) -> Result<(String, Provider), CommandError>
where
    S: CustomerRegistry + SubscriptionReader + ?Sized,
{
    let (gateway, customer_id): (&dyn BillingGateway, _) =
        match store.get_subscription(tenant).await? {
            Some(stored) => {
                let provider = stored.subscription.provider;
                let gateway = tenant_gateway(gateways, provider)?;
                let customer = match stored.subscription.provider_customer_id {
                    Some(id) => Some(id),
                    None => store.customer_id(tenant, provider).await?,
                };
                (gateway, customer)
            }
            None => {
                let mut found = (gateways[0].as_ref(), None);
                for gateway in gateways {
                    if let Some(id) = store.customer_id(tenant, gateway.provider()).await? {
                        found = (gateway.as_ref(), Some(id));
                        break;
                    }
                }
                found
            }
        };
    let customer_id = customer_id.ok_or(CommandError::NoBillingAccount)?;
    let url = gateway
        .create_portal_session(&customer_id, return_url)
        .await?;
    Ok((url, gateway.provider()))
}
