//! `RazorpayWebhooks` on signed deliveries built from Razorpay's documented
//! payloads (`fixtures/razorpay/`): what each subscription event normalizes
//! to, where the tenant and the dedupe key come from, and what is refused.

use crate::catalog;
use billing_domain::ledger::{MethodKind, PaymentStatus};
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{
    apply_event, EventKind, Money, PlanCode, Provider, ProviderEvent, SnapshotChange, Subscription,
    SubscriptionSnapshot, SubscriptionStatus, TenantId, Transition, UnixTime,
};
use billing_providers::razorpay::{self, RazorpayWebhooks};
use serde_json::Value;

const SECRET: &str = "events-test-webhook-secret";
const NOW: UnixTime = UnixTime(1_767_225_600);

const AUTHENTICATED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_authenticated.json");
const CHARGED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_charged.json");
const PENDING: &[u8] = include_bytes!("../fixtures/razorpay/subscription_pending.json");
const REACTIVATED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_reactivated.json");
const CANCELLED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_cancelled.json");
const COMPLETED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_completed.json");
const PAUSED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_paused.json");
const RESUMED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_resumed.json");
const UPDATED: &[u8] = include_bytes!("../fixtures/razorpay/subscription_updated.json");
const PAYMENT_FAILED: &[u8] = include_bytes!("../fixtures/razorpay/payment_failed.json");

fn credentials(secrets: &[&str]) -> ProviderCredentials {
    ProviderCredentials::with_webhook_secrets(secrets.iter().map(|s| WebhookSecret::new(*s)))
}

/// `body` as Razorpay delivers it: signed with `SECRET`, under `event_id`.
fn delivery(body: &[u8], event_id: &str) -> WebhookDelivery {
    WebhookDelivery {
        headers: vec![
            (
                "x-razorpay-signature".into(),
                razorpay::sign(&WebhookSecret::new(SECRET), body),
            ),
            ("x-razorpay-event-id".into(), event_id.into()),
        ],
        body: body.to_vec(),
    }
}

async fn verify_with(
    delivery: &WebhookDelivery,
    secrets: &[&str],
) -> Result<ProviderEvent, WebhookError> {
    RazorpayWebhooks::new()
        .verify_and_parse(delivery, &credentials(secrets), NOW, &catalog())
        .await
}

async fn normalize(body: &[u8]) -> ProviderEvent {
    verify_with(&delivery(body, "evt_test_1"), &[SECRET])
        .await
        .expect("a signed documented payload normalizes")
}

/// A fixture with its subscription entity changed by `edit`.
fn edited(body: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(body).unwrap();
    edit(&mut event["payload"]["subscription"]["entity"]);
    serde_json::to_vec(&event).unwrap()
}

fn snapshot_of(event: &ProviderEvent) -> (&SubscriptionSnapshot, Option<SnapshotChange>) {
    match &event.kind {
        EventKind::SubscriptionSnapshot { change, snapshot } => (snapshot, Some(*change)),
        EventKind::SubscriptionDeleted { snapshot } => (snapshot, None),
        other => panic!("a subscription event expected, got {other:?}"),
    }
}

// ---------- What each event normalizes to ----------

#[tokio::test]
async fn authenticated_subscription_is_a_created_snapshot_naming_tenant_plan_and_customer() {
    let event = normalize(AUTHENTICATED).await;
    assert_eq!(event.provider, Provider::Razorpay);
    assert_eq!(event.event_id, "evt_test_1");
    assert_eq!(event.event_type, "subscription.authenticated");
    assert_eq!(event.occurred_at, UnixTime(1_759_276_860));
    assert_eq!(event.tenant_hint, TenantId::parse("org_conformance").ok());
    let (snapshot, change) = snapshot_of(&event);
    assert_eq!(change, Some(SnapshotChange::Created));
    assert_eq!(snapshot.subscription_id, "sub_IilT1Ob70FQPp3");
    assert_eq!(snapshot.customer_id, "cust_IilSzuBJCNvrsu");
    assert_eq!(snapshot.status, SubscriptionStatus::Incomplete);
    assert_eq!(snapshot.provider_status, "authenticated");
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
    assert_eq!(snapshot.price_id.as_deref(), Some("plan_ProMonthly0001"));
    assert_eq!(snapshot.current_period_end, None);
    assert_eq!(snapshot.seats, 1);
}

