//! The FFmpeg command line, a pure function of (hardware, output profile, what to play,
//! seek, duration). It is built in two steps: first the decisions — what FFmpeg reads
//! (`Inputs`) and what becomes of the video and the audio (`VideoPlan`, `AudioPlan`) — then
//! their rendering, one small function per part of the argv (globals, inputs, maps, video,
//! audio, muxer), in FFmpeg's order.
//!
//! Every item comes out with the same PIDs and stream layout, which is what lets the
//! splicer join items. Copy first (the profile's `copy_mode`): progressive 8-bit H.264 the
//! players take is passed through at its own size and rate (`passthrough`; `exact` only
//! when it matches the profile), from the start or, mid-programme, from the keyframe at
//! or before the offset that the caller found (`CopyFrom`); its audio is copied when it is
//! AAC in the profile's rate and layout, else encoded alone. Everything else is encoded to
//! the profile. `Decision` says which, and why (`mode`, `mode_reason`).
//!
//! It knows nothing of processes, channels, viewers or SQL.

use std::ffi::OsString;

use crate::kinds::CopyMode;
use crate::scheduler::cursor::{Input, MediaInfo, OutputProfile, Watermark};
use crate::stream::splicer::{OUT_PMT_PID, OUT_VIDEO_PID, PROGRAM_NUMBER};

use super::hardware::{Encoder, Hardware};
use super::overlay::{Overlay, Rect};

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
    /// Drawn over a programme's picture (never over a slate); forces a video encode.
    pub watermark: Option<&'a Watermark>,
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

/// Why a programme's video is encoded rather than copied: the `mode_reason` the dashboard
/// and health show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeReason {
    /// The profile's `copy_mode` is `never`.
    Never,
    /// The profile encodes something other than H.264.
    OutputNotH264,
    /// A slate, a generated programme, or a file with no video: the picture is made here.
    Generated,
    /// The source's video is not H.264 (or was never probed).
    NotH264,
    Interlaced,
    /// An H.264 profile, level or pixel format the players may not take.
    Unsupported,
    /// `copy_mode` `exact` and the size or frame rate is not the profile's.
    NotExact,
    /// Mid-programme, no keyframe within `MAX_KEYFRAME_GAP_MS` before the offset (or it
    /// could not be looked up).
    NoKeyframe,
    /// Copying this item failed; it is transcoded instead.
    CopyFailed,
    /// A watermark is drawn over the picture.
    Watermark,
}

impl EncodeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EncodeReason::Never => "the profile's copy_mode is never",
            EncodeReason::OutputNotH264 => "the profile does not encode H.264",
            EncodeReason::Generated => "the picture is generated",
            EncodeReason::NotH264 => "the source video is not H.264",
            EncodeReason::Interlaced => "the source video is interlaced",
            EncodeReason::Unsupported => {
                "the source's H.264 profile, level or pixel format is beyond the players"
            }
            EncodeReason::NotExact => "the source's size or frame rate is not the profile's",
            EncodeReason::NoKeyframe => "no keyframe within 10 s before the offset",
            EncodeReason::CopyFailed => "copying failed",
            EncodeReason::Watermark => "a watermark is drawn",
        }
    }
}

/// What FFmpeg does with the video and the audio, as the dashboard names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamMode {
    /// Video and audio copied.
    Copy,
    /// Video copied, audio encoded.
    Audio,
    /// Video encoded.
    #[default]
    Transcode,
}

impl StreamMode {
    pub const ALL: [StreamMode; 3] = [StreamMode::Copy, StreamMode::Audio, StreamMode::Transcode];

    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Copy => "copy",
            StreamMode::Audio => "audio",
            StreamMode::Transcode => "transcode",
        }
    }
}

/// What the caller knows of where a video copy may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFrom {
    /// Nothing was looked up: a copy is possible only when the job plays from the start.
    StartOnly,
    /// The keyframe at or before the job's seek is this far into the media (ms): a copy
    /// plays from it, for the job's duration, so it still ends on time.
    Keyframe(i64),
    /// No copy for this run.
    Refused(EncodeReason),
}

/// A source whose keyframes are further apart than this is encoded mid-programme: a copy
/// would start this much earlier in the content than the guide says.
pub const MAX_KEYFRAME_GAP_MS: i64 = 10_000;

/// H.264 profiles every player decodes (8-bit 4:2:0); High 10, 4:2:2 and 4:4:4 are not.
const PLAYABLE_H264_PROFILES: [&str; 5] = [
    "Constrained Baseline",
    "Baseline",
    "Main",
    "Extended",
    "High",
];

