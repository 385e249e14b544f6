//! Cashfree webhooks end to end through `CashfreeWebhooks`: signed raw
//! bytes (and why they must stay raw: `170.00`), both webhook versions'
//! shapes normalized, the dedupe key, the tenant routing, and payloads
//! that do not fit.

use crate::catalog;
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    apply_event, EventKind, Money, PlanCode, ProviderEvent, SnapshotChange, Subscription,
    SubscriptionStatus, TenantId, Transition, UnixTime,
};
use billing_providers::cashfree::signed_delivery;
use billing_providers::CashfreeWebhooks;

const CLIENT_SECRET: &str = "cfsk_ma_test_events_0123456789";
/// 2026-01-01T00:00:00Z.
const NOW: UnixTime = UnixTime(1_767_225_600);
const SUBSCRIPTION: &str = "sub-b3JnX2NvbmZvcm1hbmNl.0b27d502a109d8d151560bd35e8bb19c";
const LEGACY_SUBSCRIPTION: &str = "sub-b3JnX2xlZ2FjeQ.eef669f748c2753204be24f3be29e8f3";

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../fixtures/cashfree/", $name, ".json")).as_slice()
    };
}

fn credentials() -> ProviderCredentials {
    billing_providers::credentials::parse_entry(serde_json::json!({
        "clientId": "TEST1023456789",
        "clientSecret": CLIENT_SECRET,
    }))
    .expect("credentials")
}

async fn verify(delivery: &WebhookDelivery) -> Result<ProviderEvent, WebhookError> {
    CashfreeWebhooks::new()
        .verify_and_parse(delivery, &credentials(), NOW, &catalog())
        .await
}

async fn normalize(body: &[u8]) -> ProviderEvent {
    verify(&signed_delivery(CLIENT_SECRET, NOW, body))
        .await
        .expect("a signed fixture verifies and normalizes")
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).expect("tenant")
}

fn ist(text: &str) -> UnixTime {
    billing_providers::cashfree::wire::parse_time(text).expect("timestamp")
}

#[tokio::test]
async fn body_with_170_00_verifies_as_sent_and_fails_once_reserialized() {
    let body = fixture!("v2025_subscription_payment_success");
    assert!(String::from_utf8_lossy(body).contains("\"payment_amount\": 170.00"));
    let delivery = signed_delivery(CLIENT_SECRET, NOW, body);
    assert!(verify(&delivery).await.is_ok());

    // What a framework that parses JSON before the handler would pass on.
    let value: serde_json::Value = serde_json::from_slice(body).expect("json");
    let reserialized = serde_json::to_vec(&value).expect("json");
    assert!(!String::from_utf8_lossy(&reserialized).contains("170.00"));
    let mut parsed = delivery.clone();
    parsed.body = reserialized;
    assert_eq!(
        verify(&parsed).await.err(),
        Some(WebhookError::InvalidSignature)
    );
}

#[tokio::test]
async fn amounts_are_read_exactly_from_the_decimal_text() {
    let event = normalize(fixture!("v2025_subscription_payment_success")).await;
    let EventKind::InvoicePaid(invoice) = event.kind else {
        panic!("invoice paid expected: {:?}", event.kind)
    };
    assert_eq!(invoice.amount_due, Money::new(17_000, "inr"));
    assert_eq!(invoice.amount_paid, Money::new(17_000, "inr"));
    assert_eq!(invoice.invoice_id, "4871200002");
    assert_eq!(invoice.subscription_id.as_deref(), Some(SUBSCRIPTION));
    assert_eq!(invoice.created, ist("2025-10-02T10:00:00+05:30"));
    assert_eq!(invoice.attempt_count, 1);
    assert_eq!(event.occurred_at, ist("2025-10-02T10:02:11+05:30"));
    // Payment events carry no tags: the tenant comes from our subscription id.
    assert_eq!(event.tenant_hint, Some(tenant("org_conformance")));
}

#[tokio::test]
async fn status_changed_2025_gives_a_snapshot_with_tags_plan_and_next_charge() {
    let event = normalize(fixture!("v2025_subscription_status_changed_active")).await;
    assert_eq!(event.event_type, "SUBSCRIPTION_STATUS_CHANGED");
    assert_eq!(event.tenant_hint, Some(tenant("org_conformance")));
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("snapshot expected: {:?}", event.kind)
    };
    assert_eq!(change, SnapshotChange::Updated);
    assert_eq!(snapshot.subscription_id, SUBSCRIPTION);
    assert_eq!(snapshot.customer_id, SUBSCRIPTION);
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
    assert_eq!(snapshot.provider_status, "ACTIVE");
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
    assert_eq!(snapshot.price_id.as_deref(), Some("cf_plan_pro_monthly"));
    assert_eq!(
        snapshot.current_period_end,
        Some(ist("2025-10-02T10:00:00+05:30"))
    );
    assert_eq!(snapshot.seats, 1);
}

