//! `GET` and `PUT /billing/profile` through create-session's handler with
//! the sample events in events/: a valid profile is saved, normalized and
//! copied to the provider customer; every bad input is a clear 400 that
//! changes nothing; viewers read but cannot write; a provider that fails
//! does not undo the save.

use async_trait::async_trait;
use billing_domain::ledger::BillingProfile;
use billing_domain::ports::*;
use billing_domain::*;
use billing_testkit::memory::MemoryStore;
use create_session::SessionApi;
use lambda_http::{Body, Request};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const NOW: UnixTime = UnixTime(1_767_300_000);

/// Records the profiles copied to the customer, or fails as told.
#[derive(Clone, Default)]
struct Gateway {
    copied: Arc<Mutex<Vec<(String, BillingProfile)>>>,
    fail: bool,
}

#[async_trait]
impl BillingGateway for Gateway {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn create_checkout_session(
        &self,
        _: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        unreachable!("no checkout here")
    }

    async fn update_customer(
        &self,
        customer_id: &str,
        profile: &BillingProfile,
        _: &str,
    ) -> Result<(), ProviderError> {
        if self.fail {
            return Err(ProviderError::Transient {
                provider: Provider::Stripe,
                message: "timed out".into(),
            });
        }
        self.copied
            .lock()
            .unwrap()
            .push((customer_id.to_owned(), profile.clone()));
        Ok(())
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn with_body(mut event: Value, body: &Value) -> Value {
    event["body"] = body.to_string().into();
    event
}

fn as_role(mut event: Value, role: &str) -> Value {
    event["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = role.into();
    event
}

async fn api(gateway: Gateway, with_customer: bool) -> (SessionApi<MemoryStore>, Gateway) {
    let store = MemoryStore::new();
    if with_customer {
        store
            .claim_customer(
                &TenantId::parse("org_acme").unwrap(),
                Provider::Stripe,
                "cus_Acme",
            )
            .await
            .unwrap();
    }
    let env =
        billing_lambda::Env::from_pairs([("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com")]);
    let api = SessionApi::from_env(&env, store, vec![Box::new(gateway.clone())]).unwrap();
    (api, gateway)
}

async fn call(api: &SessionApi<MemoryStore>, event: &Value) -> (u16, Value) {
    let request: Request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = api.handle(request, NOW).await;
    let Body::Text(text) = response.body() else {
        panic!("JSON text body")
    };
    (
        response.status().as_u16(),
        serde_json::from_str(text).unwrap(),
    )
}

#[tokio::test]
async fn a_profile_is_saved_normalized_read_back_and_copied_to_the_customer() {
    let (api, gateway) = api(Gateway::default(), true).await;
    let (status, body) = call(&api, &sample("get-profile.json")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no_billing_profile"))
    );

    let (status, saved) = call(&api, &sample("put-profile.json")).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["legalName"], "Acme Analytics Private Limited");
    assert_eq!(saved["taxId"]["value"], "29AABCB1234C1ZA");
    assert_eq!(saved["taxId"]["kind"], "gstin");
    assert_eq!(saved["taxId"]["validated"], "format");
    assert_eq!(
        saved["providers"],
        json!([{"provider": "stripe", "status": "updated"}])
    );
    let copied = gateway.copied.lock().unwrap().clone();
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].0, "cus_Acme");

    // A viewer reads it; the stored copy has no provider report.
    let (status, read) = call(&api, &as_role(sample("get-profile.json"), "viewer")).await;
    assert_eq!(status, 200);
    assert_eq!(read["address"]["region"], "29");
    assert!(read.get("providers").is_none());

    // Lowercase, spaced input is normalized; a state's name becomes its code.
    let mut input: Value =
        serde_json::from_str(sample("put-profile.json")["body"].as_str().unwrap()).unwrap();
    input["taxId"] = "29 aabcb1234c1za".into();
    input["address"]["region"] = "Karnataka".into();
    input["address"]["country"] = "in".into();
    let mut again = with_body(sample("put-profile.json"), &input);
    again["headers"]["idempotency-key"] = "second-save".into();
    let (status, saved) = call(&api, &again).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (
            saved["address"]["region"].as_str(),
            saved["address"]["country"].as_str()
        ),
        (Some("29"), Some("IN"))
    );
    assert_eq!(saved["taxId"]["value"], "29AABCB1234C1ZA");
}

