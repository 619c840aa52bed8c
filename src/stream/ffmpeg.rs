//! FFmpeg: the command line, built by a pure function from (hardware, output profile, what
//! to play, seek, duration), and the child process — its own process group, stdout piped to
//! the feeder, the last stderr lines kept for the log and the API, and a stop that always
//! reaps: killpg SIGTERM, a bounded wait, SIGKILL, wait.
//!
//! Every item is normalised to the channel's output profile with the same PIDs and stream
//! layout, which is what lets the splicer join items; stream copy is used only when the
//! source already matches the profile.
//!
//! It knows nothing of channels, viewers or SQL.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use smol_str::SmolStr;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;

use crate::board::Board;
use crate::scheduler::cursor::{Input, MediaInfo, OutputProfile};

use super::splicer::{OUT_PMT_PID, OUT_VIDEO_PID, PROGRAM_NUMBER};

/// The video encoder FFmpeg runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoder {
    Libx264,
    /// Raspberry Pi 3/4: yuv420p only, width a multiple of 32, height of 16.
    V4l2m2m,
    /// x86 GPUs; the device node (`/dev/dri/renderD128`).
    Vaapi {
        device: SmolStr,
    },
}

/// What the machine can do: the encoder, its size rules, and whether drawtext works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardware {
    pub encoder: Encoder,
    pub width_align: u32,
    pub height_align: u32,
    pub max_width: u32,
    pub max_height: u32,
    /// `-threads` for the encoder; 0 lets FFmpeg choose.
    pub threads: u32,
    /// drawtext needs fontconfig and a font; without them titles are left out.
    pub drawtext: bool,
}

/// The render node VAAPI uses unless the settings name another.
pub const DEFAULT_VAAPI_DEVICE: &str = "/dev/dri/renderD128";

impl Hardware {
    /// The board's encoder, unless the `ffmpeg.hwaccel` setting overrides it
    /// ("" = the board's, `none`, `vaapi`, `v4l2m2m`).
    pub fn from_board(board: &Board, ffmpeg: &crate::settings::Ffmpeg) -> Hardware {
        let device = SmolStr::from(
            ffmpeg
                .hwaccel_device
                .as_deref()
                .unwrap_or(DEFAULT_VAAPI_DEVICE),
        );
        let encoder = match ffmpeg.hwaccel.as_str() {
            "none" => Encoder::Libx264,
            "vaapi" => Encoder::Vaapi { device },
            "v4l2m2m" => Encoder::V4l2m2m,
            _ => match board.encoder.as_str() {
                "h264_v4l2m2m" => Encoder::V4l2m2m,
                "h264_vaapi" => Encoder::Vaapi { device },
                _ => Encoder::Libx264,
            },
        };
        Hardware {
            encoder,
            width_align: board.width_align.max(2),
            height_align: board.height_align.max(2),
            max_width: board.max_width,
            max_height: board.max_height,
            threads: ffmpeg.threads,
            drawtext: true,
        }
    }

    /// The software fallback: libx264 with only its own (even-size) rule.
    pub fn software(&self) -> Hardware {
        Hardware {
            encoder: Encoder::Libx264,
            width_align: 2,
            height_align: 2,
            ..self.clone()
        }
    }

    /// The output size for `profile`: within the encoder's limits, rounded down to its
    /// alignment (never below one aligned block).
    pub fn output_size(&self, profile: &OutputProfile) -> (u32, u32) {
        let fit = |v: u32, max: u32, align: u32| (v.min(max) / align * align).max(align);
        (
            fit(profile.width, self.max_width, self.width_align),
            fit(profile.height, self.max_height, self.height_align),
        )
    }
}

/// What one FFmpeg plays.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Media {
        input: &'a Input,
        media: &'a MediaInfo,
        title: &'a str,
    },
    /// A generated card with a line of text and silence ("Offline", "Technical difficulties").
    Slate { text: &'a str },
}

#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub source: Source<'a>,
    /// Where to start inside the media.
    pub seek_ms: i64,
    /// How much to play; `None` plays to the end.
    pub duration_ms: Option<i64>,
}

