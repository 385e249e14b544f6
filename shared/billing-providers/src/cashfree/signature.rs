//! Cashfree webhook signature verification, on the raw request body.
//!
//! Cashfree sends `x-webhook-timestamp` (Unix time in **milliseconds**, e.g.
//! `1746427759733`) and `x-webhook-signature`, the Base64 HMAC-SHA256 of the
//! timestamp header text immediately followed by the raw body (no
//! separator), keyed with the merchant's Payment Gateway client secret:
//! <https://www.cashfree.com/docs/payments/subscription/webhook-signature>,
//! <https://www.cashfree.com/docs/api-reference/payments/latest/webhooks/signature-verification>,
//! sample headers at
//! <https://www.cashfree.com/docs/api-reference/payments/latest/payments/webhooks>.
//!
//! The raw bytes matter: Cashfree warns that parsing the body turns
//! `payment_amount: 170.00` into `170`, and the signature then no longer
//! matches. Every configured key is tried, without stopping early, so a
//! client-secret rotation (two active keys) works.
//!
//! Timestamp window: Cashfree documents none and its SDKs check none; it
//! retries a failed delivery for up to tens of minutes by default (2, 10
//! and 30 minutes; a merchant can configure up to ten retries), and does not
//! document whether a retry carries a fresh timestamp. A short window could
//! therefore refuse genuine retries, so the default is three days: it bounds
//! a replay far inside the 35 days our dedupe keys are kept, and a replay
//! inside it is a duplicate that changes nothing.
//! <https://www.cashfree.com/docs/api-reference/webhooks/reliability-and-operations>

