//! `CashfreeGateway` against a local server playing Cashfree's
//! Subscriptions API: the requests Cashfree documents (headers, paths,
//! JSON bodies), the local refusal of a checkout without contact details,
//! a retried checkout reusing the subscription it already created, the
//! manage call, and how Cashfree's errors map onto `ProviderError`.

use crate::support::FakeServer;
use axum::http::Method;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CustomerContact, ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::{Provider, TenantId};
use billing_providers::{ApiClient, CashfreeGateway, HttpConfig, RetryPolicy};
use std::time::Duration;

const CLIENT_ID: &str = "TEST1023456789abcdef";
const CLIENT_SECRET: &str = "cfsk_ma_test_api_0123456789";

/// A fake Cashfree answering each request with the next scripted reply,
/// and once they are used up with a 500.
async fn fake_cashfree(replies: Vec<(u16, serde_json::Value)>) -> FakeServer {
    FakeServer::start_then(
        replies,
        (500, serde_json::json!({"message": "no reply scripted"})),
    )
    .await
}

fn credentials(extra: serde_json::Value) -> ProviderCredentials {
    let mut entry = serde_json::json!({
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "webhookSecrets": [CLIENT_SECRET],
    });
    if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
        entry.extend(extra.clone());
    }
    billing_providers::credentials::parse_entry(entry).unwrap()
}

fn client() -> ApiClient {
    ApiClient::new(HttpConfig {
        retry: RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        },
        ..HttpConfig::default()
    })
    .unwrap()
}

fn gateway(fake: &FakeServer, extra: serde_json::Value) -> CashfreeGateway {
    CashfreeGateway::from_credentials(&credentials(extra), client())
        .unwrap()
        .with_base_url(fake.url())
}

fn checkout(contact: Option<CustomerContact>) -> CheckoutRequest {
    CheckoutRequest {
        tenant: TenantId::parse("org_42").unwrap(),
        customer_id: None,
        plan_code: "team".into(),
        price_id: "cf_plan_team_monthly".into(),
        success_url: "https://app.example.com/billing/success?from=checkout".into(),
        cancel_url: "https://app.example.com/billing".into(),
        idempotency_key: "checkout:org_42:7".into(),
        contact,
    }
}

fn contact() -> Option<CustomerContact> {
    Some(CustomerContact {
        name: None,
        email: Some("billing@example.com".into()),
        phone: Some("9900000000".into()),
    })
}

fn created(session: &str) -> (u16, serde_json::Value) {
    (
        200,
        serde_json::json!({"subscription_session_id": session, "subscription_status": "INITIALIZED"}),
    )
}

