//! The streaming engine: real FFmpeg, generated clips, the splicer on real output, and the
//! channel streams through the real server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use exstreamtv::scheduler::cursor::{Input, MediaInfo, OutputProfile};
use exstreamtv::stream::ffmpeg::{self, Hardware, Job, Source};
use exstreamtv::stream::splicer::{Sink, Splicer};

use crate::support::{media, tscheck, TempDir};

/// 320x240 at 25 fps, H.264/AAC: what the test clips are, so `copy` applies to them.
pub fn small_profile() -> OutputProfile {
    OutputProfile {
        width: 320,
        height: 240,
        framerate: 25,
        video_bitrate: "300k".into(),
        video_buffer_size: "600k".into(),
        quality_preset: "ultrafast".into(),
        audio_bitrate: "64k".into(),
        ..OutputProfile::default()
    }
}

pub fn clip_info(seconds: f64) -> MediaInfo {
    MediaInfo {
        duration_ms: Some((seconds * 1000.0) as i64),
        container: Some("mpegts".into()),
        video_codec: Some("h264".into()),
        width: Some(320),
        height: Some(240),
        frame_rate: Some(25.0),
        audio_codec: Some("aac".into()),
        audio_channels: Some(1),
        audio_sample_rate: Some(48000),
        ..MediaInfo::default()
    }
}

fn software() -> Hardware {
    Hardware::from_board(
        &exstreamtv::board::Board::by_name("generic").unwrap(),
        &Default::default(),
    )
}

/// Runs our FFmpeg command for one item and returns its stdout.
fn run_item(
    profile: &OutputProfile,
    path: &Path,
    info: &MediaInfo,
    seek_ms: i64,
    ms: i64,
) -> Vec<u8> {
    let input = Input::File(path.to_path_buf());
    let job = Job {
        source: Source::Media {
            input: &input,
            media: info,
            title: "clip",
        },
        seek_ms,
        duration_ms: Some(ms),
        watermark: None,
    };
    let out = Command::new("ffmpeg")
        .args(ffmpeg::command(&software(), profile, &job))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct VecSink(Vec<u8>);
impl Sink for VecSink {
    fn packet(&mut self, p: &[u8]) {
        self.0.extend_from_slice(p);
    }
    fn keyframe(&mut self) {}
}

/// Decodes a TS with `ffmpeg -v error`; returns what it complained about.
pub fn decode_errors(ts: &[u8], dir: &Path) -> String {
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-f",
            "mpegts",
            "-i",
            "pipe:0",
            "-f",
            "null",
            "-",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg");
    let mut stdin = child.stdin.take().unwrap();
    let data = ts.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn make_clips(dir: &Path, n: usize, seconds: f64) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let path = dir.join(format!("clip{i}.mp4"));
            media::clip(&path, seconds, 300 + 100 * i as u32);
            path
        })
        .collect()
}

#[test]
fn splicing_real_ffmpeg_output_has_no_errors_copy_and_transcode() {
    let dir = TempDir::new("splice");
    let clips = make_clips(dir.path(), 3, 3.0);
    for (mode, profile) in [
        ("copy", small_profile()),
        (
            "transcode",
            OutputProfile {
                width: 256,
                height: 144,
                ..small_profile()
            },
        ),
    ] {
        let mut splicer = Splicer::new();
        let mut sink = VecSink(Vec::new());
        // 21 items: 20 boundaries, including trimmed and seeked items.
        for i in 0..21 {
            let clip = &clips[i % clips.len()];
            // Seeking makes the item a transcode (see `ffmpeg::command`): this mixes
            // copied and transcoded items in the copy profile.
            let (seek, ms) = if i % 4 == 3 { (1000, 1500) } else { (0, 3000) };
            let mut ts = run_item(&profile, clip, &clip_info(3.0), seek, ms);
            splicer.begin_item();
            splicer.push(&mut ts, &mut sink);
        }
        splicer.flush(&mut sink);
        let report = tscheck::check(&sink.0);
        assert_eq!(report.total_errors(), 0, "{mode}: {:?}", report.errors);
        assert!(
            report.starts_with_keyframe || report.first_pids == [0, 0x1000],
            "{mode}"
        );
        let errors = decode_errors(&sink.0, dir.path());
        assert!(
            errors.trim().is_empty(),
            "{mode}: ffmpeg reported: {errors}"
        );
        // 16 full items of 3 s + 5 of 1.5 s; each splice may add up to an audio frame or
        // two (the longer stream sets the shift), never a gap.
        let video = report.pid(0x100).unwrap();
        let span = (video.last_dts - video.first_dts) as f64 / 90_000.0;
        assert!(
            (55.3..55.5 + 21.0 * 0.05).contains(&span),
            "{mode}: span {span}"
        );
    }
}

use std::time::{Duration, Instant};

use crate::stream_fixture::{self as fx, item, Media};
use crate::support::wait_until;

/// The parts of a stream response every TS route must have.
fn assert_stream_headers(s: &crate::support::http::Stream) {
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("video/mp2t"));
    assert_eq!(
        s.header("cache-control"),
        Some("no-cache, no-store, must-revalidate, private")
    );
    assert_eq!(s.header("access-control-allow-origin"), Some("*"));
    assert_eq!(s.header("x-accel-buffering"), Some("no"));
    assert_eq!(s.header("content-length"), None);
}

