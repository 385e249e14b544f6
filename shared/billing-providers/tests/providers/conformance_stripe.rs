//! The adapter conformance suite (tests/conformance) run against Stripe:
//! `Stripe-Signature` deliveries, a subscription lifecycle from the recorded
//! fixtures, and the form-encoded checkout session request.

use crate::conformance::{
    conformance_tests, CheckoutExpectation, LifecycleStep, ProviderFixture, PublishedVector,
};
use async_trait::async_trait;
use billing_domain::ports::{BillingGateway, WebhookDelivery, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, WebhookSecret};
use billing_domain::{Provider, SubscriptionStatus, UnixTime};
use billing_providers::stripe::sign;
use billing_providers::{ApiClient, HttpConfig, StripeGateway, StripeWebhooks};
use std::collections::BTreeMap;

const SECRET: &str = "whsec_conformance_stripe";
const API_KEY: &str = "sk_test_conformance";

struct StripeFixture;

fn fixture_body(name: &str) -> Vec<u8> {
    crate::fixture(&format!("stripe/{name}.json")).into_bytes()
}

fn step(name: &str, expect_status: Option<SubscriptionStatus>) -> LifecycleStep {
    LifecycleStep {
        body: fixture_body(name),
        expect_status,
    }
}

#[async_trait]
impl ProviderFixture for StripeFixture {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn verifier(&self) -> Box<dyn WebhookVerifier> {
        Box::new(StripeWebhooks::new())
    }

    fn credentials(&self) -> ProviderCredentials {
        ProviderCredentials::with_webhook_secrets([WebhookSecret::new(SECRET)])
    }

    fn wrong_credentials(&self) -> ProviderCredentials {
        ProviderCredentials::with_webhook_secrets([WebhookSecret::new("whsec_another_account")])
    }

    /// Stripe publishes no fixed signature vector; its scheme is checked
    /// against independently computed signatures in stripe/signature.rs.
    fn published_vectors(&self) -> Vec<PublishedVector> {
        Vec::new()
    }

    fn sign(&self, body: &[u8], sent_at: UnixTime) -> WebhookDelivery {
        WebhookDelivery {
            headers: vec![(
                "stripe-signature".into(),
                sign(&WebhookSecret::new(SECRET), sent_at, body),
            )],
            body: body.to_vec(),
        }
    }

    fn tolerance_seconds(&self) -> Option<i64> {
        Some(300)
    }

    fn lifecycle(&self) -> Vec<LifecycleStep> {
        vec![
            step("checkout_session_completed", None),
            step(
                "customer_subscription_created",
                Some(SubscriptionStatus::Trialing),
            ),
            step("invoice_paid", Some(SubscriptionStatus::Trialing)),
            step(
                "customer_subscription_updated",
                Some(SubscriptionStatus::PastDue),
            ),
            step("invoice_payment_failed", Some(SubscriptionStatus::PastDue)),
            step(
                "customer_subscription_deleted",
                Some(SubscriptionStatus::Canceled),
            ),
        ]
    }

    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String {
        let event: serde_json::Value = serde_json::from_slice(&delivery.body).expect("JSON");
        event["id"].as_str().expect("event id").to_owned()
    }

    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway> {
        let client = ApiClient::new(HttpConfig::default()).expect("client");
        Box::new(StripeGateway::new(API_KEY, client).with_base_url(base_url))
    }

    fn checkout_expectation(&self, _base_url: &str) -> CheckoutExpectation {
        CheckoutExpectation {
            method: "POST",
            path: "/v1/checkout/sessions",
            headers: vec![
                ("authorization", format!("Bearer {API_KEY}")),
                ("idempotency-key", "checkout:conformance-1".into()),
                (
                    "content-type",
                    "application/x-www-form-urlencoded".into(),
                ),
            ],
            body: |body| {
                let form: BTreeMap<String, String> =
                    serde_urlencoded::from_bytes(body).map_err(|e| e.to_string())?;
                let expected = [
                    ("mode", "subscription"),
                    ("line_items[0][price]", "price_pro_monthly"),
                    ("line_items[0][quantity]", "1"),
                    ("client_reference_id", "org_conformance"),
                    ("metadata[tenant_id]", "org_conformance"),
                    ("subscription_data[metadata][tenant_id]", "org_conformance"),
                    ("success_url", "https://app.example.com/billing/success"),
                    ("cancel_url", "https://app.example.com/billing"),
                ];
                for (field, value) in expected {
                    if form.get(field).map(String::as_str) != Some(value) {
                        return Err(format!("{field} should be {value:?}"));
                    }
                }
                if form.contains_key("customer") {
                    return Err("no customer was given, none may be sent".into());
                }
                Ok(())
            },
            response_status: 200,
            response_body: r#"{"id":"cs_test_conformance","object":"checkout.session","url":"https://checkout.stripe.com/c/pay/cs_test_conformance"}"#.into(),
            session_url: "https://checkout.stripe.com/c/pay/cs_test_conformance".into(),
        }
    }
}

conformance_tests!(StripeFixture);
