//! Pending plan changes: the intent our API records once a provider accepted
//! a plan or seat change, and the rule that decides, from the newest
//! subscription snapshot alone, whether it is still pending.
//!
//! The rule is a pure function of (intent, newest snapshot), and the record
//! keeps only the newest intent, so recording an intent commutes with
//! applying events: whatever order webhooks and our own write land in, the
//! record ends the same (see the convergence proptest in `transition`).

use crate::event::SubscriptionSnapshot;
use crate::ids::{PlanCode, UnixTime};
use crate::status::SubscriptionStatus;
use crate::subscription::Facet;
use serde::{Deserialize, Serialize};
use std::fmt;

/// When a plan or seat change takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeTiming {
    /// At once, with proration.
    Now,
    /// When the current period ends, without proration.
    PeriodEnd,
}

impl ChangeTiming {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeTiming::Now => "now",
            ChangeTiming::PeriodEnd => "period_end",
        }
    }
}

impl fmt::Display for ChangeTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change the provider accepted and whose webhook we have not seen yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeIntent {
    /// The provider subscription the change was made on.
    pub subscription_id: String,
    pub plan: PlanCode,
    pub seats: u32,
    pub timing: ChangeTiming,
    /// When the change takes effect: the request time for `now`, the end of
    /// the current period for `period_end`.
    pub effective_at: UnixTime,
    /// When our API started the request, before calling the provider; any
    /// provider event about the change is at or after it.
    pub requested_at: UnixTime,
}

/// What `GET /billing/status` shows as `pendingChange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    pub plan: PlanCode,
    pub seats: u32,
    pub effective_at: UnixTime,
}

/// How long after its effective time a change no webhook has settled still
/// counts as pending. Past that it is overdue: a provider that never reports
/// it (a PayPal revision nobody approved, a provider whose snapshots carry
/// no period) must not block every later change for good.
pub const OVERDUE_AFTER_SECONDS: i64 = 86_400;

impl PendingChange {
    /// Whether the change should have shown up by `now` and did not.
    pub fn is_overdue(&self, now: UnixTime) -> bool {
        now.seconds()
            > self
                .effective_at
                .seconds()
                .saturating_add(OVERDUE_AFTER_SECONDS)
    }
}

impl ChangeIntent {
    pub fn pending_change(&self) -> PendingChange {
        PendingChange {
            plan: self.plan.clone(),
            seats: self.seats,
            effective_at: self.effective_at,
        }
    }

