//! Paddle Billing notifications through `PaddleWebhooks` and `parse_event`:
//! every step of the lifecycle fixtures (`tests/fixtures/paddle/`, trimmed
//! from Paddle's documented payloads) normalized field by field, the event
//! types and statuses around them, and the deliveries a receiver must refuse.

use crate::catalog;
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{
    CheckoutDetails, EventKind, InvoiceDetails, Money, PlanCode, Provider, ProviderEvent,
    SnapshotChange, SubscriptionSnapshot, SubscriptionStatus, TenantId, UnixTime,
};
use billing_providers::paddle::{parse_event, sign, PaddleWebhooks};
use billing_providers::timestamps::rfc3339_seconds as unix_seconds;
use serde_json::{json, Value};

const SECRET: &str = "pdl_ntfset_01k2cf3v4w5x6y7z8a9b0c1d2e_eventsTestKey";
const NOW: UnixTime = UnixTime(1_767_225_600);
const CUSTOMER: &str = "ctm_01k2cfm8f0x7q6n3r5t9v1w2y4";
const SUBSCRIPTION: &str = "sub_01k2cfp3m4n5p6q7r8s9t0v1w2";
const CHECKOUT_TXN: &str = "txn_01k2cfk7a8b9c0d1e2f3g4h5j6";
const PRO_PRICE: &str = "pri_01proMonthly000000000000";

