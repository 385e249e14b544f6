//! `PaypalGateway` against a local stand-in of PayPal (`fake_paypal.rs`):
//! one token for several checkouts, the documented subscription request,
//! PayPal's refusals, retries under one `PayPal-Request-Id`, and the
//! operations PayPal does not have.

use crate::fake_paypal::{FakePaypal, CLIENT_ID, CLIENT_SECRET};
use billing_domain::ports::{BillingGateway, CheckoutRequest, CustomerContact, ProviderError};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Provider, TenantId};
use billing_providers::paypal::{AppCredentials, PaypalGateway};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy};
use std::time::Duration;

const SUBSCRIPTIONS: &str = "/v1/billing/subscriptions";
const APPROVE_URL: &str =
    "https://www.paypal.com/webapps/billing/subscriptions?ba_token=BA-2M539689T3856352J";

fn http_config(max_attempts: u32) -> HttpConfig {
    HttpConfig {
        retry: RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..HttpConfig::default()
    }
}

fn gateway(paypal: &FakePaypal, max_attempts: u32) -> PaypalGateway {
    let client = ApiClient::new(http_config(max_attempts)).expect("client");
    PaypalGateway::new(AppCredentials::new(CLIENT_ID, CLIENT_SECRET), client)
        .with_base_url(paypal.url())
}

fn checkout(key: &str) -> CheckoutRequest {
    CheckoutRequest {
        tenant: TenantId::parse("org_42").expect("tenant"),
        customer_id: None,
        plan_code: "team".into(),
        price_id: "P-0TEAM0MONTHLY000000000A".into(),
        success_url: "https://app.example.com/billing/return".into(),
        cancel_url: "https://app.example.com/billing".into(),
        idempotency_key: key.into(),
        contact: None,
    }
}

#[tokio::test]
async fn checkout_creates_a_subscription_and_returns_its_approve_link() {
    let paypal = FakePaypal::start().await;
    let session = gateway(&paypal, 1)
        .create_checkout_session(&checkout("checkout:org_42:1"))
        .await
        .expect("checkout");
    assert_eq!(session.id, "I-BW452GLLEP1G");
    assert_eq!(session.url, APPROVE_URL);

    let token = paypal.state().issued_tokens[0].clone();
    let requests = paypal.requests_to(SUBSCRIPTIONS);
    let request = &requests[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(
        request.header("paypal-request-id"),
        Some("checkout:org_42:1")
    );
    assert_eq!(request.header("prefer"), Some("return=minimal"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        serde_json::json!({
            "plan_id": "P-0TEAM0MONTHLY000000000A",
            "custom_id": "org_42",
            "application_context": {
                "return_url": "https://app.example.com/billing/return",
                "cancel_url": "https://app.example.com/billing",
                "user_action": "SUBSCRIBE_NOW",
                "shipping_preference": "NO_SHIPPING"
            }
        })
    );
}

#[tokio::test]
async fn one_token_serves_several_checkouts() {
    let paypal = FakePaypal::start().await;
    let gateway = gateway(&paypal, 1);
    for key in ["checkout:a", "checkout:b", "checkout:c"] {
        gateway
            .create_checkout_session(&checkout(key))
            .await
            .expect("checkout");
    }
    assert_eq!(paypal.token_grants(), 1);
    assert_eq!(paypal.requests_to(SUBSCRIPTIONS).len(), 3);
}

#[tokio::test]
async fn contact_email_prefills_the_subscriber() {
    let paypal = FakePaypal::start().await;
    let mut request = checkout("checkout:contact");
    request.contact = Some(CustomerContact {
        name: Some("Ada Lovelace".into()),
        email: Some("ada@example.com".into()),
        phone: None,
    });
    gateway(&paypal, 1)
        .create_checkout_session(&request)
        .await
        .expect("checkout");
    let requests = paypal.requests_to(SUBSCRIPTIONS);
    assert_eq!(
        requests[0].json()["subscriber"],
        serde_json::json!({"email_address": "ada@example.com"})
    );
}

#[tokio::test]
async fn server_errors_are_retried_under_the_same_request_id() {
    let paypal = FakePaypal::start().await;
    paypal.state().subscription_answer = (
        503,
        r#"{"name":"SERVICE_UNAVAILABLE","message":"Service Unavailable."}"#.into(),
    );
    let error = gateway(&paypal, 3)
        .create_checkout_session(&checkout("checkout:retry"))
        .await
        .expect_err("unavailable");
    assert!(error.is_retryable(), "{error:?}");
    let requests = paypal.requests_to(SUBSCRIPTIONS);
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.header("paypal-request-id") == Some("checkout:retry")));
}

