//! The ledger's read routes through get-status's handler with the sample
//! events from events/: a paid payment processed by webhook-process's
//! domain becomes an invoice the tenant lists, reads and downloads as a PDF
//! (its text checked with poppler's `pdftotext`, its first page kept as a
//! PNG under target/), its payments log; another tenant sees none of it,
//! and bad paging input is refused.

use billing_domain::ledger::{
    validate_profile, ChargeLine, MethodKind, MethodSummary, PaymentFacts, PaymentStatus,
    ProfileInput,
};
use billing_domain::ports::{EventLedger, ProfileStore};
use billing_domain::processing::{process_envelope, ProcessingPolicy};
use billing_domain::*;
use billing_testkit::memory::MemoryStore;
use get_status::StatusApi;
use lambda_http::{Body, Request};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const TENANT: &str = "org_acme";
/// 2026-05-28: financial year 2026-27, so the first number is INV/26-27/000001.
const T: i64 = 1_780_000_000;

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// The event with its query string set, as API Gateway sends both forms.
fn with_query(mut event: Value, pairs: &[(&str, &str)]) -> Value {
    let raw: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    event["rawQueryString"] = raw.join("&").into();
    event["queryStringParameters"] = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    event
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn as_tenant(mut event: Value, tenant: &str) -> Value {
    event["requestContext"]["authorizer"]["jwt"]["claims"]["tenant_id"] = tenant.into();
    event
}

fn paid(payment_id: &str, amount: i64, at: i64) -> PaymentFacts {
    PaymentFacts {
        payment_id: payment_id.into(),
        refund_of: None,
        status: PaymentStatus::Success,
        amount: Money::new(amount, "inr"),
        tax_minor: None,
        source_id: Some(payment_id.into()),
        at: UnixTime(at),
        method: Some(MethodSummary {
            kind: MethodKind::Card,
            brand: Some("visa".into()),
            last4: Some("4242".into()),
        }),
        failure_code: None,
        period_start: Some(UnixTime(at)),
        period_end: Some(UnixTime(at + 30 * 86_400)),
        plan: Some(PlanCode::new("pro")),
        seats: Some(3),
        lines: vec![ChargeLine {
            description: "Pro × 3".into(),
            quantity: 3,
            amount_minor: amount,
            proration: false,
            period_start: Some(UnixTime(at)),
            period_end: Some(UnixTime(at + 30 * 86_400)),
        }],
    }
}

fn event(id: &str, payment: PaymentFacts) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Stripe,
        event_id: id.into(),
        event_type: "invoice.paid".into(),
        occurred_at: payment.at,
        tenant_hint: Some(TenantId::parse(TENANT).unwrap()),
        kind: EventKind::InvoicePaid(InvoiceDetails {
            invoice_id: payment.payment_id.clone(),
            customer_id: Some("cus_1".into()),
            subscription_id: Some("sub_1".into()),
            created: payment.at,
            amount_due: payment.amount.clone(),
            amount_paid: payment.amount.clone(),
            attempt_count: 1,
        }),
        payment: Some(payment),
    }
}

/// A tenant in Karnataka with a GSTIN, billed by the Maharashtra seller of
/// `infra/seller.json` (prices tax-inclusive): inter-state, IGST 18%.
async fn store_with_invoices() -> MemoryStore {
    let store = MemoryStore::new();
    let input: ProfileInput = serde_json::from_str(
        r#"{"legalName": "Bharat Analytics Private Limited", "email": "ap@bharat.example",
            "address": {"line1": "12th Floor, Prestige Tech Park", "city": "Bengaluru",
                        "region": "29", "postalCode": "560103", "country": "IN"},
            "taxId": "29AABCB1234C1ZA"}"#,
    )
    .unwrap();
    let tenant = TenantId::parse(TENANT).unwrap();
    store
        .put_profile(&tenant, &validate_profile(&input, UnixTime(T)).unwrap())
        .await
        .unwrap();
    let invoicing = billing_lambda::config::invoicing().unwrap();
    for (k, (id, amount)) in [("in_first", 118_000), ("in_second", 59_000)]
        .into_iter()
        .enumerate()
    {
        let envelope = WebhookEnvelope::new(
            event(&format!("evt_{id}"), paid(id, amount, T + k as i64)),
            "{}".into(),
            UnixTime(T),
            "req".into(),
        );
        process_envelope(
            &store as &dyn EventLedger,
            &envelope,
            UnixTime(T + k as i64),
            &ProcessingPolicy::default(),
            &invoicing,
        )
        .await
        .unwrap();
    }
    store
}