    /// Whether the newest snapshot leaves this intent pending. Only a
    /// snapshot from an event at or after the request says anything about
    /// it; such a snapshot settles the intent when it
    /// - shows the change applied (the plan and seats asked for), or
    /// - is of another subscription, or shows the subscription ended, or
    /// - for a change `now`, shows anything at all: the provider applies it
    ///   at once, so a newer state without it means it did not happen; or
    /// - for a change at period end, shows a period starting at or after
    ///   `effective_at`, or ending after it: the period turned over, with
    ///   or without it (some providers report only the period's end).
    pub fn is_pending(&self, newest: Option<&Facet<SubscriptionSnapshot>>) -> bool {
        let Some(facet) = newest else {
            return true;
        };
        if facet.order.occurred_at < self.requested_at {
            return true;
        }
        let snapshot = &facet.value;
        let applied = snapshot.plan.as_ref() == Some(&self.plan) && snapshot.seats == self.seats;
        let ended = matches!(
            snapshot.status,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        );
        let elsewhere = snapshot.subscription_id != self.subscription_id;
        let settled = match self.timing {
            ChangeTiming::Now => true,
            ChangeTiming::PeriodEnd => {
                snapshot
                    .current_period_start
                    .is_some_and(|start| start >= self.effective_at)
                    || snapshot
                        .current_period_end
                        .is_some_and(|end| end > self.effective_at)
            }
        };
        !(applied || ended || elsewhere || settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventOrder;
    use crate::ids::Provider;

    const REQUESTED: i64 = 1_000;
    const PERIOD_END: i64 = 5_000;

    fn intent(timing: ChangeTiming) -> ChangeIntent {
        ChangeIntent {
            subscription_id: "sub_1".into(),
            plan: PlanCode::new("team"),
            seats: 3,
            timing,
            effective_at: UnixTime(match timing {
                ChangeTiming::Now => REQUESTED,
                ChangeTiming::PeriodEnd => PERIOD_END,
            }),
            requested_at: UnixTime(REQUESTED),
        }
    }

    fn facet(at: i64, edit: impl FnOnce(&mut SubscriptionSnapshot)) -> Facet<SubscriptionSnapshot> {
        let mut value = SubscriptionSnapshot {
            subscription_id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status: SubscriptionStatus::Active,
            provider_status: "active".into(),
            plan: Some(PlanCode::new("pro")),
            price_id: Some("price_pro".into()),
            current_period_start: Some(UnixTime(0)),
            current_period_end: Some(UnixTime(PERIOD_END)),
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            trial_end: None,
            seats: 1,
        };
        edit(&mut value);
        Facet {
            order: EventOrder {
                occurred_at: UnixTime(at),
                rank: 2,
                event_id: format!("evt_{at}"),
            },
            provider: Provider::Sandbox,
            value,
        }
    }

    #[test]
    fn a_change_is_overdue_a_day_after_it_should_have_applied() {
        let pending = intent(ChangeTiming::PeriodEnd).pending_change();
        assert!(!pending.is_overdue(UnixTime(PERIOD_END)));
        assert!(!pending.is_overdue(UnixTime(PERIOD_END + OVERDUE_AFTER_SECONDS)));
        assert!(pending.is_overdue(UnixTime(PERIOD_END + OVERDUE_AFTER_SECONDS + 1)));
    }

    #[test]
    fn no_snapshot_or_an_older_one_leaves_it_pending() {
        for timing in [ChangeTiming::Now, ChangeTiming::PeriodEnd] {
            assert!(intent(timing).is_pending(None));
            let older = facet(REQUESTED - 1, |s| s.plan = Some(PlanCode::new("team")));
            assert!(intent(timing).is_pending(Some(&older)), "{timing}");
        }
    }

    #[test]
    fn a_snapshot_showing_the_change_settles_it() {
        let applied = facet(REQUESTED, |s| {
            s.plan = Some(PlanCode::new("team"));
            s.seats = 3;
        });
        for timing in [ChangeTiming::Now, ChangeTiming::PeriodEnd] {
            assert!(!intent(timing).is_pending(Some(&applied)), "{timing}");
        }
        // The plan alone is not the change: the seats differ.
        let plan_only = facet(REQUESTED + 1, |s| s.plan = Some(PlanCode::new("team")));
        assert!(intent(ChangeTiming::PeriodEnd).is_pending(Some(&plan_only)));
    }

    #[test]
    fn a_newer_snapshot_without_it_settles_a_change_now_but_not_one_at_period_end() {
        let unchanged = facet(REQUESTED + 5, |_| {});
        assert!(!intent(ChangeTiming::Now).is_pending(Some(&unchanged)));
        assert!(intent(ChangeTiming::PeriodEnd).is_pending(Some(&unchanged)));
    }

    #[test]
    fn a_turned_over_period_an_ended_or_another_subscription_settles_it() {
        let turned = facet(PERIOD_END, |s| {
            s.current_period_start = Some(UnixTime(PERIOD_END))
        });
        let ended = facet(REQUESTED + 1, |s| s.status = SubscriptionStatus::Canceled);
        let expired = facet(REQUESTED + 1, |s| {
            s.status = SubscriptionStatus::IncompleteExpired
        });
        let other = facet(REQUESTED + 1, |s| s.subscription_id = "sub_2".into());
        // A provider that reports only the period's end (Cashfree).
        let next_end = facet(PERIOD_END, |s| {
            s.current_period_start = None;
            s.current_period_end = Some(UnixTime(PERIOD_END + 30 * 86_400));
        });
        for snapshot in [turned, ended, expired, other, next_end] {
            assert!(!intent(ChangeTiming::PeriodEnd).is_pending(Some(&snapshot)));
        }
    }
}
