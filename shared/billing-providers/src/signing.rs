//! HMAC-SHA256, constant-time comparison and the signed-timestamp checks,
//! shared by every provider's webhook verification (Stripe and Standard
//! Webhooks today; Razorpay, Cashfree and Paddle sign the same way with
//! different message layouts).

use billing_domain::ports::WebhookError;
use billing_domain::UnixTime;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenation of `parts`, so callers can sign
/// `timestamp || "." || body` without copying the body into a new buffer.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `hmac_sha256` as lowercase hex, the form most providers put in headers.
pub fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    hex::encode(hmac_sha256(key, parts))
}

/// A signed timestamp as sent in a header: unix seconds, digits only
/// (`i64::from_str` would also take "+5" or "-5").
pub fn parse_unix_timestamp(value: &str) -> Result<i64, WebhookError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::MalformedSignature(
            "timestamp is not a number",
        ));
    }
    value
        .parse()
        .map_err(|_| WebhookError::MalformedSignature("timestamp is out of range"))
}

/// Refuses a signed timestamp more than `tolerance_seconds` away from `now`
/// in either direction (a replay, or a badly skewed clock). Exactly at the
/// edge is accepted. Computed in i128 so no timestamp can overflow it.
pub fn check_timestamp_window(
    timestamp: i64,
    now: UnixTime,
    tolerance_seconds: i64,
) -> Result<(), WebhookError> {
    let age = i128::from(now.seconds()) - i128::from(timestamp);
    let tolerance = i128::from(tolerance_seconds);
    if age > tolerance {
        return Err(WebhookError::TimestampTooOld);
    }
    if -age > tolerance {
        return Err(WebhookError::TimestampInFuture);
    }
    Ok(())
}

/// Compares two byte strings without leaking, through timing, where they
/// first differ.
///
/// Lengths are checked first and unequal lengths never match: comparing only
/// up to the shorter length is how svix once accepted an empty signature.
/// A length is not secret (every valid signature of a scheme has the same
/// length), so returning early on it leaks nothing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_of_split_message_equals_hmac_of_whole_message() {
        assert_eq!(
            hmac_sha256(b"k", &[b"12", b".", b"body"]),
            hmac_sha256(b"k", &[b"12.body"])
        );
    }

    #[test]
    fn equal_bytes_match() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn empty_signature_never_matches_a_real_one() {
        let real = hmac_sha256(b"k", &[b"m"]);
        assert!(!constant_time_eq(&[], &real));
        assert!(!constant_time_eq(&real, &[]));
    }

    #[test]
    fn prefix_of_a_signature_does_not_match() {
        let real = hmac_sha256(b"k", &[b"m"]);
        assert!(!constant_time_eq(&real[..16], &real));
    }

    #[test]
    fn one_differing_byte_does_not_match() {
        let real = hmac_sha256(b"k", &[b"m"]);
        let mut forged = real;
        forged[31] ^= 1;
        assert!(!constant_time_eq(&forged, &real));
    }
}
