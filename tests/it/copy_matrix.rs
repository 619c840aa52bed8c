//! The issue-13 media matrix: one channel cycling through a mixed library (1080p23.976
//! H.264 with AC-3 in MKV, 720p25 H.264 with AAC in MP4, 576i50 H.264, E-AC-3, MP3 and
//! 5.1 AAC, MPEG-2, HEVC, a German and an English track) for 60 s of stream, read live.
//! The stream decodes silently, is a valid TS throughout, changes picture size at the
//! boundaries, and every progressive H.264 item is sent with `-c:v copy`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::copy::{add_probed, channel, decode_errors, frame_sizes, modes_during, profile};
use crate::stream_fixture::{self as fx, read_for};
use crate::support::{media, tscheck, TempDir, TestServer};

/// Each clip's length and guide slot: short, so a 60 s read crosses every boundary twice.
const SECONDS: u32 = 3;

/// One source of the matrix: how to make it and what the channel must make of it.
struct Source {
    title: &'static str,
    file: &'static str,
    size: &'static str,
    rate: &'static str,
    /// Video encoder and its options (after `-c:v`).
    video: &'static [&'static str],
    /// Audio tracks: (encoder, channels, language).
    audio: &'static [(&'static str, u32, &'static str)],
    /// The dashboard's mode while it plays.
    mode: &'static str,
    /// The picture size in the stream (the profile's 320x240 when transcoded).
    out: &'static str,
}