#[tokio::test]
async fn ended_subscription_is_a_deletion_with_its_cancel_time() {
    let event = normalize(fixture!("v2025_subscription_status_changed_cancelled")).await;
    let EventKind::SubscriptionDeleted { snapshot } = event.kind else {
        panic!("deletion expected: {:?}", event.kind)
    };
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
    assert_eq!(snapshot.canceled_at, Some(ist("2025-11-20T18:45:00+05:30")));
    assert_eq!(snapshot.current_period_end, None);
}

#[tokio::test]
async fn authorized_mandate_completes_the_checkout() {
    let event = normalize(fixture!("v2025_subscription_auth_status")).await;
    let EventKind::CheckoutCompleted(checkout) = event.kind else {
        panic!("checkout expected: {:?}", event.kind)
    };
    assert_eq!(checkout.subscription_id.as_deref(), Some(SUBSCRIPTION));
    assert_eq!(checkout.session_id, SUBSCRIPTION);
    assert_eq!(event.tenant_hint, Some(tenant("org_conformance")));
}

#[tokio::test]
async fn failed_authorization_and_informational_events_are_acknowledged_only() {
    let failed_auth = String::from_utf8_lossy(fixture!("v2025_subscription_auth_status"))
        .replace(
            "\"payment_status\": \"SUCCESS\"",
            "\"payment_status\": \"FAILED\"",
        )
        .replace(
            "\"authorization_status\": \"ACTIVE\"",
            "\"authorization_status\": \"FAILED\"",
        );
    assert_eq!(
        normalize(failed_auth.as_bytes()).await.kind,
        EventKind::Unknown
    );
    let notice = normalize(fixture!(
        "v2025_subscription_payment_notification_initiated"
    ))
    .await;
    assert_eq!(notice.kind, EventKind::Unknown);
    let refund = br#"{"data":{"refund_id":"r1","refund_amount":170.00},"event_time":"2025-10-03T10:00:00+05:30","type":"SUBSCRIPTION_REFUND_STATUS"}"#;
    assert_eq!(normalize(refund).await.kind, EventKind::Unknown);
}

