//! Sandbox deliveries through `SandboxWebhooks`: events built with the
//! shared wire types and signed the Standard Webhooks way, the failures a
//! receiver must refuse, and a whole subscription lifecycle (checkout →
//! active → paid → renewal failed → canceled) folded through `apply_event`
//! into the internal states we expect.

use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{
    apply_event, Catalog, EventKind, Money, PlanCode, Provider, ProviderEvent, SnapshotChange,
    Subscription, SubscriptionStatus, TenantId, Transition, UnixTime,
};
use billing_providers::sandbox::wire::{
    CheckoutSessionObject, InvoiceCard, InvoiceObject, PaymentMethodObject, SandboxEvent,
    SandboxEventType, ScheduledChangeObject, SubscriptionObject,
};
use billing_providers::sandbox::SandboxWebhooks;
use billing_providers::standard_webhooks::sign;
use serde::Serialize;

const SECRET: &str = "whsec_c2FuZGJveC1sb2NhbC1kZXZlbG9wbWVudC1vbmx5LW5vdC1hLXNlY3JldA==";
const OTHER_SECRET: &str = "whsec_b3RoZXItc2FuZGJveC1zZWNyZXQ=";
const T0: i64 = 1_750_000_000;
const MONTH: i64 = 30 * 86_400;

fn catalog() -> Catalog {
    Catalog::from_json(
        r#"{"plans":[
        {"code":"free","displayName":"Free","interval":"month","active":true,
         "price":{"amount_minor":0,"currency":"usd"}},
        {"code":"pro","displayName":"Pro","interval":"month","active":true,
         "price":{"amount_minor":1900,"currency":"usd"},
         "providers":{"stripe":{"priceId":"price_pro_monthly"},
                      "sandbox":{"priceId":"sbx_price_pro_monthly"}}}
    ]}"#,
    )
    .unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("org_42").unwrap()
}

fn body<D: Serialize>(event: &SandboxEvent<D>) -> Vec<u8> {
    serde_json::to_vec(event).unwrap()
}

/// Signed as the sandbox sends it: `webhook-id` = the event id, signed at `at`.
fn delivery_at(secret: &str, id: &str, body: &[u8], at: i64) -> WebhookDelivery {
    let signature = sign(&WebhookSecret::new(secret), id, at, body).unwrap();
    WebhookDelivery {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), at.to_string()),
            ("webhook-signature".into(), signature),
        ],
        body: body.to_vec(),
    }
}

/// A verifier with the development secret, run to completion (the scheme
/// needs no network, so a current-thread runtime is enough).
fn verify_with(
    verifier: &SandboxWebhooks,
    delivery: &WebhookDelivery,
    now: i64,
) -> Result<ProviderEvent, WebhookError> {
    let credentials = ProviderCredentials::with_webhook_secrets([WebhookSecret::new(SECRET)]);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(verifier.verify_and_parse(delivery, &credentials, UnixTime(now), &catalog()))
}

fn receive(delivery: &WebhookDelivery, now: i64) -> Result<ProviderEvent, WebhookError> {
    verify_with(&SandboxWebhooks::new(), delivery, now)
}

fn send<D: Serialize>(event: &SandboxEvent<D>) -> ProviderEvent {
    let delivery = delivery_at(SECRET, &event.id, &body(event), event.created);
    receive(&delivery, event.created).unwrap_or_else(|e| panic!("{}: {e}", event.id))
}

fn checkout(id: &str, at: i64) -> SandboxEvent<CheckoutSessionObject> {
    SandboxEvent::new(
        id,
        SandboxEventType::CheckoutCompleted,
        at,
        CheckoutSessionObject {
            id: "cs_1".into(),
            customer_id: "cus_1".into(),
            subscription_id: "sub_1".into(),
            tenant_id: "org_42".into(),
            plan_code: "pro".into(),
        },
    )
}

fn subscription(
    id: &str,
    event_type: SandboxEventType,
    at: i64,
    edit: impl FnOnce(&mut SubscriptionObject),
) -> SandboxEvent<SubscriptionObject> {
    let mut object = SubscriptionObject {
        id: "sub_1".into(),
        customer_id: "cus_1".into(),
        tenant_id: "org_42".into(),
        status: "active".into(),
        price_id: "sbx_price_pro_monthly".into(),
        current_period_start: Some(T0),
        current_period_end: Some(T0 + MONTH),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        quantity: 1,
        scheduled_change: None,
    };
    edit(&mut object);
    SandboxEvent::new(id, event_type, at, object)
}

