//! Plex, Jellyfin and Emby as media sources, end to end against the fakes of `remote_fake`:
//! a wrong key is a 422 naming it, the source is added, tested and discovered, a library of
//! it is scanned in pages (metadata and stream info land in media_items), a rescan with
//! nothing changed costs two requests, an item gone from the server is marked missing, a
//! channel plays the item as real TS through our signed loopback proxy (ffprobe reads it),
//! `?raw=1` answers a 302 to that proxy, and the token is in no API answer, no export, no
//! log line and no process's command line.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::remote_fake::{Fake, Kind};
use crate::support::{media, tscheck, wait_until, Client, TempDir, TestServer};

const TOKEN: &str = "tok-Secr3t-9f8e7d6c";
const N_ITEMS: u64 = 450;
/// Seconds of the channel read and probed.
const STREAM_S: u64 = 20;

fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Plex => "plex",
        Kind::Jellyfin => "jellyfin",
        Kind::Emby => "emby",
    }
}

fn secret_field(kind: Kind) -> &'static str {
    if kind == Kind::Plex {
        "token"
    } else {
        "api_key"
    }
}

fn key_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Plex => "plex_library_key",
        Kind::Jellyfin => "jellyfin_library_id",
        Kind::Emby => "emby_library_id",
    }
}

/// Waits for the library's scan to finish; returns its progress.
pub fn scan_done(c: &Client, library_id: i64, timeout: Duration) -> Value {
    let mut last = Value::Null;
    let done = wait_until(timeout, || {
        last = c
            .get(&format!("/api/libraries/scan-progress/{library_id}"))
            .json();
        last["status"] == "done" || last["status"] == "error"
    });
    assert!(done, "scan did not finish: {last}");
    last
}

fn assert_no_token(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "the token leaked into {what}");
}

/// Every process's argv on the box: none may carry the token.
fn assert_no_token_in_cmdlines() {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            assert_no_token(
                &format!("/proc/{}/cmdline", entry.file_name().to_string_lossy()),
                &String::from_utf8_lossy(&cmd),
            );
        }
    }
}

struct Rig {
    fake: Fake,
    server: TestServer,
    _media: TempDir,
}

impl Rig {
    fn new(kind: Kind, n_items: u64) -> Rig {
        let dir = TempDir::new("remote");
        let clip = dir.path().join("clip.mp4");
        media::clip(&clip, 6.0, 440);
        // Jellyfin behind a path prefix, as reverse proxies put it.
        let prefix = if kind == Kind::Jellyfin {
            "/jellyfin"
        } else {
            ""
        };
        let fake = Fake::start(kind, TOKEN, n_items, clip, prefix);
        Rig {
            fake,
            server: TestServer::start(),
            _media: dir,
        }
    }

    fn add_source(&self, kind: Kind) -> i64 {
        let c = self.server.client();
        let ty = type_name(kind);
        let mut body = json!({"name": "Home", "server_url": self.fake.url()});
        body[secret_field(kind)] = json!(TOKEN);
        let r = c.post_json(&format!("/api/media-sources/{ty}"), &body);
        assert_eq!(r.status, 201, "{}", r.text());
        assert_no_token("the create answer", &r.text());
        let v = r.json();
        assert_eq!(v["has_token"], true);
        v["id"].as_i64().unwrap()
    }

    fn add_library(&self, kind: Kind, source_id: i64) -> i64 {
        let c = self.server.client();
        let mut body =
            json!({"name": "Shows", "media_source_id": source_id, "library_type": "show"});
        body[key_field(kind)] = json!(library_key(kind));
        let r = c.post_json(&format!("/api/libraries/{}", type_name(kind)), &body);
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_i64().unwrap()
    }

