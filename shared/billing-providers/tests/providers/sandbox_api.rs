//! `SandboxGateway` against a local HTTP server playing the sandbox API: the
//! exact request shape (method, path, JSON body, bearer key, idempotency
//! key), the same idempotency key on every retry of one call, and how 4xx
//! and 5xx answers map onto `ProviderError`.

use crate::support::{unreachable_url, FakeServer, Recorded};
use axum::http::Method;
use billing_domain::ports::{
    BillingGateway, CheckoutRequest, CheckoutSession, ProviderError, SecretError,
};
use billing_domain::{Provider, TenantId};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy, SandboxGateway};
use serde_json::json;
use std::time::Duration;

const API_KEY: &str = "sk_sandbox_local_development_only";

/// The gateway pointed at the fake sandbox.
fn gateway(sandbox: &FakeServer) -> SandboxGateway {
    // A trailing slash on the base URL must not double the slash.
    SandboxGateway::new(API_KEY, client(), format!("{}/", sandbox.url()))
}

/// Millisecond backoffs keep retry tests fast.
fn client() -> ApiClient {
    ApiClient::new(HttpConfig {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
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
        customer_id: Some("cus_sbx1".into()),
        plan_code: "pro".into(),
        price_id: "sbx_price_pro_monthly".into(),
        success_url: "http://localhost:5173/billing?success=1".into(),
        cancel_url: "http://localhost:5173/billing?canceled=1".into(),
        idempotency_key: "checkout:org_42:7f1c0e9a".into(),
        contact: None,
    }
}

fn assert_sandbox_post(request: &Recorded, path: &str) {
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, path);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

const CUSTOMER: &str = r#"{"id":"cus_sbx1","tenant_id":"org_42"}"#;
const SESSION: &str = r#"{"id":"cs_sbx1","url":"http://127.0.0.1:3000/sandbox/checkout/cs_sbx1"}"#;
const PORTAL: &str = r#"{"id":"ps_sbx1","url":"http://127.0.0.1:3000/sandbox/portal/ps_sbx1"}"#;

// ---------- Request shapes ----------

#[tokio::test]
async fn create_customer_posts_the_tenant_with_a_per_tenant_idempotency_key() {
    let sandbox = FakeServer::start([(200, CUSTOMER)]).await;
    let customer = gateway(&sandbox).create_customer(&tenant()).await.unwrap();
    assert_eq!(customer.as_deref(), Some("cus_sbx1"));
    let request = sandbox.only_request();
    assert_sandbox_post(&request, "/sandbox/v1/customers");
    assert_eq!(
        request.header("idempotency-key"),
        Some("customer-create:org_42")
    );
    assert_eq!(request.json(), json!({"tenant_id": "org_42"}));
}

#[tokio::test]
async fn checkout_session_posts_every_field_with_the_callers_idempotency_key() {
    let sandbox = FakeServer::start([(200, SESSION)]).await;
    let session = gateway(&sandbox)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap();
    assert_eq!(
        session,
        CheckoutSession {
            id: "cs_sbx1".into(),
            url: "http://127.0.0.1:3000/sandbox/checkout/cs_sbx1".into()
        }
    );
    let request = sandbox.only_request();
    assert_sandbox_post(&request, "/sandbox/v1/checkout_sessions");
    assert_eq!(
        request.header("idempotency-key"),
        Some("checkout:org_42:7f1c0e9a")
    );
    assert_eq!(
        request.json(),
        json!({
            "customer_id": "cus_sbx1",
            "tenant_id": "org_42",
            "plan_code": "pro",
            "price_id": "sbx_price_pro_monthly",
            "success_url": "http://localhost:5173/billing?success=1",
            "cancel_url": "http://localhost:5173/billing?canceled=1",
        })
    );
}

#[tokio::test]
async fn portal_session_posts_customer_and_return_url() {
    let sandbox = FakeServer::start([(200, PORTAL)]).await;
    let url = gateway(&sandbox)
        .create_portal_session("cus_sbx1", "http://localhost:5173/billing")
        .await
        .unwrap();
    assert_eq!(url, "http://127.0.0.1:3000/sandbox/portal/ps_sbx1");
    let request = sandbox.only_request();
    assert_sandbox_post(&request, "/sandbox/v1/portal_sessions");
    assert!(request
        .header("idempotency-key")
        .is_some_and(|k| k.starts_with("portal-session:")));
    assert_eq!(
        request.json(),
        json!({"customer_id": "cus_sbx1", "return_url": "http://localhost:5173/billing"})
    );
}

#[tokio::test]
async fn gateway_reads_its_key_from_the_provider_secret() {
    let sandbox = FakeServer::start([(200, CUSTOMER)]).await;
    let secrets = billing_providers::credentials::parse(&format!(
        r#"{{"sandbox":{{"apiKey":"{API_KEY}","webhookSecrets":["whsec_c2VjcmV0"]}}}}"#
    ))
    .unwrap();
    let credentials = secrets.provider(Provider::Sandbox).unwrap();
    let gateway = SandboxGateway::from_credentials(credentials, client(), sandbox.url()).unwrap();
    assert_eq!(gateway.provider(), Provider::Sandbox);
    gateway.create_customer(&tenant()).await.unwrap();
    assert_sandbox_post(&sandbox.only_request(), "/sandbox/v1/customers");
}

#[test]
fn missing_api_key_in_the_secret_is_a_secret_error() {
    let secrets = billing_providers::credentials::parse(
        r#"{"sandbox":{"webhookSecrets":["whsec_c2VjcmV0"]}}"#,
    )
    .unwrap();
    let credentials = secrets.provider(Provider::Sandbox).unwrap();
    assert!(matches!(
        SandboxGateway::from_credentials(credentials, client(), "http://127.0.0.1:1"),
        Err(SecretError::Malformed(_))
    ));
}

#[test]
fn debug_output_hides_the_api_key() {
    let gateway = SandboxGateway::new(API_KEY, client(), "http://127.0.0.1:3000");
    let shown = format!("{gateway:?}");
    assert!(!shown.contains(API_KEY), "{shown}");
}

// ---------- Retries ----------

#[tokio::test]
async fn server_error_is_retried_with_the_same_idempotency_key_and_body() {
    let sandbox = FakeServer::start([
        (500, r#"{"error":{"code":"internal","message":"boom"}}"#),
        (503, ""),
        (200, SESSION),
    ])
    .await;
    let session = gateway(&sandbox)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap();
    assert_eq!(session.id, "cs_sbx1");
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.header("idempotency-key"),
            Some("checkout:org_42:7f1c0e9a")
        );
        assert_eq!(request.body, requests[0].body);
    }
}