use crate::signing::{check_timestamp_window, constant_time_eq, hmac_sha256, parse_unix_timestamp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use billing_domain::ports::{WebhookDelivery, WebhookError};
use billing_domain::UnixTime;

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";

/// Three days either way; see the module docs.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 3 * 86_400;

/// Verifies `delivery` against every key in `keys`; returns the signed
/// timestamp (in seconds).
///
/// The signature is checked before the timestamp, so a forgery is always
/// `InvalidSignature` and a timestamp error always means an authentic but
/// stale (or skewed) delivery.
pub fn verify(
    delivery: &WebhookDelivery,
    keys: &[&str],
    now: UnixTime,
    tolerance_seconds: i64,
) -> Result<UnixTime, WebhookError> {
    let signature = delivery
        .header(SIGNATURE_HEADER)
        .ok_or(WebhookError::MissingSignature(SIGNATURE_HEADER))?;
    // The header text itself is signed, so it is used exactly as received.
    let timestamp = delivery
        .header(TIMESTAMP_HEADER)
        .ok_or(WebhookError::MissingSignature(TIMESTAMP_HEADER))?
        .trim();
    let millis = parse_unix_timestamp(timestamp)?;
    let signature = STANDARD
        .decode(signature.trim())
        .map_err(|_| WebhookError::MalformedSignature("signature is not Base64"))?;
    if keys.is_empty() {
        return Err(WebhookError::NoSecretConfigured);
    }
    let mut matched = false;
    for key in keys {
        let expected = hmac_sha256(key.as_bytes(), &[timestamp.as_bytes(), &delivery.body]);
        // Length-checked: an empty signature never matches.
        matched |= constant_time_eq(&signature, &expected);
    }
    if !matched {
        return Err(WebhookError::InvalidSignature);
    }
    let seconds = millis.div_euclid(1000);
    check_timestamp_window(seconds, now, tolerance_seconds)?;
    Ok(UnixTime(seconds))
}

/// The `x-webhook-signature` value Cashfree would send for `body` at
/// `timestamp_millis`.
pub fn sign(key: &str, timestamp_millis: i64, body: &[u8]) -> String {
    let timestamp = timestamp_millis.to_string();
    STANDARD.encode(hmac_sha256(key.as_bytes(), &[timestamp.as_bytes(), body]))
}

/// `body` delivered as Cashfree delivers it at `sent_at`, for tests, sample
/// events and tools.
pub fn signed_delivery(key: &str, sent_at: UnixTime, body: &[u8]) -> WebhookDelivery {
    let millis = sent_at.seconds().saturating_mul(1000);
    WebhookDelivery {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (TIMESTAMP_HEADER.into(), millis.to_string()),
            (SIGNATURE_HEADER.into(), sign(key, millis, body)),
            ("x-webhook-version".into(), "2025-01-01".into()),
        ],
        body: body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "cfsk_ma_test_client_secret";
    const BODY: &[u8] =
        br#"{"data":{"payment_amount":170.00},"type":"SUBSCRIPTION_PAYMENT_SUCCESS"}"#;
    const NOW: UnixTime = UnixTime(1_746_427_759);

    fn check(delivery: &WebhookDelivery, keys: &[&str]) -> Result<UnixTime, WebhookError> {
        verify(delivery, keys, NOW, DEFAULT_TOLERANCE_SECONDS)
    }

    fn with_header(mut delivery: WebhookDelivery, name: &str, value: &str) -> WebhookDelivery {
        delivery.headers.retain(|(n, _)| n != name);
        delivery.headers.push((name.into(), value.into()));
        delivery
    }

    #[test]
    fn signature_is_base64_hmac_of_millisecond_timestamp_then_body() {
        let expected = STANDARD.encode(hmac_sha256(
            KEY.as_bytes(),
            &[format!("1746427759733{}", String::from_utf8_lossy(BODY)).as_bytes()],
        ));
        assert_eq!(sign(KEY, 1_746_427_759_733, BODY), expected);
    }

    #[test]
    fn valid_delivery_verifies_and_reports_seconds() {
        let delivery = signed_delivery(KEY, NOW, BODY);
        assert_eq!(check(&delivery, &[KEY]), Ok(NOW));
    }

    #[test]
    fn millisecond_part_of_the_timestamp_is_signed_as_sent() {
        let delivery = with_header(
            signed_delivery(KEY, NOW, BODY),
            TIMESTAMP_HEADER,
            "1746427759733",
        );
        let delivery = with_header(
            delivery,
            SIGNATURE_HEADER,
            &sign(KEY, 1_746_427_759_733, BODY),
        );
        assert_eq!(check(&delivery, &[KEY]), Ok(NOW));
    }

    #[test]
    fn changed_timestamp_breaks_the_signature() {
        let delivery = signed_delivery(KEY, NOW, BODY);
        let delivery = with_header(delivery, TIMESTAMP_HEADER, "1746427759001");
        assert_eq!(
            check(&delivery, &[KEY]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn tampered_body_or_other_key_is_an_invalid_signature() {
        let mut tampered = signed_delivery(KEY, NOW, BODY);
        tampered.body[20] ^= 1;
        assert_eq!(
            check(&tampered, &[KEY]),
            Err(WebhookError::InvalidSignature)
        );
        let other = signed_delivery("other-secret", NOW, BODY);
        assert_eq!(check(&other, &[KEY]), Err(WebhookError::InvalidSignature));
    }

    #[test]
    fn any_configured_key_verifies_during_rotation() {
        let delivery = signed_delivery(KEY, NOW, BODY);
        assert_eq!(check(&delivery, &["old-secret", KEY]), Ok(NOW));
    }

    #[test]
    fn empty_or_truncated_signature_never_matches() {
        let full = sign(KEY, NOW.0 * 1000, BODY);
        for value in ["", "AAAA", &full[..20]] {
            let delivery = with_header(signed_delivery(KEY, NOW, BODY), SIGNATURE_HEADER, value);
            assert!(
                matches!(
                    check(&delivery, &[KEY]),
                    Err(WebhookError::InvalidSignature | WebhookError::MalformedSignature(_))
                ),
                "{value:?}"
            );
        }
        let empty = with_header(signed_delivery(KEY, NOW, BODY), SIGNATURE_HEADER, "");
        assert_eq!(check(&empty, &[KEY]), Err(WebhookError::InvalidSignature));
    }

    #[test]
    fn missing_headers_are_named() {
        let mut delivery = signed_delivery(KEY, NOW, BODY);
        delivery.headers.retain(|(n, _)| n != SIGNATURE_HEADER);
        assert_eq!(
            check(&delivery, &[KEY]),
            Err(WebhookError::MissingSignature(SIGNATURE_HEADER))
        );
        let mut delivery = signed_delivery(KEY, NOW, BODY);
        delivery.headers.retain(|(n, _)| n != TIMESTAMP_HEADER);
        assert_eq!(
            check(&delivery, &[KEY]),
            Err(WebhookError::MissingSignature(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn malformed_timestamp_or_signature_is_malformed() {
        for timestamp in ["", "abc", "+1746427759733", "1746427759.733"] {
            let delivery =
                with_header(signed_delivery(KEY, NOW, BODY), TIMESTAMP_HEADER, timestamp);
            assert!(
                matches!(
                    check(&delivery, &[KEY]),
                    Err(WebhookError::MalformedSignature(_))
                ),
                "{timestamp:?}"
            );
        }
        let delivery = with_header(
            signed_delivery(KEY, NOW, BODY),
            SIGNATURE_HEADER,
            "not base64!",
        );
        assert_eq!(
            check(&delivery, &[KEY]),
            Err(WebhookError::MalformedSignature("signature is not Base64"))
        );
    }

    #[test]
    fn no_key_is_reported_as_no_secret() {
        let delivery = signed_delivery(KEY, NOW, BODY);
        assert_eq!(check(&delivery, &[]), Err(WebhookError::NoSecretConfigured));
    }

    #[test]
    fn window_edges_pass_and_one_second_beyond_fails() {
        let tolerance = DEFAULT_TOLERANCE_SECONDS;
        for offset in [-tolerance, tolerance] {
            let delivery = signed_delivery(KEY, NOW.plus_seconds(offset), BODY);
            assert!(check(&delivery, &[KEY]).is_ok(), "offset {offset}");
        }
        let old = signed_delivery(KEY, NOW.plus_seconds(-tolerance - 1), BODY);
        assert_eq!(check(&old, &[KEY]), Err(WebhookError::TimestampTooOld));
        let future = signed_delivery(KEY, NOW.plus_seconds(tolerance + 1), BODY);
        assert_eq!(check(&future, &[KEY]), Err(WebhookError::TimestampInFuture));
    }

    #[test]
    fn a_seconds_timestamp_reads_as_1970_and_is_too_old() {
        // Cashfree sends milliseconds; ten digits would be a sender's mistake.
        let seconds = NOW.0.to_string();
        let delivery = WebhookDelivery {
            headers: vec![
                (TIMESTAMP_HEADER.into(), seconds.clone()),
                (SIGNATURE_HEADER.into(), {
                    let mac = hmac_sha256(KEY.as_bytes(), &[seconds.as_bytes(), BODY]);
                    STANDARD.encode(mac)
                }),
            ],
            body: BODY.to_vec(),
        };
        assert_eq!(check(&delivery, &[KEY]), Err(WebhookError::TimestampTooOld));
    }
}
