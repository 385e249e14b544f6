//! Identifiers and time: tenants, plan codes, providers and provider timestamps.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The organization (tenant) that owns one subscription.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

/// Why a string cannot be a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant id must be 1-128 characters of letters, digits, '-', '_', '.', ':' or '@'")]
pub struct InvalidTenantId;

impl TenantId {
    /// Tenant ids become DynamoDB keys and Stripe metadata, so they are
    /// restricted to a conservative character set and length.
    pub fn parse(raw: &str) -> Result<Self, InvalidTenantId> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidTenantId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plan's code in the catalog (`free`, `pro`, `team`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanCode(String);

impl PlanCode {
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlanCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A payment provider. Adding one means adding a variant here, an adapter
/// module, and its price ids in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Stripe,
    Razorpay,
    Paypal,
    Cashfree,
    Paddle,
    /// The in-process test provider of local runs and tests; a deployment
    /// accepts it only when explicitly switched on.
    Sandbox,
}

impl Provider {
    pub const ALL: &'static [Provider] = &[
        Provider::Stripe,
        Provider::Razorpay,
        Provider::Paypal,
        Provider::Cashfree,
        Provider::Paddle,
        Provider::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Razorpay => "razorpay",
            Provider::Paypal => "paypal",
            Provider::Cashfree => "cashfree",
            Provider::Paddle => "paddle",
            Provider::Sandbox => "sandbox",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that this deployment does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// Seconds since the Unix epoch, as providers report event and period times.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    pub fn seconds(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_reject_empty_long_and_unsafe_characters() {
        assert!(TenantId::parse("org_42").is_ok());
        assert!(TenantId::parse("").is_err());
        assert!(TenantId::parse(&"a".repeat(129)).is_err());
        assert!(TenantId::parse("a#b").is_err());
        assert!(TenantId::parse("a b").is_err());
    }

    #[test]
    fn provider_names_round_trip_and_unknown_ones_are_rejected() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), *p);
        }
        assert_eq!(
            "paypal2".parse::<Provider>(),
            Err(UnknownProvider("paypal2".into()))
        );
    }
}
