//! Paddle Billing webhook signature verification: the `Paddle-Signature`
//! header (`ts=<unix>;h1=<hex>[;h1=<hex>...]`), checked against every
//! configured endpoint secret key on the raw request body, and `sign`, which
//! produces such a header for tests and sample events.
//!
//! Paddle signs `"{ts}:{raw body}"` with HMAC-SHA256, keyed by the whole
//! endpoint secret key (`pdl_ntfset_…`) as bytes, hex in `h1`
//! (<https://developer.paddle.com/webhooks/signature-verification>). While a
//! secret key is being rotated Paddle sends one `h1` per active key, and we may
//! hold the old and the new key: any `h1` matching any key accepts the
//! delivery. Paddle's own SDK tests carry such a header (`h1=dummy;h1=<valid>`
//! against three keys, `tests/Unit/Notifications/VerifierTest.php` in
//! PaddleHQ/paddle-php-sdk); the conformance suite replays them.
//!
//! ## The timestamp window: 60 seconds either way
//!
//! Paddle's SDKs refuse a `ts` more than 5 seconds old (`maximum_variance`
//! in paddle-python-sdk, `MAX_VALID_TIME_DIFFERENCE` in paddle-node-sdk) and
//! check only that direction. Paddle signs every delivery attempt afresh
//! (same `event_id`, fresh timestamp: `skills/webhooks/SKILL.md` in
//! PaddleHQ/paddle-agent-skills), so `ts` measures transit and our own
//! latency, never its retry backoff. We
//! allow 60 seconds, both ways: a cold Lambda that also fetches the secret,
//! or refetches it after a rotation, plus clock skew can take a legitimate
//! delivery past 5 seconds, and each refusal costs a Paddle retry minutes
//! later. A replay inside the window is harmless: the event id is our dedupe
//! key. A `ts` from the future beyond the window means a badly skewed clock
//! and is refused too.

use crate::signing;
use billing_domain::ports::{WebhookDelivery, WebhookError};
use billing_domain::secrets::WebhookSecret;
use billing_domain::UnixTime;

/// The header Paddle signs deliveries with (matched case-insensitively).
pub const SIGNATURE_HEADER: &str = "Paddle-Signature";

/// See the module docs for why 60 seconds rather than the SDKs' 5.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 60;

/// A parsed `Paddle-Signature` header: its `ts` (exactly as sent, since the
/// signed message starts with those bytes, and as a number) and its `h1`
/// values, hex as sent (undecodable ones simply never match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddleSignature {
    pub h1: Vec<String>,
    pub timestamp: i64,
    pub timestamp_text: String,
}

impl std::str::FromStr for PaddleSignature {
    type Err = WebhookError;

    fn from_str(header: &str) -> Result<Self, WebhookError> {
        let header = header.trim();
        if header.is_empty() {
            return Err(WebhookError::MalformedSignature("header is empty"));
        }
        // `key=value` pairs separated by `;`. A part without `=`, or with a
        // key we do not know, is passed over so a future scheme next to
        // `h1` does not break verification; only `h1` is ever trusted.
        let pairs: Vec<(&str, &str)> = header
            .split(';')
            .filter_map(|part| part.split_once('='))
            .map(|(key, value)| (key.trim(), value.trim()))
            .collect();
        let mut stamps = pairs.iter().filter(|(key, _)| *key == "ts");
        let timestamp_text = match (stamps.next(), stamps.next()) {
            (None, _) => return Err(WebhookError::MalformedSignature("no timestamp")),
            (Some(_), Some(_)) => {
                return Err(WebhookError::MalformedSignature("more than one timestamp"))
            }
            (Some((_, ts)), None) => *ts,
        };
        let h1: Vec<String> = pairs
            .iter()
            .filter(|(key, _)| *key == "h1")
            .map(|(_, value)| (*value).to_owned())
            .collect();
        if h1.is_empty() {
            return Err(WebhookError::MalformedSignature("no h1 signature"));
        }
        Ok(Self {
            timestamp: signing::parse_unix_timestamp(timestamp_text)?,
            timestamp_text: timestamp_text.to_owned(),
            h1,
        })
    }
}

impl PaddleSignature {
    /// Whether any `h1` is the signature of `body` under any of `secrets`.
    /// Every pair is compared, with no early exit, so timing tells nothing
    /// about which key or which `h1` matched.
    pub fn is_signed_by_any(&self, body: &[u8], secrets: &[WebhookSecret]) -> bool {
        let expected: Vec<[u8; 32]> = secrets
            .iter()
            .map(|secret| signed_message_mac(secret, &self.timestamp_text, body))
            .collect();
        self.h1
            .iter()
            .filter_map(|h1| hex::decode(h1).ok())
            .fold(false, |matched, candidate| {
                expected.iter().fold(matched, |matched, mac| {
                    matched | signing::constant_time_eq(&candidate, mac)
                })
            })
    }
}

