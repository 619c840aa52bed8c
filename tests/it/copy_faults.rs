//! Bad input for copy-first streaming (issue 13): sources that are broken or odd in the
//! ways real libraries are, each played by the real server; none may crash it or stall
//! the channel. And a copy that fails falls back to a transcode of its item at once.

use std::path::Path;
use std::time::Duration;

use crate::copy::{add_probed, channel, make, modes_during, profile, Clip};
use crate::stream_fixture::{self as fx, read_for};
use crate::support::{media, tones, tscheck, TempDir};

const AAC: [(&str, u32, u32, &str); 1] = [("aac", 2, 500, "eng")];

fn h264(path: &Path, seconds: f64, gop: u32) {
    make(
        path,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "libx264",
            gop,
            audio: &AAC,
            seconds,
        },
    );
}

/// Overwrites `n` bytes in the middle of `path` (the MP4's mdat: moov is at the end).
fn corrupt_middle(path: &Path, n: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + n] {
        *b = 0xA5;
    }
    std::fs::write(path, bytes).unwrap();
}

/// The tone of the eight-track file's track `i`: apart from every other item's.
fn eight_tone(i: u32) -> u32 {
    1000 + 150 * i
}

/// Eight audio tracks, none marked default.
fn eight_tracks(path: &Path) {
    let mut args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=3",
    ]
    .map(String::from)
    .to_vec();
    for i in 0..8 {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("sine=frequency={}:duration=3", eight_tone(i)));
    }
    args.extend(["-map", "0:v"].map(String::from));
    for i in 0..8 {
        args.extend(["-map".to_string(), format!("{}:a", i + 1)]);
    }
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-disposition:a",
            "0",
        ]
        .map(String::from),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    media::ffmpeg(&refs, path);
}

/// A phone-like variable-frame-rate clip: 1.5 s at 25 fps, then 1.5 s at 15 fps.
fn vfr(path: &Path) {
    media::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=1.5,settb=AVTB",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=15:duration=1.5,settb=AVTB",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=600:duration=3",
            "-filter_complex",
            "[0:v][1:v]concat=n=2:v=1:a=0[v]",
            "-map",
            "[v]",
            "-map",
            "2:a",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
        path,
    );
}

/// One TS file whose stream list changes mid-file: a part with one audio track, then a
/// part with two, concatenated byte for byte.
fn changing_streams(dir: &Path, path: &Path) {
    let one = dir.join("one.ts");
    let two = dir.join("two.ts");
    let part = |out: &Path, tracks: usize| {
        let mut args: Vec<String> = [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=1.5",
        ]
        .map(String::from)
        .to_vec();
        for _ in 0..tracks {
            args.extend(["-f", "lavfi", "-i", "sine=frequency=700:duration=1.5"].map(String::from));
        }
        args.extend(["-map", "0:v"].map(String::from));
        for i in 0..tracks {
            args.extend(["-map".to_string(), format!("{}:a", i + 1)]);
        }
        args.extend(
            [
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "25",
                "-c:a",
                "aac",
                "-f",
                "mpegts",
            ]
            .map(String::from),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        media::ffmpeg(&refs, out);
    };
    part(&one, 1);
    part(&two, 2);
    let mut bytes = std::fs::read(&one).unwrap();
    bytes.extend(std::fs::read(&two).unwrap());
    std::fs::write(path, bytes).unwrap();
}

/// The longest wait between two reads of a stream.
fn longest_gap(arrivals: &[(std::time::Instant, usize)]) -> Duration {
    arrivals
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0))
        .max()
        .unwrap_or_default()
}

/// A corrupt NAL, eight undefaulted tracks, video without audio, audio without video, a
/// VFR clip and a TS whose stream list changes: the channel plays each in turn, on time
/// (all six 3 s programmes within the 20 s read, the stream never waiting 2 s), and its
/// stream stays a valid TS.
#[test]
fn bad_input_neither_crashes_nor_stalls_the_channel() {
    let dir = TempDir::new("copy-bad");
    let d = dir.path();
    let corrupt = d.join("corrupt.mp4");
    h264(&corrupt, 3.0, 25);
    corrupt_middle(&corrupt, 4000);
    let eight = d.join("eight.mkv");
    eight_tracks(&eight);
    let video_only = d.join("video.mp4");
    make(
        &video_only,
        &Clip {
            size: "320x180",
            rate: 25,
            vcodec: "libx264",
            gop: 25,
            audio: &[],
            seconds: 3.0,
        },
    );
    let audio_only = d.join("audio.m4a");
    media::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=800:duration=3",
            "-c:a",
            "aac",
        ],
        &audio_only,
    );
    let vfr_clip = d.join("vfr.mp4");
    vfr(&vfr_clip);
    let changing = d.join("changing.ts");
    changing_streams(d, &changing);
    let files = [
        (&corrupt, "CORRUPT"),
        (&eight, "EIGHT"),
        (&video_only, "VIDEO"),
        (&audio_only, "AUDIO"),
        (&vfr_clip, "VFR"),
        (&changing, "CHANGING"),
    ];
    let server = fx::server_with(&[], |conn| {
        let p = profile(conn, "passthrough");
        let items: Vec<(i64, i64, &str)> = files
            .iter()
            .map(|(path, title)| (add_probed(conn, path, title), 3000, *title))
            .collect();
        // The guide starts after the probes: on a slow machine six probes can outlast
        // the first 3 s programme.
        let start = fx::now_ms() - 200;
        channel(conn, "960", p, &items, start);
    });
    let ((ts, arrivals), modes) = modes_during(&server, || {
        let mut s = server.anon().stream("/iptv/channel/960.ts").unwrap();
        let got = read_for(&mut s.body, Duration::from_secs(20));
        s.body.close();
        got
    });
    for (_, title) in files {
        assert!(modes.contains_key(title), "{title} never played: {modes:?}");
    }
    // The channel never stalled: bytes kept arriving, the longest gap well under a
    // programme.
    let gap = longest_gap(&arrivals);
    assert!(gap < Duration::from_secs(2), "a {gap:?} gap in the stream");
    let report = tscheck::check(&ts);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    // Of eight tracks none of which is the default, the first plays.
    let mut hz = vec![500, 600, 700, 800];
    hz.extend((0..8).map(eight_tone));
    let windows = tones::windows(&ts, &arrivals, &hz, d);
    let heard = |hz| windows.iter().filter(|w| w.hz == hz).count();
    assert!(heard(eight_tone(0)) > 30, "{:?}", tones::sequence(&windows));
    for i in 1..8 {
        assert!(heard(eight_tone(i)) < 3, "{:?}", tones::sequence(&windows));
    }
    // The server is alive and answers.
    assert_eq!(server.anon().get("/api/health/streaming").status, 200);
    // Audio-only plays over a generated picture; video-only over generated silence.
    assert_eq!(modes["AUDIO"].0, "transcode", "{modes:?}");
    assert_eq!(modes["VIDEO"].0, "audio", "{modes:?}");
}

