//! Fixtures for the streaming tests: generated clips with their own tones, and channels
//! whose stored timeline is written straight into the server's SQLite file before it starts
//! (the timeline ends beyond the scheduler's horizon, so the scheduler leaves it alone).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::support::{media, TempDir, TestServer};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What one playout item plays.
#[derive(Clone)]
pub enum Media {
    /// A generated test clip (320x240@25, H.264 + mono AAC, copy-compatible).
    Clip(PathBuf),
    /// `generated://demo/N`: FFmpeg synthesises it (a transcode).
    Generated(u32),
    /// A file that is not media at all.
    Broken(PathBuf),
}

pub struct Item {
    pub media: Media,
    pub ms: i64,
    pub title: String,
}

pub fn item(media: &Media, ms: i64, title: &str) -> Item {
    Item {
        media: media.clone(),
        ms,
        title: title.to_string(),
    }
}

/// Clips of `seconds` with tones 300, 500, 700, ... Hz, in `dir`.
pub fn clips(dir: &Path, n: usize, seconds: f64) -> Vec<Media> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("clip{i}.mp4"));
            media::clip(&path, seconds, tone(i));
            Media::Clip(path)
        })
        .collect()
}

pub fn tone(i: usize) -> u32 {
    300 + 200 * i as u32
}

/// A server whose data dir was prepared by `setup` (run on the SQLite file between a first
/// start, which creates the schema, and the real start).
pub fn server_with(args: &[&str], setup: impl FnOnce(&Connection)) -> TestServer {
    server_with_env(args, &[], setup)
}

/// `server_with`, the real start with extra environment variables.
pub fn server_with_env(
    args: &[&str],
    envs: &[(&str, &str)],
    setup: impl FnOnce(&Connection),
) -> TestServer {
    let data = Arc::new(TempDir::new("stream-data"));
    {
        let mut first = TestServer::builder().data(data.clone()).start();
        first.stop(Duration::from_secs(6));
    }
    let conn = Connection::open(data.path().join("exstreamtv.db")).expect("open db");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    setup(&conn);
    drop(conn);
    let mut builder = TestServer::builder()
        .data(data)
        .args(args.iter().map(|s| s.to_string()));
    for (k, v) in envs {
        builder = builder.env(k, v);
    }
    builder.start()
}

pub fn set_setting(conn: &Connection, section: &str, json: &str) {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![section, json],
    )
    .unwrap();
}

/// The small output profile the test channels use: 320x240@25, ultrafast, mono AAC, so the
/// clips are copied and generated items transcode cheaply.
pub fn small_profile(conn: &Connection) -> i64 {
    conn.execute(
        "INSERT OR IGNORE INTO resolutions (name, width, height) VALUES ('test 240', 320, 240)",
        [],
    )
    .unwrap();
    let resolution: i64 = conn
        .query_row(
            "SELECT id FROM resolutions WHERE name = 'test 240'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "INSERT OR IGNORE INTO ffmpeg_profiles (name, resolution_id, video_bitrate, video_buffer_size,
             framerate, quality_preset, audio_bitrate, audio_channels, normalize_audio,
             created_at_ms, updated_at_ms)
         VALUES ('test small', ?1, '300k', '600k', 25, 'ultrafast', '64k', 1, 0, 0, 0)",
        [resolution],
    )
    .unwrap();
    conn.query_row(
        "SELECT id FROM ffmpeg_profiles WHERE name = 'test small'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

pub fn add_media(conn: &Connection, media: &Media, title: &str, ms: i64) -> Option<i64> {
    let (source, url, path, probed) = match media {
        Media::Clip(p) => ("local", p.display().to_string(), Some(p), true),
        Media::Broken(p) => ("local", p.display().to_string(), Some(p), true),
        Media::Generated(n) => ("generated", format!("generated://demo/{n}"), None, false),
    };
    if let Ok(id) = conn.query_row("SELECT id FROM media_items WHERE url = ?1", [&url], |r| {
        r.get(0)
    }) {
        return Some(id);
    }
    let path_bytes = path.map(|p| {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    });
    conn.execute(
        "INSERT INTO media_items (source, url, path_bytes, title, duration_ms, container, video_codec,
             width, height, frame_rate, audio_codec, audio_channels, audio_sample_rate,
             added_at_ms, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 320, 240, 25, ?8, 1, 48000, 0, 0, 0)",
        params![
            source,
            url,
            path_bytes,
            title,
            ms,
            if probed { "mpegts" } else { "lavfi" },
            if probed { "h264" } else { "rawvideo" },
            if probed { "aac" } else { "pcm" },
        ],
    )
    .unwrap();
    Some(conn.last_insert_rowid())
}

/// A channel numbered `number` whose timeline is `items` back to back from `start_ms`, then
/// an offline slot lasting beyond the scheduler's horizon. Returns the channel id.
pub fn add_channel(conn: &Connection, number: &str, items: &[Item], start_ms: i64) -> i64 {
    let profile = small_profile(conn);
    conn.execute(
        "INSERT INTO channels (number, name, ffmpeg_profile_id, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, 0, 0)",
        params![number, format!("Test {number}"), profile],
    )
    .unwrap();
    let channel = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO playouts (channel_id, seed, created_at_ms, updated_at_ms) VALUES (?1, 1, 0, 0)",
        [channel],
    )
    .unwrap();
    let playout = conn.last_insert_rowid();
    let mut at = start_ms;
    for it in items {
        let media = add_media(conn, &it.media, &it.title, it.ms);
        conn.execute(
            "INSERT INTO playout_items (playout_id, media_item_id, title, start_ms, finish_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![playout, media, it.title, at, at + it.ms],
        )
        .unwrap();
        at += it.ms;
    }
    conn.execute(
        "INSERT INTO playout_items (playout_id, media_item_id, title, start_ms, finish_ms, filler_kind)
         VALUES (?1, NULL, 'Offline', ?2, ?3, 'offline')",
        params![playout, at, at + 5 * 86_400_000i64],
    )
    .unwrap();
    channel
}

/// Reads a stream for `how_long`, returning the bytes and when each read arrived.
pub fn read_for(
    body: &mut impl std::io::Read,
    how_long: Duration,
) -> (Vec<u8>, Vec<(std::time::Instant, usize)>) {
    let deadline = std::time::Instant::now() + how_long;
    let mut out = Vec::new();
    let mut arrivals = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while std::time::Instant::now() < deadline {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                arrivals.push((std::time::Instant::now(), out.len()));
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    (out, arrivals)
}

/// The FFmpeg processes the server started that are alive now (not the server itself,
/// which carries the same marker).
pub fn ffmpeg_pids(server: &TestServer) -> Vec<u32> {
    server
        .marked_processes()
        .into_iter()
        .filter(|pid| *pid != server.pid())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "ffmpeg")
        })
        .collect()
}

pub fn n_ffmpeg(server: &TestServer) -> usize {
    ffmpeg_pids(server).len()
}
