//! Tax rates as dated data (`infra/tax-rates.json`), not code: a rate
//! change is a new entry with the day it takes effect. The lookup takes the
//! entry of the country with the latest `from` on or before the date.

use super::calendar::Date;
use super::regions::is_country;
use serde::Deserialize;

/// One rate: a country's standard rate for digital services from a day on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateEntry {
    pub country: String,
    /// 1800 = 18%.
    pub rate_basis_points: u32,
    pub from: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RatesInput {
    pub rates: Vec<RateEntry>,
    /// Where the figures come from, for the reader of the file.
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRates {
    entries: Vec<RateEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatesError {
    #[error("tax rates: {0:?} is not an ISO 3166-1 alpha-2 country")]
    Country(String),
    #[error("tax rates: {country} has a rate of {rate_basis_points} basis points, above 100%")]
    Rate {
        country: String,
        rate_basis_points: u32,
    },
    #[error("tax rates: {country} has two entries from {from}")]
    Duplicate { country: String, from: Date },
}

impl TaxRates {
    pub fn new(input: RatesInput) -> Result<TaxRates, RatesError> {
        let mut entries = input.rates;
        for e in &entries {
            if !is_country(&e.country) {
                return Err(RatesError::Country(e.country.clone()));
            }
            if e.rate_basis_points > 10_000 {
                return Err(RatesError::Rate {
                    country: e.country.clone(),
                    rate_basis_points: e.rate_basis_points,
                });
            }
        }
        entries.sort_by(|a, b| (&a.country, a.from).cmp(&(&b.country, b.from)));
        if let Some(pair) = entries
            .windows(2)
            .find(|w| w[0].country == w[1].country && w[0].from == w[1].from)
        {
            return Err(RatesError::Duplicate {
                country: pair[0].country.clone(),
                from: pair[0].from,
            });
        }
        Ok(TaxRates { entries })
    }

    /// The rate in force in `country` on `date`.
    pub fn rate(&self, country: &str, date: Date) -> Option<u32> {
        self.entries
            .iter()
            .filter(|e| e.country == country && e.from <= date)
            .max_by_key(|e| e.from)
            .map(|e| e.rate_basis_points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(country: &str, bp: u32, from: &str) -> RateEntry {
        RateEntry {
            country: country.into(),
            rate_basis_points: bp,
            from: Date::parse(from).unwrap(),
        }
    }

    #[test]
    fn the_rate_in_force_is_the_latest_that_started_on_or_before_the_day() {
        let rates = TaxRates::new(RatesInput {
            rates: vec![
                entry("FI", 2550, "2024-09-01"),
                entry("FI", 2400, "2013-01-01"),
            ],
            sources: vec![],
        })
        .unwrap();
        let on = |d| rates.rate("FI", Date::parse(d).unwrap());
        assert_eq!(on("2024-08-31"), Some(2400));
        assert_eq!(on("2024-09-01"), Some(2550));
        assert_eq!(on("2012-12-31"), None);
        assert_eq!(rates.rate("SE", Date::parse("2026-01-01").unwrap()), None);
    }

    #[test]
    fn bad_tables_are_refused() {
        let bad = |rates| {
            TaxRates::new(RatesInput {
                rates,
                sources: vec![],
            })
            .unwrap_err()
        };
        assert_eq!(
            bad(vec![entry("EU", 2000, "2020-01-01")]),
            RatesError::Country("EU".into())
        );
        assert!(matches!(
            bad(vec![entry("DE", 10_001, "2020-01-01")]),
            RatesError::Rate { .. }
        ));
        assert!(matches!(
            bad(vec![
                entry("DE", 1900, "2020-01-01"),
                entry("DE", 1600, "2020-01-01")
            ]),
            RatesError::Duplicate { .. }
        ));
    }
}