/// Whether the source's video can be passed through under `profile` on `hw`; else why not.
/// It does not look at where the job starts (`CopyFrom` does).
pub fn video_copyable(
    hw: &Hardware,
    profile: &OutputProfile,
    media: &MediaInfo,
) -> Result<(), EncodeReason> {
    let h264_out = matches!(
        profile.video_codec.as_str(),
        "libx264" | "h264" | "h264_v4l2m2m" | "h264_vaapi" | "copy"
    );
    if profile.copy_mode == CopyMode::Never {
        return Err(EncodeReason::Never);
    }
    if !h264_out {
        return Err(EncodeReason::OutputNotH264);
    }
    if media.video_codec.as_deref() != Some("h264") {
        return Err(EncodeReason::NotH264);
    }
    let progressive = media
        .field_order
        .as_deref()
        .is_none_or(|f| f == "progressive" || f == "unknown");
    if !progressive {
        return Err(EncodeReason::Interlaced);
    }
    let playable_profile = media
        .video_profile
        .as_deref()
        .is_none_or(|p| PLAYABLE_H264_PROFILES.contains(&p));
    let playable_format = media
        .pix_fmt
        .as_deref()
        .is_none_or(|f| f == "yuv420p" || f == "yuvj420p");
    let playable_level = media.video_level.is_none_or(|l| l <= hw.max_h264_level);
    if !(playable_profile && playable_format && playable_level) {
        return Err(EncodeReason::Unsupported);
    }
    if profile.copy_mode == CopyMode::Exact {
        let same_rate = media
            .frame_rate
            .is_some_and(|r| (r - profile.framerate as f64).abs() < 0.01);
        let same_size = media.width == Some(profile.width) && media.height == Some(profile.height);
        if !(same_rate && same_size) {
            return Err(EncodeReason::NotExact);
        }
    }
    Ok(())
}

/// Whether the source's (chosen) audio is already what the profile sends. Loudness
/// normalization (`normalize_audio`) rewrites every sample, so it always encodes.
fn audio_copyable(profile: &OutputProfile, media: &MediaInfo) -> bool {
    !profile.normalize_audio
        && matches!(profile.audio_codec.as_str(), "aac" | "copy")
        && media.audio_codec.as_deref() == Some("aac")
        && media.audio_channels == Some(profile.audio_channels)
        && media.audio_sample_rate == Some(profile.audio_sample_rate)
}

/// Whether `job` could copy its video if a keyframe were found near its seek: the caller
/// then looks one up (`keyframe`) and passes it as `CopyFrom::Keyframe`.
pub fn wants_keyframe(hw: &Hardware, profile: &OutputProfile, job: &Job<'_>) -> bool {
    match job.source {
        Source::Media {
            input: Input::File(_) | Input::Url(_) | Input::Page(_),
            media,
            ..
        } => {
            job.seek_ms > 0 && job.watermark.is_none() && video_copyable(hw, profile, media).is_ok()
        }
        _ => false,
    }
}

/// The decisions for one run: what becomes of the video and the audio, and where the media
/// is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    video: VideoPlan,
    audio: AudioPlan,
    /// Where FFmpeg starts reading the media (the keyframe, for a copy mid-programme).
    seek_ms: i64,
}

impl Decision {
    pub fn mode(&self) -> StreamMode {
        match (&self.video, self.audio) {
            (VideoPlan::Copy, AudioPlan::Copy) => StreamMode::Copy,
            (VideoPlan::Copy, AudioPlan::Encode) => StreamMode::Audio,
            (VideoPlan::Encode { .. }, _) => StreamMode::Transcode,
        }
    }

    /// Why the video is encoded (`None` when it is copied).
    pub fn reason(&self) -> Option<EncodeReason> {
        match &self.video {
            VideoPlan::Copy => None,
            VideoPlan::Encode { why, .. } => Some(*why),
        }
    }

    /// Whether anything is copied (a failure of such a run falls back to a transcode).
    pub fn copies(&self) -> bool {
        self.video == VideoPlan::Copy
    }
}

/// Decides the video and the audio of `job`. The video is copied when the source allows it
/// (`video_copyable`) and the run starts at the media's start or at the keyframe `from`
/// names; the audio is copied only alongside a copied video (an encoded picture is retimed
/// to the profile's rate, and its sound with it) and when it is already what the profile
/// sends.
pub fn decide(hw: &Hardware, profile: &OutputProfile, job: &Job<'_>, from: CopyFrom) -> Decision {
    let format = Format::new(hw, profile);
    let inputs = Inputs::of(job, &format);
    // A live stream starts where it is, at a keyframe or not: no seek stands in a copy's way.
    let live = matches!(
        inputs.media,
        Some(MediaInput {
            input: Input::Live(_),
            ..
        })
    );
    let seek_ms = if live { 0 } else { job.seek_ms };
    plan(hw, profile, &inputs, seek_ms, from)
}

/// The argv (without the program) of the FFmpeg that plays `job` in `profile`, copying
/// only from the media's start (`command_for` with a keyframe copies mid-programme).
pub fn command(hw: &Hardware, profile: &OutputProfile, job: &Job<'_>) -> Vec<OsString> {
    command_for(
        hw,
        profile,
        job,
        &decide(hw, profile, job, CopyFrom::StartOnly),
    )
}

