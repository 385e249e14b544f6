//! The integration tests of `billing-providers`, as one test binary: each
//! module below was a test target of its own, and linking reqwest, rustls
//! and axum once instead of once per file is most of what building the
//! tests costs. Fixtures stay in `tests/fixtures/`.
//!
//! Shared by the modules: `support` (the recording fake HTTP server),
//! `conformance` (the adapter suite every `conformance_<provider>` module
//! runs), `fake_paypal` (PayPal's OAuth, verify and subscription
//! endpoints), [`catalog`] and [`fixture`].

mod support;

mod conformance;
mod fake_paypal;

mod cashfree_api;
mod cashfree_events;
mod conformance_cashfree;
mod conformance_paddle;
mod conformance_paypal;
mod conformance_razorpay;
mod conformance_sandbox;
mod conformance_stripe;
mod http_retries;
mod paddle_api;
mod paddle_events;
mod paypal_api;
mod paypal_webhooks;
mod razorpay_api;
mod razorpay_events;
mod sandbox_api;
mod sandbox_events;
mod sandbox_self_service;
mod standard_webhooks;
mod stripe_api;
mod stripe_events;
mod stripe_self_service;
mod support_matrix;

/// The deployment's catalog (`infra/plans.json`), where every provider maps
/// its price ids.
fn catalog() -> billing_domain::Catalog {
    billing_domain::Catalog::from_json(include_str!("../../../../infra/plans.json"))
        .expect("catalog")
}

/// The text of a file under `tests/fixtures/`, such as
/// `fixture("stripe/invoice_paid.json")`; a missing file fails the test.
fn fixture(path: &str) -> String {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
