//! `StripeGateway`'s self-service calls against a local server playing
//! Stripe, each checked against the documented request shape (pinned
//! `Stripe-Version` 2025-07-30.basil): change now (`items[0][id]` replaced,
//! `always_invoice`, the preview's `proration_date`, pending until paid),
//! change at period end through a subscription schedule, the invoice
//! preview, cancel and resume (a schedule released first), cancel now, and
//! card payment methods (list, setup-mode Checkout, default, detach).

use crate::support::{reply, FakeServer, Recorded};
use axum::http::Method;
use billing_domain::ports::{BillingGateway, PlanChange, ProviderError};
use billing_domain::{ChangeTiming, Interval, Provider, UnixTime};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy, StripeGateway};
use std::collections::BTreeMap;
use std::time::Duration;

const API_KEY: &str = "sk_test_51FakeKeyForLocalTests";

fn gateway(stripe: &FakeServer) -> StripeGateway {
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
    StripeGateway::new(API_KEY, client).with_base_url(stripe.url())
}

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Method, path (and query), bearer key and the pinned version.
fn assert_call(request: &Recorded, method: Method, path_and_query: &str) {
    assert_eq!(request.method, method, "{path_and_query}");
    assert_eq!(request.path_and_query(), path_and_query);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(request.header("stripe-version"), Some("2025-07-30.basil"));
}

fn subscription(schedule: Option<&str>) -> String {
    format!(
        r#"{{"id":"sub_1Q","object":"subscription","schedule":{},
            "default_payment_method":"pm_Checkout",
            "items":{{"object":"list","data":[{{"id":"si_1Q","quantity":1,
              "price":{{"id":"price_pro_monthly","object":"price"}},
              "current_period_start":1767225600,"current_period_end":1769904000}}]}}}}"#,
        schedule.map_or("null".to_owned(), |s| format!("\"{s}\""))
    )
}

const SCHEDULE: &str = r#"{"id":"sub_sched_1Q","object":"subscription_schedule",
  "current_phase":{"start_date":1767225600,"end_date":1769904000},
  "phases":[{"start_date":1767225600,"end_date":1769904000,"items":[{"price":"price_pro_monthly","quantity":1}]}]}"#;

fn change(timing: ChangeTiming) -> PlanChange {
    PlanChange {
        subscription_id: "sub_1Q".into(),
        customer_id: Some("cus_1Q".into()),
        current_price_id: Some("price_pro_monthly".into()),
        plan_code: "team".into(),
        price_id: "price_team_monthly".into(),
        interval: Interval::Month,
        seats: 3,
        timing,
        proration_date: Some(UnixTime(1_768_000_000)),
        current_period_end: Some(UnixTime(1_769_904_000)),
        idempotency_key: "change:abc".into(),
    }
}

#[tokio::test]
async fn a_change_now_replaces_the_item_and_charges_the_prorations_at_the_previewed_moment() {
    let stripe = FakeServer::start([
        reply(200, subscription(None)),
        reply(200, subscription(None)),
    ])
    .await;
    gateway(&stripe)
        .change_plan(&change(ChangeTiming::Now))
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_eq!(requests.len(), 2);
    assert_call(&requests[0], Method::GET, "/v1/subscriptions/sub_1Q");
    assert_call(&requests[1], Method::POST, "/v1/subscriptions/sub_1Q");
    assert_eq!(requests[1].header("idempotency-key"), Some("change:abc"));
    assert_eq!(
        requests[1].form(),
        form(&[
            ("items[0][id]", "si_1Q"),
            ("items[0][price]", "price_team_monthly"),
            ("items[0][quantity]", "3"),
            ("proration_behavior", "always_invoice"),
            ("proration_date", "1768000000"),
            ("payment_behavior", "pending_if_incomplete"),
        ])
    );
}

#[tokio::test]
async fn a_change_now_on_a_scheduled_subscription_releases_the_schedule_first() {
    let stripe = FakeServer::start([
        reply(200, subscription(Some("sub_sched_1Q"))),
        reply(200, SCHEDULE),
        reply(200, subscription(None)),
    ])
    .await;
    gateway(&stripe)
        .change_plan(&change(ChangeTiming::Now))
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_call(
        &requests[1],
        Method::POST,
        "/v1/subscription_schedules/sub_sched_1Q/release",
    );
    assert_eq!(
        requests[1].header("idempotency-key"),
        Some("change:abc:release")
    );
    assert_call(&requests[2], Method::POST, "/v1/subscriptions/sub_1Q");
}

