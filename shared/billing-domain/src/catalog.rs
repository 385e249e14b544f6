//! The plan catalog: codes, names, intervals, prices, the provider price ids a
//! plan maps to, and the entitlements it grants. It is loaded from
//! `infra/plans.json` (compiled into each function) and validated once at init.

use crate::ids::{PlanCode, Provider};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Month,
    Year,
}

/// One entitlement: a feature flag or a numeric limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EntitlementValue {
    Flag(bool),
    Limit(u64),
}

/// Feature name → flag or limit, e.g. `{"projects": 10, "sso": true}`.
pub type Entitlements = BTreeMap<String, EntitlementValue>;

/// A provider's identifier for a plan's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderPrice {
    pub price_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub code: PlanCode,
    pub display_name: String,
    pub interval: Interval,
    pub active: bool,
    pub price: Money,
    #[serde(default)]
    pub providers: BTreeMap<Provider, ProviderPrice>,
    #[serde(default)]
    pub entitlements: Entitlements,
    /// The fewest seats a subscription to this plan may have.
    #[serde(default = "one_seat")]
    pub min_seats: u32,
    /// The most seats, if the plan caps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seats: Option<u32>,
}

fn one_seat() -> u32 {
    1
}

impl Plan {
    /// Paid plans go through a provider checkout; the free plan never does.
    pub fn is_free(&self) -> bool {
        self.price.amount_minor == 0
    }

    pub fn price_id(&self, provider: Provider) -> Option<&str> {
        self.providers.get(&provider).map(|p| p.price_id.as_str())
    }

    /// Whether a subscription to this plan may have `seats` seats.
    pub fn allows_seats(&self, seats: u32) -> bool {
        seats >= self.min_seats && self.max_seats.is_none_or(|max| seats <= max)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid JSON: {0}")]
    Malformed(String),
    #[error("catalog has no plan with code \"free\"; tenants without a subscription need it")]
    NoFreePlan,
    #[error("the free plan must cost nothing and map to no provider price")]
    FreePlanIsPaid,
    #[error("plan code {0:?} appears more than once")]
    DuplicateCode(String),
    #[error("plan code {0:?} must be lowercase letters, digits, '-' or '_'")]
    BadCode(String),
    #[error("{provider} price id {price_id:?} is mapped by more than one plan")]
    DuplicatePriceId {
        provider: Provider,
        price_id: String,
    },
    #[error("active paid plan {0:?} maps to no provider price, so nobody could buy it")]
    UnpurchasablePlan(String),
    #[error("plan {0:?} has a negative price")]
    NegativePrice(String),
    #[error("plan {0:?} needs minSeats of at least 1 and maxSeats (if any) of at least minSeats")]
    BadSeatBounds(String),
}

/// The validated catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    plans: Vec<Plan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    plans: Vec<Plan>,
}

pub const FREE_PLAN: &str = "free";

impl Catalog {
    pub fn from_json(json: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile =
            serde_json::from_str(json).map_err(|e| CatalogError::Malformed(e.to_string()))?;
        Self::new(file.plans)
    }

    pub fn new(plans: Vec<Plan>) -> Result<Self, CatalogError> {
        let mut codes = BTreeSet::new();
        let mut price_ids = BTreeSet::new();
        for plan in &plans {
            let code = plan.code.as_str();
            let code_ok = !code.is_empty()
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !code_ok {
                return Err(CatalogError::BadCode(code.to_owned()));
            }
            if !codes.insert(code) {
                return Err(CatalogError::DuplicateCode(code.to_owned()));
            }
            if plan.price.amount_minor < 0 {
                return Err(CatalogError::NegativePrice(code.to_owned()));
            }
            if plan.min_seats == 0 || plan.max_seats.is_some_and(|max| max < plan.min_seats) {
                return Err(CatalogError::BadSeatBounds(code.to_owned()));
            }
            for (provider, price) in &plan.providers {
                if !price_ids.insert((*provider, price.price_id.as_str())) {
                    return Err(CatalogError::DuplicatePriceId {
                        provider: *provider,
                        price_id: price.price_id.clone(),
                    });
                }
            }
            if plan.active && !plan.is_free() && plan.providers.is_empty() && code != FREE_PLAN {
                return Err(CatalogError::UnpurchasablePlan(code.to_owned()));
            }
        }
        let free = plans
            .iter()
            .find(|p| p.code.as_str() == FREE_PLAN)
            .ok_or(CatalogError::NoFreePlan)?;
        if !free.is_free() || !free.providers.is_empty() {
            return Err(CatalogError::FreePlanIsPaid);
        }
        Ok(Self { plans })
    }

