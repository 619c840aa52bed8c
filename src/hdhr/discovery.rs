//! HDHomeRun UDP discovery (port 65001): answers libhdhomerun's discover requests, as Plex,
//! Jellyfin and `hdhomerun_config discover` send them, with a unicast reply naming this
//! tuner. IPv4 (broadcast and unicast) and, when the host has it, IPv6 `ff02::176`. Bad
//! CRCs, other packet types, malformed and oversized datagrams are dropped silently.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::packet::{self, Reply, MAX_FRAME};
use super::udp::{self, RateLimit};
use crate::app::App;
use crate::iptv::origin::Origin;

/// libhdhomerun's IPv6 link-local discovery group.
pub const IPV6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x176);
/// Replies per second across all senders: a discover sends a few probes per interface, so
/// 50/s serves a room of clients while capping what a spoofed flood can make us send.
pub const REPLIES_PER_SECOND: u32 = 50;
pub const REPLY_BURST: u32 = 100;

/// Serves discovery on `port` until shutdown. A port that cannot be bound is a warning,
/// never fatal: the HTTP API works without discovery (clients add `ip:port` by hand).
pub async fn run(app: Arc<App>, port: u16) {
    let v4 = match udp::bind_broadcast((Ipv4Addr::UNSPECIFIED, port).into()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(port, %err, "hdhomerun discovery: cannot bind the UDP port; discovery is off");
            return;
        }
    };
    let v6 = bind_v6(port);
    tracing::info!(port, ipv6 = v6.is_some(), "hdhomerun discovery listening");
    let mut shutdown = app.shutdown.clone();
    let mut limit = RateLimit::new(REPLIES_PER_SECOND, REPLY_BURST);
    // One byte more than the largest frame, so an oversized datagram is seen as such.
    let mut buf4 = [0u8; MAX_FRAME + 1];
    let mut buf6 = [0u8; MAX_FRAME + 1];
    while !app.is_shutting_down() {
        tokio::select! {
            _ = shutdown.changed() => break,
            got = v4.recv_from(&mut buf4) => {
                if let Ok((n, src)) = got {
                    answer(&app, &v4, &buf4[..n], src, &mut limit).await;
                }
            }
            got = recv_v6(v6.as_ref(), &mut buf6) => {
                if let (Some(sock), Ok((n, src))) = (v6.as_ref(), got) {
                    answer(&app, sock, &buf6[..n], src, &mut limit).await;
                }
            }
        }
    }
}

fn bind_v6(port: u16) -> Option<UdpSocket> {
    let sock = udp::bind((Ipv6Addr::UNSPECIFIED, port).into())
        .map_err(|err| tracing::debug!(%err, "hdhomerun discovery: no IPv6 socket"))
        .ok()?;
    if let Err(err) = sock.join_multicast_v6(&IPV6_GROUP, 0) {
        tracing::debug!(%err, "hdhomerun discovery: cannot join ff02::176; IPv6 unicast only");
    }
    Some(sock)
}

/// Cancel-safe: `recv_from` is, and without a v6 socket this never resolves.
async fn recv_v6(sock: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn answer(
    app: &App,
    sock: &UdpSocket,
    datagram: &[u8],
    src: SocketAddr,
    limit: &mut RateLimit,
) {
    if datagram.len() > MAX_FRAME {
        return;
    }
    let settings = app.settings();
    if !settings.hdhomerun.enable_udp_discovery || !settings.hdhomerun.enabled {
        return;
    }
    let Some(request) = packet::parse_request(datagram) else {
        return;
    };
    let Some(our_id) = super::device_id::parse(&settings.hdhomerun.device_id) else {
        return;
    };
    if !request.matches(our_id) || !limit.allow(1) {
        return;
    }
    // Discovery goes to anyone on the LAN, so it never carries the IPTV access token.
    let base_url = super::documents::base_url(Origin::for_peer(app, src.ip()).as_str());
    let lineup_url = format!("{base_url}/lineup.json");
    let reply = Reply {
        device_id: our_id,
        tuner_count: u8::try_from(app.tuner_count()).unwrap_or(u8::MAX),
        base_url: &base_url,
        lineup_url: &lineup_url,
        device_auth: &settings.hdhomerun.device_auth,
    };
    let Some(frame) = packet::build_reply(&reply) else {
        tracing::warn!(
            "hdhomerun discovery: the reply does not fit in one frame (base URL too long?)"
        );
        return;
    };
    if let Err(err) = sock.send_to(frame.as_bytes(), src).await {
        tracing::debug!(%err, %src, "hdhomerun discovery: reply not sent");
    }
}
