//! The tenant's billing profile on its Stripe customer: `name`, `email` and
//! `address` (Stripe prints them on its own receipts and Stripe Tax reads
//! the address), and its GSTIN or VAT number as the customer's one tax id of
//! those kinds (`in_gst`, `eu_vat`, `gb_vat`): one of another value is
//! deleted, the profile's added if missing. Tax ids of other kinds, added in
//! the Dashboard, are left alone.

use super::api::StripeGateway;
use super::wire::{CreatedObject, List};
use billing_domain::ledger::{BillingProfile, TaxIdKind};
use billing_domain::ports::ProviderError;
use serde::Deserialize;

/// The tax id kinds our profiles hold, as Stripe names them.
const MANAGED: [&str; 3] = ["in_gst", "eu_vat", "gb_vat"];

#[derive(Deserialize)]
struct CustomerTaxId {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

fn stripe_kind(kind: TaxIdKind) -> &'static str {
    match kind {
        TaxIdKind::Gstin => "in_gst",
        TaxIdKind::EuVat => "eu_vat",
        TaxIdKind::GbVat => "gb_vat",
    }
}

impl StripeGateway {
    pub(super) async fn copy_profile(
        &self,
        customer_id: &str,
        profile: &BillingProfile,
        idempotency_key: &str,
    ) -> Result<(), ProviderError> {
        let address = &profile.address;
        let form = [
            ("name", profile.legal_name.as_str()),
            ("email", profile.email.as_str()),
            ("address[line1]", address.line1.as_str()),
            ("address[line2]", address.line2.as_deref().unwrap_or("")),
            ("address[city]", address.city.as_str()),
            ("address[state]", address.region.as_str()),
            ("address[postal_code]", address.postal_code.as_str()),
            ("address[country]", address.country.as_str()),
        ];
        let _: CreatedObject = self
            .post(
                &self.url(&["customers", customer_id]),
                &form,
                idempotency_key,
            )
            .await?;
        self.sync_tax_id(customer_id, profile, idempotency_key)
            .await
    }

    async fn sync_tax_id(
        &self,
        customer_id: &str,
        profile: &BillingProfile,
        idempotency_key: &str,
    ) -> Result<(), ProviderError> {
        let wanted = profile
            .tax_id
            .as_ref()
            .map(|id| (stripe_kind(id.kind), id.value.as_str()));
        let listed: List<CustomerTaxId> = self
            .get(&format!(
                "{}?limit=100",
                self.url(&["customers", customer_id, "tax_ids"])
            ))
            .await?;
        let mut present = false;
        for existing in &listed.data {
            if !MANAGED.contains(&existing.kind.as_str()) {
                continue;
            }
            if Some((existing.kind.as_str(), existing.value.as_str())) == wanted {
                present = true;
                continue;
            }
            let _: serde_json::Value = self
                .delete(&self.url(&["customers", customer_id, "tax_ids", &existing.id]))
                .await?;
        }
        if let (Some((kind, value)), false) = (wanted, present) {
            let _: CreatedObject = self
                .post(
                    &self.url(&["customers", customer_id, "tax_ids"]),
                    &[("type", kind), ("value", value)],
                    &format!("{idempotency_key}:tax-id"),
                )
                .await?;
        }
        Ok(())
    }
}
