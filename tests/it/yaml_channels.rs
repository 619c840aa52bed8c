//! YAML channels through the real binary (API.md §2.9, issue 15 point 6): a channel with a
//! shuffled schedule, an FFmpeg profile and deco exported as YAML imports into a second,
//! fresh server with the same library and builds the same programmes for the next 24 h
//! (and plays); bad documents are refused with the path named, a bomb fast, a path outside
//! `<data dir>/import/` refused; `validate=true` creates nothing; one transaction or none.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::stream_fixture::{self as fx, Media};
use crate::support::http::Response;
use crate::support::{media, Client, TempDir, TestServer};

/// The library both servers hold: each clip's title, show, episode and declared length
/// (minutes: long, so nothing ends while the test runs and both guides start alike).
const LIBRARY: &[(&str, &str, i64, i64)] = &[
    ("Pilot", "Alpha Show", 1, 21),
    ("Second", "Alpha Show", 2, 23),
    ("Third", "Alpha Show", 3, 27),
    ("Fourth", "Alpha Show", 4, 29),
    ("Interlude", "Beta Show", 1, 11),
    ("Coda", "Beta Show", 2, 13),
];

fn created(r: Response) -> Value {
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// A server holding `LIBRARY` (the same clip files for every server of a test) and the
/// small FFmpeg profile; returns it with the media ids in `LIBRARY` order.
fn server_with_library(clip: &std::path::Path) -> (TestServer, Vec<i64>) {
    let mut ids = Vec::new();
    let server = fx::server_with(&[], |conn| {
        fx::small_profile(conn);
        for (i, (title, show, episode, minutes)) in LIBRARY.iter().enumerate() {
            // One file per entry: a media item's URL is its path.
            let path = clip.with_file_name(format!("ep{i}.mp4"));
            if !path.exists() {
                std::fs::copy(clip, &path).unwrap();
            }
            let id = fx::add_media(conn, &Media::Clip(path), title, minutes * 60_000).unwrap();
            conn.execute(
                "UPDATE media_items SET show_title = ?2, season_number = 1, episode_number = ?3,
                     media_type = 'episode' WHERE id = ?1",
                rusqlite::params![id, show, episode],
            )
            .unwrap();
            ids.push(id);
        }
    });
    let r = server
        .client()
        .put_json("/api/settings/playout", &json!({"days_to_build": 1}));
    assert_eq!(r.status, 200, "{}", r.text());
    (server, ids)
}

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

/// The channel's programmes over the next 24 h: (title, episode title, seconds).
fn next_day(c: &Client, channel: i64) -> Vec<(String, Value, i64)> {
    let doc = c
        .get(&format!("/api/channels/{channel}/programming?hours=24"))
        .json();
    doc["programs"]
        .as_array()
        .unwrap_or_else(|| panic!("{doc}"))
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_string(),
                p["episode_title"].clone(),
                p["duration_seconds"].as_f64().unwrap().round() as i64,
            )
        })
        .collect()
}

/// `POST /api/import/channels/yaml{query}` with `yaml` as the multipart part `yaml_file`.
fn upload(c: &Client, query: &str, yaml: &str) -> Response {
    let mut body = b"--yAmLb0undary\r\nContent-Disposition: form-data; name=\"yaml_file\"; \
filename=\"channel.yaml\"\r\nContent-Type: application/yaml\r\n\r\n"
        .to_vec();
    body.extend_from_slice(yaml.as_bytes());
    body.extend_from_slice(b"\r\n--yAmLb0undary--\r\n");
    c.clone()
        .header("Content-Type", "multipart/form-data; boundary=yAmLb0undary")
        .request(
            "POST",
            &format!("/api/import/channels/yaml{query}"),
            Some(&body),
        )
}

