//! PayPal webhook verification and normalization beyond the shared suite:
//! the cached OAuth token, the exact verify request, what never reaches
//! PayPal, how outages and refusals are reported, and what each event
//! becomes. PayPal is played by `fake_paypal.rs`.

use crate::catalog;
use crate::fake_paypal::{
    sign_delivery, FakePaypal, CERT_URL, CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID,
};
use crate::support::{unreachable_url, LocalServer};
use billing_domain::ports::{WebhookDelivery, WebhookError, WebhookVerifier};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    EventKind, Money, PlanCode, Provider, SnapshotChange, SubscriptionStatus, TenantId, UnixTime,
};
use billing_providers::paypal::{parse_event, PaypalWebhooks};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy};

const NOW: UnixTime = UnixTime(1_767_225_600);
const CREATED: &[u8] = include_bytes!("../fixtures/paypal/subscription_created.json");
const ACTIVATED: &[u8] = include_bytes!("../fixtures/paypal/subscription_activated.json");
const SALE: &[u8] = include_bytes!("../fixtures/paypal/sale_completed.json");
const PAYMENT_FAILED: &[u8] = include_bytes!("../fixtures/paypal/subscription_payment_failed.json");
const SUSPENDED: &[u8] = include_bytes!("../fixtures/paypal/subscription_suspended.json");
const CANCELLED: &[u8] = include_bytes!("../fixtures/paypal/subscription_cancelled.json");
const VERIFY: &str = "/v1/notifications/verify-webhook-signature";
const TOKEN: &str = "/v1/oauth2/token";

fn credentials(fields: serde_json::Value) -> ProviderCredentials {
    billing_providers::credentials::parse_entry(fields).expect("credentials")
}

fn our_credentials() -> ProviderCredentials {
    credentials(serde_json::json!({
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "webhookId": WEBHOOK_ID,
    }))
}

/// No retries, so failure tests do not wait for backoff.
fn http_config() -> HttpConfig {
    HttpConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..HttpConfig::default()
    }
}

fn verifier_for(base_url: &str) -> PaypalWebhooks {
    let config = http_config();
    PaypalWebhooks::new(ApiClient::new(config).expect("client")).with_base_url(base_url)
}

async fn verify(
    verifier: &PaypalWebhooks,
    delivery: &WebhookDelivery,
    credentials: &ProviderCredentials,
) -> Result<billing_domain::ProviderEvent, WebhookError> {
    verifier
        .verify_and_parse(delivery, credentials, NOW, &catalog())
        .await
}

fn signed(body: &[u8]) -> WebhookDelivery {
    sign_delivery(body, NOW, WEBHOOK_ID)
}

// ---------- The token ----------

#[tokio::test]
async fn token_is_fetched_once_and_reused_across_deliveries() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    for body in [CREATED, ACTIVATED, SALE] {
        verify(&verifier, &signed(body), &our_credentials())
            .await
            .expect("verified");
    }
    assert_eq!(paypal.token_grants(), 1);
    assert_eq!(paypal.requests_to(VERIFY).len(), 3);
}

#[tokio::test]
async fn token_about_to_expire_is_not_reused() {
    let paypal = FakePaypal::start().await;
    // Shorter than the five-minute refresh margin.
    paypal.state().token_lifetime_seconds = 120;
    let verifier = verifier_for(paypal.url());
    for body in [CREATED, ACTIVATED] {
        verify(&verifier, &signed(body), &our_credentials())
            .await
            .expect("verified");
    }
    assert_eq!(paypal.token_grants(), 2);
}

#[tokio::test]
async fn token_request_is_basic_auth_with_a_client_credentials_form() {
    use base64::Engine as _;
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    verify(&verifier, &signed(CREATED), &our_credentials())
        .await
        .expect("verified");
    let requests = paypal.requests_to(TOKEN);
    let request = &requests[0];
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.body, b"grant_type=client_credentials");
}

