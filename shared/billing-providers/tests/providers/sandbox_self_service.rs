//! `SandboxGateway`'s self-service calls against a local server playing the
//! sandbox API: plan change (now, with the preview's proration moment, and
//! at period end), preview, resume, cancel now, and saved cards: the exact
//! method, path (ids as one encoded segment), body and idempotency key, and
//! the answers mapped onto the port's types.

use crate::support::{FakeServer, Recorded};
use axum::http::Method;
use billing_domain::ports::{BillingGateway, PlanChange, ProviderError};
use billing_domain::{ChangeTiming, Interval, Provider, UnixTime};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy, SandboxGateway};
use serde_json::json;
use std::time::Duration;

const API_KEY: &str = "sk_sandbox_local_development_only";

fn gateway(sandbox: &FakeServer) -> SandboxGateway {
    let client = ApiClient::new(HttpConfig {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
    })
    .unwrap();
    SandboxGateway::new(API_KEY, client, sandbox.url())
}

fn assert_authorized(request: &Recorded, method: Method, path: &str) {
    assert_eq!(request.method, method);
    assert_eq!(request.path, path);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

const SUBSCRIPTION: &str = r#"{"id":"sub_sbx1","customer_id":"cus_sbx1","tenant_id":"org_42",
  "status":"active","price_id":"sbx_price_team_monthly","current_period_start":1750000000,
  "current_period_end":1752592000,"cancel_at_period_end":false,"cancel_at":null,
  "canceled_at":null,"quantity":3}"#;

fn change(timing: ChangeTiming) -> PlanChange {
    PlanChange {
        subscription_id: "sub_sbx1".into(),
        customer_id: Some("cus_sbx1".into()),
        current_price_id: Some("sbx_price_pro_monthly".into()),
        plan_code: "team".into(),
        price_id: "sbx_price_team_monthly".into(),
        interval: Interval::Month,
        seats: 3,
        timing,
        proration_date: Some(UnixTime(1_751_000_000)),
        current_period_end: Some(UnixTime(1_752_592_000)),
        idempotency_key: "change:abc".into(),
    }
}

#[tokio::test]
async fn a_change_now_sends_price_quantity_and_the_proration_moment_under_the_callers_key() {
    let sandbox = FakeServer::start([(200, SUBSCRIPTION)]).await;
    let accepted = gateway(&sandbox)
        .change_plan(&change(ChangeTiming::Now))
        .await
        .unwrap();
    assert_eq!(accepted.approval_url, None);
    let request = sandbox.only_request();
    assert_authorized(
        &request,
        Method::POST,
        "/sandbox/v1/subscriptions/sub_sbx1/change",
    );
    assert_eq!(request.header("idempotency-key"), Some("change:abc"));
    assert_eq!(
        request.json(),
        json!({"price_id": "sbx_price_team_monthly", "quantity": 3, "timing": "now",
               "proration_date": 1_751_000_000})
    );
}

#[tokio::test]
async fn a_change_at_period_end_sends_no_proration_moment() {
    let sandbox = FakeServer::start([(200, SUBSCRIPTION)]).await;
    gateway(&sandbox)
        .change_plan(&change(ChangeTiming::PeriodEnd))
        .await
        .unwrap();
    assert_eq!(
        sandbox.only_request().json(),
        json!({"price_id": "sbx_price_team_monthly", "quantity": 3, "timing": "period_end"})
    );
}

#[tokio::test]
async fn a_preview_maps_every_line_and_sends_no_idempotency_key() {
    let sandbox = FakeServer::start([(
        200,
        r#"{"currency":"usd","amount_due_now":5376,"proration_date":1751000000,
            "lines":[{"description":"Unused time on pro × 1","amount":-1006,"proration":true,
                      "period_start":1751000000,"period_end":1752592000},
                     {"description":"Remaining time on team × 3","amount":6382,"proration":true,
                      "period_start":1751000000,"period_end":1752592000}],
            "next_invoice_amount":14700,"next_invoice_date":1752592000}"#,
    )])
    .await;
    let preview = gateway(&sandbox)
        .preview_change(&change(ChangeTiming::Now))
        .await
        .unwrap();
    let request = sandbox.only_request();
    assert_authorized(
        &request,
        Method::POST,
        "/sandbox/v1/subscriptions/sub_sbx1/preview",
    );
    assert_eq!(request.header("idempotency-key"), None);
    assert_eq!(preview.amount_due_now_minor, 5376);
    assert_eq!(preview.currency, "usd");
    assert_eq!(preview.proration_date, Some(UnixTime(1_751_000_000)));
    assert_eq!(
        preview.lines.iter().map(|l| l.amount_minor).sum::<i64>(),
        5376
    );
    assert!(preview.lines.iter().all(|l| l.proration));
    assert_eq!(
        (preview.next_invoice_amount_minor, preview.next_invoice_date),
        (14_700, UnixTime(1_752_592_000))
    );
}

