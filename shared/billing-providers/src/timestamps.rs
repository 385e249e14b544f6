//! Provider timestamps read into unix seconds, shared by every adapter:
//! RFC 3339 date-times (Paddle, PayPal) and the looser forms Cashfree sends
//! (a space for the `T`, `+0530` offsets, no offset at all meaning the
//! provider's local time, a bare date). Fractions of a second are dropped:
//! event order is kept in whole seconds. Parsing is the `time` crate's.

use time::format_description::well_known::Rfc3339;
use time::format_description::{self, FormatItem};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Unix seconds of an RFC 3339 date-time (`2024-04-12T10:18:47.635628Z`,
/// `…+02:00`), or `None` for anything else.
pub fn rfc3339_seconds(text: &str) -> Option<i64> {
    // The `time` parser does not look at the date/time separator itself.
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

const DATE_TIME: &str = "[year]-[month]-[day]T[hour]:[minute]:[second]";

fn parse_with(text: &str, description: &str) -> Option<OffsetDateTime> {
    let items: Vec<FormatItem<'_>> = format_description::parse_borrowed::<2>(description).ok()?;
    OffsetDateTime::parse(text, &items).ok()
}

/// Unix seconds of an RFC 3339 date-time or of one of its looser forms: a
/// space instead of `T`, an offset without its colon, no offset (read at
/// `default_offset`), or a bare date (its midnight at `default_offset`).
pub fn seconds_at_default_offset(text: &str, default_offset: UtcOffset) -> Option<i64> {
    let text = text.trim();
    if text.len() > 10 && !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    // A space for the `T`, as Cashfree sometimes writes it.
    let text = match text.get(..10).zip(text.get(11..)) {
        Some((date, time)) if text.as_bytes()[10] == b' ' => format!("{date}T{time}"),
        _ => text.to_owned(),
    };
    if let Some(seconds) = rfc3339_seconds(&text) {
        return Some(seconds);
    }
    // A fraction of a second goes (whole seconds are kept), but only a
    // fraction with digits.
    let text = match text.get(19..).and_then(|rest| rest.strip_prefix('.')) {
        Some(fraction) => {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            format!("{}{}", &text[..19], &fraction[digits..])
        }
        None => text,
    };
    let text = text.as_str();
    let with_offset = [
        format!("{DATE_TIME}Z"),
        format!("{DATE_TIME}[offset_hour sign:mandatory]:[offset_minute]"),
        format!("{DATE_TIME}[offset_hour sign:mandatory][offset_minute]"),
    ];
    for description in &with_offset {
        if let Some(parsed) = parse_with(text, description) {
            return Some(parsed.unix_timestamp());
        }
    }
    let local = format_description::parse_borrowed::<2>(DATE_TIME).ok()?;
    if let Ok(parsed) = PrimitiveDateTime::parse(text, &local) {
        return Some(parsed.assume_offset(default_offset).unix_timestamp());
    }
    let date = format_description::parse_borrowed::<2>("[year]-[month]-[day]").ok()?;
    let day = Date::parse(text, &date).ok()?;
    Some(
        day.midnight()
            .assume_offset(default_offset)
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const IST: UtcOffset = match UtcOffset::from_hms(5, 30, 0) {
        Ok(offset) => offset,
        Err(_) => panic!("valid offset"),
    };

    #[test]
    fn rfc3339_times_truncate_fractions_and_apply_offsets() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        // From Paddle's own transaction.completed sample.
        assert_eq!(
            rfc3339_seconds("2024-04-12T10:18:47.635628Z"),
            Some(1_712_917_127)
        );
        assert_eq!(
            rfc3339_seconds("2024-04-12T10:18:47.999999999Z"),
            Some(1_712_917_127)
        );
        assert_eq!(
            rfc3339_seconds("2024-04-12T12:18:47+02:00"),
            Some(1_712_917_127)
        );
        assert_eq!(
            rfc3339_seconds("2024-04-12T05:48:47-04:30"),
            Some(1_712_917_127)
        );
        // PayPal's create_time and transmission time shapes.
        assert_eq!(rfc3339_seconds("2016-02-18T20:01:35Z"), Some(1_455_825_695));
        assert_eq!(rfc3339_seconds("1969-12-31T23:59:59Z"), Some(-1));
    }

    #[test]
    fn leap_days_and_year_ends_are_counted() {
        assert_eq!(rfc3339_seconds("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(rfc3339_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(rfc3339_seconds("2025-12-31T23:59:59Z"), Some(1_767_225_599));
        assert_eq!(rfc3339_seconds("2026-01-01T00:00:00Z"), Some(1_767_225_600));
    }

    #[test]
    fn impossible_or_malformed_rfc3339_is_refused() {
        for text in [
            "",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-04-12T24:00:00Z",
            "2024-04-12T10:60:00Z",
            "2024-04-12",
            "2024-04-12T10:18:47",
            "2024-04-12T10:18:47.Z",
            "2024-04-12T10:18:47+0200",
            "2024-04-12T10:18:47Zjunk",
            "2024/04/12T10:18:47Z",
            "1712917127",
            "2024-04-12T10:18:4٧Z",
        ] {
            assert_eq!(rfc3339_seconds(text), None, "{text:?}");
        }
    }

    #[test]
    fn looser_forms_read_with_the_default_offset() {
        // Reference values computed independently (Python's datetime).
        let at = |text| seconds_at_default_offset(text, IST);
        assert_eq!(at("2023-08-01T11:16:10+05:30"), Some(1_690_868_770));
        assert_eq!(at("2023-08-01 11:16:10+0530"), Some(1_690_868_770));
        assert_eq!(at("2023-08-01T05:46:10.123Z"), Some(1_690_868_770));
        assert_eq!(at("2055-08-07T10:30:46"), Some(2_701_227_646));
        assert_eq!(at("2026-01-01"), Some(1_767_225_600 - 19_800));
    }

    #[test]
    fn malformed_looser_forms_are_refused() {
        for text in [
            "",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-08-01T24:00:00Z",
            "2023-08-01T11:16",
            "2023-08-01T11:16:10+5:30",
            "2023-08-01T11:16:10.Z",
            "2023-08-01X11:16:10Z",
            "2023-08-01T11:16:10Zjunk",
            "२०२३-08-01",
            "1690868770",
        ] {
            assert_eq!(seconds_at_default_offset(text, IST), None, "{text:?}");
        }
    }
}
