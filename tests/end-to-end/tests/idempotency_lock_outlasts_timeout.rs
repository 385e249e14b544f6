//! A request holds its `Idempotency-Key` for `IDEMPOTENCY_LOCK_SECONDS` when
//! it never finishes. That must outlast create-session's timeout in
//! `template.yaml`: a shorter lock would let a retry start while the first
//! invocation is still running, and both could reach the provider.

use billing_e2e::sam_template::{get, parse, repo_file, resources};
use serde_norway::Value as Yaml;

/// A function's `Timeout`, its own or the template's global one.
fn timeout_seconds(template: &Yaml, function: &str) -> u64 {
    let own = resources(template)
        .unwrap()
        .get(function)
        .and_then(|r| get(r, "Properties"))
        .and_then(|p| get(p, "Timeout"));
    let global = get(template, "Globals")
        .and_then(|g| get(g, "Function"))
        .and_then(|f| get(f, "Timeout"));
    own.or(global)
        .and_then(Yaml::as_u64)
        .unwrap_or_else(|| panic!("{function} has no Timeout"))
}

#[test]
fn create_sessions_idempotency_lock_outlasts_its_lambda_timeout() {
    let template = parse(&repo_file("template.yaml")).unwrap();
    let timeout = timeout_seconds(&template, "CreateSessionFunction");
    let lock = u64::try_from(create_session::IDEMPOTENCY_LOCK_SECONDS).unwrap();
    assert!(
        lock > timeout,
        "lock {lock} s must outlast the function's {timeout} s timeout"
    );
}

#[test]
fn a_functions_own_timeout_wins_over_the_global_one() {
    let template = parse(
        "Globals: {Function: {Timeout: 10}}\nResources:\n  A: {Type: AWS::Serverless::Function, Properties: {Timeout: 20}}\n  B: {Type: AWS::Serverless::Function}\n",
    )
    .unwrap();
    assert_eq!(timeout_seconds(&template, "A"), 20);
    assert_eq!(timeout_seconds(&template, "B"), 10);
}