#[test]
fn a_channel_streams_seamlessly_across_twenty_boundaries() {
    let media = TempDir::new("bounds");
    let clips = fx::clips(media.path(), 3, 1.0);
    let start = fx::now_ms() - 300;
    let items: Vec<_> = (0..40)
        .map(|i| item(&clips[i % 3], 1000, &format!("clip {i}")))
        .collect();
    let server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, "900", &items, start);
    });
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    assert_stream_headers(&s);
    let (ts, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(23));
    s.body.close();
    if let Ok(p) = std::env::var("STREAM_TEST_DUMP") {
        std::fs::write(p, &ts).unwrap();
        eprintln!("{}", server.log_text());
    }
    let report = tscheck::check(&ts);
    assert_eq!(report.first_pids, vec![0, 0x1000], "starts with PAT, PMT");
    assert!(
        report.starts_with_keyframe,
        "the first video packet is a keyframe"
    );
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let video = report.pid(0x100).expect("video");
    let span_s = (video.last_dts - video.first_dts) as f64 / 90_000.0;
    // 1 s items: more than 20 s of video is more than 20 boundaries.
    assert!(span_s > 21.0, "only {span_s} s of video");
    // Paced: 23 s of wall clock carry at most ~23 s + the 1 s lead (+ a GOP of fast tune).
    assert!(
        span_s < 23.0 + 2.5,
        "{span_s} s of video in 23 s: not paced"
    );
    let first_at = arrivals.first().unwrap().0;
    let burst = arrivals
        .iter()
        .take_while(|(t, _)| t.duration_since(first_at) < Duration::from_millis(200))
        .last()
        .unwrap()
        .1;
    assert!(burst > 0);
    // The capture ends mid-frame; decode up to the last complete one.
    let last_frame_at = video.pes.last().unwrap().1;
    let errors = decode_errors(&ts[..last_frame_at], media.path());
    assert!(errors.trim().is_empty(), "ffmpeg reported: {errors}");
}

/// A long generated programme (a transcode of FFmpeg's own test card), from a second ago.
fn long_generated() -> Vec<fx::Item> {
    vec![item(&Media::Generated(2), 600_000, "Long")]
}

fn read_some(s: &mut crate::support::http::Stream, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut out = vec![0u8; n];
    s.body.read_exact(&mut out).expect("stream bytes");
    out
}

#[test]
fn viewers_share_one_ffmpeg_and_the_tuner_limit_holds() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&["--tuners", "1"], |conn| {
        fx::set_setting(
            conn,
            "channels",
            r#"{"max_viewers_per_channel":2,"idle_grace_seconds":30}"#,
        );
        fx::add_channel(conn, "900", &long_generated(), start);
        fx::add_channel(conn, "901", &long_generated(), start);
        let off = fx::add_channel(conn, "902", &long_generated(), start);
        conn.execute("UPDATE channels SET enabled = 0 WHERE id = ?1", [off])
            .unwrap();
    });
    let c = server.anon();
    // The encoder probe runs at start; let it finish.
    assert!(wait_until(Duration::from_secs(10), || server
        .log_text()
        .contains("stream encoder ready")));
    assert!(wait_until(Duration::from_secs(10), || fx::n_ffmpeg(
        &server
    ) == 0));
    // HEAD answers with the stream headers and starts nothing.
    let head = c.head("/iptv/channel/900.ts");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("video/mp2t"));
    assert_eq!(head.header("content-length"), None);
    assert_eq!(fx::n_ffmpeg(&server), 0, "HEAD started FFmpeg");
    // Bad and unknown numbers.
    assert_eq!(c.get("/iptv/channel/9x.ts").status, 400);
    let unknown = c.get("/iptv/channel/999.ts");
    assert_eq!(unknown.status, 404);
    unknown.detail();
    assert_eq!(
        c.get("/hdhomerun/auto/v902").status,
        404,
        "disabled channel"
    );
    // Two viewers, two routes, one FFmpeg.
    let mut a = c.stream("/iptv/channel/900.ts").unwrap();
    assert_stream_headers(&a);
    let mut b = c.stream("/hdhomerun/auto/v900").unwrap();
    assert_stream_headers(&b);
    let first_a = read_some(&mut a, 188 * 50);
    let first_b = read_some(&mut b, 188 * 50);
    for first in [&first_a, &first_b] {
        let report = tscheck::check(first);
        assert_eq!(report.first_pids, vec![0, 0x1000]);
    }
    assert!(wait_until(Duration::from_secs(3), || fx::n_ffmpeg(&server) == 1));
    // The channel's limit of 2 viewers.
    let third = c.get("/iptv/channel/900.ts");
    assert_eq!(third.status, 503);
    third.detail();
    // The only tuner is busy: another channel gets 805, at once.
    let t = Instant::now();
    let busy = c.get("/iptv/channel/901.ts");
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(busy.status, 503);
    assert_eq!(
        busy.header("x-hdhomerun-error"),
        Some("805 All Tuners In Use")
    );
    assert_eq!(busy.header("retry-after"), Some("5"));
    assert_eq!(busy.detail(), "All tuners in use");
    assert_eq!(c.head("/hdhomerun/auto/v901").status, 503);
    assert_eq!(
        c.get("/hdhomerun/tuner0/stream?channel=auto:v901").status,
        503
    );
    assert_eq!(
        c.get("/hdhomerun/tuner1/stream?channel=auto:v900").status,
        404
    );
    // The channel status is visible to health.
    let health = server.anon().get("/api/health/channels").json();
    assert_eq!(health["total_channels"], 1, "{health}");
    let ch = health["channels"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(ch["viewers"], 2, "{health}");
    assert_eq!(ch["number"], "900");
    let streaming = server.anon().get("/api/health/streaming").json();
    assert_eq!(streaming["watchdog"]["active_processes"], 1, "{streaming}");
    let metrics = server.anon().get("/metrics").text();
    assert!(
        metrics.contains("exstreamtv_viewers{channel=\"900\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("exstreamtv_tuners_in_use 1"), "{metrics}");
    assert!(
        metrics.contains("exstreamtv_circuit_breaker_state{channel=\"900\"} 0"),
        "{metrics}"
    );
    a.body.close();
    b.body.close();
}

#[test]
fn an_idle_channel_stops_after_the_grace_and_a_quick_retune_is_instant() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&[], |conn| {
        fx::set_setting(
            conn,
            "channels",
            r#"{"max_viewers_per_channel":50,"idle_grace_seconds":2}"#,
        );
        fx::add_channel(conn, "900", &long_generated(), start);
    });
    let c = server.anon();
    let mut a = c.stream("/iptv/channel/900.ts").unwrap();
    read_some(&mut a, 188 * 100);
    let pids = fx::ffmpeg_pids(&server);
    assert_eq!(pids.len(), 1);
    a.body.close();
    // Re-tune within the grace: the same FFmpeg, bytes at once.
    let t = Instant::now();
    let mut b = c.stream("/iptv/channel/900.ts").unwrap();
    let first = read_some(&mut b, 188 * 7);
    let warm = t.elapsed();
    assert!(warm < Duration::from_millis(200), "warm tune took {warm:?}");
    assert_eq!(fx::ffmpeg_pids(&server), pids);
    let report = tscheck::check(&first);
    assert_eq!(
        report.first_pids,
        vec![0, 0x1000],
        "a re-tune starts at PAT, PMT"
    );
    b.body.close();
    let left = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || fx::n_ffmpeg(&server) == 0),
        "the idle channel did not stop"
    );
    let stopped_after = left.elapsed();
    assert!(
        stopped_after >= Duration::from_millis(1800),
        "stopped after {stopped_after:?}, before the grace"
    );
    assert_eq!(
        server.anon().get("/api/health/channels").json()["total_channels"],
        0
    );
}

