//! `Idempotency-Key` on our mutating routes: a repeat with the same key and
//! the same request gets the first answer (with `Idempotent-Replayed: true`)
//! and runs nothing again, so a frontend retry after a timeout never
//! changes a plan twice. A repeat while the first still runs is 409
//! `request_in_progress`; the key with another request is 422
//! `idempotency_key_reused`. Without the header a request runs as usual.

use crate::request;
use crate::response::ApiError;
use billing_domain::idempotency::{self, IdempotencyKey, IdempotencyRecord, Repeat};
use billing_domain::ports::{Begun, IdempotencyStore};
use billing_domain::{TenantId, UnixTime};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use std::future::Future;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// What identifies a request under its key: method, path and the exact body.
pub fn fingerprint(request: &Request) -> String {
    let mut hash = Sha256::new();
    hash.update(request.method().as_str());
    hash.update(b" ");
    hash.update(request.uri().path());
    hash.update(b"\n");
    hash.update(request::raw_body(request));
    hex::encode(hash.finalize())
}

/// Runs `handle` once per `Idempotency-Key` of the tenant. `lock_seconds`
/// bounds how long a request that never finishes (a crashed invocation)
/// holds its key: use at least the function's timeout.
pub async fn run<S, F, Fut>(
    store: &S,
    request: &Request,
    tenant: &TenantId,
    now: UnixTime,
    lock_seconds: i64,
    handle: F,
) -> Response<Body>
where
    S: IdempotencyStore + ?Sized,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let Some(raw) = request.headers().get(HEADER) else {
        return handle().await;
    };
    let key = match raw
        .to_str()
        .map_err(|_| idempotency::InvalidKey::Characters)
        .and_then(IdempotencyKey::parse)
    {
        Ok(key) => key,
        Err(e) => return ApiError::bad_request("invalid_request", e.to_string()).into_response(),
    };
    let record = IdempotencyRecord::begin(fingerprint(request), now, lock_seconds);
    match store.begin_request(tenant, &key, &record, now).await {
        Err(e) => ApiError::from_store(e).into_response(),
        Ok(Begun::Existing(existing)) => {
            match idempotency::repeat(&existing, &record.fingerprint) {
                Repeat::Replay { status, body } => replay(status, body),
                Repeat::InProgress => ApiError::new(
                    StatusCode::CONFLICT,
                    "request_in_progress",
                    "a request with this Idempotency-Key is still running; retry shortly",
                )
                .into_response(),
                Repeat::KeyReused => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another request; use a new key",
                )
                .into_response(),
            }
        }
        Ok(Begun::Started) => {
            let response = handle().await;
            let status = response.status().as_u16();
            let result = if idempotency::is_final(status) {
                let body = match response.body() {
                    Body::Text(text) => text.clone(),
                    Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    _ => String::new(),
                };
                store
                    .complete_request(tenant, &key, &record.completed(status, body))
                    .await
            } else {
                store.release_request(tenant, &key).await
            };
            if let Err(e) = result {
                // The answer stands; a retry meets the record until its lock
                // ends (409), then runs afresh.
                tracing::error!(error = %e, retryable = e.is_retryable(), tenant = %tenant, "idempotency record not updated");
            }
            response
        }
    }
}

fn replay(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(REPLAYED_HEADER, "true")
        .body(Body::Text(body))
        .unwrap_or_else(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "replay failed",
            )
            .into_response()
        })
}
