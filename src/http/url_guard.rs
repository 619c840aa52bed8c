//! The one check every URL given over the API passes before anything of ours fetches it or
//! hands it to FFmpeg (M3U playlists, the streams they list, their XMLTV, URL media): only
//! `http` and `https`; the host resolved, and every address it resolves to allowed.
//! Link-local (169.254.0.0/16, fe80::/10) and the cloud metadata addresses are refused
//! always (an API caller must not reach a cloud box's credentials through us); loopback
//! and the unspecified address only when the setting `sources.allow_loopback` says so; the
//! LAN is fine, that is where IPTV boxes live.
//!
//! What it cannot stop: a name that resolves differently when FFmpeg looks it up a moment
//! later (DNS rebinding), and a redirect FFmpeg follows. Our own client follows only
//! same-origin redirects over http (`http::client`); over https curl follows at most 3,
//! to https only (so never to the http-only metadata services), and none for a request
//! with headers (`http::curl`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Longer URLs are refused: no playlist entry or media URL needs more, and it bounds what a
/// stored URL costs.
pub const MAX_URL_LEN: usize = 4096;
/// A name that does not resolve within this is refused (a dead DNS server must not hold an
/// API request for minutes).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a URL is refused; each is a 422 naming the field the URL came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://` or `https://` (`file://`, `gopher://`, a path, ...).
    Scheme(String),
    /// Not a URL we can parse (no host, a bad port, whitespace, too long).
    Syntax(&'static str),
    /// The host does not resolve (or not in time).
    Unresolved(String),
    /// It aims at an address refused whatever the settings say.
    Forbidden(IpAddr, &'static str),
    /// It aims at this box, and `sources.allow_loopback` is off.
    Loopback(IpAddr),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Scheme(s) => write!(f, "scheme {s:?} is not allowed (only http and https)"),
            UrlError::Syntax(why) => write!(f, "not a valid URL: {why}"),
            UrlError::Unresolved(host) => write!(f, "host {host:?} does not resolve"),
            UrlError::Forbidden(ip, what) => write!(f, "{ip} is {what}: always refused"),
            UrlError::Loopback(ip) => write!(
                f,
                "{ip} is a loopback address: refused unless the setting sources.allow_loopback is on"
            ),
        }
    }
}

impl std::error::Error for UrlError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A URL that passed the syntax check: its scheme, host (brackets removed) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'u> {
    pub scheme: Scheme,
    pub host: &'u str,
    pub port: u16,
}

/// The scheme, host and port of `url`, or why it is refused (no I/O).
pub fn parse(url: &str) -> Result<Parsed<'_>, UrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::Syntax("longer than 4096 bytes"));
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(UrlError::Syntax("whitespace or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| UrlError::Scheme(url.chars().take(16).collect()))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(UrlError::Scheme(scheme.chars().take(16).collect())),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // user:password@ is common in IPTV URLs; the host is what follows it.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_port(host_port)?;
    if host.is_empty() {
        return Err(UrlError::Syntax("no host"));
    }
    let default = match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    Ok(Parsed {
        scheme,
        host,
        port: port.unwrap_or(default),
    })
}

fn split_port(host_port: &str) -> Result<(&str, Option<u16>), UrlError> {
    let bad_port = UrlError::Syntax("bad port");
    if let Some(inner) = host_port.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or(UrlError::Syntax("unclosed IPv6 bracket"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(p.parse().map_err(|_| bad_port)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(UrlError::Syntax("junk after the IPv6 address")),
        };
    }
    match host_port.rsplit_once(':') {
        Some((host, p)) => Ok((host, Some(p.parse().map_err(|_| bad_port)?))),
        None => Ok((host_port, None)),
    }
}

/// Whether a URL may aim at `ip` (pure: the rules above).
pub fn check_ip(ip: IpAddr, allow_loopback: bool) -> Result<(), UrlError> {
    // ::ffff:169.254.169.254 is the same host as 169.254.169.254.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if let Some(what) = forbidden(ip) {
        return Err(UrlError::Forbidden(ip, what));
    }
    if (ip.is_loopback() || ip.is_unspecified()) && !allow_loopback {
        return Err(UrlError::Loopback(ip));
    }
    Ok(())
}

/// Cloud metadata services that are not link-local: Alibaba's, and AWS's IPv6 one.
const METADATA_V4: [Ipv4Addr; 1] = [Ipv4Addr::new(100, 100, 100, 200)];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)];

fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(169, 254, 169, 254) => {
            Some("the cloud metadata address")
        }
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V4(v4) if METADATA_V4.contains(&v4) => Some("a cloud metadata address"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("link-local"),
        IpAddr::V6(v6) if METADATA_V6.contains(&v6) => Some("a cloud metadata address"),
        _ => None,
    }
}

/// Checks `url` as a whole: the syntax, then every address its host resolves to (a name
/// with one bad address among good ones is refused: any of them may be the one used).
pub async fn check(url: &str, allow_loopback: bool) -> Result<Scheme, UrlError> {
    let parsed = parse(url)?;
    if let Ok(ip) = parsed.host.parse::<IpAddr>() {
        check_ip(ip, allow_loopback)?;
        return Ok(parsed.scheme);
    }
    if parsed.host.eq_ignore_ascii_case("localhost") && !allow_loopback {
        return Err(UrlError::Loopback(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    let unresolved = || UrlError::Unresolved(parsed.host.chars().take(64).collect());
    let addrs = tokio::time::timeout(
        RESOLVE_TIMEOUT,
        tokio::net::lookup_host((parsed.host, parsed.port)),
    )
    .await
    .map_err(|_| unresolved())?
    .map_err(|_| unresolved())?;
    let mut n = 0;
    for addr in addrs {
        check_ip(addr.ip(), allow_loopback)?;
        n += 1;
    }
    if n == 0 {
        return Err(unresolved());
    }
    Ok(parsed.scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_http_and_https() {
        for bad in [
            "file:///etc/passwd",
            "gopher://x/",
            "ftp://x/a",
            "/media/a.mp4",
            "rtmp://x/live",
        ] {
            assert!(matches!(parse(bad), Err(UrlError::Scheme(_))), "{bad}");
        }
        let p = parse("HTTP://box:8080/a.m3u").unwrap();
        assert_eq!((p.scheme, p.host, p.port), (Scheme::Http, "box", 8080));
        let p = parse("https://u:p@[fd00::1]/live?x=1").unwrap();
        assert_eq!((p.scheme, p.host, p.port), (Scheme::Https, "fd00::1", 443));
    }

    #[test]
    fn malformed_urls_are_refused() {
        for bad in [
            "http://",
            "http://a b/",
            "http://h:99999/",
            "http://[::1/",
            "http://h:x/",
        ] {
            assert!(matches!(parse(bad), Err(UrlError::Syntax(_))), "{bad}");
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert!(parse(&long).is_err());
    }

    #[test]
    fn link_local_and_metadata_are_refused_always() {
        for bad in [
            "169.254.169.254",
            "169.254.1.2",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
        ] {
            for allow in [false, true] {
                assert!(
                    matches!(check_ip(ip(bad), allow), Err(UrlError::Forbidden(..))),
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn loopback_only_with_the_setting_and_the_lan_always() {
        for lo in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
        ] {
            assert!(matches!(
                check_ip(ip(lo), false),
                Err(UrlError::Loopback(_))
            ));
            assert_eq!(check_ip(ip(lo), true), Ok(()));
        }
        for lan in [
            "192.168.1.20",
            "10.0.0.5",
            "172.16.3.4",
            "fd12::5",
            "8.8.8.8",
        ] {
            assert_eq!(check_ip(ip(lan), false), Ok(()), "{lan}");
        }
    }

    #[tokio::test]
    async fn check_resolves_names() {
        assert!(matches!(
            check("http://localhost:1/a", false).await,
            Err(UrlError::Loopback(_))
        ));
        assert_eq!(check("http://localhost:1/a", true).await, Ok(Scheme::Http));
        assert!(matches!(
            check("http://169.254.169.254/latest/meta-data", true).await,
            Err(UrlError::Forbidden(..))
        ));
        let err = check("gopher://x/", true).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "scheme \"gopher\" is not allowed (only http and https)"
        );
    }
}