#[tokio::test]
async fn revoked_token_is_forgotten_and_replaced() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    verify(&verifier, &signed(CREATED), &our_credentials())
        .await
        .expect("verified");
    let first = paypal.state().issued_tokens[0].clone();
    paypal.state().revoked_tokens.push(first);
    assert_eq!(
        verify(&verifier, &signed(ACTIVATED), &our_credentials())
            .await
            .err(),
        Some(WebhookError::InvalidSignature)
    );
    verify(&verifier, &signed(ACTIVATED), &our_credentials())
        .await
        .expect("verified with a fresh token");
    assert_eq!(paypal.token_grants(), 2);
}

// ---------- The verify request ----------

#[tokio::test]
async fn verify_request_is_the_documented_shape_with_the_body_byte_for_byte() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    let delivery = signed(ACTIVATED);
    verify(&verifier, &delivery, &our_credentials())
        .await
        .expect("verified");

    let token = paypal.state().issued_tokens[0].clone();
    let requests = paypal.requests_to(VERIFY);
    let request = &requests[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));

    let sent: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON");
    let mut fields: Vec<_> = sent.as_object().expect("object").keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_event",
            "webhook_id"
        ]
    );
    for (field, header) in [
        ("auth_algo", "paypal-auth-algo"),
        ("cert_url", "paypal-cert-url"),
        ("transmission_id", "paypal-transmission-id"),
        ("transmission_sig", "paypal-transmission-sig"),
        ("transmission_time", "paypal-transmission-time"),
    ] {
        assert_eq!(sent[field].as_str(), delivery.header(header), "{field}");
    }
    assert_eq!(sent["webhook_id"], WEBHOOK_ID);
    let tail = [b"\"webhook_event\":".as_slice(), ACTIVATED, b"}"].concat();
    assert!(
        request.body.ends_with(&tail),
        "webhook_event is not the delivered body, unchanged"
    );
}

#[tokio::test]
async fn right_app_with_another_webhook_id_is_refused_by_paypal() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    let other_listener = credentials(serde_json::json!({
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "webhookId": "5GP028458E2496506",
    }));
    assert_eq!(
        verify(&verifier, &signed(CREATED), &other_listener)
            .await
            .err(),
        Some(WebhookError::InvalidSignature)
    );
    assert_eq!(paypal.requests_to(VERIFY).len(), 1);
}

#[tokio::test]
async fn edited_value_inside_valid_json_is_refused_by_paypal() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    let mut delivery = signed(CREATED);
    let edited = String::from_utf8(delivery.body.clone())
        .expect("utf-8")
        .replace("org_conformance", "org_attacker1");
    delivery.body = edited.into_bytes();
    assert_eq!(
        verify(&verifier, &delivery, &our_credentials()).await.err(),
        Some(WebhookError::InvalidSignature)
    );
    assert_eq!(paypal.requests_to(VERIFY).len(), 1, "PayPal decided");
}

#[tokio::test]
async fn body_that_would_add_fields_to_our_request_never_reaches_paypal() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    let body = br#"{"id":"WH-1","event_type":"PAYMENT.SALE.COMPLETED"},"webhook_id":"ATTACKERS1""#;
    assert_eq!(
        verify(&verifier, &signed(body), &our_credentials())
            .await
            .err(),
        Some(WebhookError::InvalidSignature)
    );
    assert!(paypal.requests().is_empty());
}

#[tokio::test]
async fn deliveries_refused_locally_cost_no_call_to_paypal() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());

    let mut missing = signed(CREATED);
    missing
        .headers
        .retain(|(name, _)| name != "paypal-transmission-sig");
    assert_eq!(
        verify(&verifier, &missing, &our_credentials()).await.err(),
        Some(WebhookError::MissingSignature("PAYPAL-TRANSMISSION-SIG"))
    );

    let stale = sign_delivery(CREATED, NOW.plus_seconds(-301), WEBHOOK_ID);
    assert_eq!(
        verify(&verifier, &stale, &our_credentials()).await.err(),
        Some(WebhookError::TimestampTooOld)
    );

    let mut foreign_cert = signed(CREATED);
    for (name, value) in &mut foreign_cert.headers {
        if name == "paypal-cert-url" {
            *value = CERT_URL.replace("api.paypal.com", "paypal.example.com");
        }
    }
    assert!(matches!(
        verify(&verifier, &foreign_cert, &our_credentials()).await,
        Err(WebhookError::MalformedSignature(_))
    ));

    assert!(paypal.requests().is_empty());
}

