//! The ledger's read routes: `GET /billing/invoices` (newest first, a page
//! at a time), `GET /billing/invoices/{id}` (the full breakdown),
//! `GET /billing/invoices/{id}/pdf` and `GET /billing/payments`. Every read
//! is within the caller's tenant, so another tenant's invoice is 404, the
//! same answer as one that does not exist.

use crate::pdf;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use billing_domain::ledger::{
    BuyerSnapshot, ChargeLine, Invoice, MethodSummary, PaymentRecord, SellerSnapshot,
};
use billing_domain::ports::{LedgerReader, Page, PageRequest, MAX_PAGE_SIZE};
use billing_domain::TenantId;
use billing_lambda::bodies::{AddressBody, TaxIdBody};
use billing_lambda::clock::rfc3339;
use billing_lambda::ApiError;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

const DEFAULT_PAGE_SIZE: u32 = 20;
/// Cursors are our own keys, base64url-encoded; longer ones are not ours.
const MAX_CURSOR_LENGTH: usize = 512;

/// `?cursor=&limit=`, checked.
pub fn page_request(request: &Request) -> Result<PageRequest, ApiError> {
    let query = request.query_string_parameters_ref();
    let limit = match query.and_then(|q| q.first("limit")) {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE_SIZE).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_request",
                    format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            })?,
    };
    let cursor = match query
        .and_then(|q| q.first("cursor"))
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(raw) => Some(decode_cursor(raw).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_request",
                "cursor is not one this API returned; start again without it",
            )
        })?),
    };
    Ok(PageRequest { cursor, limit })
}

fn decode_cursor(raw: &str) -> Option<String> {
    if raw.len() > MAX_CURSOR_LENGTH {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|key| !key.is_empty() && key.chars().all(|c| c.is_ascii_graphic()))
}

fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// What the list route shows of an invoice.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceSummary {
    pub id: String,
    pub number: String,
    /// `invoice`, or `credit_note` (negative amounts, `creditOf` the invoice).
    pub kind: &'static str,
    pub credit_of: Option<String>,
    pub issued_at: Option<String>,
    pub currency: String,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoicesBody {
    pub invoices: Vec<InvoiceSummary>,
    pub next_cursor: Option<String>,
}

impl From<&Invoice> for InvoiceSummary {
    fn from(i: &Invoice) -> Self {
        InvoiceSummary {
            id: i.id.clone(),
            number: i.number.clone(),
            kind: i.kind.as_str(),
            credit_of: i.credit_of.clone(),
            issued_at: rfc3339(i.issued_at),
            currency: i.currency.clone(),
            subtotal_minor: i.subtotal_minor,
            tax_minor: i.tax_minor,
            total_minor: i.total_minor,
            status: i.status.as_str(),
        }
    }
}

