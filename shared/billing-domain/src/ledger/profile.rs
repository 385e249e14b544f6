//! The tenant's billing profile (who the invoices are made out to) and the
//! postal address both parties share, with the validation a `PUT` runs:
//! each refusal names the field and what is wrong with it.

use super::regions::{india_state_name, is_country};
use super::tax_id::{parse_tax_id, TaxId, TaxIdError};
use crate::ids::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    /// A region or state; in India the two-digit GST state code, so that
    /// the place of supply can be decided.
    pub region: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A validated billing profile, as stored and as copied onto invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingProfile {
    pub legal_name: String,
    pub email: String,
    pub address: Address,
    pub tax_id: Option<TaxId>,
    pub updated_at: UnixTime,
}

/// What a caller sends: the same fields, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileInput {
    pub legal_name: String,
    pub email: String,
    pub address: AddressInput,
    #[serde(default)]
    pub tax_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("taxId: {0}")]
    TaxId(#[from] TaxIdError),
}

impl ProfileError {
    fn field(field: &'static str, reason: impl Into<String>) -> Self {
        ProfileError::Field {
            field,
            reason: reason.into(),
        }
    }
}

/// Trims `raw` and checks it is 1 to `max` printable characters (or, when
/// `optional`, empty, which reads as absent).
fn text(field: &'static str, raw: &str, max: usize) -> Result<String, ProfileError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(ProfileError::field(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ProfileError::field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ProfileError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

fn email(raw: &str) -> Result<String, ProfileError> {
    let value = text("email", raw, 254)?;
    let well_formed = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
        }
        None => false,
    };
    if well_formed {
        Ok(value)
    } else {
        Err(ProfileError::field(
            "email",
            "must be an address like billing@example.com",
        ))
    }
}

/// Checks an address. In India `region` is the GST state code, or the
/// state's name, which is turned into its code.
pub fn validate_address(input: &AddressInput) -> Result<Address, ProfileError> {
    let country = input.country.trim().to_ascii_uppercase();
    if !is_country(&country) {
        return Err(ProfileError::field(
            "address.country",
            "must be an ISO 3166-1 alpha-2 code such as IN, DE or GB",
        ));
    }
    let mut region = text("address.region", &input.region, 100)?;
    if country == "IN" {
        region = india_state_code(&region).ok_or_else(|| {
            ProfileError::field(
                "address.region",
                "in India, the two-digit GST state code (27 for Maharashtra) or the state's name",
            )
        })?;
    }
    let line2 = match input.line2.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(line) => Some(text("address.line2", line, 200)?),
    };
    Ok(Address {
        line1: text("address.line1", &input.line1, 200)?,
        line2,
        city: text("address.city", &input.city, 100)?,
        region,
        postal_code: text("address.postalCode", &input.postal_code, 20)?,
        country,
    })
}

fn india_state_code(region: &str) -> Option<String> {
    if india_state_name(region).is_some() {
        return Some(region.to_owned());
    }
    (1..=99)
        .map(|n| format!("{n:02}"))
        .find(|code| india_state_name(code).is_some_and(|name| name.eq_ignore_ascii_case(region)))
}

/// Validates a whole profile. A GSTIN must have been issued in the state of
/// the address, since it decides the place of supply.
pub fn validate_profile(
    input: &ProfileInput,
    now: UnixTime,
) -> Result<BillingProfile, ProfileError> {
    let address = validate_address(&input.address)?;
    let tax_id = match input.tax_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let id = parse_tax_id(raw, &address.country)?;
            if let Some(state) = id.gst_state() {
                if state != address.region {
                    return Err(ProfileError::field(
                        "taxId",
                        format!(
                            "this GSTIN is registered in state {state}, the address is in state {}",
                            address.region
                        ),
                    ));
                }
            }
            Some(id)
        }
    };
    Ok(BillingProfile {
        legal_name: text("legalName", &input.legal_name, 200)?,
        email: email(&input.email)?,
        address,
        tax_id,
        updated_at: now,
    })
}

impl ProfileError {
    /// Whether the refusal is about the tax id (`invalid_tax_id`) rather
    /// than another field (`invalid_request`).
    pub fn is_tax_id(&self) -> bool {
        matches!(self, ProfileError::TaxId(_))
            || matches!(self, ProfileError::Field { field: "taxId", .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn input(country: &str, region: &str, tax_id: Option<&str>) -> ProfileInput {
        ProfileInput {
            legal_name: " Bharat Cloud LLP ".into(),
            email: "accounts@bharat.example".into(),
            address: AddressInput {
                line1: "4th Floor, Tower B".into(),
                line2: Some("".into()),
                city: "Mumbai".into(),
                region: region.into(),
                postal_code: "400051".into(),
                country: country.into(),
            },
            tax_id: tax_id.map(str::to_owned),
        }
    }

    #[test]
    fn a_good_profile_is_trimmed_and_normalized() {
        let profile = validate_profile(
            &input("in", "maharashtra", Some("27aapfu0939f1zv")),
            UnixTime(5),
        )
        .unwrap();
        assert_eq!(profile.legal_name, "Bharat Cloud LLP");
        assert_eq!(profile.address.country, "IN");
        assert_eq!(profile.address.region, "27");
        assert_eq!(profile.address.line2, None);
        assert_eq!(profile.tax_id.unwrap().value, "27AAPFU0939F1ZV");
    }

    #[test]
    fn each_bad_field_is_named() {
        let field_of = |i: ProfileInput| match validate_profile(&i, UnixTime(0)) {
            Err(ProfileError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut i = input("IN", "27", None);
        i.legal_name = "  ".into();
        assert_eq!(field_of(i), "legalName");
        let mut i = input("IN", "27", None);
        i.email = "not-an-email".into();
        assert_eq!(field_of(i), "email");
        assert_eq!(field_of(input("XX", "27", None)), "address.country");
        assert_eq!(field_of(input("IN", "MH-Pune", None)), "address.region");
        let mut i = input("DE", "Berlin", None);
        i.address.postal_code = "1".repeat(21);
        assert_eq!(field_of(i), "address.postalCode");
        let mut i = input("DE", "Berlin", None);
        i.address.line1 = "a\u{7}b".into();
        assert_eq!(field_of(i), "address.line1");
    }

    #[test]
    fn tax_id_refusals_say_invalid_tax_id() {
        for (country, region, id) in [
            ("IN", "27", "27AAPFU0939F1ZW"), // wrong check character
            ("IN", "29", "27AAPFU0939F1ZV"), // GSTIN of another state
            ("DE", "Berlin", "DE12345678"),  // one digit short
            ("FR", "Paris", "DE123456789"),  // another country's number
            ("US", "CA", "12-3456789"),      // no format known
        ] {
            let err = validate_profile(&input(country, region, Some(id)), UnixTime(0)).unwrap_err();
            assert!(err.is_tax_id(), "{id}: {err}");
        }
    }
}