#[test]
fn a_killed_ffmpeg_is_restarted_and_bytes_resume_within_two_seconds() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, "900", &long_generated(), start);
    });
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let (before, _) = fx::read_for(&mut s.body, Duration::from_secs(3));
    let pids = fx::ffmpeg_pids(&server);
    assert_eq!(pids.len(), 1);
    let killed_at = Instant::now();
    std::process::Command::new("kill")
        .args(["-9", &pids[0].to_string()])
        .status()
        .unwrap();
    let (after, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(6));
    s.body.close();
    // The longest silence after the kill.
    let mut last = killed_at;
    let mut longest = Duration::ZERO;
    for (t, _) in &arrivals {
        longest = longest.max(t.duration_since(last));
        last = *t;
    }
    longest = longest.max(Instant::now().duration_since(last));
    assert!(
        longest < Duration::from_secs(2),
        "no bytes for {longest:?} after the kill"
    );
    let restarted = fx::ffmpeg_pids(&server);
    assert_eq!(restarted.len(), 1);
    assert_ne!(restarted, pids);
    // The stream stayed one continuous TS through the restart.
    let mut all = before;
    all.extend_from_slice(&after);
    let report = tscheck::check(&all);
    assert_eq!(
        report.cc_errors + report.pts_errors + report.pcr_errors,
        0,
        "{:?}",
        report.errors
    );
    let health = server.anon().get("/api/health/channels").json();
    let ch = health["channels"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert!(ch["restart_count"].as_u64().unwrap() >= 1, "{health}");
}

