//! Our tax invoice: drafted from a successful payment, the seller and the
//! buyer's profile as they are at that moment (snapshots, so a later edit
//! rewrites no history), then numbered by the store's gapless counter in
//! the same commit as the event.

use super::calendar::Date;
use super::numbering::{DocumentNumber, NumberingError, Series};
use super::payment::{ChargeLine, MethodSummary, PaymentFacts};
use super::profile::{Address, BillingProfile};
use super::rates::TaxRates;
use super::seller::{Seller, SellerSnapshot};
use super::tax::{compute_tax, PlaceOfSupply, TaxError, TaxLine, TaxQuestion, Treatment};
use super::tax_id::TaxId;
use crate::ids::{Provider, TenantId, UnixTime};
use serde::{Deserialize, Serialize};

/// An invoice, or a credit note giving back (part of) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    #[default]
    Invoice,
    CreditNote,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Settled: paid, or for a credit note, the money given back.
    Paid,
    /// Cancelled by an admin (to re-issue with corrected details); keeps its number.
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// URL-safe id: the number with `-` for `/`.
    pub id: String,
    /// What the law and the customer see, e.g. `INV/26-27/000123`.
    pub number: String,
    pub sequence: u64,
    #[serde(default)]
    pub kind: DocumentKind,
    /// For a credit note, the number of the invoice it credits. Its amounts
    /// are negative: it takes them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_of: Option<String>,
    pub tenant_id: TenantId,
    pub provider: Provider,
    /// The provider's invoice or transaction id.
    pub source_id: Option<String>,
    pub payment_id: String,
    pub issued_at: UnixTime,
    /// The issue date on the seller's clock.
    pub issue_date: Date,
    pub paid_at: UnixTime,
    pub period_start: Option<UnixTime>,
    pub period_end: Option<UnixTime>,
    pub currency: String,
    pub lines: Vec<ChargeLine>,
    pub subtotal_minor: i64,
    pub tax_lines: Vec<TaxLine>,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub amount_paid_minor: i64,
    pub treatment: Treatment,
    pub place_of_supply: PlaceOfSupply,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<MethodSummary>,
    pub seller: SellerSnapshot,
    /// `None` when the tenant had no billing profile when it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<BuyerSnapshot>,
    pub status: InvoiceStatus,
}

/// What an invoice keeps of the buyer's profile as it was when issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerSnapshot {
    pub legal_name: String,
    pub email: String,
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<TaxId>,
}

impl From<&BillingProfile> for BuyerSnapshot {
    fn from(profile: &BillingProfile) -> Self {
        BuyerSnapshot {
            legal_name: profile.legal_name.clone(),
            email: profile.email.clone(),
            address: profile.address.clone(),
            tax_id: profile.tax_id.clone(),
        }
    }
}

