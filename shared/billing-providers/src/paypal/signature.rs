//! PayPal webhook signature verification by postback: the five
//! `PAYPAL-*` transmission headers, a local check of the transmission time,
//! then `POST /v1/notifications/verify-webhook-signature` with the headers,
//! our webhook id and the delivery's raw body, which PayPal answers with
//! `{"verification_status": "SUCCESS" | "FAILURE"}`.
//! <https://developer.paypal.com/api/webhooks/v1/verify-webhook-signature-post>,
//! <https://developer.paypal.com/api/rest/webhooks/rest/>
//!
//! The raw body goes into the request as `webhook_event` byte for byte:
//! PayPal signed the bytes it sent (its signature covers a CRC32 of them),
//! and decoding then re-encoding the JSON can change them (key order, `\/`
//! escapes, number spelling). The request text is therefore written by hand
//! around the untouched body, after checking that the body is exactly one
//! JSON object, so nothing in it can add or override a field of our request
//! (a body ending in `}, "webhook_id": "theirs"` would otherwise have PayPal
//! check the signature against an attacker's own webhook).

use crate::signing::check_timestamp_window;
use billing_domain::ports::{WebhookDelivery, WebhookError};
use billing_domain::UnixTime;
use serde::Deserialize;

use super::formats::parse_rfc3339;

pub const TRANSMISSION_ID_HEADER: &str = "PAYPAL-TRANSMISSION-ID";
pub const TRANSMISSION_TIME_HEADER: &str = "PAYPAL-TRANSMISSION-TIME";
pub const TRANSMISSION_SIG_HEADER: &str = "PAYPAL-TRANSMISSION-SIG";
pub const CERT_URL_HEADER: &str = "PAYPAL-CERT-URL";
pub const AUTH_ALGO_HEADER: &str = "PAYPAL-AUTH-ALGO";

/// The verify endpoint's path, below the API base URL.
pub const VERIFY_PATH: &str = "/v1/notifications/verify-webhook-signature";

/// How far the transmission time may be from our clock, either way.
/// `PAYPAL-TRANSMISSION-TIME` is, in PayPal's words, "the date and time of
/// the HTTP transmission", so each retry carries its own; five minutes (what
/// Stripe's libraries allow) refuses replays of a captured delivery.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// The transmission headers of one delivery, checked against the shapes the
/// verify endpoint accepts (its request schema's patterns and lengths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransmissionHeaders {
    pub transmission_id: String,
    pub transmission_time: String,
    pub transmission_sig: String,
    pub cert_url: String,
    pub auth_algo: String,
}

impl TransmissionHeaders {
    pub fn from_delivery(delivery: &WebhookDelivery) -> Result<Self, WebhookError> {
        let read = |name: &'static str, max_len: usize| {
            let value = delivery
                .header(name)
                .ok_or(WebhookError::MissingSignature(name))?
                .trim();
            if value.is_empty() || value.len() > max_len {
                return Err(WebhookError::MalformedSignature(
                    "a PAYPAL-* header is empty or too long",
                ));
            }
            Ok(value.to_owned())
        };
        let headers = Self {
            transmission_id: read(TRANSMISSION_ID_HEADER, 50)?,
            transmission_time: read(TRANSMISSION_TIME_HEADER, 100)?,
            transmission_sig: read(TRANSMISSION_SIG_HEADER, 500)?,
            cert_url: read(CERT_URL_HEADER, 500)?,
            auth_algo: read(AUTH_ALGO_HEADER, 100)?,
        };
        if !headers.auth_algo.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return Err(WebhookError::MalformedSignature(
                "PAYPAL-AUTH-ALGO is not an algorithm name",
            ));
        }
        if !is_paypal_certificate_url(&headers.cert_url) {
            return Err(WebhookError::MalformedSignature(
                "PAYPAL-CERT-URL is not a PayPal HTTPS address",
            ));
        }
        Ok(headers)
    }

    /// Refuses a transmission stamped more than `tolerance_seconds` from
    /// `now`, before anything is sent to PayPal: a replayed delivery costs
    /// no API call.
    pub fn check_transmission_time(
        &self,
        now: UnixTime,
        tolerance_seconds: i64,
    ) -> Result<(), WebhookError> {
        let sent_at = parse_rfc3339(&self.transmission_time).ok_or(
            WebhookError::MalformedSignature("PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time"),
        )?;
        check_timestamp_window(sent_at, now, tolerance_seconds)
    }
}

