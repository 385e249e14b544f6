//! `PaypalGateway`: the `BillingGateway` port over PayPal's Subscriptions
//! API. A checkout is a subscription created in `APPROVAL_PENDING`; its
//! `approve` link is the hosted page where the buyer agrees, after which
//! PayPal activates it and says so by webhook.
//! <https://developer.paypal.com/docs/api/subscriptions/v1/#subscriptions_create>
//!
//! Calls carry a bearer token from an [`AccessTokenSource`] and JSON bodies.
//! PayPal's idempotency header is `PayPal-Request-Id`: the same key on every
//! retry makes PayPal return the first result instead of creating a second
//! subscription. <https://developer.paypal.com/api/rest/reference/idempotency/>
//!
//! Self-service: a plan or seat change is `POST .../{id}/revise` with
//! `plan_id` and `quantity`. PayPal applies the new price from the next
//! billing cycle and prorates nothing, so it is a change at period end only,
//! and there is no preview (409 `not_supported_by_provider`); the answer's
//! `approve` link is returned as `approvalUrl`, which a PayPal-funded
//! subscriber must visit (until then the old plan stays). Only plans of the
//! same product can be switched, which PayPal enforces. Cancelling is at
//! once (`POST .../{id}/cancel`, answered 204); PayPal cannot cancel at
//! period end or undo a cancellation.

use super::oauth::{AccessToken, AccessTokenSource, AppCredentials, CachedAccessTokens};
use super::signature::error_code;
use super::LIVE_API_BASE;
use crate::http::{url_with_segments, ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, Capabilities, ChangeAccepted, CheckoutRequest, CheckoutSession, PlanChange,
    ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::ChangeTiming;
use billing_domain::Provider;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

pub const SUBSCRIPTIONS_PATH: &str = "/v1/billing/subscriptions";

/// PayPal's Subscriptions API for one REST app.
#[derive(Clone)]
pub struct PaypalGateway {
    app: AppCredentials,
    base_url: String,
    client: ApiClient,
    tokens: Arc<dyn AccessTokenSource>,
}

impl fmt::Debug for PaypalGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalGateway")
            .field("app", &self.app)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl PaypalGateway {
    /// Talks to the live API with its own token cache. `client` is the
    /// function's shared [`ApiClient`].
    pub fn new(app: AppCredentials, client: ApiClient) -> Self {
        Self {
            app,
            base_url: LIVE_API_BASE.to_owned(),
            client,
            tokens: Arc::new(CachedAccessTokens::new()),
        }
    }

    /// Reads `clientId`, `clientSecret` and the optional `apiBase` (the
    /// sandbox is `https://api-m.sandbox.paypal.com`) of the `paypal` entry
    /// in the provider secret.
    pub fn from_credentials(
        credentials: &ProviderCredentials,
        client: ApiClient,
    ) -> Result<Self, SecretError> {
        let gateway = Self::new(AppCredentials::from_credentials(credentials)?, client);
        Ok(match super::api_base(credentials) {
            Some(base_url) => gateway.with_base_url(base_url),
            None => gateway,
        })
    }

    /// Another API host: the sandbox, or a test server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Another token source: one shared with `PaypalWebhooks`, or a fixed
    /// token in tests.
    pub fn with_access_tokens(mut self, tokens: Arc<dyn AccessTokenSource>) -> Self {
        self.tokens = tokens;
        self
    }

    async fn token(&self) -> Result<AccessToken, ProviderError> {
        self.tokens
            .access_token(&self.client, &self.base_url, &self.app)
            .await
    }

    /// Sends `request` and reads the answer; a refused token is forgotten
    /// so the next call fetches a fresh one.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: &ApiRequest,
        token: &AccessToken,
    ) -> Result<T, ProviderError> {
        let result = self
            .client
            .call_json(request, Provider::Paypal, paypal_rejection)
            .await;
        if let Err(ProviderError::Configuration { .. }) = &result {
            self.tokens.forget(token).await;
        }
        result
    }
}

/// PayPal's error body: `{"name": "UNPROCESSABLE_ENTITY", "message": "...",
/// "details": [{"issue": "SUBSCRIPTION_...", "description": "..."}]}`.
fn paypal_rejection(response: &ApiResponse) -> Rejection {
    #[derive(Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(default)]
        details: Vec<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        description: Option<String>,
    }
    let message = serde_json::from_slice::<Body>(&response.body)
        .ok()
        .and_then(|body| {
            // The first detail says what was wrong; the top-level message
            // only restates the status.
            let detail = body.details.into_iter().find_map(|d| d.description);
            detail.or(body.message)
        });
    Rejection {
        code: error_code(&response.body),
        message,
    }
}

/// `POST /v1/billing/subscriptions`, only the fields we send.
#[derive(Serialize)]
struct CreateSubscription<'a> {
    plan_id: &'a str,
    /// The tenant id: PayPal echoes it in every subscription event.
    custom_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriber: Option<Subscriber<'a>>,
    application_context: ApplicationContext<'a>,
}

#[derive(Serialize)]
struct Subscriber<'a> {
    email_address: &'a str,
}

#[derive(Serialize)]
struct ApplicationContext<'a> {
    return_url: &'a str,
    cancel_url: &'a str,
    /// PayPal activates the subscription as soon as the buyer agrees
    /// (with `CONTINUE`, we would have to activate it ourselves).
    user_action: &'static str,
    /// A SaaS plan ships nothing, so PayPal asks for no address.
    shipping_preference: &'static str,
}