    fn rescan(&self, kind: Kind, library_id: i64) -> Value {
        let c = self.server.client();
        let r = c.post(&format!(
            "/api/libraries/{}/{library_id}/scan",
            type_name(kind)
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        scan_done(&c, library_id, Duration::from_secs(60))
    }
}

fn library_key(kind: Kind) -> &'static str {
    if kind == Kind::Plex {
        "1"
    } else {
        "lib1"
    }
}

fn refusals(rig: &Rig, kind: Kind) {
    let c = rig.server.client();
    let ty = type_name(kind);
    let mut body = json!({"name": "Home", "server_url": rig.fake.url()});
    body[secret_field(kind)] = json!("wrong-key");
    let r = c.post_json(&format!("/api/media-sources/{ty}"), &body);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with(secret_field(kind)), "{}", r.detail());
    assert!(
        r.detail().contains(&rig.fake.url()),
        "names the source: {}",
        r.detail()
    );
    let r = c.post_json(
        &format!("/api/media-sources/{ty}"),
        &json!({"name": "x", "server_url": rig.fake.url()}),
    );
    assert_eq!(r.status, 422);
    assert!(r.detail().starts_with(secret_field(kind)), "{}", r.detail());
    let r = c.post_json(
        &format!("/api/media-sources/{ty}"),
        &json!({"name": "x", "server_url": "ftp://a", "token": "t"}),
    );
    assert_eq!(
        (r.status, r.detail().starts_with("server_url")),
        (422, true),
        "{}",
        r.text()
    );
    // A closed port: 502 naming the source, quickly.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let r = c.post_json(
        &format!("/api/libraries/{ty}/discover"),
        &json!({"server_url": dead, "token": TOKEN}),
    );
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.detail().contains(&dead), "{}", r.detail());
    assert_eq!(c.get(&format!("/api/media-sources/{ty}/999")).status, 404);
}

