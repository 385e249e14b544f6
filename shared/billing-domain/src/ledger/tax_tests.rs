//! The tax vectors (each checked by hand in its comment) and the rounding
//! properties: totals add up, no split loses or creates a minor unit.

use super::*;
use crate::ids::UnixTime;
use crate::ledger::profile::{validate_profile, AddressInput, ProfileInput};
use crate::ledger::rates::RatesInput;
use crate::ledger::seller::tests::india_seller;
use proptest::prelude::*;

fn rates() -> TaxRates {
    let input: RatesInput =
        serde_json::from_str(include_str!("../../../../infra/tax-rates.json")).unwrap();
    TaxRates::new(input).unwrap()
}

fn buyer(country: &str, region: &str, tax_id: Option<&str>) -> BillingProfile {
    validate_profile(
        &ProfileInput {
            legal_name: "Buyer Ltd".into(),
            email: "ap@buyer.example".into(),
            address: AddressInput {
                line1: "1 Main Street".into(),
                line2: None,
                city: "City".into(),
                region: region.into(),
                postal_code: "12345".into(),
                country: country.into(),
            },
            tax_id: tax_id.map(str::to_owned),
        },
        UnixTime(0),
    )
    .unwrap()
}

fn seller_with(change: impl FnOnce(&mut Seller)) -> Seller {
    let mut seller = india_seller();
    change(&mut seller);
    seller
}

fn us_seller() -> Seller {
    seller_with(|s| {
        s.address.country = "US".into();
        s.address.region = "CA".into();
        s.gstin = None;
        s.eu_vat = None;
        s.gb_vat = None;
    })
}

fn day() -> Date {
    Date::parse("2026-06-15").unwrap()
}

fn ask(seller: &Seller, buyer: Option<&BillingProfile>, amount: i64) -> TaxBreakdown {
    compute_tax(
        &TaxQuestion {
            seller,
            buyer,
            amount_minor: amount,
            provider_tax_minor: None,
            date: day(),
        },
        &rates(),
    )
    .unwrap()
}

fn lines(b: &TaxBreakdown) -> Vec<(&'static str, u32, i64)> {
    b.lines
        .iter()
        .map(|l| (l.kind.as_str(), l.rate_basis_points, l.amount_minor))
        .collect()
}

