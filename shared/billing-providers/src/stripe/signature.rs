//! Stripe webhook signature verification: the `Stripe-Signature` header
//! (`t=<unix>,v1=<hex>[,v1=<hex>...]`), checked against every configured
//! endpoint secret on the raw request body, and `sign`, which produces such a
//! header for tests, sample events and `scripts/trigger`.
//!
//! Stripe signs `"{t}.{raw body}"` with HMAC-SHA256, keyed by the whole
//! `whsec_...` string as bytes. While a secret is being rolled Stripe sends
//! one `v1` per active secret, and we may hold both the old and new secret:
//! any `v1` matching any secret accepts the delivery. Only `v1` counts; `v0`
//! (test-mode only) and unknown schemes are ignored so nobody can downgrade.

use crate::signing::{
    check_timestamp_window, constant_time_eq, hmac_sha256, hmac_sha256_hex, parse_unix_timestamp,
};
use billing_domain::ports::WebhookError;
use billing_domain::secrets::WebhookSecret;
use billing_domain::UnixTime;

/// The header Stripe signs deliveries with (matched case-insensitively).
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Stripe's libraries' default: five minutes either way.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    /// The `v1` values, hex as sent; undecodable ones simply never match.
    pub v1: Vec<String>,
}

impl SignatureHeader {
    pub fn parse(header: &str) -> Result<Self, WebhookError> {
        if header.trim().is_empty() {
            return Err(WebhookError::MalformedSignature("header is empty"));
        }
        let mut timestamp = None;
        let mut v1 = Vec::new();
        // Elements are `key=value`; elements without `=` and unknown keys
        // are skipped, as Stripe's libraries do, so a new scheme does not
        // break us.
        for element in header.split(',') {
            let Some((key, value)) = element.trim().split_once('=') else {
                continue;
            };
            match key {
                "t" => {
                    if timestamp.is_some() {
                        return Err(WebhookError::MalformedSignature("more than one timestamp"));
                    }
                    timestamp = Some(parse_unix_timestamp(value)?);
                }
                "v1" => v1.push(value.to_owned()),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::MalformedSignature("no timestamp"))?;
        if v1.is_empty() {
            return Err(WebhookError::MalformedSignature("no v1 signature"));
        }
        Ok(Self { timestamp, v1 })
    }
}

/// Verifies `header` for `body`; returns the signed timestamp.
///
/// The signature is checked before the timestamp, as Stripe's libraries do:
/// a timestamp error then always means an authentic delivery that is stale or
/// from a skewed clock, while a forgery is always `InvalidSignature`.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: UnixTime,
    tolerance_seconds: i64,
) -> Result<UnixTime, WebhookError> {
    let parsed = SignatureHeader::parse(header)?;
    if secrets.is_empty() {
        return Err(WebhookError::NoSecretConfigured);
    }
    let timestamp = parsed.timestamp.to_string();
    let candidates: Vec<Vec<u8>> = parsed
        .v1
        .iter()
        .filter_map(|v| hex::decode(v).ok())
        .collect();
    // Every secret and every candidate is compared, without stopping early,
    // so timing does not reveal which secret or which `v1` matched.
    let mut matched = false;
    for secret in secrets {
        let expected = hmac_sha256(
            secret.expose().as_bytes(),
            &[timestamp.as_bytes(), b".", body],
        );
        for candidate in &candidates {
            matched |= constant_time_eq(candidate, &expected);
        }
    }
    if !matched {
        return Err(WebhookError::InvalidSignature);
    }
    check_timestamp_window(parsed.timestamp, now, tolerance_seconds)?;
    Ok(UnixTime(parsed.timestamp))
}