impl Invoice {
    /// The series the number belongs to: the number without its sequence.
    pub fn series(&self) -> Series {
        Series::of_number(&self.number)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error(transparent)]
    Tax(#[from] TaxError),
    #[error(transparent)]
    Numbering(#[from] NumberingError),
    #[error("a successful payment of {0} minor units cannot be invoiced")]
    NegativePayment(i64),
    #[error("refund of {refund} exceeds the {paid} paid on invoice {invoice}")]
    RefundExceedsInvoice {
        refund: i64,
        paid: i64,
        invoice: String,
    },
    #[error("refund in {refund} of an invoice in {invoice}")]
    RefundCurrency { refund: String, invoice: String },
}

/// An invoice with everything but its number, which only the commit that
/// stores it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDraft {
    series: Series,
    document: Invoice,
}

/// The description of the single line of an invoice whose provider listed none.
const SUBSCRIPTION_LINE: &str = "Subscription";
/// Covers what the provider's lines do not (discounts, credits, rounding).
const ADJUSTMENT_LINE: &str = "Discounts, credits and adjustments";

#[allow(clippy::too_many_arguments)]
pub fn draft_invoice(
    tenant: &TenantId,
    provider: Provider,
    facts: &PaymentFacts,
    buyer: Option<&BillingProfile>,
    seller: &Seller,
    rates: &TaxRates,
    issued_at: UnixTime,
) -> Result<InvoiceDraft, InvoiceError> {
    if facts.amount.amount_minor < 0 {
        return Err(InvoiceError::NegativePayment(facts.amount.amount_minor));
    }
    let issue_date = Date::at(issued_at, seller.utc_offset_minutes);
    let tax = compute_tax(
        &TaxQuestion {
            seller,
            buyer,
            amount_minor: facts.amount.amount_minor,
            provider_tax_minor: facts.tax_minor,
            date: issue_date,
        },
        rates,
    )?;
    let series = Series::for_date(
        &seller.invoice_series,
        issue_date,
        seller.financial_year_start_month,
    );
    let document = Invoice {
        id: String::new(),
        number: String::new(),
        sequence: 0,
        kind: DocumentKind::Invoice,
        credit_of: None,
        tenant_id: tenant.clone(),
        provider,
        source_id: facts.source_id.clone(),
        payment_id: facts.payment_id.clone(),
        issued_at,
        issue_date,
        paid_at: facts.at,
        period_start: facts.period_start,
        period_end: facts.period_end,
        currency: facts.amount.currency.clone(),
        lines: charge_lines(facts, tax.subtotal_minor, facts.amount.amount_minor),
        subtotal_minor: tax.subtotal_minor,
        tax_lines: tax.lines,
        tax_minor: tax.tax_minor,
        total_minor: tax.total_minor,
        amount_paid_minor: facts.amount.amount_minor,
        treatment: tax.treatment,
        place_of_supply: tax.place_of_supply,
        legend: tax.legend,
        payment_method: facts.method.clone(),
        seller: SellerSnapshot::of(seller, tax.treatment),
        buyer: buyer.map(BuyerSnapshot::from),
        status: InvoiceStatus::Paid,
    };
    Ok(InvoiceDraft { series, document })
}

/// A credit note for `refund` (money given back on the payment `original`
/// invoiced), in the seller's credit-note series. It keeps the original's
/// parties, treatment and place of supply: it corrects that supply. Each
/// tax line is the original's scaled by refund / total, half-up, so a full
/// refund takes back exactly what was invoiced; all amounts are negative.
pub fn draft_credit_note(
    original: &Invoice,
    refund: &PaymentFacts,
    seller: &Seller,
    issued_at: UnixTime,
) -> Result<InvoiceDraft, InvoiceError> {
    let amount = refund.amount.amount_minor;
    if refund.amount.currency != original.currency {
        return Err(InvoiceError::RefundCurrency {
            refund: refund.amount.currency.clone(),
            invoice: original.currency.clone(),
        });
    }
    if amount <= 0 || amount > original.total_minor {
        return Err(InvoiceError::RefundExceedsInvoice {
            refund: amount,
            paid: original.total_minor,
            invoice: original.number.clone(),
        });
    }
    let scale = |value: i64| -> i64 {
        let exact = i128::from(value) * i128::from(amount);
        let total = i128::from(original.total_minor);
        // Half-up on the magnitude, as the tax rules round.
        let magnitude = (2 * exact.abs() + total) / (2 * total);
        (magnitude as i64) * value.signum()
    };
    let tax_lines: Vec<TaxLine> = original
        .tax_lines
        .iter()
        .map(|line| TaxLine {
            amount_minor: -scale(line.amount_minor),
            ..line.clone()
        })
        .collect();
    let tax: i64 = tax_lines.iter().map(|l| l.amount_minor).sum();
    let total = -amount;
    let issue_date = Date::at(issued_at, seller.utc_offset_minutes);
    let series = Series::for_date(
        &seller.credit_note_series,
        issue_date,
        seller.financial_year_start_month,
    );
    let document = Invoice {
        id: String::new(),
        number: String::new(),
        sequence: 0,
        kind: DocumentKind::CreditNote,
        credit_of: Some(original.number.clone()),
        source_id: refund.source_id.clone(),
        payment_id: refund.payment_id.clone(),
        issued_at,
        issue_date,
        paid_at: refund.at,
        lines: vec![ChargeLine {
            description: format!("Credit for invoice {}", original.number),
            quantity: 1,
            amount_minor: total - tax,
            proration: false,
            period_start: original.period_start,
            period_end: original.period_end,
        }],
        subtotal_minor: total - tax,
        tax_lines,
        tax_minor: tax,
        total_minor: total,
        amount_paid_minor: total,
        payment_method: refund
            .method
            .clone()
            .or_else(|| original.payment_method.clone()),
        status: InvoiceStatus::Paid,
        ..original.clone()
    };
    Ok(InvoiceDraft { series, document })
}

/// The provider's lines when they add up to the net amount; lines that add
/// up to the amount collected, tax included (a tax-inclusive price), each
/// net of its share of the tax; otherwise the difference as its own line.
/// Either way the lines add up to the net amount.
fn charge_lines(facts: &PaymentFacts, subtotal: i64, gross: i64) -> Vec<ChargeLine> {
    let mut lines = facts.lines.clone();
    if lines.is_empty() {
        let description = match &facts.plan {
            Some(plan) => format!("{SUBSCRIPTION_LINE}: {plan}"),
            None => SUBSCRIPTION_LINE.to_owned(),
        };
        lines.push(ChargeLine {
            description,
            quantity: facts.seats.unwrap_or(1),
            amount_minor: subtotal,
            proration: false,
            period_start: facts.period_start,
            period_end: facts.period_end,
        });
        return lines;
    }
    let listed: i64 = lines.iter().map(|l| l.amount_minor).sum();
    if listed == gross && gross != subtotal && gross != 0 {
        // Each line's net share, half-up; the last takes what rounding left.
        let mut left = subtotal;
        let count = lines.len();
        for (i, line) in lines.iter_mut().enumerate() {
            let net = if i + 1 == count {
                left
            } else {
                let exact = i128::from(line.amount_minor) * i128::from(subtotal);
                let g = i128::from(gross);
                ((2 * exact + g.signum() * g) / (2 * g)) as i64
            };
            line.amount_minor = net;
            left -= net;
        }
        return lines;
    }
    if listed != subtotal {
        lines.push(ChargeLine {
            description: ADJUSTMENT_LINE.to_owned(),
            quantity: 1,
            amount_minor: subtotal - listed,
            proration: false,
            period_start: None,
            period_end: None,
        });
    }
    lines
}

impl InvoiceDraft {
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// The invoice numbered `sequence` in its series.
    pub fn issue(&self, sequence: u64) -> Result<Invoice, NumberingError> {
        let DocumentNumber {
            number,
            id,
            sequence,
        } = self.series.number(sequence)?;
        Ok(Invoice {
            id,
            number,
            sequence,
            ..self.document.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::payment::PaymentStatus;
    use crate::ledger::rates::RatesInput;
    use crate::ledger::seller::tests::india_seller;
    use crate::money::Money;

    fn facts(lines: Vec<ChargeLine>) -> PaymentFacts {
        PaymentFacts {
            payment_id: "in_1".into(),
            refund_of: None,
            status: PaymentStatus::Success,
            amount: Money::new(118_000, "inr"),
            tax_minor: Some(18_000),
            source_id: Some("in_1".into()),
            at: UnixTime(1_780_000_000),
            method: None,
            failure_code: None,
            period_start: None,
            period_end: None,
            plan: Some(crate::ids::PlanCode::new("pro")),
            seats: Some(3),
            lines,
        }
    }

    fn draft(lines: Vec<ChargeLine>) -> InvoiceDraft {
        let rates: RatesInput =
            serde_json::from_str(include_str!("../../../../infra/tax-rates.json")).unwrap();
        draft_invoice(
            &TenantId::parse("org_1").unwrap(),
            Provider::Stripe,
            &facts(lines),
            None,
            &india_seller(),
            &TaxRates::new(rates).unwrap(),
            UnixTime(1_780_000_000),
        )
        .unwrap()
    }

    fn line(description: &str, amount: i64) -> ChargeLine {
        ChargeLine {
            description: description.into(),
            quantity: 1,
            amount_minor: amount,
            proration: description.starts_with("Unused"),
            period_start: None,
            period_end: None,
        }
    }

    #[test]
    fn an_invoice_is_numbered_only_when_issued_and_always_adds_up() {
        let draft = draft(vec![]);
        assert_eq!(draft.series().as_str(), "INV/26-27");
        let invoice = draft.issue(42).unwrap();
        assert_eq!(invoice.number, "INV/26-27/000042");
        assert_eq!(invoice.id, "INV-26-27-000042");
        assert_eq!(invoice.lines.len(), 1);
        assert_eq!(invoice.lines[0].description, "Subscription: pro");
        assert_eq!(invoice.lines[0].quantity, 3);
        assert_eq!(invoice.lines[0].amount_minor, 100_000);
        assert_eq!(
            invoice.subtotal_minor + invoice.tax_minor,
            invoice.total_minor
        );
        assert_eq!(invoice.total_minor, invoice.amount_paid_minor);

        let listed = draft_with(vec![
            line("Team × 3", 120_000),
            line("Unused time on Pro", -30_000),
        ]);
        let invoice = listed.issue(1).unwrap();
        let sum: i64 = invoice.lines.iter().map(|l| l.amount_minor).sum();
        assert_eq!(sum, invoice.subtotal_minor);
        assert_eq!(invoice.lines.last().unwrap().description, ADJUSTMENT_LINE);
        assert_eq!(invoice.lines.last().unwrap().amount_minor, 10_000);
    }

    fn draft_with(lines: Vec<ChargeLine>) -> InvoiceDraft {
        draft(lines)
    }

    fn refund(amount: i64) -> PaymentFacts {
        PaymentFacts {
            payment_id: "cn_1".into(),
            status: PaymentStatus::Refunded,
            amount: Money::new(amount, "inr"),
            refund_of: Some("in_1".into()),
            ..facts(vec![])
        }
    }

    #[test]
    fn a_full_refund_takes_back_exactly_what_was_invoiced_in_its_own_series() {
        // Intra-state (no buyer: the seller's state), ₹1,180.00 with ₹180 GST.
        let invoice = draft(vec![]).issue(7).unwrap();
        let credit = draft_credit_note(
            &invoice,
            &refund(118_000),
            &india_seller(),
            UnixTime(1_780_100_000),
        )
        .unwrap();
        assert_eq!(credit.series().as_str(), "CN/26-27");
        let note = credit.issue(1).unwrap();
        assert_eq!(note.kind, DocumentKind::CreditNote);
        assert_eq!(note.number, "CN/26-27/0000001");
        assert_eq!(note.credit_of.as_deref(), Some("INV/26-27/000007"));
        assert_eq!(
            (note.subtotal_minor, note.tax_minor, note.total_minor),
            (-100_000, -18_000, -118_000)
        );
        let taxes: Vec<i64> = note.tax_lines.iter().map(|l| l.amount_minor).collect();
        let originals: Vec<i64> = invoice.tax_lines.iter().map(|l| -l.amount_minor).collect();
        assert_eq!(taxes, originals);
        assert_eq!(note.treatment, invoice.treatment);
        assert_eq!(note.buyer, invoice.buyer);

        let too_much = draft_credit_note(
            &invoice,
            &refund(118_001),
            &india_seller(),
            UnixTime(1_780_100_000),
        );
        assert!(matches!(
            too_much,
            Err(InvoiceError::RefundExceedsInvoice { .. })
        ));
        let mut dollars = refund(100);
        dollars.amount.currency = "usd".into();
        assert!(matches!(
            draft_credit_note(&invoice, &dollars, &india_seller(), UnixTime(1_780_100_000)),
            Err(InvoiceError::RefundCurrency { .. })
        ));
    }

    proptest::proptest! {
        /// A partial refund's credit note adds up: its lines and tax lines
        /// to its total, which is minus the refund, and its tax never
        /// exceeds the original's.
        #[test]
        fn credit_notes_add_up(refunded in 1i64..=118_000) {
            let invoice = draft(vec![]).issue(7).unwrap();
            let note = draft_credit_note(&invoice, &refund(refunded), &india_seller(), UnixTime(1_780_100_000))
                .unwrap()
                .issue(1)
                .unwrap();
            proptest::prop_assert_eq!(note.total_minor, -refunded);
            proptest::prop_assert_eq!(note.subtotal_minor + note.tax_minor, note.total_minor);
            proptest::prop_assert_eq!(note.lines.iter().map(|l| l.amount_minor).sum::<i64>(), note.subtotal_minor);
            proptest::prop_assert_eq!(note.tax_lines.iter().map(|l| l.amount_minor).sum::<i64>(), note.tax_minor);
            proptest::prop_assert!(note.tax_minor.abs() <= invoice.tax_minor);
        }
    }

    proptest::proptest! {
        /// Whatever lines a provider lists (net, gross or neither), the
        /// invoice's lines add up to its net amount.
        #[test]
        fn lines_always_add_up_to_the_net_amount(
            amounts in proptest::collection::vec(-50_000i64..200_000, 0..5),
            gross in 0i64..1_000_000,
            tax_share in 0i64..=30,
            gross_lines in proptest::bool::ANY,
        ) {
            let tax = gross * tax_share / 100;
            let mut lines: Vec<ChargeLine> = amounts.iter().map(|a| line("x", *a)).collect();
            if gross_lines && !lines.is_empty() {
                let listed: i64 = lines.iter().map(|l| l.amount_minor).sum();
                lines[0].amount_minor += gross - listed;
            }
            let mut facts = facts(lines);
            facts.amount = Money::new(gross, "inr");
            facts.tax_minor = Some(tax);
            let subtotal = gross - tax;
            let issued = charge_lines(&facts, subtotal, gross);
            proptest::prop_assert_eq!(issued.iter().map(|l| l.amount_minor).sum::<i64>(), subtotal);
        }
    }
}
