//! The media library against the real server: a generated tree of shows, movies, an AVI,
//! an NFO, artwork, a corrupt file, an empty file and an invalid UTF-8 name; scans in the
//! background, idempotent rescans (counted ffprobe runs), added, changed and removed files,
//! first-run channels per folder, the media/collection/playlist API and its errors.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::media::{clip, ffmpeg};
use crate::support::{wait_until, Client, TempDir, TestServer};

const SCAN_TIMEOUT: Duration = Duration::from_secs(60);

/// An MPEG-4 Part 2 + MP3 AVI of `seconds`.
fn avi(path: &Path, seconds: f64) {
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=320x240:rate=25:duration={seconds}"),
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=660:sample_rate=44100:duration={seconds}"),
            "-c:v",
            "mpeg4",
            "-c:a",
            "libmp3lame",
            "-shortest",
        ],
        path,
    );
}

/// A one-frame JPEG (artwork).
fn jpeg(path: &Path) {
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48:rate=1:duration=1",
            "-frames:v",
            "1",
        ],
        path,
    );
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The tree every scan test uses. Returns the invalid UTF-8 file's path.
fn build_tree(root: &Path) -> PathBuf {
    clip(
        &root.join("Shows/Alpha/Alpha - S01E01 - Pilot.mkv"),
        1.0,
        440,
    );
    clip(&root.join("Shows/Alpha/Season 2/03 - Third.mkv"), 1.5, 550);
    clip(&root.join("Shows/Beta/Beta 1x02 - Two.mp4"), 2.0, 660);
    clip(
        &root.join("Shows/Beta/Beta - S01E03-E04 - Double.mkv"),
        1.2,
        770,
    );
    clip(&root.join("Movies/Title (2001).mkv"), 2.5, 880);
    jpeg(&root.join("Movies/Title (2001)-poster.jpg"));
    avi(&root.join("Movies/Old Film.avi"), 1.8);
    write(
        &root.join("Movies/Old Film.nfo"),
        br#"<?xml version="1.0" encoding="UTF-8"?>
<movie><title>The Old Film</title><plot>Black and white.</plot><year>1950</year>
<genre>Drama</genre><genre>Noir</genre><rating>7.9</rating><mpaa>PG</mpaa></movie>"#,
    );
    // A bad NFO: the names still give the metadata.
    write(
        &root.join("Shows/Beta/Beta 1x02 - Two.nfo"),
        b"<episodedetails><title>x</episodedetails>",
    );
    // Corrupt: a real header cut short, then garbage.
    let good = std::fs::read(root.join("Shows/Alpha/Alpha - S01E01 - Pilot.mkv")).unwrap();
    let mut corrupt = good[..64.min(good.len())].to_vec();
    corrupt.extend(std::iter::repeat_n(0xA5u8, 4000));
    write(&root.join("Movies/corrupt.mkv"), &corrupt);
    write(&root.join("Movies/empty.mp4"), b"");
    let odd = root
        .join("Movies")
        .join(OsStr::from_bytes(b"Odd \xff name.mkv"));
    std::fs::copy(root.join("Movies/Title (2001).mkv"), &odd).unwrap();
    // Skipped: hidden, and not media.
    std::fs::copy(
        root.join("Movies/Title (2001).mkv"),
        root.join("Movies/.hidden.mkv"),
    )
    .unwrap();
    write(&root.join("Movies/notes.txt"), b"not media");
    odd
}

fn library_id(c: &Client) -> i64 {
    let libs = c.get("/api/libraries").json();
    assert_eq!(libs.as_array().unwrap().len(), 1, "{libs}");
    libs[0]["id"].as_i64().unwrap()
}

/// Waits for the library's current scan to end; returns its progress.
fn wait_scan(c: &Client, id: i64) -> Value {
    let mut last = Value::Null;
    let done = wait_until(SCAN_TIMEOUT, || {
        let r = c.get(&format!("/api/libraries/scan-progress/{id}"));
        if r.status != 200 {
            return false;
        }
        last = r.json();
        last["status"] == "done" || last["status"] == "error"
    });
    assert!(done, "scan did not finish: {last}");
    last
}