#[tokio::test]
async fn unknown_event_without_a_time_is_still_acknowledged() {
    // Cashfree's dashboard sends a test delivery when a webhook URL is
    // added; its shape is not documented, and refusing it would stop the
    // endpoint from being saved.
    let test_delivery =
        br#"{"data":{"test_object":{"test":"https://example.com"}},"type":"WEBHOOK"}"#;
    let event = normalize(test_delivery).await;
    assert_eq!(event.kind, EventKind::Unknown);
    let status_without_time =
        String::from_utf8_lossy(fixture!("v2025_subscription_status_changed_active"))
            .replace("\"event_time\": \"2025-10-01T10:00:07+05:30\",", "");
    let result = verify(&signed_delivery(
        CLIENT_SECRET,
        NOW,
        status_without_time.as_bytes(),
    ))
    .await;
    assert!(
        matches!(result, Err(WebhookError::MalformedPayload(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn failed_charge_counts_its_retries() {
    let event = normalize(fixture!("v2023_subscription_payment_failed")).await;
    let EventKind::InvoicePaymentFailed(invoice) = event.kind else {
        panic!("failed invoice expected: {:?}", event.kind)
    };
    assert_eq!(invoice.attempt_count, 3);
    assert_eq!(invoice.amount_due, Money::new(49_900, "inr"));
    assert_eq!(invoice.amount_paid, Money::new(0, "inr"));
}

#[tokio::test]
async fn version_2023_08_01_subscription_lives_through_apply_event() {
    let steps = [
        (
            fixture!("v2023_subscription_status_change_active"),
            SubscriptionStatus::Active,
        ),
        (
            fixture!("v2023_subscription_payment_success"),
            SubscriptionStatus::Active,
        ),
        (
            fixture!("v2023_subscription_payment_failed"),
            SubscriptionStatus::Active,
        ),
        (
            fixture!("v2023_subscription_status_change_customer_cancelled"),
            SubscriptionStatus::Canceled,
        ),
    ];
    let legacy = tenant("org_legacy");
    let mut record: Option<Subscription> = None;
    for (body, expected) in steps {
        let event = normalize(body).await;
        // 2023-08-01 sends no tags: every event is routed by our subscription id.
        assert_eq!(
            event.tenant_hint.as_ref(),
            Some(&legacy),
            "{}",
            event.event_type
        );
        if let Transition::Applied(next) = apply_event(record.as_ref(), &legacy, &event, NOW) {
            record = Some(*next);
        }
        let record = record.as_ref().expect("record");
        assert_eq!(record.status, expected, "{}", event.event_type);
        assert_eq!(record.plan, Some(PlanCode::new("team")));
        assert_eq!(
            record.provider_subscription_id.as_deref(),
            Some(LEGACY_SUBSCRIPTION)
        );
    }
}

#[tokio::test]
async fn dedupe_key_is_the_body_digest_whatever_the_unsigned_headers_say() {
    let body = fixture!("v2025_subscription_payment_failed");
    let first = signed_delivery(CLIENT_SECRET, NOW, body);
    let mut retry = signed_delivery(CLIENT_SECRET, NOW.plus_seconds(1_800), body);
    retry
        .headers
        .push(("x-idempotency-key".into(), "chosen-by-a-replayer".into()));
    let (a, b) = (verify(&first).await.unwrap(), verify(&retry).await.unwrap());
    assert_eq!(a.event_id, b.event_id);
    assert!(a.event_id.starts_with("sha256:") && a.event_id.len() == 71);
    let other = normalize(fixture!("v2025_subscription_payment_success")).await;
    assert_ne!(a.event_id, other.event_id);
}

#[tokio::test]
async fn header_names_match_whatever_their_case() {
    let mut delivery = signed_delivery(
        CLIENT_SECRET,
        NOW,
        fixture!("v2025_subscription_auth_status"),
    );
    for (name, _) in &mut delivery.headers {
        *name = name.to_ascii_uppercase();
    }
    assert!(verify(&delivery).await.is_ok());
}

#[tokio::test]
async fn numeric_payment_ids_are_read_as_their_digits() {
    let body = String::from_utf8_lossy(fixture!("v2023_subscription_payment_success")).replace(
        "\"cf_payment_id\": \"4871100002\"",
        "\"cf_payment_id\": 4871100002",
    );
    let EventKind::InvoicePaid(invoice) = normalize(body.as_bytes()).await.kind else {
        panic!("invoice paid expected")
    };
    assert_eq!(invoice.invoice_id, "4871100002");
}

#[tokio::test]
async fn tenant_tag_wins_over_the_subscription_id_and_bad_tags_fall_back() {
    let body = String::from_utf8_lossy(fixture!("v2025_subscription_status_changed_active"))
        .replace(
            "\"tenant_id\": \"org_conformance\"",
            "\"tenant_id\": \"org_tagged\"",
        );
    assert_eq!(
        normalize(body.as_bytes()).await.tenant_hint,
        Some(tenant("org_tagged"))
    );
    let body = body.replace(
        "\"tenant_id\": \"org_tagged\"",
        "\"tenant_id\": \"not a tenant!\"",
    );
    assert_eq!(
        normalize(body.as_bytes()).await.tenant_hint,
        Some(tenant("org_conformance"))
    );
}

#[tokio::test]
async fn payloads_that_do_not_fit_are_malformed_without_quoting_them() {
    let success =
        String::from_utf8_lossy(fixture!("v2025_subscription_payment_success")).into_owned();
    let cases = [
        success.replace("170.00", "170.005"),
        success.replace(
            "\"event_time\": \"2025-10-02T10:02:11+05:30\"",
            "\"event_time\": \"yesterday-secret\"",
        ),
        success.replace(
            "\"subscription_id\": \"sub-",
            "\"subscription_ref\": \"sub-",
        ),
        success.replace("\"payment_amount\": 170.00,", ""),
        "not json at all".to_owned(),
    ];
    for body in cases {
        let result = verify(&signed_delivery(CLIENT_SECRET, NOW, body.as_bytes())).await;
        let Err(WebhookError::MalformedPayload(message)) = result else {
            panic!("malformed payload expected: {result:?}")
        };
        for secret in ["170.005", "yesterday-secret", "not json", SUBSCRIPTION] {
            assert!(!message.contains(secret), "{message}");
        }
    }
}

#[tokio::test]
async fn unknown_status_is_kept_and_grants_nothing() {
    let body = String::from_utf8_lossy(fixture!("v2025_subscription_status_changed_active"))
        .replace(
            "\"ACTIVE\",\n            \"subscription_expiry_time\"",
            "\"UNDER_REVIEW\",\n            \"subscription_expiry_time\"",
        );
    let EventKind::SubscriptionSnapshot { snapshot, .. } = normalize(body.as_bytes()).await.kind
    else {
        panic!("snapshot expected")
    };
    assert_eq!(snapshot.provider_status, "UNDER_REVIEW");
    assert_eq!(snapshot.status, SubscriptionStatus::Incomplete);
}

#[tokio::test]
async fn paused_status_is_a_pause() {
    let body = String::from_utf8_lossy(fixture!("v2025_subscription_status_changed_active"))
        .replace(
            "\"ACTIVE\",\n            \"subscription_expiry_time\"",
            "\"CUSTOMER_PAUSED\",\n            \"subscription_expiry_time\"",
        );
    let EventKind::SubscriptionSnapshot { change, snapshot } =
        normalize(body.as_bytes()).await.kind
    else {
        panic!("snapshot expected")
    };
    assert_eq!(change, SnapshotChange::Paused);
    assert_eq!(snapshot.status, SubscriptionStatus::Paused);
}

#[tokio::test]
async fn charges_report_their_payments_and_the_authorization_does_not() {
    use billing_domain::ledger::PaymentStatus;
    let success = normalize(fixture!("v2025_subscription_payment_success"))
        .await
        .payment
        .expect("the charge");
    assert_eq!(success.status, PaymentStatus::Success);
    assert!(success.amount.amount_minor > 0);
    let failed = normalize(fixture!("v2025_subscription_payment_failed"))
        .await
        .payment
        .expect("the failed charge");
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert_ne!(failed.payment_id, success.payment_id);
    assert_eq!(
        normalize(fixture!("v2025_subscription_auth_status"))
            .await
            .payment,
        None
    );
}