#[tokio::test]
async fn without_webhook_id_or_app_credentials_nothing_is_configured() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    for partial in [
        serde_json::json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}),
        serde_json::json!({"clientId": CLIENT_ID, "webhookId": WEBHOOK_ID}),
        serde_json::json!({"webhookSecrets": ["whsec_not_used_by_paypal"]}),
    ] {
        assert_eq!(
            verify(&verifier, &signed(CREATED), &credentials(partial))
                .await
                .err(),
            Some(WebhookError::NoSecretConfigured)
        );
    }
}

#[tokio::test]
async fn api_base_in_the_secret_selects_the_paypal_environment() {
    let paypal = FakePaypal::start().await;
    let config = http_config();
    // Built for the live API; the secret points it elsewhere.
    let verifier = PaypalWebhooks::new(ApiClient::new(config).expect("client"));
    let with_base = credentials(serde_json::json!({
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "webhookId": WEBHOOK_ID,
        "apiBase": format!("{}/", paypal.url()),
    }));
    verify(&verifier, &signed(CREATED), &with_base)
        .await
        .expect("verified against the configured host");
}

// ---------- Outages ----------

#[tokio::test]
async fn verify_endpoint_outage_is_retryable_not_a_forgery() {
    let paypal = FakePaypal::start().await;
    paypal.state().verify_status_override = Some(503);
    let verifier = verifier_for(paypal.url());
    let result = verify(&verifier, &signed(CREATED), &our_credentials()).await;
    let Err(error @ WebhookError::VerifierUnavailable(_)) = result else {
        panic!("expected an unavailable verifier, got {result:?}");
    };
    assert!(error.is_retryable());
    assert!(!error.may_be_rotated_secret());
}