#[tokio::test]
async fn a_change_at_period_end_schedules_a_second_phase_from_the_subscription() {
    let stripe = FakeServer::start([
        reply(200, subscription(None)),
        reply(200, SCHEDULE),
        reply(200, SCHEDULE),
    ])
    .await;
    gateway(&stripe)
        .change_plan(&change(ChangeTiming::PeriodEnd))
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_call(&requests[1], Method::POST, "/v1/subscription_schedules");
    // `from_subscription` alone: Stripe refuses other parameters with it.
    assert_eq!(requests[1].form(), form(&[("from_subscription", "sub_1Q")]));
    assert_eq!(
        requests[1].header("idempotency-key"),
        Some("change:abc:schedule")
    );
    assert_call(
        &requests[2],
        Method::POST,
        "/v1/subscription_schedules/sub_sched_1Q",
    );
    assert_eq!(
        requests[2].header("idempotency-key"),
        Some("change:abc:phases")
    );
    assert_eq!(
        requests[2].form(),
        form(&[
            ("end_behavior", "release"),
            ("proration_behavior", "none"),
            ("phases[0][items][0][price]", "price_pro_monthly"),
            ("phases[0][items][0][quantity]", "1"),
            ("phases[0][start_date]", "1767225600"),
            ("phases[0][end_date]", "1769904000"),
            ("phases[1][items][0][price]", "price_team_monthly"),
            ("phases[1][items][0][quantity]", "3"),
            ("phases[1][duration][interval]", "month"),
            ("phases[1][duration][interval_count]", "1"),
        ])
    );
}

#[tokio::test]
async fn a_change_at_period_end_reuses_an_existing_schedule() {
    let stripe = FakeServer::start([
        reply(200, subscription(Some("sub_sched_1Q"))),
        reply(200, SCHEDULE),
        reply(200, SCHEDULE),
    ])
    .await;
    gateway(&stripe)
        .change_plan(&change(ChangeTiming::PeriodEnd))
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_call(
        &requests[1],
        Method::GET,
        "/v1/subscription_schedules/sub_sched_1Q",
    );
    assert_call(
        &requests[2],
        Method::POST,
        "/v1/subscription_schedules/sub_sched_1Q",
    );
}

const NEXT_INVOICE: &str = r#"{"id":"upcoming_in_1","object":"invoice","currency":"usd",
  "amount_due":14700,"period_end":1769904000,"total_taxes":[],
  "lines":{"object":"list","data":[{"description":"3 × Team (at $49.00 / month)","amount":14700,
    "period":{"start":1769904000,"end":1772582400},
    "parent":{"subscription_item_details":{"proration":false}}}]}}"#;

const PRORATIONS: &str = r#"{"id":"upcoming_in_2","object":"invoice","currency":"usd",
  "amount_due":9013,"period_end":1768000000,"total_taxes":[{"amount":620}],
  "lines":{"object":"list","data":[
    {"description":"Unused time on Pro after 10 Jan 2026","amount":-1166,
     "period":{"start":1768000000,"end":1769904000},
     "parent":{"subscription_item_details":{"proration":true}}},
    {"description":"Remaining time on 3 × Team after 10 Jan 2026","amount":9559,
     "period":{"start":1768000000,"end":1769904000},
     "parent":{"subscription_item_details":{"proration":true}}},
    {"description":"Tax adjustment","amount":620,
     "period":{"start":1768000000,"end":1768000000},"parent":null}]}}"#;

#[tokio::test]
async fn a_preview_now_asks_for_the_prorations_and_the_next_invoice() {
    let stripe = FakeServer::start([
        reply(200, subscription(None)),
        reply(200, NEXT_INVOICE),
        reply(200, PRORATIONS),
    ])
    .await;
    let preview = gateway(&stripe)
        .preview_change(&change(ChangeTiming::Now))
        .await
        .unwrap();
    let requests = stripe.requests();
    let items = [
        ("subscription", "sub_1Q"),
        ("subscription_details[items][0][id]", "si_1Q"),
        (
            "subscription_details[items][0][price]",
            "price_team_monthly",
        ),
        ("subscription_details[items][0][quantity]", "3"),
    ];
    assert_call(&requests[1], Method::POST, "/v1/invoices/create_preview");
    let mut next = items.to_vec();
    next.extend([
        ("preview_mode", "recurring"),
        ("subscription_details[proration_behavior]", "none"),
    ]);
    assert_eq!(requests[1].form(), form(&next));
    let mut now = items.to_vec();
    now.extend([
        ("subscription_details[proration_behavior]", "always_invoice"),
        ("subscription_details[proration_date]", "1768000000"),
    ]);
    assert_call(&requests[2], Method::POST, "/v1/invoices/create_preview");
    assert_eq!(requests[2].form(), form(&now));

    assert_eq!(preview.currency, "usd");
    assert_eq!(preview.amount_due_now_minor, 9013);
    assert_eq!(preview.tax_minor, Some(620));
    assert_eq!(
        preview
            .lines
            .iter()
            .map(|l| (l.amount_minor, l.proration))
            .collect::<Vec<_>>(),
        [(-1166, true), (9559, true)],
        "only the proration lines"
    );
    assert_eq!(preview.proration_date, Some(UnixTime(1_768_000_000)));
    assert_eq!(
        (preview.next_invoice_amount_minor, preview.next_invoice_date),
        (14_700, UnixTime(1_769_904_000))
    );
}

