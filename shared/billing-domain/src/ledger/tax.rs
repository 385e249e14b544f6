//! The tax rules: from the seller, the buyer's profile, the amount and the
//! day, which tax applies and how much of the amount it is.
//!
//! | buyer | seller registered | treatment |
//! | --- | --- | --- |
//! | India (or no profile, for an Indian seller) | GSTIN | place of supply in the seller's state: CGST + SGST at half the rate each; another state: IGST |
//! | outside India, no registration of the seller there | GSTIN | export of services, zero-rated IGST |
//! | EU, no VAT id, or a VAT id of the seller's own country | EU VAT | VAT at the buyer's country rate |
//! | EU, VAT id of another member state | EU VAT | reverse charge, 0%, with the Article 196 legend |
//! | UK | GB VAT | 20%, or reverse charge for a VAT-registered business when the seller is not UK-established |
//! | anything else | – | no tax |
//!
//! Place of supply in India (IGST Act s.12(2)): a registered buyer's GSTIN
//! state; an unregistered buyer's address state; with no profile on record,
//! the seller's own state.
//!
//! **Rounding.** Half-up at the minor unit, on the magnitude (a credit note
//! rounds like the invoice it mirrors). Tax-exclusive: tax = round(net ×
//! rate), total = net + tax. Tax-inclusive: net = round(gross / (1 + rate)),
//! tax = gross − net, so the total is exactly the amount collected. The GST
//! total is rounded once and split: CGST = round(total / 2), SGST = total −
//! CGST, so CGST + SGST = the GST total and an odd paisa goes to CGST. When
//! the provider computed the tax itself, its figure is used as it is.

use super::calendar::Date;
use super::profile::BillingProfile;
use super::rates::TaxRates;
use super::regions::{india_state_name, is_eu_member};
use super::seller::Seller;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    Cgst,
    Sgst,
    Igst,
    Vat,
    /// Tax a provider charged under rules of its own (US sales tax, ...).
    Tax,
}

impl TaxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxKind::Cgst => "cgst",
            TaxKind::Sgst => "sgst",
            TaxKind::Igst => "igst",
            TaxKind::Vat => "vat",
            TaxKind::Tax => "tax",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub kind: TaxKind,
    pub rate_basis_points: u32,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    IndiaIntraState,
    IndiaInterState,
    IndiaExport,
    EuVat,
    EuReverseCharge,
    GbVat,
    GbReverseCharge,
    NotTaxed,
}

/// Where the supply is taxed: a country, and in India the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOfSupply {
    pub country: String,
    pub state_code: Option<String>,
    pub state_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxBreakdown {
    pub treatment: Treatment,
    pub place_of_supply: PlaceOfSupply,
    pub subtotal_minor: i64,
    pub lines: Vec<TaxLine>,
    pub tax_minor: i64,
    pub total_minor: i64,
    /// What the invoice must say about the treatment (reverse charge, export).
    pub legend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    #[error("no tax rate for {country} on {date} in the rates table")]
    NoRate { country: String, date: Date },
    #[error("the provider's tax ({tax}) exceeds the amount collected ({amount})")]
    ProviderTaxTooLarge { tax: i64, amount: i64 },
}

/// The figures one document is built from.
#[derive(Debug, Clone, Copy)]
pub struct TaxQuestion<'a> {
    pub seller: &'a Seller,
    pub buyer: Option<&'a BillingProfile>,
    /// What the provider collected (negative for a refund).
    pub amount_minor: i64,
    /// The provider's own tax total, when it computed tax.
    pub provider_tax_minor: Option<i64>,
    pub date: Date,
}

/// Which treatment applies, and where the supply takes place.
pub fn treatment(seller: &Seller, buyer: Option<&BillingProfile>) -> (Treatment, PlaceOfSupply) {
    let country = buyer.map_or(seller.address.country.as_str(), |b| {
        b.address.country.as_str()
    });
    let registered_buyer = buyer.is_some_and(|b| b.tax_id.is_some());
    let place = |state: Option<&str>| PlaceOfSupply {
        country: country.to_owned(),
        state_code: state.map(str::to_owned),
        state_name: state.and_then(india_state_name).map(str::to_owned),
    };
    let export = || {
        if seller.gstin.is_some() {
            (Treatment::IndiaExport, place(None))
        } else {
            (Treatment::NotTaxed, place(None))
        }
    };
    match country {
        "IN" if seller.gstin.is_some() => {
            let seller_state = seller.address.region.as_str();
            let state = match buyer {
                None => seller_state,
                Some(b) => b
                    .tax_id
                    .as_ref()
                    .and_then(|id| id.gst_state())
                    .unwrap_or(b.address.region.as_str()),
            };
            let treatment = if state == seller_state {
                Treatment::IndiaIntraState
            } else {
                Treatment::IndiaInterState
            };
            (treatment, place(Some(state)))
        }
        "IN" => (Treatment::NotTaxed, place(None)),
        c if is_eu_member(c) && seller.eu_vat.is_some() => {
            if registered_buyer && !seller.is_established_in(c) {
                (Treatment::EuReverseCharge, place(None))
            } else {
                (Treatment::EuVat, place(None))
            }
        }
        "GB" if seller.gb_vat.is_some() => {
            if registered_buyer && !seller.is_established_in("GB") {
                (Treatment::GbReverseCharge, place(None))
            } else {
                (Treatment::GbVat, place(None))
            }
        }
        _ => export(),
    }
}