#[tokio::test]
async fn unreachable_paypal_is_not_reported_as_a_forgery() {
    // A port nothing listens on: the token call cannot connect.
    let verifier = verifier_for(&unreachable_url());
    let result = verify(&verifier, &signed(CREATED), &our_credentials()).await;
    assert!(
        matches!(&result, Err(WebhookError::VerifierUnavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn refused_app_credentials_may_mean_a_rotated_secret() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    let rotated = credentials(serde_json::json!({
        "clientId": CLIENT_ID, "clientSecret": "an-old-secret", "webhookId": WEBHOOK_ID,
    }));
    let error = verify(&verifier, &signed(CREATED), &rotated)
        .await
        .expect_err("refused");
    assert_eq!(error, WebhookError::InvalidSignature);
    assert!(error.may_be_rotated_secret());
}

// ---------- Normalization ----------

fn parse(body: &[u8]) -> billing_domain::ProviderEvent {
    parse_event(body, &catalog()).expect("event")
}

fn edited(body: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    edit(&mut value);
    serde_json::to_vec(&value).expect("JSON")
}

fn time(text: &str) -> UnixTime {
    UnixTime(billing_providers::paypal::formats::parse_rfc3339(text).expect("time"))
}

#[test]
fn activated_subscription_is_an_active_snapshot_of_the_catalog_plan() {
    let event = parse(ACTIVATED);
    assert_eq!(event.provider, Provider::Paypal);
    assert_eq!(event.event_id, "WH-2XF79976D90981149-3SX67134A2616642P");
    assert_eq!(event.event_type, "BILLING.SUBSCRIPTION.ACTIVATED");
    assert_eq!(event.occurred_at, time("2025-11-01T10:03:12Z"));
    assert_eq!(event.tenant_hint, TenantId::parse("org_conformance").ok());
    let EventKind::SubscriptionSnapshot { change, snapshot } = event.kind else {
        panic!("snapshot expected");
    };
    assert_eq!(change, SnapshotChange::Updated);
    assert_eq!(snapshot.subscription_id, "I-BW452GLLEP1G");
    assert_eq!(snapshot.customer_id, "I-BW452GLLEP1G");
    assert_eq!(snapshot.status, SubscriptionStatus::Active);
    assert_eq!(snapshot.provider_status, "ACTIVE");
    assert_eq!(snapshot.plan, Some(PlanCode::new("pro")));
    assert_eq!(
        snapshot.price_id.as_deref(),
        Some("P-0PRO0MONTHLY0000000000A")
    );
    assert_eq!(
        snapshot.current_period_start,
        Some(time("2025-11-01T10:03:09Z"))
    );
    assert_eq!(
        snapshot.current_period_end,
        Some(time("2025-12-01T10:00:00Z"))
    );
    assert!(!snapshot.cancel_at_period_end);
    assert_eq!(snapshot.seats, 1);
}

#[test]
fn created_subscription_awaits_approval() {
    let EventKind::SubscriptionSnapshot { change, snapshot } = parse(CREATED).kind else {
        panic!("snapshot expected");
    };
    assert_eq!(change, SnapshotChange::Created);
    assert_eq!(snapshot.status, SubscriptionStatus::Incomplete);
    assert_eq!(snapshot.current_period_end, None);
}

#[test]
fn completed_sale_is_a_paid_invoice_in_exact_minor_units() {
    let event = parse(SALE);
    assert_eq!(
        event.tenant_hint, None,
        "a sale names only its subscription"
    );
    let EventKind::InvoicePaid(invoice) = event.kind else {
        panic!("paid invoice expected");
    };
    assert_eq!(invoice.invoice_id, "44P499886K055384U");
    assert_eq!(invoice.subscription_id.as_deref(), Some("I-BW452GLLEP1G"));
    assert_eq!(invoice.amount_paid, Money::new(1_900, "usd"));
    assert_eq!(invoice.amount_due, Money::new(1_900, "usd"));
    assert_eq!(invoice.created, time("2025-11-01T10:03:09Z"));

    let odd_cents = edited(SALE, |v| v["resource"]["amount"]["total"] = "170.07".into());
    let EventKind::InvoicePaid(invoice) = parse(&odd_cents).kind else {
        panic!("paid invoice expected");
    };
    assert_eq!(invoice.amount_paid.amount_minor, 17_007);
    let yen = edited(SALE, |v| {
        v["resource"]["amount"] = serde_json::json!({"total": "2500", "currency": "JPY"});
    });
    let EventKind::InvoicePaid(invoice) = parse(&yen).kind else {
        panic!("paid invoice expected");
    };
    assert_eq!(invoice.amount_paid, Money::new(2_500, "jpy"));
}

#[test]
fn failed_payment_is_an_unpaid_invoice_of_the_failed_attempt() {
    let event = parse(PAYMENT_FAILED);
    assert_eq!(event.tenant_hint, TenantId::parse("org_conformance").ok());
    let EventKind::InvoicePaymentFailed(invoice) = event.kind else {
        panic!("failed invoice expected");
    };
    assert_eq!(invoice.invoice_id, "WH-4BU63595D31327322-21K01615R3180783P");
    assert_eq!(invoice.subscription_id.as_deref(), Some("I-BW452GLLEP1G"));
    assert_eq!(invoice.amount_due, Money::new(1_900, "usd"));
    assert_eq!(invoice.amount_paid, Money::new(0, "usd"));
    assert_eq!(invoice.attempt_count, 1);
    assert_eq!(invoice.created, time("2025-12-01T10:05:40Z"));
}

#[test]
fn suspension_is_unpaid_after_failures_and_paused_otherwise() {
    let EventKind::SubscriptionSnapshot { change, snapshot } = parse(SUSPENDED).kind else {
        panic!("snapshot expected");
    };
    assert_eq!(change, SnapshotChange::Paused);
    assert_eq!(snapshot.status, SubscriptionStatus::Unpaid);
    let by_merchant = edited(SUSPENDED, |v| {
        v["resource"]["billing_info"]["failed_payments_count"] = 0.into();
    });
    let EventKind::SubscriptionSnapshot { snapshot, .. } = parse(&by_merchant).kind else {
        panic!("snapshot expected");
    };
    assert_eq!(snapshot.status, SubscriptionStatus::Paused);
}

#[test]
fn cancelled_and_expired_subscriptions_are_deleted() {
    let EventKind::SubscriptionDeleted { snapshot } = parse(CANCELLED).kind else {
        panic!("deletion expected");
    };
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
    assert_eq!(snapshot.canceled_at, Some(time("2025-12-20T11:42:21Z")));
    let expired = edited(CANCELLED, |v| {
        v["event_type"] = "BILLING.SUBSCRIPTION.EXPIRED".into();
        v["resource"]["status"] = "EXPIRED".into();
    });
    let EventKind::SubscriptionDeleted { snapshot } = parse(&expired).kind else {
        panic!("deletion expected");
    };
    assert_eq!(snapshot.status, SubscriptionStatus::Canceled);
}

#[test]
fn events_we_do_not_act_on_are_unknown() {
    let product = edited(CREATED, |v| {
        v["event_type"] = "CATALOG.PRODUCT.CREATED".into()
    });
    assert_eq!(parse(&product).kind, EventKind::Unknown);
    let one_off_sale = edited(SALE, |v| {
        v["resource"]
            .as_object_mut()
            .expect("sale")
            .remove("billing_agreement_id");
    });
    assert_eq!(parse(&one_off_sale).kind, EventKind::Unknown);
}

#[test]
fn custom_id_that_is_not_a_tenant_id_is_dropped() {
    let foreign = edited(ACTIVATED, |v| {
        v["resource"]["custom_id"] = "userId=f9c525bd;roleId=c650065b".into();
    });
    let event = parse(&foreign);
    assert_eq!(event.tenant_hint, None);
    assert!(matches!(event.kind, EventKind::SubscriptionSnapshot { .. }));
}

#[test]
fn unreadable_parts_are_malformed_without_quoting_the_payload() {
    let cases = [
        edited(SALE, |v| {
            v["resource"]["amount"]["total"] = "19,99-secret".into()
        }),
        edited(ACTIVATED, |v| v["create_time"] = "yesterday-secret".into()),
        edited(ACTIVATED, |v| {
            v["resource"]["billing_info"]["next_billing_time"] = "soon-secret".into();
        }),
        edited(ACTIVATED, |v| {
            v["resource"]["quantity"] = "many-secret".into()
        }),
        edited(PAYMENT_FAILED, |v| {
            v["resource"]["billing_info"]
                .as_object_mut()
                .expect("billing info")
                .remove("last_failed_payment");
        }),
        b"not json secret".to_vec(),
    ];
    for body in cases {
        let error = parse_event(&body, &catalog()).expect_err("malformed");
        let WebhookError::MalformedPayload(message) = &error else {
            panic!("malformed payload expected, got {error:?}");
        };
        assert!(!message.contains("secret"), "{message}");
    }
}

#[test]
fn plan_outside_the_catalog_leaves_the_plan_unknown() {
    let retired = edited(ACTIVATED, |v| {
        v["resource"]["plan_id"] = "P-NOTINCATALOG".into()
    });
    let EventKind::SubscriptionSnapshot { snapshot, .. } = parse(&retired).kind else {
        panic!("snapshot expected");
    };
    assert_eq!(snapshot.plan, None);
    assert_eq!(snapshot.price_id.as_deref(), Some("P-NOTINCATALOG"));
}

#[tokio::test]
async fn verified_delivery_keeps_paypals_event_time_not_the_transmission_time() {
    let paypal = FakePaypal::start().await;
    let verifier = verifier_for(paypal.url());
    let event = verify(&verifier, &signed(SALE), &our_credentials())
        .await
        .expect("verified");
    assert_eq!(event.occurred_at, time("2025-11-01T10:03:15Z"));
}

#[tokio::test]
async fn a_verify_call_slower_than_the_clients_timeout_is_retryable() {
    use axum::routing::post;
    // Token at once; the verify call answers only after 2 s.
    let app = axum::Router::new()
        .route(
            "/v1/oauth2/token",
            post(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"access_token":"A21AAF-slow","token_type":"Bearer","expires_in":32400}"#,
                )
            }),
        )
        .route(
            "/v1/notifications/verify-webhook-signature",
            post(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                (
                    [("content-type", "application/json")],
                    r#"{"verification_status":"SUCCESS"}"#,
                )
            }),
        );
    let slow_paypal = LocalServer::start(app).await;
    let client = ApiClient::new(HttpConfig {
        request_timeout: std::time::Duration::from_millis(300),
        ..http_config()
    })
    .expect("client");
    let verifier = PaypalWebhooks::new(client).with_base_url(slow_paypal.url());
    // Had the verify call its own longer timeout, it would get SUCCESS.
    let result = verify(&verifier, &signed(CREATED), &our_credentials()).await;
    assert!(
        matches!(&result, Err(WebhookError::VerifierUnavailable(_))),
        "{result:?}"
    );
}