/// The tone of a generated programme: `generated://demo/N` gets its own frequency, so each
/// is recognisable by ear and by tests.
pub fn generated_tone_hz(url: &str) -> u32 {
    let n: u32 = url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match n {
        1 => 1000,
        2 => 440,
        3 => 880,
        n => 330 + 110 * (n % 16),
    }
}

/// Whether the source can be copied as it is: H.264 + AAC already at the profile's size,
/// frame rate and audio layout, and the profile encodes H.264 + AAC.
pub fn can_copy(profile: &OutputProfile, media: &MediaInfo) -> bool {
    let h264_out = matches!(
        profile.video_codec.as_str(),
        "libx264" | "h264" | "h264_v4l2m2m" | "h264_vaapi" | "copy"
    );
    let aac_out = matches!(profile.audio_codec.as_str(), "aac" | "copy");
    let same_rate = media
        .frame_rate
        .is_some_and(|r| (r - profile.framerate as f64).abs() < 0.01);
    let progressive = !profile.deinterlace
        && media
            .field_order
            .as_deref()
            .is_none_or(|f| f == "progressive" || f == "unknown");
    h264_out
        && aac_out
        && progressive
        && media.video_codec.as_deref() == Some("h264")
        && media.width == Some(profile.width)
        && media.height == Some(profile.height)
        && same_rate
        && media.audio_codec.as_deref() == Some("aac")
        && media.audio_channels == Some(profile.audio_channels)
        && media.audio_sample_rate == Some(profile.audio_sample_rate)
}