#[tokio::test]
async fn charged_subscription_is_an_active_snapshot_with_its_billing_cycle() {
    let event = normalize(CHARGED).await;
    let (snapshot, change) = snapshot_of(&event);
    assert_eq!(change, Some(SnapshotChange::Updated));
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
    assert_eq!(snapshot.current_period_start, Some(UnixTime(1_759_276_862)));
    assert_eq!(snapshot.current_period_end, Some(UnixTime(1_761_955_200)));
    assert!(!snapshot.cancel_at_period_end);
    assert_eq!(snapshot.canceled_at, None);
}

#[tokio::test]
async fn pending_subscription_is_past_due() {
    let event = normalize(PENDING).await;
    let (snapshot, change) = snapshot_of(&event);
    assert_eq!(change, Some(SnapshotChange::Updated));
    assert_eq!(snapshot.status, SubscriptionStatus::PastDue);
    assert_eq!(snapshot.current_period_start, Some(UnixTime(1_761_955_200)));
}

#[tokio::test]
async fn cancelled_subscription_is_deleted_with_its_end_time() {
    let event = normalize(CANCELLED).await;
    let (snapshot, change) = snapshot_of(&event);
    assert_eq!(change, None);
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
    assert_eq!(snapshot.canceled_at, Some(UnixTime(1_762_387_262)));
}

#[tokio::test]
async fn completed_subscription_is_deleted() {
    let event = normalize(COMPLETED).await;
    let (snapshot, change) = snapshot_of(&event);
    assert_eq!(change, None);
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
    assert_eq!(snapshot.provider_status, "completed");
}

#[tokio::test]
async fn paused_and_resumed_subscriptions_say_so() {
    let paused = normalize(PAUSED).await;
    let (snapshot, change) = snapshot_of(&paused);
    assert_eq!(change, Some(SnapshotChange::Paused));
    assert_eq!(snapshot.status, SubscriptionStatus::Paused);

    let resumed = normalize(RESUMED).await;
    let (snapshot, change) = snapshot_of(&resumed);
    assert_eq!(change, Some(SnapshotChange::Resumed));
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
}

#[tokio::test]
async fn updated_subscription_carries_its_new_plan_and_quantity() {
    let event = normalize(UPDATED).await;
    let (snapshot, change) = snapshot_of(&event);
    assert_eq!(change, Some(SnapshotChange::Updated));
    assert_eq!(snapshot.plan, Some(PlanCode::new("team")));
    assert_eq!(snapshot.seats, 3);
}

#[tokio::test]
async fn a_failed_payment_is_reported_for_the_log_and_routed_by_its_customer() {
    let event = normalize(PAYMENT_FAILED).await;
    assert_eq!(
        event.kind,
        EventKind::PaymentReported {
            customer_id: Some("cust_IilSzuBJCNvrsu".into()),
            subscription_id: None,
        }
    );
    assert_eq!(event.event_type, "payment.failed");
    assert_eq!(event.tenant_hint, None);
    assert_eq!(event.occurred_at, UnixTime(1_761_955_262));
    let payment = event.payment.expect("the failed attempt");
    assert_eq!(payment.payment_id, "pay_IjqLmNf41rT7Yw");
    assert_eq!(payment.status, PaymentStatus::Failed);
    assert_eq!(payment.amount, Money::new(159_900, "inr"));
    assert_eq!(payment.failure_code.as_deref(), Some("payment_failed"));
    assert_eq!(payment.method.map(|m| m.kind), Some(MethodKind::Card));
    assert_eq!(payment.at, UnixTime(1_761_955_260));
}

#[tokio::test]
async fn a_charged_subscription_reports_the_captured_payment_for_the_cycle() {
    let event = normalize(CHARGED).await;
    let payment = event.payment.clone().expect("the cycle's payment");
    let (snapshot, _) = snapshot_of(&event);
    assert_eq!(payment.payment_id, "pay_IilTQTf37sXXNX");
    assert_eq!(payment.status, PaymentStatus::Success);
    assert_eq!(payment.amount, Money::new(159_900, "inr"));
    assert_eq!(payment.source_id.as_deref(), Some("inv_IilT1w4sLgP3s2"));
    // The payment's `tax` is GST on Razorpay's fee, not the customer's tax.
    assert_eq!(payment.tax_minor, None);
    assert_eq!(payment.period_end, snapshot.current_period_end);
    assert_eq!(payment.seats, Some(snapshot.seats));
    assert_eq!(payment.at, UnixTime(1_759_276_866));
    // Other subscription events report no payment.
    assert_eq!(normalize(PENDING).await.payment, None);
}

