//! Deciding whether an AWS SDK failure is worth retrying, from the SDK's
//! typed error (kind of failure, HTTP status, AWS error code) rather than
//! from its message. Each adapter first matches the errors that mean
//! something in its domain (a failed condition, a missing queue), then asks
//! [`classify`] about the rest.
//!
//! The SDK crates share the smithy error types, so one classifier serves
//! DynamoDB, SQS and Secrets Manager.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Whether the same call may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    Transient,
    Permanent,
}

/// AWS error codes that mean "slow down" or "try again", across the three
/// services. The SDK's standard retry has already retried these a few times
/// by the time we see them; they stay retryable for the queue's redelivery.
const TRANSIENT_CODES: &[&str] = &[
    // Throttling.
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "KmsThrottled",
    "KMS.ThrottlingException",
    // Server-side trouble that AWS documents as retryable.
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    // DynamoDB: another transaction holds the item, or the same idempotency
    // token is still in flight.
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Classifies any SDK failure. Service errors are transient when their code
/// is a known throttling/server code or their status is 429 or 5xx; other
/// service errors (validation, missing resource, access denied) are
/// permanent. Timeouts, connection failures and unreadable responses are
/// transient; a request the SDK could not even build is permanent.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Retry
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ConstructionFailure(_) => Retry::Permanent,
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Retry::Transient,
        SdkError::DispatchFailure(dispatch) => {
            // A "user" dispatch failure is our configuration (e.g. a bad
            // endpoint URL): retrying cannot fix it.
            if dispatch.is_user() {
                Retry::Permanent
            } else {
                Retry::Transient
            }
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code();
            if code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) || status == 429 || status >= 500
            {
                Retry::Transient
            } else {
                Retry::Permanent
            }
        }
        // A future kind of failure: retrying is the safer bet, the redrive
        // limit still ends it in the DLQ.
        _ => Retry::Transient,
    }
}

/// A one-line description for logs and error values: the operation, the
/// kind of failure, and for a service error its AWS code, status and
/// message. Never the raw response: `DisplayErrorContext` would print its
/// body, and an unreadable GetSecretValue response may hold the secret.
pub(crate) fn describe<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let error = service.err();
            format!(
                "{operation}: {} (HTTP {}): {}",
                error.code().unwrap_or("unknown error"),
                service.raw().status().as_u16(),
                error.message().unwrap_or("no message")
            )
        }
        SdkError::ResponseError(response) => {
            format!(
                "{operation}: unreadable response (HTTP {})",
                response.raw().status().as_u16()
            )
        }
        SdkError::TimeoutError(_) => format!("{operation}: timed out"),
        // Connection and construction failures describe our side only.
        _ => format!("{operation}: {}", error_chain(err)),
    }
}

/// An error and its sources, joined: "dispatch failure: io error: ...".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    fn service_error(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let response = HttpResponse::new(status.try_into().unwrap(), "".into());
        SdkError::service_error(err, response)
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for (code, status) in [
            ("ThrottlingException", 400),
            ("ProvisionedThroughputExceededException", 400),
            ("RequestLimitExceeded", 400),
            ("InternalServerError", 500),
            ("SomethingNew", 503),
            ("SlowDown", 429),
        ] {
            assert_eq!(
                classify(&service_error(code, status)),
                Retry::Transient,
                "{code}"
            );
        }
    }

    #[test]
    fn client_errors_are_permanent() {
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
        ] {
            assert_eq!(
                classify(&service_error(code, 400)),
                Retry::Permanent,
                "{code}"
            );
        }
    }

    #[test]
    fn descriptions_carry_code_status_and_message_but_no_body() {
        let err = GetItemError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .build(),
        );
        let response = HttpResponse::new(403.try_into().unwrap(), "secret body".into());
        let described = describe("GetItem", &SdkError::service_error(err, response));
        assert_eq!(
            described,
            "GetItem: AccessDeniedException (HTTP 403): no message"
        );
    }
}
