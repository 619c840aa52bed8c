//! The start-up probe: the hardware encoder must encode one frame and drawtext must draw,
//! else the channels fall back to libx264 (with a warning) and to no titles. Each check is
//! one short FFmpeg run, bounded by `PROBE_TIMEOUT`.
//!
//! It knows nothing of channels; it only narrows a `Hardware`.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::scheduler::cursor::OutputProfile;

use super::hardware::{Encoder, Hardware};
use super::process::{spawn, StderrTail};

/// A probe gets 10 s: a hardware encoder that hangs is as unusable as one that fails.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The drawtext check: one 64×64 frame with the clock the slates show.
const DRAWTEXT_PROBE: [&str; 15] = [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    "color=s=64x64:r=1",
    "-vf",
    "drawtext=text='%{localtime\\:%X}'",
    "-frames:v",
    "1",
    "-f",
    "null",
    "-",
];

/// Checks at start that the hardware encoder encodes one frame and that drawtext works;
/// falls back to libx264 (with a warning) and to no titles. Bounded by `PROBE_TIMEOUT`.
pub async fn probe(program: &Path, hw: &Hardware) -> Hardware {
    let mut out = hw.clone();
    if let Some(args) = encoder_probe(hw) {
        let (ok, why) = run_probe(program, &args).await;
        if !ok {
            tracing::warn!(encoder = ?hw.encoder, reason = %why, "hardware encoder failed its one-frame probe; using libx264");
            out = out.software();
        }
    }
    let args: Vec<OsString> = DRAWTEXT_PROBE.iter().map(OsString::from).collect();
    let (ok, why) = run_probe(program, &args).await;
    if !ok {
        tracing::warn!(reason = %why, "drawtext does not work (fontconfig or fonts missing?); slates and generated programmes will have no text");
        out.drawtext = false;
    }
    out
}

/// The argv that encodes one test frame with `hw`'s hardware encoder at a size it accepts;
/// `None` for libx264, which needs no check.
fn encoder_probe(hw: &Hardware) -> Option<Vec<OsString>> {
    if hw.encoder == Encoder::Libx264 {
        return None;
    }
    let profile = OutputProfile {
        width: 320,
        height: 240,
        ..OutputProfile::default()
    };
    let (w, h) = hw.output_size(&profile);
    let mut args: Vec<OsString> = Vec::new();
    let mut add = |s: &str| args.push(s.into());
    for s in ["-hide_banner", "-nostdin", "-loglevel", "error"] {
        add(s);
    }
    if let Encoder::Vaapi { device } = &hw.encoder {
        add("-vaapi_device");
        add(device);
    }
    for s in ["-f", "lavfi", "-i"] {
        add(s);
    }
    add(&format!("testsrc2=size={w}x{h}:rate=25"));
    add("-frames:v");
    add("1");
    let encode = match &hw.encoder {
        Encoder::Vaapi { .. } => ["-vf", "format=nv12,hwupload", "-c:v", "h264_vaapi"],
        _ => ["-pix_fmt", "yuv420p", "-c:v", "h264_v4l2m2m"],
    };
    for s in encode.into_iter().chain(["-f", "null", "-"]) {
        add(s);
    }
    Some(args)
}

async fn run_probe(program: &Path, args: &[OsString]) -> (bool, String) {
    let tail = Arc::new(StderrTail::default());
    let mut process = match spawn(program, args, tail.clone()) {
        Ok(p) => p,
        Err(e) => return (false, e.to_string()),
    };
    // Nothing is written to stdout (`-f null`); drop the pipe so it cannot fill.
    drop(process.stdout.take());
    match tokio::time::timeout(PROBE_TIMEOUT, process.wait()).await {
        Ok(Ok(status)) if status.success() => (true, String::new()),
        Ok(_) => (false, tail.lines().join(" | ")),
        Err(_) => {
            process.stop().await;
            (false, "timed out".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;
    use crate::board::Board;

    #[test]
    fn the_encoder_probe_encodes_one_frame_with_the_boards_encoder() {
        let hw = |name: &str| {
            Hardware::from_board(
                &Board::by_name(name).expect("a known board"),
                &crate::settings::Ffmpeg::default(),
            )
        };
        assert_eq!(encoder_probe(&hw("generic")), None);
        expect_test::expect!["-hide_banner -nostdin -loglevel error -vaapi_device /dev/dri/renderD128 -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 1 -vf format=nv12,hwupload -c:v h264_vaapi -f null -"]
            .assert_eq(&render(&encoder_probe(&hw("x86-vaapi")).unwrap_or_default()));
        expect_test::expect!["-hide_banner -nostdin -loglevel error -f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 1 -pix_fmt yuv420p -c:v h264_v4l2m2m -f null -"]
            .assert_eq(&render(&encoder_probe(&hw("rpi4")).unwrap_or_default()));
    }
}