/// Verifies a delivery's `Paddle-Signature` on its raw body and returns the
/// signed timestamp.
///
/// With no key configured nothing can verify, which is said as such. The
/// signature is checked before the timestamp: a timestamp error then always
/// means an authentic delivery that is stale or from a skewed clock, and a
/// forgery is always `InvalidSignature`.
pub fn verify_delivery(
    delivery: &WebhookDelivery,
    secrets: &[WebhookSecret],
    now: UnixTime,
    tolerance_seconds: i64,
) -> Result<UnixTime, WebhookError> {
    let signature: PaddleSignature = delivery
        .header(SIGNATURE_HEADER)
        .ok_or(WebhookError::MissingSignature(SIGNATURE_HEADER))?
        .parse()?;
    match (secrets, signature.is_signed_by_any(&delivery.body, secrets)) {
        ([], _) => Err(WebhookError::NoSecretConfigured),
        (_, false) => Err(WebhookError::InvalidSignature),
        (_, true) => signing::check_timestamp_window(signature.timestamp, now, tolerance_seconds)
            .map(|()| UnixTime(signature.timestamp)),
    }
}

/// A valid `Paddle-Signature` header for `body` at `timestamp`.
pub fn sign(secret: &WebhookSecret, timestamp: UnixTime, body: &[u8]) -> String {
    let ts = timestamp.seconds().to_string();
    let h1 = signing::hmac_sha256_hex(secret.expose().as_bytes(), &[ts.as_bytes(), b":", body]);
    format!("ts={ts};h1={h1}")
}

