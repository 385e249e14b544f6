//! The shared adapter conformance suite run against Paddle Billing: Paddle's
//! own signature vectors, deliveries signed as Paddle signs them
//! (`Paddle-Signature: ts=…;h1=…`), a subscription's life from checkout to
//! cancellation in Paddle's notification payloads (`tests/fixtures/paddle/`),
//! and the `POST /transactions` a checkout sends.

use crate::conformance::{
    conformance_tests, CheckoutExpectation, LifecycleStep, ProviderFixture, PublishedVector,
};
use async_trait::async_trait;
use billing_domain::ports::{BillingGateway, WebhookDelivery, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{Provider, SubscriptionStatus, UnixTime};
use billing_providers::paddle::signature::DEFAULT_TOLERANCE_SECONDS;
use billing_providers::paddle::{sign, PaddleGateway, PaddleWebhooks};
use billing_providers::{ApiClient, HttpConfig};

const ENDPOINT_SECRET: &str = "pdl_ntfset_01k2cf3v4w5x6y7z8a9b0c1d2e_conformanceSecretKey0000";
const OTHER_ACCOUNT_SECRET: &str = "pdl_ntfset_01k2cf9z8y7x6w5v4t3s2r1q0p_someoneElsesKey00000000";
const API_KEY: &str = "pdl_sdbx_apikey_01k2cf0a1b2c3d4e5f6g7h8j9k_conformanceApiKey0000";
const CHECKOUT_PAGE: &str = "https://app.example.com/pay";

/// Paddle's published vectors (PaddleHQ/paddle-php-sdk,
/// `tests/Unit/Notifications/VerifierTest.php`) use this key for both payloads.
const VECTOR_SECRET: &str =
    "pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I";

fn fixture(path: &str) -> Vec<u8> {
    crate::fixture(&format!("paddle/{path}")).into_bytes()
}

fn credentials(secrets: &[&str]) -> ProviderCredentials {
    ProviderCredentials::with_webhook_secrets(secrets.iter().map(|s| WebhookSecret::new(*s)))
}

fn vector(name: &'static str, header: &str, body: Vec<u8>, secrets: &[&str]) -> PublishedVector {
    let ts = header
        .split(';')
        .find_map(|part| part.strip_prefix("ts="))
        .and_then(|ts| ts.parse().ok())
        .expect("vector header has a ts");
    PublishedVector {
        name,
        credentials: credentials(secrets),
        delivery: WebhookDelivery {
            headers: vec![("paddle-signature".into(), header.into())],
            body,
        },
        // Verified as if received the second it was sent.
        now: UnixTime(ts),
    }
}

struct PaddleFixture;

impl PaddleFixture {
    fn new() -> Self {
        Self
    }
}

#[async_trait]
impl ProviderFixture for PaddleFixture {
    fn provider(&self) -> Provider {
        Provider::Paddle
    }

    async fn verifier(&self) -> Box<dyn WebhookVerifier> {
        Box::new(PaddleWebhooks::new())
    }

    fn credentials(&self) -> ProviderCredentials {
        credentials(&[ENDPOINT_SECRET])
    }

    fn wrong_credentials(&self) -> ProviderCredentials {
        credentials(&[OTHER_ACCOUNT_SECRET])
    }

    fn published_vectors(&self) -> Vec<PublishedVector> {
        vec![
            vector(
                "php-sdk: hello-world, dummy h1 first, right key third",
                "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02",
                b"hello-world".to_vec(),
                &[
                    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
                    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
                    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh",
                ],
            ),
            vector(
                "php-sdk: standard customer.created payload",
                "ts=1710498758;h1=558bf93944dbeb4790c7a8af6cb2ea435c8ca9c8396aafc1a4e37424ac132744",
                fixture("vectors/standard_payload.json"),
                &[VECTOR_SECRET],
            ),
            vector(
                "php-sdk: customer.created with \\u escapes in the name",
                "ts=1710498288;h1=38219b3ba1578184e625c29d201a27cd25bd69e2ec9c3ab87dcb90d87ff73a41",
                fixture("vectors/special_chars_payload.json"),
                &[VECTOR_SECRET],
            ),
        ]
    }

    fn sign(&self, body: &[u8], sent_at: UnixTime) -> WebhookDelivery {
        WebhookDelivery {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "paddle-signature".into(),
                    sign(&WebhookSecret::new(ENDPOINT_SECRET), sent_at, body),
                ),
            ],
            body: body.to_vec(),
        }
    }

    fn tolerance_seconds(&self) -> Option<i64> {
        // 60 s, both ways; `paddle::signature` says why.
        Some(DEFAULT_TOLERANCE_SECONDS)
    }

    fn lifecycle(&self) -> Vec<LifecycleStep> {
        let step = |name: &str, status: SubscriptionStatus| LifecycleStep {
            body: fixture(&format!("{name}.json")),
            expect_status: Some(status),
        };
        vec![
            // The checkout's transaction is paid before Paddle makes the
            // subscription: a paid invoice, no subscription state yet.
            step("01_transaction_paid_checkout", SubscriptionStatus::None),
            step("02_subscription_created", SubscriptionStatus::Active),
            step(
                "03_transaction_completed_checkout",
                SubscriptionStatus::Active,
            ),
            step("04_transaction_paid_renewal", SubscriptionStatus::Active),
            // A failed renewal changes nothing until Paddle moves the
            // subscription to past_due.
            step(
                "05_transaction_payment_failed_renewal",
                SubscriptionStatus::Active,
            ),
            step("06_subscription_past_due", SubscriptionStatus::PastDue),
            // Dunning's retry succeeds; the subscription follows.
            step(
                "07_transaction_completed_renewal",
                SubscriptionStatus::PastDue,
            ),
            step(
                "08_subscription_updated_recovered",
                SubscriptionStatus::Active,
            ),
            // Cancelled at period end: still active until the period ends.
            step(
                "09_subscription_updated_cancel_scheduled",
                SubscriptionStatus::Active,
            ),
            step("10_subscription_canceled", SubscriptionStatus::Canceled),
        ]
    }

    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String {
        let body: serde_json::Value = serde_json::from_slice(&delivery.body).expect("json body");
        body["event_id"].as_str().expect("event_id").to_owned()
    }

    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway> {
        let client = ApiClient::new(HttpConfig::default()).expect("http client");
        Box::new(
            PaddleGateway::new(API_KEY, client)
                .with_base_url(base_url)
                .with_checkout_url(CHECKOUT_PAGE),
        )
    }

    fn checkout_expectation(&self, _base_url: &str) -> CheckoutExpectation {
        // https://developer.paddle.com/api-reference/transactions/create-transaction
        CheckoutExpectation {
            method: "POST",
            path: "/transactions",
            headers: vec![
                ("authorization", format!("Bearer {API_KEY}")),
                ("paddle-version", "1".into()),
                ("content-type", "application/json".into()),
            ],
            body: checkout_body_is_documented,
            response_status: 201,
            response_body: String::from_utf8(fixture("create_transaction_response.json"))
                .expect("utf-8"),
            session_url: "https://app.example.com/pay?_ptxn=txn_01k9zq3r4s5t6v7w8x9y0z1a2b".into(),
        }
    }
}

/// One catalog item, the tenant (and plan) in `custom_data`, our checkout
/// page, and nothing else: no customer is known for this checkout.
fn checkout_body_is_documented(body: &[u8]) -> Result<(), String> {
    let body: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let expected = serde_json::json!({
        "items": [{"price_id": "pri_01proMonthly000000000000", "quantity": 1}],
        "custom_data": {"tenant_id": "org_conformance", "plan": "pro"},
        "checkout": {"url": CHECKOUT_PAGE},
    });
    if body == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}"))
    }
}

conformance_tests!(PaddleFixture::new());
