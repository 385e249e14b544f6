//! Where tenants' billing profiles are kept: read when an invoice is
//! issued (its buyer snapshot) and by the profile route, written by it.

use super::StoreError;
use crate::ids::TenantId;
use crate::ledger::BillingProfile;
use async_trait::async_trait;

#[async_trait]
pub trait ProfileStore: Send + Sync {
    async fn get_profile(&self, tenant: &TenantId) -> Result<Option<BillingProfile>, StoreError>;

    /// Replaces the tenant's profile. Invoices already issued keep the
    /// snapshot they were issued with.
    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError>;
}

#[async_trait]
impl<T: ProfileStore + ?Sized> ProfileStore for std::sync::Arc<T> {
    async fn get_profile(&self, tenant: &TenantId) -> Result<Option<BillingProfile>, StoreError> {
        (**self).get_profile(tenant).await
    }

    async fn put_profile(
        &self,
        tenant: &TenantId,
        profile: &BillingProfile,
    ) -> Result<(), StoreError> {
        (**self).put_profile(tenant, profile).await
    }
}