#[test]
fn a_broken_file_in_the_playout_is_skipped_without_dropping_the_viewer() {
    let media = TempDir::new("broken");
    let clips = fx::clips(media.path(), 2, 1.0);
    let broken = media.path().join("broken.ts");
    std::fs::write(&broken, b"this is not a video file at all").unwrap();
    let start = fx::now_ms() - 200;
    let mut items: Vec<_> = (0..2)
        .map(|i| item(&clips[0], 1000, &format!("a{i}")))
        .collect();
    items.push(item(&Media::Broken(broken), 3000, "broken"));
    items.extend((0..6).map(|i| item(&clips[1], 1000, &format!("b{i}"))));
    let server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, "900", &items, start);
    });
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let (ts, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(9));
    s.body.close();
    if let Ok(p) = std::env::var("STREAM_TEST_DUMP") {
        std::fs::write(p, &ts).unwrap();
    }
    let mut longest = Duration::ZERO;
    for w in arrivals.windows(2) {
        longest = longest.max(w[1].0.duration_since(w[0].0));
    }
    let t0 = arrivals[0].0;
    let timeline: Vec<_> = arrivals
        .iter()
        .map(|(t, n)| (t.duration_since(t0).as_millis(), *n))
        .collect();
    assert!(
        longest < Duration::from_secs(2),
        "the viewer waited {longest:?}: {timeline:?}\n{}",
        server.log_text()
    );
    let report = tscheck::check(&ts);
    assert_eq!(
        report.cc_errors + report.pts_errors,
        0,
        "{:?}",
        report.errors
    );
    let video = report.pid(0x100).unwrap();
    let span_s = (video.last_dts - video.first_dts) as f64 / 90_000.0;
    assert!(span_s > 7.0, "only {span_s} s of video in 9 s");
    assert!(
        server.log_text().contains("item unplayable; skipping it"),
        "{}",
        server.log_text()
    );
}

#[test]
fn fifty_viewers_and_a_slow_one_does_not_slow_the_others() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, "900", &long_generated(), start);
    });
    let addr = server.addr;
    // One viewer that never reads.
    let stalled = crate::support::Client::new(addr)
        .stream("/iptv/channel/900.ts")
        .unwrap();
    let readers: Vec<_> = (0..49)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = crate::support::Client::new(addr)
                    .stream("/iptv/channel/900.ts")
                    .unwrap();
                assert_eq!(s.status, 200);
                s.body.set_timeout(Duration::from_secs(5));
                let (ts, _) = fx::read_for(&mut s.body, Duration::from_secs(6));
                s.body.close();
                ts
            })
        })
        .collect();
    let results: Vec<Vec<u8>> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    let spans: Vec<f64> = results
        .iter()
        .map(|ts| {
            let r = tscheck::check(ts);
            assert_eq!(r.first_pids, vec![0, 0x1000]);
            assert_eq!(r.cc_errors, 0, "{:?}", r.errors);
            let v = r.pid(0x100).unwrap();
            (v.last_dts - v.first_dts) as f64 / 90_000.0
        })
        .collect();
    let min = spans.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        min > 4.0,
        "a viewer got only {min} s of video in 6 s: {spans:?}"
    );
    assert_eq!(fx::n_ffmpeg(&server), 1);
    stalled.body.close();
}

#[test]
fn hls_is_read_by_ffmpeg() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, "900", &long_generated(), start);
    });
    let started_ms = fx::now_ms() as u64;
    let playlist = server.anon().get("/iptv/channel/900.m3u8");
    assert_eq!(playlist.status, 200, "{}", playlist.text());
    assert_eq!(
        playlist.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let text = playlist.text();
    assert!(
        text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:"),
        "{text}"
    );
    // Numbered from the wall clock at the channel's start: a restart reuses no URL.
    let first: u64 = text
        .lines()
        .find_map(|l| {
            l.split("900/seg/")
                .nth(1)?
                .split(".ts")
                .next()?
                .parse()
                .ok()
        })
        .expect("a segment listed");
    assert!(first >= started_ms, "{text}");
    assert!(!text.contains("ENDLIST"));
    let seg = server
        .anon()
        .get(&format!("/iptv/channel/900/seg/{first}.ts"));
    assert_eq!(seg.status, 200);
    let report = tscheck::check(&seg.body);
    assert_eq!(report.first_pids, vec![0, 0x1000]);
    assert!(report.starts_with_keyframe);
    assert_eq!(
        server.anon().get("/iptv/channel/900/seg/999.ts").status, // long gone
        404
    );
    let url = format!("http://{}/iptv/channel/900.m3u8", server.addr);
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-v",
            "error",
            "-i",
            &url,
            "-t",
            "6",
            "-f",
            "null",
            "-",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(errors.trim().is_empty(), "ffmpeg reported: {errors}");
}

#[test]
fn a_media_item_streams_from_an_offset_through_the_pool() {
    let media = TempDir::new("item");
    let clips = fx::clips(media.path(), 1, 3.0);
    let Media::Clip(path) = &clips[0] else {
        unreachable!()
    };
    let server = fx::server_with(&["--tuners", "1"], |conn| {
        fx::add_channel(
            conn,
            "900",
            &[item(&clips[0], 3000, "c")],
            fx::now_ms() + 3_600_000,
        );
    });
    let conn = rusqlite::Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    let id: i64 = conn
        .query_row(
            "SELECT id FROM media_items WHERE url = ?1",
            [path.display().to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let c = server.anon();
    assert_eq!(c.head(&format!("/iptv/stream/{id}")).status, 200);
    assert_eq!(c.get("/iptv/stream/999999").status, 404);
    assert_eq!(c.get(&format!("/iptv/stream/{id}?start=-1")).status, 400);
    let r = c.get(&format!("/iptv/stream/{id}?start=1"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("video/mp2t"));
    let report = tscheck::check(&r.body);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let v = report.pid(0x100).unwrap();
    let span = (v.last_dts - v.first_dts) as f64 / 90_000.0;
    assert!((1.5..2.5).contains(&span), "span {span}");
    assert!(wait_until(Duration::from_secs(3), || fx::n_ffmpeg(&server) == 0));
}

#[test]
fn shutdown_with_viewers_reaps_every_ffmpeg_within_the_budget() {
    let start = fx::now_ms() - 1000;
    let mut server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, "900", &long_generated(), start);
        fx::add_channel(conn, "901", &long_generated(), start);
    });
    let mut a = server.anon().stream("/iptv/channel/900.ts").unwrap();
    let mut b = server.anon().stream("/iptv/channel/901.ts").unwrap();
    read_some(&mut a, 188 * 10);
    read_some(&mut b, 188 * 10);
    assert_eq!(fx::n_ffmpeg(&server), 2);
    let marker = server.marker.clone();
    let t = Instant::now();
    let status = server.stop(Duration::from_secs(6)).expect("exited");
    assert!(status.success());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    assert!(crate::support::server::marked_processes(&marker).is_empty());
}