/// The argv (without the program) of the FFmpeg that plays `job` as `decision` says.
pub fn command_for(
    hw: &Hardware,
    profile: &OutputProfile,
    job: &Job<'_>,
    decision: &Decision,
) -> Vec<OsString> {
    let format = Format::new(hw, profile);
    let mut inputs = Inputs::of(job, &format);
    if let Some(media) = inputs.media.as_mut() {
        media.seek_ms = decision.seek_ms;
    }
    let audio_nth = inputs.media.as_ref().map_or(0, |m| m.media.audio_nth);
    let overlay = match decision.video {
        VideoPlan::Encode { .. } => inputs.overlay(&format, profile),
        VideoPlan::Copy => None,
    };
    let mut a = Argv(Vec::with_capacity(64));
    global_args(&mut a, hw);
    input_args(&mut a, &inputs);
    // A watermark's PNG is the last input, and the picture the graph's output `[v]`.
    if let Some(overlay) = &overlay {
        for arg in overlay.png_input_args(format.rate).into_iter().flatten() {
            a.push(arg);
        }
        a.push_all(&["-i"]);
        a.0.push(overlay.mark.png.as_os_str().to_owned());
    }
    a.push_all(&["-map"]);
    match &overlay {
        Some(_) => a.push_all(&["[v]"]),
        None => a.push(format!("{}:v:0", inputs.video_from)),
    }
    a.push_all(&["-map"]);
    if inputs.audio_from == 0 && inputs.media.is_some() {
        a.push(format!("0:a:{audio_nth}"));
    } else {
        a.push(format!("{}:a:0", inputs.audio_from));
    }
    if let Some(ms) = job.duration_ms {
        a.push_all(&["-t"]);
        a.push(seconds(ms.max(1)));
    }
    video_args(
        &mut a,
        hw,
        profile,
        &format,
        &decision.video,
        overlay.as_ref(),
    );
    audio_args(&mut a, profile, &format, decision.audio);
    mux_args(&mut a);
    a.0
}

/// The output's picture and sound, as the generated inputs and the encoders are told.
struct Format {
    width: u32,
    height: u32,
    /// Frames per second, at least 1.
    rate: u32,
    sample_rate: u32,
    /// `anullsrc`'s channel layout.
    layout: &'static str,
}

impl Format {
    fn new(hw: &Hardware, profile: &OutputProfile) -> Format {
        let (width, height) = hw.output_size(profile);
        Format {
            width,
            height,
            rate: profile.framerate.max(1),
            sample_rate: profile.audio_sample_rate,
            layout: if profile.audio_channels == 1 {
                "mono"
            } else {
                "stereo"
            },
        }
    }
}

/// What FFmpeg reads, in `-i` order: the media itself (when there is one) first, then the
/// lavfi graphs that generate a picture or a sound; and which input the output's video and
/// audio come from.
struct Inputs<'a> {
    media: Option<MediaInput<'a>>,
    /// Generated inputs, after the media: a test pattern, a card, silence, a tone.
    lavfi: heapless::Vec<String, 2>,
    video_from: usize,
    audio_from: usize,
    /// The text a generated picture carries (drawn when the video is encoded).
    title: Option<String>,
    /// Drawn over a programme (a slate or the Offline card gets none).
    watermark: Option<&'a Watermark>,
}

/// A file or URL read by FFmpeg, from `seek_ms`.
struct MediaInput<'a> {
    input: &'a Input,
    media: &'a MediaInfo,
    seek_ms: i64,
}

impl<'a> Inputs<'a> {
    fn of(job: &Job<'a>, f: &Format) -> Inputs<'a> {
        let (w, h, rate) = (f.width, f.height, f.rate);
        let card = || format!("color=c=0x1c2430:s={w}x{h}:r={rate}");
        let silence = || format!("anullsrc=r={}:cl={}", f.sample_rate, f.layout);
        let generated = |video: String, audio: String, title: String| Inputs {
            media: None,
            lavfi: heapless::Vec::from_array([video, audio]),
            video_from: 0,
            audio_from: 1,
            title: Some(title),
            watermark: None,
        };
        match job.source {
            Source::Slate { text } => generated(card(), silence(), drawtext_safe(text)),
            Source::Media {
                input: Input::Generated(url),
                title,
                ..
            } => Inputs {
                watermark: job.watermark,
                ..generated(
                    format!("testsrc2=size={w}x{h}:rate={rate}"),
                    format!(
                        "sine=frequency={}:sample_rate={}",
                        generated_tone_hz(url),
                        f.sample_rate
                    ),
                    drawtext_safe(title),
                )
            },
            Source::Media {
                input: Input::Offline,
                ..
            } => generated(card(), silence(), "Offline".to_string()),
            Source::Media { input, media, .. } => {
                let mut inputs = Inputs {
                    media: Some(MediaInput {
                        input,
                        media,
                        seek_ms: job.seek_ms,
                    }),
                    lavfi: heapless::Vec::new(),
                    video_from: 0,
                    audio_from: 0,
                    title: None,
                    watermark: job.watermark,
                };
                // A file of one stream gets the other generated: black, or silence.
                let has_video = media.video_codec.is_some() || media.audio_codec.is_none();
                let has_audio = media.audio_codec.is_some() || media.video_codec.is_none();
                if !has_video {
                    inputs.video_from =
                        inputs.add_lavfi(format!("color=c=black:s={w}x{h}:r={rate}"));
                }
                if !has_audio {
                    inputs.audio_from = inputs.add_lavfi(silence());
                }
                inputs
            }
        }
    }

    /// Adds a generated input after the media; returns its input index.
    fn add_lavfi(&mut self, graph: String) -> usize {
        // At most two: one for the video and one for the audio.
        let _ = self.lavfi.push(graph);
        usize::from(self.media.is_some()) + self.lavfi.len() - 1
    }

    /// The media, when the output's video comes straight from it.
    fn media_video(&self) -> Option<&'a MediaInfo> {
        let media = self.media.as_ref()?;
        (self.video_from == 0 && media.media.video_codec.is_some()).then_some(media.media)
    }

