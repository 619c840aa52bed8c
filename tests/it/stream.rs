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
            let path = dir.join(format!("clip{i}.ts"));
            media::clip_mono(&path, seconds, 300 + 100 * i as u32);
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
