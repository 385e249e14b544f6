//! Money as an integer count of minor units (cents, paise) plus an ISO 4217
//! currency code. Never a float.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in the currency's minor unit, e.g. 1999 for $19.99.
    pub amount_minor: i64,
    /// Lowercase ISO 4217 code, as Stripe reports it (`usd`, `inr`).
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: &str) -> Self {
        Self {
            amount_minor,
            currency: currency.to_ascii_lowercase(),
        }
    }
}
