//! Applying one queued webhook envelope: resolve the tenant, fold the event
//! into the stored record with `apply_event`, log the payment it reports and
//! invoice a successful one, and commit all of it with the dedupe key in one
//! write, retrying when a concurrent writer (or invoice number) got there
//! first.

use crate::envelope::WebhookEnvelope;
use crate::event::{EventKind, ProviderEvent};
use crate::ids::{TenantId, UnixTime};
use crate::ledger::{
    draft_credit_note, draft_invoice, InvoiceDraft, Invoicing, PaymentFacts, PaymentRecord,
    PaymentStatus,
};
use crate::ports::{
    CommitOutcome, EventCommit, EventLedger, LedgerWrite, ParkedEvent, ProviderRef, RefKind,
    StoreError, StoredSubscription, SubscriptionWrite,
};
use crate::transition::{apply_event, Transition, Unchanged};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingPolicy {
    /// How long a processed event id is remembered. Providers retry for days
    /// (Stripe: up to 3), so this must be longer than any retry schedule.
    pub dedupe_ttl_seconds: i64,
    /// Attempts when concurrent writers keep changing the record.
    pub max_conflict_retries: u32,
    /// Attempts when concurrent payments keep taking the next invoice
    /// number first: every payment of the seller shares one counter, so a
    /// burst contends for it far more than for one tenant's record.
    pub max_sequence_retries: u32,
}

impl Default for ProcessingPolicy {
    fn default() -> Self {
        Self {
            dedupe_ttl_seconds: 35 * 86_400,
            max_conflict_retries: 8,
            max_sequence_retries: 100,
        }
    }
}

/// What an event added to the ledger, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub payment_id: String,
    pub status: PaymentStatus,
    pub invoice_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// The record changed (and the ledger, if the event reports a payment).
    Applied {
        tenant: TenantId,
        logged: Option<Logged>,
    },
    /// Recorded as seen; the record did not change (the ledger may have).
    Unchanged {
        tenant: TenantId,
        reason: Unchanged,
        logged: Option<Logged>,
    },
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

    pub fn logged(&self) -> Option<&Logged> {
        match self {
            ProcessOutcome::Applied { logged, .. } | ProcessOutcome::Unchanged { logged, .. } => {
                logged.as_ref()
            }
            _ => None,
        }
    }

    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            ProcessOutcome::Applied { tenant, .. }
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
    #[error("invoice numbers kept being taken first after {0} attempts")]
    NumberContended(u32),
    #[error("envelope version {0} is not supported")]
    UnsupportedEnvelope(u32),
}

