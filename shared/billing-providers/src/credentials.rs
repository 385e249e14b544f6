//! The per-stage provider secret's JSON, read into the domain's
//! `ProviderSecrets`, and its loading from any `SecretSource`.
//!
//! Secret JSON: `{"stripe": {"apiKey": "sk_...", "webhookSecrets": ["whsec_..."]}, ...}`.
//! Each provider object has a `webhookSecrets` array (several while a secret
//! rotates); every other field is that provider's own credentials. Errors
//! never quote the input: it is a secret.

use billing_domain::ports::SecretSource;
use billing_domain::secrets::{ProviderCredentials, ProviderSecrets, SecretError, WebhookSecret};
use billing_domain::Provider;
use std::collections::BTreeMap;

/// Fetches the secret and reads it.
pub async fn load(source: &(impl SecretSource + ?Sized)) -> Result<ProviderSecrets, SecretError> {
    parse(source.fetch().await?.expose())
}

/// Reads the secret's JSON. Unknown provider names are skipped (a secret may
/// be shared with a newer deployment); malformed entries are errors.
pub fn parse(json: &str) -> Result<ProviderSecrets, SecretError> {
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| SecretError::Malformed(format!("not a JSON object: {}", category(&e))))?;
    let mut providers = BTreeMap::new();
    for (name, value) in raw {
        let Ok(provider) = name.parse::<Provider>() else {
            continue;
        };
        let credentials = parse_entry(value)
            .map_err(|what| SecretError::Malformed(format!("entry {name:?} {what}")))?;
        providers.insert(provider, credentials);
    }
    Ok(ProviderSecrets::new(providers))
}

/// One provider's object: `webhookSecrets` (an array of strings, optional)
/// and its own fields.
pub fn parse_entry(value: serde_json::Value) -> Result<ProviderCredentials, &'static str> {
    let serde_json::Value::Object(mut fields) = value else {
        return Err("is not a credentials object");
    };
    let webhook_secrets = match fields.remove("webhookSecrets") {
        None => Vec::new(),
        Some(serde_json::Value::Array(secrets)) => secrets
            .into_iter()
            .map(|secret| match secret {
                serde_json::Value::String(secret) => Ok(WebhookSecret::new(secret)),
                _ => Err("has a webhookSecrets item that is not a string"),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("has a webhookSecrets that is not an array"),
    };
    Ok(ProviderCredentials {
        webhook_secrets,
        fields,
    })
}

// serde_json's messages can quote the input, and the input is a secret.
fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "io error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong shape",
        serde_json::error::Category::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = r#"{"stripe":{"apiKey":"sk_test_1","webhookSecrets":["whsec_a","whsec_b"]},"future-provider":{"x":1}}"#;

    #[test]
    fn secret_json_parses_per_provider_and_skips_unknown_providers() {
        let secrets = parse(SECRET).unwrap();
        let stripe = secrets.provider(Provider::Stripe).unwrap();
        assert_eq!(stripe.field("apiKey").unwrap(), "sk_test_1");
        assert!(!stripe.fields.contains_key("webhookSecrets"));
        assert_eq!(
            secrets.webhook_secrets(Provider::Stripe),
            [WebhookSecret::new("whsec_a"), WebhookSecret::new("whsec_b")]
        );
    }

    #[test]
    fn an_entry_without_webhook_secrets_has_none() {
        let secrets = parse(r#"{"paypal":{"webhookId":"WH-1"}}"#).unwrap();
        assert!(secrets.webhook_secrets(Provider::Paypal).is_empty());
        assert_eq!(
            secrets
                .provider(Provider::Paypal)
                .unwrap()
                .field("webhookId")
                .unwrap(),
            "WH-1"
        );
    }

    #[test]
    fn malformed_secret_errors_name_the_fault_but_never_echo_the_secret() {
        for (bad, says) in [
            (
                r#"{"stripe": "sk_live_oops"}"#,
                "is not a credentials object",
            ),
            (r#"sk_live_oops"#, "syntax error"),
            (r#"{"stripe":{"webhookSecrets":"whsec_x"}}"#, "not an array"),
            (
                r#"{"stripe":{"webhookSecrets":["whsec_x", 1]}}"#,
                "not a string",
            ),
            (r#"["whsec_x"]"#, "wrong shape"),
            (r#"{"stripe":{"apiKey":"sk_live_oops""#, "truncated"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, SecretError::Malformed(_)), "{bad}");
            let shown = err.to_string();
            assert!(shown.contains(says), "{shown}");
            assert!(
                !shown.contains("oops") && !shown.contains("whsec_x"),
                "{shown}"
            );
        }
    }
}