/// Keyframes 36 s apart: a tune 11 s in is transcoded (no keyframe within 10 s) and the
/// channel streams.
#[test]
fn a_source_with_keyframes_far_apart_is_transcoded_mid_programme() {
    let dir = TempDir::new("copy-gop");
    let long = dir.path().join("long.mp4");
    h264(&long, 14.0, 900);
    let start = fx::now_ms() - 11_000;
    let server = fx::server_with(&[], |conn| {
        let p = profile(conn, "passthrough");
        let id = add_probed(conn, &long, "LONG");
        channel(conn, "961", p, &[(id, 14_000, "LONG")], start);
    });
    let ((ts, _), modes) = modes_during(&server, || {
        let mut s = server.anon().stream("/iptv/channel/961.ts").unwrap();
        let got = read_for(&mut s.body, Duration::from_secs(3));
        s.body.close();
        got
    });
    assert!(ts.len() > 50_000, "only {} bytes", ts.len());
    assert_eq!(
        modes.get("LONG").map(|(m, r)| (m.as_str(), r.as_deref())),
        Some((
            "transcode",
            Some("no keyframe within 10 s before the offset")
        )),
        "{modes:?}"
    );
}

/// A stray byte ahead of the first H.264 start code of a TS file (as a recording cut
/// mid-packet has): decoders skip it, but FFmpeg's TS muxer refuses to copy a stream
/// whose first frame has no start code, so `-c:v copy` exits with an error at once.
fn stray_byte_before_first_nal(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let first = bytes
        .chunks(188)
        .position(|p| {
            ((u16::from(p[1] & 0x1f) << 8) | u16::from(p[2])) == 0x100 && p[1] & 0x40 != 0
        })
        .expect("a video PES");
    let p = &bytes[first * 188..first * 188 + 188];
    let pes = if p[3] & 0x20 != 0 {
        5 + usize::from(p[4])
    } else {
        4
    };
    assert_eq!(&p[pes..pes + 3], &[0, 0, 1], "a PES header");
    let es = pes + 9 + usize::from(p[pes + 8]);
    assert_eq!(&p[es..es + 4], &[0, 0, 0, 1], "a 4-byte start code");
    bytes[first * 188 + es] = 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// An H.264 item the copy path cannot send (see `stray_byte_before_first_nal`): the copy
/// fails, the item is transcoded at once, the fallback is counted and logged, and the
/// stream goes on into the next item.
#[test]
fn a_failed_copy_falls_back_to_a_transcode_and_is_counted() {
    let dir = TempDir::new("copy-fallback");
    let a = dir.path().join("a.ts");
    let b = dir.path().join("b.mp4");
    h264(&a, 4.0, 25);
    stray_byte_before_first_nal(&a);
    h264(&b, 4.0, 25);
    let server = fx::server_with(&[], |conn| {
        let p = profile(conn, "passthrough");
        let (ia, ib) = (add_probed(conn, &a, "A"), add_probed(conn, &b, "B"));
        let start = fx::now_ms() - 200;
        channel(conn, "962", p, &[(ia, 4000, "A"), (ib, 4000, "B")], start);
    });
    let ((ts, arrivals), modes) = modes_during(&server, || {
        let mut s = server.anon().stream("/iptv/channel/962.ts").unwrap();
        let got = read_for(&mut s.body, Duration::from_secs(7));
        s.body.close();
        got
    });
    assert!(ts.len() > 50_000, "only {} bytes", ts.len());
    assert_eq!(
        modes.get("A").map(|(m, r)| (m.as_str(), r.as_deref())),
        Some(("transcode", Some("copying failed"))),
        "{modes:?}"
    );
    assert_eq!(
        modes.get("B").map(|m| m.0.as_str()),
        Some("copy"),
        "{modes:?}"
    );
    // At once: no backoff between the failed copy and its transcode.
    assert!(longest_gap(&arrivals) < Duration::from_secs(2));
    let report = tscheck::check(&ts);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let metrics = server.anon().get("/metrics").text();
    assert!(
        metrics.contains("exstreamtv_copy_fallbacks_total 1"),
        "{metrics}"
    );
    let health = server.anon().get("/api/health/streaming").json();
    assert_eq!(health["copy_fallbacks"], 1, "{health}");
    assert!(
        server.log_text().contains("copying the item failed"),
        "{}",
        server.log_text()
    );
}