#[test]
fn repeated_failures_open_the_breaker_and_viewers_get_the_slate() {
    let media = TempDir::new("breaker");
    let broken: Vec<_> = (0..6)
        .map(|i| {
            let path = media.path().join(format!("broken{i}.ts"));
            std::fs::write(&path, b"garbage, not media").unwrap();
            item(&Media::Broken(path), 1500, &format!("broken {i}"))
        })
        .collect();
    let start = fx::now_ms();
    let server = fx::server_with(&[], |conn| {
        fx::set_setting(
            conn,
            "breaker",
            r#"{"failure_threshold":3,"window_seconds":300,"cooldown_seconds":4}"#,
        );
        fx::add_channel(conn, "900", &broken, start);
    });
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let mut saw_open = false;
    let reader = std::thread::spawn(move || {
        let got = fx::read_for(&mut s.body, Duration::from_secs(6));
        s.body.close();
        got
    });
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline && !saw_open {
        let health = server.anon().get("/api/health/channels").json();
        if let Some(ch) = health["channels"]
            .as_object()
            .and_then(|m| m.values().next())
        {
            if ch["breaker"] == "open" && ch["on_slate"] == true {
                saw_open = true;
                assert_eq!(ch["current_title"], "Technical difficulties", "{health}");
                assert!(ch["error_count_5min"].as_u64().unwrap() >= 3, "{health}");
                assert!(
                    !ch["last_stderr"].as_array().unwrap().is_empty(),
                    "{health}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(saw_open, "the breaker never opened:\n{}", server.log_text());
    let (ts, arrivals) = reader.join().unwrap();
    // The viewer was never dropped and kept getting the slate.
    let t0 = arrivals[0].0;
    let timeline: Vec<_> = arrivals
        .iter()
        .map(|(t, n)| (t.duration_since(t0).as_millis(), *n))
        .collect();
    assert!(
        arrivals.last().unwrap().0.duration_since(t0) > Duration::from_secs(4),
        "{timeline:?}\n{}",
        server.log_text()
    );
    let report = tscheck::check(&ts);
    assert_eq!(report.cc_errors, 0, "{:?}", report.errors);
}

#[test]
fn without_ffmpeg_tunes_get_503_with_a_detail() {
    let server = fx::server_with(&[], |conn| {
        fx::set_setting(conn, "ffmpeg", r#"{"ffmpeg_path":"/nonexistent/ffmpeg"}"#);
        fx::add_channel(conn, "900", &long_generated(), fx::now_ms());
    });
    let r = server.anon().get("/iptv/channel/900.ts");
    assert_eq!(r.status, 503);
    assert!(
        r.detail().contains("ffmpeg is not installed"),
        "{}",
        r.detail()
    );
    assert_eq!(server.anon().head("/hdhomerun/auto/v900").status, 503);
    let health = server.anon().get("/api/health/streaming").json();
    assert_eq!(health["status"], "error", "{health}");
}

#[test]
fn a_hardware_encoder_that_fails_its_probe_falls_back_to_libx264() {
    // This machine has no VAAPI device: the one-frame probe fails and streams use libx264.
    let server = fx::server_with(&[], |conn| {
        fx::set_setting(
            conn,
            "ffmpeg",
            r#"{"hwaccel":"vaapi","hwaccel_device":"/dev/dri/renderD199"}"#,
        );
        fx::add_channel(conn, "900", &long_generated(), fx::now_ms() - 1000);
    });
    assert!(
        wait_until(Duration::from_secs(15), || server.log_text().contains(
            "hardware encoder failed its one-frame probe; using libx264"
        )),
        "{}",
        server.log_text()
    );
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    assert_eq!(s.status, 200);
    let report = tscheck::check(&read_some(&mut s, 188 * 200));
    assert_eq!(report.first_pids, vec![0, 0x1000]);
    assert!(report.starts_with_keyframe);
    s.body.close();
}

/// A running channel's entry in `/api/health/channels`, by number.
fn channel_health(server: &crate::support::TestServer, number: &str) -> serde_json::Value {
    let health = server.anon().get("/api/health/channels").json();
    health["channels"]
        .as_object()
        .and_then(|m| m.values().find(|c| c["number"] == number).cloned())
        .unwrap_or(serde_json::Value::Null)
}

fn kill9(pid: u64) {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}

#[test]
fn restarts_beyond_two_a_minute_or_within_a_channels_cooldown_are_deferred_to_the_slate() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&["--tuners", "3"], |conn| {
        for n in ["900", "901", "902"] {
            fx::add_channel(conn, n, &long_generated(), start);
        }
    });
    let mut viewers: Vec<_> = ["900", "901", "902"]
        .iter()
        .map(|n| {
            let mut s = server
                .anon()
                .stream(&format!("/iptv/channel/{n}.ts"))
                .unwrap();
            s.body.set_timeout(Duration::from_secs(5));
            read_some(&mut s, 188 * 20);
            s
        })
        .collect();
    let pid_of = |n: &str| channel_health(&server, n)["ffmpeg_pid"].as_u64();
    // Two channels' FFmpeg die: both come back at once (2 restarts in the minute).
    for n in ["900", "901"] {
        let pid = pid_of(n).expect("running");
        kill9(pid);
        assert!(
            wait_until(Duration::from_secs(5), || {
                let ch = channel_health(&server, n);
                ch["restart_count"] == 1
                    && ch["on_slate"] == false
                    && ch["ffmpeg_pid"].as_u64().is_some_and(|p| p != pid)
            }),
            "{n} was not restarted: {}",
            server.log_text()
        );
    }
    let metrics = server.anon().get("/metrics").text();
    assert!(
        metrics.contains("exstreamtv_restarts_deferred_total 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("exstreamtv_restart_rate_per_minute 2\n"),
        "{metrics}"
    );
    // A third in the same minute is deferred: its viewer gets the slate, not a restart.
    kill9(pid_of("902").unwrap());
    assert!(
        wait_until(Duration::from_secs(5), || {
            let ch = channel_health(&server, "902");
            ch["on_slate"] == true && ch["current_title"] == "Technical difficulties"
        }),
        "{}",
        server.log_text()
    );
    assert_eq!(channel_health(&server, "902")["restart_count"], 0);
    let (ts, _) = fx::read_for(&mut viewers[2].body, Duration::from_secs(2));
    assert!(
        ts.len() > 188 * 10,
        "the viewer of 902 got {} bytes",
        ts.len()
    );
    // 900 again, within its own cooldown: after its backoff, deferred too.
    kill9(pid_of("900").unwrap());
    assert!(
        wait_until(Duration::from_secs(5), || server
            .anon()
            .get("/metrics")
            .text()
            .contains("exstreamtv_restarts_deferred_total 2\n")),
        "{}",
        server.log_text()
    );
    assert_eq!(channel_health(&server, "900")["on_slate"], true);
    let metrics = server.anon().get("/metrics").text();
    assert!(
        metrics.contains("exstreamtv_restarts_total 2\n"),
        "{metrics}"
    );
    let watchdog = server.anon().get("/api/health/streaming").json()["watchdog"].clone();
    assert_eq!(watchdog["restarts_deferred"], 2, "{watchdog}");
    assert_eq!(watchdog["total_restarts"], 2, "{watchdog}");
    assert_eq!(watchdog["restart_rate_per_minute"], 2, "{watchdog}");
    assert!(server
        .log_text()
        .contains("restart deferred (too many restarts across all channels)"));
    assert!(server
        .log_text()
        .contains("restart deferred (this channel was restarted less than a minute ago)"));
    for v in viewers {
        v.body.close();
    }
}

#[test]
fn a_raw_media_item_is_the_file_itself_with_ranges_or_a_redirect() {
    let media = TempDir::new("raw");
    let clips = fx::clips(media.path(), 1, 3.0);
    let Media::Clip(path) = &clips[0] else {
        unreachable!()
    };
    let file = std::fs::read(path).unwrap();
    let len = file.len();
    assert!(
        len > 64 * 1024,
        "the clip should span several read chunks: {len}"
    );
    let server = fx::server_with(&["--tuners", "1"], |conn| {
        fx::add_channel(
            conn,
            "900",
            &[
                item(&clips[0], 3000, "c"),
                item(&Media::Generated(3), 3000, "g"),
            ],
            fx::now_ms() + 3_600_000,
        );
        conn.execute(
            "INSERT INTO media_items (source, url, title, added_at_ms, created_at_ms, updated_at_ms)
             VALUES ('jellyfin', 'http://127.0.0.1:9/Videos/42/stream.mkv?static=true', 'remote', 0, 0, 0)",
            [],
        )
        .unwrap();
    });
    let conn = rusqlite::Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    let id_of = |url: &str| -> i64 {
        conn.query_row("SELECT id FROM media_items WHERE url = ?1", [url], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let id = id_of(&path.display().to_string());
    let url = format!("/iptv/stream/{id}?raw=1");
    // The encoder probe at start is the only FFmpeg this server runs.
    assert!(wait_until(Duration::from_secs(10), || server
        .log_text()
        .contains("stream encoder ready")));
    assert!(wait_until(Duration::from_secs(5), || fx::n_ffmpeg(&server) == 0));
    let c = server.anon();
    // The whole file.
    let whole = c.get(&url);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        whole.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert!(whole.body == file, "the body is not the file");
    // A byte range.
    let part = c.clone().header("Range", "bytes=70000-70099").get(&url);
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 70000-70099/{len}").as_str())
    );
    assert_eq!(part.body, file[70000..70100]);
    // From an offset to the end, and a suffix.
    let tail = c.clone().header("Range", "bytes=1000-").get(&url);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, file[1000..]);
    let suffix = c.clone().header("Range", "bytes=-500").get(&url);
    assert_eq!(suffix.status, 206);
    assert_eq!(
        suffix.header("content-range"),
        Some(format!("bytes {}-{}/{len}", len - 500, len - 1).as_str())
    );
    assert_eq!(suffix.body, file[len - 500..]);
    // Beyond the end.
    let beyond = c
        .clone()
        .header("Range", &format!("bytes={len}-"))
        .get(&url);
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    assert!(beyond.detail().contains("range not satisfiable"));
    // HEAD: the headers only.
    let head = c.head(&url);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert!(head.body.is_empty());
    let head_part = c.clone().header("Range", "bytes=0-9").head(&url);
    assert_eq!(head_part.status, 206);
    assert_eq!(head_part.header("content-length"), Some("10"));
    // A remote item redirects; a generated one has nothing to serve; unknown ids are 404.
    let remote = id_of("http://127.0.0.1:9/Videos/42/stream.mkv?static=true");
    let redirect = c.get(&format!("/iptv/stream/{remote}?raw=1"));
    assert_eq!(redirect.status, 302);
    // To our signed proxy, which adds the server's token: never to the server itself.
    let location = redirect.header("location").unwrap_or_default();
    assert!(
        location.contains(&format!("/iptv/remote/{remote}?exp=")) && location.contains("&sig="),
        "{location}"
    );
    assert!(!location.contains(":9/"), "{location}");
    let generated = id_of("generated://demo/3");
    let none = c.get(&format!("/iptv/stream/{generated}?raw=1"));
    assert_eq!(none.status, 400);
    none.detail();
    let unknown = c.get("/iptv/stream/999999?raw=1");
    assert_eq!(unknown.status, 404);
    unknown.detail();
    // The CORS preflight.
    let options = c.request("OPTIONS", &url, None);
    assert_eq!(options.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        options.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        options.header("access-control-allow-headers"),
        Some("Range, Content-Range, Content-Type")
    );
    // None of it went through FFmpeg or took a tuner.
    assert_eq!(fx::n_ffmpeg(&server), 0);
    let metrics = c.get("/metrics").text();
    assert!(
        metrics.contains("exstreamtv_tuners_in_use 0\n"),
        "{metrics}"
    );
}

#[test]
fn an_hls_viewer_holds_the_tuner_while_it_fetches_the_playlist_and_frees_it_after_the_hold() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&[], |conn| {
        fx::set_setting(
            conn,
            "channels",
            r#"{"max_viewers_per_channel":50,"idle_grace_seconds":0,"hls_hold_seconds":4}"#,
        );
        fx::add_channel(conn, "900", &long_generated(), start);
    });
    let c = server.anon();
    // Out of range through the API.
    let r = server.client().put_json(
        "/api/settings/channels",
        &serde_json::json!({"hls_hold_seconds": 1}),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.detail().starts_with("hls_hold_seconds: "),
        "{}",
        r.detail()
    );
    assert_eq!(c.get("/iptv/channel/900.m3u8").status, 200);
    let pids = fx::ffmpeg_pids(&server);
    assert_eq!(pids.len(), 1);
    // A player fetching the playlist every second keeps the channel for twice the hold.
    let until = Instant::now() + Duration::from_secs(8);
    let mut last_fetch = Instant::now();
    while Instant::now() < until {
        std::thread::sleep(Duration::from_secs(1));
        let p = c.get("/iptv/channel/900.m3u8");
        last_fetch = Instant::now();
        assert_eq!(p.status, 200);
        assert_eq!(
            fx::ffmpeg_pids(&server),
            pids,
            "the channel was not held:\n{}",
            server.log_text()
        );
        assert_eq!(c.get("/api/health/channels").json()["total_channels"], 1);
    }
    // Then the player goes: the tuner is freed once the hold passes, not before.
    assert!(
        wait_until(Duration::from_secs(10), || fx::n_ffmpeg(&server) == 0),
        "the channel was never released"
    );
    let released_after = last_fetch.elapsed();
    assert!(
        released_after >= Duration::from_millis(3500),
        "released {released_after:?} after the last fetch, inside the 4 s hold"
    );
    // The tuner is returned just after FFmpeg is reaped.
    assert!(wait_until(Duration::from_secs(2), || c
        .get("/metrics")
        .text()
        .contains("exstreamtv_tuners_in_use 0\n")));
    assert_eq!(c.get("/api/health/channels").json()["total_channels"], 0);
}

/// Seconds of video in a capture.
fn video_span_s(ts: &[u8]) -> f64 {
    let report = tscheck::check(ts);
    let v = report.pid(0x100).expect("video");
    (v.last_dts - v.first_dts) as f64 / 90_000.0
}

#[test]
fn burst_fills_a_new_viewer_fast_adaptive_grows_and_disabled_delivers_faster_than_real_time() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&["--tuners", "3"], |conn| {
        for n in ["900", "901", "902"] {
            fx::add_channel(conn, n, &long_generated(), start);
        }
    });
    let c = server.client();
    // A bad mode is refused.
    let r = c.put_json(
        "/api/settings/stream-throttler",
        &serde_json::json!({"mode": "warp"}),
    );
    assert_eq!(r.status, 422);
    assert!(r.detail().starts_with("mode: "), "{}", r.detail());
    // Burst: a new viewer gets about 5 s of stream straight away, then real time.
    let r = c.put_json(
        "/api/settings/stream-throttler",
        &serde_json::json!({"mode": "burst"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let (ts, _) = fx::read_for(&mut s.body, Duration::from_secs(2));
    s.body.close();
    let burst = video_span_s(&ts);
    // Realtime would give at most 2 s + 0.75 s of lead.
    assert!(burst > 4.0, "burst gave {burst} s of video in 2 s");
    assert!(burst < 2.0 + 5.0 + 2.5, "burst gave {burst} s in 2 s");
    // Disabled: FFmpeg's own speed, paced only by the viewer's reading.
    let r = c.put_json(
        "/api/settings/stream-throttler",
        &serde_json::json!({"enabled": true, "mode": "disabled"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut s = server.anon().stream("/iptv/channel/901.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let (ts, _) = fx::read_for(&mut s.body, Duration::from_secs(3));
    s.body.close();
    let report = tscheck::check(&ts);
    assert_eq!(report.cc_errors, 0, "{:?}", report.errors);
    let unpaced = video_span_s(&ts);
    assert!(
        unpaced > 3.0 * 2.0,
        "disabled gave {unpaced} s of video in 3 s: not faster than real time"
    );
    // Adaptive: realtime's lead at first, growing while the viewer keeps up (×1.2 a
    // second: about 3.2 s after 8 s), where realtime stays at 0.75 s.
    let r = c.put_json(
        "/api/settings/stream-throttler",
        &serde_json::json!({"mode": "adaptive"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut s = server.anon().stream("/iptv/channel/902.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let (first, _) = fx::read_for(&mut s.body, Duration::from_secs(1));
    let early = video_span_s(&first);
    assert!(
        early < 1.0 + 0.75 + 0.5,
        "adaptive started with {early} s in 1 s"
    );
    let (rest, _) = fx::read_for(&mut s.body, Duration::from_secs(7));
    s.body.close();
    let mut all = first;
    all.extend_from_slice(&rest);
    let adaptive = video_span_s(&all);
    assert!(
        adaptive > 8.0 + 1.5,
        "adaptive gave {adaptive} s of video in 8 s: its lead did not grow"
    );
    assert!(
        adaptive < 8.0 + 5.0 + 0.5,
        "adaptive gave {adaptive} s in 8 s"
    );
    eprintln!(
        "video in the first 2 s with burst: {burst:.1} s; in 3 s with pacing disabled: {unpaced:.1} s; in 8 s adaptive: {adaptive:.1} s"
    );
}

#[test]
fn a_run_past_the_long_run_limit_is_handed_over_seamlessly() {
    let start = fx::now_ms() - 1000;
    let server = fx::server_with_env(&[], &[("EXSTREAMTV_DEBUG_ROUTES", "1")], |conn| {
        // An hour-long programme: far from its boundary, so the handover is a cut.
        fx::add_channel(
            conn,
            "900",
            &[item(&Media::Generated(2), 3_600_000, "Long")],
            start,
        );
    });
    let c = server.client();
    // The long-run limit is validated.
    let r = c.put_json(
        "/api/settings/ffmpeg",
        &serde_json::json!({"long_run_hours": 0}),
    );
    assert_eq!(r.status, 422);
    assert!(r.detail().starts_with("long_run_hours: "), "{}", r.detail());
    assert_eq!(
        c.post("/api/debug/channels/900/age-out").status,
        404,
        "not running yet"
    );
    let mut s = server.anon().stream("/iptv/channel/900.ts").unwrap();
    s.body.set_timeout(Duration::from_secs(5));
    let (before, _) = fx::read_for(&mut s.body, Duration::from_secs(2));
    let pids = fx::ffmpeg_pids(&server);
    assert_eq!(pids.len(), 1);
    assert_eq!(c.post("/api/debug/channels/900/age-out").status, 204);
    let aged_at = Instant::now();
    // The successor starts ahead of the cut, then takes over; the viewer reads on.
    let (after, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(7));
    s.body.close();
    assert!(
        server
            .log_text()
            .contains("long FFmpeg run handed over to a fresh one"),
        "{}",
        server.log_text()
    );
    let now_pids = fx::ffmpeg_pids(&server);
    assert_eq!(now_pids.len(), 1, "{now_pids:?}");
    assert_ne!(now_pids, pids, "the same FFmpeg still runs");
    // No gap for the viewer, and one continuous TS.
    let mut last = aged_at;
    let mut longest = Duration::ZERO;
    for (t, _) in &arrivals {
        longest = longest.max(t.duration_since(last));
        last = *t;
    }
    assert!(longest < Duration::from_secs(1), "a gap of {longest:?}");
    let mut all = before;
    all.extend_from_slice(&after);
    let report = tscheck::check(&all);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let health = channel_health(&server, "900");
    assert_eq!(health["restart_count"], 0, "a handover is not a restart");
    assert_eq!(health["current_title"], "Long");
}
