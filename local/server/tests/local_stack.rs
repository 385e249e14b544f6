//! The local stack end to end over real HTTP, in both of its modes: every
//! scenario runs once on the embedded store and queue (`embedded::…`) and
//! once on template.yaml's DynamoDB table, SQS queue and secret on moto
//! (`aws::…`). A test plays the browser (bearer token, the sandbox's hosted
//! checkout and portal) and the provider (signed Stripe deliveries), and
//! reads the outcome only through `GET /billing/status`, so each check goes
//! through the API Gateway emulation, the four handlers, the queue and the
//! poller. `embedded_only::…` restarts a stack on the same data directory.
//!
//! Every test uses tenants of its own: in the AWS mode all tests (and runs
//! against the same moto) share one table and one queue, and one test's
//! poller may well process another test's messages.

mod common;
mod self_service;

use common::{read, unique_tenant, unix_now, without_updated_at, Mode, SampleTenant, TestStack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// Generates `embedded::<scenario>` and `aws::<scenario>` for each scenario.
macro_rules! in_both_modes {
    ($($scenario:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Mode::Embedded).await;
                }
            )+
        }

        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Mode::Aws).await;
                }
            )+
        }
    };
}

in_both_modes!(
    sandbox_payment_activates_the_chosen_plan_with_full_access,
    declined_card_leaves_no_access_and_a_new_checkout_can_then_pay,
    failed_first_renewal_turns_active_into_past_due_with_grace,
    portal_cancel_at_period_end_then_resume_toggles_cancel_at_period_end,
    second_checkout_while_active_is_refused_as_subscription_exists,
    stripe_samples_shuffled_and_duplicated_end_in_the_in_order_state,
    missing_expired_or_foreign_tokens_get_the_authorizers_401,
    webhook_with_a_bad_signature_is_refused_and_never_processed,
    unknown_routes_and_providers_are_not_found,
    every_openapi_route_is_served_with_its_documented_auth,
    preview_then_change_now_charges_the_preview_and_the_webhook_settles_it,
    a_change_at_period_end_stays_pending_until_the_period_turns,
    cancel_at_period_end_then_resume_through_the_api,
    saved_cards_can_be_added_made_default_and_removed_but_not_the_last,
    a_viewer_reads_but_cannot_change,
);

use self_service::{
    a_change_at_period_end_stays_pending_until_the_period_turns, a_viewer_reads_but_cannot_change,
    cancel_at_period_end_then_resume_through_the_api,
    preview_then_change_now_charges_the_preview_and_the_webhook_settles_it,
    saved_cards_can_be_added_made_default_and_removed_but_not_the_last,
};

// ---------- Sandbox checkout and portal ----------

async fn sandbox_payment_activates_the_chosen_plan_with_full_access(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_pay");
    assert_eq!(stack.status(&tenant).await["status"], "none");

    stack.subscribe(&tenant, "team", "pay").await;

    let active = stack.wait_for_status(&tenant, "active").await;
    assert_eq!(active["access"], "full", "{active}");
    assert_eq!(active["plan"], "team", "{active}");
    assert_eq!(active["provider"], "sandbox", "{active}");
    assert_eq!(active["cancelAtPeriodEnd"], false, "{active}");
    assert_eq!(
        active["entitlements"]["projects"], 100,
        "team's entitlements"
    );
    assert!(active["currentPeriodEnd"].is_string(), "{active}");
    stack.stop().await;
}

async fn declined_card_leaves_no_access_and_a_new_checkout_can_then_pay(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_decline");

    stack.subscribe(&tenant, "pro", "decline").await;
    let incomplete = stack.wait_for_status(&tenant, "incomplete").await;
    assert_eq!(incomplete["access"], "none", "{incomplete}");
    assert_eq!(
        incomplete["entitlements"]["projects"], 1,
        "free entitlements"
    );

    stack.subscribe(&tenant, "pro", "pay").await;
    let active = stack.wait_for_status(&tenant, "active").await;
    assert_eq!(active["access"], "full", "{active}");
    assert_eq!(active["plan"], "pro", "{active}");
    stack.stop().await;
}

async fn failed_first_renewal_turns_active_into_past_due_with_grace(mode: Mode) {
    // The renewal fails this long after payment: long enough for the paid
    // state to be seen first even on a busy machine.
    let stack = TestStack::start_with(mode, |config| {
        config.sandbox_renewal_delay = Duration::from_secs(2);
    })
    .await;
    let tenant = unique_tenant("org_renewal");

    stack.subscribe(&tenant, "pro", "pay_fail_renewal").await;
    let active = stack.wait_for_status(&tenant, "active").await;
    assert_eq!(active["access"], "full", "{active}");
    assert_eq!(active["graceEndsAt"], Value::Null, "{active}");

    let past_due = stack.wait_for_status(&tenant, "past_due").await;
    assert_eq!(past_due["access"], "grace", "{past_due}");
    assert_eq!(past_due["plan"], "pro", "{past_due}");
    assert_eq!(
        past_due["entitlements"]["projects"], 20,
        "grace keeps the plan"
    );
    assert!(past_due["graceEndsAt"].is_string(), "{past_due}");
    assert_ne!(
        past_due["currentPeriodEnd"], active["currentPeriodEnd"],
        "the failed renewal opened a new period"
    );
    stack.stop().await;
}