fn signed_message_mac(secret: &WebhookSecret, timestamp: &str, body: &[u8]) -> [u8; 32] {
    signing::hmac_sha256(
        secret.expose().as_bytes(),
        &[timestamp.as_bytes(), b":", body],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::hmac_sha256_hex;

    const BODY: &[u8] = br#"{"event_id":"evt_01","event_type":"transaction.paid"}"#;
    const NOW: UnixTime = UnixTime(1_767_225_600);
    const KEY: &str = "pdl_ntfset_01test_key";

    fn key(s: &str) -> WebhookSecret {
        WebhookSecret::new(s)
    }

    fn delivery(header: &str, body: &[u8]) -> WebhookDelivery {
        WebhookDelivery {
            headers: vec![("paddle-signature".into(), header.into())],
            body: body.to_vec(),
        }
    }

    fn check(header: &str, secrets: &[WebhookSecret]) -> Result<UnixTime, WebhookError> {
        verify_delivery(
            &delivery(header, BODY),
            secrets,
            NOW,
            DEFAULT_TOLERANCE_SECONDS,
        )
    }

    /// The hex `h1` of a correct signature.
    fn h1(secret: &str, ts: i64) -> String {
        let header = sign(&key(secret), UnixTime(ts), BODY);
        header
            .split_once(";h1=")
            .map(|(_, h1)| h1.to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn paddle_sdk_vector_with_a_dummy_h1_and_three_keys_verifies() {
        // PaddleHQ/paddle-php-sdk tests/Unit/Notifications/VerifierTest.php:
        // body "hello-world", the third key is the right one.
        let header = "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02";
        let keys = [
            key("pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4"),
            key("pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo"),
            key("pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"),
        ];
        assert_eq!(
            verify_delivery(
                &delivery(header, b"hello-world"),
                &keys,
                UnixTime(1_696_195_954),
                5
            ),
            Ok(UnixTime(1_696_195_954))
        );
    }

    #[test]
    fn signed_message_is_timestamp_colon_body_keyed_by_the_whole_secret() {
        let expected = hmac_sha256_hex(KEY.as_bytes(), &[b"1767225600:", BODY]);
        assert_eq!(
            sign(&key(KEY), NOW, BODY),
            format!("ts=1767225600;h1={expected}")
        );
    }

    #[test]
    fn valid_signature_is_accepted() {
        assert_eq!(check(&sign(&key(KEY), NOW, BODY), &[key(KEY)]), Ok(NOW));
    }

    #[test]
    fn tampered_body_is_rejected() {
        let header = sign(&key(KEY), NOW, BODY);
        assert_eq!(
            verify_delivery(
                &delivery(&header, b"{}"),
                &[key(KEY)],
                NOW,
                DEFAULT_TOLERANCE_SECONDS
            ),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn wrong_key_is_rejected() {
        let header = sign(&key("pdl_ntfset_other"), NOW, BODY);
        assert_eq!(
            check(&header, &[key(KEY)]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn signed_timestamp_cannot_be_swapped() {
        let header = format!("ts={};h1={}", NOW.0 - 1, h1(KEY, NOW.0));
        assert_eq!(
            check(&header, &[key(KEY)]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn timestamp_is_signed_as_sent() {
        // A zero-padded ts is another message, not the same number.
        let header = format!("ts=0{};h1={}", NOW.0, h1(KEY, NOW.0));
        assert_eq!(
            check(&header, &[key(KEY)]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn any_h1_matching_any_key_is_enough_during_rotation() {
        let header = format!(
            "ts={};h1={};h1={}",
            NOW.0,
            h1("pdl_ntfset_retired", NOW.0),
            h1("pdl_ntfset_new", NOW.0)
        );
        let keys = [key("pdl_ntfset_old"), key("pdl_ntfset_new")];
        assert_eq!(check(&header, &keys), Ok(NOW));
    }

    #[test]
    fn empty_truncated_and_non_hex_h1_never_match() {
        let full = h1(KEY, NOW.0);
        for bad in ["", &full[..32], "zz", &full[..63]] {
            let header = format!("ts={};h1={bad}", NOW.0);
            assert_eq!(
                check(&header, &[key(KEY)]),
                Err(WebhookError::InvalidSignature),
                "h1={bad:?}"
            );
        }
    }

    #[test]
    fn uppercase_hex_is_the_same_signature() {
        let header = format!("ts={};h1={}", NOW.0, h1(KEY, NOW.0).to_uppercase());
        assert_eq!(check(&header, &[key(KEY)]), Ok(NOW));
    }

    #[test]
    fn timestamps_at_the_edge_of_the_window_pass_and_beyond_fail() {
        let at = |offset: i64| {
            check(
                &sign(&key(KEY), NOW.plus_seconds(offset), BODY),
                &[key(KEY)],
            )
        };
        assert!(at(-60).is_ok());
        assert!(at(60).is_ok());
        assert_eq!(at(-61), Err(WebhookError::TimestampTooOld));
        assert_eq!(at(61), Err(WebhookError::TimestampInFuture));
    }

    #[test]
    fn forged_stale_delivery_is_an_invalid_signature_not_a_stale_one() {
        let header = format!("ts={};h1={}", NOW.0 - 3_600, "ab".repeat(32));
        assert_eq!(
            check(&header, &[key(KEY)]),
            Err(WebhookError::InvalidSignature)
        );
    }

    #[test]
    fn missing_header_is_named() {
        let unsigned = WebhookDelivery {
            headers: vec![("content-type".into(), "application/json".into())],
            body: BODY.to_vec(),
        };
        assert_eq!(
            verify_delivery(&unsigned, &[key(KEY)], NOW, DEFAULT_TOLERANCE_SECONDS),
            Err(WebhookError::MissingSignature("Paddle-Signature"))
        );
    }

    #[test]
    fn no_configured_key_is_reported_as_such() {
        assert_eq!(
            check(&sign(&key(KEY), NOW, BODY), &[]),
            Err(WebhookError::NoSecretConfigured)
        );
    }

    #[test]
    fn spaces_around_parts_are_tolerated() {
        let header = format!("ts={} ; h1={}", NOW.0, h1(KEY, NOW.0));
        assert_eq!(check(&header, &[key(KEY)]), Ok(NOW));
    }

    #[test]
    fn unknown_parts_are_ignored_but_never_trusted() {
        let header = format!("ts={};h2={};h1={}", NOW.0, "00".repeat(32), h1(KEY, NOW.0));
        assert_eq!(check(&header, &[key(KEY)]), Ok(NOW));
        let only_unknown = format!("ts={};h2={}", NOW.0, h1(KEY, NOW.0));
        assert_eq!(
            check(&only_unknown, &[key(KEY)]),
            Err(WebhookError::MalformedSignature("no h1 signature"))
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let sig = h1(KEY, NOW.0);
        let cases = [
            (String::new(), "header is empty"),
            ("   ".to_owned(), "header is empty"),
            (format!("h1={sig}"), "no timestamp"),
            (
                format!("ts={};ts={};h1={sig}", NOW.0, NOW.0),
                "more than one timestamp",
            ),
            (format!("ts={}", NOW.0), "no h1 signature"),
            ("t=1,v1=abc".to_owned(), "no timestamp"),
        ];
        for (header, reason) in cases {
            assert_eq!(
                check(&header, &[key(KEY)]),
                Err(WebhookError::MalformedSignature(reason)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn non_numeric_timestamps_are_malformed() {
        for ts in [
            "abc",
            "",
            "+1767225600",
            "-5",
            "1.5",
            "99999999999999999999999",
        ] {
            let header = format!("ts={ts};h1={}", h1(KEY, NOW.0));
            assert!(
                matches!(
                    check(&header, &[key(KEY)]),
                    Err(WebhookError::MalformedSignature(_))
                ),
                "ts={ts:?}"
            );
        }
    }
}