/// Text safe inside a drawtext `text='...'`: letters, digits and plain punctuation.
fn drawtext_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric() || " -_.,!?()&#+".contains(*c))
        .take(60)
        .collect()
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The argv (without the program) of the FFmpeg that plays `job` in `profile`.
pub fn command(hw: &Hardware, profile: &OutputProfile, job: &Job<'_>) -> Vec<OsString> {
    let mut a = Argv(Vec::with_capacity(64));
    let (w, h) = hw.output_size(profile);
    let rate = profile.framerate.max(1);
    let sr = profile.audio_sample_rate;
    let layout = if profile.audio_channels == 1 {
        "mono"
    } else {
        "stereo"
    };
    a.push_all(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "warning",
    ]);
    if let Encoder::Vaapi { device } = &hw.encoder {
        a.push_all(&["-vaapi_device", device]);
    }
    let mut copy = false;
    // Inputs, and the map of the video and audio streams.
    let (video_map, audio_map, overlay): (&str, &str, Option<String>) = match job.source {
        Source::Slate { text } => {
            a.push_all(&["-f", "lavfi", "-i"]);
            a.push(format!("color=c=0x1c2430:s={w}x{h}:r={rate}"));
            a.push_all(&["-f", "lavfi", "-i"]);
            a.push(format!("anullsrc=r={sr}:cl={layout}"));
            ("0:v:0", "1:a:0", Some(drawtext_safe(text)))
        }
        Source::Media {
            input: Input::Generated(url),
            title,
            ..
        } => {
            a.push_all(&["-f", "lavfi", "-i"]);
            a.push(format!("testsrc2=size={w}x{h}:rate={rate}"));
            a.push_all(&["-f", "lavfi", "-i"]);
            a.push(format!(
                "sine=frequency={}:sample_rate={sr}",
                generated_tone_hz(url)
            ));
            ("0:v:0", "1:a:0", Some(drawtext_safe(title)))
        }
        Source::Media {
            input: Input::Offline,
            ..
        } => {
            a.push_all(&["-f", "lavfi", "-i"]);
            a.push(format!("color=c=0x1c2430:s={w}x{h}:r={rate}"));
            a.push_all(&["-f", "lavfi", "-i"]);
            a.push(format!("anullsrc=r={sr}:cl={layout}"));
            ("0:v:0", "1:a:0", Some("Offline".to_string()))
        }
        Source::Media { input, media, .. } => {
            // Copy only from the start: copying from a seek point inside a GOP drops the
            // video up to the next keyframe while the audio starts at once.
            copy = can_copy(profile, media) && job.seek_ms == 0;
            if let Input::Url(_) = input {
                a.push_all(&[
                    "-reconnect",
                    "1",
                    "-reconnect_streamed",
                    "1",
                    "-reconnect_delay_max",
                    "5",
                ]);
            }
            if job.seek_ms > 0 {
                a.push_all(&["-ss"]);
                a.push(seconds(job.seek_ms));
            }
            a.push_all(&["-i"]);
            match input {
                Input::File(path) => a.0.push(path.as_os_str().to_owned()),
                Input::Url(url) => a.push(url.clone()),
                Input::Generated(_) | Input::Offline => {}
            }
            let has_video = media.video_codec.is_some() || media.audio_codec.is_none();
            let has_audio = media.audio_codec.is_some() || media.video_codec.is_none();
            let mut next_input = 1;
            let video_map = if has_video {
                "0:v:0"
            } else {
                copy = false;
                a.push_all(&["-f", "lavfi", "-i"]);
                a.push(format!("color=c=black:s={w}x{h}:r={rate}"));
                next_input += 1;
                "1:v:0"
            };
            let audio_map = if has_audio {
                "0:a:0"
            } else {
                copy = false;
                a.push_all(&["-f", "lavfi", "-i"]);
                a.push(format!("anullsrc=r={sr}:cl={layout}"));
                if next_input == 1 {
                    "1:a:0"
                } else {
                    "2:a:0"
                }
            };
            (video_map, audio_map, None)
        }
    };
    a.push_all(&["-map", video_map, "-map", audio_map]);
    if let Some(ms) = job.duration_ms {
        a.push_all(&["-t"]);
        a.push(seconds(ms.max(1)));
    }
    if copy {
        a.push_all(&["-c:v", "copy", "-c:a", "copy"]);
    } else {
        a.push_all(&["-vf"]);
        a.push(video_filter(hw, profile, (w, h), overlay.as_deref()));
        let gop = (rate * 2).to_string();
        match &hw.encoder {
            Encoder::Libx264 => {
                a.push_all(&["-c:v", "libx264", "-preset"]);
                a.push(profile.quality_preset.to_string());
                a.push_all(&["-tune", "zerolatency", "-pix_fmt", "yuv420p"]);
            }
            Encoder::V4l2m2m => a.push_all(&["-c:v", "h264_v4l2m2m", "-pix_fmt", "yuv420p"]),
            Encoder::Vaapi { .. } => a.push_all(&["-c:v", "h264_vaapi"]),
        }
        a.push_all(&[
            "-b:v",
            &profile.video_bitrate,
            "-maxrate",
            &profile.video_bitrate,
        ]);
        a.push_all(&["-bufsize", &profile.video_buffer_size]);
        a.push_all(&["-g", &gop, "-keyint_min", &gop]);
        if hw.encoder == Encoder::Libx264 {
            a.push_all(&["-sc_threshold", "0"]);
        }
        if hw.threads > 0 {
            a.push_all(&["-threads"]);
            a.push(hw.threads.to_string());
        }
        a.push_all(&["-af", "aresample=async=1", "-c:a", "aac", "-b:a"]);
        a.push(profile.audio_bitrate.to_string());
        a.push_all(&["-ac"]);
        a.push(profile.audio_channels.max(1).to_string());
        a.push_all(&["-ar"]);
        a.push(sr.to_string());
    }
    a.push_all(&["-f", "mpegts", "-mpegts_service_id"]);
    a.push(PROGRAM_NUMBER.to_string());
    a.push_all(&["-mpegts_pmt_start_pid"]);
    a.push(OUT_PMT_PID.0.to_string());
    a.push_all(&["-mpegts_start_pid"]);
    a.push(OUT_VIDEO_PID.0.to_string());
    a.push_all(&["-pes_payload_size", "0", "-flush_packets", "1", "pipe:1"]);
    a.0
}

