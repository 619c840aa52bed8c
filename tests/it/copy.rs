//! Copy first (issue 13): H.264 passes through whatever its size and rate, other audio is
//! encoded alone, everything else is transcoded; a mid-programme tune copies from the
//! keyframe before the offset and still ends at the guide's stop; the audio track follows
//! the channel's language. Media is generated here, probed with ffprobe the way the
//! scanner stores it, and streamed by the real server.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use crate::stream_fixture::{self as fx, read_for};
use crate::support::{media, tones, tscheck, TempDir};

/// A clip of `seconds` at `size`/`rate` with video `vcodec` and the given audio tracks
/// (codec, channels, tone Hz, language), one keyframe every `gop` frames.
pub(crate) struct Clip<'a> {
    pub(crate) size: &'a str,
    pub(crate) rate: u32,
    pub(crate) vcodec: &'a str,
    pub(crate) gop: u32,
    pub(crate) audio: &'a [(&'a str, u32, u32, &'a str)],
    pub(crate) seconds: f64,
}

pub(crate) fn make(path: &Path, c: &Clip<'_>) {
    let mut args: Vec<String> = vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!(
            "testsrc2=size={}:rate={}:duration={}",
            c.size, c.rate, c.seconds
        ),
    ];
    for (_, _, hz, _) in c.audio {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!(
            "sine=frequency={hz}:sample_rate=48000:duration={}",
            c.seconds
        ));
    }
    args.extend(["-map", "0:v"].map(String::from));
    for i in 0..c.audio.len() {
        args.extend(["-map".to_string(), format!("{}:a", i + 1)]);
    }
    args.extend(["-c:v", c.vcodec, "-g"].map(String::from));
    args.push(c.gop.to_string());
    if c.vcodec == "libx264" {
        args.extend(["-preset", "ultrafast", "-pix_fmt", "yuv420p"].map(String::from));
    }
    for (i, (codec, channels, _, lang)) in c.audio.iter().enumerate() {
        args.push(format!("-c:a:{i}"));
        args.push(codec.to_string());
        args.push(format!("-ac:a:{i}"));
        args.push(channels.to_string());
        args.push(format!("-metadata:s:a:{i}"));
        args.push(format!("language={lang}"));
        // The first track is the default one.
        args.push(format!("-disposition:a:{i}"));
        args.push(if i == 0 { "default" } else { "0" }.to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    media::ffmpeg(&refs, path);
}

/// Stores `path` as the scanner would: the summary columns and ffprobe's stream list.
pub(crate) fn add_probed(conn: &Connection, path: &Path, title: &str) -> i64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = json["streams"].as_array().unwrap();
    let of = |kind: &str| streams.iter().find(|s| s["codec_type"] == kind).cloned();
    let video = of("video").unwrap_or_default();
    let audio = of("audio").unwrap_or_default();
    let rate = video["avg_frame_rate"].as_str().and_then(|r| {
        let (n, d) = r.split_once('/')?;
        Some(n.parse::<f64>().ok()? / d.parse::<f64>().ok()?)
    });
    let duration_ms = (json["format"]["duration"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap()
        * 1000.0) as i64;
    use std::os::unix::ffi::OsStrExt;
    conn.execute(
        "INSERT INTO media_items (source, url, path_bytes, title, duration_ms, container,
             video_codec, width, height, frame_rate, field_order, audio_codec, audio_channels,
             audio_sample_rate, streams, added_at_ms, created_at_ms, updated_at_ms)
         VALUES ('local', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, 0, 0)",
        params![
            path.display().to_string(),
            path.as_os_str().as_bytes(),
            title,
            duration_ms,
            json["format"]["format_name"].as_str(),
            video["codec_name"].as_str(),
            video["width"].as_i64(),
            video["height"].as_i64(),
            rate,
            video["field_order"].as_str(),
            audio["codec_name"].as_str(),
            audio["channels"].as_i64(),
            audio["sample_rate"]
                .as_str()
                .and_then(|r| r.parse::<i64>().ok()),
            serde_json::to_string(streams).unwrap(),
        ],
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// A 320x240@25 stereo AAC profile with `copy_mode`.
pub(crate) fn profile(conn: &Connection, copy_mode: &str) -> i64 {
    conn.execute(
        "INSERT OR IGNORE INTO resolutions (name, width, height) VALUES ('copy 240', 320, 240)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO ffmpeg_profiles (name, resolution_id, video_bitrate, video_buffer_size,
             framerate, quality_preset, audio_bitrate, audio_channels, normalize_audio,
             copy_mode, created_at_ms, updated_at_ms)
         VALUES (?1, (SELECT id FROM resolutions WHERE name = 'copy 240'), '300k', '600k', 25,
             'ultrafast', '96k', 2, 0, ?2, 0, 0)",
        params![format!("copy {copy_mode}"), copy_mode],
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// A channel playing `items` (media id, ms, title) back to back from `start_ms`, then
/// Offline beyond the horizon.
pub(crate) fn channel(
    conn: &Connection,
    number: &str,
    profile: i64,
    items: &[(i64, i64, &str)],
    start_ms: i64,
) -> i64 {
    conn.execute(
        "INSERT INTO channels (number, name, ffmpeg_profile_id, created_at_ms, updated_at_ms)
         VALUES (?1, ?1, ?2, 0, 0)",
        params![number, profile],
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
    for (media, ms, title) in items {
        conn.execute(
            "INSERT INTO playout_items (playout_id, media_item_id, title, start_ms, finish_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![playout, media, title, at, at + ms],
        )
        .unwrap();
        at += ms;
    }
    conn.execute(
        "INSERT INTO playout_items (playout_id, media_item_id, title, start_ms, finish_ms, filler_kind)
         VALUES (?1, NULL, 'Offline', ?2, ?3, 'offline')",
        params![playout, at, at + 5 * 86_400_000i64],
    )
    .unwrap();
    channel
}

/// FFmpeg's complaints decoding `ts` whole (empty: it decodes silently).
pub(crate) fn decode_errors(ts: &[u8], dir: &Path) -> String {
    let cap = dir.join("decode.ts");
    std::fs::write(&cap, ts).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(&cap)
        // The null output's time base is the first programme's frame rate unless told
        // otherwise: a later 30 fps programme then rounds two frames onto one tick and
        // FFmpeg complains of its own output. 90 kHz holds every frame time as sent.
        .args(["-enc_time_base:v", "1/90000", "-f", "null", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The picture sizes of `ts`, in order of first appearance.
pub(crate) fn frame_sizes(ts: &[u8], dir: &Path) -> Vec<String> {
    let cap = dir.join("sizes.ts");
    std::fs::write(&cap, ts).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "quiet",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&cap)
        .output()
        .unwrap();
    let mut sizes: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim().trim_end_matches(',').to_string();
        if !line.is_empty() && sizes.last() != Some(&line) {
            sizes.push(line);
        }
    }
    sizes
}

/// Polls the dashboard while `work` runs: the (mode, reason) seen per programme title.
pub(crate) fn modes_during<T>(
    server: &crate::support::TestServer,
    work: impl FnOnce() -> T,
) -> (T, HashMap<String, (String, Option<String>)>) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = server.client();
    let flag = stop.clone();
    let poller = std::thread::spawn(move || {
        let mut seen = HashMap::new();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let streams = client.get("/api/dashboard/active-streams").json();
            for s in streams.as_array().into_iter().flatten() {
                if let (Some(title), Some(mode)) = (s["current_item"].as_str(), s["mode"].as_str())
                {
                    let reason = s["mode_reason"].as_str().map(String::from);
                    seen.insert(title.to_string(), (mode.to_string(), reason));
                }
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        seen
    });
    let out = work();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (out, poller.join().unwrap())
}

#[test]
fn mixed_sources_copy_h264_encode_other_audio_alone_and_transcode_the_rest() {
    let dir = TempDir::new("copy-mixed");
    let a = dir.path().join("a.mp4");
    let b = dir.path().join("b.mkv");
    let c = dir.path().join("c.mkv");
    let aac = [("aac", 2, 500, "eng")];
    let ac3 = [("ac3", 2, 700, "eng")];
    let mp3 = [("libmp3lame", 2, 900, "eng")];
    make(
        &a,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "libx264",
            gop: 25,
            audio: &aac,
            seconds: 4.0,
        },
    );
    make(
        &b,
        &Clip {
            size: "480x270",
            rate: 30,
            vcodec: "libx264",
            gop: 30,
            audio: &ac3,
            seconds: 4.0,
        },
    );
    make(
        &c,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "mpeg2video",
            gop: 25,
            audio: &mp3,
            seconds: 4.0,
        },
    );
    let server = fx::server_with(&[], |conn| {
        let p = profile(conn, "passthrough");
        let (a, b, c) = (
            add_probed(conn, &a, "A"),
            add_probed(conn, &b, "B"),
            add_probed(conn, &c, "C"),
        );
        let start = fx::now_ms() - 200;
        let items = [
            (a, 4000, "A1"),
            (b, 4000, "B1"),
            (c, 4000, "C1"),
            (a, 4000, "A2"),
            (b, 4000, "B2"),
        ];
        channel(conn, "950", p, &items, start);
    });
    let (ts, modes) = modes_during(&server, || {
        let mut s = server.anon().stream("/iptv/channel/950.ts").unwrap();
        let (ts, _) = read_for(&mut s.body, Duration::from_secs(15));
        s.body.close();
        ts
    });
    let report = tscheck::check(&ts);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let video = report.pid(0x100).expect("video");
    let last_frame_at = video.pes.last().unwrap().1;
    let errors = decode_errors(&ts[..last_frame_at], dir.path());
    assert!(errors.trim().is_empty(), "ffmpeg reported: {errors}");
    let mode = |t: &str| modes.get(t).map(|(m, _)| m.as_str());
    assert_eq!(mode("A1"), Some("copy"), "{modes:?}");
    assert_eq!(mode("B1"), Some("audio"), "{modes:?}");
    assert_eq!(mode("C1"), Some("transcode"), "{modes:?}");
    assert_eq!(
        modes["C1"].1.as_deref(),
        Some("the source video is not H.264")
    );
    assert_eq!(mode("A2"), Some("copy"), "{modes:?}");
    // The picture changes size at the boundaries: copied 320x180 and 480x270, the
    // MPEG-2 transcoded to the profile's 320x240.
    let sizes = frame_sizes(&ts[..last_frame_at], dir.path());
    let want: Vec<String> = ["320,180", "480,270", "320,240", "320,180"]
        .map(String::from)
        .to_vec();
    assert!(sizes.starts_with(&want), "{sizes:?}");
    let metrics = server.anon().get("/metrics").text();
    assert!(
        metrics.contains("exstreamtv_channel_stream_mode{channel=\"950\",mode=\"copy\"}")
            || metrics.contains("exstreamtv_copy_fallbacks_total 0"),
        "{metrics}"
    );
}

#[test]
fn a_mid_programme_tune_copies_from_the_keyframe_and_ends_at_the_guide_stop() {
    let dir = TempDir::new("copy-seek");
    let a = dir.path().join("a.mp4");
    let b = dir.path().join("b.mp4");
    // A keyframe every 2 s: tuned 3.3 s in, the copy starts at 2.0 s.
    make(
        &a,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "libx264",
            gop: 50,
            audio: &[("aac", 2, 500, "eng")],
            seconds: 8.0,
        },
    );
    make(
        &b,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "libx264",
            gop: 50,
            audio: &[("aac", 2, 900, "eng")],
            seconds: 6.0,
        },
    );
    let start = fx::now_ms() - 3300;
    let server = fx::server_with(&[], |conn| {
        let p = profile(conn, "passthrough");
        let (a, b) = (add_probed(conn, &a, "A"), add_probed(conn, &b, "B"));
        channel(conn, "951", p, &[(a, 8000, "A"), (b, 6000, "B")], start);
    });
    // `start` was set before two server starts: the tune is further in than 3.3 s.
    let tuned_ms = fx::now_ms();
    let t0 = Instant::now();
    let ((ts, arrivals), modes) = modes_during(&server, || {
        let mut s = server.anon().stream("/iptv/channel/951.ts").unwrap();
        let got = read_for(&mut s.body, Duration::from_secs(8));
        s.body.close();
        got
    });
    assert_eq!(
        modes.get("A").map(|m| m.0.as_str()),
        Some("copy"),
        "{modes:?}"
    );
    assert_eq!(tscheck::check(&ts).total_errors(), 0);
    let windows = tones::windows(&ts, &arrivals, &[500, 900], dir.path());
    let heard_a_ms = windows.iter().filter(|w| w.hz == 500).count() as i64 * 50;
    // The guide gives A until start + 8 s: from the tune that is `left` of stream, whatever
    // the keyframe (a copy that ran from the keyframe to the offset's end would be up to
    // one GOP, 2 s, longer).
    let left = start + 8000 - tuned_ms;
    assert!(
        (heard_a_ms - left).abs() <= 600,
        "A played {heard_a_ms} ms, the guide left it {left} ms"
    );
    // And B arrives at its guide start (the stream runs at most ~1 s ahead of the clock).
    let b_at = tones::first_steady(&windows, 900, 4)
        .expect("B plays")
        .arrival;
    let b_wall = tuned_ms + b_at.duration_since(t0).as_millis() as i64;
    let due = start + 8000;
    assert!(
        (-1500..=1000).contains(&(b_wall - due)),
        "B arrived {} ms from its guide start",
        b_wall - due
    );
}

#[test]
fn the_preferred_language_plays_in_copy_and_in_transcode_mode() {
    let dir = TempDir::new("copy-lang");
    let f = dir.path().join("two.mkv");
    // English first and default; German second.
    let tracks = [("aac", 2, 400, "eng"), ("aac", 2, 800, "deu")];
    make(
        &f,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "libx264",
            gop: 25,
            audio: &tracks,
            seconds: 30.0,
        },
    );
    let server = fx::server_with(&["--tuners", "4"], |conn| {
        let copy = profile(conn, "passthrough");
        let never = profile(conn, "never");
        let m = add_probed(conn, &f, "Two");
        let start = fx::now_ms() - 200;
        let c1 = channel(conn, "952", copy, &[(m, 30_000, "Two")], start);
        let c2 = channel(conn, "953", never, &[(m, 30_000, "Two")], start);
        let c3 = channel(conn, "954", copy, &[(m, 30_000, "Two")], start);
        conn.execute(
            "UPDATE channels SET preferred_audio_language_code = 'de' WHERE id = ?1",
            [c1],
        )
        .unwrap();
        conn.execute(
            "UPDATE channels SET preferred_audio_language_code = 'ger' WHERE id = ?1",
            [c2],
        )
        .unwrap();
        let _ = c3; // no preference: the default (English) track
    });
    for (number, want_hz, want_mode) in [
        ("952", 800, "copy"),
        ("953", 800, "transcode"),
        ("954", 400, "copy"),
    ] {
        let (got, modes) = modes_during(&server, || {
            let mut s = server
                .anon()
                .stream(&format!("/iptv/channel/{number}.ts"))
                .unwrap();
            let got = read_for(&mut s.body, Duration::from_secs(3));
            s.body.close();
            got
        });
        let (ts, arrivals) = got;
        assert!(
            ts.len() > 10_000,
            "channel {number}: {} bytes\n{}",
            ts.len(),
            server.log_text()
        );
        let windows = tones::windows(&ts, &arrivals, &[400, 800], dir.path());
        let n = |hz| windows.iter().filter(|w| w.hz == hz).count();
        assert!(
            n(want_hz) > 20 && n(1200 - want_hz) == 0,
            "channel {number}: {} of {want_hz} Hz, {} of the other",
            n(want_hz),
            n(1200 - want_hz)
        );
        assert_eq!(
            modes.get("Two").map(|m| m.0.as_str()),
            Some(want_mode),
            "channel {number}"
        );
        // The channel stops after its grace; the next one gets a tuner meanwhile anyway.
    }
}