fn invoice(
    id: &str,
    event_type: SandboxEventType,
    at: i64,
    invoice_id: &str,
    paid: bool,
) -> SandboxEvent<InvoiceObject> {
    SandboxEvent::new(
        id,
        event_type,
        at,
        InvoiceObject {
            id: invoice_id.into(),
            customer_id: "cus_1".into(),
            subscription_id: "sub_1".into(),
            tenant_id: "org_42".into(),
            created: at,
            amount_due: 1900,
            amount_paid: if paid { 1900 } else { 0 },
            currency: "usd".into(),
            attempt_count: 1,
            plan_code: Some("pro".into()),
            quantity: Some(2),
            period_start: Some(at),
            period_end: Some(at + 30 * 86_400),
            proration: false,
            card: Some(InvoiceCard {
                brand: "visa".into(),
                last4: "4242".into(),
            }),
            failure_code: (!paid).then(|| "card_declined".into()),
        },
    )
}

// ---------- Verification ----------

#[test]
fn valid_delivery_is_accepted_with_the_webhook_id_as_event_id() {
    let event = send(&checkout("evt_checkout", T0));
    assert_eq!(event.provider, Provider::Sandbox);
    assert_eq!(event.event_id, "evt_checkout");
    assert_eq!(event.event_type, "checkout.completed");
    assert_eq!(event.occurred_at, UnixTime(T0));
    assert_eq!(event.tenant_hint, Some(tenant()));
}

#[test]
fn tampered_delivery_is_rejected() {
    let event = checkout("evt_checkout", T0);
    let mut delivery = delivery_at(SECRET, &event.id, &body(&event), T0);
    let tampered = String::from_utf8(delivery.body.clone())
        .unwrap()
        .replace("org_42", "org_43");
    delivery.body = tampered.into_bytes();
    assert_eq!(receive(&delivery, T0), Err(WebhookError::InvalidSignature));
}

#[test]
fn delivery_signed_with_another_secret_is_rejected() {
    let event = checkout("evt_checkout", T0);
    let delivery = delivery_at(OTHER_SECRET, &event.id, &body(&event), T0);
    assert_eq!(receive(&delivery, T0), Err(WebhookError::InvalidSignature));
}

#[test]
fn expired_delivery_is_rejected() {
    let event = checkout("evt_checkout", T0);
    let delivery = delivery_at(SECRET, &event.id, &body(&event), T0);
    assert_eq!(
        receive(&delivery, T0 + 301),
        Err(WebhookError::TimestampTooOld)
    );
    assert_eq!(
        receive(&delivery, T0 - 301),
        Err(WebhookError::TimestampInFuture)
    );
}

#[test]
fn custom_tolerance_applies() {
    let event = checkout("evt_checkout", T0);
    let delivery = delivery_at(SECRET, &event.id, &body(&event), T0);
    let strict = SandboxWebhooks::with_tolerance_seconds(10);
    assert_eq!(
        verify_with(&strict, &delivery, T0 + 11),
        Err(WebhookError::TimestampTooOld)
    );
}

#[test]
fn missing_signature_header_is_named() {
    let event = checkout("evt_checkout", T0);
    let mut delivery = delivery_at(SECRET, &event.id, &body(&event), T0);
    delivery.headers.retain(|(n, _)| n != "webhook-signature");
    assert_eq!(
        receive(&delivery, T0),
        Err(WebhookError::MissingSignature("webhook-signature"))
    );
}

#[test]
fn webhook_id_that_differs_from_the_event_id_is_rejected() {
    let event = checkout("evt_checkout", T0);
    // Correctly signed, but under another message id: the dedupe key would
    // not be the id of the event we apply.
    let delivery = delivery_at(SECRET, "evt_other", &body(&event), T0);
    let error = receive(&delivery, T0).unwrap_err();
    assert!(
        matches!(error, WebhookError::MalformedPayload(_)),
        "{error}"
    );
}

#[test]
fn malformed_payload_errors_never_echo_its_content() {
    let raw = br#"{"id":"evt_x","type":"invoice.paid","created":1750000000,"data":{"id":"in_1","customer_id":"cus_secret_marker","amount_due":"lots"}}"#;
    let delivery = delivery_at(SECRET, "evt_x", raw, T0);
    let error = receive(&delivery, T0).unwrap_err();
    assert!(matches!(error, WebhookError::MalformedPayload(_)));
    let shown = error.to_string();
    assert!(
        !shown.contains("secret_marker") && !shown.contains("lots"),
        "{shown}"
    );
}