async fn portal_cancel_at_period_end_then_resume_toggles_cancel_at_period_end(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_portal");
    stack.subscribe(&tenant, "pro", "pay").await;
    let active = stack.wait_for_status(&tenant, "active").await;
    let portal = stack.portal(&tenant).await;
    assert!(portal.starts_with(&stack.base_url), "{portal}");

    stack.portal_action(&portal, "cancel").await;
    let canceling = stack
        .wait_until(&tenant, "cancelAtPeriodEnd true", |s| {
            s["cancelAtPeriodEnd"] == true
        })
        .await;
    assert_eq!(canceling["status"], "active", "{canceling}");
    assert_eq!(canceling["access"], "full", "{canceling}");
    assert_eq!(
        canceling["cancelAt"], active["currentPeriodEnd"],
        "cancels at the end of the period"
    );

    stack.portal_action(&portal, "resume").await;
    let resumed = stack
        .wait_until(&tenant, "cancelAtPeriodEnd false", |s| {
            s["cancelAtPeriodEnd"] == false
        })
        .await;
    assert_eq!(resumed["status"], "active", "{resumed}");
    assert_eq!(resumed["cancelAt"], Value::Null, "{resumed}");
    stack.stop().await;
}

async fn second_checkout_while_active_is_refused_as_subscription_exists(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_twice");
    stack.subscribe(&tenant, "pro", "pay").await;
    stack.wait_for_status(&tenant, "active").await;

    let (status, body) = stack.request_checkout(&tenant, "team").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "subscription_exists", "{body}");
    let still = stack.status(&tenant).await;
    assert_eq!(
        (&still["status"], &still["plan"]),
        (&json!("active"), &json!("pro"))
    );
    stack.stop().await;
}

// ---------- Stripe deliveries ----------

/// Every Stripe sample, in the order Stripe sends them over the life of
/// one subscription (the unhandled `customer.created` included).
const STRIPE_LIFECYCLE: &[&str] = &[
    "webhook-stripe-customer-created-unhandled.json",
    "webhook-stripe-checkout-session-completed.json",
    "webhook-stripe-subscription-created.json",
    "webhook-stripe-subscription-updated.json",
    "webhook-stripe-invoice-paid.json",
    "webhook-stripe-invoice-payment-failed.json",
    "webhook-stripe-subscription-past-due.json",
    "webhook-stripe-subscription-deleted.json",
];

/// Indexes into [`STRIPE_LIFECYCLE`]: shuffled, and each event but one
/// delivered twice (the deletion first of all).
const SHUFFLED_WITH_DUPLICATES: &[usize] = &[7, 3, 5, 0, 1, 6, 3, 2, 4, 7, 1, 5, 6, 2, 4];

async fn stripe_samples_shuffled_and_duplicated_end_in_the_in_order_state(mode: Mode) {
    assert_eq!(
        std::fs::read_dir(common::repo_root().join("events"))
            .unwrap()
            .filter(|f| {
                let name = f.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("webhook-stripe-")
            })
            .count(),
        STRIPE_LIFECYCLE.len(),
        "every Stripe sample is part of the lifecycle"
    );
    let stack = TestStack::start(mode).await;

    let in_order = SampleTenant::new("org_acme_in_order");
    for sample in STRIPE_LIFECYCLE {
        stack.deliver_stripe(&in_order.delivery(sample)).await;
    }
    // The samples end in a deletion: canceled, no access, as in
    // tests/end-to-end/tests/checkout_to_cancellation.rs.
    let expected = stack
        .wait_until(&in_order.tenant, "the deletion", |s| {
            s["status"] == "canceled" && s["canceledAt"] == "2026-02-21T00:00:00Z"
        })
        .await;
    assert_eq!(expected["access"], "none", "{expected}");
    assert_eq!(expected["plan"], "pro", "{expected}");
    assert_eq!(expected["provider"], "stripe", "{expected}");
    assert_eq!(expected["currentPeriodEnd"], "2026-03-04T00:00:00Z");
    assert_eq!(expected["entitlements"]["projects"], 1, "free entitlements");

    let shuffled = SampleTenant::new("org_acme_shuffled");
    for &i in SHUFFLED_WITH_DUPLICATES {
        stack
            .deliver_stripe(&shuffled.delivery(STRIPE_LIFECYCLE[i]))
            .await;
    }
    let converged = stack
        .wait_until(&shuffled.tenant, "the in-order state", |s| {
            without_updated_at(s) == without_updated_at(&expected)
        })
        .await;
    assert_eq!(converged["status"], "canceled");
    stack.stop().await;
}

