//! `ApiClient::send_with_retries` on its own, provider-agnostic: which
//! failures are repeated, for which requests, and what the caller gets back.

use crate::support::FakeServer;
use billing_providers::http::{ApiRequest, FailureCause, SendError};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy};
use std::time::Duration;

/// Answers every request with `status` and `{}`.
async fn server(status: u16) -> FakeServer {
    FakeServer::start([(status, "{}")]).await
}

/// The URL the requests go to.
fn url(server: &FakeServer) -> String {
    format!("{}/v1/things", server.url())
}

fn client(max_attempts: u32) -> ApiClient {
    ApiClient::new(HttpConfig {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        },
    })
    .unwrap()
}

#[tokio::test]
async fn post_without_idempotency_key_is_not_repeated_after_a_server_error() {
    // The provider may have acted before failing; a blind repeat could act twice.
    let server = server(500).await;
    let result = client(3)
        .send_with_retries(&ApiRequest::post(&url(&server)).form(&[("a", "1")]))
        .await;
    assert!(matches!(
        result,
        Err(SendError::Unavailable {
            attempts: 1,
            cause: FailureCause::Status(500)
        })
    ));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn get_is_repeated_after_a_server_error() {
    let server = server(502).await;
    let result = client(3)
        .send_with_retries(&ApiRequest::get(&url(&server)))
        .await;
    assert!(matches!(
        result,
        Err(SendError::Unavailable { attempts: 3, .. })
    ));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn every_attempt_carries_the_same_idempotency_key() {
    let server = server(503).await;
    let request = ApiRequest::post(&url(&server)).idempotency_key("op-123");
    let _ = client(4).send_with_retries(&request).await;
    let keys: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![Some("op-123".to_owned()); 4]);
}

#[tokio::test]
async fn one_attempt_policy_never_retries() {
    let server = server(429).await;
    let result = client(1)
        .send_with_retries(&ApiRequest::get(&url(&server)))
        .await;
    assert!(matches!(
        result,
        Err(SendError::Unavailable { attempts: 1, .. })
    ));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn client_error_is_returned_whole_for_the_adapter_to_read() {
    let server = server(422).await;
    let result = client(3)
        .send_with_retries(&ApiRequest::get(&url(&server)))
        .await;
    match result {
        Err(SendError::Refused(response)) => {
            assert_eq!(response.status, 422);
            assert_eq!(response.body, b"{}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn success_returns_status_and_body() {
    let server = server(200).await;
    let response = client(3)
        .send_with_retries(&ApiRequest::get(&url(&server)))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"{}");
}
