//! `RazorpayGateway`: the `BillingGateway` port over Razorpay's Subscriptions
//! API. A checkout is a subscription created with `POST /v1/subscriptions`;
//! its `short_url` is Razorpay's hosted authorization page. Cancelling at
//! period end is `POST /v1/subscriptions/{id}/cancel` with
//! `cancel_at_cycle_end` (`false` cancels at once). A plan or seat change is
//! `PATCH /v1/subscriptions/{id}` with `plan_id`, `quantity` and
//! `schedule_change_at` (`now` or `cycle_end`); Razorpay has no preview, and
//! a change between billing intervals would leave `total_count` wrong, so
//! those are refused. Razorpay has neither customer objects a subscription
//! needs, nor a hosted customer portal, nor a way to undo a cancellation.
//!
//! Requests are JSON with HTTP basic auth, key id as user and key secret as
//! password (every documented request is `curl -u [YOUR_KEY_ID]:[YOUR_KEY_SECRET]`).
//! Razorpay documents an idempotency key for RazorpayX payouts only
//! (<https://razorpay.com/docs/api/x/payout-idempotency/>), so no key is sent
//! and a POST is retried only when it cannot have reached Razorpay
//! (connection refused, 429): a retry after a timeout could create a second
//! subscription.

use super::{PLAN_NOTE, TENANT_NOTE};
use crate::http::{ApiClient, ApiRequest, ApiResponse, Rejection};
use async_trait::async_trait;
use billing_domain::ports::{
    BillingGateway, Capabilities, ChangeAccepted, CheckoutRequest, CheckoutSession, PlanChange,
    ProviderError, SecretError,
};
use billing_domain::secrets::ProviderCredentials;
use billing_domain::ChangeTiming;
use billing_domain::{Catalog, Interval, Provider};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use url::Url;

pub const DEFAULT_BASE_URL: &str = "https://api.razorpay.com";

/// Razorpay runs a subscription for at most 100 years ("We support
/// subscriptions for a maximum duration of 100 years. The number of billing
/// cycles depends if the subscription is daily, weekly, monthly or yearly",
/// <https://razorpay.com/docs/api/payments/subscriptions/create-subscription/>)
/// and requires `total_count`. Our plans are open-ended, so a subscription
/// asks for the whole 100 years: 1200 monthly or 100 yearly cycles.
pub const fn total_count(interval: Interval) -> u32 {
    match interval {
        Interval::Month => 1200,
        Interval::Year => 100,
    }
}

/// For a Razorpay plan the gateway was not told the interval of: 100 cycles
/// is within the 100-year limit whatever the plan's period (yearly or
/// shorter), though a monthly plan then completes after 8 years and 4 months.
pub const FALLBACK_TOTAL_COUNT: u32 = 100;

/// Razorpay's API for one key pair.
#[derive(Clone)]
pub struct RazorpayGateway {
    key_id: String,
    key_secret: String,
    base_url: String,
    /// Razorpay plan id → `total_count` for its catalog interval.
    total_counts: BTreeMap<String, u32>,
    client: ApiClient,
}

impl fmt::Debug for RazorpayGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key id is not secret (it is shown in the browser), the secret is.
        f.debug_struct("RazorpayGateway")
            .field("key_id", &self.key_id)
            .field("key_secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl RazorpayGateway {
    /// Talks to `https://api.razorpay.com`. `client` is the function's
    /// shared [`ApiClient`]. Call [`RazorpayGateway::with_catalog`] so each
    /// plan runs for Razorpay's full 100 years.
    pub fn new(
        key_id: impl Into<String>,
        key_secret: impl Into<String>,
        client: ApiClient,
    ) -> Self {
        Self {
            key_id: key_id.into(),
            key_secret: key_secret.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            total_counts: BTreeMap::new(),
            client,
        }
    }

    /// Reads the `keyId` and `keySecret` fields of the `razorpay` entry in
    /// the provider secret.
    pub fn from_credentials(
        credentials: &ProviderCredentials,
        client: ApiClient,
    ) -> Result<Self, SecretError> {
        Ok(Self::new(
            credentials.field("keyId")?,
            credentials.field("keySecret")?,
            client,
        ))
    }

    /// Another API host: a local fake or a test server.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Learns each Razorpay plan's billing interval from the catalog, which
    /// decides its `total_count`.
    pub fn with_catalog(mut self, catalog: &Catalog) -> Self {
        self.total_counts = catalog
            // Only active plans can be bought, so only they are checked out.
            .active_plans()
            .filter_map(|plan| {
                plan.price_id(Provider::Razorpay)
                    .map(|id| (id.to_owned(), total_count(plan.interval)))
            })
            .collect();
        self
    }

    fn total_count_for(&self, plan_id: &str) -> u32 {
        self.total_counts
            .get(plan_id)
            .copied()
            .unwrap_or(FALLBACK_TOTAL_COUNT)
    }

    /// `base_url` followed by `segments`, each percent-encoded, so an id can
    /// never change the path.
    fn url(&self, segments: &[&str]) -> Result<String, ProviderError> {
        let misconfigured = || ProviderError::Configuration {
            provider: Provider::Razorpay,
            message: "the Razorpay API base URL is not a valid base URL".into(),
        };
        let mut url = Url::parse(&self.base_url).map_err(|_| misconfigured())?;
        url.path_segments_mut()
            .map_err(|_| misconfigured())?
            .pop_if_empty()
            .extend(segments);
        Ok(url.into())
    }

    /// A JSON POST with basic auth, sent with the shared retry policy.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<T, ProviderError> {
        let request = ApiRequest::post(url)
            .basic_auth(&self.key_id, &self.key_secret)
            .json(body);
        self.client
            .call_json(&request, Provider::Razorpay, razorpay_rejection)
            .await
    }
}