#[tokio::test]
async fn checkout_without_email_or_phone_is_refused_before_calling_cashfree() {
    let fake = fake_cashfree(vec![created("never")]).await;
    let gateway = gateway(&fake, serde_json::json!({}));
    let partial = Some(CustomerContact {
        name: Some("Ada".into()),
        email: Some("ada@example.com".into()),
        phone: Some("  ".into()),
    });
    for contact in [None, partial] {
        let error = gateway
            .create_checkout_session(&checkout(contact))
            .await
            .unwrap_err();
        let ProviderError::Rejected { status, code, .. } = &error else {
            panic!("rejected expected: {error:?}")
        };
        assert_eq!((*status, code.as_deref()), (400, Some("contact_required")));
        assert!(!error.is_retryable());
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn checkout_sends_cashfree_fields_and_returns_our_checkout_page() {
    let fake = fake_cashfree(vec![created("session_abc/+=")]).await;
    let gateway = gateway(
        &fake,
        serde_json::json!({"environment": "sandbox", "apiVersion": "2025-08-01"}),
    );
    let session = gateway
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap();
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    let body = request.json();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/pg/subscriptions");
    assert_eq!(request.header("x-client-id"), Some(CLIENT_ID));
    assert_eq!(request.header("x-client-secret"), Some(CLIENT_SECRET));
    assert_eq!(request.header("x-api-version"), Some("2025-08-01"));
    let subscription_id = body["subscription_id"].as_str().unwrap().to_owned();
    assert_eq!(session.id, subscription_id);
    assert!(subscription_id.starts_with("sub-"));
    assert_eq!(
        body["customer_details"],
        serde_json::json!({"customer_email": "billing@example.com", "customer_phone": "9900000000"})
    );
    assert_eq!(body["plan_details"]["plan_id"], "cf_plan_team_monthly");
    assert_eq!(
        body["subscription_meta"]["return_url"],
        "https://app.example.com/billing/success?from=checkout"
    );
    assert_eq!(
        body["subscription_tags"],
        serde_json::json!({"tenant_id": "org_42", "plan": "team"})
    );
    // Query dropped, session in the fragment, encoded.
    assert_eq!(
        session.url,
        "https://app.example.com/billing/checkout/cashfree#subscription_session_id=session_abc%2F%2B%3D&environment=sandbox"
    );
}

#[tokio::test]
async fn same_checkout_request_names_the_same_subscription() {
    let fake = fake_cashfree(vec![created("s1"), created("s2")]).await;
    let gateway = gateway(&fake, serde_json::json!({}));
    let first = gateway
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap();
    let second = gateway
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    let mut other = checkout(contact());
    other.idempotency_key = "checkout:org_42:8".into();
    let third = gateway.create_checkout_session(&other).await;
    assert!(third.is_err(), "no reply scripted");
    let seen = fake.requests();
    assert_ne!(
        seen[2].json()["subscription_id"],
        seen[0].json()["subscription_id"]
    );
}

#[tokio::test]
async fn retried_checkout_reuses_the_subscription_cashfree_already_has() {
    let fake = fake_cashfree(vec![
        (
            409,
            serde_json::json!({"message": "subscription with this id already exists", "code": "subscription_id_already_exists", "type": "invalid_request_error"}),
        ),
        (
            200,
            serde_json::json!({"subscription_id": "whatever", "subscription_session_id": "existing_session", "subscription_status": "INITIALIZED"}),
        ),
    ])
    .await;
    let gateway = gateway(&fake, serde_json::json!({}));
    let session = gateway
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap();
    assert!(session
        .url
        .contains("subscription_session_id=existing_session"));
    assert!(session.url.ends_with("environment=production"));
    let seen = fake.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].method, Method::GET);
    assert_eq!(seen[1].path, format!("/pg/subscriptions/{}", session.id));
    assert_eq!(seen[1].header("x-client-secret"), Some(CLIENT_SECRET));
    assert_eq!(seen[1].header("x-api-version"), Some("2025-01-01"));
}

#[tokio::test]
async fn cashfree_refusals_keep_their_code_and_bad_keys_hide_the_message() {
    let fake = fake_cashfree(vec![
        (
            400,
            serde_json::json!({"message": "plan_id is invalid", "code": "plan_id_invalid", "type": "invalid_request_error"}),
        ),
        (
            401,
            serde_json::json!({"message": "authentication Failed for cfsk_ma_test_api", "type": "authentication_error"}),
        ),
    ])
    .await;
    let gateway = gateway(&fake, serde_json::json!({}));
    let error = gateway
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Rejected {
            provider: Provider::Cashfree,
            status: 400,
            code: Some("plan_id_invalid".into()),
            message: "plan_id is invalid".into(),
        }
    );
    let error = gateway
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("authentication_error"));
    assert!(!error.to_string().contains("cfsk_"));
}

#[tokio::test]
async fn response_without_a_session_is_unexpected() {
    let fake = fake_cashfree(vec![(
        200,
        serde_json::json!({"subscription_status": "INITIALIZED"}),
    )])
    .await;
    let result = gateway(&fake, serde_json::json!({}))
        .create_checkout_session(&checkout(contact()))
        .await;
    let Err(ProviderError::UnexpectedResponse { provider, message }) = result else {
        panic!("unexpected response expected: {result:?}")
    };
    assert_eq!(provider, Provider::Cashfree);
    assert!(message.contains("subscription_session_id"), "{message}");
}

#[tokio::test]
async fn configured_checkout_page_is_used_as_is() {
    let fake = fake_cashfree(vec![created("s9")]).await;
    let session = gateway(&fake, serde_json::json!({}))
        .with_checkout_page_url("https://pay.example.com/cashfree.html")
        .create_checkout_session(&checkout(contact()))
        .await
        .unwrap();
    assert_eq!(
        session.url,
        "https://pay.example.com/cashfree.html#subscription_session_id=s9&environment=production"
    );
}