/// Builds channel 70 on `c`: a schedule of a shuffled Alpha pair and a chronological Beta
/// episode, the small profile, deco with Beta as dead-air filler, and its playout.
fn build_channel(c: &Client, alpha: &[i64], beta: &[i64]) -> i64 {
    let alpha = collection(c, "Alpha", alpha);
    let beta = collection(c, "Beta", beta);
    let profile = c.get("/api/ffmpeg-profiles").json();
    let profile = profile
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test small")
        .unwrap()["id"]
        .clone();
    let channel = created(c.post_json(
        "/api/channels",
        &json!({"number": "70", "name": "Round Trip", "group": "Tests", "ffmpeg_profile_id": profile}),
    ))["id"]
        .as_i64()
        .unwrap();
    let schedule = created(c.post_json(
        "/api/schedules",
        &json!({"name": "Rotation", "channel_id": channel}),
    ))["id"]
        .as_i64()
        .unwrap();
    for item in [
        json!({"collection_type": "collection", "collection_id": alpha, "playback_order": "shuffled",
               "playback_mode": "multiple", "multiple_count": 2}),
        json!({"collection_type": "collection", "collection_id": beta, "playback_order": "chronological",
               "playback_mode": "one"}),
    ] {
        created(c.post_json(&format!("/api/schedules/{schedule}/items"), &item));
    }
    // The channel's own watermark and the deco's, both named in the document.
    let logo = created(c.post_json("/api/watermarks", &json!({"name": "Logo"})))["id"].clone();
    let corner = created(c.post_json("/api/watermarks", &json!({"name": "Corner"})))["id"].clone();
    let r = c.put_json(
        &format!("/api/channels/{channel}"),
        &json!({"watermark_id": logo}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.put_json(
        &format!("/api/channels/{channel}/deco"),
        &json!({"default_filler": {"mode": "override", "collection_id": beta},
                "watermark": {"mode": "override", "watermark_id": corner}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    created(c.post_json(
        "/api/playouts",
        &json!({"channel_id": channel, "program_schedule_id": schedule}),
    ));
    channel
}

#[test]
fn an_exported_channel_imports_into_a_fresh_server_with_the_same_next_24_hours() {
    let dir = TempDir::new("yaml");
    let clip = dir.path().join("clip.mp4");
    media::clip(&clip, 4.0, 440);

    let (a, ids) = server_with_library(&clip);
    let ca = a.client();
    let channel = build_channel(&ca, &ids[..4], &ids[4..]);
    let r = ca.get(&format!("/api/export/channels/{channel}/yaml"));
    assert_eq!(r.status, 200, "{}", r.text());
    let yaml = r.text();
    for part in [
        "number: '70'",
        "ffmpeg_profile: test small",
        "content: Alpha",
        "playback_order: shuffled",
        "collection: Beta",
        "watermark: Logo",
        "name: Corner",
        "seed:",
    ] {
        assert!(yaml.contains(part), "{part:?} in\n{yaml}");
    }
    assert!(!yaml.contains("_id"), "names, not ids:\n{yaml}");
    assert_eq!(
        ca.post(&format!("/api/export/channels/{channel}/yaml"))
            .text(),
        yaml
    );
    let guide_a = next_day(&ca, channel);
    assert!(guide_a.len() > 50, "{guide_a:?}");

    // A second server with the same files, whose collections have other ids (the document
    // names them): a shuffle is seeded by the playout's seed and the collection's name
    // (`Library::identities`), not its row id, so it comes out the same.
    let (b, ids_b) = server_with_library(&clip);
    let cb = b.client();
    let alpha_a = ca.get("/api/collections").json();
    let alpha_a = alpha_a
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Alpha")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    collection(&cb, "Unrelated", &ids_b[..1]);
    let beta_b = collection(&cb, "Beta", &ids_b[4..]);
    let alpha_b = collection(&cb, "Alpha", &ids_b[..4]);
    assert_ne!(
        alpha_b, alpha_a,
        "Alpha's id differs from the first server's"
    );
    assert_ne!(beta_b, alpha_b + 1, "so does Beta's");
    // Watermarks are named, not carried: without them here the import says which is missing.
    let r = upload(&cb, "", &yaml);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().contains("settings.watermark"), "{}", r.detail());
    for name in ["Logo", "Corner"] {
        created(cb.post_json("/api/watermarks", &json!({ "name": name })));
    }
    let r = upload(&cb, "", &yaml);
    assert_eq!(r.status, 201, "{}", r.text());
    let imported = r.json();
    assert_eq!(imported[0]["number"], "70", "{imported}");
    assert_eq!(imported[0]["name"], "Round Trip");
    let channel_b = imported[0]["id"].as_i64().unwrap();

    // The same programmes, in the same order, for the next 24 hours.
    let guide_b = next_day(&cb, channel_b);
    let n = guide_a.len().min(guide_b.len());
    assert!(
        n + 1 >= guide_a.len().max(guide_b.len()),
        "{} vs {}",
        guide_a.len(),
        guide_b.len()
    );
    assert_eq!(guide_a[..n], guide_b[..n]);
    let titles: std::collections::BTreeSet<String> =
        guide_b.iter().map(|(t, e, _)| format!("{t} {e}")).collect();
    assert!(
        titles.len() >= 6,
        "the whole library plays: {titles:?} {:?}",
        &guide_b[..8]
    );
    // Exported again, the imported channel is the same document (its seed came across).
    let again = cb
        .get(&format!("/api/export/channels/{channel_b}/yaml"))
        .text();
    assert_eq!(again, yaml);

    // It plays at once.
    let mut s = Client::new(b.addr)
        .stream("/iptv/channel/70.ts")
        .expect("tune");
    assert_eq!(s.status, 200);
    let (ts, _) = fx::read_for(&mut s.body, Duration::from_secs(3));
    s.body.close();
    assert!(ts.len() >= 188 && ts[0] == 0x47, "{} bytes of TS", ts.len());
}

/// A minimal document for channel `number` whose schedule plays `items`.
fn doc(number: &str, items: &str) -> String {
    format!("number: '{number}'\nname: Imported\nschedule:\n  name: S\n  items:\n{items}")
}

const ALPHA_ITEM: &str = "  - collection_type: collection\n    content: Alpha\n";

fn channel_numbers(c: &Client) -> Vec<String> {
    c.get("/api/channels")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|ch| ch["number"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bad_documents_are_refused_with_their_path_and_nothing_is_half_created() {
    let server = TestServer::start();
    let c = server.client();
    collection(&c, "Alpha", &[]);
    let before = channel_numbers(&c);

    let unknown = doc("80", &format!("{ALPHA_ITEM}    bogus_key: 1\n"));
    let r = upload(&c, "", &unknown);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail()
            .starts_with("schedule.items[0].bogus_key: unknown field `bogus_key`"),
        "{}",
        r.detail()
    );
    let three = format!("{ALPHA_ITEM}{ALPHA_ITEM}{ALPHA_ITEM}    duration_minutes: ten\n");
    let r = upload(&c, "", &doc("80", &three));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail()
            .starts_with("schedule.items[2].duration_minutes: invalid type"),
        "{}",
        r.detail()
    );
    let r = upload(
        &c,
        "",
        &doc(
            "80",
            "  - collection_type: collection\n    content: Nowhere\n",
        ),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.detail(),
        "schedule.items[0].content: no collection named \"Nowhere\" on this server"
    );
    let r = upload(&c, "", &doc("8x", ALPHA_ITEM));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail().starts_with("number: must be digits"),
        "{}",
        r.detail()
    );
    let r = upload(&c, "", "number: '80'\n");
    assert_eq!((r.status, r.detail()), (422, "name: field required".into()));
    let r = upload(&c, "", "number: [unclosed\n");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = upload(&c, "", &"x".repeat(1024 * 1024 + 10));
    assert_eq!(r.status, 413, "{}", r.text());
    let r = c.request("POST", "/api/import/channels/yaml", Some(b"number: '1'"));
    assert_eq!(r.status, 400, "not multipart: {}", r.text());

    // A list: the second channel's error names it, and the first is not created either.
    let list = format!(
        "- {}\n- {}",
        doc("81", ALPHA_ITEM).replace('\n', "\n  "),
        doc("82", "  - collection_type: playlist\n    content: Nope\n").replace('\n', "\n  ")
    );
    let r = upload(&c, "", &list);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail()
            .starts_with("[1].schedule.items[0].content: no playlist"),
        "{}",
        r.detail()
    );
    assert_eq!(channel_numbers(&c), before);

    // validate=true: the answer of a real import, and nothing created.
    let r = upload(&c, "?validate=true", &doc("83", ALPHA_ITEM));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()[0]["number"], "83");
    assert_eq!(channel_numbers(&c), before);
    let r = upload(&c, "", &doc("83", ALPHA_ITEM));
    assert_eq!(r.status, 201, "{}", r.text());
    let r = upload(&c, "", &doc("83", ALPHA_ITEM));
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.detail(), "channel number 83 is taken");
}

