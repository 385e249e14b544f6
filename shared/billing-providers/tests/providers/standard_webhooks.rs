//! The Standard Webhooks scheme (`billing_providers::standard_webhooks`)
//! against the specification's published test vector, and every way a
//! receiver must refuse a delivery: tampering, wrong or rotated secrets,
//! empty, truncated and undecodable signatures, missing headers, and
//! timestamps just outside and exactly at the tolerance window.

use billing_domain::ports::{WebhookDelivery, WebhookError};
use billing_domain::secrets::WebhookSecret;
use billing_domain::UnixTime;
use billing_providers::standard_webhooks::{
    secret_key, sign, verify, InvalidSecret, VerifiedDelivery, DEFAULT_TOLERANCE_SECONDS,
};

// The specification's example (also Svix's library test vector).
const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const VECTOR_TIMESTAMP: i64 = 1_649_367_553;
const VECTOR_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
const VECTOR_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_dGhlIG90aGVyIHNlY3JldCBvZiB0aGlzIHRlc3Q=";
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid","created":1700000000,"data":{}}"#;
const NOW: UnixTime = UnixTime(1_700_000_000);

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s)
}

fn delivery(id: &str, timestamp: &str, signature: &str, body: &[u8]) -> WebhookDelivery {
    WebhookDelivery {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), timestamp.into()),
            ("webhook-signature".into(), signature.into()),
        ],
        body: body.to_vec(),
    }
}

/// A delivery signed with `secret_str` at `timestamp`.
fn signed(secret_str: &str, timestamp: i64, body: &[u8]) -> WebhookDelivery {
    let signature = sign(&secret(secret_str), ID, timestamp, body).unwrap();
    delivery(ID, &timestamp.to_string(), &signature, body)
}

fn check(delivery: &WebhookDelivery, secrets: &[&str]) -> Result<VerifiedDelivery, WebhookError> {
    let secrets: Vec<_> = secrets.iter().map(|s| secret(s)).collect();
    verify(delivery, &secrets, NOW, DEFAULT_TOLERANCE_SECONDS)
}

fn accepted(timestamp: i64) -> Result<VerifiedDelivery, WebhookError> {
    Ok(VerifiedDelivery {
        id: ID.into(),
        timestamp: UnixTime(timestamp),
    })
}

/// The base64 part of a correct signature for BODY at NOW under `secret_str`.
fn v1(secret_str: &str) -> String {
    sign(&secret(secret_str), ID, NOW.0, BODY)
        .unwrap()
        .strip_prefix("v1,")
        .unwrap()
        .to_owned()
}

// ---------- The published vector ----------

#[test]
fn signing_the_published_vector_gives_the_published_signature() {
    let signature = sign(
        &secret(VECTOR_SECRET),
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        VECTOR_BODY.as_bytes(),
    )
    .unwrap();
    assert_eq!(signature, VECTOR_SIGNATURE);
}

#[test]
fn published_vector_verifies() {
    let delivery = delivery(
        VECTOR_ID,
        &VECTOR_TIMESTAMP.to_string(),
        VECTOR_SIGNATURE,
        VECTOR_BODY.as_bytes(),
    );
    let verified = verify(
        &delivery,
        &[secret(VECTOR_SECRET)],
        UnixTime(VECTOR_TIMESTAMP + 10),
        DEFAULT_TOLERANCE_SECONDS,
    );
    assert_eq!(
        verified,
        Ok(VerifiedDelivery {
            id: VECTOR_ID.into(),
            timestamp: UnixTime(VECTOR_TIMESTAMP)
        })
    );
}

#[test]
fn key_is_the_base64_decoding_after_the_prefix() {
    assert_eq!(
        secret_key(&secret("whsec_c2VjcmV0")).unwrap(),
        b"secret".to_vec()
    );
}

// ---------- Authenticity ----------

#[test]
fn valid_signature_is_accepted() {
    assert_eq!(
        check(&signed(SECRET, NOW.0, BODY), &[SECRET]),
        accepted(NOW.0)
    );
}

