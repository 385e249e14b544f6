//! Commands: what a tenant asks of its billing (start a checkout, open the
//! portal, preview and make a plan or seat change, cancel and resume,
//! manage payment methods), decided by ordinary functions over the ports.
//! The rules live here, not in the Lambda handlers: a tenant stays with the
//! provider that holds its subscription, the plan must be active and sold
//! through that provider, one live subscription per tenant, seats within
//! the plan's bounds, nothing the provider cannot do. Handlers parse the
//! request, call a command and map its [`CommandError`] to a response.

mod change;
#[cfg(test)]
mod change_tests;
mod checkout;
mod payment_methods;
mod portal;
mod profile;
#[cfg(test)]
mod tests;

pub use change::{
    cancel, change_plan, choose_change, preview_change, resume, ChangeChoice, ChangeRequest,
    ChangeStarted, PRORATION_DATE_MAX_AGE_SECONDS,
};
pub use checkout::{choose_checkout, start_checkout, CheckoutChoice, CheckoutStarted, NewCheckout};
pub use payment_methods::{
    list_payment_methods, remove_payment_method, set_default_payment_method, setup_payment_method,
};
pub use portal::open_portal;
pub use profile::{save_profile, ProfileRefusal, ProfileSaved, ProviderSync};

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
    /// The tenant has no provider subscription to act on.
    #[error("the tenant has no subscription")]
    NoSubscription,
    #[error("the subscription is {status}; only an active or trialing one can be changed")]
    SubscriptionNotActive { status: SubscriptionStatus },
    #[error("the subscription already has this plan and seat count")]
    SamePlan,
    #[error("a plan change is already pending; wait for it to take effect")]
    ChangePending,
    #[error("{provider} does not support {operation}")]
    NotSupported {
        provider: Provider,
        operation: &'static str,
    },
    #[error("{seats} seats is outside this plan's range ({min} to {})", max.map_or("any number".to_owned(), |m| m.to_string()))]
    SeatsOutOfRange {
        seats: u32,
        min: u32,
        max: Option<u32>,
    },
    #[error("{provider} cannot move a subscription between billing intervals")]
    IntervalChangeNotSupported { provider: Provider },
    #[error("the subscription is not set to cancel")]
    NoPendingCancellation,
    #[error("no such payment method for this tenant")]
    UnknownPaymentMethod,
    #[error("the only payment method of a live subscription cannot be removed; add another first")]
    LastPaymentMethod,
    #[error("{0}")]
    InvalidRequest(String),
    /// Webhooks kept changing the record while we recorded an intent.
    #[error("the subscription record kept changing after {0} attempts")]
    Contended(u32),
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
            CommandError::Contended(_) => true,
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
