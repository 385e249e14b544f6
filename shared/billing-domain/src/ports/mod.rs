//! Ports: the small traits through which the domain reaches storage, the
//! queue, secrets and payment providers, one file per port. Adapters
//! implement them for AWS and each provider; tests and local runs implement
//! them in memory. Each port also lets an `Arc` of an adapter stand wherever
//! the adapter itself would: the local server and tests hand one store to
//! several handlers.

mod customers;
mod documents;
mod gateway;
mod idempotency;
mod intents;
mod ledger;
mod profiles;
mod queue;
mod secrets;
mod store;
mod verifier;

pub use crate::secrets::SecretError;
pub use customers::CustomerRegistry;
pub use documents::{
    page_of, payment_record_key, payment_sort_key, LedgerReader, Page, PageRequest, MAX_PAGE_SIZE,
};
pub use gateway::{
    BillingGateway, Capabilities, ChangeAccepted, ChangePreview, CheckoutRequest, CheckoutSession,
    CustomerContact, PaymentMethod, PlanChange, PreviewLine, ProviderError,
};
pub use idempotency::{Begun, IdempotencyStore, Settled};
pub use intents::{IntentRecorder, Saved};
pub use ledger::{
    CommitOutcome, EventCommit, EventLedger, LedgerWrite, ParkedEvent, SubscriptionWrite,
};
pub use profiles::ProfileStore;
pub use queue::{EventQueue, QueueError};
pub use secrets::{SecretSource, SecretText};
pub use store::{
    ProviderRef, RefKind, StoreError, StoredSubscription, SubscriptionReader, TenantDirectory,
};
pub use verifier::{WebhookDelivery, WebhookError, WebhookVerifier};
