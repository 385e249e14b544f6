//! The adapter conformance suite (tests/conformance) run against the
//! sandbox provider: Standard Webhooks deliveries (with the scheme's
//! published vector), a lifecycle of sandbox events, and the JSON checkout
//! session request.

use crate::conformance::{
    self, conformance_tests, CheckoutExpectation, LifecycleStep, ProviderFixture, PublishedVector,
    NOW,
};
use async_trait::async_trait;
use billing_domain::ports::{BillingGateway, CheckoutRequest, WebhookDelivery, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{Provider, SubscriptionStatus, UnixTime};
use billing_providers::standard_webhooks::sign;
use billing_providers::{ApiClient, HttpConfig, SandboxGateway, SandboxWebhooks};
use serde_json::json;

const SECRET: &str = "whsec_c2FuZGJveC1jb25mb3JtYW5jZS1zZWNyZXQ=";
const API_KEY: &str = "sk_sandbox_conformance";

struct SandboxFixture;

fn subscription(status: &str, cancel_at_period_end: bool) -> serde_json::Value {
    let start = NOW.seconds() - 86_400;
    json!({
        "id": "sub_sbx_conf", "customer_id": "cus_sbx_conf", "tenant_id": "org_conformance",
        "status": status, "price_id": "sbx_price_pro_monthly",
        "current_period_start": start, "current_period_end": start + 30 * 86_400,
        "cancel_at_period_end": cancel_at_period_end, "cancel_at": null, "canceled_at": null,
        "quantity": 1
    })
}

fn invoice(id: &str, paid: bool) -> serde_json::Value {
    json!({
        "id": id, "customer_id": "cus_sbx_conf", "subscription_id": "sub_sbx_conf",
        "tenant_id": "org_conformance", "created": NOW.seconds() - 60,
        "amount_due": 1900, "amount_paid": if paid { 1900 } else { 0 },
        "currency": "usd", "attempt_count": 1
    })
}

fn event(id: &str, kind: &str, seconds_ago: i64, data: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "type": kind, "created": NOW.seconds() - seconds_ago, "data": data
    }))
    .expect("JSON")
}

#[async_trait]
impl ProviderFixture for SandboxFixture {
    fn provider(&self) -> Provider {
        Provider::Sandbox
    }

    async fn verifier(&self) -> Box<dyn WebhookVerifier> {
        Box::new(SandboxWebhooks::new())
    }

    fn credentials(&self) -> ProviderCredentials {
        ProviderCredentials::with_webhook_secrets([WebhookSecret::new(SECRET)])
    }

    fn wrong_credentials(&self) -> ProviderCredentials {
        ProviderCredentials::with_webhook_secrets([WebhookSecret::new(
            "whsec_YW5vdGhlci1hY2NvdW50LXNlY3JldA==",
        )])
    }

    /// The Standard Webhooks specification's own example. Its body is not a
    /// sandbox event, so only the signature is checked.
    fn published_vectors(&self) -> Vec<PublishedVector> {
        vec![PublishedVector {
            name: "standard-webhooks spec example",
            credentials: ProviderCredentials::with_webhook_secrets([WebhookSecret::new(
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            )]),
            delivery: WebhookDelivery {
                headers: vec![
                    (
                        "webhook-id".into(),
                        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".into(),
                    ),
                    ("webhook-timestamp".into(), "1649367553".into()),
                    (
                        "webhook-signature".into(),
                        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".into(),
                    ),
                ],
                body: br#"{"email":"test@example.com","username":"test_user"}"#.to_vec(),
            },
            now: UnixTime(1_649_367_553),
        }]
    }

    fn sign(&self, body: &[u8], sent_at: UnixTime) -> WebhookDelivery {
        let id = self.dedupe_key(&WebhookDelivery {
            headers: Vec::new(),
            body: body.to_vec(),
        });
        let signature =
            sign(&WebhookSecret::new(SECRET), &id, sent_at.seconds(), body).expect("valid secret");
        WebhookDelivery {
            headers: vec![
                ("webhook-id".into(), id),
                ("webhook-timestamp".into(), sent_at.seconds().to_string()),
                ("webhook-signature".into(), signature),
            ],
            body: body.to_vec(),
        }
    }

