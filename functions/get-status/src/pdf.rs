//! An invoice as a PDF, rendered on request inside the function.
//!
//! **Why pdf-writer:** Lambda has no headless browser, and the document is
//! a page of text and rules. pdf-writer (maintained by the Typst project)
//! writes PDF objects directly, with no dependencies beyond number
//! formatting, which keeps the binary and the cold start small. Text uses
//! the standard Helvetica fonts every reader has, so no font is embedded;
//! they cover Windows-1252, and a character outside it (₹, say) is written
//! out (`INR`) or replaced.
//!
//! What the page shows, for the seller's regime: number, date, supplier and
//! recipient with their addresses and GSTIN or VAT numbers, place of supply
//! (state code and name in India), SAC, taxable value, each tax's rate and
//! amount, the total, whether tax is payable on reverse charge and the
//! legend (reverse charge, export under LUT) — CGST Rule 46's fields — and
//! the payment that settled it.

use billing_domain::ledger::{Address, Invoice, InvoiceStatus, TaxKind, TaxLine, Treatment};
use billing_domain::ledger::{Date, DocumentKind, MethodKind};
use billing_domain::UnixTime;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Lays text out top to bottom, starting a new page when one is full.
struct Pages {
    done: Vec<Content>,
    current: Content,
    y: f32,
}

impl Pages {
    fn new() -> Self {
        Pages {
            done: Vec::new(),
            current: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    /// Moves down `height`, onto a new page if it does not fit.
    fn advance(&mut self, height: f32) {
        if self.y - height < MARGIN + 30.0 {
            let full = std::mem::replace(&mut self.current, Content::new());
            self.done.push(full);
            self.y = PAGE_HEIGHT - MARGIN;
        }
        self.y -= height;
    }

    fn text_at(&mut self, x: f32, y: f32, font: Name<'_>, size: f32, text: &str) {
        let bytes = winansi(text);
        self.current.begin_text();
        self.current.set_font(font, size);
        self.current.next_line(x, y);
        self.current.show(Str(&bytes));
        self.current.end_text();
    }

    /// A line of text at `x` on a new row.
    fn line(&mut self, x: f32, font: Name<'_>, size: f32, text: &str) {
        self.advance(size + 4.0);
        let y = self.y;
        self.text_at(x, y, font, size, text);
    }

    /// Text ending at `right` on the current row.
    fn right_aligned(&mut self, right: f32, font: Name<'_>, size: f32, text: &str) {
        let x = right - text_width(text, size);
        let y = self.y;
        self.text_at(x, y, font, size, text);
    }

    fn rule(&mut self) {
        self.advance(6.0);
        let y = self.y + 2.0;
        self.current.set_line_width(0.5);
        self.current.move_to(MARGIN, y);
        self.current.line_to(RIGHT, y);
        self.current.stroke();
    }

    fn gap(&mut self, height: f32) {
        self.advance(height);
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.current);
        self.done
    }
}

/// The PDF of `invoice`.
pub fn render(invoice: &Invoice) -> Vec<u8> {
    let mut pages = Pages::new();
    header(&mut pages, invoice);
    parties(&mut pages, invoice);
    charges(&mut pages, invoice);
    footer(&mut pages, invoice);
    assemble(pages.finish(), invoice)
}

fn title(invoice: &Invoice) -> &'static str {
    match (invoice.kind, invoice.treatment) {
        (DocumentKind::CreditNote, _) => "CREDIT NOTE",
        (_, Treatment::NotTaxed) => "INVOICE",
        _ => "TAX INVOICE",
    }
}

