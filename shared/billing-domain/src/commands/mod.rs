//! Commands: what a tenant asks of its billing (start a checkout, open the
//! portal), decided by ordinary functions over the ports. The rules live
//! here, not in the Lambda handlers: a tenant stays with the provider that
//! holds its subscription, the plan must be active and sold through that
//! provider, one live subscription per tenant. Handlers parse the request,
//! call a command and map its [`CommandError`] to a response.

mod checkout;
mod portal;
#[cfg(test)]
mod tests;

pub use checkout::{choose_checkout, start_checkout, CheckoutChoice, CheckoutStarted, NewCheckout};
pub use portal::open_portal;

use crate::ids::Provider;
use crate::ports::{BillingGateway, ProviderError, StoreError};
use crate::status::SubscriptionStatus;

/// Why a command was refused or failed. Nothing was changed by a refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The request names a provider other than the one holding the subscription.
    #[error("the tenant is billed through {held_by}")]
    ProviderMismatch { held_by: Provider },
    #[error("no provider {0:?}")]
    UnknownProvider(String),
    #[error("provider {0:?} is not enabled")]
    ProviderNotEnabled(String),
    /// The tenant's subscription is with a provider this deployment has no
    /// credentials for: a configuration fault, not the caller's.
    #[error("the tenant's provider {0} is not enabled in this deployment")]
    TenantProviderDisabled(Provider),
    #[error("no plan {0:?}")]
    UnknownPlan(String),
    #[error("plan {0:?} is no longer sold")]
    InactivePlan(String),
    #[error("the free plan needs no checkout")]
    FreePlan,
    #[error("plan {plan:?} is not sold through {provider}")]
    PlanNotOffered { plan: String, provider: Provider },
    /// One live subscription per tenant.
    #[error("the tenant already has a {status} subscription")]
    SubscriptionExists { status: SubscriptionStatus },
    /// The tenant never started a checkout, so no provider knows it.
    #[error("the tenant has no billing account yet")]
    NoBillingAccount,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl CommandError {
    /// Only a store or provider outage may succeed on a later attempt.
    pub fn is_retryable(&self) -> bool {
        match self {
            CommandError::Store(e) => e.is_retryable(),
            CommandError::Provider(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// The deployment's enabled gateways; the first is the default provider.
pub type Gateways = [Box<dyn BillingGateway>];

/// The gateway of an enabled provider.
fn enabled(gateways: &Gateways, provider: Provider) -> Option<&dyn BillingGateway> {
    gateways
        .iter()
        .find(|g| g.provider() == provider)
        .map(|g| g.as_ref())
}

/// The gateway of the provider holding the tenant's subscription.
fn tenant_gateway(
    gateways: &Gateways,
    held_by: Provider,
) -> Result<&dyn BillingGateway, CommandError> {
    enabled(gateways, held_by).ok_or(CommandError::TenantProviderDisabled(held_by))
}
