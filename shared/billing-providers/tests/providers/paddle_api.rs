//! `PaddleGateway` against a local server answering as the Paddle Billing API
//! does: the requests Paddle documents for checkout (`POST /transactions`),
//! the customer portal and scheduled cancellation, the secret fields the
//! gateway reads, and how Paddle's error answers map onto `ProviderError`.

use crate::support::{FakeServer, Recorded};
use axum::http::Method;
use billing_domain::ports::{BillingGateway, CheckoutRequest, ProviderError};
use billing_domain::{ChangeTiming, Provider, TenantId};
use billing_providers::paddle::api::{DEFAULT_BASE_URL, SANDBOX_BASE_URL};
use billing_providers::{ApiClient, HttpConfig, PaddleGateway};
use serde_json::{json, Value};

const API_KEY: &str = "pdl_sdbx_apikey_01k2cf0a1b2c3d4e5f6g7h8j9k_apiTestKey000000";

fn fixture(name: &str) -> String {
    crate::fixture(&format!("paddle/{name}.json"))
}

/// A fake Paddle that gives every request the same answer and keeps what
/// it was sent.
async fn fake_paddle(status: u16, body: String) -> FakeServer {
    FakeServer::start([(status, body)]).await
}

/// The gateway pointed at the fake Paddle.
fn gateway(paddle: &FakeServer) -> PaddleGateway {
    PaddleGateway::new(API_KEY, client()).with_base_url(paddle.url())
}

fn client() -> ApiClient {
    ApiClient::new(HttpConfig::default()).unwrap()
}

fn checkout_request(customer_id: Option<&str>) -> CheckoutRequest {
    CheckoutRequest {
        tenant: TenantId::parse("org_42").unwrap(),
        customer_id: customer_id.map(str::to_owned),
        plan_code: "team".into(),
        price_id: "pri_01teamMonthly00000000000".into(),
        success_url: "https://app.example.com/billing/success".into(),
        cancel_url: "https://app.example.com/billing".into(),
        idempotency_key: "checkout:org_42:1".into(),
        contact: None,
    }
}

/// A checkout against a Paddle giving `status` and `body`, expected to fail.
async fn failed_checkout(status: u16, body: String) -> (ProviderError, FakeServer) {
    let paddle = fake_paddle(status, body).await;
    let result = gateway(&paddle)
        .with_checkout_url("https://unapproved.example.net/pay")
        .create_checkout_session(&checkout_request(None))
        .await;
    (result.expect_err("the checkout must fail"), paddle)
}

