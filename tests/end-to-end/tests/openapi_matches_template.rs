//! template.yaml and infra/openapi.json describe the same HTTP API: every
//! `HttpApi` event of every function in the SAM template is an operation in
//! the OpenAPI document (same method and path) and vice versa, and a route is
//! public in the template (`Auth: {Authorizer: NONE}`, or an API without a
//! default authorizer) exactly when the document overrides the default
//! security with `security: []`. A route added to one file only fails here
//! with the list of what is missing where.

use billing_e2e::sam_template::{
    build_binary, get, is_function, parse, ref_target, repo_file, resources,
};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;
use std::fmt;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// API Gateway's JWT authorizer runs first; the document lists a security requirement.
    Jwt,
    /// No authorizer (`Authorizer: NONE`); the document says `security: []`.
    Public,
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::Jwt => "JWT",
            Auth::Public => "public",
        })
    }
}

/// `(METHOD, path)` → who may call it.
type Routes = BTreeMap<(String, String), Auth>;

const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every `HttpApi` event of every `AWS::Serverless::Function` in a SAM
/// template. CloudFormation tags (`!Ref`, `!GetAtt`, `!Sub`, ...) parse as
/// tagged values and are only looked into for `ApiId`.
fn template_routes(template: &str) -> Result<Routes, String> {
    let template = parse(template)?;
    let resources = resources(&template)?;
    let mut routes = Routes::new();
    for (id, resource) in resources {
        if !is_function(resource) {
            continue;
        }
        let id = id.as_str().unwrap_or("?");
        let Some(events) = get(resource, "Properties")
            .and_then(|p| get(p, "Events"))
            .and_then(Yaml::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            if get(event, "Type").and_then(Yaml::as_str) != Some("HttpApi") {
                continue;
            }
            let at = format!("{id}.Events.{}", name.as_str().unwrap_or("?"));
            let properties = get(event, "Properties").ok_or(format!("{at} has no Properties"))?;
            let field = |key: &str| {
                get(properties, key)
                    .and_then(Yaml::as_str)
                    .ok_or(format!("{at} has no {key}"))
            };
            let (method, path) = (field("Method")?.to_ascii_uppercase(), field("Path")?);
            let api = get(properties, "ApiId")
                .and_then(ref_target)
                .ok_or(format!("{at} has no `ApiId: !Ref <HttpApi>`"))?;
            let api_has_default_authorizer = resources
                .get(api)
                .and_then(|r| get(r, "Properties"))
                .and_then(|p| get(p, "Auth"))
                .and_then(|a| get(a, "DefaultAuthorizer"))
                .is_some();
            let auth = match get(properties, "Auth")
                .and_then(|a| get(a, "Authorizer"))
                .and_then(Yaml::as_str)
            {
                Some("NONE") => Auth::Public,
                Some(_) => Auth::Jwt,
                None if api_has_default_authorizer => Auth::Jwt,
                None => Auth::Public,
            };
            if routes
                .insert((method.clone(), path.to_owned()), auth)
                .is_some()
            {
                return Err(format!("{method} {path} is declared twice ({at})"));
            }
        }
    }
    Ok(routes)
}

/// Every operation in an OpenAPI document, public when its effective
/// `security` (its own, else the document's) is an empty list.
fn document_routes(document: &str) -> Result<Routes, String> {
    let document: Json =
        serde_json::from_str(document).map_err(|e| format!("document is not JSON: {e}"))?;
    let default_security = document.get("security");
    let paths = document
        .get("paths")
        .and_then(Json::as_object)
        .ok_or("document has no paths")?;
    let mut routes = Routes::new();
    for (path, item) in paths {
        for method in OPENAPI_METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let security = operation.get("security").or(default_security);
            let auth = match security.and_then(Json::as_array) {
                Some(requirements) if !requirements.is_empty() => Auth::Jwt,
                _ => Auth::Public,
            };
            routes.insert((method.to_ascii_uppercase(), path.clone()), auth);
        }
    }
    Ok(routes)
}

/// One line per disagreement; empty when both sides agree.
fn route_differences(template: &Routes, document: &Routes) -> Vec<String> {
    let mut differences = Vec::new();
    for ((method, path), auth) in template {
        match document.get(&(method.clone(), path.clone())) {
            None => differences.push(format!(
                "{method} {path} ({auth}): in template.yaml, missing from infra/openapi.json"
            )),
            Some(documented) if documented != auth => differences.push(format!(
                "{method} {path}: template.yaml says {auth}, infra/openapi.json says {documented} \
                 (public routes need `Auth: {{Authorizer: NONE}}` in the template and `security: []` in the document)"
            )),
            Some(_) => {}
        }
    }
    for ((method, path), auth) in document {
        if !template.contains_key(&(method.clone(), path.clone())) {
            differences.push(format!(
                "{method} {path} ({auth}): in infra/openapi.json, missing from template.yaml"
            ));
        }
    }
    differences
}

