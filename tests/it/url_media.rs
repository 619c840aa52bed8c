//! YouTube and archive.org pages resolved by yt-dlp (issue 17 point 1), through the real
//! binary with a fake `yt-dlp` first on the server's PATH: a script of the test that logs
//! its arguments to a file (one line a run) and prints yt-dlp's JSON for a clip the test
//! serves on loopback. Nothing leaves the box: the page URLs are never fetched.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::m3u::{codecs, Source};
use crate::stream_fixture::{self as fx, read_for};
use crate::support::{wait_until, TempDir, TestServer};

/// Writes an executable `yt-dlp` into `dir/bin` running `body` (sh); the bin dir.
fn fake_yt_dlp(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("yt-dlp");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn server_with_path(bin: &Path, timeout_s: u32) -> TestServer {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    fx::server_with_env(&[], &[("PATH", &path)], |conn| {
        fx::set_setting(
            conn,
            "sources",
            &format!(r#"{{"allow_loopback": true, "resolve_timeout_seconds": {timeout_s}}}"#),
        );
        fx::small_profile(conn);
    })
}

fn n_runs(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

#[test]
fn a_page_resolves_through_yt_dlp_plays_and_is_resolved_again_when_expired() {
    let dir = TempDir::new("yt-dlp");
    let clip = dir.path().join("clip.mp4");
    crate::support::media::faststart_clip(&clip, 6.0, 600);
    let source = Source::start();
    source.serve_playlist("/v/clip.mp4", std::fs::read(&clip).unwrap());
    let (log, expire) = (dir.path().join("runs.log"), dir.path().join("expire"));
    // In the past: the URL is stale as soon as it is given.
    std::fs::write(&expire, "1000").unwrap();
    let bin = fake_yt_dlp(
        dir.path(),
        &format!(
            "echo \"$@\" >> {log}\nprintf '{{\"title\": \"Fake Title\", \"duration\": 6.0, \"url\": \"%s?expire=%s\", \"formats\": []}}\\n' {url} \"$(cat {expire})\"",
            log = log.display(),
            expire = expire.display(),
            url = source.url("/v/clip.mp4"),
        ),
    );
    let server = server_with_path(&bin, 10);
    let c = server.client();
    assert_eq!(
        c.get("/api/auth/youtube/status").json()["yt_dlp_available"],
        true
    );
    let cookie = b"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tsid-secret\n";
    let answer = crate::m3u::upload(server.addr, "/api/auth/youtube/cookies", cookie);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let page = "https://www.youtube.com/watch?v=fake1";
    let r = c.post_json("/api/media", &json!({ "url": page }));
    assert_eq!(r.status, 201, "{}", r.text());
    let item = r.json();
    assert_eq!(
        (&item["source"], &item["title"], &item["is_missing"]),
        (&json!("youtube"), &json!("Fake Title"), &json!(false)),
        "{item}"
    );
    assert_eq!(item["duration"].as_f64(), Some(6.0), "{item}");
    assert_eq!(item["video_codec"], "h264", "the direct URL was probed");
    assert_eq!(n_runs(&log), 1);
    // The cookies go as a file; the page is the last argument, after `--`.
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(
        args.contains("--cookies ") && args.contains("secrets/youtube-cookies.txt"),
        "{args}"
    );
    assert!(args.trim_end().ends_with(&format!("-- {page}")), "{args}");
    assert!(!args.contains("sid-secret"));

    // A channel of it streams real TS, from a URL resolved again (the first expired).
    let id = item["id"].as_i64().unwrap();
    let number = crate::remote::channel_on(&c, id);
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .unwrap();
    assert_eq!(s.status, 200);
    let (ts, _) = read_for(&mut s.body, Duration::from_secs(5));
    s.body.close();
    assert!(ts.len() > 20_000, "{} bytes", ts.len());
    assert_eq!(codecs(&ts, &dir, "page.ts"), "aac,h264");
    assert!(n_runs(&log) >= 2, "expired: resolved again at play time");

    // An unexpired URL is served from the cache: no further run.
    std::fs::write(&expire, "4102444800").unwrap();
    let r = c.post_json(
        "/api/media",
        &json!({ "url": "https://archive.org/details/fake2" }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["source"], "archive_org");
    let id2 = r.json()["id"].as_i64().unwrap();
    let before = n_runs(&log);
    for _ in 0..2 {
        let raw = c.get(&format!("/iptv/stream/{id2}?raw=1"));
        assert_eq!(raw.status, 302, "{}", raw.text());
        assert_eq!(
            raw.header("location"),
            Some(format!("{}?expire=4102444800", source.url("/v/clip.mp4")).as_str())
        );
    }
    assert_eq!(n_runs(&log), before, "cached until it expires");
}

#[test]
fn a_hanging_yt_dlp_is_killed_at_the_timeout_with_a_clear_error() {
    let dir = TempDir::new("yt-dlp-hang");
    let bin = fake_yt_dlp(dir.path(), "exec sleep 60");
    let server = server_with_path(&bin, 2);
    let c = server.client();
    let started = Instant::now();
    let r = c.post_json("/api/media", &json!({ "url": "https://youtu.be/hangs" }));
    let took = started.elapsed();
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.detail(),
        "url: yt-dlp did not resolve the page within 2 s (killed)"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    // The server carries the marker too; its children are what must be gone.
    let children = || -> Vec<u32> {
        let server_pid = server.pid();
        server
            .marked_processes()
            .into_iter()
            .filter(|pid| *pid != server_pid)
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(2), || children().is_empty()),
        "yt-dlp left running: {:?}",
        children()
    );
    // Nothing was stored.
    let list = c.get("/api/media").json();
    assert!(!list.to_string().contains("youtu.be/hangs"), "{list}");
}
