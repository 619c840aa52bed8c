//! Channels, schedules and playouts against the real server: the demo channel's timeline at
//! start-up, CRUD with its 404/409/422 cases, a channel built through the API showing up in
//! now-playing without a restart, rebuild determinism, skip.

use serde_json::{json, Value};

use crate::support::{Client, TestServer};

fn ms(ts: &Value) -> i64 {
    let text = ts
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {ts}"));
    text.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .as_millisecond()
}

/// Every item of a playout, in time order (all pages).
fn all_items(c: &Client, playout_id: i64) -> Vec<Value> {
    let mut items = Vec::new();
    loop {
        let page = c
            .get(&format!(
                "/api/playouts/{playout_id}/items?limit=1000&offset={}",
                items.len()
            ))
            .json();
        let batch = page["items"].as_array().unwrap().clone();
        if batch.is_empty() {
            return items;
        }
        items.extend(batch);
    }
}

fn assert_contiguous(items: &[Value]) {
    assert!(!items.is_empty());
    for pair in items.windows(2) {
        assert_eq!(
            ms(&pair[0]["finish_time"]),
            ms(&pair[1]["start_time"]),
            "gap or overlap: {pair:?}"
        );
    }
}

#[test]
fn demo_channel_has_a_contiguous_timeline_at_start() {
    let server = TestServer::start();
    let c = server.client();
    let playouts = c.get("/api/playouts?channel_id=1").json();
    let playout_id = playouts[0]["id"].as_i64().unwrap();
    assert_eq!(playouts[0]["is_active"], true);
    let items = all_items(&c, playout_id);
    assert_contiguous(&items);
    let span = ms(&items.last().unwrap()["finish_time"]) - ms(&items[0]["start_time"]);
    assert!(span >= 3 * 86_400_000, "3 days built, got {span} ms");
    let now = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    let current = &now["current"];
    assert_eq!(current["title"], "Demo", "{now}");
    assert!(current["progress_seconds"].as_f64().unwrap() >= 0.0);
    assert!(ms(&now["next"]["start_time"]) == ms(&current["finish_time"]));
    // The guide view by number reads the same rows.
    let schedule = c.get("/api/channels/1/schedule?hours=2").json();
    let programmes = schedule["programmes"].as_array().unwrap();
    assert_eq!(ms(&programmes[0]["start"]), ms(&current["start_time"]));
    assert!(programmes.len() >= 4, "{schedule}");
    let programming = c.get("/api/channels/1/programming?hours=1").json();
    assert_eq!(programming["playout_id"], playout_id);
    assert_eq!(programming["programs"][0]["id"], current["id"]);
}

#[test]
fn rebuild_twice_gives_the_same_timeline_and_skip_advances_now_playing() {
    let server = TestServer::start();
    let c = server.client();
    let playout_id = c.get("/api/playouts?channel_id=1").json()[0]["id"]
        .as_i64()
        .unwrap();
    let key = |items: &[Value]| -> Vec<(Value, Value, Value, Value)> {
        items
            .iter()
            .map(|i| {
                (
                    i["media_item_id"].clone(),
                    i["start_time"].clone(),
                    i["finish_time"].clone(),
                    i["title"].clone(),
                )
            })
            .collect()
    };
    let r1 = c.post(&format!("/api/playouts/{playout_id}/rebuild"));
    assert_eq!(r1.status, 200, "{}", r1.text());
    assert_eq!(r1.json()["status"], "rebuilt");
    let first = all_items(&c, playout_id);
    c.post(&format!("/api/playouts/{playout_id}/rebuild"));
    let second = all_items(&c, playout_id);
    // The horizon moves with the clock: compare what both builds cover.
    let n = first.len().min(second.len()) - 2;
    assert_eq!(key(&first[..n]), key(&second[..n]));
    assert_contiguous(&second);

    let before = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    let skipped = c.post(&format!("/api/playouts/{playout_id}/skip")).json();
    assert_eq!(skipped["skipped"], true, "{skipped}");
    assert_eq!(skipped["skipped_item_id"], before["current"]["id"]);
    let after = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    assert_eq!(after["current"]["id"], before["next"]["id"], "{after}");
    assert!(ms(&after["current"]["start_time"]) < ms(&before["next"]["start_time"]));
    assert_contiguous(&all_items(&c, playout_id));
    let history = c.get(&format!("/api/playouts/{playout_id}/history")).json();
    assert_eq!(history[0]["status"], "skipped", "{history}");
    let cancel = c
        .post(&format!("/api/playouts/{playout_id}/cancel-skip"))
        .json();
    assert_eq!(cancel["cancelled"], false);
}

