//! JSON responses and the API's error shape: `{"error": {"code", "message"}}`.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// An error as the client sees it. `code` is stable and machine-readable;
/// `message` is for humans and never carries secrets or payloads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// A store failure: 503 `store_unavailable` when a retry may succeed,
    /// else 500 `store_error`. Logged here with whether it is retryable.
    pub fn from_store(e: billing_domain::ports::StoreError) -> Self {
        tracing::error!(error = %e, retryable = e.is_retryable(), "store call failed");
        if e.is_retryable() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "billing is temporarily unavailable; retry",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                "billing storage failed",
            )
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Inner<'a>,
        }
        json_response(
            self.status,
            &Envelope {
                error: Inner {
                    code: self.code,
                    message: &self.message,
                },
            },
        )
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let body = match serde_json::to_string(body) {
        Ok(json) => json,
        // Our response types are plain data; if one ever fails to serialize,
        // answer with a well-formed error instead of panicking.
        Err(_) => {
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    r#"{"error":{"code":"internal","message":"response could not be encoded"}}"#,
                ))
                .expect("static response is valid");
        }
    };
    json_text_response(status, body)
}

/// A JSON answer whose body is already encoded (a stored answer replayed),
/// with the same headers as every other.
pub fn json_text_response(status: StatusCode, json: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(json))
        .expect("status and headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_as_the_documented_json_shape() {
        let response = ApiError::bad_request("unknown_plan", "no plan \"gold\"").into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "unknown_plan", "message": "no plan \"gold\""}})
        );
    }
}
