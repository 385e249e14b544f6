//! The README's self-service support matrix is what the adapters declare:
//! every provider's gateway, built from the development secrets exactly as
//! a function builds it, has the capabilities its row says, and every
//! provider has a row.

use crate::catalog;
use billing_domain::ports::Capabilities;
use billing_domain::Provider;
use billing_providers::registry::{self, Endpoints};
use billing_providers::{credentials, ApiClient, HttpConfig};
use std::collections::BTreeMap;

const COLUMNS: [&str; 9] = [
    "Provider",
    "Change now",
    "Change at period end",
    "Preview",
    "Interval change",
    "Cancel at period end",
    "Resume",
    "Cancel now",
    "Payment methods",
];

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The rows of the table under "### Self-service support", by provider.
fn readme_matrix() -> BTreeMap<String, Vec<bool>> {
    let readme = repo_file("README.md");
    let section = readme
        .split("### Self-service support")
        .nth(1)
        .expect("the README has a Self-service support section");
    let mut rows = section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect::<Vec<_>>()
        });
    assert_eq!(rows.next().expect("a header row"), COLUMNS);
    rows.next(); // the | --- | row
    rows.map(|cells| {
        let flags = cells[1..]
            .iter()
            .map(|cell| match cell.as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("cell {other:?} of {} is not yes or no", cells[0]),
            })
            .collect();
        (cells[0].clone(), flags)
    })
    .collect()
}

fn flags(c: Capabilities) -> Vec<bool> {
    vec![
        c.change_now,
        c.change_at_period_end,
        c.preview,
        c.interval_change,
        c.cancel_at_period_end,
        c.resume,
        c.cancel_now,
        c.payment_methods,
    ]
}

#[test]
fn the_readme_matrix_is_what_each_gateway_declares() {
    let secrets = credentials::parse(&repo_file("infra/dev-secrets.json")).unwrap();
    let http = ApiClient::new(HttpConfig::default()).unwrap();
    let endpoints = Endpoints {
        stripe_api_base: None,
        sandbox_api_base: Some("http://127.0.0.1:3000".into()),
    };
    let gateways =
        registry::gateways(&secrets, Provider::Sandbox, &http, &endpoints, &catalog()).unwrap();
    let declared: BTreeMap<String, Vec<bool>> = gateways
        .iter()
        .map(|g| (g.provider().as_str().to_owned(), flags(g.capabilities())))
        .collect();
    let every: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        declared
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .len(),
        every.len(),
        "the development secrets enable every provider"
    );
    assert_eq!(readme_matrix(), declared);
}