fn header(pages: &mut Pages, invoice: &Invoice) {
    pages.line(MARGIN, BOLD, 18.0, title(invoice));
    pages.right_aligned(
        RIGHT,
        BOLD,
        11.0,
        &format!("Invoice number {}", invoice.number),
    );
    pages.line(
        MARGIN,
        REGULAR,
        9.0,
        &format!("Date of issue: {}", invoice.issue_date),
    );
    let status = match invoice.status {
        InvoiceStatus::Paid => "Paid",
        InvoiceStatus::Void => "VOID: cancelled, not payable; see the re-issued invoice",
    };
    pages.right_aligned(RIGHT, REGULAR, 9.0, &format!("Status: {status}"));
    if let (Some(start), Some(end)) = (invoice.period_start, invoice.period_end) {
        pages.line(
            MARGIN,
            REGULAR,
            9.0,
            &format!("Service period: {} to {}", day(start), day(end)),
        );
    }
    pages.gap(8.0);
}

/// Seller on the left, buyer on the right, row by row.
fn parties(pages: &mut Pages, invoice: &Invoice) {
    let seller = &invoice.seller;
    let mut left = vec![
        ("Supplier".to_owned(), true),
        (seller.legal_name.clone(), true),
    ];
    left.extend(
        address_lines(&seller.address)
            .into_iter()
            .map(|l| (l, false)),
    );
    if let Some(id) = &seller.tax_id {
        left.push((format!("{}: {}", tax_id_label(id.kind), id.value), false));
    }
    if let Some(email) = &seller.email {
        left.push((email.clone(), false));
    }

    let mut right = vec![("Recipient".to_owned(), true)];
    match &invoice.buyer {
        Some(buyer) => {
            right.push((buyer.legal_name.clone(), true));
            right.extend(
                address_lines(&buyer.address)
                    .into_iter()
                    .map(|l| (l, false)),
            );
            match &buyer.tax_id {
                Some(id) => right.push((format!("{}: {}", tax_id_label(id.kind), id.value), false)),
                None => right.push(("Unregistered".to_owned(), false)),
            }
            right.push((buyer.email.clone(), false));
        }
        None => {
            right.push((format!("Account {}", invoice.tenant_id), true));
            right.push(("No billing profile was on record".to_owned(), false));
        }
    }
    let rows = left.len().max(right.len());
    for row in 0..rows {
        pages.advance(13.0);
        let y = pages.y;
        if let Some((text, bold)) = left.get(row) {
            pages.text_at(MARGIN, y, if *bold { BOLD } else { REGULAR }, 9.0, text);
        }
        if let Some((text, bold)) = right.get(row) {
            pages.text_at(320.0, y, if *bold { BOLD } else { REGULAR }, 9.0, text);
        }
    }
    pages.gap(6.0);
    let place = &invoice.place_of_supply;
    let place_text = match (&place.state_code, &place.state_name) {
        (Some(code), Some(name)) => format!("{code} - {name}"),
        _ => place.country.clone(),
    };
    pages.line(
        MARGIN,
        REGULAR,
        9.0,
        &format!("Place of supply: {place_text}"),
    );
    let reverse = matches!(
        invoice.treatment,
        Treatment::EuReverseCharge | Treatment::GbReverseCharge
    );
    pages.line(
        MARGIN,
        REGULAR,
        9.0,
        &format!(
            "Tax payable on reverse charge: {}",
            if reverse { "Yes" } else { "No" }
        ),
    );
    pages.gap(8.0);
}

