//! Reading what handlers need from an API Gateway HTTP API (v2) request: the
//! tenant and the role from the JWT authorizer's claims, the request id, and
//! the body as the exact bytes the client sent.

use crate::response::ApiError;
use billing_domain::{Action, Role, TenantId};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use std::collections::HashMap;

/// The claims API Gateway's JWT authorizer verified, if any.
fn jwt_claims(request: &Request) -> Option<&HashMap<String, String>> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
}

/// API Gateway's route key, e.g. `POST /billing/payment-methods/{id}/default`:
/// which route matched, whatever stage prefix the path carries.
pub fn route_key(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref(),
        _ => None,
    }
}

/// A path parameter of the matched route (`{id}`).
pub fn path_parameter<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
}

/// The caller's role from the claim `claim`: a missing or unknown role is a
/// viewer.
pub fn role(request: &Request, claim: &str) -> Role {
    Role::from_claim(jwt_claims(request).and_then(|claims| claims.get(claim).map(String::as_str)))
}

/// The caller's role if it may take `action`, else 403 `forbidden_role`.
pub fn authorize(request: &Request, claim: &str, action: Action) -> Result<Role, ApiError> {
    let role = role(request, claim);
    if role.permits(action) {
        return Ok(role);
    }
    let allowed: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| r.permits(action))
        .map(|r| r.as_str())
        .collect();
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden_role",
        format!(
            "this needs the role {}; the token's role is {role}",
            allowed.join(" or ")
        ),
    ))
}

/// The tenant named by the claim `claim` that API Gateway's JWT authorizer
/// verified. A request without verified claims never reaches a tenant.
pub fn tenant(request: &Request, claim: &str) -> Result<TenantId, ApiError> {
    let Some(claims) = jwt_claims(request) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a valid bearer token is required",
        ));
    };
    let Some(raw) = claims.get(claim) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "no_tenant",
            format!("the token has no {claim:?} claim naming a tenant"),
        ));
    };
    TenantId::parse(raw)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "invalid_tenant", e.to_string()))
}

/// API Gateway's request id, else the Lambda invocation's, for log correlation.
pub fn request_id(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = request.request_context_ref() {
        if let Some(id) = &ctx.request_id {
            return id.clone();
        }
    }
    request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default()
}

/// The body's bytes. `lambda_http` has already undone API Gateway's base64
/// encoding, so these are the bytes the client signed: never re-serialize them.
pub fn raw_body(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Headers as lowercase name/value pairs; values that are not visible ASCII are dropped.
pub fn headers(request: &Request) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Request {
        lambda_http::request::from_str(&json.to_string()).unwrap()
    }

    fn v2(claims: Option<serde_json::Value>, body: Option<(&str, bool)>) -> Request {
        let mut ctx = serde_json::json!({
            "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
            "http": {"method": "POST", "path": "/billing/session", "protocol": "HTTP/1.1", "sourceIp": "1.1.1.1", "userAgent": "t"},
            "requestId": "req-1", "routeKey": "POST /billing/session", "stage": "$default",
            "time": "01/Jan/2024:00:00:00 +0000", "timeEpoch": 0
        });
        if let Some(claims) = claims {
            ctx["authorizer"] = serde_json::json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut event = serde_json::json!({
            "version": "2.0", "routeKey": "POST /billing/session", "rawPath": "/billing/session",
            "rawQueryString": "", "headers": {"content-type": "application/json", "X-Custom": "V"},
            "requestContext": ctx, "isBase64Encoded": false
        });
        if let Some((b, base64)) = body {
            event["body"] = b.into();
            event["isBase64Encoded"] = base64.into();
        }
        request(event)
    }

    #[test]
    fn tenant_comes_from_the_configured_claim() {
        let req = v2(
            Some(serde_json::json!({"tenant_id": "org_1", "org": "org_2"})),
            None,
        );
        assert_eq!(tenant(&req, "tenant_id").unwrap().as_str(), "org_1");
        assert_eq!(tenant(&req, "org").unwrap().as_str(), "org_2");
    }

    #[test]
    fn missing_authorizer_is_401_and_missing_or_bad_claim_is_403() {
        assert_eq!(
            tenant(&v2(None, None), "tenant_id").unwrap_err().status,
            401
        );
        let no_claim = v2(Some(serde_json::json!({"sub": "u1"})), None);
        assert_eq!(
            tenant(&no_claim, "tenant_id").unwrap_err().code,
            "no_tenant"
        );
        let bad = v2(Some(serde_json::json!({"tenant_id": "a#b"})), None);
        assert_eq!(tenant(&bad, "tenant_id").unwrap_err().status, 403);
    }

    #[test]
    fn role_comes_from_the_configured_claim_and_defaults_to_viewer() {
        let req = v2(
            Some(
                serde_json::json!({"tenant_id": "org_1", "role": "admin", "custom:role": "owner"}),
            ),
            None,
        );
        assert_eq!(role(&req, "role"), Role::Admin);
        assert_eq!(role(&req, "custom:role"), Role::Owner);
        assert_eq!(role(&req, "missing"), Role::Viewer);
        assert_eq!(role(&v2(None, None), "role"), Role::Viewer);
    }

    #[test]
    fn a_role_that_may_not_act_is_403_forbidden_role_naming_who_may() {
        let viewer = v2(Some(serde_json::json!({"role": "viewer"})), None);
        assert_eq!(
            authorize(&viewer, "role", Action::Read).unwrap(),
            Role::Viewer
        );
        let refused = authorize(&viewer, "role", Action::Manage).unwrap_err();
        assert_eq!(refused.status, 403);
        assert_eq!(refused.code, "forbidden_role");
        assert!(
            refused.message.contains("owner or admin"),
            "{}",
            refused.message
        );
        let admin = v2(Some(serde_json::json!({"role": "admin"})), None);
        assert_eq!(
            authorize(&admin, "role", Action::Manage).unwrap(),
            Role::Admin
        );
        let refused = authorize(&admin, "role", Action::CancelNow).unwrap_err();
        assert!(
            refused.message.contains("the role owner;"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn base64_bodies_are_decoded_to_the_exact_bytes_sent() {
        // "{\"a\": 170.00}" — re-serializing would turn 170.00 into 170.0.
        let req = v2(None, Some(("eyJhIjogMTcwLjAwfQ==", true)));
        assert_eq!(raw_body(&req), br#"{"a": 170.00}"#);
        let plain = v2(None, Some((r#"{"a": 170.00}"#, false)));
        assert_eq!(raw_body(&plain), br#"{"a": 170.00}"#);
    }

    #[test]
    fn request_id_and_lowercase_headers_are_exposed() {
        let req = v2(None, None);
        assert_eq!(request_id(&req), "req-1");
        assert!(headers(&req).contains(&("x-custom".to_owned(), "V".to_owned())));
    }
}
