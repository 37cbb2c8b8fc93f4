//! Where a request the server makes on a user's behalf (a webhook delivery) may go: a guard
//! against server-side request forgery. A URL's host must be, or resolve only to, public
//! addresses, unless the installation allows private ones; the caller then connects to the
//! address checked here, so a name that resolves differently a moment later cannot slip a
//! private address in.

use std::net::SocketAddr;

use rapport_domain::Invalid;
use rapport_domain::web_url::WebUrl;
use rapport_domain::webhook::is_public;
use url::Host;

/// The address to connect to for `url`, with its host name (for TLS and `Host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub addr: SocketAddr,
}

/// Resolves `url` and checks where it leads.
///
/// # Errors
/// `UnresolvableHost` when the name does not resolve; `PrivateAddress` when any of its
/// addresses is not public and `allow_private` is false.
pub async fn target(url: &WebUrl, allow_private: bool) -> Result<Target, Invalid> {
    let url = url.as_url();
    let port = url.port_or_known_default().unwrap_or(443);
    let (host, addrs): (String, Vec<SocketAddr>) = match url.host() {
        Some(Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Ipv6(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Domain(name)) => {
            let addrs = tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| Invalid::UnresolvableHost)?
                .collect();
            (name.to_owned(), addrs)
        }
        None => return Err(Invalid::InvalidUrl),
    };
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(Invalid::PrivateAddress);
    }
    let addr = addrs.first().copied().ok_or(Invalid::UnresolvableHost)?;
    Ok(Target { host, addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn loopback_and_metadata_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://10.0.0.8/",
        ] {
            let url = WebUrl::parse(url).unwrap();
            assert_eq!(target(&url, false).await, Err(Invalid::PrivateAddress));
            assert!(target(&url, true).await.is_ok());
        }
        let public = WebUrl::parse("https://93.184.216.34/hooks").unwrap();
        let found = target(&public, false).await.unwrap();
        assert_eq!(found.addr, "93.184.216.34:443".parse().unwrap());
    }
}