fn charges(pages: &mut Pages, invoice: &Invoice) {
    let currency = invoice.currency.to_ascii_uppercase();
    let india = matches!(
        invoice.treatment,
        Treatment::IndiaIntraState | Treatment::IndiaInterState | Treatment::IndiaExport
    );
    pages.rule();
    pages.line(MARGIN, BOLD, 9.0, "Description");
    if india {
        pages.right_aligned(380.0, BOLD, 9.0, "SAC");
    }
    pages.right_aligned(430.0, BOLD, 9.0, "Qty");
    pages.right_aligned(RIGHT, BOLD, 9.0, &format!("Taxable value ({currency})"));
    pages.rule();
    for line in &invoice.lines {
        let mut description = line.description.clone();
        if line.proration {
            description.push_str(" (prorated)");
        }
        pages.line(MARGIN, REGULAR, 9.0, &truncate(&description, 60));
        if india {
            pages.right_aligned(380.0, REGULAR, 9.0, &invoice.seller.sac_code);
        }
        pages.right_aligned(430.0, REGULAR, 9.0, &line.quantity.to_string());
        pages.right_aligned(RIGHT, REGULAR, 9.0, &amount(line.amount_minor, &currency));
    }
    pages.rule();
    let total_row = |pages: &mut Pages, label: &str, value: i64, bold: bool| {
        let font = if bold { BOLD } else { REGULAR };
        pages.line(300.0, font, 9.0, label);
        pages.right_aligned(RIGHT, font, 9.0, &amount(value, &currency));
    };
    total_row(pages, "Taxable value", invoice.subtotal_minor, false);
    for tax in &invoice.tax_lines {
        total_row(pages, &tax_label(tax), tax.amount_minor, false);
    }
    total_row(pages, "Total tax", invoice.tax_minor, false);
    total_row(
        pages,
        &format!("Invoice total ({currency})"),
        invoice.total_minor,
        true,
    );
    total_row(pages, "Amount paid", invoice.amount_paid_minor, false);
    total_row(
        pages,
        "Balance due",
        invoice.total_minor - invoice.amount_paid_minor,
        false,
    );
    pages.gap(8.0);
}

fn footer(pages: &mut Pages, invoice: &Invoice) {
    if let Some(legend) = &invoice.legend {
        pages.line(MARGIN, BOLD, 9.0, &truncate(legend, 110));
    }
    let method = match &invoice.payment_method {
        Some(m) => {
            let kind = match m.kind {
                MethodKind::Card => "card",
                MethodKind::Upi => "UPI",
                MethodKind::Wallet => "wallet",
                MethodKind::Bank => "bank",
                MethodKind::Other => "other method",
            };
            let brand = m
                .brand
                .as_deref()
                .map(|b| format!(" {b}"))
                .unwrap_or_default();
            let last4 = m
                .last4
                .as_deref()
                .map(|l| format!(" ending {l}"))
                .unwrap_or_default();
            format!(" by {kind}{brand}{last4}")
        }
        None => String::new(),
    };
    let reference = invoice.source_id.as_deref().unwrap_or(&invoice.payment_id);
    pages.line(
        MARGIN,
        REGULAR,
        9.0,
        &format!(
            "{}{method} on {} through {} (reference {}).",
            match invoice.kind {
                DocumentKind::Invoice => "Paid",
                DocumentKind::CreditNote => "Refunded",
            },
            day(invoice.paid_at),
            invoice.provider,
            truncate(reference, 40)
        ),
    );
    pages.gap(10.0);
    pages.line(
        MARGIN,
        REGULAR,
        9.0,
        &format!(
            "Authorised signatory: {} (issued electronically)",
            truncate(&invoice.seller.legal_name, 60)
        ),
    );
    pages.line(
        MARGIN,
        REGULAR,
        8.0,
        &format!(
            "Issued electronically by {}. Corrections are made by a credit note and a new invoice, never by editing this one.",
            truncate(&invoice.seller.legal_name, 60)
        ),
    );
}

fn assemble(contents: Vec<Content>, invoice: &Invoice) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<Ref> = (0..contents.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    for (content, page_id) in contents.into_iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    for (id, name) in [
        (regular, b"Helvetica".as_slice()),
        (bold, b"Helvetica-Bold".as_slice()),
    ] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = winansi(&format!("Invoice {}", invoice.number));
    let author = winansi(&invoice.seller.legal_name);
    pdf.document_info(info)
        .title(pdf_writer::TextStr(
            std::str::from_utf8(&title).unwrap_or("Invoice"),
        ))
        .author(pdf_writer::TextStr(
            std::str::from_utf8(&author).unwrap_or(""),
        ));
    pdf.finish()
}