fn assert_paddle_headers(seen: &Recorded) {
    assert_eq!(
        seen.header("authorization"),
        Some(&*format!("Bearer {API_KEY}"))
    );
    assert_eq!(seen.header("paddle-version"), Some("1"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    // Paddle has no idempotency keys; sending one would promise a safety
    // that does not exist.
    assert_eq!(seen.header("idempotency-key"), None);
}

// ---------- Checkout ----------

#[tokio::test]
async fn checkout_for_a_known_customer_uses_the_default_payment_link() {
    let paddle = fake_paddle(201, fixture("create_transaction_response")).await;
    let session = gateway(&paddle)
        .create_checkout_session(&checkout_request(Some("ctm_01k2cfm8f0x7q6n3r5t9v1w2y4")))
        .await
        .unwrap();
    assert_eq!(session.id, "txn_01k9zq3r4s5t6v7w8x9y0z1a2b");
    assert_eq!(
        session.url,
        "https://app.example.com/pay?_ptxn=txn_01k9zq3r4s5t6v7w8x9y0z1a2b"
    );
    let seen = paddle.only_request();
    assert_eq!(
        (seen.method.as_str(), seen.path_and_query().as_str()),
        ("POST", "/transactions")
    );
    assert_paddle_headers(&seen);
    // No checkout URL configured: Paddle falls back to the account's
    // default payment link, so `checkout` is left out.
    assert_eq!(
        seen.json(),
        json!({
            "items": [{"price_id": "pri_01teamMonthly00000000000", "quantity": 1}],
            "customer_id": "ctm_01k2cfm8f0x7q6n3r5t9v1w2y4",
            "custom_data": {"tenant_id": "org_42", "plan": "team"},
        })
    );
}

#[tokio::test]
async fn checkout_without_a_payment_link_in_the_answer_is_unexpected() {
    let mut answer: Value = serde_json::from_str(&fixture("create_transaction_response")).unwrap();
    answer["data"]["checkout"] = Value::Null;
    let (error, _) = failed_checkout(201, answer.to_string()).await;
    let ProviderError::UnexpectedResponse { provider, message } = error else {
        panic!("unexpected response expected: {error:?}")
    };
    assert_eq!(provider, Provider::Paddle);
    assert!(message.contains("checkout url"), "{message}");
}

#[tokio::test]
async fn paddle_refusal_keeps_its_code_and_detail() {
    let (error, paddle) =
        failed_checkout(400, fixture("error_checkout_url_domain_not_approved")).await;
    let (code, message) = match &error {
        ProviderError::Rejected {
            provider: Provider::Paddle,
            status: 400,
            code,
            message,
        } => (code.as_deref(), message.as_str()),
        other => panic!("a 400 rejection expected: {other:?}"),
    };
    assert_eq!(
        code,
        Some("transaction_checkout_url_domain_is_not_approved")
    );
    assert!(message.contains("checkout.url"), "{message}");
    assert_eq!(
        paddle.only_request().json()["checkout"],
        json!({"url": "https://unapproved.example.net/pay"})
    );
}

#[tokio::test]
async fn a_refused_api_key_is_a_configuration_error_without_paddles_words() {
    let body = json!({"error": {"type": "request_error", "code": "forbidden",
        "detail": "You aren't permitted to perform this request with key pdl_sdbx_apikey_01k2…"}});
    let (error, _) = failed_checkout(403, body.to_string()).await;
    let shown = error.to_string();
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{shown}"
    );
    assert!(
        shown.contains("forbidden") && !shown.contains("apikey"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_server_error_is_not_repeated_without_idempotency_keys() {
    let (error, paddle) =
        failed_checkout(500, json!({"error": {"type": "api_error"}}).to_string()).await;
    assert!(error.is_retryable(), "{error:?}");
    // Repeating a POST that may have acted could create a second transaction.
    paddle.only_request();
}

// ---------- Customers, portal, cancellation ----------

#[tokio::test]
async fn no_customer_is_created_up_front() {
    let paddle = fake_paddle(500, String::new()).await;
    let customer = gateway(&paddle)
        .create_customer(&TenantId::parse("org_42").unwrap())
        .await
        .unwrap();
    assert_eq!(customer, None);
    assert!(paddle.requests().is_empty());
}

#[tokio::test]
async fn portal_session_returns_the_authenticated_overview_link() {
    let paddle = fake_paddle(201, fixture("create_portal_session_response")).await;
    let url = gateway(&paddle)
        .create_portal_session(
            "ctm_01k2cfm8f0x7q6n3r5t9v1w2y4",
            "https://app.example.com/billing",
        )
        .await
        .unwrap();
    assert!(
        url.starts_with("https://customer-portal.paddle.com/cpl_01k2cf7p8q9r0s1t2v3w4x5y6z?action=overview&token=pga_"),
        "{url}"
    );
    let seen = paddle.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(
        seen.path_and_query(),
        "/customers/ctm_01k2cfm8f0x7q6n3r5t9v1w2y4/portal-sessions"
    );
    assert_paddle_headers(&seen);
    assert_eq!(seen.json(), json!({}));
}

#[tokio::test]
async fn cancellation_is_scheduled_for_the_next_billing_period() {
    let paddle = fake_paddle(200, fixture("cancel_subscription_response")).await;
    gateway(&paddle)
        .cancel_at_period_end("sub_01k2cfp3m4n5p6q7r8s9t0v1w2")
        .await
        .unwrap();
    let seen = paddle.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(
        seen.path_and_query(),
        "/subscriptions/sub_01k2cfp3m4n5p6q7r8s9t0v1w2/cancel"
    );
    assert_paddle_headers(&seen);
    assert_eq!(
        seen.json(),
        json!({"effective_from": "next_billing_period"})
    );
}

#[tokio::test]
async fn an_id_cannot_reach_another_endpoint() {
    let paddle = fake_paddle(200, fixture("cancel_subscription_response")).await;
    gateway(&paddle)
        .cancel_at_period_end("sub_1/../../customers?x=1")
        .await
        .unwrap();
    assert_eq!(
        paddle.only_request().path_and_query(),
        "/subscriptions/sub_1%2F..%2F..%2Fcustomers%3Fx=1/cancel"
    );
}

// ---------- Configuration ----------

#[tokio::test]
async fn secret_entry_sets_key_api_base_and_checkout_page() {
    let paddle = fake_paddle(201, fixture("create_transaction_response")).await;
    let secret = json!({"paddle": {
        "apiKey": API_KEY,
        "webhookSecrets": ["pdl_ntfset_x"],
        "apiBase": format!("{}/", paddle.url()),
        "checkoutUrl": "https://app.example.com/pay",
    }});
    let secrets = billing_providers::credentials::parse(&secret.to_string()).unwrap();
    let credentials = secrets.provider(Provider::Paddle).unwrap();
    let gateway = PaddleGateway::from_credentials(credentials, client()).unwrap();
    gateway
        .create_checkout_session(&checkout_request(None))
        .await
        .unwrap();
    let seen = paddle.only_request();
    assert_eq!(seen.path_and_query(), "/transactions");
    assert_paddle_headers(&seen);
    assert_eq!(
        seen.json()["checkout"],
        json!({"url": "https://app.example.com/pay"})
    );
}

#[test]
fn secret_entry_needs_an_api_key_and_string_options() {
    let entry = |value: Value| {
        let secrets =
            billing_providers::credentials::parse(&json!({ "paddle": value }).to_string()).unwrap();
        PaddleGateway::from_credentials(secrets.provider(Provider::Paddle).unwrap(), client())
    };
    assert!(entry(json!({"webhookSecrets": ["pdl_ntfset_x"]})).is_err());
    assert!(entry(json!({"apiKey": API_KEY, "apiBase": 42})).is_err());
    assert!(entry(json!({"apiKey": API_KEY, "checkoutUrl": ""})).is_err());
    let gateway = entry(json!({"apiKey": API_KEY, "apiBase": null})).unwrap();
    assert!(format!("{gateway:?}").contains(DEFAULT_BASE_URL));
    let sandbox = entry(json!({"apiKey": API_KEY, "apiBase": SANDBOX_BASE_URL})).unwrap();
    assert!(format!("{sandbox:?}").contains("sandbox-api.paddle.com"));
}

#[test]
fn debug_output_never_shows_the_api_key() {
    let shown = format!("{:?}", PaddleGateway::new(API_KEY, client()));
    assert!(!shown.contains(API_KEY), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[tokio::test]
async fn an_unusable_api_base_is_a_configuration_error() {
    let gateway = PaddleGateway::new(API_KEY, client()).with_base_url("not a url");
    let error = gateway
        .cancel_at_period_end("sub_01k2cfp3m4n5p6q7r8s9t0v1w2")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Configuration { .. }),
        "{error:?}"
    );
}

// ---------- Self-service ----------

#[tokio::test]
async fn a_change_now_patches_the_full_item_list_prorated_immediately() {
    let paddle = fake_paddle(200, r#"{"data":{"id":"sub_01"}}"#.into()).await;
    gateway(&paddle)
        .change_plan(&crate::support::plan_change(
            "sub_01",
            "pri_01teamMonthly00000000000",
            ChangeTiming::Now,
        ))
        .await
        .unwrap();
    let seen = paddle.only_request();
    assert_eq!(seen.method, Method::PATCH);
    assert_eq!(seen.path, "/subscriptions/sub_01");
    assert_paddle_headers(&seen);
    assert_eq!(
        seen.json(),
        json!({"items": [{"price_id": "pri_01teamMonthly00000000000", "quantity": 3}],
               "proration_billing_mode": "prorated_immediately"})
    );
}

#[tokio::test]
async fn a_change_at_period_end_is_refused_without_a_call() {
    let paddle = fake_paddle(200, r#"{"data":{}}"#.into()).await;
    let gateway = gateway(&paddle);
    assert!(!gateway.capabilities().change_at_period_end);
    let change = crate::support::plan_change("sub_01", "pri_x", ChangeTiming::PeriodEnd);
    for outcome in [
        gateway.change_plan(&change).await.map(|_| ()),
        gateway.preview_change(&change).await.map(|_| ()),
    ] {
        assert!(matches!(
            outcome,
            Err(ProviderError::Unsupported {
                provider: Provider::Paddle,
                ..
            })
        ));
    }
    assert!(paddle.requests().is_empty());
}

const PREVIEW: &str = r#"{"data":{"id":"sub_01","currency_code":"USD",
  "immediate_transaction":{"billing_period":{"starts_at":"2026-01-10T00:00:00Z","ends_at":"2026-02-01T00:00:00Z"},
    "details":{"totals":{"subtotal":"8393","tax":"620","total":"9013","grand_total":"9013"},
      "line_items":[
        {"price_id":"pri_pro","quantity":-1,"totals":{"subtotal":"-1366","tax":"0","total":"-1366"},
         "product":{"name":"Pro"},
         "proration":{"rate":"0.70968","billing_period":{"starts_at":"2026-01-10T00:00:00Z","ends_at":"2026-02-01T00:00:00Z"}}},
        {"price_id":"pri_team","quantity":3,"totals":{"subtotal":"9759","tax":"620","total":"10379"},
         "product":{"name":"Team"},
         "proration":{"rate":"0.70968","billing_period":{"starts_at":"2026-01-10T00:00:00Z","ends_at":"2026-02-01T00:00:00Z"}}}]}},
  "next_transaction":{"billing_period":{"starts_at":"2026-02-01T00:00:00Z","ends_at":"2026-03-01T00:00:00Z"},
    "details":{"totals":{"subtotal":"14700","tax":"0","total":"14700","grand_total":"14700"},"line_items":[]}},
  "update_summary":{"result":{"action":"charge","amount":"9013","currency_code":"USD"}}}}"#;

#[tokio::test]
async fn a_preview_maps_the_immediate_and_next_transactions() {
    let paddle = fake_paddle(200, PREVIEW.into()).await;
    let preview = gateway(&paddle)
        .preview_change(&crate::support::plan_change(
            "sub_01",
            "pri_team",
            ChangeTiming::Now,
        ))
        .await
        .unwrap();
    let seen = paddle.only_request();
    assert_eq!(seen.method, Method::PATCH);
    assert_eq!(seen.path, "/subscriptions/sub_01/preview");
    assert_eq!(
        seen.json()["proration_billing_mode"],
        "prorated_immediately"
    );
    assert_eq!(preview.currency, "usd");
    assert_eq!(
        (preview.amount_due_now_minor, preview.tax_minor),
        (9013, Some(620))
    );
    assert_eq!(
        preview
            .lines
            .iter()
            .map(|l| (l.description.as_str(), l.amount_minor))
            .collect::<Vec<_>>(),
        [("Pro", -1366), ("Team", 10379)]
    );
    assert_eq!(
        (
            preview.next_invoice_amount_minor,
            preview.next_invoice_date.seconds()
        ),
        (14_700, 1_769_904_000)
    );
}

#[tokio::test]
async fn an_unreadable_preview_amount_is_an_unexpected_answer() {
    let paddle = fake_paddle(200, PREVIEW.replace("\"9013\"", "\"90.13\"")).await;
    let outcome = gateway(&paddle)
        .preview_change(&crate::support::plan_change(
            "sub_01",
            "pri_team",
            ChangeTiming::Now,
        ))
        .await;
    assert!(matches!(
        outcome,
        Err(ProviderError::UnexpectedResponse { .. })
    ));
}

#[tokio::test]
async fn cancel_now_and_resume_send_what_paddle_documents() {
    let paddle = fake_paddle(200, r#"{"data":{"id":"sub_01"}}"#.into()).await;
    let gateway = gateway(&paddle);
    gateway.cancel_now("sub_01").await.unwrap();
    gateway.resume("sub_01").await.unwrap();
    let seen = paddle.requests();
    assert_eq!(
        (seen[0].method.clone(), seen[0].path.as_str()),
        (Method::POST, "/subscriptions/sub_01/cancel")
    );
    assert_eq!(seen[0].json(), json!({"effective_from": "immediately"}));
    assert_eq!(
        (seen[1].method.clone(), seen[1].path.as_str()),
        (Method::PATCH, "/subscriptions/sub_01")
    );
    // The only value Paddle accepts for scheduled_change.
    assert_eq!(seen[1].body, br#"{"scheduled_change":null}"#);
}