// ---------- Refusals ----------

async fn missing_expired_or_foreign_tokens_get_the_authorizers_401(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let tenant = unique_tenant("org_auth");
    let foreign = billing_local::DevAuth::from_json(
        r#"{"issuer": "http://127.0.0.1/billing-local-dev-auth", "audience": "billing-local",
            "hs256Key": "another-key-that-is-long-enough", "tenantClaim": "tenant_id"}"#,
    )
    .unwrap()
    .issue(&tenant, "owner", unix_now(), 3600)
    .unwrap();
    let expired = billing_local::DevAuth::development()
        .unwrap()
        .issue(&tenant, "owner", unix_now() - 7200, 3600)
        .unwrap();

    for token in [None, Some(foreign.as_str()), Some(expired.as_str())] {
        let mut status = stack.http.get(stack.url("/billing/status"));
        let mut session = stack.http.post(stack.url("/billing/session")).json(
            &json!({"plan": "pro", "successUrl": stack.url("/"), "cancelUrl": stack.url("/")}),
        );
        if let Some(token) = token {
            status = status.bearer_auth(token);
            session = session.bearer_auth(token);
        }
        for request in [status, session] {
            let (code, body) = read(request.send().await.unwrap()).await;
            assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(body, json!({"message": "Unauthorized"}));
        }
    }
    // Nothing was created for the tenant.
    assert_eq!(stack.status(&tenant).await["status"], "none");
    stack.stop().await;
}

async fn webhook_with_a_bad_signature_is_refused_and_never_processed(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let acme = SampleTenant::new("org_acme_forged");
    let deleted = acme.delivery("webhook-stripe-subscription-deleted.json");
    let now = unix_now();

    // Signed with another secret.
    let forged = billing_providers::stripe::sign(
        &billing_domain::secrets::WebhookSecret::new("whsec_not_the_configured_secret"),
        billing_domain::UnixTime(now),
        deleted.body.as_bytes(),
    );
    // A genuine signature over a different body.
    let tampered = deleted.body.replace("\"canceled\"", "\"active\"");
    assert_ne!(tampered, deleted.body);
    let genuine = common::stripe_signature(&deleted.body, now);
    for (body, signature, code) in [
        (&deleted.body, Some(forged.as_str()), "invalid_signature"),
        (&tampered, Some(genuine.as_str()), "invalid_signature"),
        (&deleted.body, None, "missing_signature"),
    ] {
        let (status, answer) = stack.post_stripe(body, signature).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    assert_eq!(stack.status(&acme.tenant).await["status"], "none");

    // A genuine, older event for the same subscription is processed; had
    // the (newer) forged deletion been queued, the tenant would end canceled.
    stack
        .deliver_stripe(&acme.delivery("webhook-stripe-subscription-updated.json"))
        .await;
    let active = stack.wait_for_status(&acme.tenant, "active").await;
    assert_eq!(active["canceledAt"], Value::Null, "{active}");
    stack.stop().await;
}

async fn unknown_routes_and_providers_are_not_found(mode: Mode) {
    let stack = TestStack::start(mode).await;
    let token = stack.token(&unique_tenant("org_routes"));
    // API Gateway's own 404: no route for the path, or not for this method.
    for (method, path) in [
        ("GET", "/billing/nothing"),
        ("POST", "/billing/status"),
        ("GET", "/billing/session"),
        ("DELETE", "/billing/plans"),
        ("POST", "/billing/webhooks"),
        ("POST", "/billing/webhooks/stripe/extra"),
    ] {
        let request = stack
            .http
            .request(method.parse().unwrap(), stack.url(path))
            .bearer_auth(&token);
        let (status, body) = read(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body, json!({"message": "Not Found"}), "{method} {path}");
    }
    // The webhook route exists, but not for this provider: the function's 404.
    let (status, body) = read(
        stack
            .http
            .post(stack.url("/billing/webhooks/bitpay"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "unknown_provider", "{body}");
    stack.stop().await;
}

// ---------- The API's contract ----------

/// A request path for an OpenAPI path template.
fn concrete_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{provider}" => "stripe",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether an answer came from a function rather than from the gateway
/// (whose answers are `{"message"}`).
fn served_by_a_function(status: StatusCode, body: &Value) -> bool {
    body.get("message").is_none() && (status.is_success() || body["error"]["code"].is_string())
}

async fn every_openapi_route_is_served_with_its_documented_auth(mode: Mode) {
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_root().join("infra/openapi.json")).unwrap(),
    )
    .unwrap();
    let stack = TestStack::start(mode).await;
    let token = stack.token(&unique_tenant("org_contract"));
    let mut operations = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let public = operation["security"]
                .as_array()
                .is_some_and(|requirements| requirements.is_empty());
            operations.push((method.to_uppercase(), template.clone(), public));
        }
    }
    assert!(operations.len() >= 5, "{operations:?}");

    for (method, template, public) in &operations {
        let path = concrete_path(template);
        let request = |token: Option<&str>| {
            let mut request = stack
                .http
                .request(method.parse().unwrap(), stack.url(&path));
            if method != "GET" {
                request = request
                    .header("content-type", "application/json")
                    .body("{}");
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request
        };
        let (status, body) = read(request(None).send().await.unwrap()).await;
        if *public {
            assert!(
                served_by_a_function(status, &body),
                "{method} {template} is public: {status} {body}"
            );
        } else {
            assert_eq!(
                (status, &body),
                (
                    StatusCode::UNAUTHORIZED,
                    &json!({"message": "Unauthorized"})
                ),
                "{method} {template} needs a token"
            );
            let (status, body) = read(request(Some(&token)).send().await.unwrap()).await;
            assert!(
                served_by_a_function(status, &body),
                "{method} {template} with a token: {status} {body}"
            );
        }
    }
    stack.stop().await;
}