    fn tolerance_seconds(&self) -> Option<i64> {
        Some(300)
    }

    fn lifecycle(&self) -> Vec<LifecycleStep> {
        let checkout = json!({
            "id": "cs_sbx_conf", "customer_id": "cus_sbx_conf", "subscription_id": "sub_sbx_conf",
            "tenant_id": "org_conformance", "plan_code": "pro"
        });
        vec![
            LifecycleStep {
                body: event("evt_sbx_c1", "checkout.completed", 50, checkout),
                expect_status: None,
            },
            LifecycleStep {
                body: event(
                    "evt_sbx_c2",
                    "subscription.created",
                    50,
                    subscription("active", false),
                ),
                expect_status: Some(SubscriptionStatus::Active),
            },
            LifecycleStep {
                body: event("evt_sbx_c3", "invoice.paid", 49, invoice("in_1", true)),
                expect_status: Some(SubscriptionStatus::Active),
            },
            LifecycleStep {
                body: event(
                    "evt_sbx_c4",
                    "invoice.payment_failed",
                    30,
                    invoice("in_2", false),
                ),
                expect_status: Some(SubscriptionStatus::Active),
            },
            LifecycleStep {
                body: event(
                    "evt_sbx_c5",
                    "subscription.updated",
                    29,
                    subscription("past_due", false),
                ),
                expect_status: Some(SubscriptionStatus::PastDue),
            },
            LifecycleStep {
                body: event(
                    "evt_sbx_c6",
                    "subscription.canceled",
                    10,
                    subscription("canceled", false),
                ),
                expect_status: Some(SubscriptionStatus::Canceled),
            },
        ]
    }

    /// Standard Webhooks: the `webhook-id`, which the sandbox sets to the
    /// event's own id.
    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String {
        let event: serde_json::Value = serde_json::from_slice(&delivery.body).expect("JSON");
        event["id"].as_str().expect("event id").to_owned()
    }

    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway> {
        let client = ApiClient::new(HttpConfig::default()).expect("client");
        Box::new(SandboxGateway::new(API_KEY, client, base_url))
    }

    /// The sandbox bills a customer created before the checkout.
    fn checkout_request(&self) -> CheckoutRequest {
        CheckoutRequest {
            customer_id: Some("cus_sbx_conf".into()),
            ..conformance::default_checkout_request(self.provider())
        }
    }

    fn checkout_expectation(&self, base_url: &str) -> CheckoutExpectation {
        CheckoutExpectation {
            method: "POST",
            path: "/sandbox/v1/checkout_sessions",
            headers: vec![
                ("authorization", format!("Bearer {API_KEY}")),
                ("idempotency-key", "checkout:conformance-1".into()),
                ("content-type", "application/json".into()),
            ],
            body: |body| {
                let body: serde_json::Value =
                    serde_json::from_slice(body).map_err(|e| e.to_string())?;
                let expected = json!({
                    "customer_id": "cus_sbx_conf", "tenant_id": "org_conformance",
                    "plan_code": "pro", "price_id": "sbx_price_pro_monthly",
                    "success_url": "https://app.example.com/billing/success",
                    "cancel_url": "https://app.example.com/billing"
                });
                if body != expected {
                    return Err(format!("expected {expected}"));
                }
                Ok(())
            },
            response_status: 200,
            response_body: format!(
                r#"{{"id":"cs_sbx_conf","url":"{base_url}/sandbox/checkout/cs_sbx_conf"}}"#
            ),
            session_url: format!("{base_url}/sandbox/checkout/cs_sbx_conf"),
        }
    }
}

conformance_tests!(SandboxFixture);