#[tokio::test]
async fn portal_retries_share_one_fresh_key() {
    let sandbox = FakeServer::start([(502, ""), (200, PORTAL)]).await;
    let gateway = gateway(&sandbox);
    gateway
        .create_portal_session("cus_sbx1", "http://localhost:5173/billing")
        .await
        .unwrap();
    gateway
        .create_portal_session("cus_sbx1", "http://localhost:5173/billing")
        .await
        .unwrap();
    let keys: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], keys[1], "a retry reuses its call's key");
    assert_ne!(keys[1], keys[2], "a new call gets a new key");
}

#[tokio::test]
async fn persistent_server_error_is_transient_after_every_attempt() {
    let sandbox = FakeServer::start([(503, "")]).await;
    let error = gateway(&sandbox)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Transient {
                provider: Provider::Sandbox,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(sandbox.requests().len(), 3);
}

#[tokio::test]
async fn unreachable_sandbox_is_transient() {
    let error = SandboxGateway::new(API_KEY, client(), unreachable_url())
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

// ---------- Refusals ----------

#[tokio::test]
async fn bad_request_is_rejected_with_the_sandbox_code_and_message_and_not_retried() {
    let sandbox = FakeServer::start([(
        400,
        r#"{"error":{"code":"unknown_price","message":"price sbx_price_x is not in the catalog"}}"#,
    )])
    .await;
    let error = gateway(&sandbox)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Rejected {
            provider: Provider::Sandbox,
            status: 400,
            code: Some("unknown_price".into()),
            message: "price sbx_price_x is not in the catalog".into(),
        }
    );
    assert!(!error.is_retryable());
    assert_eq!(sandbox.requests().len(), 1);
}

#[tokio::test]
async fn refusal_without_an_error_body_names_the_status() {
    let sandbox = FakeServer::start([(404, "not json")]).await;
    let error = gateway(&sandbox)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Rejected {
            provider: Provider::Sandbox,
            status: 404,
            code: None,
            message: "HTTP 404".into(),
        }
    );
}