impl ProcessError {
    /// Retryable errors go back to the queue; the rest end in the DLQ after
    /// the redrive limit, since retrying cannot fix them.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProcessError::Store(e) => e.is_retryable(),
            ProcessError::Contended(_) | ProcessError::NumberContended(_) => true,
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

/// Whether the stored record already proves that `reference` is claimed
/// for its tenant: a record only ever holds provider ids its commits
/// claimed, so writing the claim again would cost a write and change
/// nothing.
fn proven(stored: Option<&StoredSubscription>, reference: &ProviderRef) -> bool {
    stored.is_some_and(|s| {
        let record = &s.subscription;
        record.provider == reference.provider
            && match reference.kind {
                RefKind::Customer => record.provider_customer_id.as_deref() == Some(&reference.id),
                RefKind::Subscription => {
                    record.provider_subscription_id.as_deref() == Some(&reference.id)
                }
            }
    })
}

pub async fn process_envelope(
    ledger: &dyn EventLedger,
    envelope: &WebhookEnvelope,
    now: UnixTime,
    policy: &ProcessingPolicy,
    invoicing: &Invoicing,
) -> Result<ProcessOutcome, ProcessError> {
    if envelope.version != WebhookEnvelope::VERSION {
        return Err(ProcessError::UnsupportedEnvelope(envelope.version));
    }
    let event = &envelope.event;
    if matches!(event.kind, EventKind::Unknown) && event.payment.is_none() {
        return Ok(ProcessOutcome::Ignored);
    }
    let refs = references(envelope);

    let (tenant, resolved_by) = match &event.tenant_hint {
        Some(tenant) => (tenant.clone(), None),
        None => {
            let mut found = None;
            for reference in &refs {
                if let Some(tenant) = ledger.tenant_for(reference).await? {
                    found = Some((tenant, Some(reference.clone())));
                    break;
                }
            }
            match found {
                Some(found) => found,
                None => {
                    return park(ledger, envelope, now, "no tenant in the event and no stored mapping for its customer or subscription".into()).await;
                }
            }
        }
    };

    if ledger.already_committed(&tenant, event).await? {
        return Ok(ProcessOutcome::Duplicate { tenant });
    }

    // The invoice is drafted once, with the buyer's profile as it is now;
    // only its number is taken anew on each attempt.
    let draft = match &event.payment {
        Some(facts) => match draft_document(ledger, &tenant, event, facts, invoicing, now).await? {
            Ok(draft) => draft,
            Err(reason) => return park(ledger, envelope, now, reason).await,
        },
        None => None,
    };

    let (mut revision_conflicts, mut sequence_conflicts) = (0, 0);
    loop {
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
        let ledger_write = match &event.payment {
            None => None,
            Some(facts) => {
                match ledger_write(ledger, &tenant, envelope, facts, draft.as_ref()).await? {
                    Ok(write) => Some(write),
                    Err(reason) => return park(ledger, envelope, now, reason).await,
                }
            }
        };
        let logged = ledger_write.as_ref().map(|w| Logged {
            payment_id: w.payment.payment_id.clone(),
            status: w.payment.status,
            invoice_number: w.invoice.as_ref().map(|i| i.number.clone()),
        });
        let commit = EventCommit {
            provider: event.provider,
            event_id: event.event_id.clone(),
            tenant: tenant.clone(),
            dedupe_expires_at: now.plus_seconds(policy.dedupe_ttl_seconds),
            claims: if write.is_some() {
                refs.iter()
                    .filter(|r| Some(*r) != resolved_by.as_ref() && !proven(stored.as_ref(), r))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
            write,
            ledger: ledger_write,
        };
        match ledger.commit(&commit).await? {
            CommitOutcome::Committed => {
                return Ok(match unchanged {
                    None => ProcessOutcome::Applied { tenant, logged },
                    Some(reason) => ProcessOutcome::Unchanged {
                        tenant,
                        reason,
                        logged,
                    },
                })
            }
            CommitOutcome::Duplicate => return Ok(ProcessOutcome::Duplicate { tenant }),
            CommitOutcome::RevisionConflict => {
                revision_conflicts += 1;
                if revision_conflicts >= policy.max_conflict_retries {
                    return Err(ProcessError::Contended(revision_conflicts));
                }
            }
            CommitOutcome::SequenceConflict => {
                sequence_conflicts += 1;
                if sequence_conflicts >= policy.max_sequence_retries {
                    return Err(ProcessError::NumberContended(sequence_conflicts));
                }
            }
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
}

/// The document a payment is issued: an invoice for a success, with the
/// buyer's profile as it is now; a credit note for a refund, against the
/// invoice of the payment it refunds; nothing for a failure. `Err` holds
/// why the event must be parked. A refund whose payment has no invoice is
/// parked, not retried: one of a payment made before the ledger existed
/// never finds it, and a reordered one is replayed once the invoice exists.
async fn draft_document(
    ledger: &dyn EventLedger,
    tenant: &TenantId,
    event: &ProviderEvent,
    facts: &PaymentFacts,
    invoicing: &Invoicing,
    now: UnixTime,
) -> Result<Result<Option<InvoiceDraft>, String>, StoreError> {
    let id = &facts.payment_id;
    match facts.status {
        PaymentStatus::Failed => Ok(Ok(None)),
        PaymentStatus::Success => {
            let buyer = ledger.get_profile(tenant).await?;
            let seller = &invoicing.seller;
            Ok(draft_invoice(
                tenant,
                event.provider,
                facts,
                buyer.as_ref(),
                seller,
                &invoicing.rates,
                now,
            )
            .map(Some)
            .map_err(|e| format!("payment {id} cannot be invoiced: {e}")))
        }
        PaymentStatus::Refunded => {
            let Some(refunded) = facts.refund_of.as_deref() else {
                return Ok(Err(format!("refund {id} names no payment")));
            };
            let Some(original) = ledger
                .invoice_for_payment(tenant, event.provider, refunded)
                .await?
            else {
                return Ok(Err(format!(
                    "refund {id} of payment {refunded}, which has no invoice: replay it once the payment is invoiced"
                )));
            };
            Ok(draft_credit_note(&original, facts, &invoicing.seller, now)
                .map(Some)
                .map_err(|e| format!("refund {id} cannot be credited: {e}")))
        }
    }
}

/// The payments log's entry and, for a success, the invoice numbered with
/// the series' next free number; `Err` holds why the event must be parked.
async fn ledger_write(
    ledger: &dyn EventLedger,
    tenant: &TenantId,
    envelope: &WebhookEnvelope,
    facts: &PaymentFacts,
    draft: Option<&InvoiceDraft>,
) -> Result<Result<LedgerWrite, String>, StoreError> {
    let invoice = match draft {
        None => None,
        Some(draft) => {
            let sequence = ledger.next_sequence(draft.series()).await?;
            match draft.issue(sequence) {
                Ok(invoice) => Some(invoice),
                Err(e) => {
                    return Ok(Err(format!(
                        "payment {} cannot be invoiced: {e}",
                        facts.payment_id
                    )))
                }
            }
        }
    };
    let event = &envelope.event;
    let payment = PaymentRecord::new(
        tenant,
        event.provider,
        &event.event_id,
        facts,
        invoice.as_ref().map(|i| i.id.clone()),
    );
    Ok(Ok(LedgerWrite { payment, invoice }))
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
