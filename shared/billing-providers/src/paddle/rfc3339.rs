//! RFC 3339 date-times (`2024-04-12T10:18:48.831000Z`) read into unix
//! seconds, the one time format Paddle Billing uses in events and entities.
//!
//! Written here because the workspace has no date crate and Paddle needs only
//! this: digits in fixed places, an optional fraction (dropped: our clock is
//! in whole seconds) and `Z` or a `±HH:MM` offset. Generic enough to move to
//! the shared plumbing once another provider (PayPal, Cashfree) needs it.

/// Unix seconds of an RFC 3339 date-time, or `None` when `text` is not one
/// (a wrong shape, or a day or hour out of range). The fraction of a second
/// is truncated, so `…:05.9Z` is second 5.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    // "YYYY-MM-DDTHH:MM:SS" is 19 bytes; the zone comes after any fraction.
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    let hour = digits(&bytes[11..13])?;
    let minute = digits(&bytes[14..16])?;
    // 60 is a leap second, which RFC 3339 allows; it lands on the next second.
    let second = digits(&bytes[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut rest = &bytes[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digit_count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digit_count == 0 {
            return None;
        }
        rest = &fraction[digit_count..];
    }
    let offset_seconds = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = hours * 3_600 + minutes * 60;
            if *sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };

    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second - offset_seconds)
}

/// ASCII digits as a number; `None` for anything else.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |value, b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`: shift the year to start in March so February's length
/// only matters at the end of the shifted year).
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_zero() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn paddle_times_with_microseconds_truncate_to_the_second() {
        // From Paddle's own transaction.completed sample.
        assert_eq!(
            unix_seconds("2024-04-12T10:18:47.635628Z"),
            Some(1_712_917_127)
        );
        assert_eq!(unix_seconds("2024-04-12T10:18:47Z"), Some(1_712_917_127));
        assert_eq!(
            unix_seconds("2024-04-12T10:18:47.999999999Z"),
            Some(1_712_917_127)
        );
    }

    #[test]
    fn offsets_are_applied() {
        assert_eq!(
            unix_seconds("2024-04-12T12:18:47+02:00"),
            unix_seconds("2024-04-12T10:18:47Z")
        );
        assert_eq!(
            unix_seconds("2024-04-12T05:48:47-04:30"),
            unix_seconds("2024-04-12T10:18:47Z")
        );
    }

    #[test]
    fn leap_days_and_year_ends_are_counted() {
        assert_eq!(unix_seconds("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(unix_seconds("2024-03-01T00:00:00Z"), Some(1_709_251_200));
        assert_eq!(unix_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(unix_seconds("2025-12-31T23:59:59Z"), Some(1_767_225_599));
        assert_eq!(unix_seconds("2026-01-01T00:00:00Z"), Some(1_767_225_600));
    }

    #[test]
    fn dates_before_the_epoch_are_negative() {
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), Some(-1));
    }

    #[test]
    fn impossible_dates_and_times_are_refused() {
        for text in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-04-12T24:00:00Z",
            "2024-04-12T10:60:00Z",
            "2024-04-12T10:00:61Z",
            "2024-04-12T10:00:00+24:00",
        ] {
            assert_eq!(unix_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn malformed_text_is_refused() {
        for text in [
            "",
            "2024-04-12",
            "2024-04-12T10:18:47",
            "2024-04-12T10:18:47.Z",
            "2024-04-12T10:18:47+0200",
            "2024-04-12T10:18:47Zjunk",
            "2024/04/12T10:18:47Z",
            "+024-04-12T10:18:47Z",
            "1712917127",
            "2024-04-12T10:18:4٧Z",
        ] {
            assert_eq!(unix_seconds(text), None, "{text:?}");
        }
    }
}
