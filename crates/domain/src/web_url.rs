//! Website addresses: http or https only.

use std::fmt;

use url::{Host, Url};

use crate::validation::Invalid;

/// An `http` or `https` URL with a real host (a dotted domain name or an IP address) and no
/// credentials, at most [`WebUrl::MAX_LEN`] characters, in the normalized form of the URL
/// standard (`https://example.com/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebUrl(Url);

impl WebUrl {
    pub const MAX_LEN: usize = 2048;

    /// Reads a website address; one written without a scheme (`example.com/about`) is taken
    /// as `https`.
    ///
    /// # Errors
    /// `Required` when blank, `TooLong` past 2048 characters, `InvalidUrl` for another scheme
    /// (`javascript:`, `ftp:`, `mailto:`), no host, a dotless host (`localhost`), or user
    /// name and password in the URL.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Invalid::Required);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        let url = if trimmed.contains("://") {
            Url::parse(trimmed)
        } else {
            // `javascript:alert(1)` and friends become `https://javascript:alert(1)`, which
            // the checks below refuse (bad port, dotless host or credentials).
            Url::parse(&format!("https://{trimmed}"))
        }
        .map_err(|_| Invalid::InvalidUrl)?;

        let real_host = match url.host() {
            Some(Host::Domain(domain)) => {
                domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            }
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => true,
            None => false,
        };
        let web_scheme = matches!(url.scheme(), "http" | "https");
        let credentials = !url.username().is_empty() || url.password().is_some();
        if !web_scheme || !real_host || credentials {
            return Err(Invalid::InvalidUrl);
        }
        // Normalizing can lengthen it (punycode, percent-encoding).
        if url.as_str().len() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        Ok(WebUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0.into()
    }
}

impl fmt::Display for WebUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl AsRef<str> for WebUrl {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

crate::serde_str::serde_as_str!(WebUrl, WebUrl::parse);

#[cfg(test)]
mod tests {
    use super::*;

    fn url(input: &str) -> Result<String, Invalid> {
        WebUrl::parse(input).map(WebUrl::into_string)
    }

    #[test]
    fn accepts_and_normalizes_web_addresses() {
        assert_eq!(url("https://example.com").unwrap(), "https://example.com/");
        assert_eq!(
            url(" HTTP://Example.COM/About?x=1#top ").unwrap(),
            "http://example.com/About?x=1#top"
        );
        assert_eq!(
            url("https://example.com:8443/a b").unwrap(),
            "https://example.com:8443/a%20b"
        );
        assert_eq!(
            url("http://192.168.1.10/crm").unwrap(),
            "http://192.168.1.10/crm"
        );
        assert_eq!(
            url("https://例子.中国").unwrap(),
            "https://xn--fsqu00a.xn--fiqs8s/"
        );
    }

    #[test]
    fn a_missing_scheme_means_https() {
        assert_eq!(url("example.com").unwrap(), "https://example.com/");
        assert_eq!(
            url("www.example.cn/about").unwrap(),
            "https://www.example.cn/about"
        );
        assert_eq!(
            url("example.com:8080").unwrap(),
            "https://example.com:8080/"
        );
    }

    #[test]
    fn refuses_other_schemes_and_odd_hosts() {
        let bad = [
            "javascript:alert(1)",
            "javascript:123",
            "JAVASCRIPT://example.com/%0Aalert(1)",
            "ftp://example.com/file",
            "mailto:li@example.cn",
            "data:text/html,<script>",
            "file:///etc/passwd",
            "https://",
            "https://localhost/",
            "localhost:3000",
            "https://user:secret@example.com/",
            "not a url",
            "http://exa mple.com",
        ];
        for bad in bad {
            assert_eq!(WebUrl::parse(bad), Err(Invalid::InvalidUrl), "{bad}");
        }
        assert_eq!(WebUrl::parse("  "), Err(Invalid::Required));
    }

    #[test]
    fn at_most_2048_characters() {
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(WebUrl::parse(&long), Err(Invalid::TooLong { max: 2048 }));
        let just = format!("https://example.com/{}", "a".repeat(2048 - 20));
        assert_eq!(url(&just).unwrap().len(), 2048);
    }
}
