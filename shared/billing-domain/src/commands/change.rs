//! Plan and seat changes, their preview, cancelling and resuming. The rules
//! (a pure choice over the record, the catalog and the provider's
//! capabilities) come first and refuse without calling anyone; then the
//! provider is asked; then the intent is recorded on the tenant's record.
//! The state the API reports still comes from webhooks: the intent only
//! shows what is on its way (`pendingChange`).

use super::{tenant_gateway, CommandError, Gateways};
use crate::catalog::{Catalog, Plan};
use crate::ids::{TenantId, UnixTime};
use crate::intent::{ChangeIntent, ChangeTiming, PendingChange};
use crate::ports::{
    BillingGateway, ChangeAccepted, ChangePreview, IntentRecorder, PlanChange, Saved,
    StoredSubscription, SubscriptionReader, SubscriptionWrite,
};
use crate::status::SubscriptionStatus;
use crate::transition::{record_intent, Transition};

/// Attempts at recording an intent while webhooks keep changing the record.
const RECORD_ATTEMPTS: u32 = 8;

/// How old a preview's `prorationDate` a change may still pass: a person
/// reading the preview. An older (or a future) date would let a caller pick
/// the moment of proration, and with it the price.
pub const PRORATION_DATE_MAX_AGE_SECONDS: i64 = 30 * 60;

/// What the caller asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub plan: String,
    /// Defaults to the subscription's current seats.
    pub seats: Option<u32>,
    pub timing: ChangeTiming,
    /// The preview's proration moment; defaults to now.
    pub proration_date: Option<UnixTime>,
}

/// A change that passed every rule, ready for the provider.
pub struct ChangeChoice<'a> {
    pub gateway: &'a dyn BillingGateway,
    pub plan: &'a Plan,
    pub change: PlanChange,
}

/// The tenant's subscription, if it can be changed at all: a live one
/// ([`live`]) that is active or trialing.
fn changeable(stored: Option<&StoredSubscription>) -> Result<&StoredSubscription, CommandError> {
    let stored = live(stored)?;
    let status = stored.subscription.status;
    if !matches!(
        status,
        SubscriptionStatus::Active | SubscriptionStatus::Trialing
    ) {
        return Err(CommandError::SubscriptionNotActive { status });
    }
    Ok(stored)
}