/// `n / d` rounded half-up, for `n >= 0`, `d > 0`.
fn div_half_up(n: i128, d: i128) -> i128 {
    (2 * n + d) / (2 * d)
}

/// The tax lines and totals of one document.
pub fn compute_tax(q: &TaxQuestion<'_>, rates: &TaxRates) -> Result<TaxBreakdown, TaxError> {
    let (treatment, place) = treatment(q.seller, q.buyer);
    let rate = |country: &str| {
        rates.rate(country, q.date).ok_or_else(|| TaxError::NoRate {
            country: country.to_owned(),
            date: q.date,
        })
    };
    let rate_bp = match treatment {
        Treatment::IndiaIntraState | Treatment::IndiaInterState => rate("IN")?,
        Treatment::EuVat => rate(&place.country)?,
        Treatment::GbVat => rate("GB")?,
        Treatment::IndiaExport
        | Treatment::EuReverseCharge
        | Treatment::GbReverseCharge
        | Treatment::NotTaxed => 0,
    };

    // Work on the magnitude; a refund mirrors its sign at the end.
    let sign = if q.amount_minor < 0 { -1 } else { 1 };
    let amount = i128::from(q.amount_minor).abs();
    let (subtotal, tax) = match q.provider_tax_minor {
        Some(provider_tax) => {
            let tax = i128::from(provider_tax).abs();
            if tax > amount {
                return Err(TaxError::ProviderTaxTooLarge {
                    tax: provider_tax,
                    amount: q.amount_minor,
                });
            }
            (amount - tax, tax)
        }
        None if q.seller.prices_include_tax => {
            let net = div_half_up(amount * 10_000, 10_000 + i128::from(rate_bp));
            (net, amount - net)
        }
        None => (amount, div_half_up(amount * i128::from(rate_bp), 10_000)),
    };
    // A provider that charged tax where our rules say none (US sales tax,
    // say) still shows it, at the rate its figures imply.
    let shown_rate = if rate_bp == 0 && tax > 0 && subtotal > 0 {
        div_half_up(tax * 10_000, subtotal) as u32
    } else {
        rate_bp
    };
    let line = |kind, rate_basis_points, amount: i128| TaxLine {
        kind,
        rate_basis_points,
        amount_minor: (amount as i64) * sign,
    };
    let lines = match treatment {
        Treatment::IndiaIntraState => {
            let cgst = div_half_up(tax, 2);
            vec![
                line(TaxKind::Cgst, shown_rate / 2, cgst),
                line(TaxKind::Sgst, shown_rate - shown_rate / 2, tax - cgst),
            ]
        }
        Treatment::IndiaInterState | Treatment::IndiaExport => {
            vec![line(TaxKind::Igst, shown_rate, tax)]
        }
        Treatment::EuVat
        | Treatment::EuReverseCharge
        | Treatment::GbVat
        | Treatment::GbReverseCharge => {
            vec![line(TaxKind::Vat, shown_rate, tax)]
        }
        Treatment::NotTaxed if tax > 0 => vec![line(TaxKind::Tax, shown_rate, tax)],
        Treatment::NotTaxed => Vec::new(),
    };
    Ok(TaxBreakdown {
        treatment,
        legend: legend(treatment, q.seller),
        place_of_supply: place,
        subtotal_minor: (subtotal as i64) * sign,
        tax_minor: (tax as i64) * sign,
        total_minor: ((subtotal + tax) as i64) * sign,
        lines,
    })
}

fn legend(treatment: Treatment, seller: &Seller) -> Option<String> {
    match treatment {
        Treatment::EuReverseCharge => Some(
            "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC)".into(),
        ),
        Treatment::GbReverseCharge => {
            Some("Reverse charge: customer to account for the VAT to HMRC".into())
        }
        Treatment::IndiaExport => Some(match &seller.export_lut {
            Some(lut) => format!(
                "Export of services: zero-rated supply under LUT {lut}, without payment of IGST"
            ),
            None => "Export of services: zero-rated supply (IGST Act, section 16)".into(),
        }),
        _ => None,
    }
}

#[cfg(test)]
#[path = "tax_tests.rs"]
mod tests;