#[test]
fn tampered_body_is_rejected() {
    let mut delivery = signed(SECRET, NOW.0, BODY);
    delivery.body =
        br#"{"id":"evt_1","type":"invoice.paid","created":1700000001,"data":{}}"#.to_vec();
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn signed_id_cannot_be_swapped() {
    let mut delivery = signed(SECRET, NOW.0, BODY);
    delivery.headers[1].1 = "msg_another".into();
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn signed_timestamp_cannot_be_swapped() {
    let signature = sign(&secret(SECRET), ID, NOW.0, BODY).unwrap();
    let delivery = delivery(ID, &(NOW.0 + 1).to_string(), &signature, BODY);
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn wrong_secret_is_rejected() {
    assert_eq!(
        check(&signed(OTHER_SECRET, NOW.0, BODY), &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn whole_whsec_string_as_key_is_not_the_scheme() {
    // Stripe keys its HMAC with the secret string itself; Standard Webhooks
    // decodes it. A signature made the Stripe way must not verify.
    let stripe_style = billing_providers::signing::hmac_sha256(
        SECRET.as_bytes(),
        &[
            ID.as_bytes(),
            b".",
            NOW.0.to_string().as_bytes(),
            b".",
            BODY,
        ],
    );
    use base64::Engine as _;
    let header = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(stripe_style)
    );
    let delivery = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

// ---------- Rotation and several signatures ----------

#[test]
fn second_configured_secret_is_accepted_during_rotation() {
    assert_eq!(
        check(&signed(SECRET, NOW.0, BODY), &[OTHER_SECRET, SECRET]),
        accepted(NOW.0)
    );
}

#[test]
fn second_signature_in_the_header_matching_is_enough() {
    let header = format!("v1,{} v1,{}", v1(OTHER_SECRET), v1(SECRET));
    let delivery = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(check(&delivery, &[SECRET]), accepted(NOW.0));
}

#[test]
fn several_signatures_where_none_matches_are_rejected() {
    let header = format!("v1,{} v1,{}", v1(OTHER_SECRET), v1(OTHER_SECRET));
    let delivery = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn non_v1_prefixes_are_ignored() {
    // A correct MAC labelled with another version does not count...
    let header = format!("v1a,{} v2,{}", v1(SECRET), v1(SECRET));
    let only_others = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(
        check(&only_others, &[SECRET]),
        Err(WebhookError::MalformedSignature("no v1 signature"))
    );
    // ...and does not get in the way of a v1 next to it.
    let header = format!("v1a,AAAA v1,{} v2,zz", v1(SECRET));
    let mixed = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(check(&mixed, &[SECRET]), accepted(NOW.0));
}

// ---------- Malformed signatures ----------

#[test]
fn empty_v1_is_rejected() {
    let delivery = delivery(ID, &NOW.0.to_string(), "v1,", BODY);
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn empty_v1_next_to_a_wrong_one_is_rejected() {
    let header = format!("v1, v1,{}", v1(OTHER_SECRET));
    let delivery = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn truncated_signature_is_rejected() {
    use base64::Engine as _;
    let full = base64::engine::general_purpose::STANDARD
        .decode(v1(SECRET))
        .unwrap();
    for cut in [1, 16, 31] {
        let truncated = base64::engine::general_purpose::STANDARD.encode(&full[..cut]);
        let delivery = delivery(ID, &NOW.0.to_string(), &format!("v1,{truncated}"), BODY);
        assert_eq!(
            check(&delivery, &[SECRET]),
            Err(WebhookError::InvalidSignature),
            "first {cut} bytes"
        );
    }
    // Cut in the base64 text itself, too.
    let text = v1(SECRET);
    let delivery = delivery(ID, &NOW.0.to_string(), &format!("v1,{}", &text[..20]), BODY);
    assert_eq!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn non_base64_signature_is_rejected_without_hiding_a_valid_one() {
    let bad = delivery(ID, &NOW.0.to_string(), "v1,***not-base64***", BODY);
    assert_eq!(check(&bad, &[SECRET]), Err(WebhookError::InvalidSignature));
    let header = format!("v1,***not-base64*** v1,{}", v1(SECRET));
    let mixed = delivery(ID, &NOW.0.to_string(), &header, BODY);
    assert_eq!(check(&mixed, &[SECRET]), accepted(NOW.0));
}

#[test]
fn empty_or_unversioned_signature_header_is_malformed() {
    for header in ["", "   ", "garbage", "v1", &v1(SECRET)] {
        let delivery = delivery(ID, &NOW.0.to_string(), header, BODY);
        assert!(
            matches!(
                check(&delivery, &[SECRET]),
                Err(WebhookError::MalformedSignature(_))
            ),
            "{header:?}"
        );
    }
}

// ---------- Headers ----------

#[test]
fn each_missing_header_is_named() {
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut delivery = signed(SECRET, NOW.0, BODY);
        delivery.headers.retain(|(n, _)| n != name);
        assert_eq!(
            check(&delivery, &[SECRET]),
            Err(WebhookError::MissingSignature(name)),
            "{name}"
        );
    }
}

#[test]
fn header_names_match_case_insensitively() {
    let mut delivery = signed(SECRET, NOW.0, BODY);
    for (name, _) in &mut delivery.headers {
        *name = name.to_ascii_uppercase();
    }
    assert_eq!(check(&delivery, &[SECRET]), accepted(NOW.0));
}

#[test]
fn empty_id_is_malformed() {
    let signature = sign(&secret(SECRET), "", NOW.0, BODY).unwrap();
    let delivery = delivery("", &NOW.0.to_string(), &signature, BODY);
    assert!(matches!(
        check(&delivery, &[SECRET]),
        Err(WebhookError::MalformedSignature(_))
    ));
}

#[test]
fn non_numeric_timestamp_is_malformed() {
    for timestamp in [
        "abc",
        "",
        "+1700000000",
        "-5",
        "1.5",
        "99999999999999999999999",
    ] {
        let delivery = delivery(ID, timestamp, &format!("v1,{}", v1(SECRET)), BODY);
        assert!(
            matches!(
                check(&delivery, &[SECRET]),
                Err(WebhookError::MalformedSignature(_))
            ),
            "{timestamp:?}"
        );
    }
}

// ---------- Time window ----------

#[test]
fn timestamp_just_past_the_window_is_too_old() {
    assert_eq!(
        check(&signed(SECRET, NOW.0 - 301, BODY), &[SECRET]),
        Err(WebhookError::TimestampTooOld)
    );
}

#[test]
fn timestamp_just_past_the_window_is_in_the_future() {
    assert_eq!(
        check(&signed(SECRET, NOW.0 + 301, BODY), &[SECRET]),
        Err(WebhookError::TimestampInFuture)
    );
}

#[test]
fn timestamps_exactly_at_the_edge_are_accepted() {
    for offset in [-300, 300] {
        assert_eq!(
            check(&signed(SECRET, NOW.0 + offset, BODY), &[SECRET]),
            accepted(NOW.0 + offset),
            "offset {offset}"
        );
    }
}

#[test]
fn forged_stale_delivery_is_a_bad_signature_not_a_stale_one() {
    assert_eq!(
        check(&signed(OTHER_SECRET, NOW.0 - 3_600, BODY), &[SECRET]),
        Err(WebhookError::InvalidSignature)
    );
}

#[test]
fn tolerance_is_configurable() {
    let delivery = signed(SECRET, NOW.0 - 60, BODY);
    assert_eq!(
        verify(&delivery, &[secret(SECRET)], NOW, 30),
        Err(WebhookError::TimestampTooOld)
    );
}

// ---------- Secrets ----------

#[test]
fn no_configured_secret_is_reported_as_such() {
    assert_eq!(
        check(&signed(SECRET, NOW.0, BODY), &[]),
        Err(WebhookError::NoSecretConfigured)
    );
}

#[test]
fn invalid_configured_secret_is_skipped_not_a_panic() {
    // Next to a good one it changes nothing...
    assert_eq!(
        check(
            &signed(SECRET, NOW.0, BODY),
            &["not-a-whsec", "whsec_!!!", SECRET]
        ),
        accepted(NOW.0)
    );
    // ...and alone it reads as a missing secret, a configuration problem.
    assert_eq!(
        check(&signed(SECRET, NOW.0, BODY), &["not-a-whsec", "whsec_"]),
        Err(WebhookError::NoSecretConfigured)
    );
}

#[test]
fn signing_with_an_invalid_secret_is_an_error() {
    for bad in ["plain", "whsec_", "whsec_%%%"] {
        assert_eq!(
            sign(&secret(bad), ID, NOW.0, BODY),
            Err(InvalidSecret),
            "{bad}"
        );
    }
}

#[test]
fn project_dev_secret_is_usable() {
    let dev = "whsec_c2FuZGJveC1sb2NhbC1kZXZlbG9wbWVudC1vbmx5LW5vdC1hLXNlY3JldA==";
    assert_eq!(check(&signed(dev, NOW.0, BODY), &[dev]), accepted(NOW.0));
}
