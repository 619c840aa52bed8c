//! One ffprobe run: `ffprobe -v error -print_format json -show_format -show_streams FILE`
//! as a bounded `child::run` (killed and reaped on timeout or shutdown), and its JSON turned
//! into `Probe` (duration, container, the first video and audio stream, the stream list).
//! `StoredStreams` reads that stored list back: the video facts copy mode needs and every
//! audio stream, for the audio track choice at play time (no probe then).
//! It knows files and processes, not the database.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use smol_str::SmolStr;

use crate::child::{self, RunError};
use tokio::process::Command;
use tokio::sync::watch;

/// A healthy probe takes well under a second; 30 s allows a spun-down USB disk to wake.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// ffprobe's JSON for a file with many streams and tags stays far below this; more is
/// garbage we refuse to buffer.
const MAX_PROBE_OUTPUT: u64 = 4 * 1024 * 1024;
/// Enough of stderr to say why a file is unreadable.
const MAX_PROBE_STDERR: u64 = 4 * 1024;

/// What the scanner stores about a file's streams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    pub duration_ms: Option<i64>,
    pub container: Option<String>,
    pub video_codec: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub frame_rate: Option<f64>,
    pub field_order: Option<String>,
    pub audio_codec: Option<String>,
    pub audio_channels: Option<i64>,
    pub audio_sample_rate: Option<i64>,
    /// The `streams` array as JSON text.
    pub streams_json: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProbeError {
    /// ffprobe could not be started (not installed, not executable).
    Spawn(String),
    /// ffprobe ran and refused the file; its first stderr line says why.
    Unreadable(String),
    /// Readable, but neither audio nor video.
    NoStreams,
    Timeout,
    /// The server is shutting down; the file was not judged.
    Cancelled,
    BadOutput(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Spawn(e) => write!(f, "cannot run ffprobe: {e}"),
            ProbeError::Unreadable(e) => write!(f, "ffprobe cannot read the file: {e}"),
            ProbeError::NoStreams => f.write_str("no audio or video stream"),
            ProbeError::Timeout => {
                write!(f, "ffprobe took longer than {} s", PROBE_TIMEOUT.as_secs())
            }
            ProbeError::Cancelled => f.write_str("cancelled by shutdown"),
            ProbeError::BadOutput(e) => write!(f, "unexpected ffprobe output: {e}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Runs ffprobe on `file`. Returns early with `Cancelled` when `shutdown` turns true; the
/// child is killed and reaped on every path out.
pub async fn probe(
    ffprobe: &Path,
    file: &Path,
    shutdown: watch::Receiver<bool>,
) -> Result<Probe, ProbeError> {
    probe_with(ffprobe, &[], file.as_os_str(), shutdown).await
}

/// `probe` with input options before the input (a URL's `-rw_timeout`).
pub async fn probe_with(
    ffprobe: &Path,
    input_args: &[&str],
    file: &std::ffi::OsStr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Probe, ProbeError> {
    let mut command = Command::new(ffprobe);
    command
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .args(input_args)
        // `-i` then the path: a file named `-x` is not an option.
        .arg("-i")
        .arg(file);
    let limits = child::Limits {
        timeout: PROBE_TIMEOUT,
        stdout_max: MAX_PROBE_OUTPUT,
        stderr_max: MAX_PROBE_STDERR,
    };
    let output = child::run(command, limits, shutdown_signal(&mut shutdown))
        .await
        .map_err(|err| match err {
            RunError::Spawn(e) => ProbeError::Spawn(e.to_string()),
            RunError::Io(e) => ProbeError::BadOutput(e.to_string()),
            RunError::Timeout => ProbeError::Timeout,
            RunError::Cancelled => ProbeError::Cancelled,
        })?;
    let (status, out, err) = (output.status, output.stdout, output.stderr);
    if !status.success() {
        let text = String::from_utf8_lossy(&err);
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("ffprobe failed");
        // ffprobe prefixes the path; the path is already known to the caller.
        let reason = first.rsplit(": ").next().unwrap_or(first);
        return Err(ProbeError::Unreadable(reason.to_string()));
    }
    parse(&out)
}

/// Resolves once the server begins to shut down (or the sender is gone). The watch guard
/// is dropped inside, so the future stays `Send`.
pub async fn shutdown_signal(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<serde_json::Value>,
    #[serde(default)]
    format: Format,
}

#[derive(Deserialize, Default)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

/// Turns ffprobe's JSON into `Probe`. Cover art (`attached_pic`) is not video.
pub fn parse(json: &[u8]) -> Result<Probe, ProbeError> {
    let output: Output =
        serde_json::from_slice(json).map_err(|e| ProbeError::BadOutput(e.to_string()))?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let int = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| {
            x.as_i64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let is_cover = |s: &serde_json::Value| {
        s.pointer("/disposition/attached_pic")
            .and_then(|x| x.as_i64())
            == Some(1)
    };
    let video = output
        .streams
        .iter()
        .find(|s| text(s, "codec_type").as_deref() == Some("video") && !is_cover(s));
    let audio = output
        .streams
        .iter()
        .find(|s| text(s, "codec_type").as_deref() == Some("audio"));
    if video.is_none() && audio.is_none() {
        return Err(ProbeError::NoStreams);
    }
    let seconds = |s: &str| s.parse::<f64>().ok().filter(|d| d.is_finite() && *d > 0.0);
    let duration = output
        .format
        .duration
        .as_deref()
        .and_then(seconds)
        .or_else(|| {
            output
                .streams
                .iter()
                .filter_map(|s| s.get("duration").and_then(|d| d.as_str()).and_then(seconds))
                .reduce(f64::max)
        });
    let mut probe = Probe {
        duration_ms: duration.map(|d| (d * 1000.0).round() as i64),
        // "matroska,webm" → "matroska": the first name is the demuxer's own.
        container: output
            .format
            .format_name
            .as_deref()
            .map(|f| f.split(',').next().unwrap_or(f).to_string()),
        streams_json: serde_json::to_string(&output.streams).unwrap_or_else(|_| "[]".into()),
        ..Probe::default()
    };
    if let Some(v) = video {
        probe.video_codec = text(v, "codec_name");
        probe.width = int(v, "width");
        probe.height = int(v, "height");
        probe.frame_rate = text(v, "avg_frame_rate")
            .and_then(|r| rational(&r))
            .or_else(|| text(v, "r_frame_rate").and_then(|r| rational(&r)));
        probe.field_order = text(v, "field_order");
    }
    if let Some(a) = audio {
        probe.audio_codec = text(a, "codec_name");
        probe.audio_channels = int(a, "channels");
        probe.audio_sample_rate = int(a, "sample_rate");
    }
    Ok(probe)
}

/// Audio streams read back per file: more is not a real file (the rest are left out).
pub const MAX_AUDIO_STREAMS: usize = 32;

/// The video stream's facts that decide whether it can be copied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoFacts {
    /// H.264's profile as ffprobe names it ("High", "Constrained Baseline", "High 10").
    pub profile: Option<SmolStr>,
    /// `level` × 10 (40 = 4.0), as ffprobe gives it.
    pub level: Option<i32>,
    pub pix_fmt: Option<SmolStr>,
}

/// One audio stream of a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioStream {
    /// Its position among the file's audio streams (FFmpeg's `0:a:N`).
    pub nth: u32,
    pub codec: Option<SmolStr>,
    pub channels: Option<u32>,
    pub sample_rate: Option<u32>,
    /// The `language` tag as stored (any ISO 639 form, or anything).
    pub language: Option<SmolStr>,
    pub title: Option<SmolStr>,
    pub is_default: bool,
}

/// What `media_items.streams` says, read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredStreams {
    pub video: Option<VideoFacts>,
    pub audio: Vec<AudioStream>,
}

#[derive(Deserialize)]
struct StoredStream {
    codec_type: Option<String>,
    codec_name: Option<SmolStr>,
    profile: Option<SmolStr>,
    level: Option<i32>,
    pix_fmt: Option<SmolStr>,
    channels: Option<u32>,
    sample_rate: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    tags: Tags,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    default: i64,
    #[serde(default)]
    attached_pic: i64,
}

#[derive(Deserialize, Default)]
struct Tags {
    language: Option<SmolStr>,
    title: Option<SmolStr>,
}

impl StoredStreams {
    /// Reads the stored JSON; text that is not a stream list (a hand edit, an older
    /// scanner) reads as no streams, and the caller falls back to the summary columns.
    pub fn parse(json: &str) -> StoredStreams {
        let streams: Vec<StoredStream> = serde_json::from_str(json).unwrap_or_default();
        let mut out = StoredStreams::default();
        for s in streams {
            match s.codec_type.as_deref() {
                Some("video") if s.disposition.attached_pic == 0 && out.video.is_none() => {
                    out.video = Some(VideoFacts {
                        profile: s.profile,
                        // ffprobe writes -99 for "unknown".
                        level: s.level.filter(|l| *l > 0),
                        pix_fmt: s.pix_fmt,
                    });
                }
                Some("audio") if out.audio.len() < MAX_AUDIO_STREAMS => {
                    let nth = out.audio.len() as u32;
                    out.audio.push(AudioStream {
                        nth,
                        codec: s.codec_name,
                        channels: s.channels,
                        sample_rate: s.sample_rate.and_then(|r| r.parse().ok()),
                        language: s.tags.language.filter(|l| !l.is_empty()),
                        title: s.tags.title.filter(|t| !t.is_empty()),
                        is_default: s.disposition.default == 1,
                    });
                }
                _ => {}
            }
        }
        out
    }
}

/// `30000/1001` → 29.97; `0/0` → None.
fn rational(r: &str) -> Option<f64> {
    let (n, d) = r.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d != 0.0 && n > 0.0).then(|| ((n / d) * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ffprobe_json() {
        let json = br#"{"streams":[
            {"index":0,"codec_name":"h264","codec_type":"video","width":320,"height":240,
             "avg_frame_rate":"25/1","r_frame_rate":"25/1","field_order":"progressive"},
            {"index":1,"codec_name":"aac","codec_type":"audio","sample_rate":"48000","channels":2},
            {"index":2,"codec_name":"mjpeg","codec_type":"video","disposition":{"attached_pic":1}}],
            "format":{"format_name":"matroska,webm","duration":"2.000000"}}"#;
        let p = parse(json).unwrap();
        assert_eq!(p.duration_ms, Some(2000));
        assert_eq!(p.container.as_deref(), Some("matroska"));
        assert_eq!(
            (p.video_codec.as_deref(), p.width, p.height),
            (Some("h264"), Some(320), Some(240))
        );
        assert_eq!(p.frame_rate, Some(25.0));
        assert_eq!(
            (p.audio_channels, p.audio_sample_rate),
            (Some(2), Some(48000))
        );
        assert_eq!(rational("30000/1001"), Some(29.97));
        assert_eq!(rational("0/0"), None);
    }

    #[test]
    fn stored_streams_read_back_video_facts_and_every_audio_stream() {
        let json = r#"[
            {"index":0,"codec_name":"h264","codec_type":"video","profile":"High","level":40,
             "pix_fmt":"yuv420p"},
            {"index":1,"codec_name":"ac3","codec_type":"audio","sample_rate":"48000",
             "channels":6,"tags":{"language":"eng"},"disposition":{"default":0}},
            {"index":2,"codec_name":"aac","codec_type":"audio","sample_rate":"44100",
             "channels":2,"tags":{"language":"ger","title":"Deutsch"},
             "disposition":{"default":1}},
            {"index":3,"codec_name":"mjpeg","codec_type":"video","disposition":{"attached_pic":1}}]"#;
        let s = StoredStreams::parse(json);
        let v = s.video.unwrap();
        assert_eq!(
            (v.profile.as_deref(), v.level, v.pix_fmt.as_deref()),
            (Some("High"), Some(40), Some("yuv420p"))
        );
        assert_eq!(s.audio.len(), 2);
        assert_eq!(
            (
                s.audio[1].nth,
                s.audio[1].language.as_deref(),
                s.audio[1].is_default
            ),
            (1, Some("ger"), true)
        );
        assert_eq!(s.audio[1].sample_rate, Some(44100));
        assert_eq!(s.audio[0].channels, Some(6));
        assert_eq!(StoredStreams::parse("not json"), StoredStreams::default());
    }

    #[test]
    fn no_streams_is_an_error() {
        let only_cover =
            br#"{"streams":[{"codec_type":"video","disposition":{"attached_pic":1}}],"format":{}}"#;
        assert_eq!(parse(only_cover), Err(ProbeError::NoStreams));
        assert!(matches!(parse(b"not json"), Err(ProbeError::BadOutput(_))));
    }
}
