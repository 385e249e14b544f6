//! `RazorpayGateway` against a local server playing Razorpay's API: the
//! documented requests beyond checkout (cancel at cycle end or at once, a
//! plan or seat change now or at cycle end), what Razorpay
//! lacks (customers we could use, a portal), how `total_count` follows the
//! plan's interval, and how Razorpay's answers map onto `ProviderError`.

use crate::catalog;
use crate::support::{plan_change, FakeServer};
use axum::http::Method;
use billing_domain::ports::{BillingGateway, CheckoutRequest, CheckoutSession, ProviderError};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::ChangeTiming;
use billing_domain::{Provider, TenantId};
use billing_providers::razorpay::RazorpayGateway;
use billing_providers::{ApiClient, HttpConfig, RetryPolicy};
use std::time::Duration;

const KEY_ID: &str = "rzp_test_ApiTests0001";
const KEY_SECRET: &str = "api-tests-key-secret";

/// A fake Razorpay answering `answers` in order; the last one repeats.
async fn fake_razorpay(answers: &[(u16, &str)]) -> FakeServer {
    FakeServer::start(answers.iter().copied()).await
}

fn gateway(url: &str) -> RazorpayGateway {
    let client = ApiClient::new(HttpConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..HttpConfig::default()
    })
    .unwrap();
    RazorpayGateway::new(KEY_ID, KEY_SECRET, client).with_base_url(url)
}

fn checkout(plan_code: &str) -> CheckoutRequest {
    let price_id = catalog()
        .plan(plan_code)
        .and_then(|p| p.price_id(Provider::Razorpay))
        .unwrap()
        .to_owned();
    CheckoutRequest {
        tenant: TenantId::parse("org_api").unwrap(),
        customer_id: None,
        plan_code: plan_code.into(),
        price_id,
        success_url: "https://app.example.com/billing/success".into(),
        cancel_url: "https://app.example.com/billing".into(),
        idempotency_key: "checkout:api-1".into(),
        contact: None,
    }
}

const CREATED: &str = r#"{"id":"sub_00000000000001","entity":"subscription","status":"created","short_url":"https://rzp.io/i/m0y0f"}"#;
const CANCELLED: &str =
    r#"{"id":"sub_00000000000001","entity":"subscription","status":"active","ended_at":null}"#;

/// A `pro` checkout against a fake answering `answers`: its outcome and how
/// many requests reached the fake.
async fn checkout_answered(
    answers: &[(u16, &str)],
) -> (Result<CheckoutSession, ProviderError>, usize) {
    let razorpay = fake_razorpay(answers).await;
    let outcome = gateway(razorpay.url())
        .create_checkout_session(&checkout("pro"))
        .await;
    let requests = razorpay.requests().len();
    (outcome, requests)
}

// ---------- Requests ----------

#[tokio::test]
async fn cancel_at_period_end_posts_cancel_at_cycle_end_true_with_basic_auth() {
    let razorpay = fake_razorpay(&[(200, CANCELLED)]).await;
    gateway(razorpay.url())
        .cancel_at_period_end("sub_00000000000001")
        .await
        .unwrap();
    let request = razorpay.only_request();
    assert_eq!(
        (
            request.path.as_str(),
            request.header("authorization"),
            request.json()
        ),
        (
            "/v1/subscriptions/sub_00000000000001/cancel",
            Some("Basic cnpwX3Rlc3RfQXBpVGVzdHMwMDAxOmFwaS10ZXN0cy1rZXktc2VjcmV0"),
            serde_json::json!({"cancel_at_cycle_end": true}),
        )
    );
}

#[tokio::test]
async fn a_plan_change_patches_plan_quantity_and_when_it_applies() {
    for (timing, when) in [
        (ChangeTiming::Now, "now"),
        (ChangeTiming::PeriodEnd, "cycle_end"),
    ] {
        let razorpay = fake_razorpay(&[(200, CANCELLED)]).await;
        let accepted = gateway(razorpay.url())
            .change_plan(&plan_change(
                "sub_00000000000001",
                "plan_TeamMonthly0001",
                timing,
            ))
            .await
            .unwrap();
        assert_eq!(accepted.approval_url, None);
        let request = razorpay.only_request();
        assert_eq!(request.method, Method::PATCH);
        assert_eq!(request.path, "/v1/subscriptions/sub_00000000000001");
        assert_eq!(
            request.header("authorization"),
            Some("Basic cnpwX3Rlc3RfQXBpVGVzdHMwMDAxOmFwaS10ZXN0cy1rZXktc2VjcmV0")
        );
        assert_eq!(
            request.json(),
            serde_json::json!({"plan_id": "plan_TeamMonthly0001", "quantity": 3, "schedule_change_at": when})
        );
    }
}

#[tokio::test]
async fn cancel_now_posts_cancel_at_cycle_end_false() {
    let razorpay = fake_razorpay(&[(200, CANCELLED)]).await;
    gateway(razorpay.url())
        .cancel_now("sub_00000000000001")
        .await
        .unwrap();
    let request = razorpay.only_request();
    assert_eq!(request.path, "/v1/subscriptions/sub_00000000000001/cancel");
    assert_eq!(
        request.json(),
        serde_json::json!({"cancel_at_cycle_end": false})
    );
}

