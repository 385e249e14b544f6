//! `GET` and `PUT /billing/profile`: the tenant's billing profile, the
//! buyer its invoices are made out to. A `PUT` is validated whole (a
//! refusal says which field and changes nothing), saved, and copied onto
//! the tenant's provider customer where the provider keeps such details;
//! the answer says how each copy went.

use crate::checkout::{body, provider_key};
use crate::SessionApi;
use billing_domain::commands::{self, ProfileRefusal, ProfileSaved};
use billing_domain::ledger::{BillingProfile, ProfileInput};
use billing_domain::ports::{CustomerRegistry, ProfileStore};
use billing_domain::{TenantId, UnixTime};
use billing_lambda::bodies::{AddressBody, TaxIdBody};
use billing_lambda::clock::rfc3339;
use billing_lambda::ApiError;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    pub legal_name: String,
    pub email: String,
    pub address: AddressBody,
    pub tax_id: Option<TaxIdBody>,
    pub updated_at: Option<String>,
    /// How the profile reached each provider customer (on a `PUT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<ProviderSyncBody>>,
}

#[derive(Debug, Serialize)]
pub struct ProviderSyncBody {
    pub provider: String,
    pub status: &'static str,
}

impl From<&BillingProfile> for ProfileBody {
    fn from(p: &BillingProfile) -> Self {
        ProfileBody {
            legal_name: p.legal_name.clone(),
            email: p.email.clone(),
            address: AddressBody::from(&p.address),
            tax_id: p.tax_id.as_ref().map(TaxIdBody::from),
            updated_at: rfc3339(p.updated_at),
            providers: None,
        }
    }
}

const PROFILE_SHAPE: &str =
    "{\"legalName\", \"email\", \"address\": {\"line1\", \"line2\"?, \"city\", \"region\", \"postalCode\", \"country\"}, \"taxId\"?}";

fn refusal(e: ProfileRefusal, tenant: &TenantId) -> ApiError {
    match e {
        ProfileRefusal::Invalid(invalid) if invalid.is_tax_id() => {
            ApiError::bad_request("invalid_tax_id", invalid.to_string())
        }
        ProfileRefusal::Invalid(invalid) => {
            ApiError::bad_request("invalid_request", invalid.to_string())
        }
        ProfileRefusal::Store(e) => {
            tracing::error!(tenant = %tenant, error = %e, retryable = e.is_retryable(), "saving the billing profile failed");
            ApiError::from_store(e)
        }
    }
}

impl<S: ProfileStore + CustomerRegistry> SessionApi<S> {
    pub(crate) async fn get_profile(&self, tenant: &TenantId) -> Result<ProfileBody, ApiError> {
        let profile = self.store.get_profile(tenant).await.map_err(|e| {
            tracing::error!(tenant = %tenant, error = %e, "reading the billing profile failed");
            ApiError::from_store(e)
        })?;
        profile.as_ref().map(ProfileBody::from).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_billing_profile",
                "no billing profile yet: PUT one to have invoices made out to it",
            )
        })
    }

    pub(crate) async fn put_profile(
        &self,
        request: &Request,
        tenant: &TenantId,
        now: UnixTime,
    ) -> Result<ProfileBody, ApiError> {
        let input: ProfileInput = body(request, PROFILE_SHAPE)?;
        let key = provider_key("profile", request, tenant);
        let ProfileSaved { profile, providers } =
            commands::save_profile(&self.store, &self.gateways, tenant, &input, &key, now)
                .await
                .map_err(|e| refusal(e, tenant))?;
        for (provider, sync) in &providers {
            if let commands::ProviderSync::Failed(error) = sync {
                tracing::warn!(tenant = %tenant, provider = %provider, error = %error, "billing profile saved; copying it to the provider failed");
            }
        }
        tracing::info!(tenant = %tenant, country = %profile.address.country, tax_id = profile.tax_id.is_some(), "billing profile saved");
        let mut body = ProfileBody::from(&profile);
        body.providers = Some(
            providers
                .iter()
                .map(|(provider, sync)| ProviderSyncBody {
                    provider: provider.to_string(),
                    status: sync.as_str(),
                })
                .collect(),
        );
        Ok(body)
    }
}
