//! The local server's own pages and tools, outside the API: the billing page
//! (`/`, and the checkout return pages), `/openapi.json`, and `POST
//! /dev/token`, the development identity provider the page signs in with.

use crate::auth::DevAuth;
use crate::routes::OPENAPI_JSON;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const SELF_SERVICE_JS: &str = include_str!("../../web/self-service.js");
const LEDGER_JS: &str = include_str!("../../web/ledger.js");

/// Dev tokens last a working day.
const TOKEN_TTL_SECONDS: i64 = 12 * 3600;

pub fn router<S: Clone + Send + Sync + 'static>(auth: DevAuth) -> axum::Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/checkout/return", get(page))
        .route("/checkout/cancelled", get(page))
        .route("/app.js", get(app_js))
        .route("/app.css", get(app_css))
        .route("/self-service.js", get(self_service_js))
        .route("/ledger.js", get(ledger_js))
        .route("/openapi.json", get(openapi))
        .route("/dev/token", post(dev_token))
        .with_state(auth)
}

async fn page() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn app_js() -> Response {
    ([("content-type", "text/javascript; charset=utf-8")], APP_JS).into_response()
}

async fn self_service_js() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        SELF_SERVICE_JS,
    )
        .into_response()
}

async fn ledger_js() -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        LEDGER_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    ([("content-type", "text/css; charset=utf-8")], APP_CSS).into_response()
}

async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI_JSON).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    tenant: String,
    #[serde(default = "owner")]
    role: String,
}

fn owner() -> String {
    "owner".into()
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn dev_token(State(auth): State<DevAuth>, body: axum::body::Bytes) -> Response {
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("body must be {{\"tenant\", \"role\"}}: {e}"),
            )
        }
    };
    if billing_domain::TenantId::parse(&request.tenant).is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            "tenant ids are 1-128 letters, digits, '-', '_', '.', ':' or '@'".into(),
        );
    }
    if !matches!(request.role.as_str(), "owner" | "admin" | "viewer") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_role",
            "role is owner, admin or viewer".into(),
        );
    }
    let now = billing_lambda::clock::now().seconds();
    match auth.issue(&request.tenant, &request.role, now, TOKEN_TTL_SECONDS) {
        Ok(token) => Json(serde_json::json!({"token": token, "expiresIn": TOKEN_TTL_SECONDS}))
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "token_error",
            e.to_string(),
        ),
    }
}
