//! Scripted builds through the real binary: a session on a channel's playout adds two clips
//! of a collection and pads to the next minute; once committed, the XMLTV and the playout's
//! items list those programmes at the session's times and a viewer hears each clip's own
//! tone in that order. Cancelling changes nothing; a verb on a committed, cancelled or
//! expired session, an unknown session, a pad-until in the past and malformed JSON are
//! each the right JSON error.

use std::time::Duration;

use serde_json::{json, Value};

use crate::stream_fixture::{self as fx, Media};
use crate::support::{media, tones, Client, TempDir, TestServer};

const A: u32 = 300;
const B: u32 = 700;
const CLIP_S: f64 = 8.0;

fn ok(r: crate::support::http::Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn created(r: crate::support::http::Response) -> Value {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// A server with the small profile and one clip per tone; returns it and the media ids.
fn server(dir: &TempDir, hz: &[u32]) -> (TestServer, Vec<i64>) {
    let clips: Vec<Media> = hz
        .iter()
        .map(|hz| {
            let path = dir.path().join(format!("tone{hz}.mp4"));
            media::clip(&path, CLIP_S, *hz);
            Media::Clip(path)
        })
        .collect();
    let mut ids = Vec::new();
    let server = fx::server_with(&[], |conn| {
        let profile = fx::small_profile(conn);
        conn.execute(
            "UPDATE ffmpeg_profiles SET is_default = (id = ?1)",
            [profile],
        )
        .unwrap();
        for (clip, hz) in clips.iter().zip(hz) {
            let ms = (CLIP_S * 1000.0) as i64;
            ids.push(fx::add_media(conn, clip, &format!("Tone {hz}"), ms).unwrap());
        }
    });
    (server, ids)
}

/// A channel with no schedule (it plays the slate) and its playout; returns the playout.
fn channel(c: &Client, number: &str) -> i64 {
    let channel = created(c.post_json(
        "/api/channels",
        &json!({"number": number, "name": "Scripted"}),
    ))["id"]
        .as_i64()
        .unwrap();
    let listed = ok(c.get(&format!("/api/playouts?channel_id={channel}")));
    match listed.as_array().and_then(|a| a.first()) {
        Some(playout) => playout["id"].as_i64().unwrap(),
        None => created(c.post_json("/api/playouts", &json!({ "channel_id": channel })))["id"]
            .as_i64()
            .unwrap(),
    }
}

fn collection(c: &Client, media: &[i64]) -> i64 {
    let id = created(c.post_json("/api/collections", &json!({"name": "Tones"})))["id"]
        .as_i64()
        .unwrap();
    for m in media {
        let r = c.post(&format!("/api/collections/{id}/items/{m}"));
        assert!(r.status < 300, "{}", r.text());
    }
    id
}

fn start(c: &Client, playout: i64) -> (i64, String) {
    let doc = ok(c.post(&format!("/api/playouts/{playout}/build/start")));
    assert_eq!(doc["status"], "building");
    (
        doc["session_id"].as_i64().unwrap(),
        doc["current_time"].as_str().unwrap().to_string(),
    )
}

fn verb(c: &Client, bid: i64, action: &str, body: Value) -> crate::support::http::Response {
    c.post_json(&format!("/api/scripted/build/{bid}/{action}"), &body)
}

/// XMLTV's `YYYYMMDDhhmmss` of an RFC 3339 UTC instant.
fn xmltv_time(rfc3339: &str) -> String {
    rfc3339
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// The playout's stored items from now: (title, start_time, finish_time).
fn items(c: &Client, playout: i64) -> Vec<(String, String, String)> {
    let doc = ok(c.get(&format!("/api/playouts/{playout}/items?limit=20")));
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (text("title"), text("start_time"), text("finish_time"))
        })
        .collect()
}

#[test]
fn a_scripted_session_builds_a_timeline_the_guide_and_the_stream_follow() {
    let dir = TempDir::new("scripted");
    let (server, ids) = server(&dir, &[A, B]);
    let c = server.client();
    let playout = channel(&c, "72");
    let tones_id = collection(&c, &ids);

    let (bid, at) = start(&c, playout);
    let added = ok(verb(
        &c,
        bid,
        "add-count",
        json!({"collection_id": tones_id, "count": 2}),
    ));
    assert_eq!(
        (
            &added["build_id"],
            &added["action"],
            &added["count"],
            &added["items_buffered"]
        ),
        (&json!(bid), &json!("add-count"), &json!(2), &json!(2)),
        "{added}"
    );
    let padded = ok(verb(&c, bid, "pad-to-next", json!({"minutes": 1})));
    assert_eq!(padded["items_buffered"], 2, "the slate is no programme");
    assert!(
        padded["current_time"].as_str().unwrap().ends_with(":00Z"),
        "{padded}"
    );
    let context = ok(c.get(&format!("/api/scripted/build/{bid}/context")));
    assert_eq!(context["current_time"], padded["current_time"]);
    let committed = ok(c.post(&format!(
        "/api/playouts/{playout}/build/commit?session_id={bid}"
    )));
    assert_eq!(
        (&committed["status"], &committed["items_added"]),
        (&json!("committed"), &json!(2))
    );

    // The timeline: the two clips from the session's start, back to back.
    let stored = items(&c, playout);
    let from = stored
        .iter()
        .position(|i| i.0 == format!("Tone {A}"))
        .expect("Tone A stored");
    assert_eq!(stored[from].1, at, "{stored:?}");
    assert_eq!(stored[from + 1].0, format!("Tone {B}"), "{stored:?}");
    assert_eq!(stored[from + 1].1, stored[from].2, "{stored:?}");
    let xmltv = server.anon().get("/iptv/xmltv.xml").text();
    let a_at = format!("start=\"{}", xmltv_time(&at));
    let b_at = format!("start=\"{}", xmltv_time(&stored[from + 1].1));
    let a_pos = xmltv
        .find(&a_at)
        .unwrap_or_else(|| panic!("{a_at} in {xmltv}"));
    let b_pos = xmltv
        .find(&b_at)
        .unwrap_or_else(|| panic!("{b_at} in {xmltv}"));
    assert!(
        xmltv[a_pos..b_pos].contains(&format!("Tone {A}")),
        "{xmltv}"
    );
    assert!(xmltv[b_pos..].contains(&format!("Tone {B}")), "{xmltv}");

    // The stream: A (already under way), then B.
    let mut s = Client::new(server.addr)
        .stream("/iptv/channel/72.ts")
        .expect("tune");
    assert_eq!(s.status, 200);
    let (ts, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(12));
    s.body.close();
    let windows = tones::windows(&ts, &arrivals, &[0, A, B], dir.path());
    let heard: Vec<u32> = tones::sequence(&windows)
        .into_iter()
        .filter(|hz| *hz != 0)
        .collect();
    assert_eq!(heard.first(), Some(&A), "heard {heard:?}");
    assert!(heard.contains(&B), "heard {heard:?}");
    let b_first = heard.iter().position(|hz| *hz == B).unwrap();
    assert!(
        heard[b_first..].iter().all(|hz| *hz == B),
        "A then B: {heard:?}"
    );
}

#[test]
fn cancel_changes_nothing_and_bad_verbs_are_refused() {
    let dir = TempDir::new("scripted-bad");
    let (server, ids) = server(&dir, &[A]);
    let c = server.client();
    let playout = channel(&c, "73");
    let tones_id = collection(&c, &ids);

    // Cancel: the timeline stays as it was.
    let before = items(&c, playout);
    let (bid, _) = start(&c, playout);
    assert_eq!(start(&c, playout).0, bid, "the open session is returned");
    ok(verb(
        &c,
        bid,
        "add-count",
        json!({"collection_id": tones_id, "count": 3}),
    ));
    let cancelled = ok(c.post(&format!(
        "/api/playouts/{playout}/build/cancel?session_id={bid}"
    )));
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(items(&c, playout), before);
    let r = verb(
        &c,
        bid,
        "add-count",
        json!({"collection_id": tones_id, "count": 1}),
    );
    assert_eq!(r.status, 409, "{}", r.text());

    // A committed session takes no more verbs; its context says so.
    let (bid, _) = start(&c, playout);
    ok(verb(&c, bid, "add-all", json!({"collection_id": tones_id})));
    ok(c.post(&format!(
        "/api/playouts/{playout}/build/commit?session_id={bid}"
    )));
    // While that clip plays, a new session starts where it ends.
    let stored = items(&c, playout);
    let clip = stored
        .iter()
        .find(|i| i.0 == format!("Tone {A}"))
        .expect("the committed clip");
    let (next, next_at) = start(&c, playout);
    assert_eq!(next_at, clip.2, "{stored:?}");
    ok(c.post(&format!(
        "/api/playouts/{playout}/build/cancel?session_id={next}"
    )));
    for action in ["add-count", "watermark/off", "epg-group/stop"] {
        let r = verb(
            &c,
            bid,
            action,
            json!({"collection_id": tones_id, "count": 1}),
        );
        assert_eq!(r.status, 409, "{action}: {}", r.text());
        assert!(r.detail().contains("committed"), "{}", r.detail());
    }
    assert_eq!(
        ok(c.get(&format!("/api/scripted/build/{bid}/context")))["status"],
        "committed"
    );
    let r = c.post(&format!(
        "/api/playouts/{playout}/build/commit?session_id={bid}"
    ));
    assert_eq!(r.status, 409, "{}", r.text());

    // Unknown sessions, playouts and collections are 404s.
    assert_eq!(c.get("/api/scripted/build/999999/context").status, 404);
    assert_eq!(
        verb(&c, 999_999, "pad-to-next", json!({"minutes": 30})).status,
        404
    );
    assert_eq!(c.post("/api/playouts/999999/build/start").status, 404);

    let (bid, _) = start(&c, playout);
    let r = verb(
        &c,
        bid,
        "add-count",
        json!({"collection_id": 999_999, "count": 1}),
    );
    assert_eq!((r.status, r.detail()), (404, "collection not found".into()));
    // Validation names the field.
    let r = verb(&c, bid, "add-count", json!({"collection_id": tones_id}));
    assert_eq!(
        (r.status, r.detail()),
        (422, "count: field required".into())
    );
    let r = verb(
        &c,
        bid,
        "add-count",
        json!({"collection_id": tones_id, "count": 0}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with("count"), "{}", r.detail());
    let r = verb(&c, bid, "pad-until", json!({"target_time": "25:00"}));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with("target_time"), "{}", r.detail());
    for action in ["pad-until", "wait-until-exact"] {
        let r = verb(
            &c,
            bid,
            action,
            json!({"target_time": "2020-01-01T00:00:00Z"}),
        );
        assert_eq!(r.status, 422, "{action}: {}", r.text());
        assert!(
            r.detail().starts_with("target_time: is before"),
            "{}",
            r.detail()
        );
    }
    let r = c.request(
        "POST",
        &format!("/api/scripted/build/{bid}/add-count"),
        Some(b"{bad"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // A marathon of a show that is not there, or of a media item that is no episode.
    for show in [json!("No Such Show"), json!(999_999), json!(true)] {
        let r = verb(&c, bid, "add-marathon", json!({ "show_id": show }));
        assert_eq!(r.status, 422, "{show}: {}", r.text());
        assert!(r.detail().starts_with("show_id: "), "{}", r.detail());
    }
    let multi = created(c.post_json(
        "/api/collections/multi",
        &json!({"name": "Both", "collection_ids": [tones_id]}),
    ))["id"]
        .as_i64()
        .unwrap();
    let body = json!({"multi_collection_id": multi, "count": 2});
    let added = ok(verb(&c, bid, "add-multi-collection", body));
    assert_eq!(
        (&added["items_added"], &added["items_buffered"]),
        (&json!(2), &json!(2))
    );
    let r = verb(
        &c,
        bid,
        "add-multi-collection",
        json!({"multi_collection_id": 999_999}),
    );
    assert_eq!(
        (r.status, r.detail()),
        (404, "multi collection not found".into())
    );
    // Switches and the EPG group show in the context.
    ok(verb(&c, bid, "watermark/off", json!({})));
    ok(verb(&c, bid, "epg-group/start", json!({"title": "Block"})));
    let context = ok(c.get(&format!("/api/scripted/build/{bid}/context")));
    assert_eq!(
        (
            &context["watermark_enabled"],
            &context["epg_group_active"],
            &context["epg_group_title"]
        ),
        (&json!(false), &json!(true), &json!("Block"))
    );
    let peek = ok(c.get(&format!(
        "/api/scripted/build/{bid}/peek-next/collection?collection_id={tones_id}"
    )));
    assert_eq!(peek["media_item_id"], ids[0]);

    // A playlist made inside the script plays through add-playlist.
    let made = ok(verb(
        &c,
        bid,
        "create-playlist",
        json!({"name": "Mine", "media_item_ids": [ids[0], ids[0]]}),
    ));
    let playlist = made["playlist_id"].as_i64().unwrap();
    let added = ok(verb(
        &c,
        bid,
        "add-playlist",
        json!({ "playlist_id": playlist }),
    ));
    assert_eq!(added["items_buffered"], 3, "{added}");
    let r = verb(&c, bid, "create-playlist", json!({"name": "Empty"}));
    assert_eq!(
        (r.status, r.detail()),
        (422, "media_item_ids: field required".into())
    );

    // Expiry: a session past its hour is expired, listed so, and takes no verbs.
    let conn = rusqlite::Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute(
        "UPDATE build_sessions SET expires_at_ms = 1 WHERE id = ?1",
        [bid],
    )
    .unwrap();
    let r = verb(&c, bid, "pad-to-next", json!({"minutes": 30}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.detail().contains("expired"), "{}", r.detail());
    let expired = ok(c.get(&format!(
        "/api/playouts/{playout}/build/sessions?status_filter=expired"
    )));
    assert_eq!(expired.as_array().unwrap().len(), 1, "{expired}");
    assert_eq!(expired[0]["session_id"], bid);
    let n_left: i64 = conn
        .query_row(
            "SELECT count(*) FROM build_session_items WHERE session_id = ?1",
            [bid],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n_left, 0, "an expired session's items are dropped");
    let all = ok(c.get(&format!("/api/playouts/{playout}/build/sessions")));
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");
    let r = c.get(&format!(
        "/api/playouts/{playout}/build/sessions?status_filter=nope"
    ));
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn a_session_survives_a_restart() {
    let data = std::sync::Arc::new(TempDir::new("scripted-restart"));
    let mut first = TestServer::builder().data(data.clone()).start();
    let c = first.client();
    let playout = channel(&c, "74");
    let (bid, _) = start(&c, playout);
    let target = "2099-01-01T00:00:00Z";
    let waited = ok(verb(
        &c,
        bid,
        "wait-until",
        json!({ "target_time": target }),
    ));
    assert_eq!(waited["current_time"], target);
    first.stop(Duration::from_secs(6));

    let second = TestServer::builder().data(data).start();
    let context = ok(second
        .client()
        .get(&format!("/api/scripted/build/{bid}/context")));
    assert_eq!(
        (
            &context["status"],
            &context["current_time"],
            &context["playout_id"]
        ),
        (&json!("building"), &json!(target), &json!(playout)),
        "{context}"
    );
}

/// `add-show` and `add-search` add from the smart collection of their query (made once,
/// then reused), in episode order; a show's episodes continue from one verb to the next.
#[test]
fn add_show_and_add_search_play_their_matches_in_order() {
    let dir = TempDir::new("scripted-show");
    let (server, ids) = server(&dir, &[300, 500, 700]);
    {
        // Two episodes of a show, stored out of order; the third clip is not in it.
        let conn = rusqlite::Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
        for (id, episode) in [(ids[0], 2), (ids[1], 1)] {
            conn.execute(
                "UPDATE media_items SET show_title = 'The Show', season_number = 1,
                     episode_number = ?2, media_type = 'episode' WHERE id = ?1",
                rusqlite::params![id, episode],
            )
            .unwrap();
        }
    }
    let c = server.client();
    let playout = channel(&c, "81");
    let (bid, _) = start(&c, playout);
    let first = ok(verb(
        &c,
        bid,
        "add-show",
        json!({"show_title": "the show", "season": 1}),
    ));
    assert_eq!(first["items_added"], 1, "{first}");
    let collection = first["collection_id"].as_i64().unwrap();
    let second = ok(verb(
        &c,
        bid,
        "add-show",
        json!({"show_title": "The Show", "season": 1}),
    ));
    // The same query in any case: the same collection, and its cursor goes on.
    assert_eq!(second["collection_id"], collection, "{second}");
    let again = ok(verb(
        &c,
        bid,
        "add-show",
        json!({"show_title": "the show", "season": 1}),
    ));
    assert_eq!(again["collection_id"], collection, "{again}");
    let search = ok(verb(
        &c,
        bid,
        "add-search",
        json!({"query": "title:\"Tone 700\"", "count": 1}),
    ));
    assert_eq!(search["items_added"], 1, "{search}");
    let commit = c.post(&format!(
        "/api/playouts/{playout}/build/commit?session_id={bid}"
    ));
    assert_eq!(commit.status, 200, "{}", commit.text());
    // In episode order (episode 1 is "Tone 500"), wrapping round, then the search's match.
    let doc = ok(c.get(&format!("/api/playouts/{playout}/items?limit=20")));
    let shown: Vec<(String, String)> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["filler_kind"].is_null())
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (text("title"), text("episode_title"))
        })
        .collect();
    let show = |e: &str| ("The Show".to_string(), e.to_string());
    let want = vec![
        show("Tone 500"),
        show("Tone 300"),
        show("Tone 500"),
        ("Tone 700".to_string(), String::new()),
    ];
    assert!(shown.starts_with(&want), "{shown:?}");
    // Bad input: no title, a bad query.
    let (bid, _) = start(&c, playout);
    assert_eq!(verb(&c, bid, "add-show", json!({})).status, 422);
    let bad = verb(&c, bid, "add-search", json!({"query": "nosuch:field"}));
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(bad.detail().starts_with("query"), "{}", bad.detail());
    assert_eq!(verb(&c, bid, "add-marathon", json!({})).status, 422);

    // A marathon: the whole show in season/episode order, named by its title or by the id
    // of one of its episodes.
    let marathon_of = |number: &str, show: Value| {
        let playout = channel(&c, number);
        let (bid, _) = start(&c, playout);
        let added = ok(verb(&c, bid, "add-marathon", json!({ "show_id": show })));
        assert_eq!(added["items_added"], 2, "{added}");
        let commit = c.post(&format!(
            "/api/playouts/{playout}/build/commit?session_id={bid}"
        ));
        assert_eq!(commit.status, 200, "{}", commit.text());
        let doc = ok(c.get(&format!("/api/playouts/{playout}/items?limit=20")));
        doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["filler_kind"].is_null())
            .map(|i| i["episode_title"].as_str().unwrap_or_default().to_string())
            .take(2)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        marathon_of("82", json!("The Show")),
        ["Tone 500", "Tone 300"]
    );
    assert_eq!(marathon_of("83", json!(ids[0])), ["Tone 500", "Tone 300"]);
}
