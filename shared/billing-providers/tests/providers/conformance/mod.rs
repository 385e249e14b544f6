//! The adapter conformance suite: the same checks run against every payment
//! provider's adapter. A provider's test file implements [`ProviderFixture`]
//! (its published vectors, how it signs, a lifecycle of its events, the
//! checkout request it must send) and expands [`conformance_tests!`], which
//! makes one `#[tokio::test]` per check:
//!
//! - the provider's published test vectors verify;
//! - a delivery signed as the provider signs verifies and normalizes, with
//!   the documented dedupe key as `event_id`;
//! - a tampered body, and a delivery checked with another account's
//!   credentials, are refused as an invalid signature;
//! - where the scheme has a timestamp, the edge of its window passes and one
//!   second beyond fails, in both directions;
//! - a full lifecycle, signed and normalized, folds through `apply_event`
//!   into the expected internal states;
//! - creating a checkout sends exactly the request the provider documents,
//!   asserted by a local HTTP server, and returns its hosted-page URL.
//!
//! Used by the `conformance_<provider>` modules beside it.

use crate::catalog;
use crate::support::FakeServer;
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, WebhookDelivery, WebhookError, WebhookVerifier,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{
    apply_event, Provider, Subscription, SubscriptionStatus, TenantId, Transition, UnixTime,
};

/// A delivery the provider published with the credentials and time it
/// verifies at.
pub struct PublishedVector {
    pub name: &'static str,
    pub credentials: ProviderCredentials,
    pub delivery: WebhookDelivery,
    pub now: UnixTime,
}

/// One delivery of a lifecycle and the subscription status expected once it
/// is applied (`None`: the step is not checked, e.g. an unknown event type).
pub struct LifecycleStep {
    pub body: Vec<u8>,
    pub expect_status: Option<SubscriptionStatus>,
}

/// The request a checkout must send, and the fake provider's answer.
pub struct CheckoutExpectation {
    pub method: &'static str,
    /// Path and query, e.g. `/v1/subscriptions`.
    pub path: &'static str,
    /// Headers that must be present with exactly these values (lowercase names).
    pub headers: Vec<(&'static str, String)>,
    /// Checks the body; `Err(reason)` fails the test.
    pub body: fn(&[u8]) -> Result<(), String>,
    pub response_status: u16,
    pub response_body: String,
    /// The hosted-page URL the gateway must return from that answer.
    pub session_url: String,
}

/// What a provider's test file tells the suite.
#[async_trait]
pub trait ProviderFixture: Send + Sync {
    fn provider(&self) -> Provider;

    /// The verifier as deployed (a scheme that calls the provider gets a
    /// local stand-in started here).
    async fn verifier(&self) -> Box<dyn WebhookVerifier>;

    /// The credentials [`ProviderFixture::sign`]'s deliveries verify with.
    fn credentials(&self) -> ProviderCredentials;

    /// Another account's credentials: same shape, other secret.
    fn wrong_credentials(&self) -> ProviderCredentials;

    /// The provider's published signature vectors (may be empty when the
    /// provider publishes none; say so in the fixture).
    fn published_vectors(&self) -> Vec<PublishedVector>;

    /// `body` delivered as the provider signs it, sent at `sent_at`.
    fn sign(&self, body: &[u8], sent_at: UnixTime) -> WebhookDelivery;

    /// The signed timestamp's window, `None` for a scheme without one.
    fn tolerance_seconds(&self) -> Option<i64>;

    /// A full lifecycle, in the provider's own order.
    fn lifecycle(&self) -> Vec<LifecycleStep>;

    /// The dedupe key the provider documents for `delivery`.
    fn dedupe_key(&self, delivery: &WebhookDelivery) -> String;

    /// The gateway, pointed at `base_url` instead of the provider.
    fn gateway(&self, base_url: &str) -> Box<dyn BillingGateway>;