    /// The watermark to draw, its PNG read after every other input; its percentages are of
    /// the frame, or of the picture inside the `pad` letterbox when `within_content`.
    fn overlay(&self, f: &Format, profile: &OutputProfile) -> Option<Overlay<'a>> {
        let mark = self.watermark?;
        let frame = (f.width, f.height);
        let source = self.media_video().and_then(|m| Some((m.width?, m.height?)));
        let letterboxed = !matches!(profile.scaling_mode.as_str(), "stretch" | "crop");
        let rect = match source {
            Some(source) if mark.within_content && letterboxed => Rect::fitted(frame, source),
            _ => Rect::whole(frame),
        };
        Some(Overlay {
            video_from: self.video_from,
            png_input: usize::from(self.media.is_some()) + self.lavfi.len(),
            mark,
            rect,
        })
    }

    /// Whether the output's audio comes straight from the media.
    fn media_audio(&self) -> bool {
        self.media.is_some() && self.audio_from == 0
    }
}

/// What becomes of the source's video.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VideoPlan {
    /// Passed through as it is (`-c:v copy`).
    Copy,
    /// Scaled to the output size, retimed to its frame rate, with `title` drawn when
    /// there is one (and drawtext works), encoded with the board's encoder.
    Encode {
        title: Option<String>,
        why: EncodeReason,
    },
}

/// What becomes of the source's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AudioPlan {
    /// Passed through as it is (`-c:a copy`).
    Copy,
    /// Resampled to a continuous clock and encoded to AAC in the profile's layout.
    Encode,
}

/// Decides the video and the audio, and where the media is read from: a copy mid-programme
/// reads from the keyframe (copying from inside a GOP would drop the video up to the next
/// keyframe while the audio starts at once).
fn plan(
    hw: &Hardware,
    profile: &OutputProfile,
    inputs: &Inputs<'_>,
    seek_ms: i64,
    from: CopyFrom,
) -> Decision {
    let video = match inputs.media_video() {
        None => Err(EncodeReason::Generated),
        Some(_) if inputs.watermark.is_some() => Err(EncodeReason::Watermark),
        Some(media) => video_copyable(hw, profile, media).and_then(|()| match from {
            _ if seek_ms <= 0 => Ok(0),
            CopyFrom::Keyframe(at) if at <= seek_ms && seek_ms - at <= MAX_KEYFRAME_GAP_MS => {
                Ok(at.max(0))
            }
            CopyFrom::Refused(why) => Err(why),
            CopyFrom::StartOnly | CopyFrom::Keyframe(_) => Err(EncodeReason::NoKeyframe),
        }),
    };
    match video {
        Ok(from_ms) => {
            let audio_copy = inputs.media_audio()
                && inputs
                    .media
                    .as_ref()
                    .is_some_and(|m| audio_copyable(profile, m.media));
            Decision {
                video: VideoPlan::Copy,
                audio: if audio_copy {
                    AudioPlan::Copy
                } else {
                    AudioPlan::Encode
                },
                seek_ms: from_ms,
            }
        }
        Err(why) => Decision {
            video: VideoPlan::Encode {
                title: inputs.title.clone(),
                why,
            },
            audio: AudioPlan::Encode,
            seek_ms,
        },
    }
}

fn global_args(a: &mut Argv, hw: &Hardware) {
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
}

fn input_args(a: &mut Argv, inputs: &Inputs<'_>) {
    if let Some(MediaInput { input, seek_ms, .. }) = inputs.media {
        url_input_args(a, input);
        // A live stream is read from where it is now: it has no position to seek to.
        if seek_ms > 0 && !matches!(input, Input::Live(_)) {
            a.push_all(&["-ss"]);
            a.push(seconds(seek_ms));
        }
        a.push_all(&["-i"]);
        match input {
            Input::File(path) => a.0.push(path.as_os_str().to_owned()),
            // A page is resolved before a job is built (`App::resolve_page`); FFmpeg fails on one
            // that was not, which the feeder handles like any failure.
            Input::Url(url) | Input::Live(url) | Input::Page(url) => a.push(url.clone()),
            Input::Generated(_) | Input::Offline => {}
        }
    }
    for graph in &inputs.lavfi {
        a.push_all(&["-f", "lavfi", "-i", graph]);
    }
}

