//! Our own ledger: the seller and the tenants' billing profiles, tax ids,
//! the tax rules and their rates, gapless document numbers, and the
//! invoices, credit notes and payments log built from providers' payment
//! events. All of
//! it pure: the stores keep what is built here, in the same commit as the
//! event that brought it.

pub mod calendar;
pub mod invoice;
pub mod numbering;
pub mod payment;
pub mod profile;
pub mod rates;
pub mod regions;
pub mod seller;
pub mod tax;
pub mod tax_id;

pub use calendar::Date;
pub use invoice::{
    draft_credit_note, draft_invoice, BuyerSnapshot, DocumentKind, Invoice, InvoiceDraft,
    InvoiceError, InvoiceStatus,
};
pub use numbering::{DocumentNumber, NumberingError, Series};
pub use payment::{
    ChargeLine, MethodKind, MethodSummary, PaymentFacts, PaymentRecord, PaymentStatus,
};
pub use profile::{validate_profile, Address, BillingProfile, ProfileError, ProfileInput};
pub use rates::{RatesError, RatesInput, TaxRates};
pub use seller::{Seller, SellerError, SellerInput, SellerSnapshot};
pub use tax::{compute_tax, PlaceOfSupply, TaxBreakdown, TaxKind, TaxLine, Treatment};
pub use tax_id::{TaxId, TaxIdError, TaxIdKind};

/// What issuing invoices needs besides the event: who sells, at what rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoicing {
    pub seller: Seller,
    pub rates: TaxRates,
}
