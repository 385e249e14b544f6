//! Card payment methods on Stripe (`Stripe-Version` 2025-07-30.basil):
//!
//! - list: `GET /v1/customers/{id}/payment_methods?type=card&limit=100`,
//!   with the default read from the customer's
//!   `invoice_settings.default_payment_method`, else from the customer's
//!   subscriptions' own `default_payment_method` (Checkout sets the card it
//!   took there, not on the customer);
//! - add: a Checkout Session in `mode=setup` for the customer
//!   (`payment_method_types[0]=card`, so no currency is needed), returning to
//!   the caller's page either way; its `checkout.session.completed` carries
//!   no subscription and changes no state;
//! - default: the customer's `invoice_settings[default_payment_method]`, and
//!   each of the customer's subscriptions that names its own default (as
//!   Checkout sets it), since a subscription's default outranks the
//!   customer's;
//! - remove: `POST /v1/payment_methods/{id}/detach`.

use super::wire::{
    CreatedObject, Customer, List, PaymentMethod as StripeMethod, SessionObject, Subscription,
};
use super::StripeGateway;
use billing_domain::ports::{PaymentMethod, ProviderError};
use billing_domain::Provider;

impl StripeGateway {
    async fn default_method(&self, customer_id: &str) -> Result<Option<String>, ProviderError> {
        let customer: Customer = self.get(&self.url(&["customers", customer_id])).await?;
        if let Some(default) = customer
            .invoice_settings
            .and_then(|s| s.default_payment_method)
        {
            return Ok(Some(default.into_id()));
        }
        let subscriptions = self.subscriptions_of(customer_id).await?;
        Ok(subscriptions
            .data
            .into_iter()
            .find_map(|s| s.default_payment_method.map(|id| id.into_id())))
    }

    /// The customer's subscriptions that have not ended (Stripe's default
    /// status filter).
    async fn subscriptions_of(
        &self,
        customer_id: &str,
    ) -> Result<List<Subscription>, ProviderError> {
        let url = format!(
            "{}?customer={}&limit=100",
            self.url(&["subscriptions"]),
            urlencoding(customer_id)
        );
        self.get(&url).await
    }

    pub(super) async fn cards(
        &self,
        customer_id: &str,
    ) -> Result<Vec<PaymentMethod>, ProviderError> {
        let url = format!(
            "{}?type=card&limit=100",
            self.url(&["customers", customer_id, "payment_methods"])
        );
        let methods: List<StripeMethod> = self.get(&url).await?;
        let default = self.default_method(customer_id).await?;
        Ok(methods
            .data
            .into_iter()
            .map(|method| {
                let card = method.card;
                PaymentMethod {
                    is_default: default.as_deref() == Some(method.id.as_str()),
                    id: method.id,
                    kind: method.kind,
                    brand: card.as_ref().and_then(|c| c.brand.clone()),
                    last4: card.as_ref().and_then(|c| c.last4.clone()),
                    exp_month: card.as_ref().and_then(|c| c.exp_month),
                    exp_year: card.as_ref().and_then(|c| c.exp_year),
                }
            })
            .collect())
    }

    pub(super) async fn setup_session(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        let session: SessionObject = self
            .post(
                &self.url(&["checkout", "sessions"]),
                &[
                    ("mode", "setup"),
                    ("customer", customer_id),
                    ("payment_method_types[0]", "card"),
                    ("success_url", return_url),
                    ("cancel_url", return_url),
                ],
                idempotency_key,
            )
            .await?;
        session
            .url
            .ok_or_else(|| ProviderError::UnexpectedResponse {
                provider: Provider::Stripe,
                message: "setup session has no url".into(),
            })
    }

    pub(super) async fn make_default(
        &self,
        customer_id: &str,
        payment_method_id: &str,
    ) -> Result<(), ProviderError> {
        let key = format!("default-payment-method:{}", uuid::Uuid::new_v4());
        let _: CreatedObject = self
            .post(
                &self.url(&["customers", customer_id]),
                &[(
                    "invoice_settings[default_payment_method]",
                    payment_method_id,
                )],
                &key,
            )
            .await?;
        for subscription in self.subscriptions_of(customer_id).await?.data {
            let own = subscription.default_payment_method.as_ref().map(|d| d.id());
            if own.is_some_and(|own| own != payment_method_id) {
                let _: CreatedObject = self
                    .post(
                        &self.url(&["subscriptions", &subscription.id]),
                        &[("default_payment_method", payment_method_id)],
                        &format!("{key}:{}", subscription.id),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn detach(&self, payment_method_id: &str) -> Result<(), ProviderError> {
        let _: CreatedObject = self
            .post(
                &self.url(&["payment_methods", payment_method_id, "detach"]),
                &[],
                &format!("detach:{payment_method_id}:{}", uuid::Uuid::new_v4()),
            )
            .await?;
        Ok(())
    }
}

/// A query value, percent-encoded.
fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