#[test]
fn tax_vectors() {
    let india = india_seller(); // Maharashtra (27), tax-exclusive prices
    let maharashtra_b2b = buyer("IN", "27", Some("27AAACE1234F1Z6"));
    let karnataka_b2b = buyer("IN", "29", Some("29AABCB1234C1ZA"));
    let karnataka_b2c = buyer("IN", "Karnataka", None);

    // 1. Intra-state: ₹1,000.00 net, 18% GST = ₹180.00, split 9% + 9%.
    let b = ask(&india, Some(&maharashtra_b2b), 100_000);
    assert_eq!(b.treatment, Treatment::IndiaIntraState);
    assert_eq!(lines(&b), [("cgst", 900, 9_000), ("sgst", 900, 9_000)]);
    assert_eq!(
        (b.subtotal_minor, b.tax_minor, b.total_minor),
        (100_000, 18_000, 118_000)
    );
    assert_eq!(b.place_of_supply.state_name.as_deref(), Some("Maharashtra"));

    // 2. Inter-state, registered buyer in Karnataka: IGST 18% = ₹180.00,
    //    place of supply the buyer's GSTIN state.
    let b = ask(&india, Some(&karnataka_b2b), 100_000);
    assert_eq!(b.treatment, Treatment::IndiaInterState);
    assert_eq!(lines(&b), [("igst", 1800, 18_000)]);
    assert_eq!(b.place_of_supply.state_code.as_deref(), Some("29"));

    // 2b. Unregistered buyer: the address state decides (Karnataka, IGST).
    assert_eq!(
        ask(&india, Some(&karnataka_b2c), 100_000).treatment,
        Treatment::IndiaInterState
    );

    // 2c. No profile on record: the supplier's own state, CGST + SGST.
    assert_eq!(
        ask(&india, None, 100_000).treatment,
        Treatment::IndiaIntraState
    );

    // 3. Export to a US customer from India: zero-rated IGST, with the LUT legend.
    let us = buyer("US", "NY", None);
    let indian_only = seller_with(|s| {
        s.eu_vat = None;
        s.gb_vat = None;
    });
    let b = ask(&indian_only, Some(&us), 100_000);
    assert_eq!(b.treatment, Treatment::IndiaExport);
    assert_eq!(lines(&b), [("igst", 0, 0)]);
    assert_eq!(b.total_minor, 100_000);
    assert!(b.legend.as_deref().unwrap().contains("LUT AD270326000123X"));

    // 4-6. EU B2C at the buyer's country rate (seller in the non-Union OSS):
    //      Germany 19% of €10.00 = €1.90; France 20% = €2.00; Finland 25.5%
    //      = €2.55 (the 2024-09-01 rate).
    for (country, region, rate, tax) in [
        ("DE", "BE", 1900, 190),
        ("FR", "IDF", 2000, 200),
        ("FI", "Uusimaa", 2550, 255),
    ] {
        let b = ask(&india, Some(&buyer(country, region, None)), 1_000);
        assert_eq!(b.treatment, Treatment::EuVat, "{country}");
        assert_eq!(lines(&b), [("vat", rate, tax)], "{country}");
        assert_eq!(b.total_minor, 1_000 + tax);
    }

    // 7. EU B2B with a German VAT id, seller not established in Germany:
    //    reverse charge at 0% with the Article 196 legend.
    let b = ask(&india, Some(&buyer("DE", "BE", Some("DE123456789"))), 1_000);
    assert_eq!(b.treatment, Treatment::EuReverseCharge);
    assert_eq!(lines(&b), [("vat", 0, 0)]);
    assert!(b.legend.as_deref().unwrap().contains("Article 196"));

    // 7b. ...but a German seller charges a German business German VAT.
    let german = seller_with(|s| {
        s.address.country = "DE".into();
        s.address.region = "BE".into();
        s.gstin = None;
    });
    let b = ask(
        &german,
        Some(&buyer("DE", "BE", Some("DE123456789"))),
        1_000,
    );
    assert_eq!(lines(&b), [("vat", 1900, 190)]);

    // 8. UK consumer: 20% of £10.00 = £2.00; a UK business: reverse charge.
    assert_eq!(
        lines(&ask(&india, Some(&buyer("GB", "London", None)), 1_000)),
        [("vat", 2000, 200)]
    );
    let b = ask(
        &india,
        Some(&buyer("GB", "London", Some("GB123456789"))),
        1_000,
    );
    assert_eq!(b.treatment, Treatment::GbReverseCharge);

    // 9. A US seller with no registrations, US buyer: no tax at all.
    let b = ask(&us_seller(), Some(&us), 1_000);
    assert_eq!(b.treatment, Treatment::NotTaxed);
    assert!(b.lines.is_empty());
    assert_eq!(
        (b.subtotal_minor, b.tax_minor, b.total_minor),
        (1_000, 0, 1_000)
    );

    // 10. Tax-inclusive, odd minor unit: ₹10.01 collected at 18% inside.
    //     net = round(1001 / 1.18) = round(848.305) = 848; GST = 153;
    //     CGST = round(76.5) = 77, SGST = 76; 848 + 77 + 76 = 1001.
    let inclusive = seller_with(|s| s.prices_include_tax = true);
    let b = ask(&inclusive, Some(&maharashtra_b2b), 1_001);
    assert_eq!(
        (b.subtotal_minor, b.tax_minor, b.total_minor),
        (848, 153, 1_001)
    );
    assert_eq!(lines(&b), [("cgst", 900, 77), ("sgst", 900, 76)]);

    // 11. Tax-exclusive, odd GST: 18% of 1003 = 180.54 → 181; CGST 91, SGST 90.
    let b = ask(&india, None, 1_003);
    assert_eq!(lines(&b), [("cgst", 900, 91), ("sgst", 900, 90)]);
    assert_eq!(b.total_minor, 1_184);

    // 12. The provider computed the tax (Stripe total_taxes): ₹118.00 paid,
    //     ₹18.00 of it tax, split by our treatment.
    let b = compute_tax(
        &TaxQuestion {
            seller: &india,
            buyer: Some(&karnataka_b2b),
            amount_minor: 11_800,
            provider_tax_minor: Some(1_800),
            date: day(),
        },
        &rates(),
    )
    .unwrap();
    assert_eq!((b.subtotal_minor, b.total_minor), (10_000, 11_800));
    assert_eq!(lines(&b), [("igst", 1800, 1_800)]);

    // 13. A refund mirrors the invoice: −₹10.01 inclusive gives −848, −77, −76.
    let b = ask(&inclusive, Some(&maharashtra_b2b), -1_001);
    assert_eq!(
        (b.subtotal_minor, b.tax_minor, b.total_minor),
        (-848, -153, -1_001)
    );
    assert_eq!(lines(&b), [("cgst", 900, -77), ("sgst", 900, -76)]);
}

