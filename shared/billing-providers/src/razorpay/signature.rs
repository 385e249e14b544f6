//! Razorpay webhook signature verification: `X-Razorpay-Signature` is the
//! lowercase hex HMAC-SHA256 of the raw request body, keyed by the webhook
//! secret set in the Dashboard, and `sign` produces such a header for tests
//! and sample events.
//!
//! The scheme signs the body only: no timestamp, no scheme version, no id.
//! See <https://razorpay.com/docs/webhooks/validate-test/> ("The hash
//! signature is calculated using HMAC with SHA256 algorithm; with your
//! webhook secret set as the key and the webhook request body as the
//! message"). The same page tells integrators to keep validating with the old
//! secret while retries of older requests arrive after a secret change, so
//! every configured secret is tried.

use crate::signing::{constant_time_eq, hmac_sha256, hmac_sha256_hex};
use billing_domain::ports::WebhookError;
use billing_domain::secrets::WebhookSecret;

/// The header Razorpay signs deliveries with (matched case-insensitively).
pub const SIGNATURE_HEADER: &str = "X-Razorpay-Signature";

/// Verifies `header` for `body` against every configured secret.
///
/// A header that is not a hex SHA-256 digest is malformed (it cannot come
/// from Razorpay, whatever the secret); a well-formed one that matches no
/// secret is an invalid signature.
pub fn verify(header: &str, body: &[u8], secrets: &[WebhookSecret]) -> Result<(), WebhookError> {
    let received = parse_header(header)?;
    if secrets.is_empty() {
        return Err(WebhookError::NoSecretConfigured);
    }
    // Every secret is compared, without stopping early, so timing does not
    // reveal which secret matched.
    let mut matched = false;
    for secret in secrets {
        let expected = hmac_sha256(secret.expose().as_bytes(), &[body]);
        matched |= constant_time_eq(&received, &expected);
    }
    if matched {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature)
    }
}

/// The digest the header carries. Razorpay's SDKs compare the lowercase hex
/// string; decoding instead also accepts uppercase hex, which names the same
/// digest and so grants nothing a forger could use.
fn parse_header(header: &str) -> Result<[u8; 32], WebhookError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::MalformedSignature("header is empty"));
    }
    let bytes = hex::decode(header)
        .map_err(|_| WebhookError::MalformedSignature("signature is not hex"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| WebhookError::MalformedSignature("signature is not a SHA-256 digest"))
}

/// A valid `X-Razorpay-Signature` value for `body`.
pub fn sign(secret: &WebhookSecret, body: &[u8]) -> String {
    hmac_sha256_hex(secret.expose().as_bytes(), &[body])
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"entity":"event","event":"subscription.activated"}"#;

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::new(s)
    }

    #[test]
    fn razorpay_sdk_published_vector_verifies() {
        // The vector of Razorpay's own SDK tests: razorpay-node
        // test/utils/razorpay-utils.spec.js and razorpay-java's
        // Utils verifyWebhookSignature test.
        let body = br#"{"a":1,"b":2,"c":{"d":3}}"#;
        let expected = "2fe04e22977002e6c7cb553adab8b460cb9e2a4970d5953cb27a8472752e3bbc";
        assert_eq!(sign(&secret("123456"), body), expected);
        assert_eq!(verify(expected, body, &[secret("123456")]), Ok(()));
    }

    #[test]
    fn signature_is_the_hmac_of_the_raw_body_alone() {
        let expected = hmac_sha256_hex(b"whsec", &[BODY]);
        assert_eq!(sign(&secret("whsec"), BODY), expected);
    }

    #[test]
    fn a_changed_body_or_another_secret_does_not_verify() {
        let tampered = br#"{"entity":"event","event":"subscription.activated" }"#;
        let cases: [(&[u8], &str); 2] = [(tampered, "s"), (BODY, "another secret")];
        for (body, signing_secret) in cases {
            let header = sign(&secret(signing_secret), body);
            let outcome = verify(&header, BODY, &[secret("s")]);
            assert_eq!(
                outcome,
                Err(WebhookError::InvalidSignature),
                "{signing_secret}"
            );
        }
    }

    #[test]
    fn any_configured_secret_is_accepted_during_rotation() {
        let header = sign(&secret("old"), BODY);
        assert_eq!(
            verify(&header, BODY, &[secret("new"), secret("old")]),
            Ok(())
        );
    }

    #[test]
    fn no_configured_secret_is_reported_as_such() {
        let header = sign(&secret("s"), BODY);
        assert_eq!(
            verify(&header, BODY, &[]),
            Err(WebhookError::NoSecretConfigured)
        );
    }

    #[test]
    fn uppercase_hex_names_the_same_digest() {
        let header = sign(&secret("s"), BODY).to_uppercase();
        assert_eq!(verify(&header, BODY, &[secret("s")]), Ok(()));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let header = format!(" {} ", sign(&secret("s"), BODY));
        assert_eq!(verify(&header, BODY, &[secret("s")]), Ok(()));
    }

    #[test]
    fn empty_header_is_malformed() {
        for header in ["", "   "] {
            assert_eq!(
                verify(header, BODY, &[secret("s")]),
                Err(WebhookError::MalformedSignature("header is empty")),
                "{header:?}"
            );
        }
    }

    #[test]
    fn truncated_or_extended_digest_is_malformed() {
        let full = sign(&secret("s"), BODY);
        for header in [&full[..62], &full[..32], &format!("{full}00")] {
            assert_eq!(
                verify(header, BODY, &[secret("s")]),
                Err(WebhookError::MalformedSignature(
                    "signature is not a SHA-256 digest"
                )),
                "{header}"
            );
        }
    }

    #[test]
    fn non_hex_header_is_malformed() {
        for header in ["zz", "sha256=abcd", "t=1,v1=abc", &"g".repeat(64)] {
            assert_eq!(
                verify(header, BODY, &[secret("s")]),
                Err(WebhookError::MalformedSignature("signature is not hex")),
                "{header}"
            );
        }
    }

    #[test]
    fn malformed_header_is_reported_before_a_missing_secret() {
        // A garbage header is not Razorpay's whatever we hold.
        assert_eq!(
            verify("zz", BODY, &[]),
            Err(WebhookError::MalformedSignature("signature is not hex"))
        );
    }
}
