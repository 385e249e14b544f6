//! The sandbox's proration rule, in integer minor units, by the second.
//!
//! A change made at `at` inside the period `[start, end)`:
//! - the unused share of an amount is `amount × (end − at) / (end − start)`,
//!   computed in 128 bits and rounded toward zero, with `at` clamped into
//!   the period;
//! - the old price's unused share is credited (a negative line);
//! - for the same interval, the new price's share of the same time is
//!   charged and the period stays as it is;
//! - for another interval, the whole new price is charged for a new period
//!   that starts at `at`;
//! - the sum is due now when positive; a negative sum is a credit carried
//!   to the next invoice, which never goes below zero.

use serde::Serialize;

/// `amount`'s unused share at `at` of the period `[start, end)`.
pub(crate) fn unused_share(amount: i64, start: i64, end: i64, at: i64) -> i64 {
    if end <= start {
        return 0;
    }
    let at = at.clamp(start, end);
    let share = i128::from(amount) * i128::from(end - at) / i128::from(end - start);
    // |share| ≤ |amount|, so it fits back.
    i64::try_from(share).unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Line {
    pub description: String,
    pub amount: i64,
    pub proration: bool,
    pub period_start: i64,
    pub period_end: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proration {
    pub lines: Vec<Line>,
    pub due_now: i64,
    /// The next invoice's amount, after any carried credit.
    pub next_invoice: i64,
    /// The period after the change.
    pub period: (i64, i64),
}

/// What the sides of a change are worth: the total per period (price ×
/// quantity) and a label for the invoice line.
pub(crate) struct Side<'a> {
    pub label: &'a str,
    pub total: i64,
}

/// Prorates a change from `old` to `new` at `at` within `[start, end)`;
/// `new_period` is the new price's period length when the interval changes.
pub(crate) fn prorate(
    old: Side<'_>,
    new: Side<'_>,
    (start, end): (i64, i64),
    at: i64,
    new_period: Option<i64>,
) -> Proration {
    let at = at.clamp(start, end);
    let credit = -unused_share(old.total, start, end, at);
    let (charge, period) = match new_period {
        None => (unused_share(new.total, start, end, at), (start, end)),
        Some(length) => (new.total, (at, at.saturating_add(length))),
    };
    let lines = vec![
        Line {
            description: format!("Unused time on {}", old.label),
            amount: credit,
            proration: true,
            period_start: at,
            period_end: end,
        },
        Line {
            description: format!("Remaining time on {}", new.label),
            amount: charge,
            proration: new_period.is_none(),
            period_start: at,
            period_end: period.1,
        },
    ];
    let sum = credit.saturating_add(charge);
    Proration {
        lines,
        due_now: sum.max(0),
        next_invoice: new.total.saturating_add(sum.min(0)).max(0),
        period,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MONTH: i64 = 30 * 86_400;

    fn side(total: i64) -> Side<'static> {
        Side {
            label: "plan",
            total,
        }
    }

    #[test]
    fn halfway_through_an_upgrade_charges_half_the_difference() {
        let p = prorate(side(1900), side(4900), (0, MONTH), MONTH / 2, None);
        assert_eq!(
            p.lines.iter().map(|l| l.amount).collect::<Vec<_>>(),
            [-950, 2450]
        );
        assert_eq!(
            (p.due_now, p.next_invoice, p.period),
            (1500, 4900, (0, MONTH))
        );
    }

    #[test]
    fn a_downgrade_now_is_credited_to_the_next_invoice() {
        let p = prorate(side(4900), side(1900), (0, MONTH), MONTH / 2, None);
        assert_eq!((p.due_now, p.next_invoice), (0, 1900 - 1500));
    }

    #[test]
    fn another_interval_charges_the_whole_new_price_for_a_new_period() {
        let year = 365 * 86_400;
        let p = prorate(side(1900), side(19000), (0, MONTH), MONTH / 2, Some(year));
        assert_eq!(p.due_now, 19000 - 950);
        assert_eq!(p.period, (MONTH / 2, MONTH / 2 + year));
        assert!(!p.lines[1].proration);
    }

    #[test]
    fn rounding_is_toward_zero_by_the_second() {
        // 1/3 of the period left: 100 × 1/3 = 33.33 → 33.
        assert_eq!(unused_share(100, 0, 3, 2), 33);
        assert_eq!(unused_share(-100, 0, 3, 2), -33);
        assert_eq!(
            unused_share(100, 0, 0, 0),
            0,
            "an empty period has nothing left"
        );
    }

    proptest! {
        #[test]
        fn the_unused_share_is_bounded_and_shrinks_as_time_passes(
            amount in 0i64..i64::MAX / 2,
            start in -1_000_000i64..1_000_000,
            length in 1i64..100 * 365 * 86_400,
            a in any::<i64>(),
            b in any::<i64>(),
        ) {
            let end = start + length;
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            let share = |at| unused_share(amount, start, end, at);
            prop_assert!((0..=amount).contains(&share(early)));
            prop_assert!(share(early) >= share(late));
            prop_assert_eq!(share(start), amount);
            prop_assert_eq!(share(end), 0);
        }

        #[test]
        fn due_now_and_the_carried_credit_account_for_every_line(
            old in 0i64..10_000_000,
            new in 0i64..10_000_000,
            length in 1i64..400 * 86_400,
            elapsed in 0i64..400 * 86_400,
            interval_change in any::<bool>(),
        ) {
            let p = prorate(side(old), side(new), (0, length), elapsed, interval_change.then_some(length * 12));
            let sum: i64 = p.lines.iter().map(|l| l.amount).sum();
            prop_assert_eq!(p.due_now, sum.max(0));
            prop_assert_eq!(p.next_invoice, (new + sum.min(0)).max(0));
            prop_assert!(p.due_now <= new);
            prop_assert!(p.lines[0].amount <= 0 && p.lines[1].amount >= 0);
        }
    }
}