fn video_filter(
    hw: &Hardware,
    profile: &OutputProfile,
    (w, h): (u32, u32),
    overlay: Option<&str>,
) -> String {
    let mut vf = String::with_capacity(256);
    if profile.deinterlace {
        vf.push_str("yadif,");
    }
    match profile.scaling_mode.as_str() {
        "stretch" => vf.push_str(&format!("scale={w}:{h}")),
        "crop" => vf.push_str(&format!(
            "scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
        )),
        _ => vf.push_str(&format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
        )),
    }
    vf.push_str(&format!(",setsar=1,fps={}", profile.framerate.max(1)));
    if let (Some(text), true) = (overlay, hw.drawtext) {
        let size = (h / 12).max(8);
        vf.push_str(&format!(
            ",drawtext=text='{text}':fontcolor=white:fontsize={size}:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h/8"
        ));
        vf.push_str(&format!(
            ",drawtext=text='%{{localtime\\:%X}}':fontcolor=white:fontsize={size}:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h*3/4"
        ));
    }
    match hw.encoder {
        Encoder::Vaapi { .. } => vf.push_str(",format=nv12,hwupload"),
        _ => vf.push_str(",format=yuv420p"),
    }
    vf
}

struct Argv(Vec<OsString>);

impl Argv {
    fn push(&mut self, s: String) {
        self.0.push(s.into());
    }
    fn push_all(&mut self, items: &[&str]) {
        self.0.extend(items.iter().map(OsString::from));
    }
}

/// Lines of FFmpeg's stderr kept: enough for the error and its context, small enough to
/// show in the API.
pub const STDERR_TAIL_LINES: usize = 12;
/// A longer line is cut (FFmpeg's lines are short; this bounds a garbage one).
const STDERR_LINE_MAX: usize = 300;

/// The last lines an FFmpeg wrote to stderr, shared with stats readers.
#[derive(Default)]
pub struct StderrTail(Mutex<heapless::Deque<String, STDERR_TAIL_LINES>>);

impl StderrTail {
    pub fn push(&self, line: &str) {
        let mut cut = line.trim_end();
        if cut.len() > STDERR_LINE_MAX {
            let mut end = STDERR_LINE_MAX;
            while !cut.is_char_boundary(end) {
                end -= 1;
            }
            cut = &cut[..end];
        }
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.is_full() {
            q.pop_front();
        }
        let _ = q.push_back(cut.to_string());
    }

    pub fn lines(&self) -> Vec<String> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().cloned().collect()
    }
}

/// A running FFmpeg in its own process group.
pub struct Process {
    child: Child,
    pgid: nix::unistd::Pid,
    pub stdout: Option<ChildStdout>,
    stderr_task: Option<JoinHandle<()>>,
    reaped: bool,
}

