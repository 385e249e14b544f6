//! Applying one queued webhook envelope: resolve the tenant, fold the event
//! into the stored record with `apply_event`, and commit the dedupe key and
//! the change together, retrying when a concurrent writer got there first.

use crate::envelope::WebhookEnvelope;
use crate::event::EventKind;
use crate::ids::{TenantId, UnixTime};
use crate::ports::{
    CommitOutcome, EventCommit, EventLedger, ParkedEvent, ProviderRef, RefKind, StoreError,
    SubscriptionWrite,
};
use crate::transition::{apply_event, Transition, Unchanged};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingPolicy {
    /// How long a processed event id is remembered. Providers retry for days
    /// (Stripe: up to 3), so this must be longer than any retry schedule.
    pub dedupe_ttl_seconds: i64,
    /// Attempts when concurrent writers keep changing the record.
    pub max_conflict_retries: u32,
}

impl Default for ProcessingPolicy {
    fn default() -> Self {
        Self {
            dedupe_ttl_seconds: 35 * 86_400,
            max_conflict_retries: 8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// The record changed.
    Applied { tenant: TenantId },
    /// Recorded as seen; the record did not change.
    Unchanged { tenant: TenantId, reason: Unchanged },
    /// This event was processed before.
    Duplicate { tenant: TenantId },
    /// An event type we do not act on.
    Ignored,
    /// Set aside for review and replay.
    Parked { reason: String },
}

impl ProcessOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProcessOutcome::Applied { .. } => "applied",
            ProcessOutcome::Unchanged { .. } => "unchanged",
            ProcessOutcome::Duplicate { .. } => "duplicate",
            ProcessOutcome::Ignored => "ignored",
            ProcessOutcome::Parked { .. } => "parked",
        }
    }

    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            ProcessOutcome::Applied { tenant }
            | ProcessOutcome::Unchanged { tenant, .. }
            | ProcessOutcome::Duplicate { tenant } => Some(tenant),
            ProcessOutcome::Ignored | ProcessOutcome::Parked { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("record kept changing under us after {0} attempts")]
    Contended(u32),
    #[error("envelope version {0} is not supported")]
    UnsupportedEnvelope(u32),
}

impl ProcessError {
    /// Retryable errors go back to the queue; the rest end in the DLQ after
    /// the redrive limit, since retrying cannot fix them.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProcessError::Store(e) => e.is_retryable(),
            ProcessError::Contended(_) => true,
            ProcessError::UnsupportedEnvelope(_) => false,
        }
    }
}

/// The provider ids an event carries, subscription first: it is the more
/// specific route to a tenant.
fn references(envelope: &WebhookEnvelope) -> Vec<ProviderRef> {
    let event = &envelope.event;
    let mut refs = Vec::new();
    if let Some(id) = event.subscription_id() {
        refs.push(ProviderRef {
            provider: event.provider,
            kind: RefKind::Subscription,
            id: id.to_owned(),
        });
    }
    if let Some(id) = event.customer_id() {
        refs.push(ProviderRef {
            provider: event.provider,
            kind: RefKind::Customer,
            id: id.to_owned(),
        });
    }
    refs
}

pub async fn process_envelope(
    ledger: &dyn EventLedger,
    envelope: &WebhookEnvelope,
    now: UnixTime,
    policy: &ProcessingPolicy,
) -> Result<ProcessOutcome, ProcessError> {
    if envelope.version != WebhookEnvelope::VERSION {
        return Err(ProcessError::UnsupportedEnvelope(envelope.version));
    }
    let event = &envelope.event;
    if matches!(event.kind, EventKind::Unknown) {
        return Ok(ProcessOutcome::Ignored);
    }
    let refs = references(envelope);

    let tenant = match &event.tenant_hint {
        Some(tenant) => tenant.clone(),
        None => {
            let mut found = None;
            for reference in &refs {
                if let Some(tenant) = ledger.tenant_for(reference).await? {
                    found = Some(tenant);
                    break;
                }
            }
            match found {
                Some(tenant) => tenant,
                None => {
                    return park(ledger, envelope, now, "no tenant in the event and no stored mapping for its customer or subscription".into()).await;
                }
            }
        }
    };

    for _ in 0..policy.max_conflict_retries {
        let stored = ledger.get_subscription(&tenant).await?;
        let transition = apply_event(
            stored.as_ref().map(|s| &s.subscription),
            &tenant,
            event,
            now,
        );
        let (write, unchanged) = match transition {
            Transition::Applied(next) => (
                Some(SubscriptionWrite {
                    expected_revision: stored.as_ref().map(|s| s.revision),
                    subscription: *next,
                }),
                None,
            ),
            Transition::Unchanged(reason) => (None, Some(reason)),
        };
        let commit = EventCommit {
            provider: event.provider,
            event_id: event.event_id.clone(),
            tenant: tenant.clone(),
            dedupe_expires_at: now.plus_seconds(policy.dedupe_ttl_seconds),
            claims: if write.is_some() {
                refs.clone()
            } else {
                Vec::new()
            },
            write,
        };
        match ledger.commit(&commit).await? {
            CommitOutcome::Committed => {
                return Ok(match unchanged {
                    None => ProcessOutcome::Applied { tenant },
                    Some(reason) => ProcessOutcome::Unchanged { tenant, reason },
                })
            }
            CommitOutcome::Duplicate => return Ok(ProcessOutcome::Duplicate { tenant }),
            CommitOutcome::RevisionConflict => continue,
            CommitOutcome::ClaimedByOtherTenant { reference } => {
                return park(
                    ledger,
                    envelope,
                    now,
                    format!("{reference} belongs to another tenant than {tenant}"),
                )
                .await;
            }
        }
    }
    Err(ProcessError::Contended(policy.max_conflict_retries))
}

async fn park(
    ledger: &dyn EventLedger,
    envelope: &WebhookEnvelope,
    now: UnixTime,
    reason: String,
) -> Result<ProcessOutcome, ProcessError> {
    ledger
        .park(&ParkedEvent {
            envelope: envelope.clone(),
            reason: reason.clone(),
            parked_at: now,
        })
        .await?;
    Ok(ProcessOutcome::Parked { reason })
}
