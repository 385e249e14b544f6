//! Stripe deliveries through `StripeWebhooks`: signed fixture events shaped
//! like Stripe's, one per event type we act on, both API-version shapes, and
//! the failure cases a receiver must refuse.

use billing_domain::ledger::PaymentStatus;
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{
    Catalog, EventKind, Money, PlanCode, Provider, ProviderEvent, SnapshotChange,
    SubscriptionStatus, TenantId, UnixTime,
};
use billing_providers::stripe::{parse_event, sign, StripeWebhooks};

const SECRET: &str = "whsec_test_fixture_secret";
const NOW: UnixTime = UnixTime(1_750_000_000);

fn catalog() -> Catalog {
    Catalog::from_json(
        r#"{"plans":[
        {"code":"free","displayName":"Free","interval":"month","active":true,
         "price":{"amount_minor":0,"currency":"usd"}},
        {"code":"pro","displayName":"Pro","interval":"month","active":true,
         "price":{"amount_minor":1900,"currency":"usd"},
         "providers":{"stripe":{"priceId":"price_pro_monthly"}}},
        {"code":"team","displayName":"Team","interval":"month","active":true,
         "price":{"amount_minor":4900,"currency":"usd"},
         "providers":{"stripe":{"priceId":"price_team_monthly"}}}
    ]}"#,
    )
    .unwrap()
}

fn fixture(name: &str) -> String {
    crate::fixture(&format!("stripe/{name}.json"))
}

