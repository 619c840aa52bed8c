//! Where emitted URLs point: `--base-url` when given; else the request's `Host` header when
//! it is a plain `host[:port]`; else the address the server listens on, as the client sees
//! it. A hostile `Host` (spaces, quotes, paths, CR/LF, `@`) never reaches a document.
//! Also the `?access_token=` suffix every emitted URL carries when the IPTV token is on, and
//! the host's LAN addresses (for announcements when listening on `0.0.0.0`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use hyper::header::HOST;

use crate::app::App;
use crate::http::Req;

/// The longest DNS name (RFC 1035); a longer `Host` is refused.
const MAX_HOST_LEN: usize = 253;

/// `http://host:port` (or the `--base-url`), without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin of a request: see the module header.
    pub fn of_request(app: &App, req: &Req) -> Origin {
        if let Some(base) = &app.config.base_url {
            return Origin(base.clone());
        }
        if let Some(host) = req.header(HOST).filter(|h| is_plain_host(h)) {
            return Origin(format!("http://{host}"));
        }
        Origin(format!("http://{}", reachable_addr(app, req.peer.ip())))
    }

    /// The origin announced to a LAN peer (UDP discovery, SSDP): `--base-url`, else the
    /// HTTP address as seen from `peer`.
    pub fn for_peer(app: &App, peer: IpAddr) -> Origin {
        if let Some(base) = &app.config.base_url {
            return Origin(base.clone());
        }
        Origin(format!("http://{}", reachable_addr(app, peer)))
    }

    #[cfg(test)]
    pub fn from_static(s: &str) -> Origin {
        Origin(s.to_string())
    }
}

/// The HTTP listener's address with an unspecified IP (`0.0.0.0`) replaced by the local
/// address the kernel would use to reach `peer`.
pub fn reachable_addr(app: &App, peer: IpAddr) -> SocketAddr {
    let bound = app.outputs.http_addr();
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let ip = match (bound.ip(), peer) {
        // An IPv4-only listener named to an IPv6 peer (discovery over ff02::176): the peer
        // can only reach us over IPv4, so name our address on the LAN.
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => local_ip_toward(IpAddr::V4(v4)),
            None if v6.is_loopback() => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            None => lan_ipv4_addrs().first().copied().map(IpAddr::V4),
        },
        _ => local_ip_toward(peer),
    };
    SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), bound.port())
}

/// The local IP that routes to `peer`: connecting a UDP socket sends nothing, it only asks
/// the kernel for a route. `None` when there is no route.
pub fn local_ip_toward(peer: IpAddr) -> Option<IpAddr> {
    let any: SocketAddr = match peer {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).ok()?;
    // Port 9 (discard): any port works, nothing is sent.
    socket.connect((peer, 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// The IPv4 addresses of the non-loopback interfaces that are up.
pub fn lan_ipv4_addrs() -> Vec<Ipv4Addr> {
    use nix::net::if_::InterfaceFlags;
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ifa in addrs {
        if !ifa.flags.contains(InterfaceFlags::IFF_UP) {
            continue;
        }
        if ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK) {
            continue;
        }
        if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
            let ip = sin.ip();
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// `name[:port]`, `a.b.c.d[:port]` or `[v6][:port]`, with a name of letters, digits, `-`,
/// `.` and `_` only. Everything else (and so anything that could break out of a URL or a
/// header) is refused.
pub fn is_plain_host(host: &str) -> bool {
    // `[v6]` keeps its colons inside the brackets; otherwise the last `:` starts the port.
    let (name_ok, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        };
        (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
    } else {
        let (name, port) = match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        };
        let name_ok = !name.is_empty()
            && name.len() <= MAX_HOST_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        (name_ok, port)
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    name_ok && port_ok
}

/// `?access_token=<t>` when the IPTV token is on, else empty: appended to emitted URLs.
pub fn token_query(app: &App) -> String {
    match app.settings().access_token() {
        Some(token) => format!("?access_token={}", percent_encode(token)),
        None => String::new(),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 0xf) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_hosts_only() {
        for good in [
            "localhost",
            "127.0.0.1:8411",
            "tv.example.com",
            "[::1]:8411",
            "[fe80::1]",
            "my_box:80",
        ] {
            assert!(is_plain_host(good), "{good}");
        }
        for bad in [
            "",
            "evil.com/x",
            "a b",
            "host:",
            "host:99999",
            "host:80:80",
            "user@host",
            "host\r\nX-Injected: 1",
            "\"><script>",
            "[::1",
            "[zz::1]:80",
            "[::1]x",
            &"a".repeat(300),
        ] {
            assert!(!is_plain_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn encodes_tokens() {
        assert_eq!(percent_encode("a b&c=d~"), "a%20b%26c%3Dd~");
    }

    #[test]
    fn lan_addresses_exclude_loopback() {
        assert!(lan_ipv4_addrs().iter().all(|ip| !ip.is_loopback()));
    }

    #[test]
    fn routes_to_loopback() {
        assert_eq!(
            local_ip_toward(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
    }
}