#[test]
fn unknown_event_type_is_acknowledged_as_unknown() {
    let raw =
        br#"{"id":"evt_u","type":"customer.deleted","created":1750000000,"data":{"id":"cus_1"}}"#;
    let event = receive(&delivery_at(SECRET, "evt_u", raw, T0), T0).unwrap();
    assert_eq!(event.kind, EventKind::Unknown);
    assert_eq!(event.event_type, "customer.deleted");
}

#[test]
fn a_saved_card_is_a_payment_method_event_for_the_tenant_and_changes_no_state() {
    let event = send(&SandboxEvent::new(
        "evt_pm",
        SandboxEventType::PaymentMethodAttached,
        T0,
        PaymentMethodObject {
            id: "pm_1".into(),
            customer_id: "cus_1".into(),
            tenant_id: "org_42".into(),
            kind: "card".into(),
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2034,
        },
    ));
    assert_eq!(
        event.kind,
        EventKind::PaymentMethodAttached {
            customer_id: Some("cus_1".into()),
            payment_method_id: "pm_1".into(),
        }
    );
    assert_eq!(event.tenant_hint, Some(tenant()));
}

#[test]
fn a_scheduled_change_rides_along_without_changing_the_snapshot() {
    let plain = send(&subscription(
        "evt_a",
        SandboxEventType::SubscriptionUpdated,
        T0,
        |_| {},
    ));
    let scheduled = send(&subscription(
        "evt_a",
        SandboxEventType::SubscriptionUpdated,
        T0,
        |s| {
            s.scheduled_change = Some(ScheduledChangeObject {
                price_id: "sbx_price_team_monthly".into(),
                quantity: 3,
                effective_at: T0 + MONTH,
            })
        },
    ));
    assert_eq!(plain.kind, scheduled.kind);
}

#[test]
fn subscription_snapshot_carries_plan_price_period_and_seats() {
    let event = send(&subscription(
        "evt_sub",
        SandboxEventType::SubscriptionCreated,
        T0,
        |s| s.quantity = 3,
    ));
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(change, SnapshotChange::Created);
    assert_eq!(snapshot.subscription_id, "sub_1");
    assert_eq!(snapshot.customer_id, "cus_1");
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
    assert_eq!(snapshot.provider_status, "active");
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
    assert_eq!(snapshot.price_id.as_deref(), Some("sbx_price_pro_monthly"));
    assert_eq!(snapshot.current_period_start, Some(UnixTime(T0)));
    assert_eq!(snapshot.current_period_end, Some(UnixTime(T0 + MONTH)));
    assert_eq!(snapshot.seats, 3);
    assert_eq!(event.tenant_hint, Some(tenant()));
}

#[test]
fn price_outside_the_catalog_leaves_the_plan_unknown() {
    let event = send(&subscription(
        "evt_sub",
        SandboxEventType::SubscriptionUpdated,
        T0,
        |s| s.price_id = "sbx_price_retired".into(),
    ));
    let EventKind::SubscriptionSnapshot { snapshot, .. } = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(snapshot.plan, None);
}

#[test]
fn invalid_tenant_hint_is_dropped_not_fatal() {
    let mut event = checkout("evt_checkout", T0);
    event.data.tenant_id = "not a tenant!".into();
    assert_eq!(send(&event).tenant_hint, None);
}

#[test]
fn invoice_amounts_are_minor_units() {
    let event = send(&invoice(
        "evt_inv",
        SandboxEventType::InvoicePaid,
        T0,
        "in_1",
        true,
    ));
    let EventKind::InvoicePaid(details) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(details.amount_due, Money::new(1900, "usd"));
    assert_eq!(details.amount_paid, Money::new(1900, "usd"));
    assert_eq!(details.subscription_id.as_deref(), Some("sub_1"));
    assert_eq!(details.created, UnixTime(T0));
}