fn api(store: MemoryStore) -> StatusApi<MemoryStore> {
    StatusApi::from_env(&billing_lambda::Env::from_pairs([]), store).unwrap()
}

async fn call(api: &StatusApi<MemoryStore>, event: &Value) -> (u16, Value) {
    let response = api.handle(request(event), UnixTime(T)).await;
    let Body::Text(text) = response.body() else {
        panic!("JSON text body")
    };
    (
        response.status().as_u16(),
        serde_json::from_str(text).unwrap(),
    )
}

#[tokio::test]
async fn the_tenant_lists_its_invoices_newest_first_and_pages_through_them() {
    let api = api(store_with_invoices().await);
    let (status, body) = call(&api, &sample("list-invoices.json")).await;
    assert_eq!(status, 200, "{body}");
    let invoices = body["invoices"].as_array().unwrap();
    let numbers: Vec<&str> = invoices
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["INV/26-27/000002", "INV/26-27/000001"]);
    // ₹1,180.00 collected, tax-inclusive at 18%: ₹1,000.00 + ₹180.00.
    assert_eq!(invoices[1]["id"], "INV-26-27-000001");
    assert_eq!(
        (
            &invoices[1]["subtotalMinor"],
            &invoices[1]["taxMinor"],
            &invoices[1]["totalMinor"]
        ),
        (
            &Value::from(100_000),
            &Value::from(18_000),
            &Value::from(118_000)
        )
    );
    assert_eq!(invoices[1]["status"], "paid");
    assert_eq!(invoices[1]["currency"], "inr");
    assert!(body["nextCursor"].is_null());

    let first_page = with_query(sample("list-invoices.json"), &[("limit", "1")]);
    let (_, page) = call(&api, &first_page).await;
    assert_eq!(page["invoices"].as_array().unwrap().len(), 1);
    let cursor = page["nextCursor"].as_str().expect("a next page").to_owned();
    let second_page = with_query(
        sample("list-invoices.json"),
        &[("limit", "1"), ("cursor", &cursor)],
    );
    let (_, page) = call(&api, &second_page).await;
    assert_eq!(page["invoices"][0]["number"], "INV/26-27/000001");
    assert!(page["nextCursor"].is_null());
}

