//! Document numbers: gapless per series and financial year, at most 16
//! characters (CGST Rule 46(b)), e.g. `INV/26-27/000123`.
//!
//! A series is a prefix (`INV` for invoices, `CN` for credit notes) and the
//! seller's financial year at the issue date: `26-27` when the year starts
//! in April 2026, `2026` when it starts in January. The sequence restarts at
//! 1 in every series. The zero-padded width is what is left of 16
//! characters, so `INV` leaves 6 digits (999,999 documents a year); the
//! store's conditional counter hands out 1, 2, 3, ... in commit order.
//!
//! A document's URL id is its number with `/` as `-`: prefixes are letters
//! and digits only, so the mapping is one to one.

use super::calendar::Date;
use serde::{Deserialize, Serialize};

pub const MAX_NUMBER_LENGTH: usize = 16;
/// Fewer digits would run out within a busy year.
const MIN_SEQUENCE_DIGITS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberingError {
    #[error("{field}: 1 to 5 capital letters or digits, e.g. INV (it leaves at least {MIN_SEQUENCE_DIGITS} digits of the 16-character number)")]
    Prefix { field: &'static str },
    #[error("series {series} is full: number {sequence} does not fit 16 characters")]
    Exhausted { series: String, sequence: u64 },
}

pub fn validate_prefix(field: &'static str, prefix: &str) -> Result<(), NumberingError> {
    let ok = (1..=5).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(NumberingError::Prefix { field })
    }
}

/// One counter: a prefix in one financial year.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Series(String);

impl Series {
    /// The series of a document with `prefix` issued on `date`.
    pub fn for_date(prefix: &str, date: Date, financial_year_start_month: u8) -> Series {
        let start_year = if date.month >= financial_year_start_month {
            date.year
        } else {
            date.year - 1
        };
        let year = if financial_year_start_month == 1 {
            format!("{start_year:04}")
        } else {
            format!(
                "{:02}-{:02}",
                start_year.rem_euclid(100),
                (start_year + 1).rem_euclid(100)
            )
        };
        Series(format!("{prefix}/{year}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The series of a number this module made (`INV/26-27/000123`).
    pub fn of_number(number: &str) -> Series {
        Series(
            number
                .rsplit_once('/')
                .map_or(number, |(series, _)| series)
                .to_owned(),
        )
    }

    /// The `sequence`-th document of the series (from 1).
    pub fn number(&self, sequence: u64) -> Result<DocumentNumber, NumberingError> {
        let width = MAX_NUMBER_LENGTH.saturating_sub(self.0.len() + 1);
        let digits = format!("{sequence:0width$}");
        if sequence == 0 || width < MIN_SEQUENCE_DIGITS || digits.len() > width {
            return Err(NumberingError::Exhausted {
                series: self.0.clone(),
                sequence,
            });
        }
        let number = format!("{}/{digits}", self.0);
        Ok(DocumentNumber {
            id: number.replace('/', "-"),
            number,
            sequence,
        })
    }
}

/// A document's number as the law and the customer see it, and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DocumentNumber {
    pub number: String,
    pub id: String,
    pub sequence: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UnixTime;
    use proptest::prelude::*;

    fn date(raw: &str) -> Date {
        Date::parse(raw).unwrap()
    }

    #[test]
    fn the_indian_financial_year_runs_april_to_march() {
        let series = |d| Series::for_date("INV", date(d), 4).as_str().to_owned();
        assert_eq!(series("2026-04-01"), "INV/26-27");
        assert_eq!(series("2027-03-31"), "INV/26-27");
        assert_eq!(series("2027-04-01"), "INV/27-28");
        assert_eq!(series("2099-06-01"), "INV/99-00");
        assert_eq!(
            Series::for_date("INV", date("2026-12-31"), 1).as_str(),
            "INV/2026"
        );
        // 1 April 00:10 in India is still 31 March in UTC.
        assert_eq!(
            Series::for_date("INV", Date::at(UnixTime(1_774_982_000), 330), 4).as_str(),
            "INV/26-27"
        );
        assert_eq!(
            Series::for_date("INV", Date::at(UnixTime(1_774_982_000), 0), 4).as_str(),
            "INV/25-26"
        );
    }

    #[test]
    fn numbers_fill_sixteen_characters_and_stop_when_full() {
        let series = Series::for_date("INV", date("2026-05-01"), 4);
        let n = series.number(123).unwrap();
        assert_eq!(n.number, "INV/26-27/000123");
        assert_eq!(n.id, "INV-26-27-000123");
        assert_eq!(n.number.len(), 16);
        assert_eq!(Series::of_number(&n.number), series);
        assert_eq!(series.number(999_999).unwrap().number, "INV/26-27/999999");
        assert!(matches!(
            series.number(1_000_000),
            Err(NumberingError::Exhausted { .. })
        ));
        assert!(series.number(0).is_err());
        let calendar = Series::for_date("CN", date("2026-05-01"), 1);
        assert_eq!(calendar.number(7).unwrap().number, "CN/2026/00000007");
        assert!(validate_prefix("p", "INVOI").is_ok());
        for bad in ["", "INVOIC", "in", "I/N", "I-N"] {
            assert!(validate_prefix("p", bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Every valid prefix, date and sequence that fits gives a number of
        /// at most 16 characters of the allowed set, whose id maps back.
        #[test]
        fn numbers_stay_within_rule_46(
            prefix in "[A-Z0-9]{1,5}",
            year in 2000i32..2200,
            month in 1u8..=12,
            start in 1u8..=12,
            sequence in 1u64..10_000,
        ) {
            let series = Series::for_date(&prefix, Date { year, month, day: 1 }, start);
            let n = series.number(sequence).unwrap();
            prop_assert!(n.number.len() <= MAX_NUMBER_LENGTH);
            prop_assert!(n.number.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'-'));
            prop_assert_eq!(n.id.replacen('-', "/", 1).starts_with(&prefix), true);
            prop_assert!(n.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            prop_assert!(n.number.ends_with(&sequence.to_string()));
        }
    }
}
