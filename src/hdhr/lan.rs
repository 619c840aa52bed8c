//! Finding HDHomeRun tuners on the LAN with the UDP protocol we answer ourselves
//! (`discovery`): a discover request for tuners, broadcast on port 65001 or sent to one
//! address, and each reply's device id, tuner count, base and lineup URLs. Our own device
//! is left out, and a device that answers twice counts once. Knows no HTTP routes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::device_id;
use super::packet::{self, DEVICE_TYPE_TUNER, MAX_FRAME, TYPE_DISCOVER_RPY};

/// The port HDHomeRun devices listen on.
pub const DISCOVERY_PORT: u16 = 65001;
/// How long replies are collected: devices answer within a few milliseconds.
pub const REPLY_WAIT: Duration = Duration::from_millis(700);
/// Devices listed at most (a LAN has a handful).
const MAX_DEVICES: usize = 64;

/// One device as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// 8 hex digits, as the device's own documents write it.
    pub device_id: String,
    pub tuner_count: u8,
    pub base_url: String,
    pub lineup_url: String,
    /// Where the reply came from.
    pub address: SocketAddr,
}

/// Asks `target` (a device, or the broadcast address) and collects the replies for `wait`;
/// `exclude` is our own device id.
pub async fn discover(
    target: SocketAddr,
    wait: Duration,
    exclude: Option<u32>,
) -> std::io::Result<Vec<Device>> {
    let local: SocketAddr = match target.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    if target.ip() == IpAddr::V4(Ipv4Addr::BROADCAST) {
        socket.set_broadcast(true)?;
    }
    let request = packet::build_request(DEVICE_TYPE_TUNER, None)
        .ok_or_else(|| std::io::Error::other("the discover request does not fit a frame"))?;
    socket.send_to(request.as_bytes(), target).await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut devices: Vec<Device> = Vec::new();
    let mut buf = [0u8; MAX_FRAME];
    while devices.len() < MAX_DEVICES {
        let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let Ok(Ok((n, from))) = received else {
            break;
        };
        let Some(device) = parse_reply(&buf[..n], from) else {
            continue;
        };
        let ours = exclude.is_some_and(|id| device_id::parse(&device.device_id) == Some(id));
        if !ours && !devices.iter().any(|d| d.device_id == device.device_id) {
            devices.push(device);
        }
    }
    Ok(devices)
}

/// A discover reply's fields; `None` for anything else (garbage, requests, bad CRCs).
pub fn parse_reply(frame: &[u8], from: SocketAddr) -> Option<Device> {
    let (kind, payload) = packet::unframe(frame)?;
    if kind != TYPE_DISCOVER_RPY {
        return None;
    }
    let (mut id, mut tuners, mut base, mut lineup) = (None, 0u8, None, None);
    for (tag, value) in packet::tlvs(payload) {
        match tag {
            packet::TAG_DEVICE_ID if value.len() == 4 => {
                id = Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
            }
            packet::TAG_TUNER_COUNT if value.len() == 1 => tuners = value[0],
            packet::TAG_BASE_URL => base = std::str::from_utf8(value).ok().map(str::to_string),
            packet::TAG_LINEUP_URL => {
                lineup = std::str::from_utf8(value).ok().map(str::to_string);
            }
            _ => {}
        }
    }
    let base_url = base?;
    // Older devices send no lineup URL: theirs is the base URL's /lineup.json.
    let lineup_url =
        lineup.unwrap_or_else(|| format!("{}/lineup.json", base_url.trim_end_matches('/')));
    Some(Device {
        device_id: device_id::format(id?),
        tuner_count: tuners,
        base_url,
        lineup_url,
        address: from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdhr::packet::{build_reply, Reply};

    #[test]
    fn a_reply_gives_its_device_and_anything_else_is_none() {
        let frame = build_reply(&Reply {
            device_id: 0x1053_C5A3,
            tuner_count: 2,
            base_url: "http://10.0.0.9:80",
            lineup_url: "http://10.0.0.9:80/lineup.json",
            device_auth: "x",
        })
        .unwrap();
        let from: SocketAddr = "10.0.0.9:65001".parse().unwrap();
        let d = parse_reply(frame.as_bytes(), from).unwrap();
        assert_eq!(d.device_id, "1053C5A3");
        assert_eq!(
            (d.tuner_count, d.base_url.as_str()),
            (2, "http://10.0.0.9:80")
        );
        assert_eq!(d.lineup_url, "http://10.0.0.9:80/lineup.json");
        let request = packet::build_request(DEVICE_TYPE_TUNER, None).unwrap();
        assert!(parse_reply(request.as_bytes(), from).is_none());
        assert!(parse_reply(b"garbage", from).is_none());
    }
}