/// Checks a plan or seat change, in this order of refusal: a changeable
/// subscription; a known, active, paid plan sold through the tenant's
/// provider; seats within the plan's bounds; something actually changing;
/// nothing already pending (a preview may look anyway); then what the
/// provider can do (the timing, a preview, a change of interval).
pub fn choose_change<'a>(
    catalog: &'a Catalog,
    gateways: &'a Gateways,
    stored: Option<&StoredSubscription>,
    request: &ChangeRequest,
    preview: bool,
    idempotency_key: String,
    now: UnixTime,
) -> Result<ChangeChoice<'a>, CommandError> {
    let stored = changeable(stored)?;
    let subscription = &stored.subscription;
    let gateway = tenant_gateway(gateways, subscription.provider)?;
    let provider = gateway.provider();
    let plan = catalog
        .plan(&request.plan)
        .ok_or_else(|| CommandError::UnknownPlan(request.plan.clone()))?;
    if !plan.active {
        return Err(CommandError::InactivePlan(request.plan.clone()));
    }
    if plan.is_free() {
        return Err(CommandError::FreePlan);
    }
    let price_id = plan
        .price_id(provider)
        .ok_or_else(|| CommandError::PlanNotOffered {
            plan: request.plan.clone(),
            provider,
        })?;
    let seats = request.seats.unwrap_or(subscription.seats.max(1));
    if !plan.allows_seats(seats) {
        return Err(CommandError::SeatsOutOfRange {
            seats,
            min: plan.min_seats,
            max: plan.max_seats,
        });
    }
    if subscription.plan.as_ref() == Some(&plan.code) && subscription.seats == seats {
        return Err(CommandError::SamePlan);
    }
    let pending = subscription
        .pending_change
        .as_ref()
        .filter(|pending| !pending.is_overdue(now));
    if !preview && pending.is_some() {
        return Err(CommandError::ChangePending);
    }
    let capabilities = gateway.capabilities();
    let (able, operation) = match request.timing {
        ChangeTiming::Now => (capabilities.change_now, "changing the plan now"),
        ChangeTiming::PeriodEnd => (
            capabilities.change_at_period_end,
            "changing the plan at period end",
        ),
    };
    require(gateway, able, operation)?;
    if preview {
        require(gateway, capabilities.preview, "previewing a plan change")?;
    }
    let current_interval = subscription
        .plan
        .as_ref()
        .and_then(|code| catalog.plan(code.as_str()))
        .map(|current| current.interval);
    if current_interval.is_some_and(|interval| interval != plan.interval)
        && !capabilities.interval_change
    {
        return Err(CommandError::IntervalChangeNotSupported { provider });
    }
    if let Some(date) = request.proration_date {
        if request.timing == ChangeTiming::PeriodEnd {
            return Err(CommandError::InvalidRequest(
                "prorationDate applies only to a change now".into(),
            ));
        }
        let age = now.seconds().saturating_sub(date.seconds());
        if !(0..=PRORATION_DATE_MAX_AGE_SECONDS).contains(&age) {
            return Err(CommandError::InvalidRequest(format!(
                "prorationDate must be a preview's, from the last {} minutes",
                PRORATION_DATE_MAX_AGE_SECONDS / 60
            )));
        }
    }
    let snapshot = subscription.sources.snapshot.as_ref().map(|f| &f.value);
    Ok(ChangeChoice {
        gateway,
        plan,
        change: PlanChange {
            subscription_id: subscription
                .provider_subscription_id
                .clone()
                .expect("changeable() checked it"),
            customer_id: subscription.provider_customer_id.clone(),
            current_price_id: snapshot.and_then(|s| s.price_id.clone()),
            plan_code: plan.code.to_string(),
            price_id: price_id.to_owned(),
            interval: plan.interval,
            seats,
            timing: request.timing,
            proration_date: match (preview, request.timing) {
                (_, ChangeTiming::PeriodEnd) => None,
                (true, ChangeTiming::Now) => Some(now),
                (false, ChangeTiming::Now) => request.proration_date,
            },
            current_period_end: subscription.current_period_end,
            idempotency_key,
        },
    })
}

/// What a change would cost.
pub async fn preview_change<S: SubscriptionReader + ?Sized>(
    store: &S,
    catalog: &Catalog,
    gateways: &Gateways,
    tenant: &TenantId,
    request: &ChangeRequest,
    now: UnixTime,
) -> Result<ChangePreview, CommandError> {
    let stored = store.get_subscription(tenant).await?;
    let choice = choose_change(
        catalog,
        gateways,
        stored.as_ref(),
        request,
        true,
        String::new(),
        now,
    )?;
    Ok(choice.gateway.preview_change(&choice.change).await?)
}

/// A change the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeStarted {
    pub pending: PendingChange,
    pub accepted: ChangeAccepted,
}

/// Makes a change and records it as the tenant's pending change.
pub async fn change_plan<S: IntentRecorder + ?Sized>(
    store: &S,
    catalog: &Catalog,
    gateways: &Gateways,
    tenant: &TenantId,
    request: &ChangeRequest,
    idempotency_key: String,
    now: UnixTime,
) -> Result<ChangeStarted, CommandError> {
    let stored = store.get_subscription(tenant).await?;
    let choice = choose_change(
        catalog,
        gateways,
        stored.as_ref(),
        request,
        false,
        idempotency_key,
        now,
    )?;
    let change = &choice.change;
    let accepted = choice.gateway.change_plan(change).await?;
    let intent = ChangeIntent {
        subscription_id: change.subscription_id.clone(),
        plan: choice.plan.code.clone(),
        seats: change.seats,
        timing: change.timing,
        effective_at: match change.timing {
            ChangeTiming::Now => now,
            ChangeTiming::PeriodEnd => change.current_period_end.unwrap_or(now),
        },
        requested_at: now,
    };
    let pending = intent.pending_change();
    let read = stored.expect("choose_change() refuses a tenant without a record");
    save_intent(store, tenant, read, Some(intent), now).await?;
    Ok(ChangeStarted { pending, accepted })
}