#[tokio::test]
async fn a_refused_change_keeps_razorpays_code() {
    let razorpay = fake_razorpay(&[(
        400,
        r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"Subscription is not in a valid state for update"}}"#,
    )])
    .await;
    let outcome = gateway(razorpay.url())
        .change_plan(&plan_change(
            "sub_1",
            "plan_TeamMonthly0001",
            ChangeTiming::Now,
        ))
        .await;
    assert!(matches!(
        outcome,
        Err(ProviderError::Rejected { status: 400, ref code, .. }) if code.as_deref() == Some("BAD_REQUEST_ERROR")
    ));
}

#[tokio::test]
async fn total_count_covers_one_hundred_years_of_the_plans_interval() {
    let razorpay = fake_razorpay(&[(200, CREATED)]).await;
    let gateway = gateway(razorpay.url()).with_catalog(&catalog());
    for plan in ["pro", "team", "pro-yearly"] {
        gateway
            .create_checkout_session(&checkout(plan))
            .await
            .unwrap();
    }
    let counts: Vec<_> = razorpay
        .requests()
        .iter()
        .map(|request| request.json()["total_count"].clone())
        .collect();
    assert_eq!(counts, [1200, 1200, 100]);
}

#[tokio::test]
async fn without_the_catalog_total_count_stays_within_any_periods_limit() {
    let razorpay = fake_razorpay(&[(200, CREATED)]).await;
    gateway(razorpay.url())
        .create_checkout_session(&checkout("pro"))
        .await
        .unwrap();
    assert_eq!(razorpay.requests()[0].json()["total_count"], 100);
}

#[tokio::test]
async fn checkout_returns_the_subscription_id_and_its_hosted_page() {
    let (outcome, _) = checkout_answered(&[(200, CREATED)]).await;
    let session = outcome.unwrap();
    assert_eq!(session.id, "sub_00000000000001");
    assert_eq!(session.url, "https://rzp.io/i/m0y0f");
}

// ---------- What Razorpay does not have ----------

#[tokio::test]
async fn no_customer_is_created_and_nothing_is_sent() {
    let razorpay = fake_razorpay(&[(500, "{}")]).await;
    let tenant = TenantId::parse("org_api").unwrap();
    assert_eq!(
        gateway(razorpay.url()).create_customer(&tenant).await,
        Ok(None)
    );
    assert!(razorpay.requests().is_empty());
}

#[tokio::test]
async fn portal_is_unsupported() {
    let razorpay = fake_razorpay(&[(500, "{}")]).await;
    let error = gateway(razorpay.url())
        .create_portal_session("cust_1", "https://app.example.com")
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ProviderError::Unsupported {
            provider: Provider::Razorpay,
            ..
        }
    ));
    assert!(razorpay.requests().is_empty());
}

// ---------- Answers ----------

#[tokio::test]
async fn razorpay_error_body_becomes_a_rejection_with_its_code_and_description() {
    let body = r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist","source":"NA","step":"NA","reason":"NA","metadata":{}}}"#;
    let (outcome, _) = checkout_answered(&[(400, body)]).await;
    assert_eq!(
        outcome,
        Err(ProviderError::Rejected {
            provider: Provider::Razorpay,
            status: 400,
            code: Some("BAD_REQUEST_ERROR".into()),
            message: "The id provided does not exist".into(),
        })
    );
}

#[tokio::test]
async fn refused_credentials_are_a_configuration_error() {
    let body =
        r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"The api key provided is invalid"}}"#;
    let razorpay = fake_razorpay(&[(401, body)]).await;
    let outcome = gateway(razorpay.url()).cancel_at_period_end("sub_1").await;
    assert!(
        matches!(outcome, Err(ProviderError::Configuration { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn subscription_without_a_hosted_page_is_unexpected() {
    let (outcome, _) = checkout_answered(&[(200, r#"{"id":"sub_1","short_url":null}"#)]).await;
    assert!(
        matches!(outcome, Err(ProviderError::UnexpectedResponse { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn server_error_is_not_retried_since_razorpay_has_no_idempotency_key() {
    let (outcome, requests) = checkout_answered(&[(502, "{}"), (200, CREATED)]).await;
    assert!(outcome.is_err_and(|e| e.is_retryable()));
    assert_eq!(requests, 1, "one subscription at most");
}

#[tokio::test]
async fn rate_limited_checkout_is_retried() {
    let (outcome, requests) = checkout_answered(&[(429, "{}"), (200, CREATED)]).await;
    assert_eq!(
        outcome.map(|s| s.id).ok().as_deref(),
        Some("sub_00000000000001")
    );
    assert_eq!(requests, 2);
}

// ---------- Credentials ----------

#[test]
fn credentials_come_from_key_id_and_key_secret() {
    let client = ApiClient::new(HttpConfig::default()).unwrap();
    let full: ProviderCredentials =
        billing_providers::credentials::parse_entry(serde_json::json!({
            "keyId": KEY_ID, "keySecret": KEY_SECRET, "webhookSecrets": ["w"]
        }))
        .unwrap();
    assert!(RazorpayGateway::from_credentials(&full, client.clone()).is_ok());

    let no_secret: ProviderCredentials =
        billing_providers::credentials::parse_entry(serde_json::json!({"keyId": KEY_ID})).unwrap();
    let error = RazorpayGateway::from_credentials(&no_secret, client).unwrap_err();
    assert!(error.to_string().contains("keySecret"), "{error}");
}