const X264: &[&str] = &["libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];

/// In play order: consecutive items differ in picture size, so every boundary shows.
const MATRIX: [Source; 8] = [
    Source {
        title: "Film 1080p AC-3",
        file: "film.mkv",
        size: "1920x1080",
        rate: "24000/1001",
        video: X264,
        audio: &[("ac3", 2, "eng")],
        mode: "audio",
        out: "1920,1080",
    },
    Source {
        title: "Show 720p AAC",
        file: "show.mp4",
        size: "1280x720",
        rate: "25",
        video: X264,
        audio: &[("aac", 2, "eng")],
        mode: "copy",
        out: "1280,720",
    },
    Source {
        title: "Broadcast 576i",
        file: "broadcast.mkv",
        size: "720x576",
        rate: "25",
        video: &[
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            // Interlaced coding, and the field order in the stream (a broadcast
            // capture's pic_struct), which is what the scanner sees.
            "-vf",
            "setfield=tff",
            "-flags",
            "+ildct+ilme",
            "-x264-params",
            "tff=1",
        ],
        audio: &[("libmp3lame", 2, "eng")],
        mode: "transcode",
        out: "320,240",
    },
    Source {
        title: "Sport E-AC-3",
        file: "sport.mkv",
        size: "640x360",
        rate: "30000/1001",
        video: X264,
        audio: &[("eac3", 2, "eng")],
        mode: "audio",
        out: "640,360",
    },
    Source {
        title: "Concert 5.1",
        file: "concert.mp4",
        size: "480x270",
        rate: "30",
        video: X264,
        audio: &[("aac", 6, "eng")],
        mode: "audio",
        out: "480,270",
    },
    Source {
        title: "Archive MPEG-2",
        file: "archive.mkv",
        size: "720x576",
        rate: "25",
        video: &["mpeg2video", "-b:v", "1500k"],
        audio: &[("libmp3lame", 2, "eng")],
        mode: "transcode",
        out: "320,240",
    },
    Source {
        title: "Krimi deu eng",
        file: "krimi.mkv",
        size: "640x360",
        rate: "25",
        video: X264,
        audio: &[("aac", 2, "eng"), ("aac", 2, "deu")],
        mode: "copy",
        out: "640,360",
    },
    Source {
        title: "Nature HEVC",
        file: "nature.mkv",
        size: "640x360",
        rate: "25",
        video: &[
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
        ],
        audio: &[("aac", 2, "eng")],
        mode: "transcode",
        out: "320,240",
    },
];

/// Writes `s` into `dir`: `SECONDS` of testsrc2 at a low bitrate, one keyframe a second,
/// a tone per audio track.
fn make(dir: &Path, s: &Source) -> PathBuf {
    let path = dir.join(s.file);
    let mut args: Vec<String> = vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!(
            "testsrc2=size={}:rate={}:duration={SECONDS}",
            s.size, s.rate
        ),
    ];
    for (i, _) in s.audio.iter().enumerate() {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!(
            "sine=frequency={}:sample_rate=48000:duration={SECONDS}",
            400 + 200 * i
        ));
    }
    args.extend(["-map", "0:v"].map(String::from));
    for i in 0..s.audio.len() {
        args.extend(["-map".to_string(), format!("{}:a", i + 1)]);
    }
    args.push("-c:v".into());
    args.extend(s.video.iter().map(|a| a.to_string()));
    if s.video[0] != "mpeg2video" {
        args.extend(["-b:v", "400k"].map(String::from));
    }
    args.extend(["-g", "25"].map(String::from));
    for (i, (codec, channels, lang)) in s.audio.iter().enumerate() {
        args.extend([
            format!("-c:a:{i}"),
            codec.to_string(),
            format!("-ac:a:{i}"),
            channels.to_string(),
            format!("-metadata:s:a:{i}"),
            format!("language={lang}"),
        ]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    media::ffmpeg(&refs, &path);
    path
}

fn has_libx265() -> bool {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libx265"))
}

/// The live FFmpeg processes `parent` started.
fn ffmpeg_children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid ...`
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let Some((head, rest)) = stat.rsplit_once(')') else {
                    return false;
                };
                let mut fields = rest.split_whitespace();
                let state = fields.next();
                let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
                head.ends_with("(ffmpeg") && state != Some("Z") && ppid == Some(parent)
            })
        })
        .collect()
}

/// Polls the server's FFmpeg processes while `work` runs: every command line seen.
fn argvs_during<T>(server: &TestServer, work: impl FnOnce() -> T) -> (T, BTreeSet<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let server_pid = server.pid();
    let poller = std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        while !flag.load(Ordering::Relaxed) {
            for pid in ffmpeg_children(server_pid) {
                if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                    let argv = raw.split(|b| *b == 0).map(String::from_utf8_lossy);
                    seen.insert(argv.collect::<Vec<_>>().join(" "));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    });
    let out = work();
    stop.store(true, Ordering::Relaxed);
    (out, poller.join().unwrap())
}

#[test]
fn a_channel_cycling_through_mixed_media_streams_a_minute_cleanly() {
    let dir = TempDir::new("copy-matrix");
    let hevc = has_libx265();
    if !hevc {
        println!("skipping the HEVC source: this ffmpeg has no libx265");
    }
    let sources: Vec<&Source> = MATRIX
        .iter()
        .filter(|s| hevc || s.video[0] != "libx265")
        .collect();
    let paths: Vec<PathBuf> = sources.iter().map(|s| make(dir.path(), s)).collect();
    let server = fx::server_with(&[], |conn| {
        let p = profile(conn, "passthrough");
        let ids: Vec<i64> = sources
            .iter()
            .zip(&paths)
            .map(|(s, path)| add_probed(conn, path, s.title))
            .collect();
        let start = fx::now_ms() - 200;
        // Three rounds: more than 60 s of guide.
        let items: Vec<(i64, i64, &str)> = (0..3)
            .flat_map(|_| ids.iter().zip(&sources))
            .map(|(id, s)| (*id, i64::from(SECONDS) * 1000, s.title))
            .collect();
        let id = channel(conn, "970", p, &items, start);
        conn.execute(
            "UPDATE channels SET preferred_audio_language_code = 'de' WHERE id = ?1",
            [id],
        )
        .unwrap();
    });
    let (((ts, _), modes), argvs) = argvs_during(&server, || {
        modes_during(&server, || {
            let mut s = server.anon().stream("/iptv/channel/970.ts").unwrap();
            let got = read_for(&mut s.body, Duration::from_secs(60));
            s.body.close();
            got
        })
    });
    check_stream(&ts, dir.path(), &sources);
    check_decisions(&sources, &paths, &modes, &argvs);
}

/// 0 TS errors, a silent decode, and the picture sizes the items give, in play order.
fn check_stream(ts: &[u8], dir: &Path, sources: &[&Source]) {
    let report = tscheck::check(ts);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let video = report.pid(0x100).expect("video");
    let last_frame_at = video.pes.last().unwrap().1;
    let ts = &ts[..last_frame_at];
    let played = ts.len() as f64 / 1000.0;
    assert!(played > 1000.0, "only {played} kB in a minute");
    let errors = decode_errors(ts, dir);
    assert!(errors.trim().is_empty(), "ffmpeg reported: {errors}");
    // Two rounds of sizes, from the first item on (the stream starts in the first).
    let want: Vec<String> = sources
        .iter()
        .cycle()
        .take(2 * sources.len())
        .map(|s| s.out.to_string())
        .collect();
    let mut want = want;
    want.dedup();
    let sizes = frame_sizes(ts, dir);
    assert!(sizes.starts_with(&want), "sizes {sizes:?}, want {want:?}");
}

/// The dashboard's mode per item, and `-c:v copy` in the argv of each progressive H.264
/// item (never in the others').
fn check_decisions(
    sources: &[&Source],
    paths: &[PathBuf],
    modes: &HashMap<String, (String, Option<String>)>,
    argvs: &BTreeSet<String>,
) {
    for (s, path) in sources.iter().zip(paths) {
        let mode = modes.get(s.title).map(|m| m.0.as_str());
        assert_eq!(mode, Some(s.mode), "{}: {modes:?}", s.title);
        let path = path.display().to_string();
        let runs: Vec<&String> = argvs.iter().filter(|a| a.contains(&path)).collect();
        assert!(!runs.is_empty(), "no FFmpeg seen for {path}: {argvs:?}");
        let copies = s.mode != "transcode";
        for argv in runs {
            assert_eq!(argv.contains("-c:v copy"), copies, "{}: {argv}", s.title);
        }
    }
    let krimi = argvs
        .iter()
        .find(|a| a.contains("krimi.mkv"))
        .expect("the German item ran");
    assert!(
        krimi.contains("-map 0:a:1"),
        "German is the second track: {krimi}"
    );
}