#[tokio::test]
async fn a_preview_at_period_end_asks_only_for_the_next_invoice() {
    let stripe =
        FakeServer::start([reply(200, subscription(None)), reply(200, NEXT_INVOICE)]).await;
    let preview = gateway(&stripe)
        .preview_change(&change(ChangeTiming::PeriodEnd))
        .await
        .unwrap();
    assert_eq!(stripe.requests().len(), 2);
    assert_eq!(preview.amount_due_now_minor, 0);
    assert!(preview.lines.is_empty());
    assert_eq!(preview.tax_minor, None);
    assert_eq!(preview.next_invoice_amount_minor, 14_700);
}

#[tokio::test]
async fn cancel_and_resume_set_cancel_at_period_end_after_releasing_a_schedule() {
    let stripe = FakeServer::start([
        reply(200, subscription(Some("sub_sched_1Q"))),
        reply(200, SCHEDULE),
        reply(200, subscription(None)),
        reply(200, subscription(None)),
        reply(200, subscription(None)),
    ])
    .await;
    let gateway = gateway(&stripe);
    gateway.cancel_at_period_end("sub_1Q").await.unwrap();
    gateway.resume("sub_1Q").await.unwrap();
    let requests = stripe.requests();
    assert_call(
        &requests[1],
        Method::POST,
        "/v1/subscription_schedules/sub_sched_1Q/release",
    );
    assert_call(&requests[2], Method::POST, "/v1/subscriptions/sub_1Q");
    assert_eq!(
        requests[2].form(),
        form(&[("cancel_at_period_end", "true")])
    );
    assert!(requests[2]
        .header("idempotency-key")
        .unwrap()
        .starts_with("cancel-at-period-end:sub_1Q:"));
    assert_call(&requests[4], Method::POST, "/v1/subscriptions/sub_1Q");
    assert_eq!(
        requests[4].form(),
        form(&[("cancel_at_period_end", "false")])
    );
}

#[tokio::test]
async fn cancel_now_deletes_the_subscription() {
    let stripe = FakeServer::start([reply(200, subscription(None))]).await;
    gateway(&stripe).cancel_now("sub_1Q").await.unwrap();
    let request = stripe.only_request();
    assert_call(&request, Method::DELETE, "/v1/subscriptions/sub_1Q");
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn ids_are_one_encoded_path_segment() {
    let stripe = FakeServer::start([reply(200, subscription(None))]).await;
    gateway(&stripe)
        .cancel_now("sub_1/../customers")
        .await
        .unwrap();
    assert_eq!(
        stripe.only_request().path,
        "/v1/subscriptions/sub_1%2F..%2Fcustomers"
    );
}

const CARDS: &str = r#"{"object":"list","data":[
  {"id":"pm_Visa","object":"payment_method","type":"card",
   "card":{"brand":"visa","display_brand":"visa","last4":"4242","exp_month":12,"exp_year":2034,"fingerprint":"x","funding":"credit"},
   "billing_details":{"email":"someone@example.com","name":"Someone"}},
  {"id":"pm_Amex","object":"payment_method","type":"card",
   "card":{"brand":"amex","last4":"8431","exp_month":1,"exp_year":2030}}]}"#;

