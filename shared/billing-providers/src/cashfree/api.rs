//! `CashfreeGateway`: the `BillingGateway` port over Cashfree's Subscriptions
//! API (`POST /pg/subscriptions`, `GET /pg/subscriptions/{id}`,
//! `POST /pg/subscriptions/{id}/manage`).
//!
//! Every call carries `x-client-id`, `x-client-secret` and `x-api-version`
//! (2025-01-01 unless the secret's `apiVersion` says otherwise) and a JSON
//! body: <https://www.cashfree.com/docs/api-reference/payments/latest/subscription/create-subscription>.
//!
//! Checkout. Cashfree's create call requires the payer's email and phone
//! (`customer_details.customer_email`, `customer_phone`), so a checkout
//! without both is refused here, before any call, as
//! `Rejected { status: 400, code: "contact_required" }`. The subscription
//! id is ours and derived from the request's idempotency key
//! ([`subscription_id_for`]): Cashfree has no idempotency header for this
//! call, but it refuses a second subscription under an existing id (409),
//! and a 409 is answered by fetching the subscription the first attempt
//! made, so a retried checkout returns the same session instead of a
//! second subscription. Our tenant and plan go into `subscription_tags`.
//! Cashfree has one `return_url` (after success or failure alike), so
//! `success_url` is sent and `cancel_url` has no counterpart.
//!
//! Cashfree's hosted subscription checkout has no URL of its own: the
//! response's `subscription_session_id` is opened in the browser by its JS
//! SDK (`cashfree.subscriptionsCheckout({subsSessionId})`,
//! <https://www.cashfree.com/docs/payments/subscription/hosted-checkout>).
//! The session URL returned is therefore a page of our frontend that does
//! that: by default `/billing/checkout/cashfree` on the origin of
//! `success_url`, with `subscription_session_id` and `environment` (the SDK
//! `mode`) in the URL fragment, which never reaches a server log.
//!
//! Cashfree has no customer objects (`create_customer` gives `None`) and no
//! hosted customer portal. Its manage API cancels a subscription at once
//! (`action: CANCEL` "stops all future charges") and has no cancel at period
//! end, so `cancel_at_period_end` is `Unsupported` rather than ending a paid
//! period early; cancelling now is `action: CANCEL`. A plan change is
//! `action: CHANGE_PLAN` with `action_details.plan_id`: Cashfree charges the
//! new plan's amount from the next charge and prorates nothing, so it is a
//! change at period end, without a preview. Cashfree plans have no
//! quantity, so a change to more than one seat is refused; Cashfree also
//! refuses it for ON_DEMAND plans and above the mandate's maximum amount.
//! <https://www.cashfree.com/docs/api-reference/payments/latest/subscription/manage-subscription>

use super::wire::subscription_id_for;
use crate::http::{ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, Capabilities, ChangeAccepted, CheckoutRequest, CheckoutSession, PlanChange,
    ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::ChangeTiming;
use billing_domain::Provider;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use url::Url;

pub const PRODUCTION_BASE_URL: &str = "https://api.cashfree.com";
pub const SANDBOX_BASE_URL: &str = "https://sandbox.cashfree.com";
pub const DEFAULT_API_VERSION: &str = "2025-01-01";
pub const SUBSCRIPTIONS_PATH: &str = "/pg/subscriptions";
/// Our frontend's page that opens Cashfree's checkout with its JS SDK.
pub const DEFAULT_CHECKOUT_PAGE_PATH: &str = "/billing/checkout/cashfree";

/// Which Cashfree environment the credentials belong to: it decides the API
/// host and the JS SDK's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashfreeEnvironment {
    Sandbox,
    Production,
}

impl CashfreeEnvironment {
    pub fn base_url(self) -> &'static str {
        match self {
            CashfreeEnvironment::Sandbox => SANDBOX_BASE_URL,
            CashfreeEnvironment::Production => PRODUCTION_BASE_URL,
        }
    }

    /// The `mode` Cashfree's JS SDK is initialised with.
    pub fn sdk_mode(self) -> &'static str {
        match self {
            CashfreeEnvironment::Sandbox => "sandbox",
            CashfreeEnvironment::Production => "production",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sandbox" => Some(CashfreeEnvironment::Sandbox),
            "production" => Some(CashfreeEnvironment::Production),
            _ => None,
        }
    }
}

/// Cashfree's Subscriptions API for one client id and secret.
#[derive(Clone)]
pub struct CashfreeGateway {
    client_id: String,
    client_secret: String,
    api_version: String,
    environment: CashfreeEnvironment,
    base_url: String,
    checkout_page_url: Option<String>,
    client: ApiClient,
}

impl fmt::Debug for CashfreeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CashfreeGateway")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("api_version", &self.api_version)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .field("checkout_page_url", &self.checkout_page_url)
            .finish()
    }
}

