//! webhook-receive: `POST /billing/webhooks/{provider}`. Verifies the
//! delivery's signature on its raw bytes, normalizes it, and answers 200 only
//! once the event is safely on the queue; any failure to queue is a 5xx so
//! the provider retries and nothing is lost.

mod compose;

pub use compose::build;

use billing_domain::ports::{
    EventQueue, SecretSource, WebhookDelivery, WebhookError, WebhookVerifier,
};
use billing_domain::{Catalog, EventKind, Provider, UnixTime, WebhookEnvelope};
use billing_lambda::{json_response, request, ApiError, ConfigError, Env};
use billing_providers::{SecretCache, SecretCachePolicy};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

/// Providers sign at most a few KiB; anything this large is not a webhook.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct WebhookReceiver<Q, S> {
    queue: Q,
    secrets: SecretCache<S>,
    verifiers: Vec<Box<dyn WebhookVerifier>>,
    catalog: Catalog,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted<'a> {
    received: bool,
    event_id: &'a str,
}

impl<Q: EventQueue, S: SecretSource> WebhookReceiver<Q, S> {
    pub fn new(
        queue: Q,
        secrets: SecretCache<S>,
        verifiers: Vec<Box<dyn WebhookVerifier>>,
        catalog: Catalog,
    ) -> Self {
        Self {
            queue,
            secrets,
            verifiers,
            catalog,
        }
    }

    /// Reads `SECRET_CACHE_TTL_SECONDS` (default 300).
    pub fn from_env(
        env: &Env,
        queue: Q,
        source: S,
        verifiers: Vec<Box<dyn WebhookVerifier>>,
    ) -> Result<Self, ConfigError> {
        let catalog = billing_lambda::config::catalog()?;
        let policy = SecretCachePolicy {
            ttl_seconds: env.parsed_or(
                "SECRET_CACHE_TTL_SECONDS",
                SecretCachePolicy::default().ttl_seconds,
            )?,
            ..SecretCachePolicy::default()
        };
        Ok(Self::new(
            queue,
            SecretCache::new(source, policy),
            verifiers,
            catalog,
        ))
    }

    pub async fn handle(&self, request: Request, now: UnixTime) -> Response<Body> {
        let request_id = request::request_id(&request);
        let provider_name = request
            .path_parameters_ref()
            .and_then(|p| p.first("provider"))
            .map(str::to_owned)
            .or_else(|| {
                request
                    .raw_http_path()
                    .rsplit('/')
                    .next()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let span =
            tracing::info_span!("webhook", request_id = %request_id, provider = %provider_name);
        let _guard = span.enter();
        match self
            .receive(&request, &provider_name, &request_id, now)
            .await
        {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(status = e.status.as_u16(), code = e.code, reason = %e.message, "webhook refused");
                e.into_response()
            }
        }
    }

    async fn receive(
        &self,
        request: &Request,
        provider_name: &str,
        request_id: &str,
        now: UnixTime,
    ) -> Result<Response<Body>, ApiError> {
        if request.method() != Method::POST {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            ));
        }
        let verifier = provider_name
            .parse::<Provider>()
            .ok()
            .and_then(|p| self.verifiers.iter().find(|v| v.provider() == p))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_provider",
                    format!("no webhook endpoint for provider {provider_name:?}"),
                )
            })?;
        let provider = verifier.provider();

        let body = request::raw_body(request);
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("webhook bodies are limited to {MAX_BODY_BYTES} bytes"),
            ));
        }
        let delivery = WebhookDelivery {
            headers: request::headers(request),
            body: body.to_vec(),
        };

        let secrets = self.secrets.get(now).await.map_err(|e| {
            tracing::error!(error = %e, "provider secrets unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secrets_unavailable",
                "try again later",
            )
        })?;
        let mut verified = verifier
            .verify_and_parse(
                &delivery,
                secrets.credentials_or_empty(provider),
                now,
                &self.catalog,
            )
            .await;
        if let Err(e) = &verified {
            if e.may_be_rotated_secret() {
                if let Some(fresh) = self.secrets.refresh_after_failed_signature(now).await {
                    verified = verifier
                        .verify_and_parse(
                            &delivery,
                            fresh.credentials_or_empty(provider),
                            now,
                            &self.catalog,
                        )
                        .await;
                }
            }
        }
        let event = verified.map_err(|e| {
            tracing::warn!(error = %e, "webhook verification failed");
            webhook_error(e)
        })?;
        let event_span = tracing::info_span!("event", event_id = %event.event_id, event_type = %event.event_type, tenant = event.tenant_hint.as_ref().map(|t| t.as_str()));
        let _guard = event_span.enter();

        if matches!(event.kind, EventKind::Unknown) {
            tracing::info!(outcome = "ignored", "event type not handled; acknowledged");
            return Ok(json_response(
                StatusCode::OK,
                &Accepted {
                    received: true,
                    event_id: &event.event_id,
                },
            ));
        }
        let raw = String::from_utf8(delivery.body)
            .map_err(|_| ApiError::bad_request("invalid_payload", "webhook body is not UTF-8"))?;
        let envelope = WebhookEnvelope::new(event, raw, now, request_id.to_owned());
        self.queue.enqueue(&envelope).await.map_err(|e| {
            tracing::error!(error = %e, retryable = e.is_retryable(), "enqueue failed; provider will retry");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "enqueue_failed", "event not accepted; retry")
        })?;
        tracing::info!(outcome = "queued", "webhook accepted");
        Ok(json_response(
            StatusCode::OK,
            &Accepted {
                received: true,
                event_id: &envelope.event_id,
            },
        ))
    }
}

fn webhook_error(e: WebhookError) -> ApiError {
    let code = match e {
        WebhookError::MissingSignature(_) => "missing_signature",
        WebhookError::MalformedSignature(_) => "malformed_signature",
        WebhookError::TimestampTooOld | WebhookError::TimestampInFuture => "stale_timestamp",
        WebhookError::InvalidSignature | WebhookError::NoSecretConfigured => "invalid_signature",
        WebhookError::MalformedPayload(_) => "invalid_payload",
        // Retryable: a 5xx makes the provider deliver again later.
        WebhookError::VerifierUnavailable(_) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "verifier_unavailable",
                "the signature cannot be checked now; deliver again later",
            )
        }
    };
    // A missing secret is our misconfiguration; telling the caller would
    // reveal it, so it answers like a bad signature (and is logged as itself).
    let message = match e {
        WebhookError::NoSecretConfigured => WebhookError::InvalidSignature.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request(code, message)
}
