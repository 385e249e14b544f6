//! Cashfree's wire format, as far as we read it: the webhook shapes of both
//! webhook versions (2023-08-01 and 2025-01-01), its subscription statuses
//! and event names, and the three text formats it needs decoding exactly:
//! decimal amounts (`170.00`), IST timestamps, and our own subscription ids.
//!
//! Cashfree sends amounts as JSON numbers with two decimals. serde_json
//! would read them as `f64`; instead, once the signature has been checked,
//! [`numbers_as_strings`] rewrites every number token of the body into a
//! string holding the very same text, and [`minor_units`] turns `"170.00"`
//! into `17000` by reading the digits. No float is ever involved.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use billing_domain::{TenantId, UnixTime};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use time::UtcOffset;

// ---------- Event names ----------

/// The webhook `type`s we act on; every other signed type is acknowledged
/// as `EventKind::Unknown`.
/// <https://www.cashfree.com/docs/api-reference/payments/latest/subscription/webhooks>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashfreeEventType {
    /// `SUBSCRIPTION_STATUS_CHANGED` (2025-01-01) or
    /// `SUBSCRIPTION_STATUS_CHANGE` (2023-08-01): the same event, renamed.
    StatusChanged,
    /// The mandate authorization's outcome.
    AuthStatus,
    PaymentSuccess,
    PaymentFailed,
}

impl CashfreeEventType {
    pub fn parse(event_type: &str) -> Option<Self> {
        match event_type {
            "SUBSCRIPTION_STATUS_CHANGED" | "SUBSCRIPTION_STATUS_CHANGE" => {
                Some(CashfreeEventType::StatusChanged)
            }
            "SUBSCRIPTION_AUTH_STATUS" => Some(CashfreeEventType::AuthStatus),
            "SUBSCRIPTION_PAYMENT_SUCCESS" => Some(CashfreeEventType::PaymentSuccess),
            "SUBSCRIPTION_PAYMENT_FAILED" => Some(CashfreeEventType::PaymentFailed),
            _ => None,
        }
    }
}

// ---------- Subscription statuses ----------

/// Every subscription status Cashfree documents (Subscription lifecycle,
/// <https://www.cashfree.com/docs/payments/subscription/create#subscription-lifecycle>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashfreeStatus {
    Initialized,
    BankApprovalPending,
    Active,
    OnHold,
    Paused,
    CustomerPaused,
    Cancelled,
    CustomerCancelled,
    Completed,
    Expired,
    LinkExpired,
    CardExpired,
}

impl CashfreeStatus {
    pub const ALL: [CashfreeStatus; 12] = [
        CashfreeStatus::Initialized,
        CashfreeStatus::BankApprovalPending,
        CashfreeStatus::Active,
        CashfreeStatus::OnHold,
        CashfreeStatus::Paused,
        CashfreeStatus::CustomerPaused,
        CashfreeStatus::Cancelled,
        CashfreeStatus::CustomerCancelled,
        CashfreeStatus::Completed,
        CashfreeStatus::Expired,
        CashfreeStatus::LinkExpired,
        CashfreeStatus::CardExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CashfreeStatus::Initialized => "INITIALIZED",
            CashfreeStatus::BankApprovalPending => "BANK_APPROVAL_PENDING",
            CashfreeStatus::Active => "ACTIVE",
            CashfreeStatus::OnHold => "ON_HOLD",
            CashfreeStatus::Paused => "PAUSED",
            CashfreeStatus::CustomerPaused => "CUSTOMER_PAUSED",
            CashfreeStatus::Cancelled => "CANCELLED",
            CashfreeStatus::CustomerCancelled => "CUSTOMER_CANCELLED",
            CashfreeStatus::Completed => "COMPLETED",
            CashfreeStatus::Expired => "EXPIRED",
            CashfreeStatus::LinkExpired => "LINK_EXPIRED",
            CashfreeStatus::CardExpired => "CARD_EXPIRED",
        }
    }

    pub fn parse(status: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == status)
    }
}

