//! `StripeGateway` against a local HTTP server playing Stripe: the exact
//! request shape Stripe documents (method, path, form encoding, bearer key,
//! idempotency key, form fields), and how retries and failures map onto
//! `ProviderError`.

use crate::support::{reply, unreachable_url, FakeServer, Recorded};
use axum::http::Method;
use billing_domain::ports::{BillingGateway, CheckoutRequest, CheckoutSession, ProviderError};
use billing_domain::{Provider, TenantId};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy, StripeGateway};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const API_KEY: &str = "sk_test_51FakeKeyForLocalTests";

/// The gateway pointed at the fake Stripe.
fn gateway(stripe: &FakeServer) -> StripeGateway {
    StripeGateway::new(API_KEY, client(Duration::from_secs(5))).with_base_url(stripe.url())
}

/// Millisecond backoffs keep retry tests fast.
fn client(request_timeout: Duration) -> ApiClient {
    ApiClient::new(HttpConfig {
        connect_timeout: Duration::from_secs(1),
        request_timeout,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
    })
    .unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("org_42").unwrap()
}

fn checkout_request() -> CheckoutRequest {
    CheckoutRequest {
        tenant: tenant(),
        customer_id: Some("cus_RtenantOrg42".into()),
        plan_code: "pro".into(),
        price_id: "price_pro_monthly".into(),
        success_url: "https://app.example.com/billing?success=1&session={CHECKOUT_SESSION_ID}"
            .into(),
        cancel_url: "https://app.example.com/billing?canceled=1".into(),
        idempotency_key: "checkout:org_42:7f1c0e9a".into(),
        contact: None,
    }
}

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn assert_stripe_post(request: &Recorded, path: &str) {
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, path);
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert!(
        request
            .header("idempotency-key")
            .is_some_and(|k| !k.is_empty()),
        "every Stripe POST carries an Idempotency-Key"
    );
}

const CUSTOMER: &str =
    r#"{"id":"cus_RtenantOrg42","object":"customer","metadata":{"tenant_id":"org_42"}}"#;
const SESSION: &str = r#"{"id":"cs_test_a1","object":"checkout.session","mode":"subscription","url":"https://checkout.stripe.com/c/pay/cs_test_a1"}"#;

// ---------- Request shapes ----------

#[tokio::test]
async fn create_customer_posts_tenant_metadata_with_a_per_tenant_idempotency_key() {
    let stripe = FakeServer::start([reply(200, CUSTOMER)]).await;
    let customer = gateway(&stripe).create_customer(&tenant()).await.unwrap();
    assert_eq!(customer.as_deref(), Some("cus_RtenantOrg42"));
    let request = stripe.only_request();
    assert_stripe_post(&request, "/v1/customers");
    assert_eq!(
        request.header("idempotency-key"),
        Some("customer-create:org_42")
    );
    assert_eq!(request.form(), form(&[("metadata[tenant_id]", "org_42")]));
}

#[tokio::test]
async fn create_customer_twice_for_one_tenant_reuses_the_idempotency_key() {
    let stripe = FakeServer::start([reply(200, CUSTOMER)]).await;
    let gateway = gateway(&stripe);
    gateway.create_customer(&tenant()).await.unwrap();
    gateway.create_customer(&tenant()).await.unwrap();
    let keys: Vec<_> = stripe
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["customer-create:org_42", "customer-create:org_42"]);
}

#[tokio::test]
async fn checkout_session_posts_the_documented_subscription_fields() {
    let stripe = FakeServer::start([reply(200, SESSION)]).await;
    let session = gateway(&stripe)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap();
    assert_eq!(
        session,
        CheckoutSession {
            id: "cs_test_a1".into(),
            url: "https://checkout.stripe.com/c/pay/cs_test_a1".into()
        }
    );
    let request = stripe.only_request();
    assert_stripe_post(&request, "/v1/checkout/sessions");
    assert_eq!(
        request.header("idempotency-key"),
        Some("checkout:org_42:7f1c0e9a")
    );
    assert_eq!(
        request.form(),
        form(&[
            ("mode", "subscription"),
            ("customer", "cus_RtenantOrg42"),
            ("line_items[0][price]", "price_pro_monthly"),
            ("line_items[0][quantity]", "1"),
            (
                "success_url",
                "https://app.example.com/billing?success=1&session={CHECKOUT_SESSION_ID}"
            ),
            ("cancel_url", "https://app.example.com/billing?canceled=1"),
            ("client_reference_id", "org_42"),
            ("metadata[tenant_id]", "org_42"),
            ("metadata[plan]", "pro"),
            ("subscription_data[metadata][tenant_id]", "org_42"),
            ("subscription_data[metadata][plan]", "pro"),
        ])
    );
}

