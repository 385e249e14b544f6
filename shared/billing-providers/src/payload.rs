//! Reading a verified webhook payload into typed parts, shared by every
//! provider's event normalization. Errors name the part that did not fit and
//! serde's reason, never the payload's content: they end up in logs and in
//! the 400 answer.

use crate::http::json_problem;
use billing_domain::ports::WebhookError;
use serde::de::DeserializeOwned;

/// A payload (or a part of one, named by `what`) that is not what the
/// provider documents.
pub fn malformed(what: &str, error: &serde_json::Error) -> WebhookError {
    WebhookError::MalformedPayload(format!("{what}: {}", json_problem(error)))
}

/// Decodes one part of an already parsed payload.
pub fn decode<T: DeserializeOwned>(
    value: &serde_json::Value,
    what: &str,
) -> Result<T, WebhookError> {
    T::deserialize(value).map_err(|e| malformed(what, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Invoice {
        id: String,
        amount: i64,
    }

    #[test]
    fn a_part_that_does_not_fit_is_named_without_quoting_the_payload() {
        let value = serde_json::json!({"id": "in_1", "amount": "secret-looking-text"});
        let err = decode::<Invoice>(&value, "invoice").unwrap_err();
        let WebhookError::MalformedPayload(message) = err else {
            panic!("malformed payload expected")
        };
        assert!(message.starts_with("invoice: "), "{message}");
        assert!(!message.contains("secret-looking-text"), "{message}");
    }
}