/// After SIGTERM, FFmpeg gets this long to exit before SIGKILL (it exits in milliseconds
/// when writing to a pipe; the whole shutdown budget is 5 s).
pub const STOP_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub enum SpawnError {
    NotFound,
    Io(std::io::Error),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::NotFound => f.write_str("ffmpeg is not installed"),
            SpawnError::Io(e) => write!(f, "cannot start ffmpeg: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Starts `program args` in a new process group, stdout piped, stderr into `tail`.
pub fn spawn(
    program: &Path,
    args: &[OsString],
    tail: Arc<StderrTail>,
) -> Result<Process, SpawnError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // The net, not the plan: `stop` reaps; this covers a task that is aborted.
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound,
        _ => SpawnError::Io(e),
    })?;
    let Some(pid) = child.id() else {
        return Err(SpawnError::Io(std::io::Error::other(
            "ffmpeg exited at once",
        )));
    };
    let pgid = nix::unistd::Pid::from_raw(pid as i32);
    let stdout = child.stdout.take();
    let stderr_task = child.stderr.take().map(|stderr| {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "ffmpeg", "{line}");
                tail.push(&line);
            }
        })
    });
    Ok(Process {
        child,
        pgid,
        stdout,
        stderr_task,
        reaped: false,
    })
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.pgid.as_raw() as u32
    }

    /// Waits for the exit (the stdout EOF usually comes first).
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.reaped = status.is_ok();
        self.join_stderr().await;
        status
    }

    /// The exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.reaped = true;
        }
        status
    }

    /// killpg SIGTERM, up to `STOP_GRACE`, killpg SIGKILL, then always wait.
    pub async fn stop(mut self) -> Option<ExitStatus> {
        if !self.reaped {
            let _ = killpg(self.pgid, Signal::SIGTERM);
            match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
                Ok(status) => {
                    self.reaped = true;
                    // Grandchildren (none expected) go with the group.
                    let _ = killpg(self.pgid, Signal::SIGKILL);
                    self.join_stderr().await;
                    return status.ok();
                }
                Err(_) => {
                    let _ = killpg(self.pgid, Signal::SIGKILL);
                }
            }
            let status = self.child.wait().await.ok();
            self.reaped = true;
            self.join_stderr().await;
            return status;
        }
        self.join_stderr().await;
        self.child.try_wait().ok().flatten()
    }

    async fn join_stderr(&mut self) {
        if let Some(task) = self.stderr_task.take() {
            // The pipe closes when the group is gone; a bounded wait covers a grandchild
            // that kept it open.
            if tokio::time::timeout(Duration::from_millis(200), task)
                .await
                .is_err()
            {
                tracing::debug!("ffmpeg stderr reader did not finish");
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.reaped {
            // Aborted before `stop`: kill the whole group; tokio reaps the child.
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
        if let Some(task) = self.stderr_task.take() {
            task.abort();
        }
    }
}

/// Checks at start that the hardware encoder encodes one frame and that drawtext works;
/// falls back to libx264 (with a warning) and to no titles. Bounded by `PROBE_TIMEOUT`.
pub async fn probe(program: &Path, hw: &Hardware) -> Hardware {
    let mut out = hw.clone();
    if hw.encoder != Encoder::Libx264 {
        let profile = OutputProfile {
            width: 320,
            height: 240,
            ..OutputProfile::default()
        };
        let (w, h) = hw.output_size(&profile);
        let mut args: Vec<OsString> = Vec::new();
        let mut add = |s: &str| args.push(s.into());
        add("-hide_banner");
        add("-nostdin");
        add("-loglevel");
        add("error");
        if let Encoder::Vaapi { device } = &hw.encoder {
            add("-vaapi_device");
            add(device);
        }
        add("-f");
        add("lavfi");
        add("-i");
        add(&format!("testsrc2=size={w}x{h}:rate=25"));
        add("-frames:v");
        add("1");
        match &hw.encoder {
            Encoder::Vaapi { .. } => {
                add("-vf");
                add("format=nv12,hwupload");
                add("-c:v");
                add("h264_vaapi");
            }
            _ => {
                add("-pix_fmt");
                add("yuv420p");
                add("-c:v");
                add("h264_v4l2m2m");
            }
        }
        add("-f");
        add("null");
        add("-");
        let (ok, why) = run_probe(program, &args).await;
        if !ok {
            tracing::warn!(encoder = ?hw.encoder, reason = %why, "hardware encoder failed its one-frame probe; using libx264");
            out = out.software();
        }
    }
    let args: Vec<OsString> = [
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
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let (ok, why) = run_probe(program, &args).await;
    if !ok {
        tracing::warn!(reason = %why, "drawtext does not work (fontconfig or fonts missing?); slates and generated programmes will have no text");
        out.drawtext = false;
    }
    out
}

/// A probe gets 10 s: a hardware encoder that hangs is as unusable as one that fails.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

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
    use super::*;
    use expect_test::expect;

    fn render(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn board(name: &str) -> Hardware {
        let mut hw = Hardware::from_board(
            &Board::by_name(name).unwrap(),
            &crate::settings::Ffmpeg::default(),
        );
        hw.drawtext = true;
        hw
    }

    fn small() -> OutputProfile {
        OutputProfile {
            width: 320,
            height: 240,
            framerate: 25,
            video_bitrate: "500k".into(),
            video_buffer_size: "1000k".into(),
            quality_preset: "ultrafast".into(),
            ..OutputProfile::default()
        }
    }

    fn h264_file() -> MediaInfo {
        MediaInfo {
            duration_ms: Some(8000),
            container: Some("mov,mp4".into()),
            video_codec: Some("h264".into()),
            width: Some(320),
            height: Some(240),
            frame_rate: Some(25.0),
            audio_codec: Some("aac".into()),
            audio_channels: Some(2),
            audio_sample_rate: Some(48000),
            ..MediaInfo::default()
        }
    }

    #[test]
    fn a_matching_file_is_copied_and_trimmed_but_transcoded_when_seeking() {
        let input = Input::File("/media/a b.mp4".into());
        let media = h264_file();
        let job = Job {
            source: Source::Media {
                input: &input,
                media: &media,
                title: "A",
            },
            seek_ms: 0,
            duration_ms: Some(6250),
        };
        expect!["-hide_banner -nostdin -nostats -loglevel warning -i /media/a b.mp4 -map 0:v:0 -map 0:a:0 -t 6.250 -c:v copy -c:a copy -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"]
            .assert_eq(&render(&command(&board("generic"), &small(), &job)));
        let seeking = Job {
            seek_ms: 1500,
            ..job
        };
        let argv = render(&command(&board("generic"), &small(), &seeking));
        assert!(argv.contains("-ss 1.500 -i /media/a b.mp4"), "{argv}");
        assert!(argv.contains("-c:v libx264"), "{argv}");
    }

    #[test]
    fn a_different_file_is_transcoded_with_libx264() {
        let input = Input::File("/m/x.mkv".into());
        let media = MediaInfo {
            width: Some(1920),
            height: Some(1080),
            ..h264_file()
        };
        let job = Job {
            source: Source::Media {
                input: &input,
                media: &media,
                title: "X",
            },
            seek_ms: 0,
            duration_ms: Some(60_000),
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -i /m/x.mkv -map 0:v:0 -map 0:a:0 -t 60.000 -vf scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&board("generic"), &small(), &job)));
    }

    #[test]
    fn the_pi_uses_v4l2m2m_at_aligned_sizes() {
        let input = Input::File("/m/x.mkv".into());
        let media = MediaInfo {
            audio_codec: None,
            ..h264_file()
        };
        let profile = OutputProfile {
            width: 854,
            height: 480,
            ..OutputProfile::default()
        };
        let job = Job {
            source: Source::Media {
                input: &input,
                media: &media,
                title: "X",
            },
            seek_ms: 0,
            duration_ms: None,
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -i /m/x.mkv -f lavfi -i anullsrc=r=48000:cl=stereo -map 0:v:0 -map 1:a:0 -vf scale=832:480:force_original_aspect_ratio=decrease,pad=832:480:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p -c:v h264_v4l2m2m -pix_fmt yuv420p -b:v 4000k -maxrate 4000k -bufsize 8000k -g 60 -keyint_min 60 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&board("rpi4"), &profile, &job)));
    }

    #[test]
    fn vaapi_uploads_nv12() {
        let job = Job {
            source: Source::Slate {
                text: "Technical difficulties: we'll be back",
            },
            seek_ms: 0,
            duration_ms: Some(5000),
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -vaapi_device /dev/dri/renderD128 -f lavfi -i color=c=0x1c2430:s=1280x720:r=30 -f lavfi -i anullsrc=r=48000:cl=stereo -map 0:v:0 -map 1:a:0 -t 5.000 -vf scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,drawtext=text='Technical difficulties well be back':fontcolor=white:fontsize=60:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h/8,drawtext=text='%{localtime\:%X}':fontcolor=white:fontsize=60:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h*3/4,format=nv12,hwupload -c:v h264_vaapi -b:v 4000k -maxrate 4000k -bufsize 8000k -g 60 -keyint_min 60 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&board("x86-vaapi"), &OutputProfile::default(), &job)));
    }

    #[test]
    fn generated_programmes_get_a_tone_and_a_title() {
        let input = Input::Generated("generated://demo/2".into());
        let media = MediaInfo::default();
        let mut hw = board("generic");
        hw.drawtext = false;
        let job = Job {
            source: Source::Media {
                input: &input,
                media: &media,
                title: "Moving Pattern",
            },
            seek_ms: 30_000,
            duration_ms: Some(570_000),
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -map 0:v:0 -map 1:a:0 -t 570.000 -vf scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&hw, &small(), &job)));
    }

    /// The sources and profile options the snapshots above leave out: a URL with a seek and
    /// no video, the Offline input in mono with threads, deinterlace and crop, and a titled
    /// test pattern stretched.
    #[test]
    fn other_sources_and_profile_options() {
        let url = Input::Url("http://nas/a.mp3".into());
        let audio_only = MediaInfo {
            video_codec: None,
            width: None,
            height: None,
            frame_rate: None,
            ..h264_file()
        };
        let job = Job {
            source: Source::Media {
                input: &url,
                media: &audio_only,
                title: "A",
            },
            seek_ms: 61_005,
            duration_ms: Some(0),
        };
        expect!["-hide_banner -nostdin -nostats -loglevel warning -reconnect 1 -reconnect_streamed 1 -reconnect_delay_max 5 -ss 61.005 -i http://nas/a.mp3 -f lavfi -i color=c=black:s=320x240:r=25 -map 1:v:0 -map 0:a:0 -t 0.001 -vf scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"].assert_eq(&render(&command(&board("generic"), &small(), &job)));

        let offline = Input::Offline;
        let media = MediaInfo::default();
        let mut hw = board("generic");
        hw.threads = 2;
        let profile = OutputProfile {
            audio_channels: 1,
            deinterlace: true,
            scaling_mode: "crop".into(),
            ..small()
        };
        let job = Job {
            source: Source::Media {
                input: &offline,
                media: &media,
                title: "ignored",
            },
            seek_ms: 0,
            duration_ms: None,
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -f lavfi -i color=c=0x1c2430:s=320x240:r=25 -f lavfi -i anullsrc=r=48000:cl=mono -map 0:v:0 -map 1:a:0 -vf yadif,scale=320:240:force_original_aspect_ratio=increase,crop=320:240,setsar=1,fps=25,drawtext=text='Offline':fontcolor=white:fontsize=20:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h/8,drawtext=text='%{localtime\:%X}':fontcolor=white:fontsize=20:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h*3/4,format=yuv420p -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -threads 2 -af aresample=async=1 -c:a aac -b:a 128k -ac 1 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]].assert_eq(&render(&command(&hw, &profile, &job)));

        let generated = Input::Generated("generated://demo/9".into());
        let profile = OutputProfile {
            scaling_mode: "stretch".into(),
            framerate: 0,
            ..small()
        };
        let job = Job {
            source: Source::Media {
                input: &generated,
                media: &media,
                title: "Tom's \"Show\": 1/2",
            },
            seek_ms: 0,
            duration_ms: Some(1),
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -f lavfi -i testsrc2=size=320x240:rate=1 -f lavfi -i sine=frequency=1320:sample_rate=48000 -map 0:v:0 -map 1:a:0 -t 0.001 -vf scale=320:240,setsar=1,fps=1,drawtext=text='Toms Show 12':fontcolor=white:fontsize=20:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h/8,drawtext=text='%{localtime\:%X}':fontcolor=white:fontsize=20:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h*3/4,format=yuv420p -c:v h264_v4l2m2m -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 2 -keyint_min 2 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]].assert_eq(&render(&command(&board("rpi4"), &profile, &job)));
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let tail = StderrTail::default();
        for i in 0..30 {
            tail.push(&format!("line {i}"));
        }
        tail.push(&"é".repeat(400));
        let lines = tail.lines();
        assert_eq!(lines.len(), STDERR_TAIL_LINES);
        assert_eq!(lines[0], "line 19");
        assert!(lines.last().unwrap().len() <= STDERR_LINE_MAX);
    }
}
