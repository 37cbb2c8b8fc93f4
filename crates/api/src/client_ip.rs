//! The client's address: the TCP peer, or behind trusted proxies the address they forwarded.
//!
//! `Forwarded` (RFC 7239) and `X-Forwarded-For` can be written by anyone, so they are believed
//! only from a peer in `RAPPORT_TRUSTED_PROXIES`, and only as far back as the chain of trusted
//! proxies goes: the client is the last hop, read from the right, that is not a trusted proxy.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use actix_web::web;
use ipnet::IpNet;

use crate::state::{AppState, parse_comma_list};

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs or single addresses (`10.0.0.0/8, ::1`).
    ///
    /// # Errors
    /// The first entry that is neither, as written.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        parse_comma_list(list, |entry| {
            IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .ok()
        })
        .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops = forwarded_for(headers);
        // Right to left: each trusted hop vouches for the one before it.
        let mut client = peer;
        while let Some(hop) = hops.pop() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// The addresses a request passed through, oldest first: `Forwarded: for=` when present, else
/// `X-Forwarded-For`. Hops that are not addresses (`unknown`, obfuscated names) end the list
/// there, since nothing before them can be vouched for.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then_some(value)
            })
        })
        .collect();
    let hops: Vec<&str> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect()
    } else {
        forwarded
    };
    let parsed: Vec<Option<IpAddr>> = hops.into_iter().map(parse_node).collect();
    // Only the unbroken run of addresses next to us can be followed.
    let start = parsed
        .iter()
        .rposition(Option::is_none)
        .map_or(0, |i| i + 1);
    parsed[start..].iter().flatten().copied().collect()
}

/// `192.0.2.1`, `"[2001:db8::1]:443"`, `192.0.2.1:80` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse().ok().or_else(|| {
        let (host, port) = node.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        host.parse().ok()
    })
}

/// The client address of a request (see the module's documentation).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.settings.trusted_proxies.client(peer, req.headers()),
        None => peer,
    })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_addresses_and_names_a_bad_entry() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7 ,::1").unwrap();
        assert!(t.trusts(ip("10.9.8.7")) && t.trusts(ip("192.168.1.7")) && t.trusts(ip("::1")));
        assert!(!t.trusts(ip("192.168.1.8")));
        assert_eq!(TrustedProxies::parse("10.0.0.0/8,nope"), Err("nope".into()));
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(t.client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn follows_trusted_hops_from_the_right() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged the first entry; the trusted proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        let all_trusted = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(t.client(ip("10.0.0.1"), &all_trusted), ip("10.0.0.3"));
        assert_eq!(t.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn reads_rfc_7239_forwarded_first() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8::17]:4711\"",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("2001:db8::17"));
        let unknown = headers(&[("forwarded", "for=unknown, for=10.0.0.5")]);
        assert_eq!(t.client(ip("10.0.0.1"), &unknown), ip("10.0.0.5"));
        let with_port = headers(&[("x-forwarded-for", "198.51.100.7:5555")]);
        assert_eq!(t.client(ip("10.0.0.1"), &with_port), ip("198.51.100.7"));
    }
}
