//! Reading configuration from environment variables once, at init, with
//! errors that name the variable so a bad deploy fails loudly on cold start.

use billing_domain::{Catalog, CatalogError};
use std::collections::HashMap;
use std::str::FromStr;

/// The plan catalog, compiled into every function from `infra/plans.json` so
/// all four always agree on it; validated by [`catalog`] at init.
pub const PLANS_JSON: &str = include_str!("../../../infra/plans.json");

/// The catalog, or the init error that names `infra/plans.json`.
pub fn catalog() -> Result<Catalog, ConfigError> {
    Catalog::from_json(PLANS_JSON).map_err(|e: CatalogError| ConfigError::Invalid {
        name: "infra/plans.json",
        reason: e.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
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
}
