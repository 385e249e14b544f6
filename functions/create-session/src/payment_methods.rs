//! `GET /billing/payment-methods` and `POST .../setup`, `.../{id}/default`,
//! `DELETE .../{id}`: the tenant's saved payment methods at its provider,
//! never more of a card than brand, last four digits and expiry.

use crate::checkout::{provider_key, PortalResponse};
use crate::errors::command_error;
use crate::SessionApi;
use billing_domain::commands;
use billing_domain::ports::{CustomerRegistry, PaymentMethod, SubscriptionReader};
use billing_domain::TenantId;
use billing_lambda::{request, ApiError};
use lambda_http::Request;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodBody {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
    pub is_default: bool,
}

impl From<PaymentMethod> for PaymentMethodBody {
    fn from(method: PaymentMethod) -> Self {
        Self {
            id: method.id,
            kind: method.kind,
            brand: method.brand,
            last4: method.last4,
            exp_month: method.exp_month,
            exp_year: method.exp_year,
            is_default: method.is_default,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodsResponse {
    pub payment_methods: Vec<PaymentMethodBody>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodChanged {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
}

/// The `{id}` of the route; API Gateway never routes an empty one here.
fn method_id(request: &Request) -> Result<&str, ApiError> {
    request::path_parameter(request, "id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_request("invalid_request", "the path names no payment method"))
}

impl<S: CustomerRegistry + SubscriptionReader> SessionApi<S> {
    pub(crate) async fn list_payment_methods(
        &self,
        tenant: &TenantId,
    ) -> Result<PaymentMethodsResponse, ApiError> {
        let methods = commands::list_payment_methods(&self.store, &self.gateways, tenant)
            .await
            .map_err(|e| command_error(e, tenant))?;
        Ok(PaymentMethodsResponse {
            payment_methods: methods.into_iter().map(PaymentMethodBody::from).collect(),
        })
    }

    pub(crate) async fn setup_payment_method(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<PortalResponse, ApiError> {
        let return_url = self.return_url(request)?;
        let url = commands::setup_payment_method(
            &self.store,
            &self.gateways,
            tenant,
            &return_url,
            &provider_key("setup", request, tenant),
        )
        .await
        .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, "payment method setup page created");
        Ok(PortalResponse { url })
    }

    pub(crate) async fn default_payment_method(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<PaymentMethodChanged, ApiError> {
        let id = method_id(request)?;
        commands::set_default_payment_method(&self.store, &self.gateways, tenant, id)
            .await
            .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, "default payment method set");
        Ok(PaymentMethodChanged {
            id: id.to_owned(),
            is_default: Some(true),
            removed: None,
        })
    }

    pub(crate) async fn remove_payment_method(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<PaymentMethodChanged, ApiError> {
        let id = method_id(request)?;
        commands::remove_payment_method(&self.store, &self.gateways, tenant, id)
            .await
            .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, "payment method removed");
        Ok(PaymentMethodChanged {
            id: id.to_owned(),
            is_default: None,
            removed: Some(true),
        })
    }
}
