//! The tenant's billing profile: saved after validation (a refusal changes
//! nothing), then copied onto the tenant's customer at each provider that
//! has one and keeps such details. Our copy is what invoices use; the
//! provider's is a convenience for its own receipts, so a provider that
//! fails does not undo the save: the answer says how each push went.

use crate::ids::{Provider, TenantId, UnixTime};
use crate::ledger::{validate_profile, BillingProfile, ProfileError, ProfileInput};
use crate::ports::{BillingGateway, CustomerRegistry, ProfileStore, ProviderError, StoreError};

/// How the profile reached a provider's customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSync {
    Updated,
    /// The provider keeps no such details (or this adapter does not send them).
    NotSupported,
    /// The call failed (why, for the log); the saved profile stands, and a
    /// later save tries again.
    Failed(ProviderError),
}

impl ProviderSync {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderSync::Updated => "updated",
            ProviderSync::NotSupported => "not_supported",
            ProviderSync::Failed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSaved {
    pub profile: BillingProfile,
    /// One entry per provider where the tenant has a customer.
    pub providers: Vec<(Provider, ProviderSync)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileRefusal {
    #[error(transparent)]
    Invalid(#[from] ProfileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn save_profile(
    store: &(impl ProfileStore + CustomerRegistry + ?Sized),
    gateways: &[Box<dyn BillingGateway>],
    tenant: &TenantId,
    input: &ProfileInput,
    idempotency_key: &str,
    now: UnixTime,
) -> Result<ProfileSaved, ProfileRefusal> {
    let profile = validate_profile(input, now)?;
    store.put_profile(tenant, &profile).await?;
    let mut providers = Vec::new();
    for gateway in gateways {
        let provider = gateway.provider();
        let Some(customer) = store.customer_id(tenant, provider).await? else {
            continue;
        };
        let sync = match gateway
            .update_customer(&customer, &profile, idempotency_key)
            .await
        {
            Ok(()) => ProviderSync::Updated,
            Err(ProviderError::Unsupported { .. }) => ProviderSync::NotSupported,
            Err(e) => ProviderSync::Failed(e),
        };
        providers.push((provider, sync));
    }
    Ok(ProfileSaved { profile, providers })
}