/// HTTP inputs reconnect on a dropped connection (up to 5 s between tries); a live one also
/// when the server ends the answer or the network fails, and gives up after
/// `-rw_timeout` (10 s) without data, so a dead source ends the run and the feeder's
/// slate and backoff take over.
fn url_input_args(a: &mut Argv, input: &Input) {
    if !matches!(input, Input::Url(_) | Input::Live(_) | Input::Page(_)) {
        return;
    }
    a.push_all(&[
        "-reconnect",
        "1",
        "-reconnect_streamed",
        "1",
        "-reconnect_delay_max",
        "5",
    ]);
    if let Input::Live(_) = input {
        a.push_all(&[
            "-reconnect_at_eof",
            "1",
            "-reconnect_on_network_error",
            "1",
            "-rw_timeout",
            "10000000",
        ]);
    }
}

fn video_args(
    a: &mut Argv,
    hw: &Hardware,
    profile: &OutputProfile,
    f: &Format,
    video: &VideoPlan,
    overlay: Option<&Overlay<'_>>,
) {
    let VideoPlan::Encode { title, .. } = video else {
        a.push_all(&["-c:v", "copy"]);
        return;
    };
    let picture = picture_filter(profile, (f.width, f.height), title.as_deref(), hw.drawtext);
    match overlay {
        Some(overlay) => {
            a.push_all(&["-filter_complex"]);
            a.push(overlay.graph(&picture, encoder_format(hw)));
        }
        None => {
            a.push_all(&["-vf"]);
            a.push(picture + encoder_format(hw));
        }
    }
    match &hw.encoder {
        Encoder::Libx264 => {
            a.push_all(&["-c:v", "libx264", "-preset", &profile.quality_preset]);
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
    // A keyframe every 2 s and never sooner: new viewers start on one, HLS segments too.
    let gop = (f.rate * 2).to_string();
    a.push_all(&["-g", &gop, "-keyint_min", &gop]);
    if hw.encoder == Encoder::Libx264 {
        a.push_all(&["-sc_threshold", "0"]);
    }
    if hw.threads > 0 {
        a.push_all(&["-threads"]);
        a.push(hw.threads.to_string());
    }
}

/// The profile's loudness target within what loudnorm accepts (-70..-5 LUFS; FFmpeg
/// refuses to start outside it), printed without a trailing `.0`.
fn loudness_target(lufs: f64) -> f64 {
    if lufs.is_finite() {
        lufs.clamp(-70.0, -5.0)
    } else {
        -24.0
    }
}

fn audio_args(a: &mut Argv, profile: &OutputProfile, f: &Format, audio: AudioPlan) {
    if audio == AudioPlan::Copy {
        a.push_all(&["-c:a", "copy"]);
        return;
    }
    // aresample first: loudnorm needs timestamps without gaps. Single-pass EBU R128
    // loudness to the profile's target (EXStreamTV's `normalize_audio`); loudnorm
    // outputs 192 kHz, so `-ar` below brings it back to the profile's rate.
    a.push_all(&["-af"]);
    if profile.normalize_audio {
        a.push(format!(
            "aresample=async=1,loudnorm=I={}:TP=-1.5:LRA=11",
            loudness_target(profile.audio_loudness_target)
        ));
    } else {
        a.push_all(&["aresample=async=1"]);
    }
    a.push_all(&["-c:a", "aac", "-b:a"]);
    a.push(profile.audio_bitrate.to_string());
    a.push_all(&["-ac"]);
    a.push(profile.audio_channels.max(1).to_string());
    a.push_all(&["-ar"]);
    a.push(f.sample_rate.to_string());
}

/// MPEG-TS on stdout with the splicer's program number and PIDs, each PES written whole
/// and flushed at once.
fn mux_args(a: &mut Argv) {
    a.push_all(&["-f", "mpegts", "-mpegts_service_id"]);
    a.push(PROGRAM_NUMBER.to_string());
    a.push_all(&["-mpegts_pmt_start_pid"]);
    a.push(OUT_PMT_PID.0.to_string());
    a.push_all(&["-mpegts_start_pid"]);
    a.push(OUT_VIDEO_PID.0.to_string());
    a.push_all(&["-pes_payload_size", "0", "-flush_packets", "1", "pipe:1"]);
}

/// The picture's filters up to the encoder's pixel format: deinterlace, scale to the
/// output, frame rate, and a generated programme's title.
fn picture_filter(
    profile: &OutputProfile,
    (w, h): (u32, u32),
    title: Option<&str>,
    drawtext: bool,
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
    if let (Some(text), true) = (title, drawtext) {
        let size = (h / 12).max(8);
        vf.push_str(&format!(
            ",drawtext=text='{text}':fontcolor=white:fontsize={size}:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h/8"
        ));
        vf.push_str(&format!(
            ",drawtext=text='%{{localtime\\:%X}}':fontcolor=white:fontsize={size}:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h*3/4"
        ));
    }
    vf
}

/// The last filters, into what the encoder takes.
fn encoder_format(hw: &Hardware) -> &'static str {
    match hw.encoder {
        Encoder::Vaapi { .. } => ",format=nv12,hwupload",
        _ => ",format=yuv420p",
    }
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

struct Argv(Vec<OsString>);

impl Argv {
    fn push(&mut self, s: String) {
        self.0.push(s.into());
    }
    fn push_all(&mut self, items: &[&str]) {
        self.0.extend(items.iter().map(OsString::from));
    }
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;
    use crate::board::Board;
    use expect_test::expect;

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
            watermark: None,
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
    fn a_different_file_is_transcoded_with_libx264_under_exact() {
        let input = Input::File("/m/x.mkv".into());
        let media = MediaInfo {
            width: Some(1920),
            height: Some(1080),
            ..h264_file()
        };
        let exact = OutputProfile {
            copy_mode: CopyMode::Exact,
            ..small()
        };
        let job = Job {
            source: Source::Media {
                input: &input,
                media: &media,
                title: "X",
            },
            seek_ms: 0,
            duration_ms: Some(60_000),
            watermark: None,
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -i /m/x.mkv -map 0:v:0 -map 0:a:0 -t 60.000 -vf scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&board("generic"), &exact, &job)));
        let decision = decide(&board("generic"), &exact, &job, CopyFrom::StartOnly);
        assert_eq!(
            (decision.mode(), decision.reason()),
            (StreamMode::Transcode, Some(EncodeReason::NotExact))
        );
    }

    #[test]
    fn the_pi_uses_v4l2m2m_at_aligned_sizes() {
        let input = Input::File("/m/x.mkv".into());
        let media = MediaInfo {
            audio_codec: None,
            video_codec: Some("hevc".into()),
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
            watermark: None,
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -i /m/x.mkv -f lavfi -i anullsrc=r=48000:cl=stereo -map 0:v:0 -map 1:a:0 -vf scale=832:480:force_original_aspect_ratio=decrease,pad=832:480:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p -c:v h264_v4l2m2m -pix_fmt yuv420p -b:v 4000k -maxrate 4000k -bufsize 8000k -g 60 -keyint_min 60 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&board("rpi4"), &profile, &job)));
    }

    fn job<'a>(input: &'a Input, media: &'a MediaInfo, seek_ms: i64) -> Job<'a> {
        Job {
            source: Source::Media {
                input,
                media,
                title: "T",
            },
            seek_ms,
            duration_ms: Some(4000),
            watermark: None,
        }
    }

    /// Passthrough copies H.264 of any size and rate; AC-3 audio (the second track here)
    /// is encoded alone.
    #[test]
    fn passthrough_copies_the_video_and_encodes_other_audio_alone() {
        let input = Input::File("/m/film.mkv".into());
        let media = MediaInfo {
            width: Some(1920),
            height: Some(1080),
            frame_rate: Some(23.976),
            video_profile: Some("High".into()),
            video_level: Some(40),
            pix_fmt: Some("yuv420p".into()),
            audio_codec: Some("ac3".into()),
            audio_channels: Some(6),
            audio_nth: 1,
            ..h264_file()
        };
        let hw = board("rpi4");
        let job = job(&input, &media, 0);
        let decision = decide(&hw, &small(), &job, CopyFrom::StartOnly);
        assert_eq!(
            (decision.mode(), decision.reason()),
            (StreamMode::Audio, None)
        );
        expect!["-hide_banner -nostdin -nostats -loglevel warning -i /m/film.mkv -map 0:v:0 -map 0:a:1 -t 4.000 -c:v copy -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"]
            .assert_eq(&render(&command_for(&hw, &small(), &job, &decision)));
        // AAC in the profile's layout is copied too.
        let aac = MediaInfo {
            audio_codec: Some("aac".into()),
            audio_channels: Some(2),
            ..media.clone()
        };
        let decision = decide(&hw, &small(), &job_of(&input, &aac), CopyFrom::StartOnly);
        assert_eq!(decision.mode(), StreamMode::Copy);
    }

    /// `normalize_audio` is loudness normalization: AAC that could be copied is encoded
    /// through loudnorm instead (mode `audio`), and a transcode applies it too.
    #[test]
    fn normalize_audio_encodes_the_audio_through_loudnorm() {
        let input = Input::File("/m/film.mp4".into());
        let media = h264_file();
        let hw = board("rpi4");
        let job = job_of(&input, &media);
        let plain = decide(&hw, &small(), &job, CopyFrom::StartOnly);
        assert_eq!(plain.mode(), StreamMode::Copy);
        assert!(!render(&command_for(&hw, &small(), &job, &plain)).contains("loudnorm"));
        let loud = OutputProfile {
            normalize_audio: true,
            ..small()
        };
        let decision = decide(&hw, &loud, &job, CopyFrom::StartOnly);
        assert_eq!(
            (decision.mode(), decision.reason()),
            (StreamMode::Audio, None)
        );
        expect!["-hide_banner -nostdin -nostats -loglevel warning -i /m/film.mp4 -map 0:v:0 -map 0:a:0 -t 4.000 -c:v copy -af aresample=async=1,loudnorm=I=-24:TP=-1.5:LRA=11 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"]
            .assert_eq(&render(&command_for(&hw, &loud, &job, &decision)));
        let never = OutputProfile {
            copy_mode: CopyMode::Never,
            ..loud
        };
        let decision = decide(&hw, &never, &job, CopyFrom::StartOnly);
        assert_eq!(decision.mode(), StreamMode::Transcode);
        let argv = render(&command_for(&hw, &never, &job, &decision));
        assert!(argv.contains("loudnorm=I=-24:"), "{argv}");
        let quiet = OutputProfile {
            audio_loudness_target: -31.5,
            ..never.clone()
        };
        let argv = render(&command_for(&hw, &quiet, &job, &decision));
        assert!(argv.contains("loudnorm=I=-31.5:"), "{argv}");
        let absurd = OutputProfile {
            audio_loudness_target: 3.0,
            ..never
        };
        let argv = render(&command_for(&hw, &absurd, &job, &decision));
        assert!(argv.contains("loudnorm=I=-5:"), "{argv}");
    }

    fn job_of<'a>(input: &'a Input, media: &'a MediaInfo) -> Job<'a> {
        job(input, media, 0)
    }

    /// Mid-programme a copy starts at the keyframe the caller found, for the job's whole
    /// duration (so it ends on time); without one, or one too far back, it is encoded.
    #[test]
    fn a_copy_mid_programme_starts_at_the_keyframe() {
        let input = Input::File("/m/a.mp4".into());
        let media = h264_file();
        let hw = board("generic");
        let seeking = job(&input, &media, 12_500);
        assert!(wants_keyframe(&hw, &small(), &seeking));
        let decision = decide(&hw, &small(), &seeking, CopyFrom::Keyframe(10_000));
        assert_eq!(decision.mode(), StreamMode::Copy);
        let argv = render(&command_for(&hw, &small(), &seeking, &decision));
        assert!(
            argv.contains(
                "-ss 10.000 -i /m/a.mp4 -map 0:v:0 -map 0:a:0 -t 4.000 -c:v copy -c:a copy"
            ),
            "{argv}"
        );
        for (from, why) in [
            (CopyFrom::StartOnly, EncodeReason::NoKeyframe),
            (CopyFrom::Keyframe(2_000), EncodeReason::NoKeyframe),
            (CopyFrom::Keyframe(13_000), EncodeReason::NoKeyframe),
            (
                CopyFrom::Refused(EncodeReason::CopyFailed),
                EncodeReason::CopyFailed,
            ),
        ] {
            let decision = decide(&hw, &small(), &seeking, from);
            assert_eq!(decision.reason(), Some(why), "{from:?}");
            let argv = render(&command_for(&hw, &small(), &seeking, &decision));
            assert!(argv.contains("-ss 12.500 -i"), "{argv}");
            assert!(argv.contains("-c:v libx264"), "{argv}");
        }
        // From the start no keyframe is needed.
        assert!(!wants_keyframe(&hw, &small(), &job(&input, &media, 0)));
    }

    #[test]
    fn what_cannot_be_copied_says_why() {
        let hw = board("generic");
        let input = Input::File("/m/x".into());
        let cases: [(MediaInfo, OutputProfile, EncodeReason); 6] = [
            (
                MediaInfo {
                    video_codec: Some("hevc".into()),
                    ..h264_file()
                },
                small(),
                EncodeReason::NotH264,
            ),
            (
                MediaInfo {
                    field_order: Some("tt".into()),
                    ..h264_file()
                },
                small(),
                EncodeReason::Interlaced,
            ),
            (
                MediaInfo {
                    video_profile: Some("High 10".into()),
                    ..h264_file()
                },
                small(),
                EncodeReason::Unsupported,
            ),
            (
                MediaInfo {
                    video_level: Some(51),
                    ..h264_file()
                },
                small(),
                EncodeReason::Unsupported,
            ),
            (
                h264_file(),
                OutputProfile {
                    copy_mode: CopyMode::Never,
                    ..small()
                },
                EncodeReason::Never,
            ),
            (
                MediaInfo {
                    video_codec: None,
                    ..h264_file()
                },
                small(),
                EncodeReason::Generated,
            ),
        ];
        for (media, profile, why) in cases {
            let decision = decide(&hw, &profile, &job(&input, &media, 0), CopyFrom::StartOnly);
            assert_eq!(decision.reason(), Some(why), "{media:?}");
            assert_eq!(decision.mode(), StreamMode::Transcode);
        }
        // A file with video and no audio copies its video and gets generated silence.
        let silent = MediaInfo {
            audio_codec: None,
            ..h264_file()
        };
        let decision = decide(&hw, &small(), &job(&input, &silent, 0), CopyFrom::StartOnly);
        assert_eq!(decision.mode(), StreamMode::Audio);
    }

    #[test]
    fn a_watermark_forces_the_encode_and_is_laid_over_the_picture() {
        use crate::kinds::WatermarkLocation;
        let input = Input::File("/media/a.mp4".into());
        let media = h264_file();
        let mark = Watermark {
            png: "/data/cache/watermarks/ab.png".into(),
            location: WatermarkLocation::TopRight,
            width_percent: Some(20.0),
            horizontal_margin_percent: 5.0,
            vertical_margin_percent: 5.0,
            opacity: 100,
            every: None,
            within_content: false,
            phase_s: 0,
        };
        let hw = board("generic");
        let job = Job {
            watermark: Some(&mark),
            ..job(&input, &media, 1500)
        };
        // No keyframe is looked up: nothing would be copied.
        assert!(!wants_keyframe(&hw, &small(), &job));
        let decision = decide(&hw, &small(), &job, CopyFrom::Keyframe(1000));
        assert_eq!(decision.mode(), StreamMode::Transcode);
        assert_eq!(decision.reason(), Some(EncodeReason::Watermark));
        expect!["-hide_banner -nostdin -nostats -loglevel warning -ss 1.500 -i /media/a.mp4 -i /data/cache/watermarks/ab.png -map [v] -map 0:a:0 -t 4.000 -filter_complex [0:v:0]scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25[main];[1:v]format=rgba,scale=64:-2[mark];[main][mark]overlay=x=304-w:y=12,format=yuv420p[v] -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"].assert_eq(&render(&command_for(&hw, &small(), &job, &decision)));
        // A slate carries none, whatever the job says.
        let slate = Job {
            source: Source::Slate { text: "Offline" },
            ..job
        };
        let argv = render(&command(&hw, &small(), &slate));
        assert!(
            !argv.contains("overlay") && !argv.contains("ab.png"),
            "{argv}"
        );
    }

    #[test]
    fn vaapi_uploads_nv12() {
        let job = Job {
            source: Source::Slate {
                text: "Technical difficulties: we'll be back",
            },
            seek_ms: 0,
            duration_ms: Some(5000),
            watermark: None,
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
            watermark: None,
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -map 0:v:0 -map 1:a:0 -t 570.000 -vf scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 50 -keyint_min 50 -sc_threshold 0 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]]
            .assert_eq(&render(&command(&hw, &small(), &job)));
    }

    /// A live relay mid-programme: read from now (no `-ss`, so its H.264/AAC is copied),
    /// reconnecting at the end of an answer, and given up after 10 s without data.
    #[test]
    fn a_live_stream_is_never_seeked() {
        let live = Input::Live("http://box/live.ts".into());
        let media = h264_file();
        let job = Job {
            source: Source::Media {
                input: &live,
                media: &media,
                title: "Live",
            },
            seek_ms: 3_600_000,
            duration_ms: Some(86_400_000),
            watermark: None,
        };
        let hw = board("generic");
        let decision = decide(&hw, &small(), &job, CopyFrom::StartOnly);
        assert!(decision.copies(), "{decision:?}");
        let argv = render(&command_for(&hw, &small(), &job, &decision));
        assert!(!argv.contains("-ss"), "{argv}");
        assert!(
            argv.contains("-reconnect_at_eof 1 -reconnect_on_network_error 1 -rw_timeout 10000000 -i http://box/live.ts"),
            "{argv}"
        );
        assert!(!wants_keyframe(&hw, &small(), &job));
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
            watermark: None,
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
            watermark: None,
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
            watermark: None,
        };
        expect![[r#"-hide_banner -nostdin -nostats -loglevel warning -f lavfi -i testsrc2=size=320x240:rate=1 -f lavfi -i sine=frequency=1320:sample_rate=48000 -map 0:v:0 -map 1:a:0 -t 0.001 -vf scale=320:240,setsar=1,fps=1,drawtext=text='Toms Show 12':fontcolor=white:fontsize=20:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h/8,drawtext=text='%{localtime\:%X}':fontcolor=white:fontsize=20:box=1:boxcolor=black@0.5:x=(w-tw)/2:y=h*3/4,format=yuv420p -c:v h264_v4l2m2m -pix_fmt yuv420p -b:v 500k -maxrate 500k -bufsize 1000k -g 2 -keyint_min 2 -af aresample=async=1 -c:a aac -b:a 128k -ac 2 -ar 48000 -f mpegts -mpegts_service_id 1 -mpegts_pmt_start_pid 4096 -mpegts_start_pid 256 -pes_payload_size 0 -flush_packets 1 pipe:1"#]].assert_eq(&render(&command(&board("rpi4"), &profile, &job)));
    }
}