#[derive(Deserialize)]
struct CreatedSubscription {
    id: String,
    #[serde(default)]
    links: Vec<Link>,
}

/// A revised subscription: its links (an `approve` one when the buyer must
/// agree again).
#[derive(Deserialize)]
struct CreatedSubscriptionLinks {
    #[serde(default)]
    links: Vec<Link>,
}

impl PaypalGateway {
    /// `…/v1/billing/subscriptions/{id}/{action}`, the id one encoded segment.
    fn subscription_url(&self, id: &str, action: &str) -> String {
        url_with_segments(
            &format!("{}{SUBSCRIPTIONS_PATH}", self.base_url),
            &[id, action],
        )
        .unwrap_or_default()
    }
}

/// A HATEOAS link.
#[derive(Deserialize)]
struct Link {
    href: String,
    rel: String,
}

/// `POST .../{id}/revise`: the new plan and quantity (a string at PayPal).
#[derive(Serialize)]
struct Revise<'a> {
    plan_id: &'a str,
    quantity: String,
}

/// `POST .../{id}/cancel`: PayPal requires a reason.
#[derive(Serialize)]
struct Cancel {
    reason: &'static str,
}

#[async_trait]
impl BillingGateway for PaypalGateway {
    fn provider(&self) -> Provider {
        Provider::Paypal
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            change_at_period_end: true,
            cancel_now: true,
            ..Capabilities::default()
        }
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        if change.timing == ChangeTiming::Now {
            return Err(ProviderError::Unsupported {
                provider: Provider::Paypal,
                operation: "changing the plan now",
            });
        }
        let token = self.token().await?;
        let url = self.subscription_url(&change.subscription_id, "revise");
        let request = ApiRequest::post(&url)
            .bearer_auth(token.expose())
            .header("paypal-request-id", &change.idempotency_key)
            .header("accept", "application/json")
            .json(&Revise {
                plan_id: &change.price_id,
                quantity: change.seats.to_string(),
            })
            .idempotency_key(&change.idempotency_key);
        let revised: CreatedSubscriptionLinks = self.call(&request, &token).await?;
        Ok(ChangeAccepted {
            approval_url: revised
                .links
                .into_iter()
                .find(|link| link.rel == "approve")
                .map(|link| link.href),
        })
    }

    async fn cancel_now(&self, subscription_id: &str) -> Result<(), ProviderError> {
        let token = self.token().await?;
        let url = self.subscription_url(subscription_id, "cancel");
        let key = format!("cancel:{subscription_id}:{}", uuid::Uuid::new_v4());
        let request = ApiRequest::post(&url)
            .bearer_auth(token.expose())
            .header("paypal-request-id", &key)
            .json(&Cancel {
                reason: "Cancelled by the customer from the billing page",
            })
            .idempotency_key(&key);
        let _: IgnoredAny = self.call(&request, &token).await?;
        Ok(())
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let email = request
            .contact
            .as_ref()
            .and_then(|c| c.email.as_deref())
            .filter(|e| !e.is_empty());
        let body = CreateSubscription {
            plan_id: &request.price_id,
            custom_id: request.tenant.as_str(),
            subscriber: email.map(|email_address| Subscriber { email_address }),
            application_context: ApplicationContext {
                return_url: &request.success_url,
                cancel_url: &request.cancel_url,
                user_action: "SUBSCRIBE_NOW",
                shipping_preference: "NO_SHIPPING",
            },
        };
        let token = self.token().await?;
        let http_request = ApiRequest::post(&format!("{}{SUBSCRIPTIONS_PATH}", self.base_url))
            .bearer_auth(token.expose())
            .header("paypal-request-id", &request.idempotency_key)
            // The id, status and links are all we read.
            .header("prefer", "return=minimal")
            .header("accept", "application/json")
            .json(&body)
            // Marks the call safe to repeat for our retries; PayPal itself
            // deduplicates on PayPal-Request-Id and ignores Idempotency-Key.
            .idempotency_key(&request.idempotency_key);
        let created: CreatedSubscription = self.call(&http_request, &token).await?;
        let url = created
            .links
            .into_iter()
            .find(|link| link.rel == "approve")
            .map(|link| link.href)
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: Provider::Paypal,
                message: "created subscription has no approve link".into(),
            })?;
        Ok(CheckoutSession {
            id: created.id,
            url,
        })
    }

    // No `cancel_at_period_end`: PayPal cannot end a subscription at the end
    // of its period (`.../cancel` and `.../suspend` act at once, and the
    // subscriber would lose time already paid for), so the port's default
    // refuses it. The subscriber may cancel in their PayPal account; its
    // `BILLING.SUBSCRIPTION.CANCELLED` webhook updates our record.
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn rejection_keeps_the_issue_and_its_description() {
        let response = ApiResponse {
            status: 422,
            headers: HeaderMap::new(),
            body: br#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed.","details":[{"issue":"PLAN_STATUS_INVALID","description":"Invalid plan status. Plan must be active."}]}"#.to_vec(),
        };
        let rejection = paypal_rejection(&response);
        assert_eq!(rejection.code.as_deref(), Some("PLAN_STATUS_INVALID"));
        assert_eq!(
            rejection.message.as_deref(),
            Some("Invalid plan status. Plan must be active.")
        );
    }

    #[test]
    fn unreadable_error_bodies_give_an_empty_rejection() {
        let response = ApiResponse {
            status: 400,
            headers: HeaderMap::new(),
            body: b"<html>".to_vec(),
        };
        assert_eq!(paypal_rejection(&response), Rejection::default());
    }
}