#[tokio::test]
async fn each_bad_input_is_a_clear_400_and_changes_nothing() {
    let (api, gateway) = api(Gateway::default(), true).await;
    let good: Value =
        serde_json::from_str(sample("put-profile.json")["body"].as_str().unwrap()).unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "check character",
            Box::new(|v| v["taxId"] = "29AABCB1234C1ZB".into()),
            "invalid_tax_id",
            "check character",
        ),
        (
            "GSTIN of another state",
            Box::new(|v| v["taxId"] = "27AAACE1234F1Z6".into()),
            "invalid_tax_id",
            "state 27",
        ),
        (
            "VAT of another country",
            Box::new(|v| {
                v["address"]["country"] = "FR".into();
                v["address"]["region"] = "IDF".into();
                v["taxId"] = "DE123456789".into();
            }),
            "invalid_tax_id",
            "does not match",
        ),
        (
            "short VAT",
            Box::new(|v| {
                v["address"]["country"] = "DE".into();
                v["address"]["region"] = "BE".into();
                v["taxId"] = "DE12345678".into();
            }),
            "invalid_tax_id",
            "9 digits",
        ),
        (
            "empty name",
            Box::new(|v| v["legalName"] = " ".into()),
            "invalid_request",
            "legalName",
        ),
        (
            "bad email",
            Box::new(|v| v["email"] = "accounts".into()),
            "invalid_request",
            "email",
        ),
        (
            "unknown country",
            Box::new(|v| v["address"]["country"] = "XX".into()),
            "invalid_request",
            "address.country",
        ),
        (
            "unknown Indian state",
            Box::new(|v| v["address"]["region"] = "Atlantis".into()),
            "invalid_request",
            "address.region",
        ),
        (
            "missing city",
            Box::new(|v| {
                v["address"].as_object_mut().unwrap().remove("city");
            }),
            "invalid_request",
            "city",
        ),
        (
            "unknown field",
            Box::new(|v| v["vatNumber"] = "x".into()),
            "invalid_request",
            "vatNumber",
        ),
    ];
    for (what, edit, code, says) in cases {
        let mut body = good.clone();
        edit(&mut body);
        let mut event = with_body(sample("put-profile.json"), &body);
        event["headers"]["idempotency-key"] = format!("bad-{what}").replace(' ', "-").into();
        let (status, answer) = call(&api, &event).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{what}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
    }
    let mut not_json = sample("put-profile.json");
    not_json["body"] = "{not json".into();
    assert_eq!(call(&api, &not_json).await.0, 400);
    // Nothing was saved, nothing reached the provider.
    assert_eq!(call(&api, &sample("get-profile.json")).await.0, 404);
    assert!(gateway.copied.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_viewer_may_not_write_and_a_failing_provider_does_not_undo_the_save() {
    let (viewer_api, _) = api(Gateway::default(), true).await;
    let (status, body) = call(&viewer_api, &as_role(sample("put-profile.json"), "viewer")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );

    let (failing, _) = api(
        Gateway {
            fail: true,
            ..Gateway::default()
        },
        true,
    )
    .await;
    let (status, body) = call(&failing, &sample("put-profile.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["providers"],
        json!([{"provider": "stripe", "status": "failed"}])
    );
    assert_eq!(call(&failing, &sample("get-profile.json")).await.0, 200);

    // No provider customer yet (no checkout): saved, nothing to copy to.
    let (fresh, gateway) = api(Gateway::default(), false).await;
    let (status, body) = call(&fresh, &sample("put-profile.json")).await;
    assert_eq!((status, &body["providers"]), (200, &json!([])));
    assert!(gateway.copied.lock().unwrap().is_empty());
}
