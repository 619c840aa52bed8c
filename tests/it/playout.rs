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

/// Channel 50 flooding the demo collection shuffled, then one demo item, through the API.
fn api_channel(c: &Client) -> (i64, i64, i64) {
    let channel = c.post_json("/api/channels", &json!({"number": "50", "name": "Shuffle"}));
    assert_eq!(channel.status, 201, "{}", channel.text());
    let channel_id = channel.json()["id"].as_i64().unwrap();
    let schedule = c.post_json(
        "/api/schedules",
        &json!({"name": "Mixed", "channel_id": channel_id}),
    );
    assert_eq!(schedule.status, 201, "{}", schedule.text());
    let schedule_id = schedule.json()["id"].as_i64().unwrap();
    let flood = c.post_json(
        &format!("/api/schedules/{schedule_id}/items"),
        &json!({"collection_type": "collection", "collection_id": 1,
                "playback_mode": "multiple", "playback_order": "shuffled"}),
    );
    assert_eq!(
        flood.status,
        422,
        "multiple needs a count: {}",
        flood.text()
    );
    let flood = c.post(&format!(
        "/api/schedules/{schedule_id}/items?collection_type=collection&collection_id=1&playback_mode=multiple&playback_order=shuffled&multiple_count=2"
    ));
    assert_eq!(flood.status, 201, "{}", flood.text());
    assert_eq!(flood.json()["position"], 0);
    assert_eq!(flood.json()["playback_mode"], "multiple");
    let one = c.post_json(
        "/api/schedule-items",
        &json!({"schedule_id": schedule_id, "collection_type": "media_item", "media_item_id": 3,
                "playout_mode": "one", "custom_title": "Clock Break", "guide_mode": "custom"}),
    );
    assert_eq!(one.status, 201, "{}", one.text());
    assert_eq!(one.json()["index"], 1);
    let playout = c.post_json(
        "/api/playouts",
        &json!({"channel_id": channel_id, "program_schedule_id": schedule_id}),
    );
    assert_eq!(playout.status, 201, "{}", playout.text());
    (
        channel_id,
        schedule_id,
        playout.json()["id"].as_i64().unwrap(),
    )
}

