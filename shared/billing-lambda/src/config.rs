//! Reading configuration from environment variables once, at init, with
//! errors that name the variable so a bad deploy fails loudly on cold start.

use billing_domain::ledger::{Invoicing, RatesInput, Seller, SellerInput, TaxRates};
use billing_domain::{Catalog, CatalogError};
use std::collections::HashMap;
use std::str::FromStr;

/// The plan catalog, compiled into every function from `infra/plans.json` so
/// all four always agree on it; validated by [`catalog`] at init.
pub const PLANS_JSON: &str = include_str!("../../../infra/plans.json");

/// The seller that issues the invoices, compiled in from `infra/seller.json`.
pub const SELLER_JSON: &str = include_str!("../../../infra/seller.json");

/// The dated tax rates, compiled in from `infra/tax-rates.json`.
pub const TAX_RATES_JSON: &str = include_str!("../../../infra/tax-rates.json");

/// The catalog, or the init error that names `infra/plans.json`.
pub fn catalog() -> Result<Catalog, ConfigError> {
    Catalog::from_json(PLANS_JSON).map_err(|e: CatalogError| ConfigError::InvalidFile {
        name: "infra/plans.json",
        reason: e.to_string(),
    })
}

/// The seller and the tax rates, or the init error that names the file.
pub fn invoicing() -> Result<Invoicing, ConfigError> {
    invoicing_from(SELLER_JSON, TAX_RATES_JSON)
}

fn invoicing_from(seller: &str, rates: &str) -> Result<Invoicing, ConfigError> {
    let invalid = |name| move |reason: String| ConfigError::InvalidFile { name, reason };
    let seller = serde_json::from_str::<SellerInput>(seller)
        .map_err(|e| e.to_string())
        .and_then(|input| Seller::new(input).map_err(|e| e.to_string()))
        .map_err(invalid("infra/seller.json"))?;
    let rates = serde_json::from_str::<RatesInput>(rates)
        .map_err(|e| e.to_string())
        .and_then(|input| TaxRates::new(input).map_err(|e| e.to_string()))
        .map_err(invalid("infra/tax-rates.json"))?;
    Ok(Invoicing { seller, rates })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// A configuration file compiled into the function.
    #[error("{name} is invalid: {reason}")]
    InvalidFile { name: &'static str, reason: String },
}

/// Why a function could not be assembled at cold start (or the local
/// server at start-up): the cold start stops with this error.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("provider credentials: {0}")]
    Secrets(#[from] billing_domain::secrets::SecretError),
    /// A client (the providers' HTTP client) could not be built.
    #[error("{0}")]
    Client(String),
}

/// A snapshot of the environment; tests build one from a map.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// A set, non-blank variable.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A parsed variable, or `default` when unset.
    pub fn parsed_or<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_blank_and_unparsable_variables_are_named_in_the_error() {
        let env = Env::from_pairs([("A", "1"), ("BLANK", "  "), ("BAD", "x")]);
        assert_eq!(env.required("A").unwrap(), "1");
        assert_eq!(env.required("BLANK"), Err(ConfigError::Missing("BLANK")));
        assert_eq!(env.parsed_or("UNSET", 7i64).unwrap(), 7);
        assert_eq!(env.parsed_or("A", 7i64).unwrap(), 1);
        let err = env.parsed_or("BAD", 7i64).unwrap_err();
        assert!(err.to_string().contains("BAD"), "{err}");
    }

    #[test]
    fn the_shipped_seller_and_rates_load_and_bad_files_name_themselves() {
        let invoicing = invoicing().unwrap();
        assert_eq!(invoicing.seller.invoice_series, "INV");
        let bad_seller = invoicing_from(r#"{"legalName": "x"}"#, TAX_RATES_JSON).unwrap_err();
        assert!(
            bad_seller
                .to_string()
                .starts_with("infra/seller.json is invalid"),
            "{bad_seller}"
        );
        let wrong_gstin = SELLER_JSON.replace("27AAACE1234F1Z6", "27AAACE1234F1Z7");
        let err = invoicing_from(&wrong_gstin, TAX_RATES_JSON).unwrap_err();
        assert!(
            err.to_string().contains("gstin: GSTIN check character"),
            "{err}"
        );
        let bad_rates = TAX_RATES_JSON.replace("\"IN\"", "\"XX\"");
        let err = invoicing_from(SELLER_JSON, &bad_rates).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("infra/tax-rates.json is invalid"),
            "{err}"
        );
    }
}
