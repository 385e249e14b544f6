//! The HTTP API's route table, read from `infra/openapi.json`: each operation
//! names the Lambda function that serves it (`x-lambda-function`) and public
//! operations have `security: []`. A test keeps the document and
//! `template.yaml` in agreement, so the local server serves exactly the
//! routes API Gateway does, with the same authorizer on each.

use serde_json::Value;
use std::collections::HashMap;

/// The API's contract, served at `/openapi.json` and routed by.
pub const OPENAPI_JSON: &str = include_str!("../../../infra/openapi.json");

/// The Lambda functions behind HTTP routes (webhook-process is fed by the queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    CreateSession,
    GetStatus,
    WebhookReceive,
}

impl Function {
    fn from_binary(name: &str) -> Option<Self> {
        match name {
            "create-session" => Some(Self::CreateSession),
            "get-status" => Some(Self::GetStatus),
            "webhook-receive" => Some(Self::WebhookReceive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// API Gateway's path template, e.g. `/billing/webhooks/{provider}`.
    pub path: String,
    pub function: Function,
    /// No JWT authorizer on this route.
    pub public: bool,
}

impl Route {
    /// API Gateway's `routeKey`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters if `path` matches this route's template.
    fn matches(&self, path: &str) -> Option<HashMap<String, String>> {
        // Like an HTTP API, `/billing/status/` is not `/billing/status`.
        let template: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if template.len() != actual.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (t, a) in template.iter().zip(&actual) {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !a.is_empty() => {
                    params.insert(name.to_owned(), (*a).to_owned());
                }
                Some(_) => return None,
                None if t == a => {}
                None => return None,
            }
        }
        Some(params)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("infra/openapi.json cannot be routed: {0}")]
pub struct RouteError(String);

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The routes of the committed document.
pub fn api_routes() -> Result<Vec<Route>, RouteError> {
    let doc: Value =
        serde_json::from_str(OPENAPI_JSON).map_err(|e| RouteError(format!("not JSON: {e}")))?;
    routes_from_openapi(&doc)
}

/// Every operation of the document, with its function and authorizer.
pub fn routes_from_openapi(doc: &Value) -> Result<Vec<Route>, RouteError> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| RouteError("no paths".into()))?;
    let mut routes = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let binary = operation
                .get("x-lambda-function")
                .and_then(Value::as_str)
                .ok_or_else(|| RouteError(format!("{method} {path} has no x-lambda-function")))?;
            let function = Function::from_binary(binary).ok_or_else(|| {
                RouteError(format!("{method} {path}: unknown function {binary:?}"))
            })?;
            let public = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            routes.push(Route {
                method: method.to_uppercase(),
                path: path.clone(),
                function,
                public,
            });
        }
    }
    if routes.is_empty() {
        return Err(RouteError("no operations".into()));
    }
    Ok(routes)
}

/// The route for a request and its path parameters. Like an HTTP API, a
/// path served only for other methods is simply not found.
pub fn find<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, HashMap<String, String>)> {
    routes
        .iter()
        .filter(|r| r.method.eq_ignore_ascii_case(method))
        .find_map(|r| r.matches(path).map(|params| (r, params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        api_routes().unwrap()
    }

    #[test]
    fn the_document_routes_every_api_route_to_its_function() {
        let routes = routes();
        let find_key = |key: &str| routes.iter().find(|r| r.key() == key).cloned();
        let session = find_key("POST /billing/session").unwrap();
        assert_eq!(
            (session.function, session.public),
            (Function::CreateSession, false)
        );
        let portal = find_key("POST /billing/portal").unwrap();
        assert_eq!(
            (portal.function, portal.public),
            (Function::CreateSession, false)
        );
        let status = find_key("GET /billing/status").unwrap();
        assert_eq!(
            (status.function, status.public),
            (Function::GetStatus, false)
        );
        let plans = find_key("GET /billing/plans").unwrap();
        assert_eq!((plans.function, plans.public), (Function::GetStatus, true));
        let hooks = find_key("POST /billing/webhooks/{provider}").unwrap();
        assert_eq!(
            (hooks.function, hooks.public),
            (Function::WebhookReceive, true)
        );
    }

    #[test]
    fn path_parameters_are_extracted_and_other_methods_or_paths_are_not_found() {
        let routes = routes();
        let (route, params) = find(&routes, "POST", "/billing/webhooks/stripe").unwrap();
        assert_eq!(route.function, Function::WebhookReceive);
        assert_eq!(params["provider"], "stripe");
        assert!(find(&routes, "GET", "/billing/webhooks/stripe").is_none());
        assert!(find(&routes, "POST", "/billing/webhooks/").is_none());
        assert!(find(&routes, "POST", "/billing/webhooks/a/b").is_none());
        assert!(find(&routes, "GET", "/billing/nothing").is_none());
        assert!(find(&routes, "GET", "/billing/status/").is_none());
    }

    #[test]
    fn operations_without_a_function_are_refused() {
        let doc = serde_json::json!({"paths": {"/x": {"get": {}}}});
        assert!(routes_from_openapi(&doc).is_err());
        let doc = serde_json::json!({"paths": {"/x": {"get": {"x-lambda-function": "nope"}}}});
        assert!(routes_from_openapi(&doc).is_err());
        assert!(routes_from_openapi(&serde_json::json!({})).is_err());
    }
}
