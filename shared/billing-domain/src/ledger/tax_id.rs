//! Buyers' and sellers' tax ids: Indian GSTINs (format, state code and check
//! character) and EU and UK VAT numbers (each country's format). No online
//! check (VIES, GST portal) can run here, so a valid id is reported as
//! `validated: "format"`; the reason for a refusal names what is wrong,
//! never echoes more than the id the caller sent.

use super::regions::{india_state_name, is_eu_member};
use serde::{Deserialize, Serialize};

/// Which register a tax id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxIdKind {
    /// India's Goods and Services Tax Identification Number.
    Gstin,
    /// An EU member state's VAT number (with its `EL`/`AT`/... prefix).
    EuVat,
    /// A United Kingdom VAT registration number (`GB...`).
    GbVat,
}

/// How far a tax id was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// Its format (and for a GSTIN its check character) is right; no
    /// registry was asked whether it is issued.
    Format,
}

/// A tax id in its normalized form: uppercase, without spaces, dots or dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaxId {
    pub kind: TaxIdKind,
    pub value: String,
    /// ISO 3166-1 alpha-2 country of the register (`GR` for an `EL` number).
    pub country: String,
    pub validated: Validation,
}

impl TaxId {
    /// For a GSTIN, the two-digit GST state code it was issued in.
    pub fn gst_state(&self) -> Option<&str> {
        (self.kind == TaxIdKind::Gstin).then(|| &self.value[..2])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    #[error("a GSTIN is 15 characters: 2-digit state code, 10-character PAN, entity number, 'Z', check character")]
    GstinFormat,
    #[error("GSTIN state code {0} is not an Indian state or territory")]
    GstinState(String),
    #[error("GSTIN check character is wrong (expected {expected}); the number is mistyped")]
    GstinCheck { expected: char },
    #[error("a VAT number starts with its country prefix, e.g. DE123456789")]
    VatPrefix,
    #[error("{0} is not an EU member state or the United Kingdom")]
    VatCountry(String),
    #[error("VAT number does not have the format of country {country}: {expected}")]
    VatFormat {
        country: String,
        expected: &'static str,
    },
    #[error("tax id of country {id_country} does not match the address country {address_country}")]
    CountryMismatch {
        id_country: String,
        address_country: String,
    },
    #[error("no tax id format is known for country {0}; leave taxId out")]
    UnsupportedCountry(String),
}

/// Strips what people type between the characters of an id.
fn normalize(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Parses the tax id of a party whose address is in `country`: a GSTIN in
/// India, a VAT number in the EU (its prefix naming `country`) and the UK.
pub fn parse_tax_id(raw: &str, country: &str) -> Result<TaxId, TaxIdError> {
    let value = normalize(raw);
    match country {
        "IN" => parse_gstin(&value),
        "GB" => parse_vat(&value).and_then(|id| same_country(id, country)),
        c if is_eu_member(c) => parse_vat(&value).and_then(|id| same_country(id, country)),
        other => Err(TaxIdError::UnsupportedCountry(other.to_owned())),
    }
}

fn same_country(id: TaxId, country: &str) -> Result<TaxId, TaxIdError> {
    if id.country == country {
        Ok(id)
    } else {
        Err(TaxIdError::CountryMismatch {
            id_country: id.country,
            address_country: country.to_owned(),
        })
    }
}

/// GSTIN: `^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$`, a known state
/// code, and the check character of the first 14 (base 36, weights 1 and 2
/// alternating, each product folded as `p/36 + p%36`).
pub fn parse_gstin(value: &str) -> Result<TaxId, TaxIdError> {
    let b = value.as_bytes();
    let shape = b.len() == 15
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2..7].iter().all(u8::is_ascii_uppercase)
        && b[7..11].iter().all(u8::is_ascii_digit)
        && b[11].is_ascii_uppercase()
        && (b[12].is_ascii_uppercase() || (b'1'..=b'9').contains(&b[12]))
        && b[13] == b'Z'
        && (b[14].is_ascii_uppercase() || b[14].is_ascii_digit());
    if !shape {
        return Err(TaxIdError::GstinFormat);
    }
    let state = &value[..2];
    if india_state_name(state).is_none() {
        return Err(TaxIdError::GstinState(state.to_owned()));
    }
    let expected = gstin_check_character(&value[..14]);
    if b[14] as char != expected {
        return Err(TaxIdError::GstinCheck { expected });
    }
    Ok(TaxId {
        kind: TaxIdKind::Gstin,
        value: value.to_owned(),
        country: "IN".into(),
        validated: Validation::Format,
    })
}

fn base36(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        _ => u32::from(c - b'A') + 10,
    }
}