#[tokio::test]
async fn an_invoice_shows_its_breakdown_and_snapshots() {
    let api = api(store_with_invoices().await);
    let (status, body) = call(&api, &sample("get-invoice.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["number"], "INV/26-27/000001");
    assert_eq!(body["treatment"], "india_inter_state");
    assert_eq!(body["taxLines"][0]["kind"], "igst");
    assert_eq!(body["taxLines"][0]["rateBasisPoints"], 1800);
    assert_eq!(body["taxLines"][0]["amountMinor"], 18_000);
    assert_eq!(body["placeOfSupply"]["stateCode"], "29");
    assert_eq!(body["placeOfSupply"]["stateName"], "Karnataka");
    assert_eq!(body["seller"]["taxId"]["value"], "27AAACE1234F1Z6");
    assert_eq!(body["buyer"]["taxId"]["value"], "29AABCB1234C1ZA");
    assert_eq!(body["buyer"]["taxId"]["validated"], "format");
    assert_eq!(body["lines"][0]["description"], "Pro × 3");
    assert_eq!(body["paymentMethod"]["last4"], "4242");
    assert_eq!(body["providerInvoiceId"], "in_first");
    assert_eq!(
        body["issueDate"], "2026-05-29",
        "the seller's clock (UTC+05:30)"
    );
}

#[tokio::test]
async fn another_tenants_invoice_is_not_found_and_bad_ids_too() {
    let api = api(store_with_invoices().await);
    for name in ["get-invoice.json", "get-invoice-pdf.json"] {
        let (status, body) = call(&api, &as_tenant(sample(name), "org_other")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("invoice_not_found")),
            "{name}"
        );
    }
    let (_, listed) = call(&api, &as_tenant(sample("list-invoices.json"), "org_other")).await;
    assert_eq!(listed["invoices"], Value::Array(vec![]));
    let mut bad = sample("get-invoice.json");
    bad["pathParameters"]["id"] = "INV/26-27/000001".into();
    assert_eq!(call(&api, &bad).await.0, 404);
    bad["pathParameters"]["id"] = "INV-26-27-999999".into();
    assert_eq!(call(&api, &bad).await.0, 404);
}

#[tokio::test]
async fn bad_limits_and_cursors_are_refused() {
    let api = api(store_with_invoices().await);
    for (key, value) in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("cursor", "%%%"),
        ("cursor", "not base64!"),
    ] {
        for name in ["list-invoices.json", "list-payments.json"] {
            let event = with_query(sample(name), &[(key, value)]);
            let (status, body) = call(&api, &event).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some("invalid_request")),
                "{name} {key}={value}"
            );
        }
    }
}

#[tokio::test]
async fn the_payments_log_lists_every_attempt() {
    let api = api(store_with_invoices().await);
    let (status, body) = call(&api, &sample("list-payments.json")).await;
    assert_eq!(status, 200, "{body}");
    let payments = body["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2);
    assert_eq!(payments[0]["id"], "in_second");
    assert_eq!(payments[0]["status"], "success");
    assert_eq!(payments[0]["amountMinor"], 59_000);
    assert_eq!(payments[0]["method"]["kind"], "card");
    assert_eq!(payments[0]["invoiceId"], "INV-26-27-000002");
    assert_eq!(payments[1]["provider"], "stripe");
}

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn tool(name: &str) -> Command {
    let found = Command::new(name).arg("-v").output().is_ok();
    assert!(
        found,
        "{name} is missing: install Debian's poppler-utils (scripts/test does)"
    );
    Command::new(name)
}

#[tokio::test]
async fn the_pdf_carries_what_rule_46_asks() {
    let api = api(store_with_invoices().await);
    let response = api
        .handle(request(&sample("get-invoice-pdf.json")), UnixTime(T))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let Body::Binary(bytes) = response.body() else {
        panic!("a binary body")
    };
    assert!(bytes.starts_with(b"%PDF-"));
    let pdf = target_dir().join("invoice-sample.pdf");
    std::fs::write(&pdf, bytes).unwrap();

    let output = tool("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "TAX INVOICE",
        "INV/26-27/000001",
        "Date of issue: 2026-05-29",
        "Example Cloud Private Limited",
        "GSTIN: 27AAACE1234F1Z6",
        "Bharat Analytics Private Limited",
        "GSTIN: 29AABCB1234C1ZA",
        "Place of supply: 29 - Karnataka",
        "Tax payable on reverse charge: No",
        "998314",
        "Pro × 3",
        "1,000.00",
        "IGST 18%",
        "180.00",
        "1,180.00",
        "ending 4242",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    // One page as an image, kept for a human to look at.
    let png = target_dir().join("invoice-sample");
    let status = tool("pdftoppm")
        .args(["-png", "-r", "80", "-singlefile"])
        .arg(&pdf)
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success());
    let image = std::fs::read(png.with_extension("png")).unwrap();
    assert!(image.starts_with(b"\x89PNG"));
}