// ---------- Webhook shapes (after `numbers_as_strings`) ----------

/// Tags we set on the subscription (`tenant_id`, `plan`); Cashfree echoes
/// them in 2025-01-01 status events.
pub type Tags = BTreeMap<String, serde_json::Value>;

/// Every delivery: `{"data": {...}, "event_time": "...", "type": "..."}`.
#[derive(Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub event_type: String,
    pub event_time: Option<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `data` of a status change (both versions).
#[derive(Deserialize)]
pub struct StatusChangeData {
    pub subscription_details: SubscriptionDetails,
    pub plan_details: Option<PlanDetails>,
}

#[derive(Deserialize)]
pub struct SubscriptionDetails {
    pub subscription_id: String,
    pub subscription_status: String,
    /// 2025-01-01 only.
    pub subscription_tags: Option<Tags>,
    /// 2025-01-01 only; `null` for on-demand plans.
    pub next_schedule_date: Option<String>,
}

#[derive(Deserialize)]
pub struct PlanDetails {
    pub plan_id: Option<String>,
}

/// `data` of the authorization and payment events: Cashfree's subscription
/// payment entity, flat (`SubscriptionPaymentEntity` in Cashfree's
/// OpenAPI-generated SDKs, e.g. cashfree/cashfree-pg `docs/SubscriptionPaymentEntity.md`).
#[derive(Deserialize)]
pub struct PaymentData {
    pub subscription_id: Option<String>,
    /// Some deliveries nest the subscription instead.
    pub subscription_details: Option<PaymentSubscriptionDetails>,
    pub payment_id: Option<String>,
    pub cf_payment_id: Option<String>,
    /// `AUTH` (the mandate authorization) or `CHARGE` (a recurring debit).
    pub payment_type: Option<String>,
    pub payment_status: Option<String>,
    pub payment_amount: Option<String>,
    pub payment_currency: Option<String>,
    pub payment_schedule_date: Option<String>,
    pub payment_initiated_date: Option<String>,
    pub retry_attempts: Option<String>,
    pub authorization_details: Option<AuthorizationDetails>,
}

#[derive(Deserialize)]
pub struct PaymentSubscriptionDetails {
    pub subscription_id: Option<String>,
    pub subscription_tags: Option<Tags>,
}

#[derive(Deserialize)]
pub struct AuthorizationDetails {
    /// 2023-08-01 samples spell it `authorizationStatus`.
    #[serde(alias = "authorizationStatus")]
    pub authorization_status: Option<String>,
}

impl PaymentData {
    pub fn subscription_id(&self) -> Option<&str> {
        self.subscription_id
            .as_deref()
            .or_else(|| {
                self.subscription_details
                    .as_ref()
                    .and_then(|d| d.subscription_id.as_deref())
            })
            .filter(|id| !id.is_empty())
    }

    pub fn tags(&self) -> Option<&Tags> {
        self.subscription_details
            .as_ref()
            .and_then(|d| d.subscription_tags.as_ref())
    }

    pub fn is_authorization(&self) -> bool {
        self.payment_type.as_deref() == Some("AUTH")
    }

    /// The mandate was authorized: the payment succeeded, or the
    /// authorization reports `ACTIVE`/`SUCCESS`.
    pub fn authorized(&self) -> bool {
        let auth_status = self
            .authorization_details
            .as_ref()
            .and_then(|a| a.authorization_status.as_deref());
        self.payment_status.as_deref() == Some("SUCCESS")
            || matches!(auth_status, Some("ACTIVE" | "SUCCESS"))
    }
}

/// A tag's text, whatever JSON type it arrived as.
pub fn tag<'a>(tags: Option<&'a Tags>, name: &str) -> Option<&'a str> {
    tags?.get(name)?.as_str().filter(|v| !v.is_empty())
}

