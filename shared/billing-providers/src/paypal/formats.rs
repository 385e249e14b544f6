//! PayPal's wire formats for time and money, read exactly: RFC 3339 times
//! (`2025-12-01T10:00:00Z`, `2023-04-28T11:46:34.667Z`, `...+05:30`) as unix
//! seconds, and decimal amount strings (`"19.00"`, `"60.0"`) as integer minor
//! units of their currency. No floats: a binary fraction cannot hold `19.99`.
//!
//! The RFC 3339 reader is the shared `crate::timestamps` one.

/// Unix seconds of an RFC 3339 date-time (a fraction floors to its second);
/// `None` for anything else.
pub use crate::timestamps::rfc3339_seconds as parse_rfc3339;

/// The number of minor units in one major unit is `10^exponent`: ISO 4217's
/// minor-unit column. PayPal's own currencies are all 2 except JPY (0); HUF
/// and TWD are 2 in ISO 4217 even though PayPal takes no decimals for them.
pub fn currency_exponent(currency: &str) -> u32 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let code = currency.to_ascii_uppercase();
    if ZERO.contains(&code.as_str()) {
        0
    } else if THREE.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// A non-negative decimal string (`"19"`, `"19.9"`, `"19.99"`) as integer
/// minor units with `exponent` decimals. Digits beyond the currency's minor
/// unit are accepted only when they are zeros (`"10.000"` in USD): anything
/// else is not an amount that currency can hold. `None` for signs, exponents,
/// spaces, empty parts or overflow.
pub fn decimal_to_minor_units(text: &str, exponent: u32) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (text, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let places = usize::try_from(exponent).ok()?;
    let (kept, dropped) = fraction.split_at(fraction.len().min(places));
    if dropped.bytes().any(|c| c != b'0') {
        return None;
    }
    let scale = 10i64.checked_pow(exponent)?;
    let whole_units = whole.parse::<i64>().ok()?.checked_mul(scale)?;
    // "5" with two places is 50 minor units, not 5.
    let padded = format!("{kept:0<places$}");
    let fraction_units = if padded.is_empty() {
        0
    } else {
        padded.parse::<i64>().ok()?
    };
    whole_units.checked_add(fraction_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paypal_time_shapes_read_as_unix_seconds() {
        // Event create_time (milliseconds), resource times, header times.
        assert_eq!(
            parse_rfc3339("2023-04-28T11:46:34.667Z"),
            parse_rfc3339("2023-04-28T11:46:34Z")
        );
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2016-02-18T20:01:35Z"), Some(1_455_825_695));
        assert_eq!(parse_rfc3339("1455825695"), None);
    }

    #[test]
    fn decimal_amounts_convert_exactly() {
        assert_eq!(decimal_to_minor_units("19.00", 2), Some(1_900));
        assert_eq!(decimal_to_minor_units("19.99", 2), Some(1_999));
        assert_eq!(decimal_to_minor_units("0.1", 2), Some(10));
        assert_eq!(decimal_to_minor_units("60.0", 2), Some(6_000));
        assert_eq!(decimal_to_minor_units("170", 2), Some(17_000));
        assert_eq!(decimal_to_minor_units("10.000", 2), Some(1_000));
        assert_eq!(decimal_to_minor_units("1500", 0), Some(1_500));
        assert_eq!(decimal_to_minor_units("1.234", 3), Some(1_234));
        assert_eq!(decimal_to_minor_units("0.00", 2), Some(0));
    }

    #[test]
    fn amounts_that_are_not_plain_decimals_are_refused() {
        for bad in [
            "", ".5", "5.", "-1.00", "+1.00", "1e3", "1,00", " 1.00", "1.005", "1.5", "NaN",
        ] {
            let exponent = if bad == "1.5" { 0 } else { 2 };
            assert_eq!(decimal_to_minor_units(bad, exponent), None, "{bad:?}");
        }
        assert_eq!(decimal_to_minor_units("99999999999999999999", 2), None);
    }

    #[test]
    fn currency_exponents_follow_iso_4217() {
        assert_eq!(currency_exponent("USD"), 2);
        assert_eq!(currency_exponent("eur"), 2);
        assert_eq!(currency_exponent("JPY"), 0);
        assert_eq!(currency_exponent("HUF"), 2);
        assert_eq!(currency_exponent("KWD"), 3);
    }
}