impl CashfreeGateway {
    /// Talks to `environment`'s API host with API version 2025-01-01.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        environment: CashfreeEnvironment,
        client: ApiClient,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            environment,
            base_url: environment.base_url().to_owned(),
            checkout_page_url: None,
            client,
        }
    }

    /// Reads the `cashfree` entry of the provider secret: `clientId` and
    /// `clientSecret` (required), `environment` (`sandbox` or `production`,
    /// the default) and `apiVersion` (optional).
    pub fn from_credentials(
        credentials: &ProviderCredentials,
        client: ApiClient,
    ) -> Result<Self, SecretError> {
        let optional = |name: &str| credentials.fields.get(name).and_then(|v| v.as_str());
        let environment = match optional("environment") {
            None => CashfreeEnvironment::Production,
            Some(name) => CashfreeEnvironment::parse(name).ok_or_else(|| {
                SecretError::Malformed(
                    "cashfree environment must be \"sandbox\" or \"production\"".into(),
                )
            })?,
        };
        let gateway = Self::new(
            credentials.field("clientId")?,
            credentials.field("clientSecret")?,
            environment,
            client,
        );
        Ok(match optional("apiVersion").filter(|v| !v.is_empty()) {
            Some(version) => gateway.with_api_version(version),
            None => gateway,
        })
    }

    /// Another API host: a local fake or a test server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// The frontend page that opens the checkout, instead of
    /// [`DEFAULT_CHECKOUT_PAGE_PATH`] on the origin of `success_url`.
    pub fn with_checkout_page_url(mut self, url: impl Into<String>) -> Self {
        self.checkout_page_url = Some(url.into());
        self
    }

    /// Cancels the subscription now (`action: CANCEL`): no further charge,
    /// and the resulting `CANCELLED` webhook ends the tenant's access.
    pub async fn cancel_immediately(&self, subscription_id: &str) -> Result<(), ProviderError> {
        let key = format!("cancel:{subscription_id}:{}", uuid::Uuid::new_v4());
        self.manage(subscription_id, "CANCEL", None, &key).await
    }

    /// `POST /pg/subscriptions/{id}/manage` with `action` (and its details),
    /// under `x-idempotency-key`.
    async fn manage(
        &self,
        subscription_id: &str,
        action: &'static str,
        plan_id: Option<&str>,
        idempotency_key: &str,
    ) -> Result<(), ProviderError> {
        #[derive(Serialize)]
        struct Manage<'a> {
            subscription_id: &'a str,
            action: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            action_details: Option<ActionDetails<'a>>,
        }
        #[derive(Serialize)]
        struct ActionDetails<'a> {
            plan_id: &'a str,
        }
        let url = self.subscription_url(subscription_id, Some("manage"))?;
        let request = self
            .with_credentials(ApiRequest::post(&url))
            .header("x-idempotency-key", idempotency_key)
            .idempotency_key(idempotency_key)
            .json(&Manage {
                subscription_id,
                action,
                action_details: plan_id.map(|plan_id| ActionDetails { plan_id }),
            });
        let _: serde_json::Value = self.call(&request).await?;
        Ok(())
    }

    async fn fetch_subscription(
        &self,
        subscription_id: &str,
    ) -> Result<SubscriptionObject, ProviderError> {
        let url = self.subscription_url(subscription_id, None)?;
        self.call(&self.with_credentials(ApiRequest::get(&url)))
            .await
    }

    fn with_credentials(&self, request: ApiRequest) -> ApiRequest {
        // `ApiRequest` never prints its headers, so the secret stays out of logs.
        request
            .header("x-client-id", &self.client_id)
            .header("x-client-secret", &self.client_secret)
            .header("x-api-version", &self.api_version)
    }

    async fn call<T: DeserializeOwned>(&self, request: &ApiRequest) -> Result<T, ProviderError> {
        self.client
            .call_json(request, Provider::Cashfree, cashfree_rejection)
            .await
    }

    /// `/pg/subscriptions/{id}[/{action}]`, the id percent-encoded as a path
    /// segment (ids made in Cashfree's dashboard may hold spaces).
    fn subscription_url(
        &self,
        subscription_id: &str,
        action: Option<&str>,
    ) -> Result<String, ProviderError> {
        let mut url = Url::parse(&format!("{}{SUBSCRIPTIONS_PATH}", self.base_url))
            .map_err(|_| configuration("the Cashfree API base URL is not a URL"))?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| configuration("the Cashfree API base URL cannot take a path"))?;
            segments.push(subscription_id);
            if let Some(action) = action {
                segments.push(action);
            }
        }
        Ok(url.into())
    }

    /// The frontend page that opens the checkout, checked before anything
    /// is created at Cashfree.
    fn checkout_page(&self, success_url: &str) -> Result<Url, ProviderError> {
        match &self.checkout_page_url {
            Some(page) => Url::parse(page)
                .map_err(|_| configuration("the Cashfree checkout page is not a URL")),
            None => {
                let mut page = Url::parse(success_url).map_err(|_| ProviderError::Rejected {
                    provider: Provider::Cashfree,
                    status: 400,
                    code: Some("invalid_success_url".into()),
                    message: "success_url is not an absolute URL".into(),
                })?;
                page.set_path(DEFAULT_CHECKOUT_PAGE_PATH);
                page.set_query(None);
                Ok(page)
            }
        }
    }

    fn session(
        &self,
        subscription_id: String,
        subscription: SubscriptionObject,
        mut page: Url,
    ) -> Result<CheckoutSession, ProviderError> {
        let session_id = subscription
            .subscription_session_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: Provider::Cashfree,
                message: "subscription has no subscription_session_id".into(),
            })?;
        let fragment = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("subscription_session_id", &session_id)
            .append_pair("environment", self.environment.sdk_mode())
            .finish();
        page.set_fragment(Some(&fragment));
        Ok(CheckoutSession {
            url: page.into(),
            // The session id opens a payment page, so our subscription id
            // (what every webhook names) is the id that gets logged.
            id: subscription_id,
        })
    }
}