/// PayPal's signing certificates are served from PayPal hosts over HTTPS
/// (`https://api.paypal.com/v1/notifications/certs/CERT-...`). PayPal
/// fetches the certificate itself during the postback; refusing any other
/// address first means a forged delivery can never point a verifier, ours or
/// PayPal's, at a certificate of the forger's choosing.
pub fn is_paypal_certificate_url(cert_url: &str) -> bool {
    let Ok(url) = url::Url::parse(cert_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && (host == "paypal.com" || host.ends_with(".paypal.com"))
}

/// The verify request's JSON text, with `body` spliced in unchanged as
/// `webhook_event`. Refused as an invalid signature when `body` is not
/// exactly one JSON object: PayPal signs only such bodies, so no other body
/// can be authentic, and splicing it would let it rewrite our request.
pub fn verification_request_body(
    headers: &TransmissionHeaders,
    webhook_id: &str,
    body: &[u8],
) -> Result<Vec<u8>, WebhookError> {
    if !is_one_json_object(body) {
        return Err(WebhookError::InvalidSignature);
    }
    let fields = [
        ("auth_algo", headers.auth_algo.as_str()),
        ("cert_url", headers.cert_url.as_str()),
        ("transmission_id", headers.transmission_id.as_str()),
        ("transmission_sig", headers.transmission_sig.as_str()),
        ("transmission_time", headers.transmission_time.as_str()),
        ("webhook_id", webhook_id),
    ];
    let mut text = Vec::with_capacity(body.len() + 1_024);
    text.push(b'{');
    for (name, value) in fields {
        // Header values are quoted by serde_json, so they cannot break out
        // of their string either.
        let quoted = serde_json::to_string(value)
            .map_err(|_| WebhookError::MalformedSignature("a PAYPAL-* header is not text"))?;
        text.extend_from_slice(format!("\"{name}\":{quoted},").as_bytes());
    }
    text.extend_from_slice(b"\"webhook_event\":");
    text.extend_from_slice(body);
    text.push(b'}');
    Ok(text)
}

/// Exactly one JSON value, an object, with nothing but whitespace around
/// it. `IgnoredAny` checks the syntax without building anything.
fn is_one_json_object(body: &[u8]) -> bool {
    let starts_as_object = body
        .iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|c| *c == b'{');
    starts_as_object && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// Why PayPal did not vouch for a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostbackFailure {
    /// PayPal answered, and not with `SUCCESS`.
    NotVerified,
    /// PayPal refused our token (401/403): the cached token may be revoked
    /// or our app credentials changed.
    Unauthorized,
    /// PayPal refused the request itself (other 4xx), e.g. a header value
    /// outside its schema; `code` is its `name` or first `issue`.
    Refused { status: u16, code: Option<String> },
    /// Timeout, connection failure, 5xx or an unreadable answer: nothing is
    /// known about the signature, and PayPal's redelivery may succeed.
    Unavailable(String),
}

/// Sends the verify request. It holds its own HTTP client because the
/// shared `ApiRequest` has no way to send a JSON body that was not encoded
/// by serde (see the module docs); the client is `ApiClient`'s own:
/// timeouts, no redirects. Not retried here: a failed check
/// answers the delivery with an error and PayPal redelivers it.
#[derive(Debug, Clone)]
pub struct VerifyEndpoint {
    http: reqwest::Client,
}

