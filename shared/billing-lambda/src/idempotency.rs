//! `Idempotency-Key` on our mutating routes: a repeat with the same key and
//! the same request gets the first answer (with `Idempotent-Replayed: true`)
//! and runs nothing again, so a frontend retry after a timeout never
//! changes a plan twice. A repeat while the first still runs is 409
//! `request_in_progress`; the key with another request is 422
//! `idempotency_key_reused`. Without the header a request runs as usual.

use crate::request;
use crate::response::{json_text_response, ApiError};
use billing_domain::idempotency::{self, IdempotencyKey, IdempotencyRecord, Repeat};
use billing_domain::ports::{Begun, IdempotencyStore, Settled};
use billing_domain::{TenantId, UnixTime};
use lambda_http::http::{HeaderValue, StatusCode};
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

/// The request's `Idempotency-Key`, if it sent one.
fn key(request: &Request) -> Option<Result<IdempotencyKey, idempotency::InvalidKey>> {
    let raw = request.headers().get(HEADER)?;
    Some(
        raw.to_str()
            .map_err(|_| idempotency::InvalidKey::Characters)
            .and_then(IdempotencyKey::parse),
    )
}

/// A key for the provider call the request makes, the same every time the
/// request runs under its `Idempotency-Key` (a rerun after a 5xx or a
/// crashed invocation), so the provider's own idempotency stops a second
/// checkout; another tenant, key or request gives another key. `None`
/// without a (valid) header: the caller then makes a fresh one.
pub fn provider_key(request: &Request, tenant: &TenantId) -> Option<String> {
    let key = key(request)?.ok()?;
    let mut hash = Sha256::new();
    hash.update(tenant.as_str());
    hash.update(b"\n");
    hash.update(key.as_str());
    hash.update(b"\n");
    hash.update(fingerprint(request));
    Some(hex::encode(hash.finalize()))
}

/// Runs `handle` once per `Idempotency-Key` of the tenant. `lock_seconds`
/// bounds how long a request that never finishes (a crashed invocation)
/// holds its key: more than the function's timeout.
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
    let key = match key(request) {
        None => return handle().await,
        Some(Ok(key)) => key,
        Some(Err(e)) => {
            return ApiError::bad_request("invalid_request", e.to_string()).into_response()
        }
    };
    let begun = IdempotencyRecord::begin(fingerprint(request), now, lock_seconds);
    let existing = match store.begin_request(tenant, &key, &begun, now).await {
        Err(e) => return ApiError::from_store(e).into_response(),
        Ok(Begun::Existing(existing)) => existing,
        Ok(Begun::Started) => return run_begun(store, tenant, &key, &begun, handle).await,
    };
    let repeat = idempotency::repeat(&existing, &begun.fingerprint);
    tracing::info!(tenant = %tenant, outcome = ?RepeatOutcome::from(&repeat), "idempotency key seen before");
    match repeat {
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

/// Runs a request whose record is begun, then keeps its answer (final) or
/// releases its key (5xx).
async fn run_begun<S, F, Fut>(
    store: &S,
    tenant: &TenantId,
    key: &IdempotencyKey,
    begun: &IdempotencyRecord,
    handle: F,
) -> Response<Body>
where
    S: IdempotencyStore + ?Sized,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let response = handle().await;
    let status = response.status().as_u16();
    let settled = if idempotency::is_final(status) {
        let body = match response.body() {
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        store
            .complete_request(tenant, key, begun, &begun.completed(status, body))
            .await
    } else {
        store.release_request(tenant, key, begun).await
    };
    match settled {
        Ok(Settled::Held) => {}
        // It ran past its lock and a retry took the key over: that retry's
        // record stands.
        Ok(Settled::Lost) => {
            tracing::warn!(tenant = %tenant, status, "request outlived its idempotency lock; its key was taken over")
        }
        // The answer stands; a retry meets the record until its lock ends
        // (409), then runs afresh under the same provider key.
        Err(e) => {
            tracing::error!(error = %e, retryable = e.is_retryable(), tenant = %tenant, "idempotency record not updated")
        }
    }
    response
}

/// How a repeat was answered, for the log (never the stored body).
#[derive(Debug)]
enum RepeatOutcome {
    Replayed,
    InProgress,
    KeyReused,
}

impl From<&Repeat> for RepeatOutcome {
    fn from(repeat: &Repeat) -> Self {
        match repeat {
            Repeat::Replay { .. } => RepeatOutcome::Replayed,
            Repeat::InProgress => RepeatOutcome::InProgress,
            Repeat::KeyReused => RepeatOutcome::KeyReused,
        }
    }
}

/// The stored answer, with the headers of the first one and the replay mark.
fn replay(status: u16, body: String) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_text_response(status, body);
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