/// Razorpay's error body: `{"error": {"code", "description", "field",
/// "reason", ...}}`; anything else says nothing.
fn razorpay_rejection(response: &ApiResponse) -> Rejection {
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let error_field = |name: &str| {
        body.get("error")
            .and_then(|error| error.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Rejection {
        code: error_field("code"),
        message: error_field("description"),
    }
}

/// <https://razorpay.com/docs/api/payments/subscriptions/create-subscription/>
#[derive(Serialize)]
struct CreateSubscription<'a> {
    plan_id: &'a str,
    total_count: u32,
    quantity: u32,
    /// Notes travel on the subscription and in every `subscription.*`
    /// webhook, which is how an event names its tenant.
    notes: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
struct CancelSubscription {
    cancel_at_cycle_end: bool,
}

/// <https://razorpay.com/docs/api/payments/subscriptions/update-subscription/>
#[derive(Serialize)]
struct UpdateSubscription<'a> {
    plan_id: &'a str,
    quantity: u32,
    /// `now` or `cycle_end`.
    schedule_change_at: &'static str,
}

#[derive(Deserialize)]
struct CreatedSubscription {
    id: String,
    short_url: Option<String>,
}

#[async_trait]
impl BillingGateway for RazorpayGateway {
    fn provider(&self) -> Provider {
        Provider::Razorpay
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            change_now: true,
            change_at_period_end: true,
            cancel_at_period_end: true,
            cancel_now: true,
            ..Capabilities::default()
        }
    }

    /// Creates the subscription; its `short_url` is the hosted page where the
    /// customer authorizes the first payment.
    ///
    /// Not sent, each for a reason: the customer id (Razorpay has no such
    /// parameter); the success and cancel URLs (the hosted page takes none);
    /// the contact (Razorpay uses it only to notify, and "The same will not
    /// be prefilled in the checkout as per the government guidelines"); the
    /// idempotency key (see the module docs).
    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let body = CreateSubscription {
            plan_id: &request.price_id,
            total_count: self.total_count_for(&request.price_id),
            quantity: 1,
            notes: BTreeMap::from([
                (TENANT_NOTE, request.tenant.as_str()),
                (PLAN_NOTE, request.plan_code.as_str()),
            ]),
        };
        let url = self.url(&["v1", "subscriptions"])?;
        let created: CreatedSubscription = self.post(&url, &body).await?;
        let url = created
            .short_url
            .filter(|url| !url.is_empty())
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: Provider::Razorpay,
                message: "created subscription has no short_url".into(),
            })?;
        Ok(CheckoutSession {
            id: created.id,
            url,
        })
    }

    /// The subscription stays `active` until the cycle ends, then Razorpay
    /// sends `subscription.cancelled`
    /// (<https://razorpay.com/docs/api/payments/subscriptions/cancel-subscription/>).
    async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.cancel(subscription_id, true).await
    }

    /// Razorpay's default cancellation: at once; a cancelled subscription
    /// cannot be reactivated.
    async fn cancel_now(&self, subscription_id: &str) -> Result<(), ProviderError> {
        self.cancel(subscription_id, false).await
    }

    /// Razorpay charges or credits the difference itself for a change `now`;
    /// only `authenticated` and `active` subscriptions can be updated.
    async fn change_plan(&self, change: &PlanChange) -> Result<ChangeAccepted, ProviderError> {
        let url = self.url(&["v1", "subscriptions", &change.subscription_id])?;
        let body = UpdateSubscription {
            plan_id: &change.price_id,
            quantity: change.seats,
            schedule_change_at: match change.timing {
                ChangeTiming::Now => "now",
                ChangeTiming::PeriodEnd => "cycle_end",
            },
        };
        let request = ApiRequest::patch(&url)
            .basic_auth(&self.key_id, &self.key_secret)
            .json(&body);
        let _: IgnoredAny = self
            .client
            .call_json(&request, Provider::Razorpay, razorpay_rejection)
            .await?;
        Ok(ChangeAccepted::default())
    }
}

impl RazorpayGateway {
    async fn cancel(&self, subscription_id: &str, at_cycle_end: bool) -> Result<(), ProviderError> {
        let url = self.url(&["v1", "subscriptions", subscription_id, "cancel"])?;
        let _: IgnoredAny = self
            .post(
                &url,
                &CancelSubscription {
                    cancel_at_cycle_end: at_cycle_end,
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpConfig;

    fn gateway(base_url: &str) -> RazorpayGateway {
        let client = ApiClient::new(HttpConfig::default()).unwrap();
        RazorpayGateway::new("rzp_test_key", "key-secret-value", client).with_base_url(base_url)
    }

    #[test]
    fn total_count_spans_one_hundred_years_per_interval() {
        assert_eq!(total_count(Interval::Month), 100 * 12);
        assert_eq!(total_count(Interval::Year), 100);
    }

    #[test]
    fn ids_are_encoded_into_one_path_segment() {
        let url = gateway("https://api.example.test/")
            .url(&["v1", "subscriptions", "sub_1/../x?y", "cancel"])
            .unwrap();
        assert_eq!(
            url,
            "https://api.example.test/v1/subscriptions/sub_1%2F..%2Fx%3Fy/cancel"
        );
    }

    #[test]
    fn debug_output_hides_the_key_secret() {
        let shown = format!("{:?}", gateway("https://api.example.test"));
        assert!(!shown.contains("key-secret-value"), "{shown}");
        assert!(shown.contains("rzp_test_key"));
    }
}
