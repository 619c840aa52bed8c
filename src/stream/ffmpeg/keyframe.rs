//! Where a copy mid-programme starts: the keyframe at or before the offset, found by one
//! small ffprobe read around it (`-read_intervals`: the video packets' flags of the
//! `MAX_KEYFRAME_GAP_MS` before the offset, no decoding). A bounded `child::run`: its own
//! process group, killed and reaped on a timeout or when the caller gives up.
//!
//! It knows files and ffprobe, not channels.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::child::{self, RunError};
use crate::scheduler::cursor::Input;

use super::argv::MAX_KEYFRAME_GAP_MS;

/// A local read of a few seconds of packet headers takes tens of ms; a remote one more.
/// Longer than this, the tune does not wait: the programme is transcoded.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
/// The packet list of the window: ~20 s of 60 fps video is ~1200 short JSON objects.
const MAX_OUTPUT: u64 = 1024 * 1024;
const MAX_STDERR: u64 = 2048;
/// The read starts this much before the gap limit (a seek lands near, not exactly, where
/// asked) and reads this much more than the gap after where it started.
const WINDOW_SLACK_MS: i64 = 1000;

#[derive(Debug, Clone, PartialEq)]
pub enum KeyframeError {
    /// ffprobe could not run, failed, timed out or printed something else.
    Probe(String),
    /// No keyframe in the `MAX_KEYFRAME_GAP_MS` before the offset.
    TooFar,
}

impl fmt::Display for KeyframeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyframeError::Probe(why) => write!(f, "keyframe lookup failed: {why}"),
            KeyframeError::TooFar => write!(
                f,
                "no keyframe within {} s before the offset",
                MAX_KEYFRAME_GAP_MS / 1000
            ),
        }
    }
}

impl std::error::Error for KeyframeError {}

/// The keyframe of `input`'s first video stream at or before `offset_ms` (ms from the
/// media's start, as FFmpeg's `-ss` counts), rounded up to the ms so that `-ss` lands on it.
pub async fn keyframe_before(
    ffprobe: &Path,
    input: &Input,
    offset_ms: i64,
) -> Result<i64, KeyframeError> {
    let target = match input {
        Input::File(path) => path.as_os_str().to_owned(),
        Input::Url(url) => url.into(),
        // A live stream has no past to look a keyframe up in.
        Input::Generated(_) | Input::Live(_) | Input::Page(_) | Input::Offline => {
            return Err(KeyframeError::Probe("not a seekable media input".into()))
        }
    };
    let from_ms = (offset_ms - MAX_KEYFRAME_GAP_MS - WINDOW_SLACK_MS).max(0);
    // `+A%+B`: from A after the media's start, B past the first packet read.
    let span_ms = offset_ms - from_ms + MAX_KEYFRAME_GAP_MS + WINDOW_SLACK_MS;
    let interval = format!("+{}%+{}", secs(from_ms), secs(span_ms));
    let mut command = Command::new(ffprobe);
    command
        .args(["-v", "error", "-select_streams", "v:0", "-read_intervals"])
        .arg(interval)
        .args([
            "-show_entries",
            "packet=pts_time,dts_time,flags:format=start_time",
            "-of",
            "json",
            "-i",
        ])
        .arg(target);
    let limits = child::Limits {
        timeout: LOOKUP_TIMEOUT,
        stdout_max: MAX_OUTPUT,
        stderr_max: MAX_STDERR,
    };
    let output = child::run(command, limits, std::future::pending())
        .await
        .map_err(|e| {
            KeyframeError::Probe(match e {
                RunError::Timeout => "timed out".into(),
                other => other.to_string(),
            })
        })?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        return Err(KeyframeError::Probe(
            text.lines().next().unwrap_or("ffprobe failed").to_string(),
        ));
    }
    last_keyframe(&output.stdout, offset_ms)
}

#[derive(Deserialize)]
struct Packets {
    #[serde(default)]
    packets: Vec<Packet>,
    #[serde(default)]
    format: Format,
}

#[derive(Deserialize)]
struct Packet {
    pts_time: Option<String>,
    dts_time: Option<String>,
    #[serde(default)]
    flags: String,
}

#[derive(Deserialize, Default)]
struct Format {
    start_time: Option<String>,
}

/// The last keyframe at or before `offset_ms` in ffprobe's packet list, relative to the
/// media's start, within `MAX_KEYFRAME_GAP_MS` of the offset.
fn last_keyframe(json: &[u8], offset_ms: i64) -> Result<i64, KeyframeError> {
    let list: Packets =
        serde_json::from_slice(json).map_err(|e| KeyframeError::Probe(e.to_string()))?;
    let seconds = |s: &Option<String>| s.as_deref().and_then(|t| t.parse::<f64>().ok());
    let start_s = seconds(&list.format.start_time).unwrap_or(0.0);
    // In µs relative to the start, so that the ms rounding below is done once.
    let at_us = |p: &Packet| {
        seconds(&p.pts_time)
            .or_else(|| seconds(&p.dts_time))
            .map(|t| ((t - start_s) * 1e6).round() as i64)
    };
    let offset_us = offset_ms * 1000;
    let found = list
        .packets
        .iter()
        .filter(|p| p.flags.starts_with('K'))
        .filter_map(at_us)
        .filter(|t| *t <= offset_us)
        .max()
        .ok_or(KeyframeError::TooFar)?;
    if offset_us - found > MAX_KEYFRAME_GAP_MS * 1000 {
        return Err(KeyframeError::TooFar);
    }
    // Up to the next ms: `-ss` seeks to the keyframe at or before what it is given.
    Ok(((found.max(0) + 999) / 1000).min(offset_ms))
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_keyframe_before_the_offset_relative_to_the_start() {
        let json = br#"{"packets":[
            {"pts_time":"1.423222","flags":"K_"},{"pts_time":"1.463222","flags":"__"},
            {"pts_time":"3.423222","flags":"K_"},{"pts_time":"5.423222","flags":"K_"}],
            "format":{"start_time":"1.400000"}}"#;
        // 3.423222 - 1.4 = 2.023222 s, rounded up to 2.024.
        assert_eq!(last_keyframe(json, 3500), Ok(2024));
        assert_eq!(last_keyframe(json, 2024), Ok(2024));
        assert_eq!(last_keyframe(json, 2000), Ok(24));
        assert_eq!(last_keyframe(json, 14_000), Ok(4024));
        assert_eq!(last_keyframe(json, 14_100), Err(KeyframeError::TooFar));
        assert_eq!(
            last_keyframe(br#"{"packets":[]}"#, 100),
            Err(KeyframeError::TooFar)
        );
        assert!(matches!(
            last_keyframe(b"garbage", 100),
            Err(KeyframeError::Probe(_))
        ));
    }
}