fn delivery(body: &str) -> WebhookDelivery {
    let header = sign(&WebhookSecret::new(SECRET), NOW, body.as_bytes());
    WebhookDelivery {
        headers: vec![
            (
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("stripe-signature".into(), header),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// The verifier with the development secret, run to completion: Stripe's
/// scheme needs no network, so a current-thread runtime is enough.
fn verify(
    verifier: &StripeWebhooks,
    delivery: &WebhookDelivery,
    now: UnixTime,
) -> Result<ProviderEvent, WebhookError> {
    let credentials = ProviderCredentials::with_webhook_secrets([WebhookSecret::new(SECRET)]);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(verifier.verify_and_parse(delivery, &credentials, now, &catalog()))
}

fn receive(body: &str) -> Result<ProviderEvent, WebhookError> {
    verify(&StripeWebhooks::new(), &delivery(body), NOW)
}

fn receive_fixture(name: &str) -> ProviderEvent {
    receive(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn org_42() -> Option<TenantId> {
    Some(TenantId::parse("org_42").unwrap())
}

/// Edits a fixture as JSON; the edited body is then signed as a whole.
fn edited(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
    edit(&mut value);
    value.to_string()
}

// ---------- One test per event type ----------

#[test]
fn checkout_session_completed_names_session_customer_subscription_plan_and_tenant() {
    let event = receive_fixture("checkout_session_completed");
    assert_eq!(event.provider, Provider::Stripe);
    assert_eq!(event.event_id, "evt_1QcheckoutCompleted01");
    assert_eq!(event.event_type, "checkout.session.completed");
    assert_eq!(event.occurred_at, UnixTime(1_735_689_600));
    assert_eq!(event.tenant_hint, org_42());
    let EventKind::CheckoutCompleted(details) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(details.session_id, "cs_test_a1B2c3D4e5F6g7H8");
    assert_eq!(details.customer_id.as_deref(), Some("cus_RtenantOrg42"));
    assert_eq!(details.subscription_id.as_deref(), Some("sub_1QproOrg42"));
    assert_eq!(details.plan, Some(PlanCode::new("pro")));
}

#[test]
fn checkout_tenant_falls_back_to_metadata_without_client_reference_id() {
    let body = edited("checkout_session_completed", |v| {
        v["data"]["object"]["client_reference_id"] = serde_json::Value::Null;
        v["data"]["object"]["metadata"]["tenant_id"] = "org_from_metadata".into();
    });
    assert_eq!(
        receive(&body).unwrap().tenant_hint,
        Some(TenantId::parse("org_from_metadata").unwrap())
    );
}

#[test]
fn checkout_in_payment_mode_is_unknown() {
    let body = edited("checkout_session_completed", |v| {
        v["data"]["object"]["mode"] = "payment".into();
        v["data"]["object"]["subscription"] = serde_json::Value::Null;
    });
    let event = receive(&body).unwrap();
    assert_eq!(event.kind, EventKind::Unknown);
    assert_eq!(event.event_id, "evt_1QcheckoutCompleted01");
}

#[test]
fn subscription_created_legacy_shape_reads_top_level_period() {
    let event = receive_fixture("customer_subscription_created");
    assert_eq!(event.tenant_hint, org_42());
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(change, SnapshotChange::Created);
    assert_eq!(snapshot.subscription_id, "sub_1QproOrg42");
    assert_eq!(snapshot.customer_id, "cus_RtenantOrg42");
    assert_eq!(snapshot.status, SubscriptionStatus::Trialing);
    assert_eq!(snapshot.provider_status, "trialing");
    assert_eq!(snapshot.price_id.as_deref(), Some("price_pro_monthly"));
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
    assert_eq!(snapshot.seats, 1);
    assert_eq!(snapshot.current_period_start, Some(UnixTime(1_735_689_600)));
    assert_eq!(snapshot.current_period_end, Some(UnixTime(1_736_899_200)));
    assert_eq!(snapshot.trial_end, Some(UnixTime(1_736_899_200)));
    assert!(!snapshot.cancel_at_period_end);
    assert_eq!(snapshot.cancel_at, None);
    assert_eq!(snapshot.canceled_at, None);
}

#[test]
fn subscription_updated_basil_shape_reads_period_from_the_item() {
    let event = receive_fixture("customer_subscription_updated");
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(change, SnapshotChange::Updated);
    assert_eq!(snapshot.status, SubscriptionStatus::PastDue);
    assert_eq!(snapshot.price_id.as_deref(), Some("price_team_monthly"));
    // The plan comes from the price, not from the (stale) metadata.
    assert_eq!(snapshot.plan, Some(PlanCode::new("team")));
    assert_eq!(snapshot.seats, 3);
    assert_eq!(snapshot.current_period_start, Some(UnixTime(1_738_368_000)));
    assert_eq!(snapshot.current_period_end, Some(UnixTime(1_740_787_200)));
    assert!(snapshot.cancel_at_period_end);
    assert_eq!(snapshot.cancel_at, Some(UnixTime(1_740_787_200)));
    assert_eq!(snapshot.canceled_at, Some(UnixTime(1_738_367_990)));
    assert_eq!(snapshot.trial_end, None);
}

#[test]
fn subscription_paused_is_a_paused_snapshot() {
    let event = receive_fixture("customer_subscription_paused");
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(change, SnapshotChange::Paused);
    assert_eq!(snapshot.status, SubscriptionStatus::Paused);
}

#[test]
fn subscription_resumed_is_a_resumed_snapshot() {
    let event = receive_fixture("customer_subscription_resumed");
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(change, SnapshotChange::Resumed);
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
    assert_eq!(snapshot.current_period_end, Some(UnixTime(1_739_778_400)));
}

#[test]
fn subscription_deleted_carries_the_final_snapshot() {
    let event = receive_fixture("customer_subscription_deleted");
    assert_eq!(event.tenant_hint, org_42());
    let EventKind::SubscriptionDeleted { snapshot } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
    assert_eq!(snapshot.current_period_end, Some(UnixTime(1_740_787_200)));
}

#[test]
fn invoice_paid_legacy_shape_reads_top_level_subscription() {
    let event = receive_fixture("invoice_paid");
    assert_eq!(event.tenant_hint, org_42());
    let EventKind::InvoicePaid(invoice) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(invoice.invoice_id, "in_1QsecondInvoice01");
    assert_eq!(invoice.customer_id.as_deref(), Some("cus_RtenantOrg42"));
    assert_eq!(invoice.subscription_id.as_deref(), Some("sub_1QproOrg42"));
    assert_eq!(invoice.created, UnixTime(1_736_899_200));
    assert_eq!(invoice.amount_due, Money::new(1900, "usd"));
    assert_eq!(invoice.amount_paid, Money::new(1900, "usd"));
    assert_eq!(invoice.attempt_count, 1);
}

#[test]
fn invoice_payment_failed_basil_shape_reads_parent_subscription_details() {
    let event = receive_fixture("invoice_payment_failed");
    assert_eq!(event.tenant_hint, org_42());
    let EventKind::InvoicePaymentFailed(invoice) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(invoice.subscription_id.as_deref(), Some("sub_1QproOrg42"));
    assert_eq!(
        invoice.amount_due,
        Money {
            amount_minor: 399_900,
            currency: "inr".into()
        }
    );
    assert_eq!(invoice.amount_paid, Money::new(0, "inr"));
    assert_eq!(invoice.attempt_count, 2);
}

#[test]
fn a_paid_invoice_reports_its_payment_with_stripe_taxes_lines_and_paid_time() {
    // Legacy shape: no taxes, lines or transitions; the event's time stands in.
    let legacy = receive_fixture("invoice_paid").payment.expect("a payment");
    assert_eq!(legacy.payment_id, "in_1QsecondInvoice01");
    assert_eq!(legacy.status, PaymentStatus::Success);
    assert_eq!(legacy.amount, Money::new(1900, "usd"));
    assert_eq!(
        (legacy.tax_minor, legacy.at),
        (None, UnixTime(1_736_899_205))
    );

    let body = edited("invoice_paid", |v| {
        let invoice = &mut v["data"]["object"];
        invoice["amount_paid"] = serde_json::json!(2242);
        invoice["total_taxes"] = serde_json::json!([{"amount": 342, "tax_behavior": "exclusive"}]);
        invoice["status_transitions"] = serde_json::json!({"paid_at": 1_736_899_203});
        invoice["lines"] = serde_json::json!({"object": "list", "data": [
            {"description": "Remaining time on Team after 15 Jan", "amount": 2900, "quantity": 1,
             "period": {"start": 1_736_899_200, "end": 1_738_368_000},
             "parent": {"subscription_item_details": {"proration": true}}},
            {"description": "Unused time on Pro after 15 Jan", "amount": -1000, "quantity": 1,
             "period": {"start": 1_736_899_200, "end": 1_738_368_000},
             "parent": {"subscription_item_details": {"proration": true}}}
        ]});
    });
    let payment = receive(&body).unwrap().payment.expect("a payment");
    assert_eq!(payment.tax_minor, Some(342));
    assert_eq!(
        payment.at,
        UnixTime(1_736_899_203),
        "paid_at, the same in every delivery"
    );
    assert_eq!(payment.lines.len(), 2);
    assert!(payment.lines.iter().all(|l| l.proration));
    assert_eq!(payment.period_end, Some(UnixTime(1_738_368_000)));

    // A trial's zero invoice collected nothing: no payment.
    let zero = edited("invoice_paid", |v| {
        v["data"]["object"]["amount_paid"] = serde_json::json!(0)
    });
    assert_eq!(receive(&zero).unwrap().payment, None);
}

#[test]
fn a_failed_invoice_reports_the_attempt_by_its_number() {
    let payment = receive_fixture("invoice_payment_failed")
        .payment
        .expect("a payment");
    assert_eq!(payment.payment_id, "in_1QthirdInvoice01#2");
    assert_eq!(payment.status, PaymentStatus::Failed);
    assert_eq!(payment.amount, Money::new(399_900, "inr"));
}

#[test]
fn invoice_with_fractional_amount_is_malformed_not_rounded() {
    let body = edited("invoice_paid", |v| {
        v["data"]["object"]["amount_due"] = serde_json::json!(19.99)
    });
    assert!(matches!(
        receive(&body),
        Err(WebhookError::MalformedPayload(_))
    ));
}

#[test]
fn payment_method_attached_names_customer_and_method() {
    let event = receive_fixture("payment_method_attached");
    assert_eq!(
        event.kind,
        EventKind::PaymentMethodAttached {
            customer_id: Some("cus_RtenantOrg42".into()),
            payment_method_id: "pm_1QcardVisa4242".into(),
        }
    );
}

#[test]
fn unhandled_event_type_is_unknown_but_accepted() {
    let event = receive_fixture("customer_created");
    assert_eq!(event.kind, EventKind::Unknown);
    assert_eq!(event.event_id, "evt_1QcustomerCreated01");
    assert_eq!(event.event_type, "customer.created");
    assert_eq!(event.occurred_at, UnixTime(1_735_689_400));
}

// ---------- Field edge cases ----------

#[test]
fn unrecognised_subscription_status_grants_no_access_and_is_kept() {
    let body = edited("customer_subscription_updated", |v| {
        v["data"]["object"]["status"] = "awaiting_something_new".into();
    });
    let EventKind::SubscriptionSnapshot { snapshot, .. } = receive(&body).unwrap().kind else {
        panic!()
    };
    assert_eq!(snapshot.status, SubscriptionStatus::Incomplete);
    assert_eq!(snapshot.provider_status, "awaiting_something_new");
}

#[test]
fn price_outside_the_catalog_gives_no_plan() {
    let body = edited("customer_subscription_updated", |v| {
        v["data"]["object"]["items"]["data"][0]["price"]["id"] = "price_someone_elses".into();
    });
    let EventKind::SubscriptionSnapshot { snapshot, .. } = receive(&body).unwrap().kind else {
        panic!()
    };
    assert_eq!(snapshot.price_id.as_deref(), Some("price_someone_elses"));
    assert_eq!(snapshot.plan, None);
}

#[test]
fn missing_quantity_means_one_seat() {
    let body = edited("customer_subscription_updated", |v| {
        v["data"]["object"]["items"]["data"][0]
            .as_object_mut()
            .unwrap()
            .remove("quantity");
    });
    let EventKind::SubscriptionSnapshot { snapshot, .. } = receive(&body).unwrap().kind else {
        panic!()
    };
    assert_eq!(snapshot.seats, 1);
}

#[test]
fn expanded_customer_object_is_read_as_its_id() {
    let body = edited("customer_subscription_updated", |v| {
        v["data"]["object"]["customer"] =
            serde_json::json!({"id": "cus_RtenantOrg42", "object": "customer"});
    });
    let EventKind::SubscriptionSnapshot { snapshot, .. } = receive(&body).unwrap().kind else {
        panic!()
    };
    assert_eq!(snapshot.customer_id, "cus_RtenantOrg42");
}

#[test]
fn invalid_tenant_id_is_dropped_not_rejected() {
    let body = edited("customer_subscription_updated", |v| {
        v["data"]["object"]["metadata"]["tenant_id"] = "org 42; drop table".into();
    });
    let event = receive(&body).unwrap();
    assert_eq!(event.tenant_hint, None);
    assert!(matches!(event.kind, EventKind::SubscriptionSnapshot { .. }));
}

#[test]
fn missing_required_fields_are_malformed_without_echoing_the_payload() {
    let cases: Vec<(&str, String)> = vec![
        (
            "event id",
            edited("invoice_paid", |v| {
                v.as_object_mut().unwrap().remove("id");
            }),
        ),
        (
            "event type",
            edited("invoice_paid", |v| {
                v.as_object_mut().unwrap().remove("type");
            }),
        ),
        (
            "created",
            edited("invoice_paid", |v| {
                v.as_object_mut().unwrap().remove("created");
            }),
        ),
        (
            "object id",
            edited("invoice_paid", |v| {
                v["data"]["object"].as_object_mut().unwrap().remove("id");
            }),
        ),
        (
            "subscription customer",
            edited("customer_subscription_updated", |v| {
                v["data"]["object"]
                    .as_object_mut()
                    .unwrap()
                    .remove("customer");
            }),
        ),
        (
            "wrong type",
            edited("customer_subscription_updated", |v| {
                v["data"]["object"]["status"] = serde_json::json!({"secret_marker": 1});
            }),
        ),
        ("not json", "secret_marker: not json".to_owned()),
    ];
    for (case, body) in cases {
        match receive(&body) {
            Err(WebhookError::MalformedPayload(message)) => {
                assert!(
                    !message.contains("secret_marker") && !message.contains("org_42"),
                    "{case}: {message}"
                );
                assert!(message.len() < 100, "{case}: {message}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

// ---------- Verification comes first ----------

#[test]
fn missing_signature_header_is_reported_by_name() {
    let mut delivery = delivery(&fixture("invoice_paid"));
    delivery
        .headers
        .retain(|(name, _)| name != "stripe-signature");
    let result = verify(&StripeWebhooks::new(), &delivery, NOW);
    assert_eq!(
        result,
        Err(WebhookError::MissingSignature("Stripe-Signature"))
    );
}

#[test]
fn signature_header_name_is_matched_case_insensitively() {
    let mut delivery = delivery(&fixture("invoice_paid"));
    for (name, _) in &mut delivery.headers {
        *name = name.to_uppercase();
    }
    assert!(verify(&StripeWebhooks::new(), &delivery, NOW).is_ok());
}

#[test]
fn malformed_body_with_a_bad_signature_is_a_signature_error() {
    // An unauthenticated body is never parsed, so its content cannot matter.
    let mut delivery = delivery("not json");
    delivery.body = b"also not json".to_vec();
    let result = verify(&StripeWebhooks::new(), &delivery, NOW);
    assert_eq!(result, Err(WebhookError::InvalidSignature));
}

#[test]
fn reformatted_body_fails_verification() {
    // Re-serializing (here: compacting) the JSON changes the signed bytes.
    let pretty = fixture("invoice_paid");
    let mut delivery = delivery(&pretty);
    delivery.body = serde_json::from_str::<serde_json::Value>(&pretty)
        .unwrap()
        .to_string()
        .into_bytes();
    let result = verify(&StripeWebhooks::new(), &delivery, NOW);
    assert_eq!(result, Err(WebhookError::InvalidSignature));
}

#[test]
fn configured_tolerance_applies_to_deliveries() {
    let verifier = StripeWebhooks::with_tolerance_seconds(10);
    let later = NOW.plus_seconds(11);
    let result = verify(&verifier, &delivery(&fixture("invoice_paid")), later);
    assert_eq!(result, Err(WebhookError::TimestampTooOld));
}

#[test]
fn parse_event_alone_reads_a_stored_payload_for_replay() {
    let body = fixture("invoice_paid");
    assert_eq!(
        parse_event(body.as_bytes(), &catalog()).unwrap(),
        receive(&body).unwrap()
    );
}

#[test]
fn a_credit_note_on_a_paid_invoice_is_a_refund_routed_by_customer() {
    let event = |kind: &str| {
        serde_json::json!({
            "id": "evt_1QcreditNote01", "object": "event", "api_version": "2025-07-30.basil",
            "created": 1_737_000_000, "type": "credit_note.created",
            "data": {"object": {"id": "cn_1QrefundHalf", "object": "credit_note",
                "customer": "cus_RtenantOrg42", "invoice": "in_1QsecondInvoice01",
                "currency": "usd", "total": 950, "created": 1_736_999_990, "type": kind,
                "reason": "requested_by_customer"}}
        })
        .to_string()
    };
    let refund = receive(&event("post_payment")).unwrap();
    assert_eq!(
        refund.kind,
        EventKind::PaymentReported {
            customer_id: Some("cus_RtenantOrg42".into()),
            subscription_id: None
        }
    );
    let payment = refund.payment.expect("a refund");
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(payment.refund_of.as_deref(), Some("in_1QsecondInvoice01"));
    assert_eq!(
        (payment.payment_id.as_str(), payment.amount.amount_minor),
        ("cn_1QrefundHalf", 950)
    );
    // A credit note before payment lowered what was due: nothing to credit.
    let before = receive(&event("pre_payment")).unwrap();
    assert_eq!((before.kind, before.payment), (EventKind::Unknown, None));
}
