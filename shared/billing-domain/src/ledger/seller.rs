//! The seller: who issues the invoices, where it is registered for tax, and
//! how its documents are numbered. Compiled into the functions from
//! `infra/seller.json` like the plan catalog and validated at init; a bad
//! file stops the cold start with the field that is wrong.

use super::numbering::{validate_prefix, NumberingError};
use super::profile::{validate_address, Address, AddressInput, ProfileError};
use super::regions::is_eu_member;
use super::tax::Treatment;
use super::tax_id::{parse_gstin, parse_vat, TaxId, TaxIdError, TaxIdKind, Validation};
use serde::{Deserialize, Serialize};

/// The seller as configured, and as copied onto every invoice it issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    pub legal_name: String,
    pub email: Option<String>,
    pub address: Address,
    pub gstin: Option<TaxId>,
    /// The seller's EU VAT number: its home number when established in the
    /// EU, or its `EU…` number under the non-Union OSS scheme.
    pub eu_vat: Option<TaxId>,
    pub gb_vat: Option<TaxId>,
    pub invoice_series: String,
    pub credit_note_series: String,
    /// 1 = January; India's financial year starts in April (4).
    pub financial_year_start_month: u8,
    /// The seller's clock, for issue dates and the financial year.
    pub utc_offset_minutes: i32,
    /// Whether the amounts providers collect already include tax.
    pub prices_include_tax: bool,
    /// Services Accounting Code printed on Indian invoices.
    pub sac_code: String,
    /// A Letter of Undertaking reference for zero-rated exports, if any.
    pub export_lut: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SellerInput {
    pub legal_name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub address: AddressInput,
    #[serde(default)]
    pub gstin: Option<String>,
    #[serde(default)]
    pub eu_vat: Option<String>,
    #[serde(default)]
    pub gb_vat: Option<String>,
    pub invoice_series: String,
    pub credit_note_series: String,
    pub financial_year_start_month: u8,
    pub utc_offset_minutes: i32,
    pub prices_include_tax: bool,
    #[serde(default = "default_sac")]
    pub sac_code: String,
    #[serde(default)]
    pub export_lut: Option<String>,
}

fn default_sac() -> String {
    // Information technology (IT) design and development services, which
    // covers software provided as a service.
    "998314".into()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SellerError {
    #[error("{0}")]
    Address(#[from] ProfileError),
    #[error("{field}: {source}")]
    TaxId {
        field: &'static str,
        source: TaxIdError,
    },
    #[error("{0}")]
    Field(String),
    #[error(transparent)]
    Numbering(#[from] NumberingError),
}

impl Seller {
    pub fn new(input: SellerInput) -> Result<Seller, SellerError> {
        let field = |m: &str| SellerError::Field(m.to_owned());
        let legal_name = input.legal_name.trim().to_owned();
        if legal_name.is_empty() || legal_name.len() > 200 {
            return Err(field("legalName: 1 to 200 characters"));
        }
        let address = validate_address(&input.address)?;
        let tax = |field: &'static str| move |source| SellerError::TaxId { field, source };

        let gstin = input
            .gstin
            .as_deref()
            .map(|raw| parse_gstin(&raw.trim().to_ascii_uppercase()).map_err(tax("gstin")))
            .transpose()?;
        if let Some(id) = &gstin {
            if address.country != "IN" || id.gst_state() != Some(address.region.as_str()) {
                return Err(field(
                    "gstin: the seller's address must be in India, in the GSTIN's state (address.region)",
                ));
            }
        }
        let eu_vat = input
            .eu_vat
            .as_deref()
            .map(|raw| seller_eu_vat(raw.trim()).map_err(tax("euVat")))
            .transpose()?;
        let gb_vat = input
            .gb_vat
            .as_deref()
            .map(|raw| parse_vat(raw.trim()).map_err(tax("gbVat")))
            .transpose()?;
        if gb_vat
            .as_ref()
            .is_some_and(|id| id.kind != TaxIdKind::GbVat)
        {
            return Err(field("gbVat: a United Kingdom number, GB and 9 digits"));
        }

        validate_prefix("invoiceSeries", &input.invoice_series)?;
        validate_prefix("creditNoteSeries", &input.credit_note_series)?;
        if input.invoice_series == input.credit_note_series {
            return Err(field("creditNoteSeries: must differ from invoiceSeries"));
        }
        if !(1..=12).contains(&input.financial_year_start_month) {
            return Err(field("financialYearStartMonth: 1 (January) to 12"));
        }
        if !(-720..=840).contains(&input.utc_offset_minutes) {
            return Err(field("utcOffsetMinutes: -720 to 840"));
        }
        if input.sac_code.len() != 6 || !input.sac_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field("sacCode: 6 digits"));
        }
        Ok(Seller {
            legal_name,
            email: input
                .email
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty()),
            address,
            gstin,
            eu_vat,
            gb_vat,
            invoice_series: input.invoice_series,
            credit_note_series: input.credit_note_series,
            financial_year_start_month: input.financial_year_start_month,
            utc_offset_minutes: input.utc_offset_minutes,
            prices_include_tax: input.prices_include_tax,
            sac_code: input.sac_code,
            export_lut: input.export_lut.filter(|l| !l.trim().is_empty()),
        })
    }

    pub fn is_established_in(&self, country: &str) -> bool {
        self.address.country == country
    }
}

