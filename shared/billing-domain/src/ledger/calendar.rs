//! Civil dates for the ledger: the date an invoice is issued on in the
//! seller's time zone (its financial year and the tax rate in force), and
//! the `YYYY-MM-DD` dates of the rates table. Plain arithmetic on Unix time
//! (Howard Hinnant's days-from-civil), no clock and no time-zone database: a
//! seller gives its fixed UTC offset.

use crate::ids::UnixTime;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A day of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date of the form YYYY-MM-DD")]
pub struct InvalidDate(pub String);

impl Date {
    /// The date at `time` for a clock `utc_offset_minutes` ahead of UTC.
    pub fn at(time: UnixTime, utc_offset_minutes: i32) -> Date {
        let local = time.seconds() + i64::from(utc_offset_minutes) * 60;
        civil_from_days(local.div_euclid(86_400))
    }

    pub fn parse(raw: &str) -> Result<Date, InvalidDate> {
        let bad = || InvalidDate(raw.to_owned());
        let bytes = raw.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, InvalidDate> {
            let part = &raw[range];
            if part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let date = Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        };
        if month == 0 || month > 12 || day == 0 || u32::from(date.days_in_month()) < day {
            return Err(bad());
        }
        Ok(date)
    }

    fn days_in_month(self) -> u8 {
        match self.month {
            4 | 6 | 9 | 11 => 30,
            2 if is_leap(self.year) => 29,
            2 => 28,
            _ => 31,
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days since 1970-01-01 to a civil date.
fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Date::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_land_on_the_civil_date_of_the_offset() {
        // 2026-03-31T18:29:59Z is 23:59:59 in India (UTC+05:30), a second
        // later it is 1 April there: the boundary of the Indian financial year.
        let before = UnixTime(1_774_981_799);
        assert_eq!(Date::at(before, 0).to_string(), "2026-03-31");
        assert_eq!(Date::at(before, 330).to_string(), "2026-03-31");
        assert_eq!(
            Date::at(before.plus_seconds(1), 330).to_string(),
            "2026-04-01"
        );
        assert_eq!(Date::at(UnixTime(0), 0).to_string(), "1970-01-01");
        assert_eq!(Date::at(UnixTime(-1), 0).to_string(), "1969-12-31");
        assert_eq!(Date::at(UnixTime(951_782_400), 0).to_string(), "2000-02-29");
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-4-01",
            "2026-04-1x",
            "",
            "2026/04/01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert!(Date::parse("2026-04-01").unwrap() > Date::parse("2026-03-31").unwrap());
    }
}
