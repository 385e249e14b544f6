//! The provider customer created for a tenant before its first checkout.

use super::StoreError;
use crate::ids::{Provider, TenantId};
use async_trait::async_trait;

/// The provider customer created for a tenant before its first checkout.
#[async_trait]
pub trait CustomerRegistry: Send + Sync {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError>;

    /// Records `customer_id` as the tenant's customer and maps it back to the
    /// tenant, unless the tenant already has one: then the existing id is
    /// returned and nothing is written (first writer wins).
    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError>;
}

#[async_trait]
impl<T: CustomerRegistry + ?Sized> CustomerRegistry for std::sync::Arc<T> {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        (**self).customer_id(tenant, provider).await
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        (**self).claim_customer(tenant, provider, customer_id).await
    }
}