#[test]
fn a_completed_sale_and_a_failed_charge_report_their_payments() {
    use billing_domain::ledger::{MethodKind, PaymentStatus};
    let sale = parse(SALE).payment.expect("the sale");
    assert_eq!(sale.payment_id, "44P499886K055384U");
    assert_eq!(sale.status, PaymentStatus::Success);
    assert_eq!(sale.amount, billing_domain::Money::new(1900, "usd"));
    assert_eq!(sale.method.map(|m| m.kind), Some(MethodKind::Wallet));

    let failed = parse(PAYMENT_FAILED).payment.expect("the failed charge");
    assert_eq!(
        failed.payment_id, "WH-4BU63595D31327322-21K01615R3180783P",
        "the event stands for it"
    );
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert_eq!(failed.failure_code.as_deref(), Some("PAYMENT_DENIED"));
    assert_eq!(failed.amount, billing_domain::Money::new(1900, "usd"));
    assert_eq!(parse(CREATED).payment, None);
}

#[test]
fn a_refunded_sale_is_credited_and_reaches_its_tenant_through_the_custom_id() {
    use billing_domain::ledger::PaymentStatus;
    let body = serde_json::json!({
        "id": "WH-2N242548W9943490U-1JU08902781691411", "event_version": "1.0",
        "create_time": "2025-11-12T10:00:05Z", "resource_type": "refund",
        "event_type": "PAYMENT.SALE.REFUNDED", "summary": "A $ 9.50 USD sale payment was refunded",
        "resource": {"id": "1JU08902781691411", "state": "completed", "sale_id": "44P499886K055384U",
            "amount": {"total": "9.50", "currency": "USD"}, "create_time": "2025-11-12T10:00:00Z",
            "custom": "org_paypal", "parent_payment": "PAY-5YK922393D847794YKER7MUI"}
    })
    .to_string();
    let event = parse(body.as_bytes());
    assert_eq!(
        event.tenant_hint.as_ref().map(|t| t.as_str()),
        Some("org_paypal")
    );
    let refund = event.payment.expect("a refund");
    assert_eq!(refund.status, PaymentStatus::Refunded);
    assert_eq!(refund.refund_of.as_deref(), Some("44P499886K055384U"));
    assert_eq!(refund.amount, billing_domain::Money::new(950, "usd"));
    assert_eq!(refund.payment_id, "1JU08902781691411");
}
