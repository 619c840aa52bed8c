//! The loopback URLs FFmpeg reads a remote item through: `http://127.0.0.1:<port>/iptv/remote/
//! {media_id}?exp=…&sig=…`. They hold no token — the proxy (`iptv::remote`) adds the server's
//! header itself — and are signed with a key made at start (SipHash with a random 128-bit
//! key, std's `RandomState`: a keyed PRF, enough for a URL that is only ever served on
//! loopback and expires), so another local user cannot walk the library through us.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

/// How long a signed URL plays: longer than any programme, short enough to go stale.
pub const VALID_MS: i64 = 24 * 3_600_000;

struct Signer {
    key: std::hash::RandomState,
    addr: SocketAddr,
}

static SIGNER: OnceLock<Signer> = OnceLock::new();

/// Called once the listener is bound: FFmpeg reaches us on loopback (or on the one address
/// we listen on, when that is not a wildcard).
pub fn init(listen: SocketAddr) {
    let ip = match listen.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let _ = SIGNER.set(Signer {
        key: std::hash::RandomState::new(),
        addr: SocketAddr::new(ip, listen.port()),
    });
}

fn mac(signer: &Signer, media_id: i64, exp: i64) -> String {
    format!("{:016x}", signer.key.hash_one((b"remote", media_id, exp)))
}

/// The URL FFmpeg plays for `media_id`, valid `VALID_MS` from `now_ms`; `None` before `init`.
pub fn url(media_id: i64, now_ms: i64) -> Option<String> {
    let signer = SIGNER.get()?;
    let exp = now_ms + VALID_MS;
    let sig = mac(signer, media_id, exp);
    Some(format!(
        "http://{}/iptv/remote/{media_id}?exp={exp}&sig={sig}",
        signer.addr
    ))
}

/// Only this box reads the proxy: loopback, or the one address we listen on.
pub fn allowed_peer(ip: IpAddr) -> bool {
    ip.is_loopback() || SIGNER.get().is_some_and(|s| s.addr.ip() == ip)
}

/// Whether `sig` signs `media_id` until `exp`, and `exp` is still ahead of `now_ms`.
pub fn verify(media_id: i64, exp: i64, sig: &str, now_ms: i64) -> bool {
    let Some(signer) = SIGNER.get() else {
        return false;
    };
    exp > now_ms
        && crate::http::auth::constant_time_eq(
            mac(signer, media_id, exp).as_bytes(),
            sig.as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_verifies_until_it_expires_and_only_for_its_item() {
        init("0.0.0.0:8411".parse().unwrap());
        let u = url(7, 1_000).unwrap();
        assert!(u.starts_with("http://127.0.0.1:"), "{u}");
        let q = u.split_once('?').unwrap().1;
        let exp: i64 = q.split('&').next().unwrap()[4..].parse().unwrap();
        let sig = &q.split("sig=").nth(1).unwrap();
        assert!(verify(7, exp, sig, 2_000));
        assert!(!verify(8, exp, sig, 2_000));
        assert!(!verify(7, exp + 1, sig, 2_000));
        assert!(!verify(7, exp, sig, exp + 1));
    }
}