fn count_items(server: &TestServer) -> i64 {
    let conn = rusqlite::Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    conn.query_row(
        "SELECT count(*) FROM media_items WHERE source != 'generated' AND is_missing = 0",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// The items as stored: count, and one item's metadata.
fn stored_items(server: &TestServer) -> (i64, Value) {
    let conn = rusqlite::Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM media_items WHERE source != 'generated' AND is_missing = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let one = conn
        .query_row(
            "SELECT title, show_title, season_number, episode_number, year, genres, duration_ms,
                    video_codec, width, height, frame_rate, audio_codec, audio_channels, id, description
             FROM media_items WHERE source_id IN ('7', 'item7')",
            [],
            |r| {
                Ok(json!({
                    "title": r.get::<_, String>(0)?, "show": r.get::<_, Option<String>>(1)?,
                    "season": r.get::<_, Option<i64>>(2)?, "episode": r.get::<_, Option<i64>>(3)?,
                    "year": r.get::<_, Option<i64>>(4)?, "genres": r.get::<_, Option<String>>(5)?,
                    "duration_ms": r.get::<_, Option<i64>>(6)?, "vcodec": r.get::<_, Option<String>>(7)?,
                    "width": r.get::<_, Option<i64>>(8)?, "height": r.get::<_, Option<i64>>(9)?,
                    "fps": r.get::<_, Option<f64>>(10)?, "acodec": r.get::<_, Option<String>>(11)?,
                    "channels": r.get::<_, Option<i64>>(12)?, "id": r.get::<_, i64>(13)?,
                    "plot": r.get::<_, Option<String>>(14)?,
                }))
            },
        )
        .unwrap();
    (n, one)
}

/// A channel flooding media item `media_id`; returns its number.
pub(crate) fn channel_on(c: &Client, media_id: i64) -> &'static str {
    let ch = c.post_json("/api/channels", &json!({"number": "70", "name": "Remote"}));
    assert_eq!(ch.status, 201, "{}", ch.text());
    let s = c.post_json("/api/schedules", &json!({"name": "Remote"}));
    assert_eq!(s.status, 201, "{}", s.text());
    let sid = s.json()["id"].as_i64().unwrap();
    let item = c.post_json(
        "/api/schedule-items",
        &json!({"schedule_id": sid, "collection_type": "media_item", "media_item_id": media_id, "playout_mode": "flood"}),
    );
    assert_eq!(item.status, 201, "{}", item.text());
    let p = c.post_json(
        "/api/playouts",
        &json!({"channel_id": ch.json()["id"], "program_schedule_id": sid}),
    );
    assert_eq!(p.status, 201, "{}", p.text());
    "70"
}

/// Reads `seconds` of the channel's TS (checking every process's argv meanwhile).
fn watch(server: &TestServer, number: &str, seconds: u64) -> Vec<u8> {
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .unwrap();
    assert_eq!(s.status, 200);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut checked = false;
    while start.elapsed() < Duration::from_secs(seconds) {
        let n = s.body.read(&mut buf).expect("stream bytes");
        assert!(n > 0, "the stream ended");
        out.extend_from_slice(&buf[..n]);
        if !checked && start.elapsed() > Duration::from_secs(3) {
            assert_no_token_in_cmdlines();
            checked = true;
        }
    }
    out
}

fn ffprobe_streams(ts: &[u8], dir: &std::path::Path) -> String {
    let path = dir.join("watched.ts");
    std::fs::write(&path, ts).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn end_to_end(kind: Kind) {
    let rig = Rig::new(kind, N_ITEMS);
    refusals(&rig, kind);
    let c = rig.server.client();
    let ty = type_name(kind);
    let source_id = rig.add_source(kind);

    let t = c
        .post_json(
            "/api/media-sources/test-connection",
            &json!({"source_type": ty, "media_source_id": source_id}),
        )
        .json();
    assert_eq!(t["success"], true, "{t}");
    assert_eq!(t["libraries"][0]["key"], library_key(kind), "{t}");
    let d = c
        .post_json(
            &format!("/api/libraries/{ty}/discover"),
            &json!({"media_source_id": source_id}),
        )
        .json();
    assert_eq!(
        (&d[0]["key"], &d[0]["type"]),
        (&json!(library_key(kind)), &json!("show")),
        "{d}"
    );

    // First scan: three pages of ≤ 200.
    let library_id = rig.add_library(kind, source_id);
    let p = scan_done(&c, library_id, Duration::from_secs(60));
    assert_eq!(
        (&p["status"], &p["new_items"], &p["total_files"]),
        (&json!("done"), &json!(N_ITEMS), &json!(N_ITEMS)),
        "{p}"
    );
    assert_eq!(p["server_requests"], 3, "{p}");
    let (n, one) = stored_items(&rig.server);
    assert_eq!(n, N_ITEMS as i64);
    assert_eq!(
        (
            &one["title"],
            &one["show"],
            &one["season"],
            &one["episode"],
            &one["year"],
            &one["genres"]
        ),
        (
            &json!("Episode 7"),
            &json!("Show 0"),
            &json!(1),
            &json!(8),
            &json!(2020),
            &json!("Comedy")
        ),
        "{one}"
    );
    assert_eq!(
        (
            &one["duration_ms"],
            &one["vcodec"],
            &one["width"],
            &one["fps"],
            &one["acodec"]
        ),
        (
            &json!(6000),
            &json!("h264"),
            &json!(320),
            &json!(25.0),
            &json!("aac")
        ),
        "{one}"
    );
    assert_eq!(one["plot"], "A test episode.");

    // Nothing changed: the count and an empty "changed since" page, nothing written.
    let before = rig.fake.n_requests();
    let p = rig.rescan(kind, library_id);
    assert_eq!(
        (&p["new_items"], &p["changed_items"], &p["server_requests"]),
        (&json!(0), &json!(0), &json!(2)),
        "{p}"
    );
    assert_eq!(rig.fake.n_requests() - before, 2);

    // An item gone from the server: the count differs, the full listing marks it missing.
    rig.fake.state.removed.lock().unwrap().insert(3);
    let p = rig.rescan(kind, library_id);
    assert_eq!(
        (&p["missing_items"], &p["new_items"]),
        (&json!(1), &json!(0)),
        "{p}"
    );
    assert_eq!(count_items(&rig.server), N_ITEMS as i64 - 1);

    // A server that answers HTML: the scan fails naming the source and marks nothing missing.
    rig.fake
        .state
        .html
        .store(true, std::sync::atomic::Ordering::Relaxed);
    rig.fake.state.removed.lock().unwrap().insert(4);
    let p = rig.rescan(kind, library_id);
    assert_eq!(p["status"], "error", "{p}");
    let error = p["error"].as_str().unwrap();
    assert!(
        error.contains("did not answer JSON") && error.starts_with("Home"),
        "{p}"
    );
    assert_eq!(count_items(&rig.server), N_ITEMS as i64 - 1);
    rig.fake
        .state
        .html
        .store(false, std::sync::atomic::Ordering::Relaxed);

    // `?raw=1`: a 302 to our signed loopback proxy, which serves the bytes with Range.
    let media_id = one["id"].as_i64().unwrap();
    let raw = rig
        .server
        .anon()
        .get(&format!("/iptv/stream/{media_id}?raw=1"));
    assert_eq!(raw.status, 302);
    let location = raw.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!(
            "http://127.0.0.1:{}/iptv/remote/{media_id}?exp=",
            rig.server.addr.port()
        )),
        "{location}"
    );
    assert_no_token("the redirect", &location);
    let path = location
        .split_once(&rig.server.addr.port().to_string())
        .unwrap()
        .1;
    let part = rig.server.anon().header("Range", "bytes=0-187").get(path);
    assert_eq!(
        (part.status, part.body.len()),
        (206, 188),
        "{}",
        part.text()
    );
    let forged = path.replace("sig=", "sig=0");
    assert_eq!(rig.server.anon().get(&forged).status, 403);

    // A channel on the item plays real TS through the proxy.
    let number = channel_on(&c, media_id);
    let ts = watch(&rig.server, number, STREAM_S);
    let report = tscheck::check(&ts);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let probe = ffprobe_streams(&ts, rig._media.path());
    assert!(
        probe.contains("h264") && probe.contains("video") && probe.contains("audio"),
        "{probe}"
    );

    // The token is nowhere we show.
    for path in [
        format!("/api/media-sources/{ty}"),
        format!("/api/media-sources/{ty}/{source_id}"),
        format!("/api/libraries/{ty}"),
        "/api/export".to_string(),
        "/api/logs/entries?lines=5000".to_string(),
    ] {
        assert_no_token(&path, &c.get(&path).text());
    }
    assert_no_token("the log", &rig.server.log_text());
    let listed = c
        .get(&format!("/api/media-sources/{ty}/{source_id}"))
        .json();
    assert_eq!(
        (&listed["library_count"], &listed["has_token"]),
        (&json!(1), &json!(true)),
        "{listed}"
    );

    // Deleting the source takes its library and items with it.
    assert_eq!(
        c.delete(&format!("/api/media-sources/{ty}/{source_id}"))
            .status,
        204
    );
    assert_eq!(c.get(&format!("/api/libraries/{ty}")).json(), json!([]));
    assert_eq!(count_items(&rig.server), 0);
}