#[tokio::test]
async fn cancel_immediately_posts_the_manage_cancel_action() {
    let fake = fake_cashfree(vec![(
        200,
        serde_json::json!({"subscription_id": "Demo Subscription", "subscription_status": "CANCELLED"}),
    )])
    .await;
    gateway(&fake, serde_json::json!({}))
        .cancel_immediately("Demo Subscription")
        .await
        .unwrap();
    let seen = fake.requests();
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, "/pg/subscriptions/Demo%20Subscription/manage");
    assert_eq!(
        seen[0].json(),
        serde_json::json!({"subscription_id": "Demo Subscription", "action": "CANCEL"})
    );
    assert_eq!(seen[0].header("x-client-id"), Some(CLIENT_ID));
}

#[tokio::test]
async fn a_plan_change_is_the_manage_change_plan_action_under_the_callers_key() {
    let fake = fake_cashfree(vec![(
        200,
        serde_json::json!({"subscription_id": "sub-1", "subscription_status": "ACTIVE"}),
    )])
    .await;
    let mut change = crate::support::plan_change(
        "sub-1",
        "cf_plan_team_monthly",
        billing_domain::ChangeTiming::PeriodEnd,
    );
    change.seats = 1;
    gateway(&fake, serde_json::json!({}))
        .change_plan(&change)
        .await
        .unwrap();
    let seen = fake.requests();
    assert_eq!(seen[0].path, "/pg/subscriptions/sub-1/manage");
    assert_eq!(seen[0].header("x-idempotency-key"), Some("change:abc"));
    assert_eq!(
        seen[0].json(),
        serde_json::json!({"subscription_id": "sub-1", "action": "CHANGE_PLAN",
                           "action_details": {"plan_id": "cf_plan_team_monthly"}})
    );
}

#[tokio::test]
async fn a_change_now_or_to_several_seats_is_refused_without_a_call() {
    let fake = fake_cashfree(Vec::new()).await;
    let gateway = gateway(&fake, serde_json::json!({}));
    let now = crate::support::plan_change("sub-1", "cf_plan", billing_domain::ChangeTiming::Now);
    let seats =
        crate::support::plan_change("sub-1", "cf_plan", billing_domain::ChangeTiming::PeriodEnd);
    for change in [now, seats] {
        assert!(matches!(
            gateway.change_plan(&change).await,
            Err(ProviderError::Unsupported {
                provider: Provider::Cashfree,
                ..
            })
        ));
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn no_customer_objects_no_portal_and_no_cancel_at_period_end() {
    let fake = fake_cashfree(Vec::new()).await;
    let gateway = gateway(&fake, serde_json::json!({}));
    let tenant = TenantId::parse("org_42").unwrap();
    assert_eq!(gateway.create_customer(&tenant).await, Ok(None));
    assert!(matches!(
        gateway
            .create_portal_session("sub-x", "https://app.example.com")
            .await,
        Err(ProviderError::Unsupported {
            provider: Provider::Cashfree,
            ..
        })
    ));
    assert_eq!(
        gateway.cancel_at_period_end("sub-x").await,
        Err(ProviderError::Unsupported {
            provider: Provider::Cashfree,
            operation: "cancelling at period end"
        })
    );
    assert!(fake.requests().is_empty());
}

#[test]
fn credentials_need_client_id_and_secret_and_a_known_environment() {
    let missing: ProviderCredentials =
        billing_providers::credentials::parse_entry(serde_json::json!({"clientId": CLIENT_ID}))
            .unwrap();
    assert!(matches!(
        CashfreeGateway::from_credentials(&missing, client()),
        Err(SecretError::Malformed(_))
    ));
    let wrong_environment = credentials(serde_json::json!({"environment": "test"}));
    assert!(matches!(
        CashfreeGateway::from_credentials(&wrong_environment, client()),
        Err(SecretError::Malformed(_))
    ));
    let gateway =
        CashfreeGateway::from_credentials(&credentials(serde_json::json!({})), client()).unwrap();
    let shown = format!("{gateway:?}");
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    assert!(shown.contains("https://api.cashfree.com"), "{shown}");
}
