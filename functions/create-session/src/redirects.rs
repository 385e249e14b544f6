//! The origins checkout may redirect back to, so the endpoint cannot be used
//! as an open redirect.

use billing_lambda::ApiError;
use url::{Origin, Url};

#[derive(Debug, Clone)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    /// Comma-separated `scheme://host[:port]`. Plain http is accepted only
    /// for loopback hosts (local development).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
            if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                return Err(format!(
                    "{raw:?} must be an origin, without path, query or fragment"
                ));
            }
            if !secure_or_loopback(&url) {
                return Err(format!("{raw:?} must use https (http only for localhost)"));
            }
            origins.push(url.origin());
        }
        if origins.is_empty() {
            return Err("at least one origin is required".into());
        }
        Ok(Self(origins))
    }

    pub fn check(&self, field: &str, candidate: &str) -> Result<(), ApiError> {
        let url = Url::parse(candidate).map_err(|_| {
            ApiError::bad_request(
                "invalid_redirect",
                format!("{field} must be an absolute URL"),
            )
        })?;
        if !self.0.contains(&url.origin()) {
            return Err(ApiError::bad_request(
                "redirect_not_allowed",
                format!("{field} must be on one of the allowed origins"),
            ));
        }
        Ok(())
    }
}

fn secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_on_allowed_origins_pass() {
        let allowed =
            AllowedOrigins::parse("https://app.example.com, http://localhost:5173").unwrap();
        assert!(allowed
            .check("successUrl", "https://app.example.com/billing?ok=1")
            .is_ok());
        assert!(allowed
            .check("successUrl", "http://localhost:5173/x")
            .is_ok());
        for bad in [
            "https://evil.example.com/",
            "https://app.example.com.evil.com/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "//app.example.com/",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert!(allowed.check("successUrl", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn configuration_rejects_paths_plain_http_and_empty_lists() {
        assert!(AllowedOrigins::parse("https://a.com/path").is_err());
        assert!(AllowedOrigins::parse("http://a.com").is_err());
        assert!(AllowedOrigins::parse(" , ").is_err());
        assert!(AllowedOrigins::parse("not a url").is_err());
    }
}