#[tokio::test]
async fn plan_outside_the_catalog_keeps_its_id_but_names_no_plan() {
    let body = edited(CHARGED, |sub| {
        sub["plan_id"] = "plan_SomethingElse01".into()
    });
    let event = normalize(&body).await;
    let (snapshot, _) = snapshot_of(&event);
    assert_eq!(snapshot.plan, None);
    assert_eq!(snapshot.price_id.as_deref(), Some("plan_SomethingElse01"));
}

// ---------- The tenant ----------

#[tokio::test]
async fn empty_notes_sent_as_an_array_name_no_tenant() {
    // Razorpay serializes empty notes as `[]`.
    let body = edited(CHARGED, |sub| sub["notes"] = serde_json::json!([]));
    assert_eq!(normalize(&body).await.tenant_hint, None);
}

#[tokio::test]
async fn notes_without_a_valid_tenant_name_no_tenant() {
    for notes in [
        serde_json::json!({"plan": "pro"}),
        serde_json::json!({"tenant_id": ""}),
        serde_json::json!({"tenant_id": 42}),
        Value::Null,
    ] {
        let body = edited(CHARGED, |sub| sub["notes"] = notes.clone());
        assert_eq!(normalize(&body).await.tenant_hint, None, "{notes}");
    }
}

#[tokio::test]
async fn subscription_without_a_customer_uses_its_own_id_as_the_customer() {
    let body = edited(CHARGED, |sub| sub["customer_id"] = Value::Null);
    let event = normalize(&body).await;
    let (snapshot, _) = snapshot_of(&event);
    assert_eq!(snapshot.customer_id, "sub_IilT1Ob70FQPp3");
}

// ---------- The dedupe key ----------

#[tokio::test]
async fn event_id_is_the_x_razorpay_event_id_header() {
    let first = verify_with(&delivery(CHARGED, "Kp9eZbXcT3Qw1a"), &[SECRET])
        .await
        .unwrap();
    let retry = verify_with(&delivery(CHARGED, "Kp9eZbXcT3Qw1a"), &[SECRET])
        .await
        .unwrap();
    assert_eq!(first.event_id, "Kp9eZbXcT3Qw1a");
    assert_eq!(first, retry, "a retried delivery is the same event");
}

#[tokio::test]
async fn delivery_without_an_event_id_is_refused() {
    let mut unsigned_id = delivery(CHARGED, "x");
    unsigned_id
        .headers
        .retain(|(name, _)| name != "x-razorpay-event-id");
    assert!(matches!(
        verify_with(&unsigned_id, &[SECRET]).await,
        Err(WebhookError::MalformedPayload(m)) if m.contains("x-razorpay-event-id")
    ));
}

#[tokio::test]
async fn event_id_that_is_blank_or_not_an_id_is_refused() {
    for id in ["", "   ", "has space", &"a".repeat(129), "tab\tin"] {
        assert!(
            matches!(
                verify_with(&delivery(CHARGED, id), &[SECRET]).await,
                Err(WebhookError::MalformedPayload(_))
            ),
            "{id:?}"
        );
    }
}

// ---------- Signatures ----------

#[tokio::test]
async fn delivery_without_a_signature_is_refused_as_missing() {
    let mut unsigned = delivery(CHARGED, "evt_1");
    unsigned
        .headers
        .retain(|(name, _)| name != "x-razorpay-signature");
    assert_eq!(
        verify_with(&unsigned, &[SECRET]).await,
        Err(WebhookError::MissingSignature("X-Razorpay-Signature"))
    );
}

#[tokio::test]
async fn forgery_is_reported_as_a_bad_signature_before_any_header_or_body_check() {
    let mut forged = delivery(b"not even json", "evt_1");
    forged.headers[0].1 = razorpay::sign(&WebhookSecret::new("guess"), b"not even json");
    forged
        .headers
        .retain(|(name, _)| name != "x-razorpay-event-id");
    assert_eq!(
        verify_with(&forged, &[SECRET]).await,
        Err(WebhookError::InvalidSignature)
    );
}

#[tokio::test]
async fn header_names_match_in_any_case() {
    let mut shouting = delivery(CHARGED, "evt_1");
    for (name, _) in &mut shouting.headers {
        *name = name.to_uppercase();
    }
    assert!(verify_with(&shouting, &[SECRET]).await.is_ok());
}