    pub fn plan(&self, code: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.code.as_str() == code)
    }

    pub fn free_plan(&self) -> &Plan {
        self.plan(FREE_PLAN)
            .expect("validated catalog always has a free plan")
    }

    /// Plans shown on a pricing page, in catalog order.
    pub fn active_plans(&self) -> impl Iterator<Item = &Plan> {
        self.plans.iter().filter(|p| p.active)
    }

    /// The plan a provider's price id belongs to, active or not: a retired
    /// plan's existing subscribers must still resolve.
    pub fn plan_for_price(&self, provider: Provider, price_id: &str) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.price_id(provider) == Some(price_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"plans":[
        {"code":"free","displayName":"Free","interval":"month","active":true,
         "price":{"amount_minor":0,"currency":"usd"},"entitlements":{"projects":1}},
        {"code":"pro","displayName":"Pro","interval":"month","active":true,
         "price":{"amount_minor":1900,"currency":"usd"},
         "providers":{"stripe":{"priceId":"price_pro"}},
         "entitlements":{"projects":10,"sso":false}},
        {"code":"legacy","displayName":"Legacy","interval":"year","active":false,
         "price":{"amount_minor":9900,"currency":"usd"},
         "providers":{"stripe":{"priceId":"price_legacy"}}}
    ]}"#;

    fn with_plans(plans: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_json(&format!(r#"{{"plans":[{plans}]}}"#))
    }

    const FREE: &str = r#"{"code":"free","displayName":"Free","interval":"month","active":true,"price":{"amount_minor":0,"currency":"usd"}}"#;

    #[test]
    fn valid_catalog_resolves_codes_prices_and_active_plans() {
        let catalog = Catalog::from_json(VALID).unwrap();
        assert_eq!(
            catalog.plan("pro").unwrap().price_id(Provider::Stripe),
            Some("price_pro")
        );
        assert_eq!(
            catalog
                .plan_for_price(Provider::Stripe, "price_legacy")
                .unwrap()
                .code
                .as_str(),
            "legacy"
        );
        let active: Vec<_> = catalog.active_plans().map(|p| p.code.as_str()).collect();
        assert_eq!(active, ["free", "pro"]);
        assert_eq!(
            catalog.plan("pro").unwrap().entitlements.get("projects"),
            Some(&EntitlementValue::Limit(10))
        );
    }

    #[test]
    fn seat_bounds_default_to_one_and_no_cap() {
        let catalog = Catalog::from_json(VALID).unwrap();
        let pro = catalog.plan("pro").unwrap();
        assert_eq!((pro.min_seats, pro.max_seats), (1, None));
        assert!(!pro.allows_seats(0));
        assert!(pro.allows_seats(1) && pro.allows_seats(10_000));
        let capped =
            with_plans(&FREE.replace("\"active\"", "\"minSeats\":2,\"maxSeats\":5,\"active\""))
                .unwrap();
        let free = capped.free_plan();
        assert_eq!(
            (1..=6).map(|n| free.allows_seats(n)).collect::<Vec<_>>(),
            [false, true, true, true, true, false]
        );
    }

    #[test]
    fn committed_catalog_is_valid() {
        let catalog = Catalog::from_json(include_str!("../../../infra/plans.json")).unwrap();
        assert!(catalog.active_plans().any(|p| !p.is_free()));
    }

    #[test]
    fn catalog_without_free_plan_is_rejected() {
        let pro = r#"{"code":"pro","displayName":"Pro","interval":"month","active":true,"price":{"amount_minor":1,"currency":"usd"},"providers":{"stripe":{"priceId":"p"}}}"#;
        assert_eq!(with_plans(pro), Err(CatalogError::NoFreePlan));
    }

    #[test]
    fn duplicate_codes_and_price_ids_are_rejected() {
        assert_eq!(
            with_plans(&format!("{FREE},{FREE}")),
            Err(CatalogError::DuplicateCode("free".into()))
        );
        let a = r#"{"code":"a","displayName":"A","interval":"month","active":true,"price":{"amount_minor":1,"currency":"usd"},"providers":{"stripe":{"priceId":"same"}}}"#;
        let b = a.replace("\"a\"", "\"b\"");
        assert!(matches!(
            with_plans(&format!("{FREE},{a},{b}")),
            Err(CatalogError::DuplicatePriceId { .. })
        ));
    }

    #[test]
    fn active_paid_plan_without_price_id_is_rejected() {
        let a = r#"{"code":"a","displayName":"A","interval":"month","active":true,"price":{"amount_minor":1,"currency":"usd"}}"#;
        assert_eq!(
            with_plans(&format!("{FREE},{a}")),
            Err(CatalogError::UnpurchasablePlan("a".into()))
        );
    }

    #[test]
    fn bad_codes_negative_prices_paid_free_and_unknown_fields_are_rejected() {
        let upper = FREE.replace("\"free\"", "\"Free Plan\"");
        assert!(matches!(
            with_plans(&format!("{FREE},{upper}")),
            Err(CatalogError::BadCode(_))
        ));
        let neg = r#"{"code":"n","displayName":"N","interval":"month","active":false,"price":{"amount_minor":-1,"currency":"usd"}}"#;
        assert_eq!(
            with_plans(&format!("{FREE},{neg}")),
            Err(CatalogError::NegativePrice("n".into()))
        );
        let paid_free = FREE.replace("\"amount_minor\":0", "\"amount_minor\":5");
        assert_eq!(with_plans(&paid_free), Err(CatalogError::FreePlanIsPaid));
        let typo = FREE.replace("\"active\"", "\"actve\"");
        assert!(matches!(with_plans(&typo), Err(CatalogError::Malformed(_))));
        let no_seats = FREE.replace("\"active\"", "\"minSeats\":0,\"active\"");
        assert_eq!(
            with_plans(&no_seats),
            Err(CatalogError::BadSeatBounds("free".into()))
        );
        let inverted = FREE.replace("\"active\"", "\"minSeats\":3,\"maxSeats\":2,\"active\"");
        assert_eq!(
            with_plans(&inverted),
            Err(CatalogError::BadSeatBounds("free".into()))
        );
        let float_price = FREE.replace("\"amount_minor\":0", "\"amount_minor\":0.5");
        assert!(matches!(
            with_plans(&float_price),
            Err(CatalogError::Malformed(_))
        ));
    }
}