impl VerifyEndpoint {
    /// `http` is the function's shared client (`ApiClient::http_client`):
    /// its timeouts bound the verify call too.
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Posts `request_body` (from [`verification_request_body`]) to the verify
    /// endpoint under `base_url`.
    pub async fn confirm(
        &self,
        base_url: &str,
        bearer_token: &str,
        request_body: Vec<u8>,
    ) -> Result<(), PostbackFailure> {
        let response = self
            .http
            .post(format!("{base_url}{VERIFY_PATH}"))
            .bearer_auth(bearer_token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(request_body)
            .send()
            .await
            // reqwest's messages carry the URL; only the kind is kept.
            .map_err(|e| PostbackFailure::Unavailable(transport_problem(&e).into()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| PostbackFailure::Unavailable(transport_problem(&e).into()))?;
        match status {
            200..=299 => match serde_json::from_slice::<VerifyResponse>(&body) {
                Ok(answer) if answer.verification_status == "SUCCESS" => Ok(()),
                Ok(_) => Err(PostbackFailure::NotVerified),
                Err(_) => Err(PostbackFailure::Unavailable(format!(
                    "HTTP {status} answer is not a verification status"
                ))),
            },
            401 | 403 => Err(PostbackFailure::Unauthorized),
            429 => Err(PostbackFailure::Unavailable("HTTP 429".into())),
            400..=499 => Err(PostbackFailure::Refused {
                status,
                code: error_code(&body),
            }),
            _ => Err(PostbackFailure::Unavailable(format!("HTTP {status}"))),
        }
    }
}

fn transport_problem(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "network error"
    }
}

#[derive(Deserialize)]
struct VerifyResponse {
    verification_status: String,
}

/// PayPal's error body: `{"name", "message", "debug_id", "details": [{"issue",
/// "description"}]}`; the first `issue` is the most precise code.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        name: Option<String>,
        #[serde(default)]
        details: Vec<ErrorDetail>,
    }
    #[derive(Deserialize)]
    struct ErrorDetail {
        issue: Option<String>,
    }
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    parsed
        .details
        .into_iter()
        .find_map(|d| d.issue)
        .or(parsed.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(headers: &[(&str, &str)]) -> WebhookDelivery {
        WebhookDelivery {
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            body: b"{}".to_vec(),
        }
    }

    const GOOD: [(&str, &str); 5] = [
        (
            TRANSMISSION_ID_HEADER,
            "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        ),
        (TRANSMISSION_TIME_HEADER, "2016-02-18T20:01:35Z"),
        (TRANSMISSION_SIG_HEADER, "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy/UFzUlnGJn0wDugt7FlSvdKeIJenLRemUxYCPVoEZzg9VFNqOa48gMkvF+XTpxBeUx/kWy6B5cp7GkT2+pOowfRK7OaynuxUoKW3JcMWw272VKjLTtTAShncla7tGF+55rxyt2KNZIIqxNMJ48RDZheGU5w1npu9dZHnPgTXB9iomeVRoD8O/jhRpnKsGrDschyNdkeh81BJJMH4Ctc6lnCCquoP/GzCzz33MMsNdid7vL/NIWaCsekQpW26FpWPi/tfj8nLA==",
        ),
        (
            CERT_URL_HEADER,
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-5edc0ebc",
        ),
        (AUTH_ALGO_HEADER, "SHA256withRSA"),
    ];

    #[test]
    fn documented_headers_parse() {
        let headers = TransmissionHeaders::from_delivery(&delivery(&GOOD)).unwrap();
        assert_eq!(headers.auth_algo, "SHA256withRSA");
        assert_eq!(headers.transmission_time, "2016-02-18T20:01:35Z");
    }

    #[test]
    fn each_missing_header_is_named() {
        for missing in GOOD.map(|(name, _)| name) {
            let partial: Vec<_> = GOOD
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            assert_eq!(
                TransmissionHeaders::from_delivery(&delivery(&partial)),
                Err(WebhookError::MissingSignature(missing))
            );
        }
    }

    #[test]
    fn certificate_urls_outside_paypal_are_refused() {
        for url in [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.example/certs/CERT-1",
            "https://evilpaypal.com/certs/CERT-1",
            "https://user@api.paypal.com/certs/CERT-1",
            "https://api.paypal.com:8443/certs/CERT-1",
            "not a url",
        ] {
            assert!(!is_paypal_certificate_url(url), "{url}");
        }
        assert!(is_paypal_certificate_url(
            "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
        ));
    }

    #[test]
    fn bad_algorithm_names_and_oversized_headers_are_malformed() {
        let mut headers = GOOD.to_vec();
        headers[4] = (AUTH_ALGO_HEADER, "SHA256 with RSA");
        assert!(matches!(
            TransmissionHeaders::from_delivery(&delivery(&headers)),
            Err(WebhookError::MalformedSignature(_))
        ));
        let long_id = "a".repeat(51);
        let mut headers = GOOD.to_vec();
        headers[0] = (TRANSMISSION_ID_HEADER, &long_id);
        assert!(matches!(
            TransmissionHeaders::from_delivery(&delivery(&headers)),
            Err(WebhookError::MalformedSignature(_))
        ));
    }

    #[test]
    fn transmission_time_window_is_enforced_both_ways() {
        let headers = TransmissionHeaders::from_delivery(&delivery(&GOOD)).unwrap();
        let sent = UnixTime(1_455_825_695);
        assert!(headers
            .check_transmission_time(sent.plus_seconds(300), 300)
            .is_ok());
        assert!(headers
            .check_transmission_time(sent.plus_seconds(-300), 300)
            .is_ok());
        assert_eq!(
            headers.check_transmission_time(sent.plus_seconds(301), 300),
            Err(WebhookError::TimestampTooOld)
        );
        assert_eq!(
            headers.check_transmission_time(sent.plus_seconds(-301), 300),
            Err(WebhookError::TimestampInFuture)
        );
        let mut unparsable = headers;
        unparsable.transmission_time = "1455825695".into();
        assert!(matches!(
            unparsable.check_transmission_time(sent, 300),
            Err(WebhookError::MalformedSignature(_))
        ));
    }

    #[test]
    fn request_body_embeds_the_event_byte_for_byte() {
        let headers = TransmissionHeaders::from_delivery(&delivery(&GOOD)).unwrap();
        // Escaped slashes, key order and number spelling that a decode and
        // re-encode would all change.
        let event = br#"{"z":1.50,"id":"WH-1","href":"https:\/\/api.paypal.com","a":1e2}"#;
        let text = verification_request_body(&headers, "WEBHOOK1", event).unwrap();
        assert!(text.ends_with(&[b"\"webhook_event\":".as_slice(), event, b"}"].concat()));
        let parsed: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(parsed["webhook_id"], "WEBHOOK1");
        assert_eq!(parsed["auth_algo"], "SHA256withRSA");
        assert_eq!(parsed["transmission_time"], "2016-02-18T20:01:35Z");
        assert_eq!(parsed["webhook_event"]["id"], "WH-1");
    }

    #[test]
    fn bodies_that_are_not_one_json_object_are_never_spliced() {
        let headers = TransmissionHeaders::from_delivery(&delivery(&GOOD)).unwrap();
        for body in [
            br#"{"id":"WH-1"},"webhook_id":"ATTACKER""#.as_slice(),
            br#"{"id":"WH-1"}{"id":"WH-2"}"#,
            br#"["not","an","object"]"#,
            br#"{"id":"WH-1""#,
            b"",
        ] {
            assert_eq!(
                verification_request_body(&headers, "WEBHOOK1", body),
                Err(WebhookError::InvalidSignature),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn error_code_prefers_the_first_issue() {
        let body = br#"{"name":"INVALID_REQUEST","message":"m","details":[{"issue":"INVALID_STRING_MAX_LENGTH","description":"d"}]}"#;
        assert_eq!(
            error_code(body).as_deref(),
            Some("INVALID_STRING_MAX_LENGTH")
        );
        assert_eq!(
            error_code(br#"{"name":"RESOURCE_NOT_FOUND"}"#).as_deref(),
            Some("RESOURCE_NOT_FOUND")
        );
        assert_eq!(error_code(b"<html>"), None);
    }
}
