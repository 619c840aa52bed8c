//! `/api/player/*` against the real server: the HLS URL a player is given plays (the
//! playlist answers), the metadata is the timeline's now-playing, and bad input is refused.

use serde_json::json;

use crate::support::TestServer;

#[test]
fn a_player_gets_a_working_hls_url_and_what_plays_now() {
    let server = TestServer::start();
    let c = server.client();
    let number = c.get("/api/channels/1").json()["number"]
        .as_str()
        .unwrap()
        .to_string();
    let s = c.get(&format!("/api/player/channel/{number}/stream"));
    assert_eq!(s.status, 200, "{}", s.text());
    let s = s.json();
    assert_eq!(s["format"], "hls");
    let url = s["stream_url"].as_str().unwrap();
    let path = url.split_once("//").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    assert_eq!(path, format!("/iptv/channel/{number}.m3u8"));
    // The URL given plays: the live playlist answers (the server reaps its FFmpeg on stop).
    let playlist = server.anon().get(path);
    assert_eq!(playlist.status, 200, "{}", playlist.text());
    assert!(
        playlist.text().starts_with("#EXTM3U"),
        "{}",
        playlist.text()
    );
    let switched = c
        .post(&format!("/api/player/channel/{number}/switch"))
        .json();
    assert_eq!(switched["status"], "switched");
    assert_eq!(switched["stream_url"], url);
    // Metadata is the timeline's now-playing.
    let meta = c
        .get(&format!("/api/player/channel/{number}/metadata"))
        .json();
    let playout = c.get("/api/playouts?channel_id=1").json()[0]["id"].clone();
    let now = c
        .get(&format!("/api/playouts/{playout}/now-playing"))
        .json();
    assert_eq!(
        meta["current_item"]["title"], now["current"]["title"],
        "{meta}"
    );
    assert_eq!(
        meta["current_item_start_time"],
        now["current"]["start_time"]
    );
    assert!(meta["elapsed_seconds_in_item"].as_f64().unwrap() >= 0.0);
    assert!(meta["current_item"]["duration"].as_f64().unwrap() > 0.0);
    // Unknown and disabled channels.
    assert_eq!(c.get("/api/player/channel/999/stream").status, 404);
    let r = c.put_json("/api/channels/1", &json!({"enabled": false}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.get(&format!("/api/player/channel/{number}/metadata"))
            .status,
        409
    );
    // Commands are checked, then acknowledged.
    let ok = c.post("/api/player/control?action=seek&value=12.5");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json(),
        json!({"status": "ok", "action": "seek", "value": 12.5})
    );
    assert_eq!(c.post("/api/player/control?action=pause").status, 200);
    for bad in [
        "",
        "?action=rewind",
        "?action=seek",
        "?action=volume&value=150",
        "?action=seek&value=soon",
    ] {
        let r = c.post(&format!("/api/player/control{bad}"));
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["detail"].is_string());
    }
}
