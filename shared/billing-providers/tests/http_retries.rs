//! `ApiClient::send_with_retries` on its own, provider-agnostic: which
//! failures are repeated, for which requests, and what the caller gets back.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use billing_providers::http::{ApiRequest, FailureCause, SendError};
use billing_providers::{ApiClient, HttpConfig, RetryPolicy};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers every request with `status` and records the idempotency key.
struct Server {
    url: String,
    hits: Arc<AtomicU32>,
    keys: Arc<Mutex<Vec<Option<String>>>>,
}

#[derive(Clone)]
struct Shared {
    status: StatusCode,
    hits: Arc<AtomicU32>,
    keys: Arc<Mutex<Vec<Option<String>>>>,
}

async fn answer(State(shared): State<Shared>, headers: HeaderMap) -> (StatusCode, &'static str) {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.keys.lock().unwrap().push(key);
    (shared.status, "{}")
}

async fn server(status: u16) -> Server {
    let shared = Shared {
        status: StatusCode::from_u16(status).unwrap(),
        hits: Arc::default(),
        keys: Arc::default(),
    };
    let app = Router::new().fallback(answer).with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/things", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        url,
        hits: shared.hits,
        keys: shared.keys,
    }
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
        .send_with_retries(&ApiRequest::post(&server.url).form(&[("a", "1")]))
        .await;
    assert!(matches!(
        result,
        Err(SendError::Unavailable {
            attempts: 1,
            cause: FailureCause::Status(500)
        })
    ));
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn get_is_repeated_after_a_server_error() {
    let server = server(502).await;
    let result = client(3)
        .send_with_retries(&ApiRequest::get(&server.url))
        .await;
    assert!(matches!(
        result,
        Err(SendError::Unavailable { attempts: 3, .. })
    ));
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn every_attempt_carries_the_same_idempotency_key() {
    let server = server(503).await;
    let request = ApiRequest::post(&server.url).idempotency_key("op-123");
    let _ = client(4).send_with_retries(&request).await;
    let keys = server.keys.lock().unwrap().clone();
    assert_eq!(keys, vec![Some("op-123".to_owned()); 4]);
}

#[tokio::test]
async fn one_attempt_policy_never_retries() {
    let server = server(429).await;
    let result = client(1)
        .send_with_retries(&ApiRequest::get(&server.url))
        .await;
    assert!(matches!(
        result,
        Err(SendError::Unavailable { attempts: 1, .. })
    ));
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_error_is_returned_whole_for_the_adapter_to_read() {
    let server = server(422).await;
    let result = client(3)
        .send_with_retries(&ApiRequest::get(&server.url))
        .await;
    match result {
        Err(SendError::Refused(response)) => {
            assert_eq!(response.status, 422);
            assert_eq!(response.body, b"{}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn success_returns_status_and_body() {
    let server = server(200).await;
    let response = client(3)
        .send_with_retries(&ApiRequest::get(&server.url))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"{}");
}