// ---------- Exact decoding ----------

/// The same JSON with every number token turned into a string of the very
/// same text (`170.00` → `"170.00"`), so amounts and ids can be read
/// exactly. Only ever applied to a body whose signature was verified on the
/// original bytes; an invalid body stays invalid for the parser to report.
pub fn numbers_as_strings(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 64);
    let mut i = 0;
    let mut in_string = false;
    while let Some(&byte) = json.get(i) {
        if in_string {
            out.push(byte);
            match byte {
                // The escaped byte is copied as is, so `\"` never ends the string.
                b'\\' => {
                    if let Some(&escaped) = json.get(i + 1) {
                        out.push(escaped);
                        i += 1;
                    }
                }
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
        } else if byte == b'"' {
            in_string = true;
            out.push(byte);
            i += 1;
        } else if byte == b'-' || byte.is_ascii_digit() {
            // Outside strings only numbers contain these bytes (JSON's
            // literals are `true`, `false` and `null`).
            let start = i;
            while json
                .get(i)
                .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            {
                i += 1;
            }
            out.push(b'"');
            out.extend_from_slice(&json[start..i]);
            out.push(b'"');
        } else {
            out.push(byte);
            i += 1;
        }
    }
    out
}

/// A decimal amount as Cashfree sends it (`170.00`, `1.8`, `100`) in minor
/// units (paise): `17000`, `180`, `10000`. Cashfree's subscription
/// currencies have two decimals. `None` for anything else: exponents,
/// a `+` sign, a third non-zero decimal, or an overflow.
pub fn minor_units(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if digits.contains('.') && fraction.is_empty() {
        return None;
    }
    // Decimals beyond the second must be zeros: nothing smaller than a paisa.
    let (cents, rest) = fraction.split_at(fraction.len().min(2));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let cents: i64 = format!("{cents:0<2}").parse().ok()?;
    let value = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)?;
    Some(if negative { -value } else { value })
}

/// India Standard Time, UTC+05:30: Cashfree "stores timestamps in IST" and
/// sends some without an offset (`"2055-08-07T10:30:46"`).
const IST_OFFSET_SECONDS: i32 = 5 * 3600 + 30 * 60;

/// A Cashfree timestamp: `YYYY-MM-DD`, optionally followed by `T` (or a
/// space) and `HH:MM:SS`, optional fractional seconds, and an optional `Z`
/// or `±HH:MM` offset; without an offset it is IST. `None` when the text is
/// none of these.
pub fn parse_time(text: &str) -> Option<UnixTime> {
    let ist = UtcOffset::from_whole_seconds(IST_OFFSET_SECONDS).ok()?;
    crate::timestamps::seconds_at_default_offset(text, ist).map(UnixTime)
}

// ---------- Our subscription ids ----------

const SUBSCRIPTION_ID_PREFIX: &str = "sub-";

/// The `subscription_id` we create a checkout's subscription under:
/// `sub-<tenant, base64url>.<first 16 bytes of SHA-256(idempotency key), hex>`.
///
/// The same checkout request (same idempotency key) always gives the same
/// id, so a retried call cannot create a second subscription: Cashfree
/// refuses a duplicate id. The tenant travels inside the id because payment
/// webhooks carry no tags: any event names its subscription, so it can be
/// routed to its tenant even when it arrives before the first status event.
/// Every character is one Cashfree allows in an id (letters, digits, `-`,
/// `_`, `.`), and a 128-character tenant still gives under its 250 limit.
pub fn subscription_id_for(tenant: &TenantId, idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!(
        "{SUBSCRIPTION_ID_PREFIX}{}.{}",
        URL_SAFE_NO_PAD.encode(tenant.as_str()),
        hex::encode(&digest[..16])
    )
}