/// Writes `intent` (or drops the tenant's intent) on the record, re-reading
/// it when a webhook changed it meanwhile.
async fn save_intent<S: IntentRecorder + ?Sized>(
    store: &S,
    tenant: &TenantId,
    read: StoredSubscription,
    intent: Option<ChangeIntent>,
    now: UnixTime,
) -> Result<(), CommandError> {
    // The record the command already read is tried first; only a conflict
    // (a webhook landed during the provider call) reads it again.
    let mut stored = read;
    for attempt in 0..RECORD_ATTEMPTS {
        if attempt > 0 {
            stored = store
                .get_subscription(tenant)
                .await?
                .ok_or(CommandError::NoSubscription)?;
        }
        let next = match record_intent(&stored.subscription, intent.clone(), now) {
            Transition::Applied(next) => *next,
            Transition::Unchanged(_) => return Ok(()),
        };
        let write = SubscriptionWrite {
            expected_revision: Some(stored.revision),
            subscription: next,
        };
        if store.save_subscription(&write).await? == Saved::Written {
            return Ok(());
        }
    }
    Err(CommandError::Contended(RECORD_ATTEMPTS))
}

/// Cancels at period end (`at_period_end`) or at once. The caller checks
/// that the role may cancel at once. A pending change goes with it: the
/// provider drops a scheduled change when it cancels.
pub async fn cancel<S: IntentRecorder + ?Sized>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
    at_period_end: bool,
    now: UnixTime,
) -> Result<(), CommandError> {
    let stored = store.get_subscription(tenant).await?;
    let stored = live(stored.as_ref())?;
    let subscription = &stored.subscription;
    let gateway = tenant_gateway(gateways, subscription.provider)?;
    let id = subscription
        .provider_subscription_id
        .as_deref()
        .expect("live() checked it");
    if at_period_end {
        require(
            gateway,
            gateway.capabilities().cancel_at_period_end,
            "cancelling at period end",
        )?;
        gateway.cancel_at_period_end(id).await?;
    } else {
        require(
            gateway,
            gateway.capabilities().cancel_now,
            "cancelling at once",
        )?;
        gateway.cancel_now(id).await?;
    }
    if subscription.sources.intent.is_some() {
        save_intent(store, tenant, stored.clone(), None, now).await?;
    }
    Ok(())
}

/// Undoes a pending cancellation at period end.
pub async fn resume<S: SubscriptionReader + ?Sized>(
    store: &S,
    gateways: &Gateways,
    tenant: &TenantId,
) -> Result<(), CommandError> {
    let stored = store.get_subscription(tenant).await?;
    let stored = live(stored.as_ref())?;
    let subscription = &stored.subscription;
    let gateway = tenant_gateway(gateways, subscription.provider)?;
    if !subscription.cancel_at_period_end {
        return Err(CommandError::NoPendingCancellation);
    }
    require(
        gateway,
        gateway.capabilities().resume,
        "undoing a cancellation",
    )?;
    let id = subscription
        .provider_subscription_id
        .as_deref()
        .expect("live() checked it");
    Ok(gateway.resume(id).await?)
}

/// A subscription that has not ended, with its provider id.
fn live(stored: Option<&StoredSubscription>) -> Result<&StoredSubscription, CommandError> {
    let stored = stored.ok_or(CommandError::NoSubscription)?;
    let subscription = &stored.subscription;
    if subscription.status == SubscriptionStatus::None
        || subscription.provider_subscription_id.is_none()
    {
        return Err(CommandError::NoSubscription);
    }
    if !subscription.status.is_live() {
        return Err(CommandError::SubscriptionNotActive {
            status: subscription.status,
        });
    }
    Ok(stored)
}

pub(super) fn require(
    gateway: &dyn BillingGateway,
    able: bool,
    operation: &'static str,
) -> Result<(), CommandError> {
    if able {
        Ok(())
    } else {
        Err(CommandError::NotSupported {
            provider: gateway.provider(),
            operation,
        })
    }
}
