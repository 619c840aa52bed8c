//! FFmpeg, one run per programme. The parts, one concept each:
//!
//! - `hardware`: what the machine can do (`Hardware`: encoder, size rules, drawtext).
//! - `argv`: the command line as a pure function of (hardware, output profile, `Job`):
//!   decisions first (inputs, `VideoPlan`, `AudioPlan`), then their rendering.
//! - `process`: the child process in its own group, its stderr tail, and a stop that
//!   always reaps (killpg SIGTERM, bounded wait, SIGKILL, wait).
//! - `overlay`: a watermark drawn over the picture (a filter graph, pure).
//! - `keyframe`: where a copy mid-programme starts (one small ffprobe read).
//! - `probe`: the start-up check of the hardware encoder and of drawtext.
//!
//! Callers use the names re-exported here (`ffmpeg::command`, `ffmpeg::spawn`, ...), not the
//! parts' paths. It knows nothing of channels, viewers or SQL.

mod argv;
mod hardware;
mod keyframe;
mod overlay;
mod probe;
mod process;

pub use argv::{
    command, command_for, decide, generated_tone_hz, video_copyable, wants_keyframe, CopyFrom,
    Decision, EncodeReason, Job, Source, StreamMode, MAX_KEYFRAME_GAP_MS,
};
pub use hardware::{Encoder, Hardware, DEFAULT_VAAPI_DEVICE};
pub use keyframe::{keyframe_before, KeyframeError};
pub use probe::probe;
pub use process::{spawn, Process, SpawnError, StderrTail, STDERR_TAIL_LINES, STOP_GRACE};

/// An argv as one line, for the tests' snapshots.
#[cfg(test)]
fn render(args: &[std::ffi::OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
