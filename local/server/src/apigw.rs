//! What API Gateway does between the client and a handler, done locally: an
//! incoming HTTP request becomes the HTTP API (payload v2) event API Gateway
//! would send, with the authorizer's claims in its request context, and is
//! parsed by `lambda_http` exactly as in Lambda; the handler's response goes
//! back out unchanged.

use crate::routes::Route;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use lambda_http::{Body, Request};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One request as the local server received it.
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    pub request_id: &'a str,
    pub now_ms: i64,
}

/// The payload-v2 event API Gateway would deliver for this request.
pub fn event(
    incoming: &Incoming<'_>,
    route: &Route,
    path_params: &HashMap<String, String>,
    claims: Option<&HashMap<String, String>>,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in incoming.headers {
        let Ok(value) = value.to_str() else { continue };
        if name == "cookie" {
            cookies.extend(value.split("; ").map(str::to_owned));
            continue;
        }
        // API Gateway joins repeated headers with commas.
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut Value| {
                if let Value::String(s) = v {
                    s.push(',');
                    s.push_str(value);
                }
            })
            .or_insert_with(|| value.into());
    }
    let path = incoming.uri.path();
    let query = incoming.uri.query().unwrap_or("");
    let user_agent = incoming
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let time = time::OffsetDateTime::from_unix_timestamp(incoming.now_ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            ))
            .ok()
        })
        .unwrap_or_default();
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": incoming.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
        "domainPrefix": "local",
        "http": {
            "method": incoming.method.as_str(),
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": user_agent,
        },
        "requestId": incoming.request_id,
        "routeKey": route.key(),
        "stage": "$default",
        "time": time,
        "timeEpoch": incoming.now_ms,
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        let params: HashMap<String, String> = url_decode_pairs(query);
        event["queryStringParameters"] = json!(params);
    }
    if !path_params.is_empty() {
        event["pathParameters"] = json!(path_params);
    }
    if !incoming.body.is_empty() {
        // API Gateway passes text bodies as they are and base64-encodes the
        // rest; either way the handler sees the exact bytes sent.
        match std::str::from_utf8(incoming.body) {
            Ok(text) if is_text(incoming.headers) => {
                event["body"] = text.into();
            }
            _ => {
                event["body"] = base64::engine::general_purpose::STANDARD
                    .encode(incoming.body)
                    .into();
                event["isBase64Encoded"] = true.into();
            }
        }
    }
    event
}

fn is_text(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("x-www-form-urlencoded")
}

fn url_decode_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the event the way the Lambda runtime does for the handler.
pub fn request(event: &Value) -> Result<Request, String> {
    lambda_http::request::from_str(&event.to_string()).map_err(|e| e.to_string())
}

/// The handler's response as bytes for the client.
pub fn body_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Function;
    use lambda_http::RequestExt;

    fn route() -> Route {
        Route {
            method: "POST".into(),
            path: "/billing/webhooks/{provider}".into(),
            function: Function::WebhookReceive,
            public: true,
        }
    }

    fn incoming_event(content_type: &str, body: &'static [u8]) -> Value {
        let method = Method::POST;
        let uri: Uri = "/billing/webhooks/stripe?x=a%20b".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", content_type.parse().unwrap());
        headers.append("x-many", "1".parse().unwrap());
        headers.append("x-many", "2".parse().unwrap());
        let body = Bytes::from_static(body);
        let incoming = Incoming {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: &body,
            request_id: "req-1",
            now_ms: 1_800_000_000_000,
        };
        let params = HashMap::from([("provider".to_owned(), "stripe".to_owned())]);
        event(&incoming, &route(), &params, None)
    }

    #[test]
    fn json_bodies_pass_as_text_and_reach_the_handler_byte_for_byte() {
        let event = incoming_event("application/json", br#"{"amount": 170.00}"#);
        assert_eq!(event["isBase64Encoded"], false);
        let req = request(&event).unwrap();
        assert_eq!(
            billing_lambda::request::raw_body(&req),
            br#"{"amount": 170.00}"#
        );
        assert_eq!(billing_lambda::request::request_id(&req), "req-1");
        assert_eq!(
            req.path_parameters_ref().and_then(|p| p.first("provider")),
            Some("stripe")
        );
        assert_eq!(event["headers"]["x-many"], "1,2");
        assert_eq!(event["queryStringParameters"]["x"], "a b");
        assert_eq!(event["routeKey"], "POST /billing/webhooks/{provider}");
    }

    #[test]
    fn binary_bodies_are_base64_encoded_and_decoded_for_the_handler() {
        let event = incoming_event("application/octet-stream", b"\xff\x00raw");
        assert_eq!(event["isBase64Encoded"], true);
        let req = request(&event).unwrap();
        assert_eq!(billing_lambda::request::raw_body(&req), b"\xff\x00raw");
    }

    #[test]
    fn claims_appear_where_the_jwt_authorizer_puts_them() {
        let method = Method::GET;
        let uri: Uri = "/billing/status".parse().unwrap();
        let headers = HeaderMap::new();
        let body = Bytes::new();
        let incoming = Incoming {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: &body,
            request_id: "req-2",
            now_ms: 0,
        };
        let claims = HashMap::from([("tenant_id".to_owned(), "org_acme".to_owned())]);
        let status_route = Route {
            method: "GET".into(),
            path: "/billing/status".into(),
            function: Function::GetStatus,
            public: false,
        };
        let event = event(&incoming, &status_route, &HashMap::new(), Some(&claims));
        let req = request(&event).unwrap();
        assert_eq!(
            billing_lambda::request::tenant(&req, "tenant_id")
                .unwrap()
                .as_str(),
            "org_acme"
        );
    }

    #[test]
    fn percent_decoding_handles_plus_escapes_and_stray_percent_signs() {
        assert_eq!(percent_decode("a+b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