fn gstin_check_character(first14: &str) -> char {
    let sum: u32 = first14
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let product = base36(c) * if i % 2 == 0 { 1 } else { 2 };
            product / 36 + product % 36
        })
        .sum();
    let check = (36 - sum % 36) % 36;
    char::from_digit(check, 36)
        .expect("below 36")
        .to_ascii_uppercase()
}

/// One character class of a VAT number's body.
#[derive(Clone, Copy)]
enum C {
    D, // digit
    L, // letter
    A, // letter or digit
}

fn matches(body: &str, pattern: &[C]) -> bool {
    body.len() == pattern.len()
        && body.bytes().zip(pattern).all(|(b, class)| match class {
            C::D => b.is_ascii_digit(),
            C::L => b.is_ascii_uppercase(),
            C::A => b.is_ascii_alphanumeric(),
        })
}

fn digits(body: &str, lengths: &[usize]) -> bool {
    lengths.contains(&body.len()) && body.bytes().all(|b| b.is_ascii_digit())
}

/// The VAT number formats of the EU's VIES and of HMRC, by prefix: whether
/// the body after the prefix has the country's shape, and that shape in
/// words for the error.
fn vat_body_ok(prefix: &str, body: &str) -> Option<(bool, &'static str)> {
    use C::{A, D, L};
    let ok = match prefix {
        "AT" => {
            return Some((
                body.len() == 9 && body.starts_with('U') && digits(&body[1..], &[8]),
                "U and 8 digits",
            ))
        }
        "BE" => {
            return Some((
                digits(body, &[10]) && matches!(&body[..1], "0" | "1"),
                "10 digits starting with 0 or 1",
            ))
        }
        "BG" => (digits(body, &[9, 10]), "9 or 10 digits"),
        "CY" => (
            matches(body, &[D, D, D, D, D, D, D, D, L]),
            "8 digits and a letter",
        ),
        "CZ" => (digits(body, &[8, 9, 10]), "8 to 10 digits"),
        "DE" => (digits(body, &[9]), "9 digits"),
        "DK" => (digits(body, &[8]), "8 digits"),
        "EE" => (digits(body, &[9]), "9 digits"),
        "EL" => (digits(body, &[9]), "9 digits"),
        "ES" => (
            matches(body, &[A, D, D, D, D, D, D, D, A]) && !digits(body, &[9]),
            "a letter or digit, 7 digits, a letter or digit (not all digits)",
        ),
        "FI" => (digits(body, &[8]), "8 digits"),
        "FR" => (
            matches(body, &[A, A, D, D, D, D, D, D, D, D, D]) && !body[..2].contains(['O', 'I']),
            "2 letters or digits (not O or I) and 9 digits",
        ),
        "HR" => (digits(body, &[11]), "11 digits"),
        "HU" => (digits(body, &[8]), "8 digits"),
        "IE" => (
            matches(body, &[D, D, D, D, D, D, D, L])
                || matches(body, &[D, D, D, D, D, D, D, L, L])
                || (matches(body, &[D, A, D, D, D, D, D, L])),
            "7 digits and 1 or 2 letters (or the older digit, letter, 5 digits, letter)",
        ),
        "IT" => (digits(body, &[11]), "11 digits"),
        "LT" => (digits(body, &[9, 12]), "9 or 12 digits"),
        "LU" => (digits(body, &[8]), "8 digits"),
        "LV" => (digits(body, &[11]), "11 digits"),
        "MT" => (digits(body, &[8]), "8 digits"),
        "NL" => (
            matches(body, &[D, D, D, D, D, D, D, D, D, L, D, D]) && &body[9..10] == "B",
            "9 digits, B and 2 digits",
        ),
        "PL" => (digits(body, &[10]), "10 digits"),
        "PT" => (digits(body, &[9]), "9 digits"),
        "RO" => (
            digits(body, &[2, 3, 4, 5, 6, 7, 8, 9, 10]),
            "2 to 10 digits",
        ),
        "SE" => (
            digits(body, &[12]) && body.ends_with("01"),
            "12 digits ending in 01",
        ),
        "SI" => (digits(body, &[8]), "8 digits"),
        "SK" => (digits(body, &[10]), "10 digits"),
        "GB" => (
            digits(body, &[9, 12])
                || ((body.starts_with("GD") || body.starts_with("HA")) && digits(&body[2..], &[3])),
            "9 or 12 digits (or GD/HA and 3 digits)",
        ),
        _ => return None,
    };
    Some(ok)
}

/// The country a VAT prefix stands for: Greece's VAT numbers start `EL`.
fn prefix_country(prefix: &str) -> &str {
    if prefix == "EL" {
        "GR"
    } else {
        prefix
    }
}

