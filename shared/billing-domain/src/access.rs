//! Status → access: what a tenant may use, decided from its subscription
//! record alone (never from a provider call).

use crate::ids::UnixTime;
use crate::status::SubscriptionStatus;
use crate::subscription::Subscription;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Everything the plan grants.
    Full,
    /// Payment is overdue: keep access, warn the user, for a limited time.
    Grace,
    /// Free-plan entitlements only.
    None,
}

/// How long a past-due tenant keeps access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracePolicy {
    pub past_due_grace_seconds: i64,
}

impl GracePolicy {
    pub const DEFAULT_DAYS: i64 = 7;

    pub fn days(days: i64) -> Self {
        Self {
            past_due_grace_seconds: days.saturating_mul(86_400),
        }
    }
}

impl Default for GracePolicy {
    fn default() -> Self {
        Self::days(Self::DEFAULT_DAYS)
    }
}

/// The access a subscription grants at `now`.
pub fn access_level(
    subscription: &Subscription,
    now: UnixTime,
    policy: &GracePolicy,
) -> AccessLevel {
    match subscription.status {
        SubscriptionStatus::Trialing | SubscriptionStatus::Active => AccessLevel::Full,
        SubscriptionStatus::PastDue => {
            // Without an anchor we cannot bound the grace period, so we fail
            // closed rather than grant grace forever.
            match subscription.past_due_since {
                Some(since) if now < since.plus_seconds(policy.past_due_grace_seconds) => {
                    AccessLevel::Grace
                }
                _ => AccessLevel::None,
            }
        }
        SubscriptionStatus::Incomplete
        | SubscriptionStatus::IncompleteExpired
        | SubscriptionStatus::Unpaid
        | SubscriptionStatus::Paused
        | SubscriptionStatus::Canceled
        | SubscriptionStatus::None => AccessLevel::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Provider, TenantId};

    fn with_status(status: SubscriptionStatus, past_due_since: Option<i64>) -> Subscription {
        let mut s = Subscription::new(
            TenantId::parse("t1").unwrap(),
            Provider::Stripe,
            UnixTime(0),
        );
        s.status = status;
        s.past_due_since = past_due_since.map(UnixTime);
        s
    }

    #[test]
    fn every_status_maps_to_its_documented_access() {
        let now = UnixTime(1_000);
        let policy = GracePolicy::default();
        for status in SubscriptionStatus::ALL {
            let expected = match status {
                SubscriptionStatus::Trialing | SubscriptionStatus::Active => AccessLevel::Full,
                SubscriptionStatus::PastDue => AccessLevel::Grace,
                _ => AccessLevel::None,
            };
            assert_eq!(
                access_level(&with_status(status, Some(900)), now, &policy),
                expected,
                "{status}"
            );
        }
    }

    #[test]
    fn past_due_grace_ends_exactly_after_the_configured_period() {
        let policy = GracePolicy::days(7);
        let sub = with_status(SubscriptionStatus::PastDue, Some(0));
        assert_eq!(
            access_level(&sub, UnixTime(7 * 86_400 - 1), &policy),
            AccessLevel::Grace
        );
        assert_eq!(
            access_level(&sub, UnixTime(7 * 86_400), &policy),
            AccessLevel::None
        );
    }

    #[test]
    fn zero_day_grace_means_past_due_has_no_access() {
        let sub = with_status(SubscriptionStatus::PastDue, Some(100));
        assert_eq!(
            access_level(&sub, UnixTime(100), &GracePolicy::days(0)),
            AccessLevel::None
        );
    }

    #[test]
    fn past_due_without_an_anchor_fails_closed() {
        let sub = with_status(SubscriptionStatus::PastDue, None);
        assert_eq!(
            access_level(&sub, UnixTime(1), &GracePolicy::default()),
            AccessLevel::None
        );
    }
}