#[test]
fn channel_crud_and_its_errors() {
    let server = TestServer::start();
    let c = server.client();
    let created = c.post_json("/api/channels", &json!({"number": "5.1", "name": "News"}));
    assert_eq!(created.status, 201, "{}", created.text());
    let channel = created.json();
    let id = channel["id"].as_i64().unwrap();
    assert_eq!(channel["group"], "General");
    assert_eq!(channel["enabled"], true);
    assert_eq!(channel["streaming_mode"], "transport_stream_hybrid");
    let dup = c.post_json("/api/channels", &json!({"number": "5.1", "name": "Other"}));
    assert_eq!(
        (dup.status, dup.detail().as_str()),
        (409, "channel number 5.1 is taken")
    );
    for (body, detail) in [
        (
            json!({"number": "5.x", "name": "A"}),
            "number: must be digits",
        ),
        (json!({"number": "7"}), "name: field required"),
        (
            json!({"number": "7", "name": " "}),
            "name: may not be empty",
        ),
        (
            json!({"number": "7", "name": "A", "ffmpeg_profile_id": 999}),
            "ffmpeg_profile_id: unknown profile 999",
        ),
        (
            json!({"number": "7", "name": "A", "streaming_mode": "rtsp"}),
            "streaming_mode: must be one of",
        ),
    ] {
        let r = c.post_json("/api/channels", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.detail().starts_with(detail), "{body}: {}", r.detail());
    }
    let bad = c.request("POST", "/api/channels", Some(b"{nope"));
    assert_eq!(bad.status, 400);
    // Partial PUT: only the fields sent change.
    let put = c.put_json(
        &format!("/api/channels/{id}"),
        &json!({"name": "World News"}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["number"], "5.1");
    assert_eq!(put.json()["name"], "World News");
    let self_mirror = c.put_json(
        &format!("/api/channels/{id}"),
        &json!({"mirror_source_channel_id": id}),
    );
    assert_eq!(self_mirror.status, 422);
    let taken = c.put_json(&format!("/api/channels/{id}"), &json!({"number": "1"}));
    assert_eq!(taken.status, 409);
    assert_eq!(c.get("/api/channels/number/5.1").json()["id"], id);
    assert_eq!(c.get("/api/channels/number/99").status, 404);
    assert_eq!(c.get("/api/channels/9999").status, 404);
    assert_eq!(c.get("/api/channels/abc").status, 404);
    let toggled = c.post(&format!("/api/channels/{id}/toggle-enabled")).json();
    assert_eq!(toggled["enabled"], false);
    assert_eq!(c.get("/api/channels/5.1/schedule").status, 404, "disabled");
    let list = c.get("/api/channels?include_content_status=true").json();
    let demo = list
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["number"] == "1")
        .unwrap();
    assert_eq!(demo["has_content"], true);
    let no_playout = c.get(&format!("/api/channels/{id}/programming")).json();
    assert_eq!(no_playout["programs"], json!([]));
    assert!(no_playout["message"].is_string());
    // Playback position is for on_demand channels.
    let pos = c.post_json(
        &format!("/api/channels/{id}/playback-position"),
        &json!({"item_index": 3}),
    );
    assert_eq!(pos.status, 409);
    c.put_json(
        &format!("/api/channels/{id}"),
        &json!({"playout_mode": "on_demand"}),
    );
    let pos = c.post_json(
        &format!("/api/channels/{id}/playback-position"),
        &json!({"item_index": 3}),
    );
    assert_eq!(pos.status, 200, "{}", pos.text());
    let got = c
        .get(&format!("/api/channels/{id}/playback-position"))
        .json();
    assert_eq!(
        (got["item_index"].clone(), got["resume_available"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(
        c.delete(&format!("/api/channels/{id}/playback-position"))
            .status,
        204
    );
    // Filler: unknown preset 422; 0 clears.
    let r = c.put_json(
        &format!("/api/channels/{id}/filler"),
        &json!({"fallback_filler_id": 42}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.put_json(
        &format!("/api/channels/{id}/filler"),
        &json!({"fallback_filler_id": 0}),
    );
    assert_eq!(r.json()["fallback_filler_id"], Value::Null);
    assert_eq!(c.delete(&format!("/api/channels/{id}")).status, 204);
    assert_eq!(c.get(&format!("/api/channels/{id}")).status, 404);
    assert_eq!(c.delete(&format!("/api/channels/{id}")).status, 404);
    let wrong = c.request("PATCH", "/api/channels", None);
    assert_eq!(wrong.status, 405);
}

#[test]
fn channel_icon_upload_is_served_open() {
    let server = TestServer::start();
    let c = server.client();
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRfake";
    let boundary = "exstreamtvboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let upload = c
        .clone()
        .header(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .request("POST", "/api/channels/1/icon", Some(&body));
    assert_eq!(upload.status, 200, "{}", upload.text());
    assert_eq!(
        upload.json()["logo_path"],
        "/static/channel_icons/channel_1.png"
    );
    let served = server.anon().get("/static/channel_icons/channel_1.png");
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.body, png);
    assert_eq!(
        server
            .anon()
            .get("/static/channel_icons/..%2Fapi-token")
            .status,
        404
    );
    let not_png = c
        .clone()
        .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
        .request(
            "POST",
            "/api/channels/1/icon",
            Some(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nGIF89a\r\n--{boundary}--\r\n").as_bytes()),
        );
    assert_eq!(not_png.status, 400);
    assert_eq!(c.delete("/api/channels/1/icon").status, 204);
    assert_eq!(
        server
            .anon()
            .get("/static/channel_icons/channel_1.png")
            .status,
        404
    );
}
