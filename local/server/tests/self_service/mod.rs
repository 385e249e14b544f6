//! Self-service end to end on the local stack, in both modes (embedded and
//! moto): preview → change → webhook → status with the sandbox provider,
//! a change at period end pending until the period turns (the sandbox's
//! test clock), cancel and resume through our API, and saved cards (the
//! checkout's card, the add-a-card page, default, remove, the last one kept).

use crate::common::{unique_tenant, Mode, TestStack};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub(crate) async fn preview_then_change_now_charges_the_preview_and_the_webhook_settles_it(
    mode: Mode,
) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_upgrade");
    stack.subscribe(&tenant, "pro", "pay").await;
    stack.wait_for_status(&tenant, "active").await;

    let change = json!({"plan": "team", "seats": 3, "timing": "now"});
    let (status, preview) = stack
        .call(
            Method::POST,
            "/billing/subscription/preview",
            &tenant,
            Some(change.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let lines = preview["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "{preview}");
    assert!(lines[0]["amountMinor"].as_i64().unwrap() <= 0, "a credit");
    let due = preview["amountDueNowMinor"].as_i64().unwrap();
    let sum: i64 = lines
        .iter()
        .map(|l| l["amountMinor"].as_i64().unwrap())
        .sum();
    assert_eq!(due, sum.max(0), "{preview}");
    assert!(due > 0, "an upgrade charges now: {preview}");

    let mut body = change;
    body["prorationDate"] = preview["prorationDate"].clone();
    let (status, accepted) = stack
        .call(
            Method::POST,
            "/billing/subscription/change",
            &tenant,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["pendingChange"]["plan"], "team");

    let settled = stack
        .wait_until(&tenant, "the change applied", |s| {
            s["plan"] == "team" && s["seats"] == 3 && s["pendingChange"].is_null()
        })
        .await;
    assert_eq!(settled["entitlements"]["projects"], 100, "{settled}");
    stack.stop().await;
}

pub(crate) async fn a_change_at_period_end_stays_pending_until_the_period_turns(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_downgrade");
    stack.subscribe(&tenant, "team", "pay").await;
    let active = stack.wait_for_status(&tenant, "active").await;

    let (status, accepted) = stack
        .call(
            Method::POST,
            "/billing/subscription/change",
            &tenant,
            Some(json!({"plan": "pro", "timing": "period_end"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let pending = stack.status(&tenant).await;
    assert_eq!(pending["plan"], "team", "nothing changes yet: {pending}");
    assert_eq!(
        pending["pendingChange"],
        json!({"plan": "pro", "seats": 1, "effectiveAt": active["currentPeriodEnd"]})
    );
    // The sandbox's own webhook (a scheduled change) keeps it pending.
    stack.sandbox.wait_for_deliveries().await;
    assert!(!stack.status(&tenant).await["pendingChange"].is_null());
    // A second change while one is pending is refused.
    let (status, refused) = stack
        .call(
            Method::POST,
            "/billing/subscription/change",
            &tenant,
            Some(json!({"plan": "pro", "seats": 2, "timing": "now"})),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("change_pending"))
    );

    stack.sandbox.advance_period(&tenant).await.unwrap();
    let turned = stack
        .wait_until(&tenant, "the period turned", |s| {
            s["plan"] == "pro" && s["pendingChange"].is_null()
        })
        .await;
    assert_eq!(turned["status"], "active", "{turned}");
    assert_ne!(turned["currentPeriodEnd"], active["currentPeriodEnd"]);
    stack.stop().await;
}

pub(crate) async fn cancel_at_period_end_then_resume_through_the_api(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_leave");
    stack.subscribe(&tenant, "pro", "pay").await;
    stack.wait_for_status(&tenant, "active").await;

    let (status, body) = stack
        .call(
            Method::POST,
            "/billing/subscription/cancel",
            &tenant,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::ACCEPTED, json!({"accepted": true}))
    );
    stack
        .wait_until(&tenant, "cancel at period end", |s| {
            s["cancelAtPeriodEnd"] == true
        })
        .await;
    let (status, _) = stack
        .call(Method::POST, "/billing/subscription/resume", &tenant, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let resumed = stack
        .wait_until(&tenant, "resumed", |s| s["cancelAtPeriodEnd"] == false)
        .await;
    assert_eq!(resumed["status"], "active");
    stack.stop().await;
}

async fn cards(stack: &TestStack, tenant: &str) -> Vec<Value> {
    let (status, body) = stack
        .call(Method::GET, "/billing/payment-methods", tenant, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["paymentMethods"].as_array().expect("a list").clone()
}

pub(crate) async fn saved_cards_can_be_added_made_default_and_removed_but_not_the_last(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_cards");
    assert!(cards(&stack, &tenant).await.is_empty(), "no account yet");
    stack.subscribe(&tenant, "pro", "pay").await;
    stack.wait_for_status(&tenant, "active").await;

    let first = cards(&stack, &tenant).await;
    assert_eq!(first.len(), 1, "the checkout's card: {first:?}");
    assert_eq!(
        (
            &first[0]["brand"],
            &first[0]["last4"],
            &first[0]["isDefault"]
        ),
        (&json!("visa"), &json!("4242"), &json!(true))
    );

    let (status, setup) = stack
        .call(
            Method::POST,
            "/billing/payment-methods/setup",
            &tenant,
            Some(json!({"returnUrl": stack.url("/")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let page = setup["url"].as_str().unwrap();
    let back = stack.submit_form(page, &[("card", "amex")]).await;
    assert_eq!(back, stack.url("/"));

    let both = cards(&stack, &tenant).await;
    let amex = both
        .iter()
        .find(|c| c["brand"] == "amex")
        .unwrap_or_else(|| panic!("amex saved: {both:?}"));
    assert_eq!(amex["isDefault"], false);
    let amex_id = amex["id"].as_str().unwrap().to_owned();
    let visa_id = first[0]["id"].as_str().unwrap().to_owned();

    let (status, _) = stack
        .call(
            Method::POST,
            &format!("/billing/payment-methods/{amex_id}/default"),
            &tenant,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = stack
        .call(
            Method::DELETE,
            &format!("/billing/payment-methods/{visa_id}"),
            &tenant,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let left = cards(&stack, &tenant).await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        (&left[0]["id"], &left[0]["isDefault"]),
        (&json!(amex_id), &json!(true))
    );

    let (status, refused) = stack
        .call(
            Method::DELETE,
            &format!("/billing/payment-methods/{amex_id}"),
            &tenant,
            None,
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("last_payment_method"))
    );
    // Another tenant cannot touch this card.
    let stranger = unique_tenant("org_stranger");
    stack.subscribe(&stranger, "pro", "pay").await;
    stack.wait_for_status(&stranger, "active").await;
    let (status, refused) = stack
        .call(
            Method::DELETE,
            &format!("/billing/payment-methods/{amex_id}"),
            &stranger,
            None,
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_payment_method"))
    );
    assert_eq!(cards(&stack, &tenant).await.len(), 1);
    stack.stop().await;
}

pub(crate) async fn a_viewer_reads_but_cannot_change(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_viewer");
    stack.subscribe(&tenant, "pro", "pay").await;
    stack.wait_for_status(&tenant, "active").await;
    let viewer = stack.token_as(&tenant, "viewer");
    let send = |method: Method, path: &str, body: Option<Value>| {
        let mut request = stack
            .http
            .request(method, stack.url(path))
            .bearer_auth(&viewer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let preview = send(
        Method::POST,
        "/billing/subscription/preview",
        Some(json!({"plan": "team", "timing": "now"})),
    )
    .await
    .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    let change = send(
        Method::POST,
        "/billing/subscription/change",
        Some(json!({"plan": "team", "timing": "now"})),
    )
    .await
    .unwrap();
    assert_eq!(change.status(), StatusCode::FORBIDDEN);
    let status = stack.status(&tenant).await;
    assert_eq!(
        (&status["plan"], &status["pendingChange"]),
        (&json!("pro"), &Value::Null)
    );
    stack.stop().await;
}
