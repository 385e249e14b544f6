//! PayPal through the shared adapter conformance suite. The verifier talks
//! to a local stand-in of PayPal's OAuth and verify-webhook-signature
//! endpoints (`fake_paypal.rs`), which vouches for a delivery only when the
//! signature the fixture made over the exact body and the configured webhook
//! id checks out. The lifecycle is PayPal's own
//! sequence for a subscription whose renewal fails until PayPal suspends it
//! and the subscriber cancels, trimmed from PayPal's sample payloads.

use crate::conformance::{
    conformance_tests, CheckoutExpectation, LifecycleStep, ProviderFixture, PublishedVector,
};
use crate::fake_paypal::{sign_delivery, FakePaypal, CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, ProviderError, WebhookDelivery, WebhookError, WebhookVerifier,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Catalog, Provider, ProviderEvent, SubscriptionStatus, UnixTime};
use billing_providers::paypal::{
    AccessToken, AccessTokenSource, AppCredentials, PaypalGateway, PaypalWebhooks,
};
use billing_providers::{ApiClient, HttpConfig};
use std::sync::Arc;

const FIXED_TOKEN: &str = "A21AAFixedConformanceToken";

/// The suite's checkout server answers every request the same way, so the
/// gateway gets its token from here instead of a token call.
struct FixedToken;

#[async_trait]
impl AccessTokenSource for FixedToken {
    async fn access_token(
        &self,
        _client: &ApiClient,
        _base_url: &str,
        _app: &AppCredentials,
    ) -> Result<AccessToken, ProviderError> {
        Ok(AccessToken::new(FIXED_TOKEN))
    }

    async fn forget(&self, _token: &AccessToken) {}
}

fn paypal_credentials(
    client_id: &str,
    client_secret: &str,
    webhook_id: &str,
) -> ProviderCredentials {
    billing_providers::credentials::parse_entry(serde_json::json!({
        "clientId": client_id,
        "clientSecret": client_secret,
        "webhookId": webhook_id,
    }))
    .expect("credentials")
}

fn client() -> ApiClient {
    ApiClient::new(HttpConfig::default()).expect("client")
}

/// The verifier with the stand-in it calls, which runs as long as it lives.
struct CallingStandIn {
    verifier: PaypalWebhooks,
    /// Held only: dropping it stops the stand-in.
    _paypal: FakePaypal,
}

#[async_trait]
impl WebhookVerifier for CallingStandIn {
    fn provider(&self) -> Provider {
        self.verifier.provider()
    }

    async fn verify_and_parse(
        &self,
        delivery: &WebhookDelivery,
        credentials: &ProviderCredentials,
        now: UnixTime,
        catalog: &Catalog,
    ) -> Result<ProviderEvent, WebhookError> {
        self.verifier
            .verify_and_parse(delivery, credentials, now, catalog)
            .await
    }
}

struct PaypalFixture;

impl PaypalFixture {
    fn new() -> Self {
        Self
    }
}

fn checkout_body_is_documented(body: &[u8]) -> Result<(), String> {
    let sent: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let expected = serde_json::json!({
        "plan_id": "P-0PRO0MONTHLY0000000000A",
        "custom_id": "org_conformance",
        "application_context": {
            "return_url": "https://app.example.com/billing/success",
            "cancel_url": "https://app.example.com/billing",
            "user_action": "SUBSCRIBE_NOW",
            "shipping_preference": "NO_SHIPPING"
        }
    });
    if sent == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}"))
    }
}

#[async_trait]
impl ProviderFixture for PaypalFixture {
    fn provider(&self) -> Provider {
        Provider::Paypal
    }

    async fn verifier(&self) -> Box<dyn WebhookVerifier> {
        let paypal = FakePaypal::start().await;
        let verifier = PaypalWebhooks::new(client()).with_base_url(paypal.url());
        Box::new(CallingStandIn {
            verifier,
            _paypal: paypal,
        })
    }

    fn credentials(&self) -> ProviderCredentials {
        paypal_credentials(CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID)
    }

    /// Another PayPal app, with its own webhook: its client credentials are
    /// not ours and its webhook id is another listener's.
    fn wrong_credentials(&self) -> ProviderCredentials {
        paypal_credentials(
            "AZaQHjPHxV1iPn6-hBfHxHUwvUBD9L05rTE5f1uvPE2Ls3Tr0YcqPm1Eh2uD",
            "ELbF0f7HkRz5yBz3n5V0C3GpJ_7wqBTxMkLxQ9pF2Hf7xEo3sM4KrD2vWnUq",
            "5GP028458E2496506",
        )
    }

    /// None: PayPal's sample deliveries carry RSA signatures that only
    /// PayPal's verify endpoint can check, and the stand-in is not PayPal.
    fn published_vectors(&self) -> Vec<PublishedVector> {
        Vec::new()
    }

    fn sign(&self, body: &[u8], sent_at: UnixTime) -> WebhookDelivery {
        sign_delivery(body, sent_at, WEBHOOK_ID)
    }

    fn tolerance_seconds(&self) -> Option<i64> {
        Some(300)
    }

    fn lifecycle(&self) -> Vec<LifecycleStep> {
        let step = |body: &[u8], status| LifecycleStep {
            body: body.to_vec(),
            expect_status: Some(status),
        };
        vec![
            // Created by our checkout: the buyer has not agreed yet.
            step(
                include_bytes!("../fixtures/paypal/subscription_created.json"),
                SubscriptionStatus::Incomplete,
            ),
            step(
                include_bytes!("../fixtures/paypal/subscription_activated.json"),
                SubscriptionStatus::Active,
            ),
            step(
                include_bytes!("../fixtures/paypal/sale_completed.json"),
                SubscriptionStatus::Active,
            ),
            // PayPal keeps the subscription ACTIVE while it retries.
            step(
                include_bytes!("../fixtures/paypal/subscription_payment_failed.json"),
                SubscriptionStatus::Active,
            ),
            // The plan's failure threshold is reached.
            step(
                include_bytes!("../fixtures/paypal/subscription_suspended.json"),
                SubscriptionStatus::Unpaid,
            ),
            step(
                include_bytes!("../fixtures/paypal/subscription_cancelled.json"),
                SubscriptionStatus::Canceled,
            ),
        ]
    }

    /// The event id, the same on every retry of the event.
    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String {
        let event: serde_json::Value = serde_json::from_slice(&delivery.body).expect("event");
        event["id"].as_str().expect("event id").to_owned()
    }

    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway> {
        let gateway = PaypalGateway::new(AppCredentials::new(CLIENT_ID, CLIENT_SECRET), client())
            .with_base_url(base_url)
            .with_access_tokens(Arc::new(FixedToken));
        Box::new(gateway)
    }

    /// <https://developer.paypal.com/docs/api/subscriptions/v1/#subscriptions_create>
    fn checkout_expectation(&self, _base_url: &str) -> CheckoutExpectation {
        CheckoutExpectation {
            method: "POST",
            path: "/v1/billing/subscriptions",
            headers: vec![
                ("authorization", format!("Bearer {FIXED_TOKEN}")),
                ("paypal-request-id", "checkout:conformance-1".into()),
                ("content-type", "application/json".into()),
                ("prefer", "return=minimal".into()),
            ],
            body: checkout_body_is_documented,
            response_status: 201,
            response_body: include_str!("../fixtures/paypal/create_subscription_response.json")
                .to_owned(),
            session_url:
                "https://www.paypal.com/webapps/billing/subscriptions?ba_token=BA-2M539689T3856352J"
                    .into(),
        }
    }
}

conformance_tests!(PaypalFixture::new());
