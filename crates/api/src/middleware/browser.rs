//! What browsers need: CORS for the frontends' origins, security headers on every answer, and
//! `Cache-Control: no-store` on the API's answers, which carry personal data and secrets.

use actix_cors::Cors;
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::middleware::idempotency::REPLAYED;
use crate::middleware::request_id::X_REQUEST_ID;
use crate::state::parse_comma_list;

/// The origins allowed to call the API from a browser (`https://app.example.cn`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// Parses a comma-separated list of origins: scheme, host and optional port, nothing else.
    ///
    /// # Errors
    /// The first entry that is not an origin, as written.
    pub fn parse(list: &str) -> Result<CorsOrigins, String> {
        parse_comma_list(list, |entry| {
            let url = url::Url::parse(entry).ok()?;
            let bare = matches!(url.path(), "" | "/")
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty()
                && url.password().is_none();
            (matches!(url.scheme(), "http" | "https") && url.host().is_some() && bare)
                .then(|| url.origin().ascii_serialization())
        })
        .map(CorsOrigins)
    }
}

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: usize = 600;

/// The CORS middleware: the configured origins only, no cookies (the API takes bearer tokens),
/// and the headers a frontend reads exposed. Other origins get no CORS headers at all, so the
/// browser refuses them.
pub fn cors(origins: &CorsOrigins) -> Cors {
    let allowed = origins.0.clone();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|origin| allowed.iter().any(|a| a == origin))
        })
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
            X_REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            X_REQUEST_ID,
            REPLAYED,
        ])
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        .block_on_origin_mismatch(false)
}

/// The docs page loads only its own scripts and styles (Swagger UI sets inline styles and
/// `data:` icons); everything else answers JSON and may load nothing.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
    script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Middleware: the security headers every answer carries.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let path = req.path();
    let docs = path == "/docs" || path.starts_with("/docs/");
    let api = path.starts_with("/v1/");
    let https = req.app_config().secure();
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }),
    );
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        let origins = CorsOrigins::parse("https://app.example.cn, http://localhost:5173/").unwrap();
        assert_eq!(
            origins.0,
            ["https://app.example.cn", "http://localhost:5173"]
        );
        for bad in [
            "app.example.cn",
            "https://app.example.cn/path",
            "ftp://example.cn",
            "https://u:p@example.cn",
            "*",
        ] {
            assert_eq!(CorsOrigins::parse(bad), Err(bad.to_owned()), "{bad}");
        }
        assert_eq!(CorsOrigins::parse(""), Ok(CorsOrigins::default()));
    }
}