#[tokio::test]
async fn cards_are_listed_with_the_customers_invoice_default_and_nothing_else_of_them() {
    let stripe = FakeServer::start([
        reply(200, CARDS),
        reply(
            200,
            r#"{"id":"cus_1Q","invoice_settings":{"default_payment_method":"pm_Amex"}}"#,
        ),
    ])
    .await;
    let methods = gateway(&stripe)
        .list_payment_methods("cus_1Q")
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_call(
        &requests[0],
        Method::GET,
        "/v1/customers/cus_1Q/payment_methods?type=card&limit=100",
    );
    assert_call(&requests[1], Method::GET, "/v1/customers/cus_1Q");
    assert_eq!(
        methods
            .iter()
            .map(|m| (
                m.id.as_str(),
                m.brand.as_deref(),
                m.last4.as_deref(),
                m.is_default
            ))
            .collect::<Vec<_>>(),
        [
            ("pm_Visa", Some("visa"), Some("4242"), false),
            ("pm_Amex", Some("amex"), Some("8431"), true)
        ]
    );
    assert_eq!(
        (methods[1].exp_month, methods[1].exp_year),
        (Some(1), Some(2030))
    );
}

#[tokio::test]
async fn without_a_customer_default_the_subscriptions_own_default_is_marked() {
    let stripe = FakeServer::start([
        reply(200, CARDS),
        reply(
            200,
            r#"{"id":"cus_1Q","invoice_settings":{"default_payment_method":null}}"#,
        ),
        reply(
            200,
            format!(
                r#"{{"object":"list","data":[{}]}}"#,
                subscription(None).replace("pm_Checkout", "pm_Visa")
            ),
        ),
    ])
    .await;
    let methods = gateway(&stripe)
        .list_payment_methods("cus_1Q")
        .await
        .unwrap();
    assert_call(
        &stripe.requests()[2],
        Method::GET,
        "/v1/subscriptions?customer=cus_1Q&limit=100",
    );
    assert_eq!(
        methods
            .iter()
            .map(|m| (m.id.as_str(), m.is_default))
            .collect::<Vec<_>>(),
        [("pm_Visa", true), ("pm_Amex", false)]
    );
}

#[tokio::test]
async fn a_setup_page_is_a_setup_mode_checkout_for_the_customer() {
    let stripe = FakeServer::start([reply(
        200,
        r#"{"id":"cs_setup_1","object":"checkout.session","mode":"setup","url":"https://checkout.stripe.com/c/pay/cs_setup_1"}"#,
    )])
    .await;
    let url = gateway(&stripe)
        .create_setup_session("cus_1Q", "https://app.example.com/billing", "setup:k")
        .await
        .unwrap();
    assert_eq!(url, "https://checkout.stripe.com/c/pay/cs_setup_1");
    let request = stripe.only_request();
    assert_call(&request, Method::POST, "/v1/checkout/sessions");
    assert_eq!(request.header("idempotency-key"), Some("setup:k"));
    assert_eq!(
        request.form(),
        form(&[
            ("mode", "setup"),
            ("customer", "cus_1Q"),
            ("payment_method_types[0]", "card"),
            ("success_url", "https://app.example.com/billing"),
            ("cancel_url", "https://app.example.com/billing"),
        ])
    );
}

#[tokio::test]
async fn a_new_default_is_set_on_the_customer_and_on_subscriptions_that_name_their_own() {
    let stripe = FakeServer::start([
        reply(200, r#"{"id":"cus_1Q","invoice_settings":{"default_payment_method":"pm_Amex"}}"#),
        reply(
            200,
            format!(
                r#"{{"object":"list","data":[{},
                  {{"id":"sub_2Q","schedule":null,"default_payment_method":null,"items":{{"data":[]}}}}]}}"#,
                subscription(None)
            ),
        ),
        reply(200, subscription(None)),
    ])
    .await;
    gateway(&stripe)
        .set_default_payment_method("cus_1Q", "pm_Amex")
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_eq!(requests.len(), 3, "only sub_1Q names its own default");
    assert_call(&requests[0], Method::POST, "/v1/customers/cus_1Q");
    assert_eq!(
        requests[0].form(),
        form(&[("invoice_settings[default_payment_method]", "pm_Amex")])
    );
    assert_call(
        &requests[1],
        Method::GET,
        "/v1/subscriptions?customer=cus_1Q&limit=100",
    );
    assert_call(&requests[2], Method::POST, "/v1/subscriptions/sub_1Q");
    assert_eq!(
        requests[2].form(),
        form(&[("default_payment_method", "pm_Amex")])
    );
}