#[tokio::test]
async fn unauthorized_is_a_configuration_error_without_the_sandbox_message() {
    let sandbox = FakeServer::start([(
        401,
        r#"{"error":{"code":"unauthorized","message":"bad key sk_sandbox_local_development_only"}}"#,
    )])
    .await;
    let error = gateway(&sandbox)
        .create_customer(&tenant())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::Configuration {
                provider: Provider::Sandbox,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains(API_KEY), "{error}");
    assert!(error.to_string().contains("unauthorized"), "{error}");
}

#[tokio::test]
async fn unreadable_success_body_is_an_unexpected_response() {
    let sandbox = FakeServer::start([(200, r#"{"id":"cs_sbx1"}"#)]).await;
    let error = gateway(&sandbox)
        .create_checkout_session(&checkout_request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::UnexpectedResponse {
                provider: Provider::Sandbox,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing field `url`"), "{error}");
}

// ---------- Cancel at period end ----------

const SUBSCRIPTION: &str = r#"{"id":"sub_sbx1","customer_id":"cus_sbx1","tenant_id":"org_42",
  "status":"active","price_id":"sbx_price_pro_monthly","current_period_start":1750000000,
  "current_period_end":1752592000,"cancel_at_period_end":true,"cancel_at":1752592000,
  "canceled_at":null,"quantity":1}"#;

#[tokio::test]
async fn cancel_at_period_end_posts_to_the_subscription_with_a_per_subscription_key() {
    let sandbox = FakeServer::start([(200, SUBSCRIPTION)]).await;
    gateway(&sandbox)
        .cancel_at_period_end("sub_sbx1")
        .await
        .unwrap();
    let request = sandbox.only_request();
    assert_sandbox_post(&request, "/sandbox/v1/subscriptions/sub_sbx1/cancel");
    assert!(request
        .header("idempotency-key")
        .unwrap()
        .starts_with("cancel-at-period-end:sub_sbx1:"));
    assert_eq!(request.json(), json!({"at_period_end": true}));
    // Exactly that body: `CancelSubscriptionRequest` denies unknown fields
    // at the sandbox, so nothing else may ride along.
    assert_eq!(request.body, br#"{"at_period_end":true}"#);
}

#[tokio::test]
async fn cancel_at_period_end_retries_with_the_same_key_and_body() {
    let sandbox = FakeServer::start([(503, ""), (200, SUBSCRIPTION)]).await;
    gateway(&sandbox)
        .cancel_at_period_end("sub_sbx1")
        .await
        .unwrap();
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_sandbox_post(request, "/sandbox/v1/subscriptions/sub_sbx1/cancel");
        assert_eq!(
            request.header("idempotency-key"),
            requests[0].header("idempotency-key")
        );
        assert_eq!(request.body, requests[0].body);
    }
}

#[tokio::test]
async fn each_cancel_call_has_its_own_key_so_a_later_cancel_is_not_a_replay() {
    let sandbox = FakeServer::start([(200, SUBSCRIPTION), (200, SUBSCRIPTION)]).await;
    let gateway = gateway(&sandbox);
    gateway.cancel_at_period_end("sub_sbx1").await.unwrap();
    gateway.cancel_at_period_end("sub_sbx1").await.unwrap();
    let requests = sandbox.requests();
    assert_ne!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
}

#[tokio::test]
async fn cancel_at_period_end_of_an_unknown_subscription_is_rejected_not_retried() {
    let sandbox = FakeServer::start([(
        404,
        r#"{"error":{"code":"resource_missing","message":"no such subscription"}}"#,
    )])
    .await;
    let error = gateway(&sandbox)
        .cancel_at_period_end("sub_nope")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Rejected {
            provider: Provider::Sandbox,
            status: 404,
            code: Some("resource_missing".into()),
            message: "no such subscription".into(),
        }
    );
    assert_eq!(sandbox.requests().len(), 1);
}

#[tokio::test]
async fn cancel_at_period_end_needs_the_subscription_back() {
    let sandbox = FakeServer::start([(200, r#"{"id":"sub_sbx1"}"#)]).await;
    let error = gateway(&sandbox)
        .cancel_at_period_end("sub_sbx1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProviderError::UnexpectedResponse {
                provider: Provider::Sandbox,
                ..
            }
        ),
        "{error:?}"
    );
}