#[test]
fn a_missing_rate_or_an_impossible_provider_tax_is_an_error() {
    let india = india_seller();
    let before_gst = Date::parse("2017-06-30").unwrap();
    let question = TaxQuestion {
        seller: &india,
        buyer: None,
        amount_minor: 100,
        provider_tax_minor: None,
        date: before_gst,
    };
    assert!(matches!(
        compute_tax(&question, &rates()),
        Err(TaxError::NoRate { .. })
    ));
    let question = TaxQuestion {
        date: day(),
        provider_tax_minor: Some(101),
        ..question
    };
    assert!(matches!(
        compute_tax(&question, &rates()),
        Err(TaxError::ProviderTaxTooLarge { .. })
    ));
}

fn any_buyer() -> impl Strategy<Value = Option<BillingProfile>> {
    prop_oneof![
        Just(None),
        Just(Some(buyer("IN", "27", Some("27AAACE1234F1Z6")))),
        Just(Some(buyer("IN", "29", None))),
        Just(Some(buyer("DE", "BE", None))),
        Just(Some(buyer("DE", "BE", Some("DE123456789")))),
        Just(Some(buyer("FI", "Uusimaa", None))),
        Just(Some(buyer("GB", "London", None))),
        Just(Some(buyer("US", "NY", None))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Whatever the amount, sign, buyer and pricing, the lines add up to the
    /// tax, the tax and net to the total, an inclusive total is exactly
    /// the amount collected, CGST and SGST differ by at most one minor unit,
    /// and the tax is within half a minor unit of the exact figure.
    #[test]
    fn totals_always_add_up(
        amount in -10_000_000_000i64..10_000_000_000,
        inclusive in any::<bool>(),
        buyer in any_buyer(),
    ) {
        let seller = seller_with(|s| s.prices_include_tax = inclusive);
        let b = compute_tax(
            &TaxQuestion { seller: &seller, buyer: buyer.as_ref(), amount_minor: amount, provider_tax_minor: None, date: day() },
            &rates(),
        ).unwrap();
        let line_sum: i64 = b.lines.iter().map(|l| l.amount_minor).sum();
        prop_assert_eq!(line_sum, b.tax_minor);
        prop_assert_eq!(b.subtotal_minor + b.tax_minor, b.total_minor);
        if inclusive { prop_assert_eq!(b.total_minor, amount); } else { prop_assert_eq!(b.subtotal_minor, amount); }
        if let [c, s] = b.lines.as_slice() {
            prop_assert!((c.amount_minor - s.amount_minor).abs() <= 1);
            prop_assert!(c.amount_minor.abs() >= s.amount_minor.abs());
        }
        let rate: i128 = b.lines.iter().map(|l| i128::from(l.rate_basis_points)).sum();
        let (net, tax) = (i128::from(b.subtotal_minor).abs(), i128::from(b.tax_minor).abs());
        if inclusive {
            // |tax − gross·r/(1+r)| ≤ ½  ⇔  |tax·(10000+r) − gross·r| ≤ (10000+r)/2
            let gross = i128::from(amount).abs();
            prop_assert!((tax * (10_000 + rate) - gross * rate).abs() * 2 <= 10_000 + rate);
        } else {
            prop_assert!((tax * 10_000 - net * rate).abs() * 2 <= 10_000);
        }
    }

    /// A provider's own tax figure is kept exactly, whatever the split.
    #[test]
    fn provider_tax_is_kept_exactly(gross in 0i64..1_000_000_000, share in 0u32..=100, buyer in any_buyer()) {
        let tax = gross / 100 * i64::from(share) / 4;
        let seller = india_seller();
        let b = compute_tax(
            &TaxQuestion { seller: &seller, buyer: buyer.as_ref(), amount_minor: gross, provider_tax_minor: Some(tax), date: day() },
            &rates(),
        ).unwrap();
        prop_assert_eq!(b.tax_minor, tax);
        prop_assert_eq!(b.total_minor, gross);
        prop_assert_eq!(b.lines.iter().map(|l| l.amount_minor).sum::<i64>(), tax);
    }
}
