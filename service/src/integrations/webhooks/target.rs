//! Where a webhook may go. In production only `https://` URLs whose host resolves to public
//! addresses only: no loopback, private, link-local, shared (CGNAT), documentation, multicast or
//! reserved address, so no subscription reaches into the union's own network (SSRF). The rule is
//! checked when a subscription is made and again at every delivery, by the resolver the HTTP
//! client connects through ([`PublicResolver`]): a name that resolves differently later (DNS
//! rebinding) is refused then, and the connection goes to the very addresses checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

use crate::error::{ApiError, InputProblem};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (18..20).contains(&b))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // An IPv4 address written as IPv6 (mapped, or NAT64's well-known prefix) is judged as one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    // Global unicast is 2000::/3; within it are refused the IETF protocol assignments
    // (2001::/23: Teredo, benchmarking, ORCHID…), documentation (2001:db8::/32, 3fff::/20) and
    // 6to4 (2002::/16, which embeds an IPv4 address).
    let protocol = s[0] == 0x2001 && s[1] < 0x0200;
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000);
    (s[0] & 0xe000) == 0x2000 && !protocol && !documentation && s[0] != 0x2002
}

/// Checks a subscription's URL as written: an absolute `https://` URL (or `http://` when private
/// targets are allowed) with a host, no user or password, at most [`MAX_URL_LEN`] long; an IP
/// address written as its host must be public unless private targets are allowed. `BAD_INPUT`
/// on `field` otherwise. Returns the URL normalised.
pub fn parse_url(raw: &str, allow_private: bool, field: &'static str) -> Result<Url, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ApiError::bad_input(field, InputProblem::Required));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(ApiError::bad_input(field, InputProblem::TooLong));
    }
    let url = Url::parse(raw).map_err(|_| ApiError::bad_input(field, InputProblem::InvalidFormat))?;
    let secure = url.scheme() == "https";
    if !(secure || (allow_private && url.scheme() == "http")) {
        return Err(ApiError::bad_input(field, InputProblem::NotPublicTarget));
    }
    if !url.username().is_empty() || url.password().is_some() || url.host().is_none() {
        return Err(ApiError::bad_input(field, InputProblem::InvalidFormat));
    }
    if !allow_private && literal_ip(&url).is_some_and(|ip| !is_public(ip)) {
        return Err(ApiError::bad_input(field, InputProblem::NotPublicTarget));
    }
    Ok(url)
}

/// The address a URL names by itself, if its host is one.
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Resolves `url`'s host and checks every address it gives is public (`BAD_INPUT` on `field`
/// otherwise, or when it does not resolve). Used when a subscription is made, so a mistake shows
/// at once rather than at the first delivery.
pub async fn check_resolves_public(url: &Url, field: &'static str) -> Result<(), ApiError> {
    if literal_ip(url).is_some() {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = resolve_public(host, port)
        .await
        .map_err(|_| ApiError::bad_input(field, InputProblem::NotPublicTarget))?;
    if addrs.is_empty() { Err(ApiError::bad_input(field, InputProblem::NotPublicTarget)) } else { Ok(()) }
}

/// Why a name was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("the target's name does not resolve")]
    NotFound,
    #[error("the target resolves to an address that is not public")]
    NotPublic,
}

/// The addresses of `host`, all public, or an error (one address that is not public refuses the
/// name: it is meant for somewhere else).
pub async fn resolve_public(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|_| ResolveError::NotFound)?.collect();
    if addrs.is_empty() {
        return Err(ResolveError::NotFound);
    }
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(ResolveError::NotPublic);
    }
    Ok(addrs)
}

/// The HTTP client's resolver in production: only public addresses, checked at each connection.
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is the URL's: reqwest puts it on each address it connects to.
            let addrs = resolve_public(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_on_the_public_internet_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "3fff:fff::1",
            "2001::1",
            "2001:2::1",
            "2001:1ff::1",
            "2002:a00:1::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} must not be public");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "203.162.4.191",
            "2001:4860:4860::8888",
            "2001:200::1",
            "3fff:1000::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} must be public");
        }
    }

    fn problem(raw: &str, allow_private: bool) -> Option<InputProblem> {
        match parse_url(raw, allow_private, "url") {
            Ok(_) => None,
            Err(ApiError::BadInput { problem, .. }) => Some(problem),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_target_is_an_https_url_without_credentials_at_a_public_address() {
        assert_eq!(problem("https://partner.example.vn/hooks", false), None);
        assert_eq!(problem("https://8.8.8.8/hooks", false), None);
        assert_eq!(problem("http://partner.example.vn/hooks", false), Some(InputProblem::NotPublicTarget));
        assert_eq!(problem("https://127.0.0.1/hooks", false), Some(InputProblem::NotPublicTarget));
        assert_eq!(problem("https://[::1]/hooks", false), Some(InputProblem::NotPublicTarget));
        assert_eq!(problem("https://169.254.169.254/latest", false), Some(InputProblem::NotPublicTarget));
        assert_eq!(problem("https://user:pw@partner.example.vn/", false), Some(InputProblem::InvalidFormat));
        assert_eq!(problem("ftp://partner.example.vn/", false), Some(InputProblem::NotPublicTarget));
        assert_eq!(problem("not a url", false), Some(InputProblem::InvalidFormat));
        assert_eq!(problem("", false), Some(InputProblem::Required));
        assert_eq!(
            problem(&format!("https://a.vn/{}", "x".repeat(MAX_URL_LEN)), false),
            Some(InputProblem::TooLong)
        );
        // Development and tests: a receiver on this machine.
        assert_eq!(problem("http://127.0.0.1:9000/hooks", true), None);
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_this_machine_is_refused() {
        assert!(matches!(resolve_public("localhost", 443).await, Err(ResolveError::NotPublic)));
    }
}