#[test]
fn an_alias_bomb_is_refused_fast() {
    let server = TestServer::start();
    let c = server.client();
    // The classic: nine levels of nine aliases, 9^9 strings once expanded.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        bomb.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    bomb.push_str("number: '90'\nname: *i\n");
    let peak_before = peak_rss_kib(server.pid());
    let started = Instant::now();
    let r = upload(&c, "", &bomb);
    assert!(
        r.status == 413 || r.status == 422,
        "{}: {}",
        r.status,
        r.text()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A wide one under the byte cap: one long anchored string used many times.
    let long = "y".repeat(200_000);
    let mut wide = format!("number: '91'\nname: &n {long}\nschedule:\n  name: S\n  items:\n");
    for _ in 0..2_000 {
        wide.push_str("  - {collection_type: collection, content: *n}\n");
    }
    let started = Instant::now();
    let r = upload(&c, "", &wide);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Flat memory: the expansions are counted, never built.
    let grown = peak_rss_kib(server.pid()) - peak_before;
    assert!(grown < 64 * 1024, "peak RSS grew {grown} KiB");
    assert_eq!(c.get("/api/health").status, 200);
}

/// The process's peak resident set (`VmHWM`), KiB.
fn peak_rss_kib(pid: u32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn path_import_is_confined_to_the_import_folder_and_write_and_bulk_export() {
    let server = TestServer::start();
    let c = server.client();
    collection(&c, "Alpha", &[]);
    let data = server.data_dir().to_path_buf();
    let import = data.join("import");
    std::fs::create_dir_all(&import).unwrap();
    std::fs::write(import.join("one.yaml"), doc("84", ALPHA_ITEM)).unwrap();
    let outside = TempDir::new("yaml-outside");
    std::fs::write(outside.path().join("x.yaml"), doc("85", ALPHA_ITEM)).unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.yaml"), import.join("link.yaml")).unwrap();

    let path = |p: &str| c.post(&format!("/api/import/channels/yaml/path?file_path={p}"));
    let r = path("one.yaml");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[0]["number"], "84");
    let r = path("../exstreamtv.db");
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with("file_path"), "{}", r.detail());
    for refused in [
        outside.path().join("x.yaml").display().to_string(),
        "link.yaml".to_string(),
        data.join("exstreamtv.db").display().to_string(),
    ] {
        let r = path(&refused);
        assert_eq!(r.status, 403, "{refused}: {}", r.text());
        assert!(r.detail().starts_with("file_path"), "{}", r.detail());
    }
    assert_eq!(path("missing.yaml").status, 404);
    assert_eq!(c.post("/api/import/channels/yaml/path").status, 422);
    assert!(!channel_numbers(&c).contains(&"85".to_string()));

    // Write: the document under <data dir>/export/, its path answered.
    let id = c
        .get("/api/channels")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["number"] == "84")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c.post(&format!("/api/export/channels/{id}/yaml/write"));
    assert_eq!(r.status, 200, "{}", r.text());
    let written = std::path::PathBuf::from(r.json()["path"].as_str().unwrap());
    assert!(
        written.starts_with(data.join("export")),
        "{}",
        written.display()
    );
    let text = std::fs::read_to_string(&written).unwrap();
    assert_eq!(
        text,
        c.get(&format!("/api/export/channels/{id}/yaml")).text()
    );
    assert_eq!(c.get("/api/export/channels/999/yaml").status, 404);

    // Bulk: every channel, a list that imports back as a whole (here: refused, the numbers
    // are taken, and nothing is created).
    let bulk = c.get("/api/export/channels/yaml/bulk");
    assert_eq!(bulk.status, 200, "{}", bulk.text());
    let bulk = bulk.text();
    assert!(bulk.starts_with("- number:"), "{bulk}");
    assert!(bulk.contains("number: '84'"), "{bulk}");
    let n = channel_numbers(&c).len();
    assert_eq!(bulk.matches("- number:").count(), n, "{bulk}");
    let r = upload(&c, "?validate=true", &bulk);
    assert_eq!(r.status, 409, "{}", r.text());
}
