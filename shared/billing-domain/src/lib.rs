//! The pure billing domain: the plan catalog, the subscription record and its
//! state machine (`apply_event`), the status → access policy, the normalized
//! provider events, the commands a tenant gives (checkout, portal), and the
//! ports (traits) that AWS and provider adapters implement. Nothing here talks to AWS, HTTP or Lambda, so every rule is an
//! ordinary function tested on its own.

pub mod access;
pub mod catalog;
pub mod commands;
pub mod envelope;
pub mod event;
pub mod idempotency;
pub mod ids;
pub mod intent;
pub mod ledger;
pub mod money;
pub mod ports;
pub mod processing;
pub mod roles;
pub mod secrets;
pub mod status;
pub mod subscription;
pub mod transition;

pub use access::{access_level, AccessLevel, GracePolicy};
pub use catalog::{Catalog, CatalogError, EntitlementValue, Entitlements, Interval, Plan};
pub use envelope::WebhookEnvelope;
pub use event::{
    CheckoutDetails, EventKind, EventOrder, InvoiceDetails, ProviderEvent, SnapshotChange,
    SubscriptionSnapshot,
};
pub use ids::{PlanCode, Provider, TenantId, UnixTime};
pub use intent::{ChangeIntent, ChangeTiming, PendingChange, OVERDUE_AFTER_SECONDS};
pub use money::Money;
pub use roles::{Action, Role};
pub use status::SubscriptionStatus;
pub use subscription::Subscription;
pub use transition::{apply_event, record_intent, Transition, Unchanged};