#[tokio::test]
async fn removing_a_card_detaches_it() {
    let stripe = FakeServer::start([reply(
        200,
        r#"{"id":"pm_Visa","object":"payment_method","type":"card","customer":null}"#,
    )])
    .await;
    gateway(&stripe)
        .remove_payment_method("cus_1Q", "pm_Visa")
        .await
        .unwrap();
    let request = stripe.only_request();
    assert_call(&request, Method::POST, "/v1/payment_methods/pm_Visa/detach");
    assert!(request.body.is_empty());
    assert!(request
        .header("idempotency-key")
        .unwrap()
        .starts_with("detach:pm_Visa:"));
}

#[tokio::test]
async fn a_subscription_with_several_items_is_refused_not_guessed_at() {
    let stripe = FakeServer::start([reply(
        200,
        r#"{"id":"sub_1Q","schedule":null,"default_payment_method":null,"items":{"data":[
          {"id":"si_1","quantity":1,"price":{"id":"price_a"}},{"id":"si_2","quantity":1,"price":{"id":"price_b"}}]}}"#,
    )])
    .await;
    let outcome = gateway(&stripe)
        .change_plan(&change(ChangeTiming::Now))
        .await;
    assert!(matches!(
        outcome,
        Err(ProviderError::UnexpectedResponse {
            provider: Provider::Stripe,
            ..
        })
    ));
    assert_eq!(stripe.requests().len(), 1, "nothing was changed");
}

#[tokio::test]
async fn a_refused_update_keeps_stripes_code() {
    let stripe = FakeServer::start([
        reply(200, subscription(None)),
        reply(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such price: 'price_team_monthly'"}}"#,
        ),
    ])
    .await;
    let outcome = gateway(&stripe)
        .change_plan(&change(ChangeTiming::Now))
        .await;
    assert!(matches!(
        outcome,
        Err(ProviderError::Rejected { status: 400, ref code, .. }) if code.as_deref() == Some("resource_missing")
    ));
}

#[tokio::test]
async fn a_billing_profile_is_copied_onto_the_customer_with_its_tax_id() {
    use billing_domain::ledger::{validate_profile, ProfileInput};
    let stripe = FakeServer::start([
        reply(200, r#"{"id":"cus_1Q"}"#),
        reply(
            200,
            r#"{"object":"list","data":[
                {"id":"txi_Old","type":"in_gst","value":"27AAACE1234F1Z6"},
                {"id":"txi_Us","type":"us_ein","value":"12-3456789"}]}"#,
        ),
        reply(200, r#"{"id":"txi_Old","deleted":true}"#),
        reply(200, r#"{"id":"txi_New"}"#),
    ])
    .await;
    let input: ProfileInput = serde_json::from_str(
        r#"{"legalName": "Bharat Analytics Private Limited", "email": "ap@bharat.example",
            "address": {"line1": "12th Floor, Prestige Tech Park", "city": "Bengaluru",
                        "region": "29", "postalCode": "560103", "country": "IN"},
            "taxId": "29AABCB1234C1ZA"}"#,
    )
    .unwrap();
    let profile = validate_profile(&input, UnixTime(0)).unwrap();
    gateway(&stripe)
        .update_customer("cus_1Q", &profile, "profile:key-1")
        .await
        .unwrap();
    let requests = stripe.requests();
    assert_eq!(requests.len(), 4);
    assert_call(&requests[0], Method::POST, "/v1/customers/cus_1Q");
    assert_eq!(requests[0].header("idempotency-key"), Some("profile:key-1"));
    assert_eq!(
        requests[0].form(),
        form(&[
            ("name", "Bharat Analytics Private Limited"),
            ("email", "ap@bharat.example"),
            ("address[line1]", "12th Floor, Prestige Tech Park"),
            ("address[line2]", ""),
            ("address[city]", "Bengaluru"),
            ("address[state]", "29"),
            ("address[postal_code]", "560103"),
            ("address[country]", "IN"),
        ])
    );
    assert_call(
        &requests[1],
        Method::GET,
        "/v1/customers/cus_1Q/tax_ids?limit=100",
    );
    // The GSTIN of another value goes; a tax id of another kind stays.
    assert_call(
        &requests[2],
        Method::DELETE,
        "/v1/customers/cus_1Q/tax_ids/txi_Old",
    );
    assert_call(&requests[3], Method::POST, "/v1/customers/cus_1Q/tax_ids");
    assert_eq!(
        requests[3].form(),
        form(&[("type", "in_gst"), ("value", "29AABCB1234C1ZA")])
    );
    assert_eq!(
        requests[3].header("idempotency-key"),
        Some("profile:key-1:tax-id")
    );
}