// ---------- Restarts (the embedded mode's file) ----------

mod embedded_only {
    use super::common::{self, unique_tenant, unix_now, SampleTenant, TestStack};
    use billing_domain::ports::{EventQueue, WebhookDelivery, WebhookVerifier};
    use billing_domain::secrets::ProviderCredentials;
    use billing_domain::{UnixTime, WebhookEnvelope};
    use billing_embedded::{EmbeddedDb, QueueConfig};
    use billing_providers::StripeWebhooks;
    use std::path::Path;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn subscription_survives_a_restart_on_the_same_data_dir() {
        let data_dir = tempfile::tempdir().unwrap();
        let tenant = unique_tenant("org_restart");

        let first = TestStack::start_embedded_in(data_dir.path()).await;
        first.subscribe(&tenant, "pro", "pay").await;
        let active = first.wait_for_status(&tenant, "active").await;
        first.sandbox.wait_for_deliveries().await;
        first.stop().await;

        let second = TestStack::start_embedded_in(data_dir.path()).await;
        assert_eq!(second.status(&tenant).await, active);
        // The tenant's customer (and the sandbox's record of it) is kept too.
        assert!(second.portal(&tenant).await.starts_with(&second.base_url));
        let (status, body) = second.request_checkout(&tenant, "team").await;
        assert_eq!(
            body["error"]["code"], "subscription_exists",
            "{status} {body}"
        );
        second.stop().await;
    }

    /// Queues `delivery` into the stopped stack's file exactly as
    /// webhook-receive would have before the stop.
    async fn queue_while_stopped(data_dir: &Path, body: &str) {
        let now = UnixTime(unix_now());
        let delivery = WebhookDelivery {
            headers: vec![(
                "Stripe-Signature".into(),
                common::stripe_signature(body, now.seconds()),
            )],
            body: body.as_bytes().to_vec(),
        };
        let event = StripeWebhooks::new()
            .verify_and_parse(
                &delivery,
                &ProviderCredentials::with_webhook_secrets([common::stripe_webhook_secret()]),
                now,
                &billing_lambda::config::catalog().unwrap(),
            )
            .await
            .unwrap();
        let envelope =
            WebhookEnvelope::new(event, body.to_owned(), now, "queued-while-stopped".into());
        let path = data_dir.join("billing.redb");
        // redb allows one open handle per file: the stack is stopped.
        let db = tokio::task::spawn_blocking(move || EmbeddedDb::open(&path))
            .await
            .unwrap()
            .unwrap();
        db.queue(QueueConfig::default())
            .enqueue(&envelope)
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn event_queued_before_a_restart_is_processed_after_it() {
        let data_dir = tempfile::tempdir().unwrap();
        let acme = SampleTenant::new("org_acme_queued");

        let first = TestStack::start_embedded_in(data_dir.path()).await;
        assert_eq!(first.status(&acme.tenant).await["status"], "none");
        first.stop().await;

        let updated = acme.delivery("webhook-stripe-subscription-updated.json");
        queue_while_stopped(data_dir.path(), &updated.body).await;

        let second = TestStack::start_embedded_in(data_dir.path()).await;
        let active = second.wait_for_status(&acme.tenant, "active").await;
        assert_eq!(active["plan"], "pro", "{active}");
        assert_eq!(active["provider"], "stripe", "{active}");
        second.stop().await;
    }
}
