//! Wall-clock time for handlers, and RFC 3339 for API responses and the
//! times a client sends back.

use billing_domain::UnixTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now() -> UnixTime {
    UnixTime(OffsetDateTime::now_utc().unix_timestamp())
}

/// `2024-05-01T12:00:00Z`; `None` for a time outside the representable range.
pub fn rfc3339(t: UnixTime) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(t.seconds())
        .ok()
        .and_then(|dt| dt.format(&Rfc3339).ok())
}

/// A time a client sent back in RFC 3339 (any offset), to the second.
pub fn parse_rfc3339(value: &str) -> Option<UnixTime> {
    OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .map(|dt| UnixTime(dt.unix_timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_seconds_as_utc_rfc3339() {
        assert_eq!(
            rfc3339(UnixTime(0)).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
        assert_eq!(
            rfc3339(UnixTime(1_714_564_800)).as_deref(),
            Some("2024-05-01T12:00:00Z")
        );
        assert_eq!(rfc3339(UnixTime(i64::MAX)), None);
    }

    #[test]
    fn parses_what_it_formats_and_refuses_anything_else() {
        for t in [0, 1_714_564_800, 4_102_444_800] {
            let text = rfc3339(UnixTime(t)).unwrap();
            assert_eq!(parse_rfc3339(&text), Some(UnixTime(t)));
        }
        assert_eq!(
            parse_rfc3339("2024-05-01T14:00:00+02:00"),
            Some(UnixTime(1_714_564_800))
        );
        for bad in [
            "",
            "1714564800",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "yesterday",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }
}
