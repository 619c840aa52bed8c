//! UDP sockets for the LAN discovery protocols, with the options tokio's `bind` does not
//! set (SO_REUSEADDR so a second listener such as minissdpd can share the port and both
//! get multicast, SO_BROADCAST, IPV6_V6ONLY), and the rate limit replies share.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};

/// A non-blocking UDP socket bound to `addr`, registered with the current tokio runtime.
pub fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    bind_with(addr, false)
}

/// `bind`, with SO_BROADCAST: HDHomeRun discovery requests arrive as broadcasts.
pub fn bind_broadcast(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    bind_with(addr, true)
}

fn bind_with(addr: SocketAddr, broadcast: bool) -> std::io::Result<tokio::net::UdpSocket> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket::socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if broadcast {
        socket::setsockopt(&fd, sockopt::Broadcast, &true)?;
    }
    match addr {
        SocketAddr::V4(v4) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(v4))?,
        SocketAddr::V6(v6) => {
            socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
            socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(v6))?
        }
    }
    let std_socket = std::net::UdpSocket::from(fd);
    tokio::net::UdpSocket::from_std(std_socket)
}

/// A token bucket over all senders: discovery replies are larger than the requests that
/// trigger them, so an unbounded responder would amplify a spoofed flood.
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: tokio::time::Instant::now(),
        }
    }

    /// Takes `n` tokens if there are enough.
    pub fn allow(&mut self, n: u32) -> bool {
        let now = tokio::time::Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_allows_a_burst_then_refuses() {
        let mut limit = RateLimit::new(1, 3);
        assert!(limit.allow(3));
        assert!(!limit.allow(1));
        assert!(!limit.allow(2));
    }
}