fn fixture(name: &str) -> Value {
    let text = crate::fixture(&format!("paddle/{name}.json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("paddle/{name}.json: {e}"))
}

fn parse(body: &Value) -> Result<ProviderEvent, WebhookError> {
    parse_event(body.to_string().as_bytes(), &catalog())
}

fn parse_fixture(name: &str) -> ProviderEvent {
    parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A fixture with `edit` applied to its `data`.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = fixture(name);
    edit(&mut body["data"]);
    body
}

fn at(rfc3339: &str) -> UnixTime {
    UnixTime(unix_seconds(rfc3339).expect("fixture time"))
}

fn org() -> Option<TenantId> {
    Some(TenantId::parse("org_conformance").expect("tenant"))
}

fn usd(amount_minor: i64) -> Money {
    Money::new(amount_minor, "USD")
}

fn snapshot_of(event: &ProviderEvent) -> (Option<SnapshotChange>, &SubscriptionSnapshot) {
    match &event.kind {
        EventKind::SubscriptionSnapshot { change, snapshot } => (Some(*change), snapshot),
        EventKind::SubscriptionDeleted { snapshot } => (None, snapshot),
        other => panic!("subscription event expected, got {other:?}"),
    }
}

fn invoice_of(event: &ProviderEvent) -> (bool, &InvoiceDetails) {
    match &event.kind {
        EventKind::InvoicePaid(invoice) => (true, invoice),
        EventKind::InvoicePaymentFailed(invoice) => (false, invoice),
        other => panic!("invoice event expected, got {other:?}"),
    }
}

fn delivery(body: &[u8], headers: Vec<(String, String)>) -> WebhookDelivery {
    WebhookDelivery {
        headers,
        body: body.to_vec(),
    }
}

fn signed(body: &[u8]) -> WebhookDelivery {
    let header = sign(&WebhookSecret::new(SECRET), NOW, body);
    delivery(body, vec![("paddle-signature".into(), header)])
}

async fn receive(delivery: &WebhookDelivery) -> Result<ProviderEvent, WebhookError> {
    let credentials = ProviderCredentials::with_webhook_secrets([WebhookSecret::new(SECRET)]);
    PaddleWebhooks::new()
        .verify_and_parse(delivery, &credentials, NOW, &catalog())
        .await
}

// ---------- The lifecycle, step by step ----------

#[test]
fn checkout_transaction_paid_is_a_paid_invoice_without_a_subscription_yet() {
    let event = parse_fixture("01_transaction_paid_checkout");
    assert_eq!(event.provider, Provider::Paddle);
    assert_eq!(event.event_id, "evt_01k2cfq1h2j3k4m5n6p7q8r9s0");
    assert_eq!(event.event_type, "transaction.paid");
    assert_eq!(event.occurred_at, at("2025-09-01T10:15:02Z"));
    assert_eq!(event.tenant_hint, org());
    assert_eq!(
        event.kind,
        EventKind::InvoicePaid(InvoiceDetails {
            invoice_id: CHECKOUT_TXN.into(),
            customer_id: Some(CUSTOMER.into()),
            subscription_id: None,
            created: at("2025-09-01T10:12:33Z"),
            amount_due: usd(2069),
            amount_paid: usd(2069),
            attempt_count: 1,
        })
    );
}

#[test]
fn subscription_created_is_a_full_snapshot() {
    let event = parse_fixture("02_subscription_created");
    assert_eq!(event.event_id, "evt_01k2cfq3d4e5f6g7h8j9k0m1n2");
    assert_eq!(event.occurred_at, at("2025-09-01T10:15:03Z"));
    assert_eq!(event.tenant_hint, org());
    assert_eq!(
        event.kind,
        EventKind::SubscriptionSnapshot {
            change: SnapshotChange::Created,
            snapshot: SubscriptionSnapshot {
                subscription_id: SUBSCRIPTION.into(),
                customer_id: CUSTOMER.into(),
                status: SubscriptionStatus::Active,
                provider_status: "active".into(),
                plan: Some(PlanCode::new("pro")),
                price_id: Some(PRO_PRICE.into()),
                current_period_start: Some(at("2025-09-01T10:15:02Z")),
                current_period_end: Some(at("2025-10-01T10:15:02Z")),
                cancel_at_period_end: false,
                cancel_at: None,
                canceled_at: None,
                trial_end: None,
                seats: 1,
            },
        }
    );
}

#[test]
fn checkout_transaction_completed_names_session_customer_subscription_and_plan() {
    let event = parse_fixture("03_transaction_completed_checkout");
    assert_eq!(event.event_id, "evt_01k2cfq5k6m7n8p9q0r1s2t3v4");
    assert_eq!(event.tenant_hint, org());
    assert_eq!(
        event.kind,
        EventKind::CheckoutCompleted(CheckoutDetails {
            session_id: CHECKOUT_TXN.into(),
            customer_id: Some(CUSTOMER.into()),
            subscription_id: Some(SUBSCRIPTION.into()),
            plan: Some(PlanCode::new("pro")),
        })
    );
}

#[test]
fn renewal_paid_is_a_paid_invoice_of_the_subscription() {
    let event = parse_fixture("04_transaction_paid_renewal");
    assert_eq!(event.tenant_hint, org());
    let (paid, invoice) = invoice_of(&event);
    assert!(paid);
    assert_eq!(invoice.invoice_id, "txn_01k6g2x3y4z5a6b7c8d9e0f1g2");
    assert_eq!(invoice.subscription_id.as_deref(), Some(SUBSCRIPTION));
    assert_eq!(invoice.created, at("2025-10-01T10:15:03Z"));
    assert_eq!(invoice.amount_paid, usd(2069));
}

#[test]
fn failed_renewal_is_a_failed_invoice_with_nothing_paid() {
    let event = parse_fixture("05_transaction_payment_failed_renewal");
    assert_eq!(event.event_type, "transaction.payment_failed");
    let (paid, invoice) = invoice_of(&event);
    assert!(!paid);
    assert_eq!(invoice.invoice_id, "txn_01k8m4n5p6q7r8s9t0v1w2x3y4");
    assert_eq!(invoice.amount_due, usd(2069));
    assert_eq!(invoice.amount_paid, usd(0));
    assert_eq!(invoice.attempt_count, 1);
}

#[test]
fn subscription_past_due_is_an_update_to_past_due_in_the_new_period() {
    let event = parse_fixture("06_subscription_past_due");
    let (change, snapshot) = snapshot_of(&event);
    assert_eq!(change, Some(SnapshotChange::Updated));
    assert_eq!(snapshot.status, SubscriptionStatus::PastDue);
    assert_eq!(snapshot.provider_status, "past_due");
    assert_eq!(
        snapshot.current_period_start,
        Some(at("2025-11-01T10:15:02Z"))
    );
}

#[test]
fn recovered_renewal_counts_every_payment_attempt() {
    let event = parse_fixture("07_transaction_completed_renewal");
    let (paid, invoice) = invoice_of(&event);
    assert!(paid, "a renewal's completion is an invoice, not a checkout");
    assert_eq!(invoice.invoice_id, "txn_01k8m4n5p6q7r8s9t0v1w2x3y4");
    assert_eq!(invoice.amount_paid, usd(2069));
    assert_eq!(invoice.attempt_count, 2);
}

#[test]
fn scheduled_cancellation_is_cancel_at_period_end() {
    let event = parse_fixture("09_subscription_updated_cancel_scheduled");
    let (change, snapshot) = snapshot_of(&event);
    assert_eq!(change, Some(SnapshotChange::Updated));
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
    assert!(snapshot.cancel_at_period_end);
    assert_eq!(snapshot.cancel_at, Some(at("2025-12-01T10:15:02Z")));
    assert_eq!(snapshot.canceled_at, None);
}

#[test]
fn subscription_canceled_ends_it_without_a_period() {
    let event = parse_fixture("10_subscription_canceled");
    assert_eq!(event.event_type, "subscription.canceled");
    let (change, snapshot) = snapshot_of(&event);
    assert_eq!(change, None);
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
    assert_eq!(snapshot.canceled_at, Some(at("2025-12-01T10:15:02Z")));
    assert_eq!(snapshot.current_period_end, None);
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
}

// ---------- Other event types ----------

#[test]
fn paused_resumed_activated_trialing_and_imported_are_snapshots() {
    let cases = [
        (
            "subscription.paused",
            "paused",
            SnapshotChange::Paused,
            SubscriptionStatus::Paused,
        ),
        (
            "subscription.resumed",
            "active",
            SnapshotChange::Resumed,
            SubscriptionStatus::Active,
        ),
        (
            "subscription.activated",
            "active",
            SnapshotChange::Updated,
            SubscriptionStatus::Active,
        ),
        (
            "subscription.trialing",
            "trialing",
            SnapshotChange::Updated,
            SubscriptionStatus::Trialing,
        ),
        (
            "subscription.imported",
            "active",
            SnapshotChange::Created,
            SubscriptionStatus::Active,
        ),
    ];
    for (event_type, status, expected_change, expected_status) in cases {
        let mut body = edited("02_subscription_created", |data| {
            data["status"] = status.into()
        });
        body["event_type"] = event_type.into();
        let event = parse(&body).unwrap();
        let (change, snapshot) = snapshot_of(&event);
        assert_eq!(change, Some(expected_change), "{event_type}");
        assert_eq!(snapshot.status, expected_status, "{event_type}");
    }
}

#[test]
fn trial_end_comes_from_the_plan_item_trial_dates() {
    let mut body = edited("02_subscription_created", |data| {
        data["status"] = "trialing".into();
        data["items"][0]["trial_dates"] = json!({
            "starts_at": "2025-09-01T10:15:02.309541Z",
            "ends_at": "2025-09-15T10:15:02.309541Z"
        });
    });
    body["event_type"] = "subscription.trialing".into();
    let event = parse(&body).unwrap();
    let (_, snapshot) = snapshot_of(&event);
    assert_eq!(snapshot.trial_end, Some(at("2025-09-15T10:15:02Z")));
}

#[test]
fn transaction_past_due_is_a_failed_invoice() {
    let mut body = fixture("05_transaction_payment_failed_renewal");
    body["event_type"] = "transaction.past_due".into();
    assert!(matches!(
        parse(&body).unwrap().kind,
        EventKind::InvoicePaymentFailed(_)
    ));
}

#[test]
fn a_one_off_purchase_completed_through_checkout_is_not_ours() {
    let body = edited("03_transaction_completed_checkout", |data| {
        data["origin"] = "web".into();
        data["subscription_id"] = Value::Null;
    });
    let event = parse(&body).unwrap();
    assert_eq!(event.kind, EventKind::Unknown);
    assert_eq!(event.event_id, "evt_01k2cfq5k6m7n8p9q0r1s2t3v4");
}

#[test]
fn checkout_opened_by_paddle_js_completes_like_ours() {
    let body = edited("03_transaction_completed_checkout", |data| {
        data["origin"] = "web".into();
    });
    assert!(matches!(
        parse(&body).unwrap().kind,
        EventKind::CheckoutCompleted(_)
    ));
}

#[test]
fn checkout_plan_falls_back_to_the_catalog_price() {
    let body = edited("03_transaction_completed_checkout", |data| {
        data["custom_data"] = json!({"tenant_id": "org_conformance"});
        data["items"][0]["price"]["id"] = "pri_01teamMonthly00000000000".into();
    });
    let EventKind::CheckoutCompleted(details) = parse(&body).unwrap().kind else {
        panic!("checkout expected")
    };
    assert_eq!(details.plan, Some(PlanCode::new("team")));
}

#[test]
fn event_types_we_do_not_act_on_are_unknown_but_keep_their_id() {
    for event_type in [
        "transaction.created",
        "transaction.ready",
        "customer.created",
        "payout.paid",
    ] {
        let mut body = fixture("01_transaction_paid_checkout");
        body["event_type"] = event_type.into();
        let event = parse(&body).unwrap();
        assert_eq!(event.kind, EventKind::Unknown, "{event_type}");
        assert_eq!(event.event_id, "evt_01k2cfq1h2j3k4m5n6p7q8r9s0");
        assert_eq!(event.event_type, event_type);
    }
}

// ---------- Plans, seats, tenants and amounts ----------

#[test]
fn the_catalog_item_is_the_plan_even_after_an_add_on() {
    let body = edited("02_subscription_created", |data| {
        let plan_item = data["items"][0].clone();
        let mut add_on = plan_item.clone();
        add_on["price"]["id"] = "pri_01addon00000000000000000".into();
        let mut team = plan_item;
        team["price"]["id"] = "pri_01teamMonthly00000000000".into();
        team["quantity"] = 7.into();
        data["items"] = json!([add_on, team]);
    });
    let event = parse(&body).unwrap();
    let (_, snapshot) = snapshot_of(&event);
    assert_eq!(snapshot.plan, Some(PlanCode::new("team")));
    assert_eq!(
        snapshot.price_id.as_deref(),
        Some("pri_01teamMonthly00000000000")
    );
    assert_eq!(snapshot.seats, 7);
}

#[test]
fn a_price_outside_the_catalog_keeps_its_id_but_names_no_plan() {
    let body = edited("02_subscription_created", |data| {
        data["items"][0]["price"]["id"] = "pri_01notInCatalog0000000000".into();
    });
    let event = parse(&body).unwrap();
    let (_, snapshot) = snapshot_of(&event);
    assert_eq!(snapshot.plan, None);
    assert_eq!(
        snapshot.price_id.as_deref(),
        Some("pri_01notInCatalog0000000000")
    );
}

#[test]
fn a_paused_scheduled_change_is_not_a_cancellation() {
    let body = edited("09_subscription_updated_cancel_scheduled", |data| {
        data["scheduled_change"]["action"] = "pause".into();
    });
    let event = parse(&body).unwrap();
    let (_, snapshot) = snapshot_of(&event);
    assert!(!snapshot.cancel_at_period_end);
    assert_eq!(snapshot.cancel_at, None);
}

#[test]
fn tenant_hint_is_custom_data_tenant_id_or_nothing() {
    let without = edited("02_subscription_created", |data| {
        data["custom_data"] = Value::Null
    });
    assert_eq!(parse(&without).unwrap().tenant_hint, None);
    let invalid = edited("02_subscription_created", |data| {
        data["custom_data"]["tenant_id"] = "not a tenant id!".into();
    });
    assert_eq!(parse(&invalid).unwrap().tenant_hint, None);
    let numeric = edited("04_transaction_paid_renewal", |data| {
        data["custom_data"]["tenant_id"] = 42.into();
    });
    assert_eq!(parse(&numeric).unwrap().tenant_hint, None);
}

#[test]
fn credits_reduce_what_is_due_and_balance_says_what_is_left() {
    let body = edited("05_transaction_payment_failed_renewal", |data| {
        let totals = &mut data["details"]["totals"];
        totals["credit"] = "500".into();
        totals["grand_total"] = "1569".into();
        totals["balance"] = "1000".into();
        totals["currency_code"] = "EUR".into();
    });
    let event = parse(&body).unwrap();
    let (_, invoice) = invoice_of(&event);
    assert_eq!(invoice.amount_due, Money::new(1569, "eur"));
    assert_eq!(invoice.amount_paid, Money::new(569, "eur"));
}

#[test]
fn without_grand_total_or_balance_the_total_is_due_and_the_event_says_if_paid() {
    let strip = |name: &str| {
        edited(name, |data| {
            let totals = data["details"]["totals"].as_object_mut().unwrap();
            totals.remove("grand_total");
            totals.remove("balance");
        })
    };
    let paid = parse(&strip("04_transaction_paid_renewal")).unwrap();
    let (_, invoice) = invoice_of(&paid);
    assert_eq!(
        (&invoice.amount_due, &invoice.amount_paid),
        (&usd(2069), &usd(2069))
    );
    let failed = parse(&strip("05_transaction_payment_failed_renewal")).unwrap();
    let (_, invoice) = invoice_of(&failed);
    assert_eq!(
        (&invoice.amount_due, &invoice.amount_paid),
        (&usd(2069), &usd(0))
    );
}

#[test]
fn decimal_amounts_are_refused_without_quoting_them() {
    let body = edited("04_transaction_paid_renewal", |data| {
        data["details"]["totals"]["grand_total"] = "20.69".into();
    });
    let Err(WebhookError::MalformedPayload(message)) = parse(&body) else {
        panic!("malformed payload expected")
    };
    assert!(!message.contains("20.69"), "{message}");
}

#[test]
fn currency_falls_back_to_the_transaction_and_is_lowercase() {
    let body = edited("04_transaction_paid_renewal", |data| {
        data["details"]["totals"]
            .as_object_mut()
            .unwrap()
            .remove("currency_code");
        data["currency_code"] = "GBP".into();
    });
    let event = parse(&body).unwrap();
    assert_eq!(invoice_of(&event).1.amount_paid.currency, "gbp");
}

// ---------- Refusals ----------

#[test]
fn malformed_payloads_are_refused_by_part() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"event_type": "transaction.paid"}), "event"),
        (
            {
                let mut body = fixture("02_subscription_created");
                body["occurred_at"] = "yesterday".into();
                body
            },
            "occurred_at",
        ),
        (
            edited("02_subscription_created", |data| {
                data.as_object_mut().unwrap().remove("customer_id");
            }),
            "subscription",
        ),
        (
            edited("02_subscription_created", |data| {
                data["current_billing_period"]["ends_at"] = "2025-13-01T00:00:00Z".into();
            }),
            "current_billing_period",
        ),
        (
            edited("02_subscription_created", |data| {
                data["items"][0]["quantity"] = 5_000_000_000u64.into()
            }),
            "quantity",
        ),
        (
            edited("04_transaction_paid_renewal", |data| {
                data.as_object_mut().unwrap().remove("details");
            }),
            "details",
        ),
    ];
    for (body, part) in cases {
        match parse(&body) {
            Err(WebhookError::MalformedPayload(message)) => {
                assert!(message.contains(part), "{part}: {message}")
            }
            other => panic!("{part}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed_only_once_signed() {
    let garbage = b"not json at all";
    assert!(matches!(
        receive(&signed(garbage)).await,
        Err(WebhookError::MalformedPayload(_))
    ));
    let forged = format!("ts={};h1={}", NOW.0, "00".repeat(32));
    let unsigned = delivery(garbage, vec![("paddle-signature".into(), forged)]);
    assert_eq!(
        receive(&unsigned).await,
        Err(WebhookError::InvalidSignature)
    );
}

#[tokio::test]
async fn missing_signature_header_is_named() {
    let body = fixture("02_subscription_created").to_string();
    let unsigned = delivery(
        body.as_bytes(),
        vec![("content-type".into(), "application/json".into())],
    );
    assert_eq!(
        receive(&unsigned).await,
        Err(WebhookError::MissingSignature("Paddle-Signature"))
    );
}

#[tokio::test]
async fn signed_delivery_verifies_whatever_the_header_case() {
    let body = fixture("02_subscription_created").to_string();
    let header = sign(&WebhookSecret::new(SECRET), NOW, body.as_bytes());
    let shouted = delivery(body.as_bytes(), vec![("Paddle-Signature".into(), header)]);
    let event = receive(&shouted).await.unwrap();
    assert_eq!(event.event_id, "evt_01k2cfq3d4e5f6g7h8j9k0m1n2");
}

#[tokio::test]
async fn a_rotated_key_verifies_next_to_the_old_one() {
    let body = fixture("06_subscription_past_due").to_string();
    let header = sign(
        &WebhookSecret::new("pdl_ntfset_new_key"),
        NOW,
        body.as_bytes(),
    );
    let credentials = ProviderCredentials::with_webhook_secrets([
        WebhookSecret::new(SECRET),
        WebhookSecret::new("pdl_ntfset_new_key"),
    ]);
    let event = PaddleWebhooks::new()
        .verify_and_parse(
            &delivery(body.as_bytes(), vec![("paddle-signature".into(), header)]),
            &credentials,
            NOW,
            &catalog(),
        )
        .await
        .unwrap();
    assert_eq!(event.event_type, "subscription.past_due");
}

#[tokio::test]
async fn a_wider_window_can_be_configured() {
    let body = fixture("02_subscription_created").to_string();
    let header = sign(
        &WebhookSecret::new(SECRET),
        NOW.plus_seconds(-120),
        body.as_bytes(),
    );
    let old = delivery(body.as_bytes(), vec![("paddle-signature".into(), header)]);
    let credentials = ProviderCredentials::with_webhook_secrets([WebhookSecret::new(SECRET)]);
    assert_eq!(receive(&old).await, Err(WebhookError::TimestampTooOld));
    assert!(PaddleWebhooks::with_tolerance_seconds(300)
        .verify_and_parse(&old, &credentials, NOW, &catalog())
        .await
        .is_ok());
}

// ---------- Payments ----------

#[test]
fn a_completed_transaction_reports_its_captured_payment_with_paddles_tax() {
    for name in [
        "03_transaction_completed_checkout",
        "07_transaction_completed_renewal",
    ] {
        let payment = parse_fixture(name)
            .payment
            .unwrap_or_else(|| panic!("{name}: a payment"));
        assert_eq!(
            payment.status,
            billing_domain::ledger::PaymentStatus::Success,
            "{name}"
        );
        assert_eq!(payment.amount, Money::new(2069, "usd"), "{name}");
        assert_eq!(
            payment.tax_minor,
            Some(169),
            "{name}: Paddle, the merchant of record, taxed it"
        );
        assert!(payment.payment_id.starts_with("txn_"), "{name}");
        let card = payment.method.expect("the captured attempt's card");
        assert_eq!(
            (card.brand.as_deref(), card.last4.as_deref()),
            (Some("visa"), Some("4242"))
        );
        assert_eq!(payment.lines.len(), 1);
        assert_eq!(payment.lines[0].description, "Pro");
        assert_eq!(payment.lines[0].amount_minor, 1900);
    }
    let renewal = parse_fixture("07_transaction_completed_renewal")
        .payment
        .unwrap();
    assert_eq!(
        renewal.at.seconds(),
        unix_seconds("2025-11-04T10:15:19Z").unwrap(),
        "captured_at"
    );
    // `transaction.paid` comes first and reports nothing: one log entry per transaction.
    assert_eq!(parse_fixture("04_transaction_paid_renewal").payment, None);
}

#[test]
fn a_failed_payment_reports_the_attempt_and_its_error_code() {
    let payment = parse_fixture("05_transaction_payment_failed_renewal")
        .payment
        .expect("a payment");
    assert_eq!(payment.payment_id, "8f72cfa6-26b4-4a57-91dc-8f2708f7822d");
    assert_eq!(
        payment.status,
        billing_domain::ledger::PaymentStatus::Failed
    );
    assert_eq!(payment.failure_code.as_deref(), Some("declined"));
    assert_eq!(payment.amount, Money::new(2069, "usd"));
}

#[test]
fn an_approved_refund_adjustment_credits_its_transaction_and_a_pending_one_nothing() {
    let adjustment = |event_type: &str, status: &str| {
        json!({
            "event_id": "evt_01k9adjustment0000000000001", "event_type": event_type,
            "occurred_at": "2025-11-10T10:00:00.000000Z", "notification_id": "ntf_01k9adjustment000000000001",
            "data": {"id": "adj_01k9refund000000000000001", "action": "refund", "type": "partial",
                "status": status, "reason": "requested by customer",
                "transaction_id": "txn_01k8m4n5p6q7r8s9t0v1w2x3y4", "subscription_id": "sub_01k2cfmqd6s0srb3xgkffcdmtd",
                "customer_id": "ctm_01k2cf0a2b3c4d5e6f7g8h9j0k", "currency_code": "USD",
                "totals": {"subtotal": "950", "tax": "84", "total": "1034", "fee": "0", "earnings": "0", "currency_code": "USD"},
                "created_at": "2025-11-10T09:59:58.000000Z", "updated_at": "2025-11-10T10:00:00.000000Z"}
        })
    };
    let approved = parse(&adjustment("adjustment.updated", "approved")).unwrap();
    assert_eq!(
        approved.kind,
        EventKind::PaymentReported {
            customer_id: Some("ctm_01k2cf0a2b3c4d5e6f7g8h9j0k".into()),
            subscription_id: Some("sub_01k2cfmqd6s0srb3xgkffcdmtd".into()),
        }
    );
    let refund = approved.payment.expect("a refund");
    assert_eq!(
        refund.status,
        billing_domain::ledger::PaymentStatus::Refunded
    );
    assert_eq!(
        refund.refund_of.as_deref(),
        Some("txn_01k8m4n5p6q7r8s9t0v1w2x3y4")
    );
    assert_eq!(refund.amount, Money::new(1034, "usd"));
    assert_eq!(
        refund.at.seconds(),
        unix_seconds("2025-11-10T09:59:58Z").unwrap()
    );
    // Awaiting Paddle's approval, it gives nothing back yet.
    let pending = parse(&adjustment("adjustment.created", "pending_approval")).unwrap();
    assert_eq!((pending.kind, pending.payment), (EventKind::Unknown, None));
}