/// A valid `Stripe-Signature` header for `body` at `timestamp`.
pub fn sign(secret: &WebhookSecret, timestamp: UnixTime, body: &[u8]) -> String {
    let t = timestamp.seconds().to_string();
    let v1 = hmac_sha256_hex(secret.expose().as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={v1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::new(s)
    }

    fn check(
        header: &str,
        body: &[u8],
        secrets: &[WebhookSecret],
    ) -> Result<UnixTime, WebhookError> {
        verify(header, body, secrets, NOW, DEFAULT_TOLERANCE_SECONDS)
    }

    fn v1(secret_str: &str, t: i64, body: &[u8]) -> String {
        sign(&secret(secret_str), UnixTime(t), body)
            .split_once(",v1=")
            .map(|(_, v)| v.to_owned())
            .unwrap()
    }

    #[test]
    fn valid_signature_is_accepted() {
        let header = sign(&secret("whsec_a"), NOW, BODY);
        assert_eq!(check(&header, BODY, &[secret("whsec_a")]), Ok(NOW));
    }

    #[test]
    fn signature_uses_the_whole_whsec_string_as_the_key() {
        // Stripe's libraries key the HMAC with the secret as given, prefix included.
        let expected = hmac_sha256_hex(b"whsec_a", &[b"1700000000.", BODY]);
        assert_eq!(
            sign(&secret("whsec_a"), NOW, BODY),
            format!("t=1700000000,v1={expected}")
        );
    }

    #[test]
    fn tampered_body_is_rejected() {
        let header = sign(&secret("whsec_a"), NOW, BODY);
        let tampered = br#"{"id":"evt_1","type":"invoice.paid" }"#;
        assert_eq!(
            check(&header, tampered, &[secret("whsec_a")]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let header = sign(&secret("whsec_other"), NOW, BODY);
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn signed_timestamp_cannot_be_swapped() {
        let header = format!("t={},v1={}", NOW.0 + 1, v1("whsec_a", NOW.0, BODY));
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn stale_timestamp_is_too_old() {
        let header = sign(&secret("whsec_a"), NOW.plus_seconds(-301), BODY);
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::TimestampTooOld)
        );
    }

    #[test]
    fn future_timestamp_is_in_the_future() {
        let header = sign(&secret("whsec_a"), NOW.plus_seconds(301), BODY);
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::TimestampInFuture)
        );
    }

    #[test]
    fn timestamps_exactly_at_the_tolerance_are_accepted() {
        for offset in [-300, 300] {
            let header = sign(&secret("whsec_a"), NOW.plus_seconds(offset), BODY);
            assert!(
                check(&header, BODY, &[secret("whsec_a")]).is_ok(),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn tolerance_is_configurable() {
        let header = sign(&secret("whsec_a"), NOW.plus_seconds(-60), BODY);
        assert_eq!(
            verify(&header, BODY, &[secret("whsec_a")], NOW, 30),
            Err(WebhookError::TimestampTooOld)
        );
    }

    #[test]
    fn second_v1_matching_is_enough() {
        let header = format!(
            "t={},v1={},v1={}",
            NOW.0,
            v1("whsec_old", NOW.0, BODY),
            v1("whsec_a", NOW.0, BODY)
        );
        assert_eq!(check(&header, BODY, &[secret("whsec_a")]), Ok(NOW));
    }

    #[test]
    fn empty_v1_is_rejected() {
        let header = format!("t={},v1=", NOW.0);
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn truncated_v1_is_rejected() {
        let full = v1("whsec_a", NOW.0, BODY);
        let header = format!("t={},v1={}", NOW.0, &full[..32]);
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn non_hex_v1_does_not_hide_a_valid_one() {
        let header = format!(
            "t={},v1=zz-not-hex,v1={}",
            NOW.0,
            v1("whsec_a", NOW.0, BODY)
        );
        assert_eq!(check(&header, BODY, &[secret("whsec_a")]), Ok(NOW));
    }

    #[test]
    fn header_without_timestamp_is_malformed() {
        let header = format!("v1={}", v1("whsec_a", NOW.0, BODY));
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::MalformedSignature("no timestamp"))
        );
    }

    #[test]
    fn non_numeric_timestamp_is_malformed() {
        for t in [
            "abc",
            "",
            "+1700000000",
            "-5",
            "1.5",
            "99999999999999999999999",
        ] {
            let header = format!("t={t},v1={}", v1("whsec_a", NOW.0, BODY));
            assert!(
                matches!(
                    check(&header, BODY, &[secret("whsec_a")]),
                    Err(WebhookError::MalformedSignature(_))
                ),
                "t={t}"
            );
        }
    }

    #[test]
    fn garbage_header_is_malformed() {
        for header in ["garbage", "t", ",,,", "v1", "t:1700000000;v1:abc"] {
            assert!(
                matches!(
                    check(header, BODY, &[secret("whsec_a")]),
                    Err(WebhookError::MalformedSignature(_))
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn empty_header_is_malformed() {
        assert_eq!(
            check("", BODY, &[secret("whsec_a")]),
            Err(WebhookError::MalformedSignature("header is empty"))
        );
        assert!(matches!(
            check("   ", BODY, &[secret("whsec_a")]),
            Err(WebhookError::MalformedSignature(_))
        ));
    }

    #[test]
    fn duplicate_timestamps_are_malformed() {
        let header = format!("t={},t={},v1={}", NOW.0, NOW.0, v1("whsec_a", NOW.0, BODY));
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::MalformedSignature("more than one timestamp"))
        );
    }

    #[test]
    fn v0_only_header_is_rejected_even_if_v0_is_correct() {
        // A correct HMAC under the v0 label must not count: only v1 is trusted.
        let header = format!("t={},v0={}", NOW.0, v1("whsec_a", NOW.0, BODY));
        assert_eq!(
            check(&header, BODY, &[secret("whsec_a")]),
            Err(WebhookError::MalformedSignature("no v1 signature"))
        );
    }

    #[test]
    fn v0_next_to_a_valid_v1_is_ignored() {
        let header = format!("t={},v1={},v0=deadbeef", NOW.0, v1("whsec_a", NOW.0, BODY));
        assert_eq!(check(&header, BODY, &[secret("whsec_a")]), Ok(NOW));
    }

    #[test]
    fn second_configured_secret_is_accepted_during_rotation() {
        let header = sign(&secret("whsec_new"), NOW, BODY);
        assert_eq!(
            check(&header, BODY, &[secret("whsec_old"), secret("whsec_new")]),
            Ok(NOW)
        );
    }

    #[test]
    fn no_configured_secret_is_reported_as_such() {
        let header = sign(&secret("whsec_a"), NOW, BODY);
        assert_eq!(
            check(&header, BODY, &[]),
            Err(WebhookError::NoSecretConfigured)
        );
    }

    #[test]
    fn header_with_spaces_after_commas_is_accepted() {
        let header = format!("t={}, v1={}", NOW.0, v1("whsec_a", NOW.0, BODY));
        assert_eq!(check(&header, BODY, &[secret("whsec_a")]), Ok(NOW));
    }
}