fn address_lines(address: &Address) -> Vec<String> {
    let mut lines = vec![address.line1.clone()];
    lines.extend(address.line2.clone());
    lines.push(format!(
        "{} {}, {} {}",
        address.city, address.postal_code, address.region, address.country
    ));
    lines
}

fn tax_id_label(kind: billing_domain::ledger::TaxIdKind) -> &'static str {
    match kind {
        billing_domain::ledger::TaxIdKind::Gstin => "GSTIN",
        billing_domain::ledger::TaxIdKind::EuVat | billing_domain::ledger::TaxIdKind::GbVat => {
            "VAT number"
        }
    }
}

fn tax_label(tax: &TaxLine) -> String {
    let name = match tax.kind {
        TaxKind::Cgst => "CGST",
        TaxKind::Sgst => "SGST",
        TaxKind::Igst => "IGST",
        TaxKind::Vat => "VAT",
        TaxKind::Tax => "Tax",
    };
    format!("{name} {}", percent(tax.rate_basis_points))
}

/// 900 → `9%`, 2550 → `25.5%`.
pub fn percent(basis_points: u32) -> String {
    let whole = basis_points / 100;
    let fraction = basis_points % 100;
    match fraction {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217).
pub fn exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `123456` INR → `1,234.56`; negatives keep their sign.
pub fn amount(minor: i64, currency: &str) -> String {
    let exponent = exponent(currency);
    let scale = 10_i128.pow(exponent);
    let value = i128::from(minor);
    let (whole, fraction) = (value.abs() / scale, value.abs() % scale);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value < 0 { "-" } else { "" };
    if exponent == 0 {
        format!("{sign}{grouped}")
    } else {
        format!(
            "{sign}{grouped}.{fraction:0width$}",
            width = exponent as usize
        )
    }
}

fn day(time: UnixTime) -> String {
    Date::at(time, 0).to_string()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// Approximate Helvetica advance widths (per 1000 em), for right alignment.
fn text_width(text: &str, size: f32) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| match c {
            '0'..='9' | '$' => 556,
            '.' | ',' | ' ' | ':' | 'i' | 'l' | 'j' | 'I' | '/' | '\'' => 278,
            '(' | ')' | '-' | 'f' | 't' | 'r' => 333,
            'm' | 'M' | 'W' | 'w' => 833,
            'A'..='Z' => 667,
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `text` in Windows-1252 (what WinAnsiEncoding is): Latin-1 maps
/// directly, a few typographic characters have their own codes, the rupee
/// sign is written `INR`, anything else becomes `?`.
pub fn winansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c as u8),
            '\u{a0}'..='\u{ff}' => out.push(c as u32 as u8),
            '€' => out.push(0x80),
            '…' => out.push(0x85),
            '‘' => out.push(0x91),
            '’' => out.push(0x92),
            '“' => out.push(0x93),
            '”' => out.push(0x94),
            '•' => out.push(0x95),
            '–' => out.push(0x96),
            '—' => out.push(0x97),
            '₹' => out.extend_from_slice(b"INR"),
            c if c.is_control() => {}
            _ => out.push(b'?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_rates_and_text_are_formatted_for_the_page() {
        assert_eq!(amount(123_456, "inr"), "1,234.56");
        assert_eq!(amount(-848, "inr"), "-8.48");
        assert_eq!(amount(5, "usd"), "0.05");
        assert_eq!(amount(1_000_000, "jpy"), "1,000,000");
        assert_eq!(amount(1_234, "kwd"), "1.234");
        assert_eq!(percent(900), "9%");
        assert_eq!(percent(2550), "25.5%");
        assert_eq!(percent(1725), "17.25%");
        assert_eq!(
            winansi("Team × 3 – €5 ₹9 日"),
            b"Team \xd7 3 \x96 \x805 INR9 ?".to_vec()
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