#[tokio::test]
async fn portal_session_posts_customer_and_return_url() {
    let stripe = FakeServer::start([reply(
        200,
        r#"{"id":"bps_1","object":"billing_portal.session","url":"https://billing.stripe.com/p/session/test_1"}"#,
    )])
    .await;
    let url = gateway(&stripe)
        .create_portal_session("cus_RtenantOrg42", "https://app.example.com/billing")
        .await
        .unwrap();
    assert_eq!(url, "https://billing.stripe.com/p/session/test_1");
    let request = stripe.only_request();
    assert_stripe_post(&request, "/v1/billing_portal/sessions");
    assert_eq!(
        request.form(),
        form(&[
            ("customer", "cus_RtenantOrg42"),
            ("return_url", "https://app.example.com/billing")
        ])
    );
}

#[tokio::test]
async fn the_pinned_api_version_is_sent_unless_another_is_asked_for() {
    let stripe = FakeServer::start([reply(200, CUSTOMER)]).await;
    gateway(&stripe).create_customer(&tenant()).await.unwrap();
    gateway(&stripe)
        .with_api_version("2025-09-30.clover")
        .create_customer(&tenant())
        .await
        .unwrap();
    let versions: Vec<_> = stripe
        .requests()
        .iter()
        .map(|r| r.header("stripe-version").map(str::to_owned))
        .collect();
    assert_eq!(
        versions,
        [
            Some(billing_providers::stripe::api::PINNED_API_VERSION.to_owned()),
            Some("2025-09-30.clover".to_owned())
        ]
    );
    assert_eq!(
        billing_providers::stripe::api::PINNED_API_VERSION,
        "2025-07-30.basil"
    );
}

#[tokio::test]
async fn gateway_reads_its_key_from_the_provider_secret() {
    let stripe = FakeServer::start([reply(200, CUSTOMER)]).await;
    let secrets = billing_providers::credentials::parse(&format!(
        r#"{{"stripe":{{"apiKey":"{API_KEY}","webhookSecrets":["whsec_1"]}}}}"#
    ))
    .unwrap();
    let gateway = StripeGateway::from_credentials(
        secrets.provider(Provider::Stripe).unwrap(),
        client(Duration::from_secs(5)),
    )
    .unwrap()
    .with_base_url(stripe.url());
    gateway.create_customer(&tenant()).await.unwrap();
    assert_stripe_post(&stripe.only_request(), "/v1/customers");
    assert!(!format!("{gateway:?}").contains(API_KEY));
}

// ---------- Retries ----------

#[tokio::test]
async fn server_error_is_retried_with_the_same_idempotency_key_and_body() {
    let stripe = FakeServer::start([
        reply(
            500,
            r#"{"error":{"type":"api_error","message":"Something went wrong"}}"#,
        ),
        reply(200, SESSION),
    ])
    .await;
    gateway(&stripe)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("idempotency-key"),
        Some("checkout:org_42:7f1c0e9a")
    );
    assert_eq!(
        requests[1].header("idempotency-key"),
        Some("checkout:org_42:7f1c0e9a")
    );
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn rate_limited_request_is_retried() {
    let too_many = reply(
        429,
        r#"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}"#,
    );
    let stripe = FakeServer::start([too_many.clone(), too_many, reply(200, CUSTOMER)]).await;
    assert_eq!(
        gateway(&stripe).create_customer(&tenant()).await.unwrap(),
        Some("cus_RtenantOrg42".to_owned())
    );
    assert_eq!(stripe.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_past_the_last_attempt_are_transient() {
    let stripe = FakeServer::start([reply(503, "")]).await;
    let error = gateway(&stripe)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Transient {
                provider: Provider::Stripe,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(stripe.requests().len(), 3);
}

#[tokio::test]
async fn stripe_should_retry_false_stops_retrying_a_server_error() {
    let stripe = FakeServer::start([
        reply(500, r#"{"error":{"type":"api_error"}}"#).with_header("stripe-should-retry", "false"),
        reply(200, CUSTOMER),
    ])
    .await;
    let error = gateway(&stripe)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(stripe.requests().len(), 1);
}

#[tokio::test]
async fn stripe_should_retry_true_retries_a_conflict() {
    let stripe = FakeServer::start([
        reply(
            409,
            r#"{"error":{"type":"idempotency_error","code":"lock_timeout","message":"busy"}}"#,
        )
        .with_header("stripe-should-retry", "true"),
        reply(200, CUSTOMER),
    ])
    .await;
    assert_eq!(
        gateway(&stripe).create_customer(&tenant()).await.unwrap(),
        Some("cus_RtenantOrg42".to_owned())
    );
    assert_eq!(stripe.requests().len(), 2);
}

// ---------- Failures ----------

#[tokio::test]
async fn bad_request_is_not_retried_and_is_rejected_with_stripes_code() {
    let stripe = FakeServer::start([
        reply(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"line_items[0][price]","message":"No such price: 'price_pro_monthly'"}}"#,
        ),
        reply(200, SESSION),
    ])
    .await;
    let error = gateway(&stripe)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Rejected {
            provider: Provider::Stripe,
            status: 400,
            code: Some("resource_missing".into()),
            message: "No such price: 'price_pro_monthly'".into(),
        }
    );
    assert!(!error.is_retryable());
    assert_eq!(stripe.requests().len(), 1);
}

#[tokio::test]
async fn rejection_without_a_code_falls_back_to_the_error_type() {
    let stripe = FakeServer::start([reply(
        402,
        r#"{"error":{"type":"card_error","message":"Your card was declined."}}"#,
    )])
    .await;
    let error = gateway(&stripe)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Rejected { status: 402, code: Some(ref c), .. } if c == "card_error"),
        "{error:?}"
    );
}