pub fn parse_vat(value: &str) -> Result<TaxId, TaxIdError> {
    if value.len() < 4
        || !value.is_char_boundary(2)
        || !value[..2].bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(TaxIdError::VatPrefix);
    }
    let (prefix, body) = value.split_at(2);
    if prefix == "GR" {
        return Err(TaxIdError::VatFormat {
            country: "GR".into(),
            expected: "EL and 9 digits (Greek VAT numbers start EL, not GR)",
        });
    }
    let Some((ok, expected)) = vat_body_ok(prefix, body) else {
        return Err(TaxIdError::VatCountry(prefix.to_owned()));
    };
    let country = prefix_country(prefix).to_owned();
    if !ok {
        return Err(TaxIdError::VatFormat { country, expected });
    }
    Ok(TaxId {
        kind: if prefix == "GB" {
            TaxIdKind::GbVat
        } else {
            TaxIdKind::EuVat
        },
        value: value.to_owned(),
        country,
        validated: Validation::Format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_gstins_pass_and_one_changed_character_fails_the_check() {
        // Published GSTINs of registered companies (their invoices show them).
        for good in [
            "27AAPFU0939F1ZV",
            "29AAGCB7383J1Z4",
            "33AAACH7409R1Z8",
            "24AAACC1206D1ZM",
        ] {
            let id = parse_tax_id(good, "IN").unwrap();
            assert_eq!(id.kind, TaxIdKind::Gstin);
            assert_eq!(id.gst_state(), Some(&good[..2]));
        }
        assert_eq!(
            parse_tax_id("27 aapfu0939f1zv", "IN").unwrap().value,
            "27AAPFU0939F1ZV",
            "spaces and lowercase are normalized"
        );
        assert_eq!(
            parse_gstin("27AAPFU0939F1ZW"),
            Err(TaxIdError::GstinCheck { expected: 'V' })
        );
        assert_eq!(parse_gstin("27AAPFU0939F1Z"), Err(TaxIdError::GstinFormat));
        assert_eq!(parse_gstin("27AAPFU0939F0ZV"), Err(TaxIdError::GstinFormat));
        assert_eq!(parse_gstin("27AAPFU0939F1XV"), Err(TaxIdError::GstinFormat));
        assert_eq!(
            parse_gstin("40AAPFU0939F1ZV"),
            Err(TaxIdError::GstinState("40".into()))
        );
    }

    #[test]
    fn every_check_character_is_caught_when_wrong() {
        let base = "27AAPFU0939F1Z";
        let valid = gstin_check_character(base);
        for c in ('0'..='9').chain('A'..='Z') {
            let candidate = format!("{base}{c}");
            assert_eq!(parse_gstin(&candidate).is_ok(), c == valid, "{candidate}");
        }
    }

    #[test]
    fn vat_numbers_follow_their_countrys_format() {
        let good = [
            ("ATU12345678", "AT"),
            ("BE0123456789", "BE"),
            ("DE123456789", "DE"),
            ("EL123456789", "GR"),
            ("ESX1234567Z", "ES"),
            ("FRAB123456789", "FR"),
            ("IE1234567T", "IE"),
            ("IE1234567WA", "IE"),
            ("NL123456789B01", "NL"),
            ("SE123456789701", "SE"),
            ("GB123456789", "GB"),
            ("GBGD123", "GB"),
        ];
        for (raw, country) in good {
            let id = parse_tax_id(raw, country).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(id.country, country);
            assert_eq!(id.validated, Validation::Format);
        }
        assert_eq!(
            parse_tax_id("de 123.456.789", "DE").unwrap().value,
            "DE123456789"
        );
        assert!(matches!(
            parse_tax_id("DE12345678", "DE"),
            Err(TaxIdError::VatFormat { .. })
        ));
        assert!(matches!(
            parse_tax_id("ES123456789", "ES"),
            Err(TaxIdError::VatFormat { .. })
        ));
        assert!(matches!(
            parse_tax_id("FRIO123456789", "FR"),
            Err(TaxIdError::VatFormat { .. })
        ));
        assert!(matches!(
            parse_tax_id("NL123456789X01", "NL"),
            Err(TaxIdError::VatFormat { .. })
        ));
        assert_eq!(
            parse_tax_id("DE123456789", "FR"),
            Err(TaxIdError::CountryMismatch {
                id_country: "DE".into(),
                address_country: "FR".into()
            })
        );
        assert!(matches!(
            parse_tax_id("GR123456789", "GR"),
            Err(TaxIdError::VatFormat { .. })
        ));
        assert_eq!(
            parse_tax_id("XX123456789", "DE"),
            Err(TaxIdError::VatCountry("XX".into()))
        );
        assert_eq!(parse_tax_id("123456789", "DE"), Err(TaxIdError::VatPrefix));
        assert_eq!(
            parse_tax_id("12-3456789", "US"),
            Err(TaxIdError::UnsupportedCountry("US".into()))
        );
    }
}