#[tokio::test]
async fn resume_and_cancel_now_post_their_actions_with_fresh_keys() {
    let sandbox = FakeServer::start([(200, SUBSCRIPTION), (200, SUBSCRIPTION)]).await;
    let gateway = gateway(&sandbox);
    gateway.resume("sub_sbx1").await.unwrap();
    gateway.cancel_now("sub_sbx1").await.unwrap();
    let requests = sandbox.requests();
    assert_authorized(
        &requests[0],
        Method::POST,
        "/sandbox/v1/subscriptions/sub_sbx1/resume",
    );
    assert_eq!(requests[0].body, b"{}");
    assert!(requests[0]
        .header("idempotency-key")
        .unwrap()
        .starts_with("resume:sub_sbx1:"));
    assert_authorized(
        &requests[1],
        Method::POST,
        "/sandbox/v1/subscriptions/sub_sbx1/cancel",
    );
    assert_eq!(requests[1].json(), json!({"at_period_end": false}));
}

#[tokio::test]
async fn ids_in_paths_are_one_encoded_segment() {
    let sandbox = FakeServer::start([(200, SUBSCRIPTION)]).await;
    gateway(&sandbox)
        .resume("sub_1/../../customers?x=1")
        .await
        .unwrap();
    assert_eq!(
        sandbox.only_request().path,
        "/sandbox/v1/subscriptions/sub_1%2F..%2F..%2Fcustomers%3Fx=1/resume"
    );
}

const CARDS: &str = r#"{"data":[
  {"id":"pm_1","customer_id":"cus_sbx1","tenant_id":"org_42","type":"card","brand":"visa","last4":"4242","exp_month":12,"exp_year":2034},
  {"id":"pm_2","customer_id":"cus_sbx1","tenant_id":"org_42","type":"card","brand":"amex","last4":"8431","exp_month":12,"exp_year":2034}],
  "default_payment_method":"pm_2"}"#;

#[tokio::test]
async fn saved_cards_are_listed_with_the_default_marked() {
    let sandbox = FakeServer::start([(200, CARDS)]).await;
    let methods = gateway(&sandbox)
        .list_payment_methods("cus_sbx1")
        .await
        .unwrap();
    let request = sandbox.only_request();
    assert_authorized(
        &request,
        Method::GET,
        "/sandbox/v1/customers/cus_sbx1/payment_methods",
    );
    assert!(request.body.is_empty());
    assert_eq!(
        methods
            .iter()
            .map(|m| (m.id.as_str(), m.last4.as_deref(), m.is_default))
            .collect::<Vec<_>>(),
        [("pm_1", Some("4242"), false), ("pm_2", Some("8431"), true)]
    );
    assert_eq!(
        (methods[0].exp_month, methods[0].exp_year),
        (Some(12), Some(2034))
    );
    assert_eq!(methods[0].kind, "card");
}

#[tokio::test]
async fn setup_default_and_detach_send_their_documented_bodies() {
    let sandbox = FakeServer::start([
        (200, r#"{"id":"seti_1","url":"http://127.0.0.1:3000/sandbox/setup/seti_1"}"#),
        (200, CARDS),
        (
            200,
            r#"{"id":"pm_1","customer_id":"cus_sbx1","tenant_id":"org_42","type":"card","brand":"visa","last4":"4242","exp_month":12,"exp_year":2034}"#,
        ),
    ])
    .await;
    let gateway = gateway(&sandbox);
    let url = gateway
        .create_setup_session("cus_sbx1", "http://localhost:3000/", "setup:k")
        .await
        .unwrap();
    assert_eq!(url, "http://127.0.0.1:3000/sandbox/setup/seti_1");
    gateway
        .set_default_payment_method("cus_sbx1", "pm_2")
        .await
        .unwrap();
    gateway
        .remove_payment_method("cus_sbx1", "pm_1")
        .await
        .unwrap();
    let requests = sandbox.requests();
    assert_authorized(&requests[0], Method::POST, "/sandbox/v1/setup_sessions");
    assert_eq!(requests[0].header("idempotency-key"), Some("setup:k"));
    assert_eq!(
        requests[0].json(),
        json!({"customer_id": "cus_sbx1", "return_url": "http://localhost:3000/"})
    );
    assert_authorized(
        &requests[1],
        Method::POST,
        "/sandbox/v1/customers/cus_sbx1/default_payment_method",
    );
    assert_eq!(requests[1].json(), json!({"payment_method_id": "pm_2"}));
    assert_authorized(
        &requests[2],
        Method::POST,
        "/sandbox/v1/payment_methods/pm_1/detach",
    );
    assert_eq!(requests[2].body, b"{}");
}

#[tokio::test]
async fn a_refused_change_is_rejected_with_the_sandbox_code_and_not_retried() {
    let sandbox = FakeServer::start([(
        409,
        r#"{"error":{"code":"subscription_not_live","message":"ended"}}"#,
    )])
    .await;
    let outcome = gateway(&sandbox)
        .change_plan(&change(ChangeTiming::Now))
        .await;
    assert!(matches!(
        outcome,
        Err(ProviderError::Rejected { provider: Provider::Sandbox, status: 409, ref code, .. })
            if code.as_deref() == Some("subscription_not_live")
    ));
    assert_eq!(sandbox.requests().len(), 1);
}

#[test]
fn the_sandbox_can_do_everything_the_port_asks() {
    let client = ApiClient::new(HttpConfig::default()).unwrap();
    let capabilities = SandboxGateway::new(API_KEY, client, "http://127.0.0.1:1").capabilities();
    assert!(
        capabilities.change_now
            && capabilities.change_at_period_end
            && capabilities.preview
            && capabilities.interval_change
            && capabilities.resume
            && capabilities.cancel_now
            && capabilities.payment_methods
    );
}
