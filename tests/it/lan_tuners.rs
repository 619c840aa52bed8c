//! LAN HDHomeRun tuners: a second exstreamtv on loopback is the device (it speaks the same
//! UDP discovery and lineup.json as a real HDHomeRun, checked against SiliconDust's own
//! client in `hdhr`). Discovery asks it by its address, never by broadcast; its channels
//! are imported as relayed channels and play through our engine.

use std::time::Duration;

use serde_json::json;

use crate::outputs_fixture::free_udp_port;
use crate::stream_fixture::read_for;
use crate::support::TestServer;

#[test]
fn a_lan_tuner_is_discovered_listed_and_its_channels_relayed() {
    let device_port = free_udp_port();
    let device = TestServer::builder()
        .args(["--discovery-port", &device_port.to_string()])
        .start();
    let device_id = device.anon().get("/hdhomerun/discover.json").json()["DeviceID"]
        .as_str()
        .unwrap()
        .to_string();
    let our_port = free_udp_port();
    let server = TestServer::builder()
        .args(["--discovery-port", &our_port.to_string()])
        .start();
    let c = server.client();
    let at = format!("127.0.0.1:{device_port}");
    // Loopback is refused until the setting allows it.
    let r = c.get(&format!("/api/integrations/hdhomerun/devices?address={at}"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().contains("loopback"), "{}", r.detail());
    let r = c.put_json("/api/settings/sources", &json!({"allow_loopback": true}));
    assert_eq!(r.status, 200, "{}", r.text());

    let found = c
        .get(&format!("/api/integrations/hdhomerun/devices?address={at}"))
        .json();
    assert_eq!(found["count"], 1, "{found}");
    let d = &found["devices"][0];
    assert_eq!(d["device_id"], device_id.as_str(), "{d}");
    assert!(d["channel_count"].as_u64().unwrap() >= 1, "{d}");
    let number = d["channels"][0]["guide_number"]
        .as_str()
        .unwrap()
        .to_string();
    // Asking ourselves finds nothing: our own device is left out.
    let own = c
        .get(&format!(
            "/api/integrations/hdhomerun/devices?address=127.0.0.1:{our_port}"
        ))
        .json();
    assert_eq!(own["count"], 0, "{own}");

    // Import: the device's number is ours already (both run the demo), so from 500 up.
    let r = c.post_json(
        &format!("/api/integrations/hdhomerun/devices/{device_id}/import?address={at}"),
        &json!({"channel_number_start": 500, "guide_numbers": [number]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let channels = r.json();
    assert_eq!(channels.as_array().unwrap().len(), 1, "{channels}");
    assert_eq!(channels[0]["number"], "500", "{channels}");
    let lineup = server.anon().get("/hdhomerun/lineup.json").json();
    assert!(
        lineup
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["GuideNumber"] == "500"),
        "{lineup}"
    );
    // It plays: our FFmpeg relays the device's stream.
    let mut s = server.anon().stream("/iptv/channel/500.ts").unwrap();
    // A live input is probed first (FFmpeg reads a few seconds before it writes).
    let (ts, _) = read_for(&mut s.body, Duration::from_secs(12));
    // The device streams its channel to our FFmpeg: one viewer there.
    let there = device.client().get("/api/dashboard/active-streams").json();
    s.body.close();
    let viewers: u64 = there
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["viewers"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(viewers, 1, "{there}");
    assert!(
        ts.len() > 20_000,
        "{} bytes\n{}",
        ts.len(),
        server.log_text()
    );
    assert_eq!(ts[0], 0x47);

    // Bad input: an unknown device, a bad address, a link-local address, no matching channel.
    let r = c.post_json(
        &format!("/api/integrations/hdhomerun/devices/12345678/import?address={at}"),
        &json!({}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        c.get("/api/integrations/hdhomerun/devices?address=nope")
            .status,
        422
    );
    let r = c.get("/api/integrations/hdhomerun/devices?address=169.254.169.254");
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.post_json(
        &format!("/api/integrations/hdhomerun/devices/{device_id}/import?address={at}"),
        &json!({"guide_numbers": ["9999"]}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(c.get("/api/integrations/cloud").status, 501);
}
