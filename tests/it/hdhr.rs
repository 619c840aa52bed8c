//! The HDHomeRun device against the real binary: its HTTP documents, UDP discovery (raw
//! frames and SiliconDust's own `hdhomerun_config`), SSDP, the access token, hostile input.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use exstreamtv::hdhr::{device_id, packet};

use crate::outputs_fixture::*;
use crate::support::http::KeepAlive;
use crate::support::{TestServer, TOKEN};

const JELLYFIN_PROBE: [u8; 20] = [
    0x00, 0x02, 0x00, 0x0C, 0x01, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x04, 0xFF, 0xFF, 0xFF, 0xFF,
    0x73, 0xCC, 0x7D, 0x8F,
];

#[test]
fn discover_json_names_a_valid_device_and_a_safe_host() {
    let server = TestServer::start();
    let d = server.anon().get("/hdhomerun/discover.json");
    assert_eq!(d.status, 200);
    assert_eq!(d.header("content-type"), Some("application/json"));
    let d = d.json();
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "FriendlyName",
        "Manufacturer",
        "ModelNumber",
        "FirmwareName",
        "FirmwareVersion",
        "DeviceID",
        "DeviceAuth",
        "BaseURL",
        "LineupURL",
        "TunerCount",
    ];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    let id = d["DeviceID"].as_str().unwrap();
    let parsed = device_id::parse(id).expect("8 hex digits");
    assert!(device_id::is_valid(parsed), "check digit of {id}");
    assert_eq!(d["Manufacturer"], "Silicondust");
    assert_eq!(d["FriendlyName"], "exstreamtv");
    assert!(d["TunerCount"].as_u64().unwrap() >= 1);
    let base = format!("http://{}/hdhomerun", server.addr);
    assert_eq!(d["BaseURL"], base.as_str());
    assert_eq!(d["LineupURL"], format!("{base}/lineup.json").as_str());

    // The same id after a restart: it is stored, not regenerated.
    let status = server.anon().get("/hdhomerun/status.json").json();
    assert_eq!(status["DeviceID"], id);
    let tuners = status["TunerStatus"].as_array().unwrap();
    assert_eq!(tuners.len() as u64, d["TunerCount"].as_u64().unwrap());
    assert_eq!(tuners[0]["Status"], "Idle");
    assert_eq!(tuners[0]["Lock"], "none");

    // HTTP/1.0 without a Host: the listen address.
    let raw = crate::support::http::raw(
        server.addr,
        b"GET /hdhomerun/discover.json HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    );
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.0 200"), "{raw}");
    assert!(raw.contains(&format!("\"BaseURL\":\"{base}\"")), "{raw}");

    // A name the client chose is kept; a hostile Host never reaches a document.
    let named = server
        .anon()
        .host("tv.local:8411")
        .get("/hdhomerun/discover.json")
        .json();
    assert_eq!(named["BaseURL"], "http://tv.local:8411/hdhomerun");
    for hostile in ["evil.com/x?", "a\"b", "x y", "user@evil", "h:99999"] {
        let r = server.anon().host(hostile).get("/hdhomerun/discover.json");
        assert_eq!(r.status, 200, "{hostile}");
        assert_eq!(r.json()["BaseURL"], base.as_str(), "{hostile}");
        let lineup = server
            .anon()
            .host(hostile)
            .get("/hdhomerun/lineup.json")
            .json();
        for entry in lineup.as_array().unwrap() {
            assert!(
                entry["URL"].as_str().unwrap().starts_with(&base),
                "{hostile}: {entry}"
            );
        }
    }
}