#[tokio::test]
async fn inactive_plan_is_rejected_with_paypals_issue() {
    let paypal = FakePaypal::start().await;
    paypal.state().subscription_answer = (
        422,
        r#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed, semantically incorrect, or failed business validation.","details":[{"issue":"PLAN_STATUS_INVALID","description":"Invalid plan status. Subscription can only be created on an active plan."}]}"#.into(),
    );
    let error = gateway(&paypal, 1)
        .create_checkout_session(&checkout("checkout:inactive"))
        .await
        .expect_err("rejected");
    let ProviderError::Rejected {
        provider,
        status,
        code,
        message,
    } = error
    else {
        panic!("rejection expected, got {error:?}");
    };
    assert_eq!(provider, Provider::Paypal);
    assert_eq!(status, 422);
    assert_eq!(code.as_deref(), Some("PLAN_STATUS_INVALID"));
    assert!(message.contains("active plan"), "{message}");
}

#[tokio::test]
async fn answer_without_an_approve_link_is_unexpected() {
    let paypal = FakePaypal::start().await;
    paypal.state().subscription_answer = (
        201,
        r#"{"id":"I-X","status":"APPROVAL_PENDING","links":[]}"#.into(),
    );
    let error = gateway(&paypal, 1)
        .create_checkout_session(&checkout("checkout:nolink"))
        .await
        .expect_err("unexpected");
    assert!(
        matches!(error, ProviderError::UnexpectedResponse { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn refused_token_is_forgotten_so_the_next_checkout_gets_a_new_one() {
    let paypal = FakePaypal::start().await;
    let gateway = gateway(&paypal, 1);
    gateway
        .create_checkout_session(&checkout("checkout:1"))
        .await
        .expect("checkout");
    let first = paypal.state().issued_tokens[0].clone();
    paypal.state().revoked_tokens.push(first);
    let error = gateway
        .create_checkout_session(&checkout("checkout:2"))
        .await
        .expect_err("token refused");
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{error:?}"
    );
    gateway
        .create_checkout_session(&checkout("checkout:2"))
        .await
        .expect("checkout with a fresh token");
    assert_eq!(paypal.token_grants(), 2);
}

#[tokio::test]
async fn wrong_app_credentials_are_a_configuration_error() {
    let paypal = FakePaypal::start().await;
    let client = ApiClient::new(http_config(1)).expect("client");
    let gateway = PaypalGateway::new(AppCredentials::new(CLIENT_ID, "not-the-secret"), client)
        .with_base_url(paypal.url());
    let error = gateway
        .create_checkout_session(&checkout("checkout:badapp"))
        .await
        .expect_err("refused");
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not-the-secret"));
    assert!(paypal.requests_to(SUBSCRIPTIONS).is_empty());
}

#[tokio::test]
async fn from_credentials_reads_the_app_and_the_api_base() {
    let paypal = FakePaypal::start().await;
    let credentials: ProviderCredentials = billing_providers::credentials::parse_entry(serde_json::json!({
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "webhookId": "8PT597110X687430LKGECATA",
        "apiBase": paypal.url(),
    }))
    .expect("credentials");
    let client = ApiClient::new(http_config(1)).expect("client");
    let gateway = PaypalGateway::from_credentials(&credentials, client).expect("gateway");
    let session = gateway
        .create_checkout_session(&checkout("checkout:from-secret"))
        .await
        .expect("checkout");
    assert_eq!(session.url, APPROVE_URL);

    let missing: ProviderCredentials =
        billing_providers::credentials::parse_entry(serde_json::json!({"clientId": CLIENT_ID}))
            .expect("credentials");
    let client = ApiClient::new(http_config(1)).expect("client");
    assert!(PaypalGateway::from_credentials(&missing, client).is_err());
}

#[tokio::test]
async fn paypal_has_no_customers_no_portal_and_no_cancel_at_period_end() {
    let paypal = FakePaypal::start().await;
    let gateway = gateway(&paypal, 1);
    let tenant = TenantId::parse("org_42").expect("tenant");
    assert_eq!(gateway.create_customer(&tenant).await, Ok(None));
    assert_eq!(
        gateway
            .create_portal_session("I-BW452GLLEP1G", "https://app.example.com")
            .await,
        Err(ProviderError::Unsupported {
            provider: Provider::Paypal,
            operation: "a hosted customer portal"
        })
    );
    assert_eq!(
        gateway.cancel_at_period_end("I-BW452GLLEP1G").await,
        Err(ProviderError::Unsupported {
            provider: Provider::Paypal,
            operation: "cancelling at period end"
        })
    );
    assert!(paypal.requests().is_empty(), "none of these calls PayPal");
}

// ---------- Self-service ----------

#[tokio::test]
async fn a_change_at_period_end_revises_the_plan_and_returns_the_approval_page() {
    let paypal = FakePaypal::start().await;
    let change = crate::support::plan_change(
        "I-BW452GLLEP1G",
        "P-0TEAM0MONTHLY000000000A",
        billing_domain::ChangeTiming::PeriodEnd,
    );
    let accepted = gateway(&paypal, 1).change_plan(&change).await.unwrap();
    assert_eq!(
        accepted.approval_url.as_deref(),
        Some("https://www.sandbox.paypal.com/webapps/billing/subscriptions/update?ba_token=BA-2M539689T3856352J")
    );
    let requests = paypal.requests_to(&format!("{SUBSCRIPTIONS}/I-BW452GLLEP1G/revise"));
    let request = &requests[0];
    assert_eq!(request.header("paypal-request-id"), Some("change:abc"));
    assert_eq!(
        request.json(),
        serde_json::json!({"plan_id": "P-0TEAM0MONTHLY000000000A", "quantity": "3"})
    );
}

#[tokio::test]
async fn paypal_neither_changes_now_nor_previews_and_calls_nothing_for_them() {
    let paypal = FakePaypal::start().await;
    let gateway = gateway(&paypal, 1);
    let now = crate::support::plan_change("I-1", "P-X", billing_domain::ChangeTiming::Now);
    assert!(matches!(
        gateway.change_plan(&now).await,
        Err(ProviderError::Unsupported {
            provider: Provider::Paypal,
            ..
        })
    ));
    assert!(matches!(
        gateway.preview_change(&now).await,
        Err(ProviderError::Unsupported {
            provider: Provider::Paypal,
            ..
        })
    ));
    let capabilities = gateway.capabilities();
    assert!(capabilities.change_at_period_end && !capabilities.change_now && !capabilities.preview);
    assert!(paypal.requests().is_empty());
}

#[tokio::test]
async fn cancel_now_posts_a_reason_and_reads_the_empty_answer() {
    let paypal = FakePaypal::start().await;
    gateway(&paypal, 1)
        .cancel_now("I-BW452GLLEP1G")
        .await
        .unwrap();
    let requests = paypal.requests_to(&format!("{SUBSCRIPTIONS}/I-BW452GLLEP1G/cancel"));
    assert_eq!(requests.len(), 1);
    assert!(requests[0].json()["reason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert!(requests[0]
        .header("paypal-request-id")
        .unwrap()
        .starts_with("cancel:I-BW452GLLEP1G:"));
}