#[tokio::test]
async fn delivery_signed_with_the_previous_secret_verifies_during_rotation() {
    assert!(
        verify_with(&delivery(CHARGED, "evt_1"), &["new-secret", SECRET])
            .await
            .is_ok()
    );
}

// ---------- Payloads that do not fit ----------

#[tokio::test]
async fn subscription_event_without_its_entity_is_malformed() {
    let mut event: Value = serde_json::from_slice(CHARGED).unwrap();
    event["payload"] = serde_json::json!({"payment": event["payload"]["payment"].clone()});
    let body = serde_json::to_vec(&event).unwrap();
    assert!(matches!(
        verify_with(&delivery(&body, "evt_1"), &[SECRET]).await,
        Err(WebhookError::MalformedPayload(_))
    ));
}

#[tokio::test]
async fn quantity_beyond_any_seat_count_is_malformed() {
    let body = edited(CHARGED, |sub| sub["quantity"] = 5_000_000_000u64.into());
    assert!(matches!(
        verify_with(&delivery(&body, "evt_1"), &[SECRET]).await,
        Err(WebhookError::MalformedPayload(_))
    ));
}

#[tokio::test]
async fn malformed_payload_errors_never_quote_the_payload() {
    let body = edited(CHARGED, |sub| sub["status"] = 1.into());
    let body = String::from_utf8(body)
        .unwrap()
        .replace("gaurav.kumar@example.com", "leaky-secret@example.com");
    let error = verify_with(&delivery(body.as_bytes(), "evt_1"), &[SECRET])
        .await
        .unwrap_err();
    let WebhookError::MalformedPayload(message) = error else {
        panic!("malformed payload expected, got {error:?}")
    };
    assert!(message.starts_with("subscription: "), "{message}");
    assert!(!message.contains("leaky-secret"), "{message}");

    let not_json = verify_with(&delivery(b"{\"event\": leaky-secret", "evt_1"), &[SECRET])
        .await
        .unwrap_err();
    assert!(!not_json.to_string().contains("leaky-secret"), "{not_json}");
}

// ---------- Ordering without a signed timestamp ----------

#[tokio::test]
async fn late_or_replayed_pending_does_not_undo_the_reactivation() {
    let tenant = TenantId::parse("org_conformance").unwrap();
    let reactivated = normalize(REACTIVATED).await;
    // The old `pending` delivery, replayed under a fresh (unsigned) event id.
    let replayed_pending = verify_with(&delivery(PENDING, "zzz_fresh_id"), &[SECRET])
        .await
        .unwrap();
    let Transition::Applied(record) = apply_event(None, &tenant, &reactivated, NOW) else {
        panic!("the first event applies")
    };
    let record: Subscription = *record;
    assert_eq!(
        apply_event(Some(&record), &tenant, &replayed_pending, NOW),
        Transition::Unchanged(billing_domain::Unchanged::Stale)
    );
    assert_eq!(record.status, SubscriptionStatus::Active);
}

#[tokio::test]
async fn a_processed_refund_credits_the_payment_it_names() {
    let body = serde_json::json!({
        "entity": "event", "account_id": "acc_BFQ7uQEaa7j2z7", "event": "refund.processed",
        "contains": ["refund", "payment"], "created_at": 1_762_000_000,
        "payload": {
            "refund": {"entity": {"id": "rfnd_FgRAHdNOM4ZVbO", "entity": "refund", "amount": 79_950,
                "currency": "INR", "payment_id": "pay_IilTQTf37sXXNX", "created_at": 1_761_999_990,
                "status": "processed"}},
            "payment": {"entity": {"id": "pay_IilTQTf37sXXNX", "entity": "payment", "amount": 159_900,
                "currency": "INR", "status": "refunded", "customer_id": "cust_IilSzuBJCNvrsu",
                "created_at": 1_759_276_866}}
        }
    })
    .to_string();
    let event = normalize(body.as_bytes()).await;
    assert_eq!(
        event.kind,
        EventKind::PaymentReported {
            customer_id: Some("cust_IilSzuBJCNvrsu".into()),
            subscription_id: None
        }
    );
    let refund = event.payment.expect("a refund");
    assert_eq!(refund.status, PaymentStatus::Refunded);
    assert_eq!(refund.refund_of.as_deref(), Some("pay_IilTQTf37sXXNX"));
    assert_eq!(refund.amount, Money::new(79_950, "inr"));
    assert_eq!(refund.at, UnixTime(1_761_999_990));
}
