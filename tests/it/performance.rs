//! `/api/performance/*` against the real server: while a viewer watches the demo channel,
//! its FFmpeg shows with CPU and memory read from /proc; requests, the cache and the
//! database report what really happened.

use std::time::Duration;

use crate::stream_fixture::read_for;
use crate::support::{wait_until, TestServer};

#[test]
fn the_figures_are_the_servers_own() {
    let server = TestServer::start();
    let c = server.client();
    let number = c.get("/api/channels/1").json()["number"]
        .as_str()
        .unwrap()
        .to_string();
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .unwrap();
    let (ts, _) = read_for(&mut s.body, Duration::from_secs(2));
    assert!(ts.len() > 10_000, "{} bytes", ts.len());
    let mut procs = serde_json::Value::Null;
    let seen = wait_until(Duration::from_secs(10), || {
        procs = c.get("/api/performance/ffmpeg/processes").json();
        procs["processes"].as_u64() >= Some(1)
            && procs["processes_detail"][0]["cpu_seconds"].as_f64() > Some(0.0)
    });
    assert!(seen, "{procs}");
    let one = &procs["processes_detail"][0];
    assert!(one["rss_bytes"].as_u64().unwrap() > 1_000_000, "{one}");
    assert_eq!(procs["tuners_in_use"], 1, "{procs}");
    let stats = c.get("/api/performance/stats").json();
    assert_eq!(stats["viewers"], 1, "{stats}");
    s.body.close();

    // The output cache: a second read of the M3U is a hit; a clear empties it.
    for _ in 0..2 {
        assert_eq!(server.anon().get("/iptv/channels.m3u").status, 200);
    }
    let cache = c.get("/api/performance/cache").json();
    assert!(cache["outputs"]["hits"].as_u64() >= Some(1), "{cache}");
    assert!(cache["outputs"]["entries"].as_u64() >= Some(1), "{cache}");
    assert!(c.post("/api/performance/cache/clear").json()["cleared"].as_u64() >= Some(1));
    assert_eq!(
        c.get("/api/performance/cache").json()["outputs"]["entries"],
        0
    );

    // Requests by route, with their times; the slowest kept.
    let endpoints = c.get("/api/performance/requests/endpoints").json();
    let list = endpoints["endpoints"].as_array().unwrap();
    let cache_row = list
        .iter()
        .find(|e| e["route"] == "/api/performance/cache")
        .unwrap_or_else(|| panic!("{endpoints}"));
    assert_eq!(cache_row["count"], 2, "{cache_row}");
    assert!(cache_row["max_ms"].as_f64().unwrap() > 0.0);
    let slow = c.get("/api/performance/requests/slow").json();
    assert!(!slow["requests"].as_array().unwrap().is_empty(), "{slow}");

    let db = c.get("/api/performance/database").json();
    assert!(db["read_round_trip_ms"].as_f64().unwrap() > 0.0, "{db}");
    assert!(db["file_bytes"].as_u64().unwrap() > 0, "{db}");
    assert!(db["page_count"].as_i64().unwrap() > 0, "{db}");
    assert!(
        c.get("/api/performance/tasks").json()["count"]
            .as_u64()
            .unwrap()
            >= 5
    );
    let recent = c.get("/api/performance/tasks/recent").json();
    assert!(recent["count"].as_u64().unwrap() >= 1, "{recent}");
    assert_eq!(c.post("/api/performance/stats").status, 405);
}