    /// The checkout the suite asks for; a fixture may add a customer or
    /// contact details to [`default_checkout_request`].
    fn checkout_request(&self) -> CheckoutRequest {
        default_checkout_request(self.provider())
    }

    /// What that checkout must send (`base_url` is the local server's).
    fn checkout_expectation(&self, base_url: &str) -> CheckoutExpectation;
}

/// Plan `pro` for tenant `org_conformance`, without customer or contact,
/// with idempotency key `checkout:conformance-1`.
pub fn default_checkout_request(provider: Provider) -> CheckoutRequest {
    CheckoutRequest {
        tenant: TenantId::parse("org_conformance").expect("valid tenant"),
        customer_id: None,
        plan_code: "pro".into(),
        price_id: catalog()
            .plan("pro")
            .and_then(|p| p.price_id(provider))
            .expect("the catalog maps pro to this provider")
            .to_owned(),
        success_url: "https://app.example.com/billing/success".into(),
        cancel_url: "https://app.example.com/billing".into(),
        idempotency_key: "checkout:conformance-1".into(),
        contact: None,
    }
}

/// The time lifecycles are signed and checked at.
pub const NOW: UnixTime = UnixTime(1_767_225_600);

// ---------- The checks ----------

pub async fn published_vectors_verify(fixture: &dyn ProviderFixture) {
    let verifier = fixture.verifier().await;
    for vector in fixture.published_vectors() {
        let result = verifier
            .verify_and_parse(
                &vector.delivery,
                &vector.credentials,
                vector.now,
                &catalog(),
            )
            .await;
        // A vector's body need not be an event of ours: only the signature
        // must pass.
        assert!(
            !matches!(
                result,
                Err(WebhookError::InvalidSignature
                    | WebhookError::MissingSignature(_)
                    | WebhookError::MalformedSignature(_)
                    | WebhookError::TimestampTooOld
                    | WebhookError::TimestampInFuture
                    | WebhookError::NoSecretConfigured)
            ),
            "{}: published vector refused: {result:?}",
            vector.name
        );
    }
}

fn first_body(fixture: &dyn ProviderFixture) -> Vec<u8> {
    fixture
        .lifecycle()
        .into_iter()
        .next()
        .expect("a lifecycle has steps")
        .body
}

pub async fn signed_delivery_verifies_with_its_dedupe_key(fixture: &dyn ProviderFixture) {
    let verifier = fixture.verifier().await;
    let delivery = fixture.sign(&first_body(fixture), NOW);
    let event = verifier
        .verify_and_parse(&delivery, &fixture.credentials(), NOW, &catalog())
        .await
        .expect("a delivery signed as the provider signs verifies");
    assert_eq!(event.provider, fixture.provider());
    assert_eq!(event.event_id, fixture.dedupe_key(&delivery));
}

pub async fn tampered_body_is_refused(fixture: &dyn ProviderFixture) {
    let verifier = fixture.verifier().await;
    let mut delivery = fixture.sign(&first_body(fixture), NOW);
    // One byte changed in the middle of the body.
    let middle = delivery.body.len() / 2;
    delivery.body[middle] = if delivery.body[middle] == b'1' {
        b'2'
    } else {
        b'1'
    };
    let result = verifier
        .verify_and_parse(&delivery, &fixture.credentials(), NOW, &catalog())
        .await;
    assert_eq!(result.err(), Some(WebhookError::InvalidSignature));
}

pub async fn other_accounts_credentials_are_refused(fixture: &dyn ProviderFixture) {
    let verifier = fixture.verifier().await;
    let delivery = fixture.sign(&first_body(fixture), NOW);
    let result = verifier
        .verify_and_parse(&delivery, &fixture.wrong_credentials(), NOW, &catalog())
        .await;
    assert_eq!(result.err(), Some(WebhookError::InvalidSignature));
}

pub async fn missing_credentials_are_refused(fixture: &dyn ProviderFixture) {
    let verifier = fixture.verifier().await;
    let delivery = fixture.sign(&first_body(fixture), NOW);
    let result = verifier
        .verify_and_parse(&delivery, &ProviderCredentials::default(), NOW, &catalog())
        .await;
    assert_eq!(result.err(), Some(WebhookError::NoSecretConfigured));
}

pub async fn timestamp_window_is_enforced_both_ways(fixture: &dyn ProviderFixture) {
    let Some(tolerance) = fixture.tolerance_seconds() else {
        return;
    };
    let verifier = fixture.verifier().await;
    let body = first_body(fixture);
    let check = |sent_at: UnixTime| {
        let delivery = fixture.sign(&body, sent_at);
        let verifier = &verifier;
        async move {
            verifier
                .verify_and_parse(&delivery, &fixture.credentials(), NOW, &catalog())
                .await
        }
    };
    assert!(
        check(NOW.plus_seconds(-tolerance)).await.is_ok(),
        "edge (old)"
    );
    assert!(
        check(NOW.plus_seconds(tolerance)).await.is_ok(),
        "edge (future)"
    );
    assert_eq!(
        check(NOW.plus_seconds(-tolerance - 1)).await.err(),
        Some(WebhookError::TimestampTooOld)
    );
    assert_eq!(
        check(NOW.plus_seconds(tolerance + 1)).await.err(),
        Some(WebhookError::TimestampInFuture)
    );
}

pub async fn lifecycle_normalizes_to_the_expected_states(fixture: &dyn ProviderFixture) {
    let verifier = fixture.verifier().await;
    let tenant = TenantId::parse("org_conformance").expect("tenant");
    let mut record: Option<Subscription> = None;
    for (index, step) in fixture.lifecycle().into_iter().enumerate() {
        let delivery = fixture.sign(&step.body, NOW);
        let event = verifier
            .verify_and_parse(&delivery, &fixture.credentials(), NOW, &catalog())
            .await
            .unwrap_or_else(|e| panic!("step {index}: {e}"));
        if let Transition::Applied(next) = apply_event(record.as_ref(), &tenant, &event, NOW) {
            record = Some(*next);
        }
        if let Some(expected) = step.expect_status {
            let status = record.as_ref().map(|r| r.status);
            assert_eq!(
                status,
                Some(expected),
                "step {index} ({}): status",
                event.event_type
            );
        }
    }
}

pub async fn checkout_sends_the_documented_request(fixture: &dyn ProviderFixture) {
    let server = FakeServer::unscripted().await;
    let expectation = fixture.checkout_expectation(server.url());
    server.push((
        expectation.response_status,
        expectation.response_body.clone(),
    ));

    let gateway = fixture.gateway(server.url());
    let session = gateway
        .create_checkout_session(&fixture.checkout_request())
        .await
        .expect("checkout");
    assert_eq!(session.url, expectation.session_url);

    let request = server.only_request();
    assert_eq!(request.method.as_str(), expectation.method);
    assert_eq!(request.path_and_query(), expectation.path);
    for (name, value) in &expectation.headers {
        assert_eq!(request.header(name), Some(value.as_str()), "header {name}");
    }
    if let Err(reason) = (expectation.body)(&request.body) {
        panic!(
            "checkout body: {reason}\n{}",
            String::from_utf8_lossy(&request.body)
        );
    }
}

/// One `#[tokio::test]` per check for `$fixture` (an expression building the
/// fixture).
macro_rules! conformance_tests {
    ($fixture:expr) => {
        $crate::conformance::conformance_tests!(@each $fixture;
            published_vectors_verify,
            signed_delivery_verifies_with_its_dedupe_key,
            tampered_body_is_refused,
            other_accounts_credentials_are_refused,
            missing_credentials_are_refused,
            timestamp_window_is_enforced_both_ways,
            lifecycle_normalizes_to_the_expected_states,
            checkout_sends_the_documented_request,
        );
    };
    (@each $fixture:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let fixture = $fixture;
                $crate::conformance::$check(&fixture).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;