#[test]
fn base_url_flag_wins_and_device_documents_answer() {
    let server = TestServer::builder()
        .args(["--base-url", "http://tv.example:8411"])
        .start();
    let c = server.anon();
    let d = c.get("/hdhomerun/discover.json").json();
    assert_eq!(d["BaseURL"], "http://tv.example:8411/hdhomerun");
    let lineup = c.get("/hdhomerun/lineup.json?show=found").json();
    for entry in lineup.as_array().unwrap() {
        let url = entry["URL"].as_str().unwrap();
        assert_eq!(
            url,
            format!(
                "http://tv.example:8411/hdhomerun/auto/v{}",
                entry["GuideNumber"].as_str().unwrap()
            )
        );
        assert_eq!(entry["HD"], 1);
        assert_eq!(entry["VideoCodec"], "H264");
        assert_eq!(entry["AudioCodec"], "AAC");
    }
    assert_eq!(c.get("/hdhomerun/lineup.json?show=bogus").status, 400);

    let status = c.get("/hdhomerun/lineup_status.json").json();
    assert_eq!(
        status,
        serde_json::json!({"ScanInProgress":0,"ScanPossible":1,"Source":"Antenna","SourceList":["Antenna","Cable"]})
    );
    assert_eq!(c.get("/api/lineup_status.json").json(), status);
    assert_eq!(
        c.post("/hdhomerun/lineup.post?scan=start&source=Cable")
            .status,
        200
    );
    assert_eq!(c.post("/lineup.post?scan=abort").status, 200);
    assert_eq!(c.post("/lineup.post").status, 400);
    assert_eq!(c.get("/lineup.post?scan=start").status, 405);

    let xml = c.get("/hdhomerun/device.xml");
    assert_eq!(xml.status, 200);
    let text = xml.text();
    let id = d["DeviceID"].as_str().unwrap();
    for needle in [
        "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">",
        "<deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>",
        "<URLBase>http://tv.example:8411</URLBase>",
        "<manufacturer>Silicondust</manufacturer>",
        "<SCPDURL>/hdhomerun/service.xml</SCPDURL>",
        "<controlURL>/hdhomerun/control</controlURL>",
        "<eventSubURL>/hdhomerun/event</eventSubURL>",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert!(text.contains(&format!("<UDN>uuid:{id}</UDN>")));
    assert!(text.contains(&format!("<serialNumber>{id}</serialNumber>")));
    assert_eq!(
        c.get("/device.xml").text(),
        text,
        "root device.xml is served directly"
    );
    let scpd = c.get("/hdhomerun/service.xml").text();
    for action in [
        "GetSearchCapabilities",
        "GetSortCapabilities",
        "GetSystemUpdateID",
        "Browse",
    ] {
        assert!(scpd.contains(&format!("<name>{action}</name>")));
    }
    assert_eq!(c.post("/hdhomerun/control").status, 200);
    assert_eq!(c.get("/hdhomerun/event").status, 200);
    assert_eq!(c.get("/hdhomerun/control").status, 405);

    // EXStreamTV's root aliases are 307s that keep the query.
    let r = c.get("/discover.json?access_token=abc");
    assert_eq!(r.status, 307);
    assert_eq!(
        r.header("location"),
        Some("/hdhomerun/discover.json?access_token=abc")
    );
}

#[test]
fn tuner_and_auto_routes_validate_and_every_lineup_url_answers_head_with_mp2t() {
    let server = TestServer::start();
    let conn = db(&server);
    add_channel(&conn, "5.1", "Sub", true);
    refresh(&server);
    let c = server.anon();
    let tuners = c.get("/hdhomerun/discover.json").json()["TunerCount"]
        .as_u64()
        .unwrap();
    for bad in [
        "/hdhomerun/auto/vX",
        "/hdhomerun/auto/100",
        "/auto/v1.",
        "/hdhomerun/tuner0/stream",
    ] {
        let r = c.get(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        r.detail();
    }
    assert_eq!(
        c.get("/hdhomerun/tuner0/stream?channel=auto:vX").status,
        400
    );
    let r = c.get(&format!("/hdhomerun/tuner{tuners}/stream?channel=auto:v1"));
    assert_eq!(r.status, 404, "tuner{tuners} of {tuners}");
    assert_eq!(c.get("/hdhomerun/tunerX/stream").status, 404);

    // Each lineup URL is a stream: HEAD answers with the stream's headers (and starts nothing).
    let lineup = c.get("/hdhomerun/lineup.json").json();
    let entries = lineup.as_array().unwrap();
    assert!(entries.len() >= 2);
    for entry in entries {
        let url = entry["URL"].as_str().unwrap();
        let path = url
            .strip_prefix(&format!("http://{}", server.addr))
            .unwrap();
        assert!(!url.contains('?'), "no query string: {url}");
        let r = c.head(path);
        assert_eq!(r.status, 200, "HEAD {url}");
        assert_eq!(r.header("content-type"), Some("video/mp2t"), "{url}");
        let root = c.head(path.strip_prefix("/hdhomerun").unwrap());
        assert_eq!(root.status, 200, "root alias of {url}");
    }
    let unknown = c.head("/hdhomerun/auto/v999");
    assert_eq!(unknown.status, 404);
}

#[test]
fn status_json_shows_the_tuner_a_viewer_holds() {
    use crate::stream_fixture::{self as fx, item, Media};
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&["--tuners", "2"], |conn| {
        fx::add_channel(
            conn,
            "900",
            &[item(&Media::Generated(2), 600_000, "Long")],
            start,
        );
    });
    let c = server.anon();
    let idle = c.get("/hdhomerun/status.json").json();
    let tuners = idle["TunerStatus"].as_array().unwrap().clone();
    assert_eq!(tuners.len(), 2);
    assert!(tuners.iter().all(|t| t["Status"] == "Idle"), "{idle}");

    let mut viewer = c.stream("/hdhomerun/auto/v900").unwrap();
    assert_eq!(viewer.status, 200);
    let mut first = [0u8; 188];
    std::io::Read::read_exact(&mut viewer.body, &mut first).unwrap();
    assert_eq!(first[0], 0x47, "MPEG-TS sync byte");
    let status = c.get("/hdhomerun/status.json").json();
    let busy: Vec<&serde_json::Value> = status["TunerStatus"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["Status"] == "Streaming")
        .collect();
    assert_eq!(busy.len(), 1, "{status}");
    assert_eq!(busy[0]["Channel"], "900");
    assert_eq!(busy[0]["Lock"], "tuner");
    assert_eq!(busy[0]["ClientCount"], 1);
    viewer.body.close();
}

#[test]
fn access_token_guards_every_tv_route_and_rides_on_every_url() {
    let data = std::sync::Arc::new(crate::support::TempDir::new("token"));
    {
        let mut first = TestServer::builder().data(data.clone()).start();
        db(&first)
            .execute(
                "INSERT INTO settings (key, value) VALUES ('iptv', '{\"access_token\":\"s3 cr&t\"}')
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [],
            )
            .unwrap();
        first.stop(Duration::from_secs(5));
    }
    let server = TestServer::builder().data(data).start();
    let c = server.anon();
    let q = "access_token=s3%20cr%26t";
    for path in [
        "/hdhomerun/discover.json",
        "/hdhomerun/lineup.json",
        "/hdhomerun/device.xml",
        "/hdhomerun/status.json",
        "/iptv/channels.m3u",
        "/iptv/xmltv.xml",
        "/hdhomerun/epg",
        "/device.xml",
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 401, "{path}");
        r.detail();
        assert_eq!(
            c.get(&format!("{path}?access_token=wrong")).status,
            401,
            "{path}"
        );
        assert_eq!(c.get(&format!("{path}?{q}")).status, 200, "{path}");
    }
    assert_eq!(c.get("/hdhomerun/auto/v1").status, 401);
    assert_eq!(
        c.get("/api/lineup_status.json").status,
        200,
        "open by contract"
    );
    let d = c.get(&format!("/hdhomerun/discover.json?{q}")).json();
    assert!(d["LineupURL"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/lineup.json?{q}")));
    for entry in c
        .get(&format!("/hdhomerun/lineup.json?{q}"))
        .json()
        .as_array()
        .unwrap()
    {
        assert!(entry["URL"].as_str().unwrap().ends_with(&format!("?{q}")));
    }
    let m3u = c.get(&format!("/iptv/channels.m3u?{q}")).text();
    assert!(m3u.starts_with(&format!(
        "#EXTM3U url-tvg=\"http://{0}/iptv/xmltv.xml?{q}\" x-tvg-url=\"http://{0}/iptv/xmltv.xml?{q}\"",
        server.addr
    )));
    for url in m3u.lines().filter(|l| l.starts_with("http")) {
        assert!(url.ends_with(&format!("?{q}")), "{url}");
    }
    let _ = TOKEN;
}

fn recv_reply(sock: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

#[test]
fn udp_discovery_answers_probes_and_drops_garbage() {
    let port = free_udp_port();
    let server = TestServer::builder()
        .args(["--discovery-port", &port.to_string()])
        .start();
    let id = server.anon().get("/hdhomerun/discover.json").json()["DeviceID"]
        .as_str()
        .unwrap()
        .to_string();
    let our_id = device_id::parse(&id).unwrap();
    let target: SocketAddr = ([127, 0, 0, 1], port).into();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();

    // The listener starts beside the HTTP server: probe until it answers.
    let mut reply = None;
    assert!(
        crate::support::wait_until(Duration::from_secs(10), || {
            client.send_to(&JELLYFIN_PROBE, target).unwrap();
            reply = recv_reply(&client);
            reply.is_some()
        }),
        "no reply to Jellyfin's probe; log:\n{}",
        server.log_text()
    );
    let reply = reply.unwrap();
    let (kind, payload) = packet::unframe(&reply).expect("reply CRC and length check out");
    assert_eq!(kind, packet::TYPE_DISCOVER_RPY);
    let tlvs: Vec<(u8, Vec<u8>)> = packet::tlvs(payload)
        .map(|(t, v)| (t, v.to_vec()))
        .collect();
    let get = |tag: u8| {
        tlvs.iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get(packet::TAG_DEVICE_TYPE), 1u32.to_be_bytes());
    assert_eq!(get(packet::TAG_DEVICE_ID), our_id.to_be_bytes());
    let base = format!("http://{}/hdhomerun", server.addr);
    assert_eq!(String::from_utf8(get(packet::TAG_BASE_URL)).unwrap(), base);
    assert_eq!(
        String::from_utf8(get(packet::TAG_LINEUP_URL)).unwrap(),
        format!("{base}/lineup.json")
    );
    assert_eq!(get(packet::TAG_DEVICE_AUTH_STR), b"exstreamtv");
    assert!(get(packet::TAG_TUNER_COUNT)[0] >= 1);

    // A request for our id, and one naming the tuner type only, are answered.
    let ours = packet::build_request(packet::DEVICE_TYPE_TUNER, Some(our_id)).unwrap();
    client.send_to(ours.as_bytes(), target).unwrap();
    assert!(recv_reply(&client).is_some());

    // Garbage, a bad CRC, an oversized datagram, another device's id, another type: silence.
    let mut bad_crc = JELLYFIN_PROBE;
    bad_crc[19] ^= 0xFF;
    let other_id = device_id::generate([9, 9, 9, 9]);
    let other = packet::build_request(packet::DEVICE_TYPE_TUNER, Some(other_id ^ 0x10)).unwrap();
    let storage = packet::build_request(5, None).unwrap();
    let mut oversized = vec![0u8; 4000];
    oversized[..20].copy_from_slice(&JELLYFIN_PROBE);
    for junk in [
        &b"hello"[..],
        &[][..],
        &bad_crc[..],
        &oversized[..],
        other.as_bytes(),
        storage.as_bytes(),
        &[0xFF; 1400][..],
    ] {
        client.send_to(junk, target).unwrap();
        assert!(
            recv_reply(&client).is_none(),
            "answered {} junk bytes",
            junk.len()
        );
    }
    // Still alive and answering afterwards.
    client.send_to(&JELLYFIN_PROBE, target).unwrap();
    assert!(recv_reply(&client).is_some());

    // IPv6, where the host has it (loopback here): the same reply.
    if let Ok(client6) = UdpSocket::bind("[::1]:0") {
        client6
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        client6.send_to(&JELLYFIN_PROBE, ("::1", port)).unwrap();
        let reply6 = recv_reply(&client6).expect("a reply over IPv6");
        let (_, payload6) = packet::unframe(&reply6).unwrap();
        assert!(packet::tlvs(payload6)
            .any(|(t, v)| t == packet::TAG_DEVICE_ID && v == our_id.to_be_bytes()));
    }
}

#[test]
fn hdhomerun_config_discovers_the_device() {
    // libhdhomerun always targets port 65001; when something else holds it (another
    // server, a parallel run) the raw-frame test above still covers the wire format.
    if UdpSocket::bind("0.0.0.0:65001").is_err() {
        eprintln!(
            "port 65001 busy: hdhomerun_config check skipped (raw UDP test covers discovery)"
        );
        return;
    }
    let server = TestServer::builder()
        .args(["--discovery-port", "65001"])
        .start();
    let id = server.anon().get("/hdhomerun/discover.json").json()["DeviceID"]
        .as_str()
        .unwrap()
        .to_string();
    let mut last = String::new();
    let found = crate::support::wait_until(Duration::from_secs(10), || {
        let out = Command::new("hdhomerun_config")
            .args(["discover", "127.0.0.1"])
            .output()
            .expect("hdhomerun_config (Debian hdhomerun-config) is installed");
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        last.contains(&format!("hdhomerun device {id} found at 127.0.0.1"))
    });
    assert!(found, "hdhomerun_config said: {last}");
}

#[test]
fn ssdp_answers_searches_and_announces() {
    let port = free_udp_port();
    // Joined before the server starts, so its NOTIFY alive is seen.
    let listener = ssdp_listener(port);
    let mut server = TestServer::builder()
        .args(["--ssdp-port", &port.to_string()])
        .start();
    let id = server.anon().get("/hdhomerun/discover.json").json()["DeviceID"]
        .as_str()
        .unwrap()
        .to_string();
    let location = format!("http://{}/hdhomerun/device.xml", server.addr);
    let mut seen = Vec::new();
    assert!(
        crate::support::wait_until(Duration::from_secs(10), || {
            if let Some(m) = recv_text(&listener) {
                seen.push(m);
            }
            seen.iter()
                .filter(|m| m.contains("NTS: ssdp:alive"))
                .count()
                >= 3
        }),
        "no NOTIFY alive: {seen:?}"
    );
    let alive = seen
        .iter()
        .find(|m| m.contains("NT: upnp:rootdevice"))
        .unwrap();
    assert!(
        alive.contains(&format!("LOCATION: {location}\r\n")),
        "{alive}"
    );
    assert!(alive.contains(&format!("USN: uuid:{id}::upnp:rootdevice\r\n")));

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let search = |st: &str| -> Vec<String> {
        let msg = format!(
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\n\r\n"
        );
        client.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
        std::iter::from_fn(|| recv_text(&client)).collect()
    };
    let all = search("ssdp:all");
    assert_eq!(all.len(), 3, "{all:?}");
    for reply in &all {
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(reply.contains(&format!("LOCATION: {location}\r\n")));
        assert!(reply.contains("CACHE-CONTROL: max-age=1800\r\n"));
    }
    let ms = search("urn:schemas-upnp-org:device:MediaServer:1");
    assert_eq!(ms.len(), 1);
    assert!(ms[0].contains(&format!(
        "USN: uuid:{id}::urn:schemas-upnp-org:device:MediaServer:1\r\n"
    )));
    assert!(search("urn:schemas-upnp-org:device:MediaRenderer:1").is_empty());
    // Malformed: no MAN, garbage bytes, an oversized datagram.
    client
        .send_to(
            b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n",
            ("127.0.0.1", port),
        )
        .unwrap();
    client.send_to(&[0xFF; 3000], ("127.0.0.1", port)).unwrap();
    assert!(recv_text(&client).is_none());
    assert_eq!(search("upnp:rootdevice").len(), 1, "still answering");

    seen.clear();
    server.stop(Duration::from_secs(5));
    assert!(
        crate::support::wait_until(Duration::from_secs(5), || {
            if let Some(m) = recv_text(&listener) {
                seen.push(m);
            }
            seen.iter()
                .filter(|m| m.contains("NTS: ssdp:byebye"))
                .count()
                >= 3
        }),
        "no byebye: {seen:?}"
    );
}

/// A socket on `port` that has joined the SSDP group on loopback (where a server listening
/// on 127.0.0.1 announces).
fn ssdp_listener(port: u16) -> UdpSocket {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true).unwrap();
    socket::bind(fd.as_raw_fd(), &SockaddrIn::new(0, 0, 0, 0, port)).unwrap();
    let sock = UdpSocket::from(fd);
    sock.join_multicast_v4(&[239, 255, 255, 250].into(), &[127, 0, 0, 1].into())
        .unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    sock
}

fn recv_text(sock: &UdpSocket) -> Option<String> {
    recv_reply(sock).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn documents_follow_api_writes_at_once() {
    let server = TestServer::start();
    let (api, c) = (server.client(), server.anon());
    // Cached first, so a stale cache would show.
    let before = c.get("/hdhomerun/lineup.json").json();
    c.get("/iptv/channels.m3u");
    c.get("/hdhomerun/discover.json");
    let created = api.post_json(
        "/api/channels",
        &serde_json::json!({"number": "42", "name": "Via API"}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    let after = c.get("/hdhomerun/lineup.json").json();
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + 1
    );
    assert!(c
        .get("/iptv/channels.m3u")
        .text()
        .contains("/iptv/channel/42.ts"));
    assert!(c
        .get("/iptv/xmltv.xml")
        .text()
        .contains(&format!("<channel id=\"exstream.{id}\">")));

    let put = api.put_json(
        "/api/settings/hdhomerun",
        &serde_json::json!({"friendly_name": "Den & <TV> 📺"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        c.get("/hdhomerun/discover.json").json()["FriendlyName"],
        "Den & <TV> 📺"
    );
    assert!(c
        .get("/hdhomerun/device.xml")
        .text()
        .contains("<friendlyName>Den &amp; &lt;TV&gt; 📺</friendlyName>"));

    let put = api.put_json(
        "/api/settings/iptv",
        &serde_json::json!({"access_token": "tok-12345"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(c.get("/hdhomerun/discover.json").status, 401);
    let d = c
        .get("/hdhomerun/discover.json?access_token=tok-12345")
        .json();
    assert!(d["LineupURL"]
        .as_str()
        .unwrap()
        .ends_with("/lineup.json?access_token=tok-12345"));
    api.put_json(
        "/api/settings/iptv",
        &serde_json::json!({"access_token": ""}),
    );
    assert_eq!(c.get("/hdhomerun/discover.json").status, 200);

    let put = api.put_json(
        "/api/settings/hdhomerun",
        &serde_json::json!({"enabled": false}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let off = c.get("/hdhomerun/discover.json");
    assert_eq!(off.status, 404);
    assert!(off.detail().contains("disabled"));
    assert_eq!(c.get("/device.xml").status, 404);
    assert_eq!(c.get("/iptv/channels.m3u").status, 200, "IPTV stays");

    assert_eq!(api.delete(&format!("/api/channels/{id}")).status, 204);
    assert!(!c
        .get("/iptv/channels.m3u")
        .text()
        .contains("/iptv/channel/42.ts"));
}

#[test]
fn polled_documents_on_one_keep_alive_connection_follow_writes_at_once() {
    // TV clients poll on keep-alive connections, and repeats are answered from the
    // connection's memory of its last answer (hdhr::polled): it must never outlive a change.
    let server = TestServer::start();
    let api = server.client();
    let mut tv = KeepAlive::connect(server.addr);
    // Rendered by the full route, then the shared cache, then the connection's memory.
    let first = tv.get("/hdhomerun/discover.json");
    assert_eq!(first.status, 200);
    for _ in 0..3 {
        let again = tv.get("/hdhomerun/discover.json");
        assert_eq!(again.status, 200);
        assert_eq!(again.header("content-type"), Some("application/json"));
        assert_eq!(again.body, first.body);
    }
    assert_eq!(
        server.anon().get("/hdhomerun/discover.json").body,
        first.body
    );
    let head = tv.request("HEAD", "/hdhomerun/discover.json");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        first.header("content-length")
    );
    let lineup = tv.get("/hdhomerun/lineup.json");
    assert_eq!(lineup.status, 200);
    assert_eq!(tv.get("/hdhomerun/lineup.json").body, lineup.body);
    assert_eq!(tv.get("/hdhomerun/lineup.json?show=bogus").status, 400);
    for path in ["/hdhomerun/device.xml", "/device.xml", "/device.xml"] {
        let xml = tv.get(path);
        assert_eq!(xml.status, 200);
        assert_eq!(
            xml.header("content-type"),
            Some("application/xml; charset=utf-8")
        );
    }

    // Before each change, the connection remembers the very request asked after it.
    let remember = |tv: &mut KeepAlive, path: &str| {
        let a = tv.get(path);
        assert_eq!(tv.get(path).body, a.body);
    };
    remember(&mut tv, "/hdhomerun/discover.json");
    let put = api.put_json(
        "/api/settings/hdhomerun",
        &serde_json::json!({"friendly_name": "Kitchen"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        tv.get("/hdhomerun/discover.json").json()["FriendlyName"],
        "Kitchen"
    );
    remember(&mut tv, "/hdhomerun/discover.json");

    let put = api.put_json(
        "/api/settings/iptv",
        &serde_json::json!({"access_token": "tok-777777"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(tv.get("/hdhomerun/discover.json").status, 401);
    for _ in 0..3 {
        let d = tv.get("/hdhomerun/discover.json?access_token=tok-777777");
        assert_eq!(d.status, 200);
        assert!(d.json()["LineupURL"]
            .as_str()
            .unwrap()
            .ends_with("?access_token=tok-777777"));
    }
    assert_eq!(
        tv.get("/hdhomerun/discover.json?access_token=tok-777778")
            .status,
        401
    );
    assert_eq!(tv.get("/hdhomerun/discover.json").status, 401);
    // A changed token: the remembered answer to the old one is not served.
    remember(&mut tv, "/hdhomerun/discover.json?access_token=tok-777777");
    let put = api.put_json(
        "/api/settings/iptv",
        &serde_json::json!({"access_token": "tok-888888"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        tv.get("/hdhomerun/discover.json?access_token=tok-777777")
            .status,
        401
    );

    api.put_json(
        "/api/settings/iptv",
        &serde_json::json!({"access_token": ""}),
    );
    assert_eq!(tv.get("/hdhomerun/discover.json").status, 200);
    remember(&mut tv, "/hdhomerun/discover.json");
    let put = api.put_json(
        "/api/settings/hdhomerun",
        &serde_json::json!({"enabled": false}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(tv.get("/hdhomerun/discover.json").status, 404);
    assert_eq!(tv.get("/device.xml").status, 404);

    // Every answer is counted, however it was found: 1 + 3 + 1 + 1 (HEAD) + 2 + 1 (name)
    // + 2 + 3 (token) + 2 + 1 (token removed) + 2.
    let metrics = api.get("/metrics").text();
    assert!(
        metrics.contains(
            "exstreamtv_http_requests_total{route=\"/hdhomerun/discover.json\",status=\"200\"} 19"
        ),
        "{metrics}"
    );
}

#[test]
fn lineup_reports_each_channels_output_profile() {
    let server = TestServer::start();
    let api = server.client();
    let profile = api.post_json(
        "/api/ffmpeg-profiles",
        &serde_json::json!({"name": "SD HEVC", "resolution_id": 1, "video_codec": "libx265", "audio_codec": "ac3"}),
    );
    assert_eq!(profile.status, 201, "{}", profile.text());
    let profile_id = profile.json()["id"].as_i64().unwrap();
    let ch = api.post_json(
        "/api/channels",
        &serde_json::json!({"number": "8", "name": "8 Classic Movies", "ffmpeg_profile_id": profile_id}),
    );
    assert_eq!(ch.status, 201, "{}", ch.text());
    let lineup = server.anon().get("/hdhomerun/lineup.json").json();
    let entry = lineup
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["GuideNumber"] == "8")
        .expect("channel 8 listed")
        .clone();
    assert_eq!(
        entry,
        serde_json::json!({
            "GuideNumber": "8",
            "GuideName": "Classic Movies",
            "URL": format!("http://{}/hdhomerun/auto/v8", server.addr),
            "HD": 0,
            "VideoCodec": "HEVC",
            "AudioCodec": "AC3"
        })
    );
}

#[test]
fn port80_serves_discover_json_for_jellyfin_when_asked() {
    use std::sync::Arc;
    let data = Arc::new(crate::support::TempDir::new("port80"));
    {
        let server = TestServer::builder().data(data.clone()).start();
        let r = server.client().put_json(
            "/api/settings/hdhomerun",
            &serde_json::json!({"port80": true}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["port80"], true);
    }
    // Applies at the next start: the listen address's port 80 serves the same documents.
    let server = TestServer::builder().data(data.clone()).start();
    let port80 = crate::support::Client::new("127.0.0.1:80".parse().unwrap());
    assert!(
        crate::support::wait_until(Duration::from_secs(5), || port80
            .try_request("GET", "/discover.json", None)
            .is_ok()),
        "nothing on port 80; log:\n{}",
        server.log_text()
    );
    let r = port80.get("/hdhomerun/discover.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(
        doc["DeviceID"],
        server.anon().get("/hdhomerun/discover.json").json()["DeviceID"]
    );
    assert_eq!(port80.get("/discover.json").status, 307);
}