#[test]
fn plex_end_to_end() {
    end_to_end(Kind::Plex);
}

#[test]
fn jellyfin_12_end_to_end_with_only_the_authorization_header() {
    end_to_end(Kind::Jellyfin);
}

#[test]
fn emby_end_to_end() {
    end_to_end(Kind::Emby);
}

/// Figures for the closing note: `cargo test --test it remote::figures -- --ignored --nocapture`.
#[test]
#[ignore]
fn figures() {
    let n = 10_000;
    let rig = Rig::new(Kind::Jellyfin, n);
    let c = rig.server.client();
    let source_id = rig.add_source(Kind::Jellyfin);
    let start = Instant::now();
    let library_id = rig.add_library(Kind::Jellyfin, source_id);
    let p = scan_done(&c, library_id, Duration::from_secs(600));
    let first = start.elapsed();
    assert_eq!(p["new_items"], n, "{p}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", rig.server.pid())).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    let start = Instant::now();
    let again = rig.rescan(Kind::Jellyfin, library_id);
    let rescan = start.elapsed();
    println!(
        "FIGURES first scan: {n} items in {:.2} s = {:.0} items/s, {} requests; peak RSS {}; \
         no-change rescan: {} requests in {} ms",
        first.as_secs_f64(),
        n as f64 / first.as_secs_f64(),
        p["server_requests"],
        hwm.trim_start_matches("VmHWM:").trim(),
        again["server_requests"],
        rescan.as_millis()
    );
}

