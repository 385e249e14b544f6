//! Cashfree through the shared adapter conformance suite: its signature
//! scheme, a subscription's life in its own 2025-01-01 webhooks (mandate
//! authorized, active, pre-debit notice, a paid charge, a failed charge,
//! on hold, cancelled), and the create-subscription request it documents.

use crate::conformance::{
    conformance_tests, CheckoutExpectation, LifecycleStep, ProviderFixture, PublishedVector,
};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CustomerContact, WebhookDelivery, WebhookVerifier,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Provider, SubscriptionStatus, UnixTime};
use billing_providers::cashfree::signature::DEFAULT_TOLERANCE_SECONDS;
use billing_providers::cashfree::signed_delivery;
use billing_providers::{ApiClient, CashfreeGateway, CashfreeWebhooks, HttpConfig};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "TEST1023456789abcdef";
const CLIENT_SECRET: &str = "cfsk_ma_test_conformance_0123456789abcdef";
/// Our id for the suite's checkout (tenant `org_conformance`, idempotency
/// key `checkout:conformance-1`): the one every lifecycle fixture names.
const SUBSCRIPTION_ID: &str = "sub-b3JnX2NvbmZvcm1hbmNl.0b27d502a109d8d151560bd35e8bb19c";
const SESSION_ID: &str = "sub_session_4x7Qm3cVb9conformance";

struct CashfreeFixture;

fn credentials(client_secret: &str) -> ProviderCredentials {
    billing_providers::credentials::parse_entry(serde_json::json!({
        "clientId": CLIENT_ID,
        "clientSecret": client_secret,
        "webhookSecrets": [client_secret],
    }))
    .expect("credentials")
}

fn step(body: &[u8], expect_status: SubscriptionStatus) -> LifecycleStep {
    LifecycleStep {
        body: body.to_vec(),
        expect_status: Some(expect_status),
    }
}

fn check_create_subscription_body(body: &[u8]) -> Result<(), String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let expected = [
        ("/subscription_id", SUBSCRIPTION_ID),
        ("/customer_details/customer_email", "owner@example.com"),
        ("/customer_details/customer_phone", "9900000000"),
        ("/customer_details/customer_name", "Ada Owner"),
        ("/plan_details/plan_id", "cf_plan_pro_monthly"),
        (
            "/subscription_meta/return_url",
            "https://app.example.com/billing/success",
        ),
        ("/subscription_tags/tenant_id", "org_conformance"),
        ("/subscription_tags/plan", "pro"),
    ];
    for (pointer, value) in expected {
        let found = json.pointer(pointer).and_then(|v| v.as_str());
        if found != Some(value) {
            return Err(format!("{pointer} is {found:?}, expected {value:?}"));
        }
    }
    Ok(())
}

#[async_trait]
impl ProviderFixture for CashfreeFixture {
    fn provider(&self) -> Provider {
        Provider::Cashfree
    }

    async fn verifier(&self) -> Box<dyn WebhookVerifier> {
        Box::new(CashfreeWebhooks::new())
    }

    fn credentials(&self) -> ProviderCredentials {
        credentials(CLIENT_SECRET)
    }

    fn wrong_credentials(&self) -> ProviderCredentials {
        credentials("cfsk_ma_test_another_merchant_fedcba987654")
    }

    /// Cashfree publishes sample headers (e.g. `x-webhook-signature:
    /// 07r5C3VM…yngHI=` at `x-webhook-timestamp: 1746427759733`) but not the
    /// body and client secret they were made with, so there is no vector to
    /// check; `signature.rs` tests the documented construction instead.
    fn published_vectors(&self) -> Vec<PublishedVector> {
        Vec::new()
    }

    fn sign(&self, body: &[u8], sent_at: UnixTime) -> WebhookDelivery {
        signed_delivery(CLIENT_SECRET, sent_at, body)
    }

    fn tolerance_seconds(&self) -> Option<i64> {
        Some(DEFAULT_TOLERANCE_SECONDS)
    }

    fn lifecycle(&self) -> Vec<LifecycleStep> {
        use SubscriptionStatus::*;
        vec![
            // The hosted checkout ends with an authorized mandate: pending.
            step(
                include_bytes!("../fixtures/cashfree/v2025_subscription_auth_status.json"),
                Incomplete,
            ),
            step(
                include_bytes!(
                    "../fixtures/cashfree/v2025_subscription_status_changed_active.json"
                ),
                Active,
            ),
            // The pre-debit notice changes nothing.
            step(
                include_bytes!(
                    "../fixtures/cashfree/v2025_subscription_payment_notification_initiated.json"
                ),
                Active,
            ),
            step(
                include_bytes!("../fixtures/cashfree/v2025_subscription_payment_success.json"),
                Active,
            ),
            // A failed charge alone changes no status; Cashfree's ON_HOLD does.
            step(
                include_bytes!("../fixtures/cashfree/v2025_subscription_payment_failed.json"),
                Active,
            ),
            step(
                include_bytes!(
                    "../fixtures/cashfree/v2025_subscription_status_changed_on_hold.json"
                ),
                PastDue,
            ),
            step(
                include_bytes!(
                    "../fixtures/cashfree/v2025_subscription_status_changed_cancelled.json"
                ),
                Canceled,
            ),
        ]
    }

    /// Cashfree puts no event id in the body: the key is the raw body's
    /// SHA-256 (see `cashfree::events`).
    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&delivery.body)))
    }

    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway> {
        let client = ApiClient::new(HttpConfig::default()).expect("client");
        let gateway = CashfreeGateway::from_credentials(&self.credentials(), client)
            .expect("gateway")
            .with_base_url(base_url);
        Box::new(gateway)
    }

    /// Cashfree requires the payer's email and phone.
    fn checkout_request(&self) -> CheckoutRequest {
        CheckoutRequest {
            tenant: billing_domain::TenantId::parse("org_conformance").expect("tenant"),
            customer_id: None,
            plan_code: "pro".into(),
            price_id: crate::catalog()
                .plan("pro")
                .and_then(|p| p.price_id(Provider::Cashfree))
                .expect("the catalog maps pro to Cashfree")
                .to_owned(),
            success_url: "https://app.example.com/billing/success".into(),
            cancel_url: "https://app.example.com/billing".into(),
            idempotency_key: "checkout:conformance-1".into(),
            contact: Some(CustomerContact {
                name: Some("Ada Owner".into()),
                email: Some("owner@example.com".into()),
                phone: Some("9900000000".into()),
            }),
        }
    }

    fn checkout_expectation(&self, _base_url: &str) -> CheckoutExpectation {
        CheckoutExpectation {
            method: "POST",
            path: "/pg/subscriptions",
            headers: vec![
                ("x-client-id", CLIENT_ID.into()),
                ("x-client-secret", CLIENT_SECRET.into()),
                ("x-api-version", "2025-01-01".into()),
                ("content-type", "application/json".into()),
            ],
            body: check_create_subscription_body,
            response_status: 200,
            response_body: serde_json::json!({
                "cf_subscription_id": "23639356",
                "subscription_id": SUBSCRIPTION_ID,
                "subscription_session_id": SESSION_ID,
                "subscription_status": "INITIALIZED",
                "plan_details": {"plan_id": "cf_plan_pro_monthly"},
                "subscription_tags": {"tenant_id": "org_conformance", "plan": "pro"}
            })
            .to_string(),
            session_url: format!(
                "https://app.example.com/billing/checkout/cashfree#subscription_session_id={SESSION_ID}&environment=production"
            ),
        }
    }
}

conformance_tests!(CashfreeFixture);