#[tokio::test]
async fn unauthorized_is_a_configuration_error_that_hides_the_key() {
    let stripe = FakeServer::start([reply(
        401,
        r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****ests"}}"#,
    )])
    .await;
    let error = gateway(&stripe)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Configuration {
                provider: Provider::Stripe,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains("sk_test"), "{error}");
    assert_eq!(stripe.requests().len(), 1);
}

#[tokio::test]
async fn forbidden_is_a_configuration_error() {
    let stripe = FakeServer::start([reply(
        403,
        r#"{"error":{"type":"invalid_request_error","code":"secret_key_required","message":"This API call cannot be made with a publishable API key."}}"#,
    )])
    .await;
    let error = gateway(&stripe)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("secret_key_required"));
}

#[tokio::test]
async fn hanging_server_times_out_as_transient() {
    let stripe = FakeServer::start([reply(200, CUSTOMER).after(Duration::from_secs(5))]).await;
    let gateway =
        StripeGateway::new(API_KEY, client(Duration::from_millis(200))).with_base_url(stripe.url());
    let started = Instant::now();
    let error = gateway.create_customer(&tenant()).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A timed-out POST with an idempotency key is safe to repeat.
    assert_eq!(stripe.requests().len(), 3);
}

#[tokio::test]
async fn unreachable_server_is_transient() {
    let gateway = StripeGateway::new(API_KEY, client(Duration::from_secs(1)))
        .with_base_url(unreachable_url());
    let error = gateway.create_customer(&tenant()).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn garbage_json_is_an_unexpected_response() {
    let stripe = FakeServer::start([reply(200, "<html>upstream proxy says hello</html>")]).await;
    let error = gateway(&stripe)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::UnexpectedResponse {
                provider: Provider::Stripe,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains("proxy says"), "{error}");
    assert_eq!(stripe.requests().len(), 1);
}

#[tokio::test]
async fn checkout_session_without_url_is_an_unexpected_response() {
    let stripe = FakeServer::start([reply(200, r#"{"id":"cs_test_a1","url":null}"#)]).await;
    let error = gateway(&stripe)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::UnexpectedResponse { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn invalid_base_url_is_a_configuration_error() {
    let gateway =
        StripeGateway::new(API_KEY, client(Duration::from_secs(1))).with_base_url("not a url");
    let error = gateway.create_customer(&tenant()).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn cancel_at_period_end_sets_the_flag_on_the_subscription() {
    let subscription = r#"{"id":"sub_1QproOrg42","object":"subscription","schedule":null,
        "default_payment_method":null,"cancel_at_period_end":false,"items":{"data":[]}}"#;
    let stripe = FakeServer::start([
        reply(200, subscription),
        reply(
            200,
            r#"{"id":"sub_1QproOrg42","object":"subscription","cancel_at_period_end":true}"#,
        ),
    ])
    .await;
    gateway(&stripe)
        .cancel_at_period_end("sub_1QproOrg42")
        .await
        .unwrap();
    // First a read: a schedule managing the subscription must be released.
    let requests = stripe.requests();
    assert_eq!(requests[0].path, "/v1/subscriptions/sub_1QproOrg42");
    let request = requests[1].clone();
    assert_stripe_post(&request, "/v1/subscriptions/sub_1QproOrg42");
    assert_eq!(request.form(), form(&[("cancel_at_period_end", "true")]));
    assert!(request
        .header("idempotency-key")
        .unwrap()
        .starts_with("cancel-at-period-end:sub_1QproOrg42:"));
}

#[tokio::test]
async fn checkout_without_a_customer_prefills_the_contact_email() {
    let stripe = FakeServer::start([reply(200, SESSION)]).await;
    let request = CheckoutRequest {
        customer_id: None,
        contact: Some(billing_domain::ports::CustomerContact {
            email: Some("payer@example.com".into()),
            ..Default::default()
        }),
        ..checkout_request()
    };
    gateway(&stripe)
        .create_checkout_session(&request)
        .await
        .unwrap();
    let form = stripe.only_request().form();
    assert_eq!(
        form.get("customer_email").map(String::as_str),
        Some("payer@example.com")
    );
    assert!(!form.contains_key("customer"));
}
