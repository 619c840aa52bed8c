//! Blocks and templates through the real binary: a block airing at the current time of day,
//! placed by a template applied to a channel, plays its items in turn in the guide
//! (`/api/channels/{id}/programming`, the XMLTV) and in the stream (each clip's own tone,
//! decoded from what a viewer received); and every bad input is the right JSON error.

use std::time::Duration;

use serde_json::{json, Value};

use crate::stream_fixture::{self as fx, Media};
use crate::support::tones;
use crate::support::{media, Client, TempDir, TestServer};

const A: u32 = 300;
const B: u32 = 700;
const CLIP_S: f64 = 5.0;

/// The current UTC time of day as `"HH:MM"` (the server's default zone is UTC).
fn this_minute() -> String {
    let secs = fx::now_ms() / 1000;
    format!("{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60)
}

fn created(r: crate::support::http::Response) -> Value {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// A collection holding `media`; returns its id.
fn collection(c: &Client, name: &str, media: &[i64]) -> i64 {
    let id = created(c.post_json("/api/collections", &json!({ "name": name })))["id"]
        .as_i64()
        .unwrap();
    for m in media {
        let r = c.post(&format!("/api/collections/{id}/items/{m}"));
        assert!(r.status < 300, "{}", r.text());
    }
    id
}

/// The block `body` (its `start_time` is this minute) cycling `collections`, placed by a
/// new template applied to `channel` for every day. Returns (block, template).
fn block_on_channel(c: &Client, channel: i64, mut body: Value, collections: &[i64]) -> (i64, i64) {
    let start = this_minute();
    body["name"] = json!("Now");
    body["start_time"] = json!(start);
    let block = created(c.post_json("/api/blocks", &body))["id"]
        .as_i64()
        .unwrap();
    for id in collections {
        created(c.post_json(
            &format!("/api/blocks/{block}/items"),
            &json!({"collection_type": "collection", "collection_id": id}),
        ));
    }
    let template = created(c.post_json("/api/templates", &json!({"name": "Day"})))["id"]
        .as_i64()
        .unwrap();
    let doc = created(c.post_json(
        &format!("/api/templates/{template}/items"),
        &json!({ "block_id": block }),
    ));
    assert_eq!(
        doc["items"][0]["start_time"], start,
        "the block's own start"
    );
    let r = c.post_json(
        &format!("/api/templates/{template}/apply/{channel}"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["day_of_week"], Value::Null);
    (block, template)
}

/// The titles and lengths (s) of the channel's next programmes.
fn programmes(c: &Client, channel: i64) -> Vec<(String, i64)> {
    let doc = c
        .get(&format!("/api/channels/{channel}/programming?hours=1"))
        .json();
    doc["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_string(),
                p["duration_seconds"].as_f64().unwrap().round() as i64,
            )
        })
        .collect()
}

#[test]
fn a_block_airing_now_plays_its_items_in_turn_in_the_guide_and_the_stream() {
    let dir = TempDir::new("blocks");
    let clips: Vec<Media> = [A, B]
        .iter()
        .map(|hz| {
            let path = dir.path().join(format!("tone{hz}.mp4"));
            media::clip(&path, CLIP_S, *hz);
            Media::Clip(path)
        })
        .collect();
    let mut ids = [0; 2];
    let server = fx::server_with(&[], |conn| {
        let profile = fx::small_profile(conn);
        conn.execute(
            "UPDATE ffmpeg_profiles SET is_default = (id = ?1)",
            [profile],
        )
        .unwrap();
        for (i, clip) in clips.iter().enumerate() {
            let ms = (CLIP_S * 1000.0) as i64;
            ids[i] = fx::add_media(conn, clip, &format!("Tone {}", ["A", "B"][i]), ms).unwrap();
        }
    });
    let c = server.client();
    let r = c.put_json("/api/settings/playout", &json!({"days_to_build": 1}));
    assert_eq!(r.status, 200, "{}", r.text());
    let channel = created(c.post_json("/api/channels", &json!({"number": "70", "name": "Blocks"})))
        ["id"]
        .as_i64()
        .unwrap();
    let alpha = collection(&c, "Alpha", &[ids[0]]);
    let beta = collection(&c, "Beta", &[ids[1]]);
    block_on_channel(&c, channel, json!({"duration_minutes": 10}), &[alpha, beta]);

    // The guide: the block's items in index order, one clip each, cycling.
    let guide = programmes(&c, channel);
    assert!(guide.len() >= 8, "{guide:?}");
    for (i, (title, seconds)) in guide.iter().take(8).enumerate() {
        let want = if i % 2 == 0 { "Tone A" } else { "Tone B" };
        assert_eq!(
            (title.as_str(), *seconds),
            (want, 5),
            "programme {i}: {guide:?}"
        );
    }
    let xmltv = server.anon().get("/iptv/xmltv.xml").text();
    assert!(
        xmltv.contains("Tone A") && xmltv.contains("Tone B"),
        "{xmltv}"
    );

    // The stream: a viewer hears A and B alternate, as the guide says.
    let mut s = Client::new(server.addr)
        .stream("/iptv/channel/70.ts")
        .expect("tune");
    assert_eq!(s.status, 200);
    let (ts, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(14));
    s.body.close();
    let windows = tones::windows(&ts, &arrivals, &[0, A, B], dir.path());
    let heard: Vec<u32> = tones::sequence(&windows)
        .into_iter()
        .filter(|hz| *hz != 0)
        .collect();
    assert!(heard.len() >= 3, "heard {heard:?}");
    for pair in heard.windows(2) {
        assert_ne!(pair[0], pair[1], "the items alternate: {heard:?}");
    }
    assert!(heard.contains(&A) && heard.contains(&B), "{heard:?}");
}

#[test]
fn bad_block_and_template_input_is_refused_with_the_field_named() {
    let server = TestServer::start();
    let c = server.client();
    let r = c.request("POST", "/api/blocks", Some(b"{bad"));
    assert_eq!(r.status, 400, "{}", r.text());
    let base = json!({"name": "B", "start_time": "08:00", "duration_minutes": 30});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        c.post_json("/api/blocks", &body)
    };
    for (field, value) in [
        ("start_time", json!("25:00")),
        ("start_time", json!("8:00")),
        ("duration_minutes", json!(0)),
        ("duration_minutes", json!(1441)),
        ("days_of_week", json!(0)),
        ("days_of_week", json!(128)),
        ("stop_before_end", json!("maybe")),
        ("group_id", json!(999)),
    ] {
        let r = with(field, value.clone());
        assert_eq!(r.status, 422, "{field}={value}: {}", r.text());
        assert!(r.detail().starts_with(field), "{field}: {}", r.detail());
    }
    let r = c.post_json(
        "/api/blocks",
        &json!({"start_time": "08:00", "duration_minutes": 3}),
    );
    assert_eq!((r.status, r.detail()), (422, "name: field required".into()));
    assert_eq!(c.get("/api/blocks/999").status, 404);

    let block = created(c.post_json("/api/blocks", &base))["id"]
        .as_i64()
        .unwrap();
    let r = c.post_json(
        &format!("/api/blocks/{block}/items"),
        &json!({"collection_id": 999}),
    );
    assert_eq!(
        (r.status, r.detail()),
        (422, "collection_id: no such collection".into())
    );
    let r = c.post_json("/api/blocks/999/items", &json!({"collection_id": 1}));
    assert_eq!(r.status, 404, "{}", r.text());

    let template = created(c.post_json("/api/templates", &json!({"name": "T"})))["id"]
        .as_i64()
        .unwrap();
    let items = format!("/api/templates/{template}/items");
    let r = c.post_json(&items, &json!({"block_id": 999}));
    assert_eq!(
        (r.status, r.detail()),
        (422, "block_id: no such block".into())
    );
    let r = c.post_json(&items, &json!({"block_id": block, "start_time": "24:00"}));
    assert_eq!(r.status, 422, "{}", r.text());
    created(c.post_json(&items, &json!({"block_id": block, "start_time": "21:00"})));
    // A block a template places is not deleted from under it.
    let r = c.delete(&format!("/api/blocks/{block}"));
    assert_eq!(r.status, 409, "{}", r.text());
    let apply = |channel: i64, body: Value| {
        c.post_json(&format!("/api/templates/{template}/apply/{channel}"), &body)
    };
    assert_eq!(apply(999, json!({})).status, 404);
    let r = apply(1, json!({"day_of_week": 7}));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with("day_of_week"), "{}", r.detail());
    let r = c.request(
        "POST",
        &format!("/api/templates/{template}/apply/1"),
        Some(b"[1]"),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = apply(1, json!({"day_of_week": 0, "priority": 3}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["day_of_week"], 0);
}

/// A new channel `number` with a schedule flooding the demo collection; returns its id.
fn demo_channel(c: &Client, number: &str) -> i64 {
    let channel = created(c.post_json(
        "/api/channels",
        &json!({"number": number, "name": format!("Block {number}")}),
    ))["id"]
        .as_i64()
        .unwrap();
    let demo = c.get("/api/collections").json()[0]["id"].clone();
    created(c.post_json(
        "/api/schedules",
        &json!({"name": format!("S{number}"), "collection_id": demo, "channel_id": channel}),
    ));
    channel
}

/// The channel's playout id.
fn playout_of(c: &Client, channel: i64) -> Value {
    c.get(&format!("/api/channels/{channel}/playouts")).json()[0]["id"].clone()
}

#[test]
fn a_block_with_nothing_to_play_airs_offline_and_the_schedule_resumes_after_it() {
    let server = TestServer::start();
    let c = server.client();
    let two_minutes = json!({"duration_minutes": 2});
    // No items: the block's two minutes are the slate; the schedule follows. The playout
    // is created by the apply (so the block is in its first build), then given the schedule.
    let empty = demo_channel(&c, "71");
    let (_, template) = block_on_channel(&c, empty, two_minutes.clone(), &[]);
    let playout = playout_of(&c, empty);
    assert_eq!(
        c.get(&format!("/api/playouts/{playout}")).json()["template_id"],
        template
    );
    let schedule = c.get(&format!("/api/schedules?channel_id={empty}")).json()[0]["id"].clone();
    let r = c.put_json(
        &format!("/api/playouts/{playout}"),
        &json!({ "program_schedule_id": schedule }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let guide = programmes(&c, empty);
    assert_eq!(guide[0].0, "Offline", "{guide:?}");
    assert!(
        guide[0].1 <= 120,
        "the slate ends with the block: {guide:?}"
    );
    assert_ne!(guide[1].0, "Offline", "the schedule follows: {guide:?}");

    // A collection deleted under a block item: the item stays, visible, and plays nothing.
    let demo_media = c.get("/api/media").json()[0]["id"].as_i64().unwrap();
    let kept = collection(&c, "Kept", &[demo_media]);
    let channel = demo_channel(&c, "72");
    let finish = json!({"duration_minutes": 2, "stop_before_end": false});
    let (block, template) = block_on_channel(&c, channel, finish, &[kept]);
    let guide = programmes(&c, channel);
    assert_ne!(guide[0].0, "Offline", "the block plays its item: {guide:?}");
    let r = c.delete(&format!("/api/collections/{kept}"));
    assert!(r.status < 300, "{}", r.text());
    let r = c.delete(&format!("/api/playouts/{}", playout_of(&c, channel)));
    assert_eq!(r.status, 204, "{}", r.text());
    let r = c.post_json(
        &format!("/api/templates/{template}/apply/{channel}"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let guide = programmes(&c, channel);
    assert_eq!(guide[0].0, "Offline", "{guide:?}");
    assert!(guide[0].1 <= 120, "{guide:?}");
    let doc = c.get(&format!("/api/blocks/{block}")).json();
    assert_eq!(doc["items"][0]["collection_id"], kept);
}

/// Runs of one tone in `heard` windows (50 ms each), without the first and last (partial).
fn inner_runs(windows: &[tones::Window]) -> Vec<(u32, usize)> {
    let mut runs: Vec<(u32, usize)> = Vec::new();
    for w in windows {
        match runs.last_mut() {
            Some((hz, n)) if *hz == w.hz => *n += 1,
            _ => runs.push((w.hz, 1)),
        }
    }
    // Splices may leave a window or two of silence or a neighbour's tone: fold short runs.
    runs.retain(|(_, n)| *n > 3);
    let mut merged: Vec<(u32, usize)> = Vec::new();
    for (hz, n) in runs {
        match merged.last_mut() {
            Some((last, m)) if *last == hz => *m += n,
            _ => merged.push((hz, n)),
        }
    }
    let len = merged.len();
    merged
        .into_iter()
        .skip(1)
        .take(len.saturating_sub(2))
        .collect()
}

#[test]
fn a_bumper_plays_between_programmes_in_the_guide_and_the_stream() {
    const PROGRAMME_S: f64 = 4.0;
    const BUMPER_S: f64 = 2.0;
    let dir = TempDir::new("deco");
    let (show, bumper) = (dir.path().join("show.mp4"), dir.path().join("bumper.mp4"));
    media::clip(&show, PROGRAMME_S, A);
    media::clip(&bumper, BUMPER_S, B);
    let mut ids = [0; 2];
    let server = fx::server_with(&[], |conn| {
        let profile = fx::small_profile(conn);
        conn.execute(
            "UPDATE ffmpeg_profiles SET is_default = (id = ?1)",
            [profile],
        )
        .unwrap();
        ids[0] = fx::add_media(conn, &Media::Clip(show), "Show", 4000).unwrap();
        ids[1] = fx::add_media(conn, &Media::Clip(bumper), "Bumper", 2000).unwrap();
    });
    let c = server.client();
    let r = c.put_json("/api/settings/playout", &json!({"days_to_build": 1}));
    assert_eq!(r.status, 200, "{}", r.text());
    let channel = created(c.post_json("/api/channels", &json!({"number": "73", "name": "Deco"})))
        ["id"]
        .as_i64()
        .unwrap();
    let schedule = created(c.post_json("/api/schedules", &json!({"name": "Show"})))["id"]
        .as_i64()
        .unwrap();
    created(c.post_json(
        "/api/schedule-items",
        &json!({"schedule_id": schedule, "collection_type": "media_item",
                "media_item_id": ids[0], "playout_mode": "flood"}),
    ));
    let group = created(c.post_json("/api/deco-groups", &json!({"name": "Idents"})))["id"]
        .as_i64()
        .unwrap();
    let asset = created(c.post_json(
        "/api/deco",
        &json!({"name": "Bumper", "group_id": group, "deco_type": "bumper",
                "media_item_id": ids[1], "weight": 2}),
    ));
    assert_eq!(asset["deco_type"], "bumper");
    let r = c.put_json(
        &format!("/api/channels/{channel}/deco"),
        &json!({"deco_group_id": group, "breaks": "between_programmes"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["deco_group"]["name"], "Idents");
    // The playout comes after the deco, so its first build has the breaks.
    created(c.post_json(
        "/api/playouts",
        &json!({"channel_id": channel, "program_schedule_id": schedule}),
    ));

    let guide = c
        .get(&format!("/api/channels/{channel}/programming?hours=1"))
        .json();
    let programs = guide["programs"].as_array().unwrap();
    for (i, p) in programs.iter().take(8).enumerate() {
        let (title, kind, seconds) = if i % 2 == 0 {
            ("Show", Value::Null, 4.0)
        } else {
            ("Bumper", json!("break"), 2.0)
        };
        assert_eq!(
            (
                &p["title"],
                &p["filler_kind"],
                p["duration_seconds"].as_f64()
            ),
            (&json!(title), &kind, Some(seconds)),
            "programme {i}: {guide}"
        );
    }
    let xmltv = server.anon().get("/iptv/xmltv.xml").text();
    assert!(xmltv.contains("Bumper"), "the guide lists the breaks");

    let mut s = Client::new(server.addr)
        .stream("/iptv/channel/73.ts")
        .expect("tune");
    assert_eq!(s.status, 200);
    let (ts, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(16));
    s.body.close();
    let windows = tones::windows(&ts, &arrivals, &[0, A, B], dir.path());
    let runs = inner_runs(&windows);
    assert!(runs.len() >= 3, "{runs:?}");
    for (hz, n) in &runs {
        // 50 ms windows: 4 s is 80, 2 s is 40; a splice costs a few.
        let expected = if *hz == A { 80 } else { 40 };
        assert!(*hz == A || *hz == B, "{runs:?}");
        assert!(
            n.abs_diff(expected) <= 12,
            "{hz} Hz ran {n} windows: {runs:?}"
        );
    }
    for pair in runs.windows(2) {
        assert_ne!(pair[0].0, pair[1].0, "show and bumper alternate: {runs:?}");
    }
}

#[test]
fn bad_deco_input_is_refused_with_the_field_named() {
    let server = TestServer::start();
    let c = server.client();
    let types = c.get("/api/deco/types").json();
    assert_eq!(
        types["types"],
        json!(["bumper", "commercial", "station_id", "promo", "credits"])
    );
    assert!(types["descriptions"]["station_id"].is_string());
    let group = created(c.post_json("/api/deco-groups", &json!({"name": "G"})))["id"]
        .as_i64()
        .unwrap();
    let r = c.post_json("/api/deco-groups", &json!({"name": "G"}));
    assert_eq!(r.status, 409, "{}", r.text());
    for (body, field) in [
        (json!({"name": "D", "deco_type": "jingle"}), "deco_type"),
        (json!({"name": "D", "weight": 0}), "weight"),
        (
            json!({"name": "D", "media_item_id": 99999}),
            "media_item_id",
        ),
        (json!({"name": "D", "group_id": 99999}), "group_id"),
    ] {
        let r = c.post_json("/api/deco", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.detail().starts_with(field), "{field}: {}", r.detail());
    }
    let r = c.get("/api/deco?deco_type=jingle");
    assert_eq!(r.status, 400, "{}", r.text());
    let put = |body: Value| c.put_json("/api/channels/1/deco", &body);
    for (body, field) in [
        (json!({"breaks": "sometimes"}), "breaks"),
        (json!({"breaks": "every_n_minutes"}), "break_every_minutes"),
        (json!({"break_count": 11}), "break_count"),
        (json!({"deco_group_id": 99999}), "deco_group_id"),
        (
            json!({"default_filler": {"mode": "override"}}),
            "default_filler.collection_id",
        ),
        (
            json!({"default_filler": {"collection_id": 1}}),
            "default_filler.mode",
        ),
        (
            json!({"watermark": {"mode": "override"}}),
            "watermark.watermark_id",
        ),
        (
            json!({"windows": [{"start_time": "22:00", "end_time": "25:00", "deco_group_id": group}]}),
            "windows[0].end_time",
        ),
        (
            json!({"windows": [{"start_time": "22:00", "end_time": "06:00", "deco_group_id": 99999}]}),
            "windows[0].deco_group_id",
        ),
    ] {
        let r = put(body.clone());
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.detail().starts_with(field), "{field}: {}", r.detail());
    }
    let r = c.request("PUT", "/api/channels/1/deco", Some(b"{nope"));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(c.get("/api/channels/99999/deco").status, 404);
    // Nothing above was stored: the defaults.
    let doc = c.get("/api/channels/1/deco").json();
    assert_eq!(doc["breaks"], "none");
    assert_eq!(doc["default_filler"]["mode"], "inherit");
    let r = put(json!({"deco_group_id": group, "break_count": 2,
                       "windows": [{"start_time": "22:00", "end_time": "06:00", "deco_group_id": group}]}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["windows"][0]["end_time"], "06:00");
    let r = c.delete(&format!("/api/deco-groups/{group}"));
    assert_eq!(r.status, 409, "a channel uses it: {}", r.text());
}