/// Starts a scan and waits for it.
fn rescan(c: &Client, id: i64) -> Value {
    let r = c.post(&format!("/api/libraries/local/{id}/scan"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "started");
    wait_scan(c, id)
}

fn all_media(c: &Client) -> Vec<Value> {
    let v = c.get("/api/media?limit=1000").json();
    v.as_array().unwrap().clone()
}

fn by_url<'a>(items: &'a [Value], suffix: &str) -> &'a Value {
    items
        .iter()
        .find(|m| m["url"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no item ending {suffix:?} in {items:?}"))
}

fn assert_duration(item: &Value, seconds: f64) {
    let d = item["duration"]
        .as_f64()
        .unwrap_or_else(|| panic!("no duration: {item}"));
    assert!(
        (d - seconds).abs() <= 0.1,
        "duration {d} vs {seconds}: {item}"
    );
}

fn open_db(server: &TestServer) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        server.data_dir().join("exstreamtv.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
}

#[test]
fn scans_a_tree_then_rescans_incrementally_and_makes_a_channel_per_folder() {
    let media = TempDir::new("lib-tree");
    let odd = build_tree(media.path());
    let server = TestServer::builder().media(media.path()).start();
    let c = server.client();
    let id = library_id(&c);

    // First scan, in the background from start.
    let p = wait_scan(&c, id);
    assert_eq!(p["status"], "done", "{p}");
    assert_eq!(
        p["total_files"], 9,
        "hidden and non-media files are skipped: {p}"
    );
    assert_eq!(p["new_items"], 9, "{p}");
    assert_eq!(p["failed"], 2, "corrupt + empty: {p}");
    assert_eq!(p["ffprobe_calls"], 8, "the empty file is not probed: {p}");
    assert_eq!(p["percent_complete"], 100.0);
    let errors = p["recent_errors"].to_string();
    assert!(errors.contains("empty file"), "{errors}");
    assert!(errors.contains("corrupt.mkv"), "{errors}");

    let lib = &c.get("/api/libraries").json()[0];
    assert_eq!(lib["status"], "idle", "{lib}");
    assert_eq!(lib["source_type"], "local");
    assert!(lib["last_scan"].as_str().unwrap().ends_with('Z'), "{lib}");

    let items = all_media(&c);
    assert_eq!(items.len(), 9);
    let pilot = by_url(&items, "Alpha - S01E01 - Pilot.mkv");
    assert_eq!(
        (
            &pilot["media_type"],
            &pilot["show_title"],
            &pilot["season_number"],
            &pilot["episode_number"],
            &pilot["title"]
        ),
        (
            &json!("episode"),
            &json!("Alpha"),
            &json!(1),
            &json!(1),
            &json!("Pilot")
        )
    );
    assert_duration(pilot, 1.0);
    assert_eq!(
        (&pilot["video_codec"], &pilot["audio_codec"]),
        (&json!("h264"), &json!("aac"))
    );
    assert_eq!(
        (&pilot["width"], &pilot["height"], &pilot["frame_rate"]),
        (&json!(320), &json!(240), &json!(25.0))
    );
    assert_eq!(pilot["container"], "matroska");
    let third = by_url(&items, "Season 2/03 - Third.mkv");
    assert_eq!(
        (
            &third["show_title"],
            &third["season_number"],
            &third["episode_number"],
            &third["title"]
        ),
        (&json!("Alpha"), &json!(2), &json!(3), &json!("Third"))
    );
    assert_duration(third, 1.5);
    let two = by_url(&items, "Beta 1x02 - Two.mp4");
    assert_eq!(
        (
            &two["show_title"],
            &two["season_number"],
            &two["episode_number"],
            &two["title"]
        ),
        (&json!("Beta"), &json!(1), &json!(2), &json!("Two"))
    );
    assert_duration(two, 2.0);
    let double = by_url(&items, "S01E03-E04 - Double.mkv");
    assert_eq!(
        (&double["episode_number"], &double["episode_number_end"]),
        (&json!(3), &json!(4))
    );
    assert_duration(double, 1.2);
    let movie = by_url(&items, "Title (2001).mkv");
    assert_eq!(
        (&movie["media_type"], &movie["title"], &movie["year"]),
        (&json!("movie"), &json!("Title"), &json!(2001))
    );
    assert_duration(movie, 2.5);
    let avi = by_url(&items, "Old Film.avi");
    assert_eq!(
        (&avi["video_codec"], &avi["audio_codec"]),
        (&json!("mpeg4"), &json!("mp3"))
    );
    assert_eq!(avi["container"], "avi");
    assert_duration(avi, 1.8);
    // The NFO wins over the name.
    assert_eq!(
        (
            &avi["title"],
            &avi["year"],
            &avi["genres"],
            &avi["rating"],
            &avi["description"],
            &avi["content_rating"]
        ),
        (
            &json!("The Old Film"),
            &json!(1950),
            &json!("Drama,Noir"),
            &json!(7.9),
            &json!("Black and white."),
            &json!("PG")
        )
    );
    assert_eq!(avi["media_type"], "movie");
    let corrupt = by_url(&items, "corrupt.mkv");
    assert!(
        corrupt["probe_error"].as_str().unwrap().contains("ffprobe"),
        "{corrupt}"
    );
    assert!(corrupt["duration"].is_null());
    let empty = by_url(&items, "empty.mp4");
    assert_eq!(empty["probe_error"], "empty file (0 bytes)");
    // Invalid UTF-8: shown lossy, the raw bytes kept for playing.
    let odd_item = by_url(&items, "Odd \u{fffd} name.mkv");
    assert_eq!(odd_item["title"], "Odd \u{fffd} name");
    assert_duration(odd_item, 2.5);
    let conn = open_db(&server);
    let raw: Vec<u8> = conn
        .query_row(
            "SELECT path_bytes FROM media_items WHERE id = ?1",
            [odd_item["id"].as_i64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(raw, odd.as_os_str().as_bytes());

    // Artwork beside the movie, served openly (no token) for tvg-logo / <icon>.
    let poster_url = movie["poster_path"].as_str().unwrap();
    assert_eq!(movie["thumbnail"], poster_url);
    assert_eq!(
        poster_url,
        format!("/static/artwork/{}/poster", movie["id"])
    );
    let art = server.anon().get(poster_url);
    assert_eq!(art.status, 200);
    assert_eq!(art.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        art.body,
        std::fs::read(media.path().join("Movies/Title (2001)-poster.jpg")).unwrap()
    );
    assert_eq!(
        server
            .anon()
            .get(&format!("/static/artwork/{}/fanart", movie["id"]))
            .status,
        404
    );
    assert_eq!(server.anon().get("/static/artwork/x/poster").status, 404);

    // First run: one channel per top-level folder, sorted by name, numbered from 1, each
    // with a collection, a schedule (one flood item in season/episode order) and a playout.
    let channels: Vec<(String, String)> = conn
        .prepare("SELECT number, name FROM channels ORDER BY CAST(number AS INTEGER)")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        channels,
        [("1".into(), "Movies".into()), ("2".into(), "Shows".into())]
    );
    let wiring: Vec<(String, String, String, i64, i64)> = conn
        .prepare(
            "SELECT c.name, si.playback_order, si.playout_mode,
                    (SELECT count(*) FROM collection_items ci WHERE ci.collection_id = si.collection_id),
                    (SELECT count(*) FROM playouts p WHERE p.channel_id = c.id AND p.program_schedule_id = s.id)
             FROM channels c JOIN schedules s ON s.channel_id = c.id
             JOIN schedule_items si ON si.schedule_id = s.id AND si.collection_type = 'collection'
             ORDER BY c.number",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        wiring,
        [
            // Movies: Title, Old Film, the odd name (corrupt and empty are not playable).
            (
                "Movies".into(),
                "season_episode".into(),
                "flood".into(),
                3,
                1
            ),
            (
                "Shows".into(),
                "season_episode".into(),
                "flood".into(),
                4,
                1
            ),
        ]
    );
    // The guide carries the movie's artwork as an absolute <icon> URL.
    let guide = server.anon().get("/iptv/xmltv.xml").text();
    let icon = format!(
        "<icon src=\"http://{}/static/artwork/{}/poster\"/>",
        server.addr, movie["id"]
    );
    assert!(
        guide.contains(&icon),
        "no {icon} in the guide:\n{}",
        &guide[..guide.len().min(3000)]
    );
    let shows = c.get("/api/collections").json();
    let shows = shows
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Shows")
        .unwrap()
        .clone();
    let order: Vec<i64> = shows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["media_item_id"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = [pilot, third, two, double]
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, expected, "shows in show/season/episode order");

    // An unchanged tree: zero ffprobe.
    let p = rescan(&c, id);
    assert_eq!(
        (
            &p["ffprobe_calls"],
            &p["new_items"],
            &p["changed_items"],
            &p["missing_items"],
            &p["unchanged_items"]
        ),
        (&json!(0), &json!(0), &json!(0), &json!(0), &json!(9)),
        "{p}"
    );

    // Only the NFO changes: the metadata is read again, ffprobe is not run.
    write(
        &media.path().join("Movies/Old Film.nfo"),
        b"<movie><title>The Old Film, Restored</title><year>1951</year></movie>",
    );
    let p = rescan(&c, id);
    assert_eq!(
        (
            &p["ffprobe_calls"],
            &p["changed_items"],
            &p["unchanged_items"]
        ),
        (&json!(0), &json!(1), &json!(8)),
        "{p}"
    );
    let restored = c.get(&format!("/api/media/{}", avi["id"])).json();
    assert_eq!(
        (
            &restored["title"],
            &restored["year"],
            &restored["video_codec"]
        ),
        (
            &json!("The Old Film, Restored"),
            &json!(1951),
            &json!("mpeg4")
        )
    );
    assert_duration(&restored, 1.8);

    // Add two files, change one, remove one, then scan twice at once: 409.
    clip(
        &media.path().join("Shows/Beta/Beta - S02E01 - New.mkv"),
        1.0,
        990,
    );
    clip(&media.path().join("Fresh/Clip.mkv"), 1.0, 300);
    clip(
        &media.path().join("Shows/Alpha/Alpha - S01E01 - Pilot.mkv"),
        2.0,
        440,
    );
    std::fs::remove_file(media.path().join("Movies/Title (2001).mkv")).unwrap();
    let r = c.post(&format!("/api/libraries/local/{id}/scan"));
    assert_eq!(r.status, 200);
    let again = c.post(&format!("/api/libraries/local/{id}/scan"));
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(again.detail(), "a scan of this library is already running");
    let p = wait_scan(&c, id);
    assert_eq!(
        (
            &p["ffprobe_calls"],
            &p["new_items"],
            &p["changed_items"],
            &p["missing_items"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(1)),
        "{p}"
    );
    let items = all_media(&c);
    assert_eq!(items.len(), 11, "a vanished file keeps its row");
    let gone = by_url(&items, "Title (2001).mkv");
    assert_eq!(gone["is_missing"], true);
    assert_duration(by_url(&items, "Alpha - S01E01 - Pilot.mkv"), 2.0);
    assert_eq!(
        by_url(&items, "Beta - S02E01 - New.mkv")["season_number"],
        2
    );
    // The folder's collection follows the folder; a new top-level folder is no new channel
    // (first run is over).
    let shows = c.get(&format!("/api/collections/{}", shows["id"])).json();
    assert_eq!(shows["items"].as_array().unwrap().len(), 5, "{shows}");
    let n_channels: i64 = conn
        .query_row("SELECT count(*) FROM channels", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n_channels, 2);

    // A file moved onto the vanished path: that row is back, re-probed (new mtime); the
    // moved-away name is missing.
    let odd_name = "Odd \u{fffd} name.mkv";
    let title_path = media.path().join("Movies/Title (2001).mkv");
    std::fs::rename(&odd, &title_path).unwrap();
    let p = rescan(&c, id);
    assert_eq!(
        (
            &p["ffprobe_calls"],
            &p["changed_items"],
            &p["missing_items"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{p}"
    );
    let items = all_media(&c);
    assert_eq!(by_url(&items, "Title (2001).mkv")["is_missing"], false);
    assert_eq!(by_url(&items, odd_name)["is_missing"], true);
    // Moved back with its size and mtime: present again without ffprobe.
    std::fs::rename(&title_path, &odd).unwrap();
    let p = rescan(&c, id);
    assert_eq!(
        (&p["ffprobe_calls"], &p["missing_items"]),
        (&json!(0), &json!(1)),
        "{p}"
    );
    let items = all_media(&c);
    assert_eq!(by_url(&items, odd_name)["is_missing"], false);
    assert_eq!(by_url(&items, "Title (2001).mkv")["is_missing"], true);
    assert!(
        server.log_text().contains("bad NFO skipped"),
        "the bad NFO is logged"
    );
}

#[test]
fn api_lists_filter_page_search_and_refuse_bad_input() {
    let media = TempDir::new("lib-api");
    clip(
        &media.path().join("Alpha/Alpha - S01E01 - One.mkv"),
        1.0,
        440,
    );
    clip(
        &media.path().join("Alpha/Alpha - S01E02 - Two.mkv"),
        2.0,
        550,
    );
    clip(
        &media.path().join("Beta/Beta - S02E01 - Pilot.mkv"),
        3.0,
        660,
    );
    std::fs::copy(
        media.path().join("Alpha/Alpha - S01E01 - One.mkv"),
        media.path().join("Film (1999).mkv"),
    )
    .unwrap();
    let server = TestServer::start();
    let c = server.client();
    // Without --media the demo channel stays.
    let n: i64 = open_db(&server)
        .query_row(
            "SELECT count(*) FROM channels WHERE name = 'Demo'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);

    // Bad library input.
    let r = c.request("POST", "/api/libraries/local", Some(b"{nope"));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = c.post_json("/api/libraries/local", &json!({"path": "/tmp"}));
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "name: field required")
    );
    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "x", "path": "/no/such/dir"}),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.detail().starts_with("path: /no/such/dir"),
        "{}",
        r.detail()
    );
    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "x", "path": "relative"}),
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "path: must be an absolute path")
    );
    let file = media.path().join("Film (1999).mkv");
    let r = c.post_json("/api/libraries/local", &json!({"name": "x", "path": file}));
    assert_eq!(r.status, 422);
    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "x", "path": media.path(), "library_type": "songs"}),
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "library_type: must be movie, show, music or other")
    );

    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "Media", "path": media.path(), "library_type": "show"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let lib = r.json();
    let id = lib["id"].as_i64().unwrap();
    assert_eq!(lib["name"], "Media");
    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "Inner", "path": media.path().join("Alpha")}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(c.post("/api/libraries/local/999/scan").status, 404);
    assert_eq!(c.get("/api/libraries/scan-progress/999").status, 404);
    assert_eq!(c.get("/api/libraries/local/abc").status, 404);
    let p = wait_scan(&c, id);
    assert_eq!(
        (&p["new_items"], &p["failed"]),
        (&json!(4), &json!(0)),
        "{p}"
    );

    // Lists: filter, page, sort, search.
    let page = c
        .get(&format!("/api/media?paginated=true&limit=2&skip=0&sort_by=duration&sort_order=desc&library_id={id}"))
        .json();
    assert_eq!(
        (&page["total"], &page["has_more"], &page["limit"]),
        (&json!(4), &json!(true), &json!(2))
    );
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Pilot", "Two"]);
    let page = c
        .get(&format!("/api/media?paginated=true&limit=2&skip=2&sort_by=duration&sort_order=desc&library_id={id}"))
        .json();
    assert_eq!(
        (page["items"].as_array().unwrap().len(), &page["has_more"]),
        (2, &json!(false))
    );
    let eps = c.get("/api/media?media_type=episode&source=local").json();
    assert_eq!(eps.as_array().unwrap().len(), 3);
    let movies = c
        .get(&format!("/api/media?media_type=movie&library_id={id}"))
        .json();
    assert_eq!(movies.as_array().unwrap().len(), 1);
    assert_eq!(movies[0]["title"], "Film");
    assert_eq!(
        c.get("/api/media?search=alpha")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2,
        "by show"
    );
    assert_eq!(
        c.get("/api/media?search=PILOT")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "by title"
    );
    assert_eq!(
        c.get("/api/media?year_min=1990&year_max=2000")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.get("/api/media?duration_min=1.5&source=local")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(c.get("/api/media?source=plex").json(), json!([]));
    let search = c.get("/api/media/search?q=two").json();
    assert_eq!(search.as_array().unwrap().len(), 1);
    assert_eq!(c.get("/api/media/search").status, 400);
    for bad in [
        "/api/media?limit=0",
        "/api/media?limit=5000",
        "/api/media?skip=-1",
        "/api/media?sort_by=colour",
        "/api/media?sort_order=up",
        "/api/media?library_id=x",
    ] {
        let r = c.get(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        r.detail();
    }
    // The demo channel's three generated programmes are media items too.
    let count = c.get("/api/media/count").json();
    assert_eq!(
        count,
        json!({"total": 7, "by_source": {"generated": 3, "local": 4}})
    );
    assert_eq!(c.get("/api/media/count?source=local").json()["total"], 4);
    let filters = c.get("/api/media/filters").json();
    assert_eq!(filters["years"], json!([1999]));
    assert_eq!(filters["media_types"], json!(["episode", "movie"]));
    assert_eq!(filters["sources"], json!(["generated", "local"]));
    let shows = c.get(&format!("/api/media/shows?library_id={id}")).json();
    assert_eq!(shows["total"], 2);
    assert_eq!(shows["shows"][0]["show_title"], "Alpha");
    assert_eq!(shows["shows"][0]["episode_count"], 2);
    let alpha = c.get("/api/media/shows/Alpha/episodes").json();
    assert_eq!(
        (&alpha["episode_count"], &alpha["season_count"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(alpha["seasons"][0]["episodes"][1]["title"], "Two");
    assert_eq!(c.get("/api/media/shows/Nobody/episodes").status, 404);
    let one = c.get(&format!("/api/media/{}", movies[0]["id"])).json();
    assert_eq!(one["streams"].as_array().unwrap().len(), 2, "{one}");
    assert_eq!(c.get("/api/media/99999").status, 404);
    assert_eq!(c.request("PUT", "/api/media/1", Some(b"{}")).status, 405);
    let stats = c.get("/api/libraries/stats").json();
    assert_eq!(
        (
            &stats["total_items"],
            &stats["episodes"],
            &stats["movies"],
            &stats["shows"]
        ),
        (&json!(7), &json!(6), &json!(1), &json!(3))
    );
    let summary = c.get("/api/media-sources/summary").json();
    assert_eq!(summary["local"], json!({"count": 1, "total_items": 4}));
    assert_eq!(summary["plex"]["count"], 0);

    // POST /api/media: an existing URL answers 200 with the item; an unreadable file 422.
    let url = by_url(&all_media(&c), "Film (1999).mkv")["url"].clone();
    let r = c.post_json("/api/media", &json!({"url": url}));
    assert_eq!(r.status, 200);
    let junk = media.path().join("junk.bin");
    write(&junk, b"junk junk junk");
    let r = c.post_json("/api/media", &json!({"url": junk}));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with("url: "), "{}", r.detail());
    let extra = media.path().join("outside.mkv");
    std::fs::copy(media.path().join("Film (1999).mkv"), &extra).unwrap();
    let r = c.post_json(
        "/api/media",
        &json!({"url": format!("file://{}", extra.display())}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["title"], "outside");
    assert_duration(&r.json(), 1.0);
    let added = r.json()["id"].as_i64().unwrap();
    assert_eq!(c.delete(&format!("/api/media/{added}")).status, 204);
    assert_eq!(c.delete(&format!("/api/media/{added}")).status, 404);

    collections_and_playlists(&c);

    // Delete the library: its items go; a second delete is 404.
    assert_eq!(c.delete(&format!("/api/libraries/local/{id}")).status, 204);
    assert_eq!(c.delete(&format!("/api/libraries/local/{id}")).status, 404);
    assert_eq!(c.get("/api/media/count?source=local").json()["total"], 0);
}

fn collections_and_playlists(c: &Client) {
    let items = all_media(c);
    let id_of = |suffix: &str| by_url(&items, suffix)["id"].as_i64().unwrap();
    let (one, two, pilot, film) = (
        id_of("S01E01 - One.mkv"),
        id_of("S01E02 - Two.mkv"),
        id_of("S02E01 - Pilot.mkv"),
        id_of("Film (1999).mkv"),
    );

    // Manual collections.
    let r = c.post_json(
        "/api/collections",
        &json!({"name": "Mine", "description": "d"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let coll = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        c.post_json("/api/collections", &json!({"name": "Mine"}))
            .status,
        409
    );
    assert_eq!(
        c.post_json("/api/collections", &json!({"description": "no name"}))
            .status,
        422
    );
    assert_eq!(
        c.post(&format!("/api/collections/{coll}/items/{two}"))
            .status,
        201
    );
    assert_eq!(
        c.post(&format!("/api/collections/{coll}/items/{one}"))
            .status,
        201
    );
    assert_eq!(
        c.post(&format!("/api/collections/{coll}/items/{one}"))
            .status,
        409
    );
    assert_eq!(
        c.post(&format!("/api/collections/{coll}/items/99999"))
            .status,
        404
    );
    assert_eq!(
        c.post(&format!("/api/collections/99999/items/{one}"))
            .status,
        404
    );
    let got = c.get(&format!("/api/collections/{coll}")).json();
    let members: Vec<i64> = got["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["media_item_id"].as_i64().unwrap())
        .collect();
    assert_eq!(members, [two, one]);
    assert_eq!(got["items"][0]["media_item"]["title"], "Two");
    assert_eq!(
        c.delete(&format!("/api/collections/{coll}/items/{two}"))
            .status,
        204
    );
    assert_eq!(
        c.delete(&format!("/api/collections/{coll}/items/{two}"))
            .status,
        404
    );

    // Smart collections.
    let r = c.post("/api/collections/smart?name=Alpha%20S1&search_query=show%3AAlpha%20season%3A1");
    assert_eq!(r.status, 201, "{}", r.text());
    let smart = r.json();
    assert_eq!(
        (&smart["collection_type"], &smart["item_count"]),
        (&json!("smart"), &json!(2))
    );
    let r = c.post("/api/collections/smart?name=Bad&search_query=colour%3Ared");
    assert_eq!(r.status, 422);
    assert!(
        r.detail().starts_with("search_query: unknown field"),
        "{}",
        r.detail()
    );
    let r = c.post_json("/api/collections", &json!({"name": "Films", "collection_type": "smart", "search_query": "type:movie|other -title:x"}));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["item_count"], 1);
    let refreshed = c
        .post(&format!("/api/collections/smart/{}/refresh", smart["id"]))
        .json();
    assert_eq!(
        (&refreshed["previous_count"], &refreshed["new_count"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(
        c.post(&format!("/api/collections/smart/{coll}/refresh"))
            .status,
        422
    );
    assert_eq!(c.post("/api/collections/smart/99999/refresh").status, 404);
    assert_eq!(
        c.post(&format!("/api/collections/{}/items/{pilot}", smart["id"]))
            .status,
        422
    );

    // Multi-collections.
    let r = c.post(&format!(
        "/api/collections/multi?name=Both&collection_ids={coll},{}",
        smart["id"]
    ));
    assert_eq!(r.status, 201, "{}", r.text());
    let multi = r.json();
    assert_eq!(multi["collection_count"], 2);
    assert_eq!(c.post("/api/collections/multi?name=Both").status, 409);
    assert_eq!(
        c.post("/api/collections/multi?name=Other&collection_ids=99999")
            .status,
        422
    );
    let mid = multi["id"].as_i64().unwrap();
    assert_eq!(
        c.post(&format!("/api/collections/multi/{mid}/collections/{coll}"))
            .status,
        409
    );
    assert_eq!(
        c.delete(&format!("/api/collections/multi/{mid}/collections/{coll}"))
            .status,
        204
    );
    assert_eq!(
        c.post(&format!("/api/collections/multi/{mid}/collections/{coll}"))
            .status,
        201
    );
    let got = c.get(&format!("/api/collections/multi/{mid}")).json();
    let linked: Vec<i64> = got["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(linked, [smart["id"].as_i64().unwrap(), coll]);
    let r = c.request(
        "PUT",
        &format!("/api/collections/multi/{mid}?name=Renamed"),
        None,
    );
    assert_eq!(r.json()["name"], "Renamed");
    assert_eq!(
        c.get("/api/collections/multi")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.delete(&format!("/api/collections/multi/{mid}")).status,
        204
    );
    assert_eq!(c.get(&format!("/api/collections/multi/{mid}")).status, 404);

    // Playlists: media and collections as entries, moves, errors.
    let r = c.post_json("/api/playlists", &json!({"name": "Evening"}));
    assert_eq!(r.status, 201, "{}", r.text());
    let pl = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        c.post_json("/api/playlists", &json!({"name": "x", "channel_id": 9999}))
            .status,
        422
    );
    assert_eq!(
        c.post(&format!("/api/playlists/{pl}/items/{film}")).status,
        201
    );
    assert_eq!(
        c.post(&format!("/api/playlists/{pl}/items/{pilot}")).status,
        201
    );
    assert_eq!(
        c.post(&format!("/api/playlists/{pl}/collections/{coll}"))
            .status,
        201
    );
    assert_eq!(
        c.post(&format!("/api/playlists/{pl}/items/{film}")).status,
        409
    );
    assert_eq!(
        c.post(&format!("/api/playlists/{pl}/collections/{coll}"))
            .status,
        409
    );
    assert_eq!(
        c.post(&format!("/api/playlists/{pl}/items/99999")).status,
        404
    );
    let entries = c.get(&format!("/api/playlists/{pl}")).json()["items"].clone();
    let entry_ids: Vec<i64> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(entries[2]["collection"]["name"], "Mine");
    let mv = |entry: i64, dir: &str| {
        c.post(&format!(
            "/api/playlists/{pl}/items/{entry}/move?direction={dir}"
        ))
    };
    assert_eq!(mv(entry_ids[0], "up").status, 409);
    assert_eq!(mv(entry_ids[2], "down").status, 409);
    assert_eq!(mv(entry_ids[0], "sideways").status, 400);
    assert_eq!(mv(99999, "up").status, 404);
    assert_eq!(mv(entry_ids[2], "up").status, 200);
    let order: Vec<i64> = c.get(&format!("/api/playlists/{pl}")).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, [entry_ids[0], entry_ids[2], entry_ids[1]]);
    let r = c.request("PUT", &format!("/api/playlists/{pl}?name=Late"), None);
    assert_eq!(r.json()["name"], "Late");
    assert_eq!(
        c.delete(&format!("/api/playlists/{pl}/items/{}", entry_ids[1]))
            .status,
        204
    );
    assert_eq!(
        c.delete(&format!("/api/playlists/{pl}/items/{}", entry_ids[1]))
            .status,
        404
    );
    assert_eq!(c.get("/api/playlists").json().as_array().unwrap().len(), 1);
    // What a schedule plays cannot be deleted from under it (409 naming the schedule).
    let schedule = c.post_json("/api/schedules", &json!({"name": "Uses them"}));
    assert_eq!(schedule.status, 201, "{}", schedule.text());
    let sid = schedule.json()["id"].as_i64().unwrap();
    for (kind, id) in [("collection", coll), ("playlist", pl)] {
        let item = c.post_json(
            &format!("/api/schedules/{sid}/items"),
            &json!({"collection_type": kind, "collection_id": id}),
        );
        assert_eq!(item.status, 201, "{}", item.text());
    }
    for path in [
        format!("/api/playlists/{pl}"),
        format!("/api/collections/{coll}"),
    ] {
        let r = c.delete(&path);
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(r.detail().contains(&format!("used by schedule {sid}")));
    }
    assert_eq!(c.delete(&format!("/api/schedules/{sid}")).status, 204);
    assert_eq!(c.delete(&format!("/api/playlists/{pl}")).status, 204);
    assert_eq!(c.get(&format!("/api/playlists/{pl}")).status, 404);
    assert_eq!(c.delete(&format!("/api/collections/{coll}")).status, 204);
    assert_eq!(c.get(&format!("/api/collections/{coll}")).status, 404);
}

#[test]
fn a_missing_or_vanished_media_folder_is_a_library_error_not_a_crash() {
    let parent = TempDir::new("lib-gone");
    let absent = parent.path().join("never-existed");
    let server = TestServer::builder().media(&absent).start();
    let c = server.client();
    let id = library_id(&c);
    let p = wait_scan(&c, id);
    assert_eq!(p["status"], "error");
    assert!(
        p["error"].as_str().unwrap().contains("never-existed"),
        "{p}"
    );
    let lib = &c.get("/api/libraries").json()[0];
    assert_eq!(lib["status"], "error");
    assert!(
        lib["last_error"]
            .as_str()
            .unwrap()
            .contains("never-existed"),
        "{lib}"
    );
    assert_eq!(c.get("/api/health").status, 200);

    // A folder that vanishes after a scan: the scan fails, nothing is marked missing.
    let folder = parent.path().join("here");
    clip(&folder.join("Show/Show - S01E01.mkv"), 1.0, 440);
    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "Here", "path": folder}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let here = r.json()["id"].as_i64().unwrap();
    assert_eq!(wait_scan(&c, here)["new_items"], 1);
    std::fs::remove_dir_all(&folder).unwrap();
    let p = rescan(&c, here);
    assert_eq!(p["status"], "error", "{p}");
    let items = c.get(&format!("/api/media?library_id={here}")).json();
    assert_eq!(
        items[0]["is_missing"], false,
        "an unmounted disk must not empty the channels"
    );
    let lib = c.get(&format!("/api/libraries/local/{here}")).json();
    assert_eq!(lib["status"], "error");
    // The folder is back: the next scan clears the error.
    clip(&folder.join("Show/Show - S01E01.mkv"), 1.0, 440);
    let p = rescan(&c, here);
    assert_eq!(p["status"], "done", "{p}");
    assert_eq!(
        c.get(&format!("/api/libraries/local/{here}")).json()["status"],
        "idle"
    );
}

#[test]
fn first_run_numbers_channels_across_media_folders_and_restart_adds_none() {
    let one = TempDir::new("lib-first-a");
    let two = TempDir::new("lib-first-b");
    let base = one.path().join("base.mkv");
    clip(&base, 1.0, 440);
    let link = |to: PathBuf| {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::hard_link(&base, to).unwrap();
    };
    link(one.path().join("Zed/Zed - S01E01.mkv"));
    link(one.path().join("Alpha/Alpha - S01E01.mkv"));
    link(two.path().join("Cartoons/Toon - S01E01.mkv"));
    // Nothing playable: no channel.
    write(&two.path().join("Empty/broken.mkv"), b"not a video");
    let data = std::sync::Arc::new(TempDir::new("lib-first-data"));
    let start = || {
        TestServer::builder()
            .data(data.clone())
            .media(one.path())
            .media(two.path())
            .start()
    };
    let server = start();
    let c = server.client();
    let libs = c.get("/api/libraries").json();
    let ids: Vec<i64> = libs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert_eq!(wait_scan(&c, *id)["status"], "done");
    }
    let channels = |server: &TestServer| -> Vec<(String, String)> {
        open_db(server)
            .prepare("SELECT number, name FROM channels ORDER BY CAST(number AS INTEGER)")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // The first folder's subfolders by name, then the second's; its loose base.mkv gets a
    // channel named after the folder itself, after its subfolders.
    let root_name = one
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let expected = vec![
        ("1".to_string(), "Alpha".to_string()),
        ("2".into(), "Zed".into()),
        ("3".into(), root_name),
        ("4".into(), "Cartoons".into()),
    ];
    assert!(
        wait_until(Duration::from_secs(10), || channels(&server) == expected),
        "{:?}",
        channels(&server)
    );
    drop(server);

    // A restart with the same folders: the same libraries, no new channel.
    let server = start();
    let c = server.client();
    let again: Vec<i64> = c
        .get("/api/libraries")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(again, ids);
    for id in &ids {
        let p = wait_scan(&c, *id);
        assert_eq!(p["ffprobe_calls"], 0, "{p}");
    }
    assert_eq!(channels(&server), expected);
}

#[test]
fn shutdown_mid_scan_kills_and_reaps_ffprobe_and_keeps_what_was_probed() {
    let media = TempDir::new("lib-stop");
    let base = media.path().join("base.mkv");
    clip(&base, 1.0, 440);
    const N: usize = 30;
    for i in 0..N {
        std::fs::hard_link(
            &base,
            media.path().join(format!("Show - S01E{:02}.mkv", i + 1)),
        )
        .unwrap();
    }
    let data = std::sync::Arc::new(TempDir::new("lib-stop-data"));
    let mut server = TestServer::builder()
        .data(data.clone())
        .media(media.path())
        .start();
    let c = server.client();
    let id = library_id(&c);
    // Stop once ffprobe is running; TestServer's drop then checks that none survived.
    let mut seen = 0;
    assert!(wait_until(SCAN_TIMEOUT, || {
        let p = c.get(&format!("/api/libraries/scan-progress/{id}")).json();
        seen = p["ffprobe_calls"].as_u64().unwrap_or(0);
        seen >= 3
    }));
    let status = server
        .stop(Duration::from_secs(5))
        .expect("stopped in time");
    assert!(status.success(), "{status}");
    drop(server);

    let server = TestServer::builder().data(data).media(media.path()).start();
    let c = server.client();
    let p = wait_scan(&c, id);
    assert_eq!(p["status"], "done", "{p}");
    assert_eq!(p["total_files"], N + 1);
    let resumed = p["ffprobe_calls"].as_u64().unwrap();
    assert!(
        resumed <= (N + 1) as u64 - seen,
        "files probed before the stop are not probed again: {resumed} after {seen}"
    );
    let count = c.get("/api/media/count?source=local").json();
    assert_eq!(count["total"], N + 1);
}

#[test]
fn a_big_folder_is_scanned_in_chunks_without_losing_track_of_any_file() {
    // 2 500 files in one folder: three walker chunks of at most 1 000. Empty files are stored
    // with an error and never probed, which keeps this quick; the bookkeeping is the same.
    let media = TempDir::new("lib-big");
    let name = |i: usize| format!("f{i:05}.mkv");
    for i in 0..2500 {
        write(&media.path().join(name(i)), b"");
    }
    let server = TestServer::builder().media(media.path()).start();
    let c = server.client();
    let id = library_id(&c);
    let p = wait_scan(&c, id);
    assert_eq!(
        (&p["total_files"], &p["new_items"], &p["ffprobe_calls"]),
        (&json!(2500), &json!(2500), &json!(0)),
        "{p}"
    );

    // Remove the files on each side of both chunk boundaries and one inside; add one
    // between two chunks' names.
    for i in [0, 999, 1000, 1999, 2000, 2499, 1500] {
        std::fs::remove_file(media.path().join(name(i))).unwrap();
    }
    write(&media.path().join("f00999b.mkv"), b"");
    let p = rescan(&c, id);
    assert_eq!(
        (
            &p["total_files"],
            &p["missing_items"],
            &p["new_items"],
            &p["unchanged_items"],
            &p["ffprobe_calls"]
        ),
        (&json!(2494), &json!(7), &json!(1), &json!(2493), &json!(0)),
        "{p}"
    );
    let missing = c
        .get(&format!(
            "/api/media?library_id={id}&limit=1000&paginated=true&include_missing=false"
        ))
        .json();
    assert_eq!(missing["total"], 2494);
    let p = rescan(&c, id);
    assert_eq!(
        (&p["missing_items"], &p["new_items"], &p["unchanged_items"]),
        (&json!(0), &json!(0), &json!(2494)),
        "{p}"
    );
}

#[test]
fn a_folder_that_vanishes_mid_scan_fails_the_scan_and_marks_no_file_broken() {
    let parent = TempDir::new("lib-vanish");
    let folder = parent.path().join("disk");
    let away = parent.path().join("unmounted");
    let base = parent.path().join("base.mkv");
    clip(&base, 1.0, 440);
    const N: usize = 20;
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..N {
        std::fs::hard_link(&base, folder.join(format!("Show - S01E{:02}.mkv", i + 1))).unwrap();
    }
    let server = TestServer::start();
    let c = server.client();
    assert_eq!(
        c.put_json("/api/settings/library", &json!({"scan_concurrency": 1}))
            .status,
        200
    );
    let r = c.post_json(
        "/api/libraries/local",
        &json!({"name": "Disk", "path": folder}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    assert!(wait_until(SCAN_TIMEOUT, || {
        c.get(&format!("/api/libraries/scan-progress/{id}")).json()["ffprobe_calls"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    }));
    std::fs::rename(&folder, &away).unwrap();
    let p = wait_scan(&c, id);
    assert_eq!(p["status"], "error", "{p}");
    assert!(p["error"].as_str().unwrap().contains("vanished"), "{p}");
    let broken = c
        .get(&format!("/api/media?library_id={id}&limit=1000"))
        .json();
    let broken: Vec<&Value> = broken
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["probe_error"].is_null())
        .collect();
    assert!(
        broken.is_empty(),
        "files of an unmounted folder are not judged: {broken:?}"
    );

    // Back again: every file is scanned and playable.
    std::fs::rename(&away, &folder).unwrap();
    let p = rescan(&c, id);
    assert_eq!(
        (&p["status"], &p["failed"]),
        (&json!("done"), &json!(0)),
        "{p}"
    );
    let items = c
        .get(&format!("/api/media?library_id={id}&limit=1000"))
        .json();
    assert_eq!(items.as_array().unwrap().len(), N);
    assert!(items
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["probe_error"].is_null() && m["duration"].as_f64().is_some()));
}

#[test]
fn unreadable_files_and_folders_are_per_item_errors_and_the_rest_is_scanned() {
    use std::os::unix::fs::PermissionsExt;
    let media = TempDir::new("perm-media");
    let root = media.path();
    clip(&root.join("Shows/Fine - S01E01.mp4"), 1.0, 440);
    clip(&root.join("Shows/Locked - S01E02.mp4"), 1.0, 550);
    clip(&root.join("Shows/Closed/Inside - S01E03.mp4"), 1.0, 660);
    std::fs::set_permissions(
        root.join("Shows/Locked - S01E02.mp4"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("Shows/Closed"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    // Root reads anything: the server runs as nobody, as systemd's DynamicUser would.
    let server = TestServer::builder().run_as_nobody().media(root).start();
    let c = server.client();
    let id = library_id(&c);
    let progress = wait_scan(&c, id);
    assert_eq!(progress["status"], "done", "{progress}");
    // Both the unreadable folder and the unreadable file are named, with the reason.
    let errors = progress["recent_errors"].as_array().unwrap();
    for name in ["Shows/Closed", "Locked - S01E02.mp4"] {
        assert!(
            errors
                .iter()
                .any(|e| e["path"].as_str().unwrap().ends_with(name)
                    && e["error"].as_str().unwrap().contains("Permission denied")),
            "{name} not reported: {progress}"
        );
    }
    let items = all_media(&c);
    let fine = by_url(&items, "Fine - S01E01.mp4");
    assert_duration(fine, 1.0);
    let locked = c
        .get("/api/media?include_missing=true&search=Locked")
        .json();
    let locked_row = open_db(&server)
        .query_row(
            "SELECT probe_error FROM media_items WHERE url LIKE '%Locked - S01E02.mp4'",
            [],
            |r| r.get::<_, Option<String>>(0),
        )
        .unwrap_or(None);
    assert!(
        locked_row.as_deref().is_some_and(|e| !e.is_empty()),
        "the unreadable file has no error recorded: {locked_row:?} {locked}"
    );
    assert_eq!(server.anon().get("/api/health").status, 200);
    std::fs::set_permissions(
        root.join("Shows/Closed"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}