fn configuration(message: &str) -> ProviderError {
    ProviderError::Configuration {
        provider: Provider::Cashfree,
        message: message.to_owned(),
    }
}

/// Cashfree's error body: `{"message", "code", "type"}`.
fn cashfree_rejection(response: &ApiResponse) -> Rejection {
    #[derive(Deserialize)]
    struct Body {
        message: Option<String>,
        code: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    match serde_json::from_slice::<Body>(&response.body) {
        Ok(body) => Rejection {
            code: body.code.or(body.kind),
            message: body.message,
        },
        Err(_) => Rejection::default(),
    }
}

#[derive(Serialize)]
struct CreateSubscription<'a> {
    subscription_id: &'a str,
    customer_details: CustomerDetails<'a>,
    plan_details: PlanDetails<'a>,
    subscription_meta: SubscriptionMeta<'a>,
    subscription_tags: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
struct CustomerDetails<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_name: Option<&'a str>,
    customer_email: &'a str,
    customer_phone: &'a str,
}

#[derive(Serialize)]
struct PlanDetails<'a> {
    plan_id: &'a str,
}

#[derive(Serialize)]
struct SubscriptionMeta<'a> {
    return_url: &'a str,
}

#[derive(Deserialize)]
struct SubscriptionObject {
    subscription_session_id: Option<String>,
}

/// The checkout's email and phone, or the local refusal Cashfree would give.
fn required_contact(request: &CheckoutRequest) -> Result<CustomerDetails<'_>, ProviderError> {
    let contact = request.contact.as_ref();
    let email = present(contact.and_then(|c| c.email.as_deref()));
    let phone = present(contact.and_then(|c| c.phone.as_deref()));
    match (email, phone) {
        (Some(customer_email), Some(customer_phone)) => Ok(CustomerDetails {
            customer_name: present(contact.and_then(|c| c.name.as_deref())),
            customer_email,
            customer_phone,
        }),
        _ => Err(ProviderError::Rejected {
            provider: Provider::Cashfree,
            status: 400,
            code: Some("contact_required".into()),
            message: "Cashfree needs the payer's email and phone number: send contact.email and contact.phone with the checkout".into(),
        }),
    }
}

/// A contact field with something in it.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[async_trait]
impl BillingGateway for CashfreeGateway {
    fn provider(&self) -> Provider {
        Provider::Cashfree
    }

    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let customer_details = required_contact(request)?;
        let page = self.checkout_page(&request.success_url)?;
        let subscription_id = subscription_id_for(&request.tenant, &request.idempotency_key);
        let body = CreateSubscription {
            subscription_id: &subscription_id,
            customer_details,
            plan_details: PlanDetails {
                plan_id: &request.price_id,
            },
            subscription_meta: SubscriptionMeta {
                return_url: &request.success_url,
            },
            subscription_tags: BTreeMap::from([
                ("tenant_id", request.tenant.as_str()),
                ("plan", request.plan_code.as_str()),
            ]),
        };
        let url = format!("{}{SUBSCRIPTIONS_PATH}", self.base_url);
        let create = self.with_credentials(ApiRequest::post(&url)).json(&body);
        let subscription = match self.call::<SubscriptionObject>(&create).await {
            Ok(created) => created,
            // An earlier attempt of this very checkout created it.
            Err(ProviderError::Rejected { status: 409, .. }) => {
                tracing::info!("Cashfree subscription exists already; reusing its session");
                self.fetch_subscription(&subscription_id).await?
            }
            Err(error) => return Err(error),
        };
        self.session(subscription_id, subscription, page)
    }

    // No `cancel_at_period_end`: the port's default refuses it (see the
    // module docs).

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            change_at_period_end: true,
            cancel_now: true,
            ..Capabilities::default()
        }
    }

    async fn cancel_now(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.cancel_immediately(subscription_id).await
    }

    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        if change.timing == ChangeTiming::Now {
            return Err(ProviderError::Unsupported {
                provider: Provider::Cashfree,
                operation: "changing the plan now",
            });
        }
        if change.seats != 1 {
            return Err(ProviderError::Unsupported {
                provider: Provider::Cashfree,
                operation: "more than one seat",
            });
        }
        self.manage(
            &change.subscription_id,
            "CHANGE_PLAN",
            Some(&change.price_id),
            &change.idempotency_key,
        )
        .await?;
        Ok(ChangeAccepted::default())
    }
}