/// The tenant inside an id made by [`subscription_id_for`]; `None` for any
/// other id (a subscription created in Cashfree's dashboard, say).
pub fn tenant_in_subscription_id(subscription_id: &str) -> Option<TenantId> {
    let rest = subscription_id.strip_prefix(SUBSCRIPTION_ID_PREFIX)?;
    let (encoded, _digest) = rest.rsplit_once('.')?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    TenantId::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_strings_of_the_same_text() {
        let json = br#"{"a":170.00,"b":-1.5e3,"c":[0,12],"d":"x1.0","e":true,"f":null}"#;
        assert_eq!(
            String::from_utf8(numbers_as_strings(json)).unwrap(),
            r#"{"a":"170.00","b":"-1.5e3","c":["0","12"],"d":"x1.0","e":true,"f":null}"#
        );
    }

    #[test]
    fn digits_inside_strings_and_after_escaped_quotes_are_left_alone() {
        let json = br#"{"k":"a\"1.0\\","n":2.50}"#;
        assert_eq!(
            String::from_utf8(numbers_as_strings(json)).unwrap(),
            r#"{"k":"a\"1.0\\","n":"2.50"}"#
        );
    }

    #[test]
    fn decimal_amounts_convert_exactly_to_minor_units() {
        for (text, expected) in [
            ("170.00", 17000),
            ("170", 17000),
            ("1.8", 180),
            ("0.01", 1),
            ("399.990", 39999),
            ("-2.50", -250),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(minor_units(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn amounts_that_are_not_plain_two_decimal_numbers_are_refused() {
        for text in [
            "",
            "1.",
            ".5",
            "1.005",
            "1e3",
            "+1",
            "1,00",
            "abc",
            "--1",
            "92233720368547758.08",
        ] {
            assert_eq!(minor_units(text), None, "{text}");
        }
    }

    #[test]
    fn cashfree_times_without_an_offset_are_ist() {
        // The forms themselves are tested in crate::timestamps; here, that
        // Cashfree's default offset is India's.
        assert_eq!(
            parse_time("2055-08-07T10:30:46"),
            Some(UnixTime(2_701_227_646))
        );
        assert_eq!(
            parse_time("2026-01-01"),
            Some(UnixTime(1_767_225_600 - i64::from(IST_OFFSET_SECONDS)))
        );
        assert_eq!(parse_time("2023-08-01X11:16:10Z"), None);
    }

    #[test]
    fn subscription_id_is_stable_per_request_and_carries_the_tenant() {
        let tenant = TenantId::parse("org:acme@eu").unwrap();
        let id = subscription_id_for(&tenant, "checkout:1");
        assert_eq!(id, subscription_id_for(&tenant, "checkout:1"));
        assert_ne!(id, subscription_id_for(&tenant, "checkout:2"));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
        assert_eq!(tenant_in_subscription_id(&id), Some(tenant));
    }

    #[test]
    fn longest_tenant_still_fits_cashfree_id_limit() {
        let tenant = TenantId::parse(&"a".repeat(128)).unwrap();
        assert!(subscription_id_for(&tenant, "k").len() <= 250);
    }

    #[test]
    fn foreign_subscription_ids_name_no_tenant() {
        for id in ["Demo_Subscription", "sub-", "sub-!!.00", "sub-b3Jn"] {
            assert_eq!(tenant_in_subscription_id(id), None, "{id}");
        }
    }

    #[test]
    fn both_spellings_of_the_status_event_are_one_type() {
        assert_eq!(
            CashfreeEventType::parse("SUBSCRIPTION_STATUS_CHANGE"),
            CashfreeEventType::parse("SUBSCRIPTION_STATUS_CHANGED")
        );
        assert_eq!(
            CashfreeEventType::parse("SUBSCRIPTION_PAYMENT_NOTIFICATION_INITIATED"),
            None
        );
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in CashfreeStatus::ALL {
            assert_eq!(CashfreeStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CashfreeStatus::parse("active"), None);
    }
}