#[test]
fn every_template_route_is_documented_with_the_same_auth_and_vice_versa() {
    let template = template_routes(&repo_file("template.yaml")).unwrap();
    let document = document_routes(&repo_file("infra/openapi.json")).unwrap();
    assert!(
        !template.is_empty(),
        "no HttpApi events found in template.yaml"
    );
    assert!(
        !document.is_empty(),
        "no operations found in infra/openapi.json"
    );
    let differences = route_differences(&template, &document);
    assert!(
        differences.is_empty(),
        "template.yaml and infra/openapi.json disagree on {} route(s):\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
}

#[test]
fn the_public_routes_are_exactly_plans_and_webhooks() {
    let template = template_routes(&repo_file("template.yaml")).unwrap();
    let public: Vec<_> = template
        .iter()
        .filter(|(_, auth)| **auth == Auth::Public)
        .map(|((method, path), _)| format!("{method} {path}"))
        .collect();
    assert_eq!(
        public,
        ["GET /billing/plans", "POST /billing/webhooks/{provider}"]
    );
}

fn routes(list: &[(&str, &str, Auth)]) -> Routes {
    list.iter()
        .map(|(method, path, auth)| ((method.to_string(), path.to_string()), *auth))
        .collect()
}

#[test]
fn comparison_reports_routes_missing_on_either_side_and_auth_mismatches() {
    let template = routes(&[
        ("POST", "/billing/session", Auth::Jwt),
        ("POST", "/billing/portal", Auth::Jwt),
        ("GET", "/billing/plans", Auth::Public),
    ]);
    let document = routes(&[
        ("POST", "/billing/session", Auth::Jwt),
        ("GET", "/billing/plans", Auth::Jwt),
        ("DELETE", "/billing/session", Auth::Jwt),
    ]);
    assert_eq!(
        route_differences(&template, &document),
        [
            "GET /billing/plans: template.yaml says public, infra/openapi.json says JWT \
             (public routes need `Auth: {Authorizer: NONE}` in the template and `security: []` in the document)",
            "POST /billing/portal (JWT): in template.yaml, missing from infra/openapi.json",
            "DELETE /billing/session (JWT): in infra/openapi.json, missing from template.yaml",
        ]
    );
    assert!(route_differences(&template, &template).is_empty());
}

#[test]
fn template_routes_read_tagged_values_and_the_default_authorizer() {
    let template = r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Description: !Sub Billing (${Stage})
      Auth: {DefaultAuthorizer: Jwt}
  OpenApi:
    Type: AWS::Serverless::HttpApi
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt Role.Arn
      Events:
        Secured: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: post, Path: /a}}
        Public:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /b, Auth: {Authorizer: NONE}}
        NoDefault: {Type: HttpApi, Properties: {ApiId: {Ref: OpenApi}, Method: GET, Path: /c}}
        Queue: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
  NotAFunction:
    Type: AWS::SQS::Queue
"#;
    assert_eq!(
        template_routes(template).unwrap(),
        routes(&[
            ("POST", "/a", Auth::Jwt),
            ("GET", "/b", Auth::Public),
            ("GET", "/c", Auth::Public),
        ])
    );
}

#[test]
fn document_routes_use_the_operation_security_else_the_default() {
    let document = r#"{
      "security": [{"bearerAuth": []}],
      "paths": {
        "/a": {"summary": "not an operation", "post": {}, "get": {"security": []}},
        "/b/{id}": {"parameters": [], "put": {"security": [{"bearerAuth": []}]}}
      }
    }"#;
    assert_eq!(
        document_routes(document).unwrap(),
        routes(&[
            ("POST", "/a", Auth::Jwt),
            ("GET", "/a", Auth::Public),
            ("PUT", "/b/{id}", Auth::Jwt),
        ])
    );
}

/// `(METHOD, path)` → the function binary serving it.
type Handlers = BTreeMap<(String, String), String>;

/// Each `HttpApi` route of the template with the binary `sam build` builds
/// for its function.
fn template_handlers(template: &str) -> Handlers {
    let template = parse(template).expect("template is YAML");
    let mut handlers = Handlers::new();
    for (_, resource) in resources(&template).expect("Resources") {
        let Some(binary) = build_binary(resource) else {
            continue;
        };
        let events = get(resource, "Properties")
            .and_then(|p| get(p, "Events"))
            .and_then(Yaml::as_mapping);
        for (_, event) in events.into_iter().flatten() {
            if get(event, "Type").and_then(Yaml::as_str) != Some("HttpApi") {
                continue;
            }
            let properties = get(event, "Properties").expect("event Properties");
            let field = |key: &str| get(properties, key).and_then(Yaml::as_str).expect(key);
            handlers.insert(
                (
                    field("Method").to_ascii_uppercase(),
                    field("Path").to_owned(),
                ),
                binary.to_owned(),
            );
        }
    }
    handlers
}

/// Each operation of the document with its `x-lambda-function`, the name the
/// local server routes by.
fn document_handlers(document: &str) -> Handlers {
    let document: Json = serde_json::from_str(document).expect("document is JSON");
    let mut handlers = Handlers::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in OPENAPI_METHODS {
            if let Some(operation) = item.get(method) {
                let function = operation["x-lambda-function"]
                    .as_str()
                    .unwrap_or("<missing x-lambda-function>");
                handlers.insert(
                    (method.to_ascii_uppercase(), path.clone()),
                    function.to_owned(),
                );
            }
        }
    }
    handlers
}

#[test]
fn every_route_names_the_function_the_template_binds_it_to() {
    let template = template_handlers(&repo_file("template.yaml"));
    let document = document_handlers(&repo_file("infra/openapi.json"));
    assert!(!template.is_empty());
    assert_eq!(
        template, document,
        "x-lambda-function in infra/openapi.json must name the Metadata.BuildProperties.Binary of the function template.yaml routes to"
    );
}