/// What an invoice keeps of its seller: who issued it and the registration
/// it was issued under, as they were that day. The numbering and pricing
/// settings stay in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerSnapshot {
    pub legal_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub address: Address,
    /// The GSTIN, EU or UK VAT number the treatment falls under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<TaxId>,
    pub sac_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_lut: Option<String>,
}

impl SellerSnapshot {
    pub fn of(seller: &Seller, treatment: Treatment) -> SellerSnapshot {
        let tax_id = match treatment {
            Treatment::IndiaIntraState | Treatment::IndiaInterState | Treatment::IndiaExport => {
                seller.gstin.clone()
            }
            Treatment::EuVat | Treatment::EuReverseCharge => seller.eu_vat.clone(),
            Treatment::GbVat | Treatment::GbReverseCharge => seller.gb_vat.clone(),
            Treatment::NotTaxed => None,
        };
        SellerSnapshot {
            legal_name: seller.legal_name.clone(),
            email: seller.email.clone(),
            address: seller.address.clone(),
            tax_id,
            sac_code: seller.sac_code.clone(),
            export_lut: (treatment == Treatment::IndiaExport)
                .then(|| seller.export_lut.clone())
                .flatten(),
        }
    }
}

/// A member state's number, or `EU` and 9 digits (non-Union OSS).
fn seller_eu_vat(raw: &str) -> Result<TaxId, TaxIdError> {
    let value = raw.to_ascii_uppercase();
    if let Some(body) = value.strip_prefix("EU") {
        if body.len() == 9 && body.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(TaxId {
                kind: TaxIdKind::EuVat,
                value,
                country: "EU".into(),
                validated: Validation::Format,
            });
        }
    }
    let id = parse_vat(&value)?;
    if is_eu_member(&id.country) {
        Ok(id)
    } else {
        Err(TaxIdError::VatCountry(id.country))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn india_seller() -> Seller {
        Seller::new(SellerInput {
            legal_name: "Acme Cloud Private Limited".into(),
            email: Some("billing@acme.example".into()),
            address: AddressInput {
                line1: "Level 9, Bandra Kurla Complex".into(),
                line2: None,
                city: "Mumbai".into(),
                region: "27".into(),
                postal_code: "400051".into(),
                country: "IN".into(),
            },
            gstin: Some("27AAACE1234F1Z6".into()),
            eu_vat: Some("EU372012345".into()),
            gb_vat: Some("GB123456789".into()),
            invoice_series: "INV".into(),
            credit_note_series: "CN".into(),
            financial_year_start_month: 4,
            utc_offset_minutes: 330,
            prices_include_tax: false,
            sac_code: default_sac(),
            export_lut: Some("AD270326000123X".into()),
        })
        .unwrap()
    }

    fn with(change: impl FnOnce(&mut SellerInput)) -> Result<Seller, SellerError> {
        let seller = india_seller();
        let mut input = SellerInput {
            legal_name: seller.legal_name,
            email: None,
            address: AddressInput {
                line1: "x".into(),
                line2: None,
                city: "Mumbai".into(),
                region: "27".into(),
                postal_code: "400051".into(),
                country: "IN".into(),
            },
            gstin: Some("27AAACE1234F1Z6".into()),
            eu_vat: None,
            gb_vat: None,
            invoice_series: "INV".into(),
            credit_note_series: "CN".into(),
            financial_year_start_month: 4,
            utc_offset_minutes: 330,
            prices_include_tax: true,
            sac_code: default_sac(),
            export_lut: None,
        };
        change(&mut input);
        Seller::new(input)
    }

    #[test]
    fn the_shipped_seller_file_shape_is_accepted_and_bad_fields_are_named() {
        assert!(with(|_| {}).is_ok());
        let message = |r: Result<Seller, SellerError>| r.unwrap_err().to_string();
        assert!(message(with(|i| i.gstin = Some("27AAPFU0939F1ZW".into()))).starts_with("gstin:"));
        assert!(message(with(|i| i.address.region = "29".into())).starts_with("gstin:"));
        assert!(message(with(|i| i.eu_vat = Some("GB123456789".into()))).starts_with("euVat:"));
        assert!(message(with(|i| i.gb_vat = Some("DE123456789".into()))).starts_with("gbVat:"));
        assert!(
            message(with(|i| i.credit_note_series = "INV".into())).starts_with("creditNoteSeries")
        );
        assert!(message(with(|i| i.invoice_series = "inv/x".into())).contains("invoiceSeries"));
        assert!(message(with(|i| i.financial_year_start_month = 13)).starts_with("financialYear"));
        assert!(message(with(|i| i.utc_offset_minutes = 900)).starts_with("utcOffset"));
        assert!(message(with(|i| i.sac_code = "99831".into())).starts_with("sacCode"));
        assert!(message(with(|i| i.legal_name = " ".into())).starts_with("legalName"));
        assert!(message(with(|i| i.address.country = "India".into())).contains("address.country"));
    }
}