/// A source's path replacement maps the server's path onto a file here: the item plays from
/// disk (`?raw=1` serves the file itself, 200, not a redirect to the proxy).
#[test]
fn a_path_replacement_to_an_existing_file_plays_it_from_disk() {
    let rig = Rig::new(Kind::Plex, 10);
    let c = rig.server.client();
    // The fake names its files /data/tv/e{k}.mp4; item 7's is here, under another root.
    let local = rig._media.path().join("tv");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::copy(&rig.fake.state.clip, local.join("e7.mp4")).unwrap();
    let off = c.post_json(
        "/api/media/plex/from-rating-key",
        &json!({"rating_key": "3"}),
    );
    assert_eq!(off.status, 400, "{}", off.text());
    let r = c.post_json(
        "/api/media-sources/plex",
        &json!({"name": "Home", "server_url": rig.fake.url(), "token": TOKEN,
                "path_replacements": [{"from": "/data/tv", "to": local.display().to_string()}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let source_id = r.json()["id"].as_i64().unwrap();
    let library_id = rig.add_library(Kind::Plex, source_id);
    let p = scan_done(&c, library_id, Duration::from_secs(60));
    assert_eq!(p["new_items"], 10, "{p}");
    let (_, one) = stored_items(&rig.server);
    let id = one["id"].as_i64().unwrap();
    let raw = rig.server.anon().get(&format!("/iptv/stream/{id}?raw=1"));
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(
        raw.body.len() as u64,
        std::fs::metadata(local.join("e7.mp4")).unwrap().len()
    );
    // Item 8 has no local file: the proxy.
    let conn = rusqlite::Connection::open(rig.server.data_dir().join("exstreamtv.db")).unwrap();
    let other: i64 = conn
        .query_row(
            "SELECT id FROM media_items WHERE source_id = '8'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        rig.server
            .anon()
            .get(&format!("/iptv/stream/{other}?raw=1"))
            .status,
        302
    );
}

/// `/api/settings/plex` edits the default Plex server (the token redacted, kept when the
/// redacted value comes back) and its actions work against the fake Plex and our library;
/// `/api/logs/plex/*` shows our records about Plex without the token.
#[test]
fn plex_settings_edit_the_default_server_and_its_actions_do_real_work() {
    let rig = Rig::new(Kind::Plex, 10);
    let c = rig.server.client();
    let off = c.get("/api/settings/plex").json();
    assert_eq!(
        (off["enabled"].clone(), off["has_token"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(c.post("/api/settings/plex/test").status, 400);
    // Setting it up: URL and token; the answer never shows the token.
    let r = c.put_json(
        "/api/settings/plex",
        &json!({"base_url": rig.fake.url(), "token": TOKEN, "enabled": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_no_token("the settings answer", &r.text());
    let v = r.json();
    assert_eq!(
        (v["token"].clone(), v["has_token"].clone()),
        (json!("********"), json!(true))
    );
    let source_id = v["media_source_id"].as_i64().unwrap();
    for (body, field) in [
        (json!({"use_for_epg": true}), "use_for_epg"),
        (json!({"base_url": "ftp://x"}), "base_url"),
        (json!({"bogus": 1}), "bogus"),
    ] {
        let r = c.put_json("/api/settings/plex", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().contains(field),
            "{}",
            r.text()
        );
    }
    // The redacted value sent back keeps the token: the server still answers.
    let r = c.put_json("/api/settings/plex", &json!({"token": "********"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = c.post("/api/settings/plex/test");
    assert_eq!(t.status, 200, "{}", t.text());
    assert_eq!(t.json()["success"], true);
    assert!(
        t.json()["library_count"].as_u64().unwrap() >= 1,
        "{}",
        t.text()
    );
    let libs = c.get("/api/settings/plex/libraries");
    assert!(
        libs.text().contains(library_key(Kind::Plex)),
        "{}",
        libs.text()
    );
    // A library of it, scanned by its key; an unknown key is a 404.
    let library_id = rig.add_library(Kind::Plex, source_id);
    scan_done(&c, library_id, Duration::from_secs(60));
    let r = c.post(&format!(
        "/api/settings/plex/scan-library/{}",
        library_key(Kind::Plex)
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["library_id"], library_id);
    scan_done(&c, library_id, Duration::from_secs(60));
    assert_eq!(c.post("/api/settings/plex/scan-library/nope").status, 404);
    // Our Plex items, filtered.
    let all = c.get("/api/settings/plex/preview-filter").json();
    assert_eq!(all["count"], 10, "{all}");
    let none = c.get("/api/settings/plex/preview-filter?year=1800").json();
    assert_eq!(none["count"], 0, "{none}");
    let bad = c.get("/api/settings/plex/preview-filter?year=soon");
    assert_eq!(bad.status, 400, "{}", bad.text());
    // Repairs check for real: nothing to change on a healthy library; the same Plex
    // library added twice repeats every item, and the repeats are marked missing.
    let dup = c.post("/api/settings/plex/cleanup-duplicates").json();
    assert_eq!(dup["duplicates_found"], 0, "{dup}");
    let twice = rig.add_library(Kind::Plex, source_id);
    scan_done(&c, twice, Duration::from_secs(60));
    assert_eq!(
        c.get("/api/settings/plex/preview-filter").json()["count"],
        20
    );
    let dup = c.post("/api/settings/plex/cleanup-duplicates").json();
    assert_eq!(dup["duplicates_found"], 10, "{dup}");
    assert_eq!(
        c.get("/api/settings/plex/preview-filter").json()["count"],
        10
    );
    let fix = c.post("/api/settings/plex/fix-library-ids").json();
    assert_eq!(fix["checked"], 0, "{fix}");
    let urls = c.post("/api/settings/plex/refresh-urls").json();
    assert_eq!(
        (urls["refreshed"].clone(), urls["items"].clone()),
        (json!(0), json!(10))
    );
    // A channel on a Plex item: its playout rebuilds, and its item is still on the server.
    let media_id = stored_items(&rig.server).1["id"].as_i64().unwrap();
    channel_on(&c, media_id);
    let channel_id = c
        .get("/api/channels")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["number"] == "70")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c.post(&format!(
        "/api/settings/plex/rebuild-channel-playout/{channel_id}"
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "rebuilt");
    let t = c
        .get(&format!("/api/settings/plex/test-channel/{channel_id}"))
        .json();
    assert_eq!(t["playable"], true, "{t}");
    assert_eq!(
        c.post("/api/settings/plex/rebuild-channel-playout/99999")
            .status,
        404
    );
    // What needs plex.tv or Plex's guide says so.
    for path in ["reload-guide", "oauth/discover", "auto-populate-playlists"] {
        let r = c.post(&format!("/api/settings/plex/{path}"));
        assert_eq!(r.status, 501, "{path}: {}", r.text());
        assert!(!r.json()["detail"].as_str().unwrap().is_empty());
    }
    assert_eq!(c.get("/api/settings/plex/oauth/pin").status, 501);
    // A wrong token: the server's 401 is a 422 naming the token, not our 401.
    c.put_json("/api/settings/plex", &json!({"token": "wrong"}));
    let t = c.post("/api/settings/plex/test");
    assert_eq!(t.status, 422, "{}", t.text());
    assert!(
        t.json()["detail"].as_str().unwrap().starts_with("token"),
        "{}",
        t.text()
    );
    // Our records about Plex, without the token.
    let logs = c.get("/api/logs/plex/logs/entries");
    assert_eq!(logs.status, 200);
    assert!(
        logs.text().contains("remote library scan finished"),
        "{}",
        logs.text()
    );
    assert_no_token("the Plex log", &logs.text());
    assert_eq!(
        c.get("/api/logs/plex/logs/files").json()["files"],
        json!([])
    );
    // Disabled: the actions that reach the server say so.
    c.put_json("/api/settings/plex", &json!({"enabled": false}));
    assert_eq!(c.get("/api/settings/plex").json()["enabled"], false);
    assert_eq!(c.post("/api/settings/plex/test").status, 400);
}
