//! SSDP (UDP 1900): answers M-SEARCH for the root device, the MediaServer type and our
//! uuid with the device.xml LOCATION, and announces the device with NOTIFY `ssdp:alive` at
//! start and every 30 s, `ssdp:byebye` at shutdown. Replies are rate-limited; malformed or
//! oversized messages are ignored. The message texts are pure functions, tested alone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::udp::{self, RateLimit};
use crate::app::App;
use crate::iptv::origin::Origin;

pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const MEDIA_SERVER: &str = "urn:schemas-upnp-org:device:MediaServer:1";
pub const ROOT_DEVICE: &str = "upnp:rootdevice";
/// EXStreamTV's announcement period; well inside `max-age=1800`.
pub const NOTIFY_INTERVAL: Duration = Duration::from_secs(30);
/// Replies per second across all senders (an `ssdp:all` costs 3): enough for a room of
/// control points searching at once, too few to make us a flood amplifier.
pub const REPLIES_PER_SECOND: u32 = 30;
pub const REPLY_BURST: u32 = 60;
/// The largest SSDP message we read; real M-SEARCHes are ~200 bytes.
const MAX_MESSAGE: usize = 2048;

/// What a search or an announcement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    RootDevice,
    Uuid,
    MediaServer,
}

pub const ALL_TARGETS: [Target; 3] = [Target::RootDevice, Target::Uuid, Target::MediaServer];

impl Target {
    /// The ST/NT value.
    pub fn search_type(self, device_id: &str) -> String {
        match self {
            Target::RootDevice => ROOT_DEVICE.to_string(),
            Target::Uuid => format!("uuid:{device_id}"),
            Target::MediaServer => MEDIA_SERVER.to_string(),
        }
    }

    pub fn usn(self, device_id: &str) -> String {
        match self {
            Target::Uuid => format!("uuid:{device_id}"),
            other => format!("uuid:{device_id}::{}", other.search_type(device_id)),
        }
    }
}

/// The targets an M-SEARCH asks us for; empty when it is not an M-SEARCH, not
/// `ssdp:discover`, or searches for something we are not.
pub fn search_targets(message: &[u8], device_id: &str) -> heapless::Vec<Target, 3> {
    let mut targets = heapless::Vec::new();
    let Ok(text) = std::str::from_utf8(message) else {
        return targets;
    };
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let Some(request_line) = lines.next() else {
        return targets;
    };
    if !request_line
        .trim()
        .eq_ignore_ascii_case("M-SEARCH * HTTP/1.1")
    {
        return targets;
    }
    let (mut man_ok, mut st) = (false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("MAN") {
            man_ok = value
                .trim_matches('"')
                .eq_ignore_ascii_case("ssdp:discover");
        } else if name.trim().eq_ignore_ascii_case("ST") {
            st = Some(value);
        }
    }
    let Some(st) = st.filter(|_| man_ok) else {
        return targets;
    };
    let uuid = format!("uuid:{device_id}");
    if st.eq_ignore_ascii_case("ssdp:all") {
        targets.extend(ALL_TARGETS);
    } else if st.eq_ignore_ascii_case(ROOT_DEVICE) {
        let _ = targets.push(Target::RootDevice);
    } else if st.eq_ignore_ascii_case(MEDIA_SERVER) {
        let _ = targets.push(Target::MediaServer);
    } else if st.eq_ignore_ascii_case(&uuid) {
        let _ = targets.push(Target::Uuid);
    }
    targets
}

fn server_header() -> String {
    format!("Linux UPnP/1.0 exstreamtv/{}", crate::VERSION)
}

/// The unicast answer to an M-SEARCH for `target`.
pub fn search_reply(target: Target, device_id: &str, location: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: {location}\r\nSERVER: {}\r\nST: {}\r\nUSN: {}\r\n\r\n",
        server_header(),
        target.search_type(device_id),
        target.usn(device_id)
    )
}

/// A NOTIFY: `alive` with the LOCATION, or `byebye`.
pub fn notify(target: Target, device_id: &str, alive: Option<&str>, port: u16) -> String {
    let head = format!(
        "NOTIFY * HTTP/1.1\r\nHOST: {GROUP}:{port}\r\nNT: {}\r\nUSN: {}\r\n",
        target.search_type(device_id),
        target.usn(device_id)
    );
    match alive {
        Some(location) => format!(
            "{head}NTS: ssdp:alive\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: {location}\r\nSERVER: {}\r\n\r\n",
            server_header()
        ),
        None => format!("{head}NTS: ssdp:byebye\r\n\r\n"),
    }
}

fn location(app: &App, peer: IpAddr) -> String {
    format!(
        "{}/hdhomerun/device.xml",
        Origin::for_peer(app, peer).as_str()
    )
}

/// The interfaces to announce on: the listen address when it is a specific IPv4, else
/// every non-loopback IPv4 interface (loopback when there is none).
fn announce_interfaces(app: &App) -> Vec<Ipv4Addr> {
    match app.outputs.http_addr().ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => vec![ip],
        _ => {
            let found = crate::iptv::origin::lan_ipv4_addrs();
            if found.is_empty() {
                vec![Ipv4Addr::LOCALHOST]
            } else {
                found
            }
        }
    }
}