#[test]
fn a_channel_built_through_the_api_plays_at_once() {
    let server = TestServer::start();
    let c = server.client();
    let (channel_id, schedule_id, playout_id) = api_channel(&c);
    let now = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    assert!(now["current"]["id"].is_i64(), "{now}");
    assert_eq!(
        now["current"]["progress_seconds"].as_f64().unwrap().round(),
        0.0
    );
    let items = all_items(&c, playout_id);
    assert_contiguous(&items);
    // Two shuffled demo items, then the clock under its custom title, over and over.
    let pattern: Vec<bool> = items
        .iter()
        .take(6)
        .map(|i| i["media_item_id"] == 3 && i["custom_title"] == "Clock Break")
        .collect();
    assert_eq!(
        pattern,
        [false, false, true, false, false, true],
        "{items:?}"
    );
    // The cached lineup documents see the new channel at once (content_changed).
    let m3u = server.anon().get("/iptv/channels.m3u").text();
    assert!(m3u.contains("tvg-chno=\"50\""), "{m3u}");
    let xmltv = server.anon().get("/iptv/xmltv.xml").text();
    assert!(
        xmltv.contains(&format!("channel=\"exstream.{channel_id}\"")),
        "{xmltv}"
    );
    let guide = c.get("/api/channels/50/schedule?hours=1").json();
    assert_eq!(guide["programmes"][2]["title"], "Clock Break", "{guide}");
    assert_eq!(
        c.get(&format!("/api/channels/{channel_id}/playouts"))
            .json()[0]["id"],
        playout_id
    );
    let by_number = c.get("/api/playouts/channel/50").json();
    assert_eq!(by_number["schedule"]["content_items"], 2);
    assert!(by_number["time_blocks"].as_array().unwrap().len() <= 50);

    // Reordering the schedule rebuilds from now, keeping what plays now.
    let items_view = c.get(&format!("/api/schedules/{schedule_id}/items")).json();
    let second = items_view[1]["id"].as_i64().unwrap();
    let moved = c.post(&format!("/api/schedule-items/{second}/move?direction=up"));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["index"], 0);
    assert_eq!(
        c.post(&format!("/api/schedule-items/{second}/move?direction=up"))
            .status,
        409
    );
    assert_eq!(
        c.post(&format!(
            "/api/schedule-items/{second}/move?direction=sideways"
        ))
        .status,
        400
    );
    let after = all_items(&c, playout_id);
    assert_eq!(after[0], items[0], "the item playing now stays");
    assert_contiguous(&after);
    assert_eq!(after[1]["media_item_id"], 3, "{:?}", &after[..3]);

    // A rebuild twice reproduces the shuffle (the seed is stored).
    c.post(&format!("/api/playouts/{playout_id}/rebuild"));
    let once = all_items(&c, playout_id);
    c.post(&format!("/api/playouts/{playout_id}/rebuild"));
    let twice = all_items(&c, playout_id);
    let n = once.len().min(twice.len()) - 2;
    assert_eq!(once[..n], twice[..n]);

    // In use: the schedule cannot go while a playout uses it.
    let r = c.delete(&format!("/api/schedules/{schedule_id}"));
    assert_eq!(r.status, 409);
    assert!(
        r.detail().contains("channel 50 (Shuffle)"),
        "{}",
        r.detail()
    );
    assert_eq!(c.delete(&format!("/api/playouts/{playout_id}")).status, 204);
    assert_eq!(
        c.get(&format!("/api/playouts/{playout_id}/now-playing"))
            .status,
        404
    );
    assert_eq!(
        c.delete(&format!("/api/schedules/{schedule_id}")).status,
        204
    );
    assert_eq!(
        c.get(&format!("/api/schedule-items?schedule_id={schedule_id}"))
            .json(),
        json!([])
    );
}

