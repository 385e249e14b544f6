//! Wall-clock time for handlers, and RFC 3339 formatting for API responses.

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
}
