//! Razorpay against the shared adapter conformance suite: the SDK's published
//! signature vector, deliveries signed as Razorpay signs them (body HMAC plus
//! the `x-razorpay-event-id` dedupe header), a subscription's life from
//! authorization through a failed renewal to cancellation built from the
//! documented payloads in `fixtures/razorpay/`, and the documented
//! `POST /v1/subscriptions` request.

use crate::conformance::{
    self, conformance_tests, CheckoutExpectation, LifecycleStep, ProviderFixture, PublishedVector,
};
use async_trait::async_trait;
use billing_domain::ports::{BillingGateway, WebhookDelivery, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{Provider, SubscriptionStatus, UnixTime};
use billing_providers::razorpay::{self, RazorpayGateway, RazorpayWebhooks};
use billing_providers::signing::hmac_sha256_hex;
use billing_providers::{ApiClient, HttpConfig, RetryPolicy};

const WEBHOOK_SECRET: &str = "conformance-webhook-secret";
const KEY_ID: &str = "rzp_test_Conformance01";
const KEY_SECRET: &str = "conformance-key-secret";
/// base64("rzp_test_Conformance01:conformance-key-secret"), written out so
/// the test does not share the code it checks.
const BASIC_AUTH: &str = "Basic cnpwX3Rlc3RfQ29uZm9ybWFuY2UwMTpjb25mb3JtYW5jZS1rZXktc2VjcmV0";
const SIGNATURE_HEADER: &str = "x-razorpay-signature";
const EVENT_ID_HEADER: &str = "x-razorpay-event-id";

struct RazorpayFixture;

impl RazorpayFixture {
    fn new() -> Self {
        Self
    }
}

/// The `razorpay` entry of the secret, in its JSON shape.
fn credentials_with(webhook_secret: &str) -> ProviderCredentials {
    billing_providers::credentials::parse_entry(serde_json::json!({
        "keyId": KEY_ID,
        "keySecret": KEY_SECRET,
        "webhookSecrets": [webhook_secret],
    }))
    .expect("credentials shape")
}

fn step(body: &[u8], expect_status: Option<SubscriptionStatus>) -> LifecycleStep {
    LifecycleStep {
        body: body.to_vec(),
        expect_status,
    }
}

#[async_trait]
impl ProviderFixture for RazorpayFixture {
    fn provider(&self) -> Provider {
        Provider::Razorpay
    }

    async fn verifier(&self) -> Box<dyn WebhookVerifier> {
        Box::new(RazorpayWebhooks::new())
    }

    fn credentials(&self) -> ProviderCredentials {
        credentials_with(WEBHOOK_SECRET)
    }

    fn wrong_credentials(&self) -> ProviderCredentials {
        credentials_with("another-accounts-webhook-secret")
    }

    fn published_vectors(&self) -> Vec<PublishedVector> {
        // Razorpay's SDKs test `validateWebhookSignature` with this vector
        // (razorpay-node test/utils/razorpay-utils.spec.js, razorpay-java
        // UtilsTest). It comes without an event id header, as published: the
        // body is not an event, so only the signature is checked.
        vec![PublishedVector {
            name: "razorpay SDK webhook signature vector",
            credentials: credentials_with("123456"),
            delivery: WebhookDelivery {
                headers: vec![(
                    SIGNATURE_HEADER.into(),
                    "2fe04e22977002e6c7cb553adab8b460cb9e2a4970d5953cb27a8472752e3bbc".into(),
                )],
                body: br#"{"a":1,"b":2,"c":{"d":3}}"#.to_vec(),
            },
            now: conformance::NOW,
        }]
    }

    /// Razorpay signs the body only; `sent_at` has nowhere to go. The event
    /// id is derived from the body so each lifecycle step has its own.
    fn sign(&self, body: &[u8], _sent_at: UnixTime) -> WebhookDelivery {
        let event_id = format!("evt{}", &hmac_sha256_hex(b"event id", &[body])[..14]);
        WebhookDelivery {
            headers: vec![
                (
                    SIGNATURE_HEADER.into(),
                    razorpay::sign(&WebhookSecret::new(WEBHOOK_SECRET), body),
                ),
                (EVENT_ID_HEADER.into(), event_id),
            ],
            body: body.to_vec(),
        }
    }

    fn tolerance_seconds(&self) -> Option<i64> {
        None
    }

    fn lifecycle(&self) -> Vec<LifecycleStep> {
        use SubscriptionStatus as S;
        vec![
            // The customer authorizes on the hosted page...
            step(
                include_bytes!("../fixtures/razorpay/subscription_authenticated.json"),
                Some(S::Incomplete),
            ),
            // ...the first billing cycle starts and is charged.
            step(
                include_bytes!("../fixtures/razorpay/subscription_activated.json"),
                Some(S::Active),
            ),
            step(
                include_bytes!("../fixtures/razorpay/subscription_charged.json"),
                Some(S::Active),
            ),
            // The renewal charge fails: acknowledged, ignored...
            step(
                include_bytes!("../fixtures/razorpay/payment_failed.json"),
                None,
            ),
            // ...and the subscription goes pending while Razorpay retries,
            step(
                include_bytes!("../fixtures/razorpay/subscription_pending.json"),
                Some(S::PastDue),
            ),
            // then halted once the retries are exhausted.
            step(
                include_bytes!("../fixtures/razorpay/subscription_halted.json"),
                Some(S::Unpaid),
            ),
            // The customer changes the card: active again, the invoice paid.
            step(
                include_bytes!("../fixtures/razorpay/subscription_reactivated.json"),
                Some(S::Active),
            ),
            step(
                include_bytes!("../fixtures/razorpay/subscription_charged_renewal.json"),
                Some(S::Active),
            ),
            step(
                include_bytes!("../fixtures/razorpay/subscription_cancelled.json"),
                Some(S::Canceled),
            ),
        ]
    }

    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String {
        delivery
            .header(EVENT_ID_HEADER)
            .expect("signed deliveries carry an event id")
            .to_owned()
    }

    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway> {
        let client = ApiClient::new(HttpConfig {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            ..HttpConfig::default()
        })
        .expect("client");
        Box::new(
            RazorpayGateway::new(KEY_ID, KEY_SECRET, client)
                .with_base_url(base_url)
                .with_catalog(&crate::catalog()),
        )
    }

    /// <https://razorpay.com/docs/api/payments/subscriptions/create-subscription/>
    fn checkout_expectation(&self, _base_url: &str) -> CheckoutExpectation {
        CheckoutExpectation {
            method: "POST",
            path: "/v1/subscriptions",
            headers: vec![
                ("authorization", BASIC_AUTH.to_owned()),
                ("content-type", "application/json".to_owned()),
            ],
            body: checkout_body,
            response_status: 200,
            // The documented success response, trimmed.
            response_body: serde_json::json!({
                "id": "sub_00000000000001",
                "entity": "subscription",
                "plan_id": "plan_ProMonthly0001",
                "status": "created",
                "current_start": null,
                "current_end": null,
                "ended_at": null,
                "quantity": 1,
                "notes": {"tenant_id": "org_conformance", "plan": "pro"},
                "charge_at": null,
                "start_at": null,
                "end_at": null,
                "auth_attempts": 0,
                "total_count": 1200,
                "paid_count": 0,
                "customer_notify": true,
                "created_at": 1767225600,
                "expire_by": null,
                "short_url": "https://rzp.io/rzp/Dqdqx3h",
                "has_scheduled_changes": false,
                "change_scheduled_at": null,
                "source": "api",
                "remaining_count": 1200
            })
            .to_string(),
            session_url: "https://rzp.io/rzp/Dqdqx3h".into(),
        }
    }
}

/// `plan_id` and `total_count` are required; the monthly `pro` plan runs
/// for Razorpay's 100-year maximum; the tenant travels in `notes`. Nothing
/// else is sent.
fn checkout_body(body: &[u8]) -> Result<(), String> {
    let sent: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let expected = serde_json::json!({
        "plan_id": "plan_ProMonthly0001",
        "total_count": 1200,
        "quantity": 1,
        "notes": {"tenant_id": "org_conformance", "plan": "pro"},
    });
    if sent == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}"))
    }
}

conformance_tests!(RazorpayFixture::new());
