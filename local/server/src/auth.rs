//! Local stand-in for API Gateway's JWT authorizer: verifies an HS256 bearer
//! token made by `scripts/dev-token` (or [`DevAuth::issue`]) against the
//! development key, issuer and audience in `infra/dev-auth.json`, and hands
//! the handlers the claims the way API Gateway does (every value a string).

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The committed development settings; tokens made with them are worthless
/// outside a local run.
pub const DEV_AUTH_JSON: &str = include_str!("../../../infra/dev-auth.json");

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("token rejected: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("dev auth settings are invalid: {0}")]
pub struct AuthConfigError(String);

/// The development identity provider: who may sign tokens and for whom.
#[derive(Clone)]
pub struct DevAuth {
    issuer: String,
    audience: String,
    tenant_claim: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    issuer: String,
    audience: String,
    hs256_key: String,
    tenant_claim: String,
}

impl DevAuth {
    pub fn from_json(json: &str) -> Result<Self, AuthConfigError> {
        let settings: Settings =
            serde_json::from_str(json).map_err(|e| AuthConfigError(e.to_string()))?;
        if settings.hs256_key.len() < 16 {
            return Err(AuthConfigError("hs256Key must be at least 16 bytes".into()));
        }
        Ok(Self {
            issuer: settings.issuer,
            audience: settings.audience,
            tenant_claim: settings.tenant_claim,
            encoding: EncodingKey::from_secret(settings.hs256_key.as_bytes()),
            decoding: DecodingKey::from_secret(settings.hs256_key.as_bytes()),
        })
    }

    /// The committed development settings.
    pub fn development() -> Result<Self, AuthConfigError> {
        Self::from_json(DEV_AUTH_JSON)
    }

    pub fn tenant_claim(&self) -> &str {
        &self.tenant_claim
    }

    /// A token for `tenant` acting as `role`, valid for `ttl_seconds`.
    pub fn issue(
        &self,
        tenant: &str,
        role: &str,
        now: i64,
        ttl_seconds: i64,
    ) -> Result<String, AuthError> {
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("aud".into(), self.audience.clone().into());
        claims.insert("sub".into(), format!("dev-user@{tenant}").into());
        claims.insert(self.tenant_claim.clone(), tenant.into());
        claims.insert("role".into(), role.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + ttl_seconds).into());
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }

    /// Checks the `Authorization` header value as API Gateway's JWT
    /// authorizer does (signature, `exp`, `nbf`, `iss`, `aud`; a `Bearer `
    /// prefix is optional) and returns the claims flattened to strings.
    pub fn verify(
        &self,
        authorization: Option<&str>,
    ) -> Result<HashMap<String, String>, AuthError> {
        let raw = authorization
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(AuthError::MissingToken)?;
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = decode::<Map<String, Value>>(token, &self.decoding, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok(data
            .claims
            .into_iter()
            .map(|(name, value)| (name, claim_string(&value)))
            .collect())
    }
}

/// API Gateway passes every claim as a string; arrays become `[a b]`.
fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_string).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn issued_token_verifies_to_string_claims_with_tenant_and_role() {
        let auth = DevAuth::development().unwrap();
        let token = auth.issue("org_acme", "admin", now(), 3600).unwrap();
        let claims = auth.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["tenant_id"], "org_acme");
        assert_eq!(claims["role"], "admin");
        assert!(claims["exp"].parse::<i64>().is_ok());
        // API Gateway also accepts the bare token.
        assert!(auth.verify(Some(&token)).is_ok());
    }

    #[test]
    fn missing_expired_tampered_and_foreign_tokens_are_refused() {
        let auth = DevAuth::development().unwrap();
        assert_eq!(auth.verify(None), Err(AuthError::MissingToken));
        assert_eq!(auth.verify(Some("  ")), Err(AuthError::MissingToken));

        let expired = auth.issue("org_acme", "owner", now() - 7200, 3600).unwrap();
        assert!(matches!(
            auth.verify(Some(&expired)),
            Err(AuthError::Invalid(_))
        ));

        // Another tenant's claims under this token's signature.
        let good = auth.issue("org_acme", "owner", now(), 3600).unwrap();
        let other = auth.issue("org_evil", "owner", now() + 1, 3600).unwrap();
        let good_parts: Vec<&str> = good.split('.').collect();
        let other_payload = other.split('.').nth(1).unwrap();
        let spliced = format!("{}.{}.{}", good_parts[0], other_payload, good_parts[2]);
        assert!(matches!(
            auth.verify(Some(&format!("Bearer {spliced}"))),
            Err(AuthError::Invalid(_))
        ));

        let foreign = DevAuth::from_json(
            r#"{"issuer": "http://127.0.0.1/billing-local-dev-auth", "audience": "billing-local",
                "hs256Key": "some-other-key-of-enough-length", "tenantClaim": "tenant_id"}"#,
        )
        .unwrap();
        let forged = foreign.issue("org_acme", "owner", now(), 3600).unwrap();
        assert!(matches!(
            auth.verify(Some(&forged)),
            Err(AuthError::Invalid(_))
        ));

        let other_audience = DevAuth::from_json(
            r#"{"issuer": "http://127.0.0.1/billing-local-dev-auth", "audience": "another-app",
                "hs256Key": "local-development-only-jwt-key-not-a-secret", "tenantClaim": "tenant_id"}"#,
        )
        .unwrap();
        let wrong_aud = other_audience
            .issue("org_acme", "owner", now(), 3600)
            .unwrap();
        assert!(auth.verify(Some(&wrong_aud)).is_err());
    }

    #[test]
    fn array_and_number_claims_are_flattened_like_api_gateway() {
        assert_eq!(
            claim_string(&serde_json::json!(["a", "b"])),
            "[a b]".to_owned()
        );
        assert_eq!(claim_string(&serde_json::json!(42)), "42");
        assert_eq!(claim_string(&serde_json::json!(true)), "true");
    }

    #[test]
    fn short_keys_and_bad_settings_are_refused() {
        assert!(DevAuth::from_json("{}").is_err());
        assert!(DevAuth::from_json(
            r#"{"issuer": "i", "audience": "a", "hs256Key": "short", "tenantClaim": "t"}"#
        )
        .is_err());
    }
}