/// The full breakdown of one invoice.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceBody {
    #[serde(flatten)]
    pub summary: InvoiceSummary,
    pub issue_date: String,
    pub paid_at: Option<String>,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub lines: Vec<LineBody>,
    pub tax_lines: Vec<TaxLineBody>,
    pub amount_paid_minor: i64,
    pub treatment: billing_domain::ledger::Treatment,
    pub place_of_supply: PlaceBody,
    pub legend: Option<String>,
    pub payment_method: Option<MethodBody>,
    pub provider: String,
    pub provider_invoice_id: Option<String>,
    pub seller: PartyBody,
    pub buyer: Option<PartyBody>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineBody {
    pub description: String,
    pub quantity: u32,
    pub amount_minor: i64,
    pub proration: bool,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxLineBody {
    pub kind: &'static str,
    pub rate_basis_points: u32,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceBody {
    pub country: String,
    pub state_code: Option<String>,
    pub state_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodBody {
    pub kind: billing_domain::ledger::MethodKind,
    pub brand: Option<String>,
    pub last4: Option<String>,
}

/// A party as an invoice names it (seller or buyer snapshot).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyBody {
    pub legal_name: String,
    pub email: Option<String>,
    pub address: AddressBody,
    pub tax_id: Option<TaxIdBody>,
}

impl From<&MethodSummary> for MethodBody {
    fn from(m: &MethodSummary) -> Self {
        MethodBody {
            kind: m.kind,
            brand: m.brand.clone(),
            last4: m.last4.clone(),
        }
    }
}

fn seller_body(s: &SellerSnapshot) -> PartyBody {
    PartyBody {
        legal_name: s.legal_name.clone(),
        email: s.email.clone(),
        address: AddressBody::from(&s.address),
        tax_id: s.tax_id.as_ref().map(TaxIdBody::from),
    }
}

fn buyer_body(b: &BuyerSnapshot) -> PartyBody {
    PartyBody {
        legal_name: b.legal_name.clone(),
        email: Some(b.email.clone()),
        address: AddressBody::from(&b.address),
        tax_id: b.tax_id.as_ref().map(TaxIdBody::from),
    }
}

fn line_body(l: &ChargeLine) -> LineBody {
    LineBody {
        description: l.description.clone(),
        quantity: l.quantity,
        amount_minor: l.amount_minor,
        proration: l.proration,
        period_start: l.period_start.and_then(rfc3339),
        period_end: l.period_end.and_then(rfc3339),
    }
}

impl From<&Invoice> for InvoiceBody {
    fn from(i: &Invoice) -> Self {
        InvoiceBody {
            summary: InvoiceSummary::from(i),
            issue_date: i.issue_date.to_string(),
            paid_at: rfc3339(i.paid_at),
            period_start: i.period_start.and_then(rfc3339),
            period_end: i.period_end.and_then(rfc3339),
            lines: i.lines.iter().map(line_body).collect(),
            tax_lines: i
                .tax_lines
                .iter()
                .map(|t| TaxLineBody {
                    kind: t.kind.as_str(),
                    rate_basis_points: t.rate_basis_points,
                    amount_minor: t.amount_minor,
                })
                .collect(),
            amount_paid_minor: i.amount_paid_minor,
            treatment: i.treatment,
            place_of_supply: PlaceBody {
                country: i.place_of_supply.country.clone(),
                state_code: i.place_of_supply.state_code.clone(),
                state_name: i.place_of_supply.state_name.clone(),
            },
            legend: i.legend.clone(),
            payment_method: i.payment_method.as_ref().map(MethodBody::from),
            provider: i.provider.to_string(),
            provider_invoice_id: i.source_id.clone(),
            seller: seller_body(&i.seller),
            buyer: i.buyer.as_ref().map(buyer_body),
        }
    }
}

/// One entry of the payments log.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentBody {
    pub id: String,
    pub provider: String,
    pub status: &'static str,
    pub amount_minor: i64,
    pub currency: String,
    pub method: Option<MethodBody>,
    pub failure_code: Option<String>,
    pub at: Option<String>,
    pub provider_invoice_id: Option<String>,
    pub invoice_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentsBody {
    pub payments: Vec<PaymentBody>,
    pub next_cursor: Option<String>,
}

impl From<&PaymentRecord> for PaymentBody {
    fn from(p: &PaymentRecord) -> Self {
        PaymentBody {
            id: p.payment_id.clone(),
            provider: p.provider.to_string(),
            status: p.status.as_str(),
            amount_minor: p.amount.amount_minor,
            currency: p.amount.currency.clone(),
            method: p.method.as_ref().map(MethodBody::from),
            failure_code: p.failure_code.clone(),
            at: rfc3339(p.at),
            provider_invoice_id: p.source_id.clone(),
            invoice_id: p.invoice_id.clone(),
        }
    }
}

fn store_failure(tenant: &TenantId, what: &str, e: billing_domain::ports::StoreError) -> ApiError {
    tracing::error!(tenant = %tenant, error = %e, retryable = e.is_retryable(), "reading {what} failed");
    ApiError::from_store(e)
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invoice_not_found",
        "no such invoice",
    )
}

/// Invoice ids are the number with `-` for `/`: letters, digits and `-`.
fn invoice_id(request: &Request) -> Result<&str, ApiError> {
    billing_lambda::request::path_parameter(request, "id")
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 32
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .ok_or_else(not_found)
}

pub async fn list_invoices(
    store: &dyn LedgerReader,
    tenant: &TenantId,
    request: &Request,
) -> Result<InvoicesBody, ApiError> {
    let page = page_request(request)?;
    let Page { items, next_cursor } = store
        .list_invoices(tenant, &page)
        .await
        .map_err(|e| store_failure(tenant, "invoices", e))?;
    Ok(InvoicesBody {
        invoices: items.iter().map(InvoiceSummary::from).collect(),
        next_cursor: next_cursor.as_deref().map(encode_cursor),
    })
}

pub async fn invoice(
    store: &dyn LedgerReader,
    tenant: &TenantId,
    request: &Request,
) -> Result<Invoice, ApiError> {
    let id = invoice_id(request)?;
    store
        .get_invoice(tenant, id)
        .await
        .map_err(|e| store_failure(tenant, "an invoice", e))?
        .ok_or_else(not_found)
}

pub async fn list_payments(
    store: &dyn LedgerReader,
    tenant: &TenantId,
    request: &Request,
) -> Result<PaymentsBody, ApiError> {
    let page = page_request(request)?;
    let Page { items, next_cursor } = store
        .list_payments(tenant, &page)
        .await
        .map_err(|e| store_failure(tenant, "payments", e))?;
    Ok(PaymentsBody {
        payments: items.iter().map(PaymentBody::from).collect(),
        next_cursor: next_cursor.as_deref().map(encode_cursor),
    })
}

/// The invoice as a PDF download named after its number.
pub fn pdf_response(invoice: &Invoice) -> Response<Body> {
    let bytes = pdf::render(invoice);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"invoice-{}.pdf\"", invoice.id),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Binary(bytes))
        .expect("status and headers are valid")
}