#[test]
fn schedule_items_validate_and_renumber() {
    let server = TestServer::start();
    let c = server.client();
    let schedule_id = c.post_json("/api/schedules", &json!({"name": "S"})).json()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(c.post_json("/api/schedules", &json!({})).status, 422);
    assert_eq!(
        c.post_json("/api/schedules", &json!({"name": "x", "channel_id": 999}))
            .status,
        422
    );
    let add = |body: Value| c.post_json("/api/schedule-items", &body);
    let base =
        json!({"schedule_id": schedule_id, "collection_type": "collection", "collection_id": 1});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    for (body, status, detail) in [
        (
            with(json!({"collection_id": 999})),
            422,
            "collection_id: unknown collection 999",
        ),
        (with(json!({"schedule_id": 999})), 404, "schedule not found"),
        (
            with(json!({"playout_mode": "duration"})),
            422,
            "playout_duration_minutes:",
        ),
        (
            with(json!({"start_type": "fixed"})),
            422,
            "start_time: required",
        ),
        (
            with(json!({"start_time": "25:00"})),
            422,
            "start_time: expected HH:MM:SS",
        ),
        (
            with(json!({"playback_order": "backwards"})),
            422,
            "playback_order: must be one of",
        ),
        (
            with(json!({"pre_roll_filler_id": 77})),
            422,
            "pre_roll_filler_id: unknown filler preset 77",
        ),
        (
            json!({"collection_type": "collection"}),
            422,
            "schedule_id: field required",
        ),
    ] {
        let r = add(body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.detail().starts_with(detail), "{body}: {}", r.detail());
    }
    let a = add(with(json!({"start_type": "fixed", "start_time": "20:00"}))).json();
    assert_eq!(a["start_time"], "20:00:00");
    let b = add(base.clone()).json();
    let front = add(with(json!({"index": 0}))).json();
    let positions = |c: &Client| -> Vec<(i64, i64)> {
        c.get(&format!("/api/schedule-items?schedule_id={schedule_id}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["id"].as_i64().unwrap(), i["index"].as_i64().unwrap()))
            .collect()
    };
    let ids = |v: &Value| v["id"].as_i64().unwrap();
    assert_eq!(
        positions(&c),
        [(ids(&front), 0), (ids(&a), 1), (ids(&b), 2)]
    );
    assert_eq!(
        c.delete(&format!("/api/schedules/{schedule_id}/items/{}", ids(&a)))
            .status,
        204
    );
    assert_eq!(positions(&c), [(ids(&front), 0), (ids(&b), 1)]);
    assert_eq!(
        c.delete(&format!("/api/schedules/{schedule_id}/items/{}", ids(&a)))
            .status,
        404
    );
    // A partial PUT keeps the rest, and the merged row must still make sense.
    let put = c.put_json(
        &format!("/api/schedule-items/{}", ids(&b)),
        &json!({"playout_mode": "multiple"}),
    );
    assert_eq!(put.status, 422, "{}", put.text());
    let put = c.put_json(
        &format!("/api/schedule-items/{}", ids(&b)),
        &json!({"playout_mode": "multiple", "multiple_count": 3}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["collection_id"], 1);

    // Concurrent partial edits of one item: neither is lost.
    let target = format!("/api/schedule-items/{}", ids(&b));
    std::thread::scope(|s| {
        for (field, value) in [
            ("custom_title", json!("Late Show")),
            ("guide_mode", json!("custom")),
            ("multiple_count", json!(4)),
            ("playback_order", json!("random")),
        ] {
            let c = c.clone();
            let target = target.clone();
            s.spawn(move || {
                for _ in 0..5 {
                    assert_eq!(c.put_json(&target, &json!({field: value})).status, 200);
                }
            });
        }
    });
    let item = c.get(&target).json();
    assert_eq!(
        (
            &item["custom_title"],
            &item["guide_mode"],
            &item["multiple_count"],
            &item["playback_order"]
        ),
        (
            &json!("Late Show"),
            &json!("custom"),
            &json!(4),
            &json!("random")
        )
    );
}

#[test]
fn profiles_resolutions_and_filler_presets() {
    let server = TestServer::start();
    let c = server.client();
    // The first start seeds a default profile for the board (generic: libx264 720p30).
    let profiles = c.get("/api/ffmpeg-profiles").json();
    assert_eq!(profiles.as_array().unwrap().len(), 1, "{profiles}");
    assert_eq!(profiles[0]["is_default"], true);
    assert_eq!(profiles[0]["video_codec"], "libx264");
    assert_eq!(profiles[0]["resolution_id"], 2);
    let hw = c
        .get("/api/ffmpeg-profiles/hardware-acceleration/available")
        .json();
    assert!(hw["available"].as_array().unwrap().contains(&json!("none")));

    let res = c.post_json(
        "/api/resolutions",
        &json!({"name": "640x360", "width": 640, "height": 360}),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let res_id = res.json()["id"].as_i64().unwrap();
    assert_eq!(res.json()["is_custom"], true);
    let sizes: Vec<i64> = c
        .get("/api/resolutions")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["width"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, [640, 720, 1280, 1920, 3840], "sorted by size");
    assert_eq!(
        c.post_json(
            "/api/resolutions",
            &json!({"name": "640x360", "width": 1, "height": 2})
        )
        .status,
        422
    );
    assert_eq!(
        c.post_json(
            "/api/resolutions",
            &json!({"name": "640x360", "width": 64, "height": 64})
        )
        .status,
        409
    );
    assert_eq!(c.delete("/api/resolutions/1").status, 409, "built-in");

    let profile = c.post_json(
        "/api/ffmpeg-profiles",
        &json!({"name": "Small", "resolution_id": res_id, "framerate": 25}),
    );
    assert_eq!(profile.status, 201, "{}", profile.text());
    let profile_id = profile.json()["id"].as_i64().unwrap();
    assert_eq!(profile.json()["video_bitrate"], "4000k");
    assert_eq!(profile.json()["audio_loudness_target"], -24.0);
    assert_eq!(profile.json()["quality_crf"], Value::Null);
    // A partial update changes only what it sends; values are checked as they decode.
    let path = format!("/api/ffmpeg-profiles/{profile_id}");
    let r = c.put_json(&path, &json!({"framerate": "30", "quality_crf": 23}));
    assert_eq!((r.status, r.json()["framerate"].clone()), (200, json!(30)));
    assert_eq!(r.json()["name"], "Small");
    for (body, detail) in [
        (
            json!({"framerate": 0}),
            "framerate: must be between 1 and 120",
        ),
        (json!({"name": null}), "name: may not be null"),
        (
            json!({"deinterlace": "maybe"}),
            "deinterlace: expected a boolean",
        ),
        (
            json!({"resolution_id": 0}),
            "resolution_id: must be between 1 and 9223372036854775807",
        ),
    ] {
        let r = c.put_json(&path, &body);
        assert_eq!((r.status, r.detail().as_str()), (422, detail), "{body}");
    }
    let r = c.put_json(&path, &json!({"quality_crf": null}));
    assert_eq!(r.json()["quality_crf"], Value::Null);
    assert_eq!(
        c.post_json(
            "/api/ffmpeg-profiles",
            &json!({"name": "Small", "resolution_id": 1})
        )
        .status,
        409
    );
    let r = c.post_json(
        "/api/ffmpeg-profiles",
        &json!({"name": "X", "resolution_id": 99}),
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "resolution_id: unknown resolution 99")
    );
    let r = c.post_json(
        "/api/ffmpeg-profiles",
        &json!({"name": "X", "resolution_id": 1, "hardware_acceleration": "cuda"}),
    );
    assert_eq!(r.status, 422);
    let r = c.delete(&format!("/api/resolutions/{res_id}"));
    assert_eq!(r.status, 409);
    assert!(r.detail().contains("Small"), "{}", r.detail());
    let set = c
        .post(&format!("/api/ffmpeg-profiles/{profile_id}/set-default"))
        .json();
    assert_eq!(set["is_default"], true);
    let defaults: Vec<bool> = c
        .get("/api/ffmpeg-profiles")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["is_default"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults.iter().filter(|d| **d).count(), 1);
    c.put_json("/api/channels/1", &json!({"ffmpeg_profile_id": profile_id}));
    let r = c.delete(&format!("/api/ffmpeg-profiles/{profile_id}"));
    assert_eq!(r.status, 409);
    assert!(r.detail().contains("channel 1 (Demo)"), "{}", r.detail());

    // Filler presets: the mode needs its parameter; items need one existing source.
    let r = c.post_json(
        "/api/filler-presets",
        &json!({"name": "Pad", "filler_mode": "pad"}),
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "pad_to_minutes: required for filler_mode \"pad\"")
    );
    let r = c.post_json(
        "/api/filler-presets",
        &json!({"name": "Bad", "filler_mode": "count", "count": 1,
        "items": [{"media_item_id": 999}]}),
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "media_item_id: unknown media item 999")
    );
    let pre = c.post_json(
        "/api/filler-presets",
        &json!({"name": "Bumper", "filler_mode": "count", "count": 1,
        "playback_order": "chronological", "items": [{"media_item_id": 3}]}),
    );
    assert_eq!(pre.status, 201, "{}", pre.text());
    let pre_id = pre.json()["id"].as_i64().unwrap();
    assert_eq!(pre.json()["items"][0]["weight"], 1);
    let item = c.post_json(
        &format!("/api/filler-presets/{pre_id}/items"),
        &json!({"collection_id": 1}),
    );
    assert_eq!(item.status, 201, "{}", item.text());
    assert_eq!(item.json()["collection_type"], "collection");
    let item_id = item.json()["id"].as_i64().unwrap();
    assert_eq!(
        c.delete(&format!("/api/filler-presets/{pre_id}/items/{item_id}"))
            .status,
        204
    );
    assert_eq!(
        c.delete(&format!("/api/filler-presets/{pre_id}/items/{item_id}"))
            .status,
        404
    );

    // As the demo channel's pre-roll, it shows up in the timeline at the next rebuild point.
    let r = c.put_json(
        "/api/channels/1/filler",
        &json!({"pre_roll_filler_id": pre_id}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["pre_roll_filler"]["name"], "Bumper");
    let playout_id = c.get("/api/playouts?channel_id=1").json()[0]["id"]
        .as_i64()
        .unwrap();
    let items = all_items(&c, playout_id);
    assert_contiguous(&items);
    assert!(
        items
            .iter()
            .skip(1)
            .take(2)
            .any(|i| i["filler_kind"] == "pre_roll"),
        "{:?}",
        &items[..4]
    );
    let r = c.delete(&format!("/api/filler-presets/{pre_id}"));
    assert_eq!(r.status, 409);
    assert!(r.detail().contains("channel 1 (Demo)"), "{}", r.detail());
    c.put_json("/api/channels/1/filler", &json!({"pre_roll_filler_id": 0}));
    assert_eq!(
        c.delete(&format!("/api/filler-presets/{pre_id}")).status,
        204
    );
    assert_eq!(c.get(&format!("/api/filler-presets/{pre_id}")).status, 404);
}

#[test]
fn fixed_start_times_follow_the_configured_zone() {
    let server = TestServer::start();
    let c = server.client();
    let r = c.put_json(
        "/api/settings/playout",
        &json!({"time_zone": "Mars/Olympus_Mons"}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let channel_id = c
        .post_json("/api/channels", &json!({"number": "20", "name": "Prime"}))
        .json()["id"]
        .clone();
    let schedule_id = c
        .post_json("/api/schedules", &json!({"name": "Prime"}))
        .json()["id"]
        .clone();
    for body in [
        json!({"schedule_id": schedule_id, "collection_type": "media_item", "media_item_id": 3,
               "playout_mode": "one", "start_type": "fixed", "start_time": "20:00",
               "custom_title": "Prime Clock"}),
        json!({"schedule_id": schedule_id, "collection_type": "collection", "collection_id": 1,
               "playout_mode": "flood"}),
    ] {
        let r = c.post_json("/api/schedule-items", &body);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let playout_id = c
        .post_json(
            "/api/playouts",
            &json!({"channel_id": channel_id, "program_schedule_id": schedule_id}),
        )
        .json()["id"]
        .as_i64()
        .unwrap();
    // Only items that start after `after_ms`: a rebuild keeps the one playing now.
    let local_starts = |c: &Client, zone: &str, after_ms: i64| -> Vec<String> {
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        all_items(c, playout_id)
            .iter()
            .filter(|i| i["custom_title"] == "Prime Clock" && ms(&i["start_time"]) > after_ms)
            .map(|i| {
                jiff::Timestamp::from_millisecond(ms(&i["start_time"]))
                    .unwrap()
                    .to_zoned(tz.clone())
                    .strftime("%H:%M")
                    .to_string()
            })
            .collect()
    };
    let utc = local_starts(&c, "UTC", 0);
    assert!(utc.len() >= 2, "{utc:?}");
    assert!(utc.iter().all(|t| t == "20:00"), "{utc:?}");
    // Changing the zone rebuilds from now: fixed starts move to 20:00 in New York.
    let changed_ms = jiff::Timestamp::now().as_millisecond();
    let r = c.put_json(
        "/api/settings/playout",
        &json!({"time_zone": "America/New_York"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let current = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    let kept_until = ms(&current["current"]["finish_time"]).max(changed_ms);
    let ny = local_starts(&c, "America/New_York", kept_until);
    assert!(ny.len() >= 2, "{ny:?}");
    assert!(ny.iter().all(|t| t == "20:00"), "{ny:?}");
    assert_contiguous(&all_items(&c, playout_id));
}

#[test]
fn a_deleted_media_item_leaves_the_timeline_after_what_plays_now() {
    let server = TestServer::start();
    let c = server.client();
    let playout_id = c.get("/api/playouts?channel_id=1").json()[0]["id"]
        .as_i64()
        .unwrap();
    let before = all_items(&c, playout_id);
    assert!(before.iter().any(|i| i["media_item_id"] == 2));
    let r = c.delete("/api/media/2");
    assert_eq!(r.status, 204, "{}", r.text());
    let after = all_items(&c, playout_id);
    assert_eq!(after[0]["id"], before[0]["id"], "what plays now stays");
    assert_contiguous(&after);
    assert!(
        after[1..].iter().all(|i| i["media_item_id"] != 2),
        "{:?}",
        &after[..4]
    );
    let now = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    assert!(now["current"]["id"].is_i64(), "{now}");
}

#[test]
fn a_playout_without_a_schedule_plays_the_slate() {
    let server = TestServer::start();
    let c = server.client();
    let channel_id = c
        .post_json("/api/channels", &json!({"number": "9", "name": "Empty"}))
        .json()["id"]
        .clone();
    let playout = c.post_json("/api/playouts", &json!({"channel_id": channel_id}));
    assert_eq!(playout.status, 201, "{}", playout.text());
    let playout_id = playout.json()["id"].as_i64().unwrap();
    let now = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    assert_eq!(now["current"]["title"], "Offline", "{now}");
    let items = all_items(&c, playout_id);
    assert_contiguous(&items);
    assert!(items.iter().all(|i| i["filler_kind"] == "offline"));
    let r = c.post_json("/api/playouts", &json!({"channel_id": 999}));
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "channel_id: unknown channel 999")
    );
    let r = c.post_json(
        "/api/playouts",
        &json!({"channel_id": channel_id, "program_schedule_id": 999}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(c.post("/api/playouts/999/rebuild").status, 404);
    assert_eq!(c.post("/api/playouts/999/skip").status, 404);
    assert_eq!(c.get("/api/playouts/999/history").status, 404);
    assert_eq!(c.get("/api/playouts/999/items").status, 404);
    assert_eq!(
        c.get(&format!("/api/playouts/{playout_id}/items?limit=0"))
            .status,
        400
    );
    assert_eq!(
        c.get(&format!("/api/playouts/{playout_id}/skip")).status,
        405
    );
}

/// `(channel, start ms, stop ms, title)` of every XMLTV programme.
fn xmltv_programmes(xml: &str) -> Vec<(String, i64, i64, String)> {
    use quick_xml::events::Event;
    let parse_time = |text: &str| {
        jiff::Timestamp::strptime("%Y%m%d%H%M%S %z", text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .as_millisecond()
    };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut progs = Vec::new();
    let mut in_title = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().into_inner() == "programme" => {
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.into_inner() == k)
                        .map(|a| a.value.to_string())
                        .unwrap_or_default()
                };
                progs.push((
                    attr("channel"),
                    parse_time(&attr("start")),
                    parse_time(&attr("stop")),
                    String::new(),
                ));
            }
            Event::Start(e) if e.name().into_inner() == "title" => in_title = true,
            Event::End(e) if e.name().into_inner() == "title" => in_title = false,
            Event::Text(t) if in_title => {
                if let Some(last) = progs.last_mut() {
                    last.3.push_str(&t);
                }
            }
            Event::Eof => return progs,
            _ => {}
        }
    }
}

/// The mirror's items are the source's shifted by `offset_ms`, from the mirror's first item
/// to the source's last (what already ended on the mirror is not copied).
fn assert_shifted_copy(source: &[Value], mirror: &[Value], offset_ms: i64) {
    assert!(!mirror.is_empty());
    let first = ms(&mirror[0]["start_time"]) - offset_ms;
    let k = source
        .iter()
        .position(|i| ms(&i["start_time"]) == first)
        .unwrap_or_else(|| panic!("mirror starts at no source item shifted: {}", mirror[0]));
    assert_eq!(
        source.len() - k,
        mirror.len(),
        "the mirror reaches the source's end"
    );
    for (s, m) in source[k..].iter().zip(mirror) {
        assert_eq!(
            ms(&s["start_time"]) + offset_ms,
            ms(&m["start_time"]),
            "{s} / {m}"
        );
        assert_eq!(ms(&s["finish_time"]) + offset_ms, ms(&m["finish_time"]));
        assert_eq!(s["media_item_id"], m["media_item_id"]);
        assert_eq!(s["title"], m["title"]);
        assert_eq!(s["in_point_seconds"], m["in_point_seconds"]);
    }
    assert_contiguous(mirror);
}

#[test]
fn a_mirror_channel_plays_its_source_shifted_and_follows_a_skip() {
    const OFFSET_S: i64 = 600;
    let server = TestServer::start();
    let c = server.client();
    let source_playout = c.get("/api/playouts?channel_id=1").json()[0]["id"]
        .as_i64()
        .unwrap();
    let create = |number: &str, offset: i64| {
        let r = c.post_json(
            "/api/channels",
            &json!({"number": number, "name": format!("Mirror {number}"),
                    "playout_source": "mirror", "mirror_source_channel_id": 1,
                    "playout_offset": offset}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_i64().unwrap();
        let playouts = c.get(&format!("/api/channels/{id}/playouts")).json();
        (
            id,
            playouts[0]["id"].as_i64().expect("a mirror gets a playout"),
        )
    };
    let (later_id, later) = create("61", OFFSET_S);
    let (same_id, same) = create("62", 0);
    // Ahead of its source: the copy still reaches the source's end.
    let (_, ahead) = create("65", -OFFSET_S);
    // A mirror of a mirror follows the root, the offsets adding up.
    let (_, chained) = {
        let r = c.post_json(
            "/api/channels",
            &json!({"number": "63", "name": "Chained", "playout_source": "mirror",
                    "mirror_source_channel_id": later_id, "playout_offset": -60}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_i64().unwrap();
        (
            id,
            c.get(&format!("/api/channels/{id}/playouts")).json()[0]["id"]
                .as_i64()
                .unwrap(),
        )
    };

    // Bad settings: no source, itself, a cycle.
    let r = c.post_json(
        "/api/channels",
        &json!({"number": "64", "name": "Nowhere", "playout_source": "mirror"}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail().starts_with("mirror_source_channel_id:"),
        "{}",
        r.detail()
    );
    let r = c.put_json(
        &format!("/api/channels/{same_id}"),
        &json!({"mirror_source_channel_id": same_id}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.put_json(
        "/api/channels/1",
        &json!({"playout_source": "mirror", "mirror_source_channel_id": later_id}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().contains("cycle"), "{}", r.detail());
    assert_eq!(
        c.get("/api/channels/1").json()["playout_source"],
        "generated"
    );

    let source_items = all_items(&c, source_playout);
    assert_shifted_copy(&source_items, &all_items(&c, later), OFFSET_S * 1000);
    assert_shifted_copy(&source_items, &all_items(&c, same), 0);
    assert_shifted_copy(
        &source_items,
        &all_items(&c, chained),
        (OFFSET_S - 60) * 1000,
    );
    assert_shifted_copy(&source_items, &all_items(&c, ahead), -OFFSET_S * 1000);

    // Now playing: the simultaneous mirror plays the source's item; the delayed one starts
    // with the source's first item, OFFSET_S later.
    let now_playing = |p: i64| c.get(&format!("/api/playouts/{p}/now-playing")).json();
    let src_now = now_playing(source_playout);
    let same_now = now_playing(same);
    for field in ["title", "start_time", "finish_time"] {
        assert_eq!(
            src_now["current"][field], same_now["current"][field],
            "{field}"
        );
    }
    let later_now = now_playing(later);
    let first_source_start = ms(&source_items[0]["start_time"]);
    let later_first = if later_now["current"].is_null() {
        ms(&later_now["next"]["start_time"])
    } else {
        ms(&later_now["current"]["start_time"])
    };
    assert_eq!(
        later_first,
        first_source_start + OFFSET_S * 1000,
        "{later_now}"
    );

    // The XMLTV lists the mirror's programmes as the source's, shifted.
    let xml = server.anon().get("/iptv/xmltv.xml").text();
    let progs = xmltv_programmes(&xml);
    let of = |channel: i64| -> Vec<(i64, i64, String)> {
        progs
            .iter()
            .filter(|p| p.0 == format!("exstream.{channel}") && p.3 != "Offline")
            .map(|p| (p.1, p.2, p.3.clone()))
            .collect()
    };
    let source_guide = of(1);
    let later_guide = of(later_id);
    assert!(later_guide.len() >= 5, "{later_guide:?}");
    let shift = OFFSET_S * 1000;
    let k = source_guide
        .iter()
        .position(|p| p.0 + shift == later_guide[0].0)
        .expect("the mirror's first programme is a source programme, shifted");
    for (s, m) in source_guide[k..].iter().zip(&later_guide[..5]) {
        assert_eq!((s.0 + shift, s.1 + shift, &s.2), (m.0, m.1, &m.2));
    }

    // A skip on the source moves every mirror with it; a skip on a mirror is refused.
    let skipped = c
        .post(&format!("/api/playouts/{source_playout}/skip"))
        .json();
    assert_eq!(skipped["skipped"], true, "{skipped}");
    let source_items = all_items(&c, source_playout);
    assert_shifted_copy(&source_items, &all_items(&c, later), shift);
    assert_shifted_copy(&source_items, &all_items(&c, same), 0);
    assert_shifted_copy(
        &source_items,
        &all_items(&c, chained),
        (OFFSET_S - 60) * 1000,
    );
    assert_shifted_copy(&source_items, &all_items(&c, ahead), -OFFSET_S * 1000);
    let src_now = now_playing(source_playout);
    let same_now = now_playing(same);
    for field in ["title", "start_time", "finish_time"] {
        assert_eq!(
            src_now["current"][field], same_now["current"][field],
            "{field}"
        );
    }
    let r = c.post(&format!("/api/playouts/{same}/skip"));
    assert_eq!(r.status, 409, "{}", r.text());

    // Changing the offset re-derives the copy; the mirrored source cannot be deleted.
    let r = c.put_json(
        &format!("/api/channels/{later_id}"),
        &json!({"playout_offset": 120}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_shifted_copy(&source_items, &all_items(&c, later), 120_000);
    assert_shifted_copy(&source_items, &all_items(&c, chained), 60_000);
    assert_eq!(c.delete("/api/channels/1").status, 409);
}

#[test]
fn a_daily_reset_time_restarts_the_timeline_at_that_time_each_day() {
    const DAY_MS: i64 = 86_400_000;
    let server = TestServer::start();
    let c = server.client();
    let playout_id = c.get("/api/playouts?channel_id=1").json()[0]["id"]
        .as_i64()
        .unwrap();
    let bad = c.put_json(
        &format!("/api/playouts/{playout_id}"),
        &json!({"daily_reset_time": "25:00"}),
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    // A whole minute about two hours from now, in the configured zone (UTC by default).
    let first_reset = (jiff::Timestamp::now().as_millisecond() / 60_000 + 127) * 60_000;
    let time = jiff::Timestamp::from_millisecond(first_reset)
        .unwrap()
        .strftime("%H:%M")
        .to_string();
    let r = c.put_json(
        &format!("/api/playouts/{playout_id}"),
        &json!({"daily_reset_time": time}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["daily_reset_time"], format!("{time}:00"));
    let items = all_items(&c, playout_id);
    assert_contiguous(&items);
    let last = ms(&items.last().unwrap()["finish_time"]);
    let mut reset = first_reset;
    let mut n_resets = 0;
    while reset < last {
        let at = items
            .iter()
            .position(|i| ms(&i["start_time"]) == reset)
            .unwrap_or_else(|| panic!("no item starts at the reset {reset}"));
        assert_eq!(ms(&items[at - 1]["finish_time"]), reset);
        n_resets += 1;
        reset += DAY_MS;
    }
    assert!(n_resets >= 2, "the horizon holds several days");
    // The stored builder state knows the last reset, so extending resumes after it.
    let playout = c.get(&format!("/api/playouts/{playout_id}")).json();
    assert_eq!(
        playout["anchor"]["collection_state"]["r"],
        reset - DAY_MS,
        "{playout}"
    );
}