#[test]
fn invoices_report_the_card_plan_and_seats_or_the_decline() {
    use billing_domain::ledger::PaymentStatus;
    let paid = send(&invoice(
        "evt_paid",
        SandboxEventType::InvoicePaid,
        T0,
        "in_1",
        true,
    ))
    .payment
    .expect("a payment");
    assert_eq!(
        (paid.payment_id.as_str(), paid.status),
        ("in_1", PaymentStatus::Success)
    );
    assert_eq!(paid.amount, Money::new(1900, "usd"));
    let card = paid.method.expect("the card");
    assert_eq!(
        (card.brand.as_deref(), card.last4.as_deref()),
        (Some("visa"), Some("4242"))
    );
    assert_eq!(
        (paid.plan.as_ref().map(|p| p.as_str()), paid.seats),
        (Some("pro"), Some(2))
    );
    assert_eq!(paid.lines[0].description, "pro × 2");
    let failed = send(&invoice(
        "evt_failed",
        SandboxEventType::InvoicePaymentFailed,
        T0,
        "in_2",
        false,
    ))
    .payment
    .expect("a failed attempt");
    assert_eq!(
        (failed.payment_id.as_str(), failed.status),
        ("in_2#1", PaymentStatus::Failed)
    );
    assert_eq!(failed.failure_code.as_deref(), Some("card_declined"));
}

// ---------- A whole lifecycle ----------

struct Record(Option<Subscription>);

impl Record {
    fn apply(&mut self, event: &ProviderEvent) -> &Subscription {
        if let Transition::Applied(next) =
            apply_event(self.0.as_ref(), &tenant(), event, event.occurred_at)
        {
            self.0 = Some(*next);
        }
        self.0.as_ref().expect("a record after the first event")
    }
}

#[test]
fn lifecycle_normalizes_to_the_expected_internal_states() {
    let mut record = Record(None);
    let renewal = T0 + MONTH;

    // A paid checkout: the three events share a second and the domain's
    // same-second precedence orders them.
    let state = record.apply(&send(&checkout("evt_a1", T0)));
    assert_eq!(state.status, SubscriptionStatus::Incomplete);
    assert_eq!(state.plan, Some(PlanCode::new("pro")));

    let state = record.apply(&send(&subscription(
        "evt_a2",
        SandboxEventType::SubscriptionCreated,
        T0,
        |_| {},
    )));
    assert_eq!(state.status, SubscriptionStatus::Active);
    assert_eq!(state.provider, Provider::Sandbox);
    assert_eq!(state.provider_subscription_id.as_deref(), Some("sub_1"));
    assert_eq!(state.current_period_end, Some(UnixTime(T0 + MONTH)));

    let state = record.apply(&send(&invoice(
        "evt_a3",
        SandboxEventType::InvoicePaid,
        T0,
        "in_1",
        true,
    )));
    assert_eq!(state.status, SubscriptionStatus::Active);
    assert_eq!(state.past_due_since, None);

    // The first renewal fails.
    let state = record.apply(&send(&invoice(
        "evt_b1",
        SandboxEventType::InvoicePaymentFailed,
        renewal,
        "in_2",
        false,
    )));
    assert_eq!(state.status, SubscriptionStatus::Active);
    let state = record.apply(&send(&subscription(
        "evt_b2",
        SandboxEventType::SubscriptionUpdated,
        renewal,
        |s| {
            s.status = "past_due".into();
            s.current_period_start = Some(renewal);
            s.current_period_end = Some(renewal + MONTH);
        },
    )));
    assert_eq!(state.status, SubscriptionStatus::PastDue);
    assert_eq!(state.past_due_since, Some(UnixTime(renewal)));
    assert_eq!(state.current_period_end, Some(UnixTime(renewal + MONTH)));

    // Canceled for good.
    let ended = renewal + 86_400;
    let state = record.apply(&send(&subscription(
        "evt_c1",
        SandboxEventType::SubscriptionCanceled,
        ended,
        |s| {
            s.status = "canceled".into();
            s.canceled_at = Some(ended);
            s.current_period_start = Some(renewal);
            s.current_period_end = Some(renewal + MONTH);
        },
    )));
    assert_eq!(state.status, SubscriptionStatus::Canceled);
    assert_eq!(state.canceled_at, Some(UnixTime(ended)));
    assert_eq!(state.past_due_since, None);
}

#[test]
fn same_second_checkout_events_converge_whatever_the_delivery_order() {
    let events = [
        send(&checkout("evt_z9", T0)),
        send(&subscription(
            "evt_a0",
            SandboxEventType::SubscriptionCreated,
            T0,
            |_| {},
        )),
        send(&invoice(
            "evt_m5",
            SandboxEventType::InvoicePaid,
            T0,
            "in_1",
            true,
        )),
    ];
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]] {
        let mut record = Record(None);
        for i in order {
            record.apply(&events[i]);
        }
        assert_eq!(
            record.0.as_ref().unwrap().status,
            SubscriptionStatus::Active,
            "{order:?}"
        );
    }
}
