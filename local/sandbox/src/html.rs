//! HTML for the hosted pages: one page frame with inline CSS (no scripts,
//! nothing loaded from elsewhere), escaping of everything interpolated, and
//! the display of money (integer minor units, never floats) and dates.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Escapes text for an HTML element body or a double-quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A link target for an `href`: only http(s) URLs, so a stored
/// `javascript:` URL can never become a clickable script.
pub(crate) fn safe_href(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => escape(parsed.as_str()),
        _ => "#".to_owned(),
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}\
.badge{display:inline-block;font-size:.75rem;font-weight:600;letter-spacing:.05em;text-transform:uppercase;background:#fff3cd;color:#7a5b00;border-radius:4px;padding:.15rem .5rem}\
h1{font-size:1.4rem;margin:.75rem 0 1rem}\
.price{font-size:1.6rem;font-weight:700;margin:.25rem 0 1.5rem}\
.muted{color:#5b6475;font-size:.9rem}\
form{margin:0}\
.actions{display:flex;flex-direction:column;gap:.6rem;margin:1.5rem 0}\
button{font:inherit;border:0;border-radius:8px;padding:.75rem 1rem;cursor:pointer;text-align:left}\
.primary{background:#2f5bea;color:#fff}.warn{background:#fde2e1;color:#8a1c17}.neutral{background:#eceef2;color:#1d2330}\
.subscription{border:1px solid #e2e5eb;border-radius:8px;padding:1rem;margin:1rem 0}\
.subscription .actions{flex-direction:row;margin:.75rem 0 0}\
a{color:#2f5bea}";

/// A complete page.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Sandbox</title><style>{STYLE}</style></head>\
         <body><main><span class=\"badge\">Sandbox · no real money</span>{body}</main></body></html>\n",
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Nothing but the inline style may load or run.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

/// A page that only says something (not found, already done, bad input).
pub(crate) fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = link
        .map(|(href, label)| {
            format!(
                "<p><a data-testid=\"continue\" href=\"{}\">{}</a></p>",
                safe_href(href),
                escape(label)
            )
        })
        .unwrap_or_default();
    page(
        status,
        title,
        &format!("<h1>{}</h1><p>{}</p>{link}", escape(title), escape(text)),
    )
}

/// `USD 19.00`: the ISO code and the amount in the currency's major unit,
/// computed on integers.
pub(crate) fn format_money(amount_minor: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let exponent = minor_unit_exponent(&code);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let magnitude = amount_minor.unsigned_abs();
    if exponent == 0 {
        return format!("{code} {sign}{magnitude}");
    }
    let factor = 10u64.pow(exponent);
    format!(
        "{code} {sign}{}.{:0width$}",
        magnitude / factor,
        magnitude % factor,
        width = exponent as usize
    )
}

/// Digits after the decimal point (ISO 4217); most currencies have two.
fn minor_unit_exponent(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `2025-06-15 14:26 UTC`.
pub(crate) fn format_time(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let seconds_of_day = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds_of_day / 3_600,
        seconds_of_day % 3_600 / 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_http_urls_become_links() {
        assert_eq!(safe_href("javascript:alert(1)"), "#");
        assert_eq!(safe_href("not a url"), "#");
        assert_eq!(
            safe_href("http://localhost:5173/billing?a=1&b=\"2\""),
            "http://localhost:5173/billing?a=1&amp;b=%222%22"
        );
    }

    #[test]
    fn money_is_formatted_from_minor_units() {
        assert_eq!(format_money(1900, "usd"), "USD 19.00");
        assert_eq!(format_money(19000, "usd"), "USD 190.00");
        assert_eq!(format_money(5, "eur"), "EUR 0.05");
        assert_eq!(format_money(1900, "jpy"), "JPY 1900");
        assert_eq!(format_money(1234, "kwd"), "KWD 1.234");
        assert_eq!(format_money(-250, "usd"), "USD -2.50");
        assert_eq!(format_money(i64::MIN, "usd"), "USD -92233720368547758.08");
    }

    #[test]
    fn times_are_shown_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_750_000_000), "2025-06-15 15:06 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
    }
}
