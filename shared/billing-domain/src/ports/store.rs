//! Reading the store: a tenant's subscription record and which tenant a
//! provider id belongs to, and the storage error every store port returns.

use crate::ids::{Provider, TenantId};
use crate::subscription::Subscription;
use async_trait::async_trait;
use std::fmt;

/// A storage failure, keeping whether retrying may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("store temporarily unavailable: {0}")]
    Transient(String),
    #[error("store rejected the request: {0}")]
    Permanent(String),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

/// A subscription record and the revision it was read at, for optimistic
/// concurrency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    pub subscription: Subscription,
    pub revision: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    Customer,
    Subscription,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Customer => "customer",
            RefKind::Subscription => "subscription",
        }
    }
}

/// A provider-side id that belongs to exactly one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderRef {
    pub provider: Provider,
    pub kind: RefKind,
    pub id: String,
}

impl fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.provider, self.kind.as_str(), self.id)
    }
}

#[async_trait]
pub trait SubscriptionReader: Send + Sync {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError>;
}

#[async_trait]
pub trait TenantDirectory: Send + Sync {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError>;
}

#[async_trait]
impl<T: SubscriptionReader + ?Sized> SubscriptionReader for std::sync::Arc<T> {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        (**self).get_subscription(tenant).await
    }
}

#[async_trait]
impl<T: TenantDirectory + ?Sized> TenantDirectory for std::sync::Arc<T> {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        (**self).tenant_for(reference).await
    }
}