/// Serves SSDP on `port` until shutdown; a port that cannot be bound is a warning.
pub async fn run(app: Arc<App>, port: u16) {
    let sock = match udp::bind((Ipv4Addr::UNSPECIFIED, port).into()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(port, %err, "ssdp: cannot bind the UDP port; SSDP is off");
            return;
        }
    };
    // One sender per interface, bound to its address: Linux sends multicast out of the
    // interface that owns a bound source address.
    let mut senders: Vec<(Ipv4Addr, UdpSocket)> = Vec::new();
    for ip in announce_interfaces(&app) {
        if let Err(err) = sock.join_multicast_v4(GROUP, ip) {
            tracing::debug!(%ip, %err, "ssdp: cannot join the group on this interface");
        }
        match udp::bind((ip, 0).into()) {
            Ok(s) => senders.push((ip, s)),
            Err(err) => tracing::debug!(%ip, %err, "ssdp: no sender on this interface"),
        }
    }
    tracing::info!(port, interfaces = senders.len(), "ssdp listening");
    let mut shutdown = app.shutdown.clone();
    let mut limit = RateLimit::new(REPLIES_PER_SECOND, REPLY_BURST);
    let mut ticker = tokio::time::interval(NOTIFY_INTERVAL);
    let mut buf = [0u8; MAX_MESSAGE];
    while !app.is_shutting_down() {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = ticker.tick() => announce(&app, &senders, port, true).await,
            got = sock.recv_from(&mut buf) => {
                if let Ok((n, src)) = got {
                    // A full buffer means the datagram was truncated: ignore it.
                    if n < MAX_MESSAGE {
                        answer(&app, &sock, &buf[..n], src, &mut limit).await;
                    }
                }
            }
        }
    }
    announce(&app, &senders, port, false).await;
}

async fn announce(app: &App, senders: &[(Ipv4Addr, UdpSocket)], port: u16, alive: bool) {
    let settings = app.settings();
    if !settings.hdhomerun.enable_ssdp || !settings.hdhomerun.enabled {
        return;
    }
    let device_id = &settings.hdhomerun.device_id;
    for (ip, sender) in senders {
        let loc = location(app, IpAddr::V4(*ip));
        for target in ALL_TARGETS {
            let msg = notify(target, device_id, alive.then_some(loc.as_str()), port);
            if let Err(err) = sender.send_to(msg.as_bytes(), (GROUP, port)).await {
                tracing::debug!(%ip, %err, "ssdp: NOTIFY not sent");
            }
        }
    }
}

async fn answer(
    app: &App,
    sock: &UdpSocket,
    message: &[u8],
    src: SocketAddr,
    limit: &mut RateLimit,
) {
    let settings = app.settings();
    if !settings.hdhomerun.enable_ssdp || !settings.hdhomerun.enabled {
        return;
    }
    let device_id = &settings.hdhomerun.device_id;
    let targets = search_targets(message, device_id);
    if targets.is_empty() || !limit.allow(targets.len() as u32) {
        return;
    }
    let loc = location(app, src.ip());
    for target in targets {
        let reply = search_reply(target, device_id, &loc);
        if let Err(err) = sock.send_to(reply.as_bytes(), src).await {
            tracing::debug!(%src, %err, "ssdp: reply not sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1053C5A3";

    fn search(st: &str) -> Vec<Target> {
        let msg = format!(
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\nST: {st}\r\n\r\n"
        );
        search_targets(msg.as_bytes(), ID).to_vec()
    }

    #[test]
    fn searches() {
        assert_eq!(search("ssdp:all"), ALL_TARGETS.to_vec());
        assert_eq!(search("upnp:rootdevice"), vec![Target::RootDevice]);
        assert_eq!(search(MEDIA_SERVER), vec![Target::MediaServer]);
        assert_eq!(search("uuid:1053c5a3"), vec![Target::Uuid]);
        assert!(search("urn:schemas-upnp-org:device:MediaRenderer:1").is_empty());
        assert!(search_targets(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n", ID).is_empty());
        assert!(search_targets(b"NOTIFY * HTTP/1.1\r\n\r\n", ID).is_empty());
        assert!(search_targets(&[0xff, 0xfe, 0x00], ID).is_empty());
    }

    #[test]
    fn messages() {
        let loc = "http://192.168.1.20:8411/hdhomerun/device.xml";
        let reply = search_reply(Target::MediaServer, ID, loc);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(reply.contains(&format!("\r\nLOCATION: {loc}\r\n")));
        assert!(reply.contains("\r\nST: urn:schemas-upnp-org:device:MediaServer:1\r\n"));
        assert!(
            reply.contains("\r\nUSN: uuid:1053C5A3::urn:schemas-upnp-org:device:MediaServer:1\r\n")
        );
        assert!(search_reply(Target::Uuid, ID, loc).contains("\r\nUSN: uuid:1053C5A3\r\n"));
        let bye = notify(Target::RootDevice, ID, None, 1900);
        assert!(bye.contains("NTS: ssdp:byebye") && !bye.contains("LOCATION"));
        let alive = notify(Target::RootDevice, ID, Some(loc), 1900);
        assert!(alive.contains("NTS: ssdp:alive") && alive.contains("HOST: 239.255.255.250:1900"));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for n in 0..5000usize {
            let mut msg = b"M-SEARCH * HTTP/1.1\r\n".to_vec();
            for _ in 0..(n % 300) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                msg.push(b":\r\n\"aS ssdp:all"[(seed % 15) as usize]);
            }
            let _ = search_targets(&msg, ID);
        }
    }
}
