//! What the machine's FFmpeg can do: the video encoder (from the board profile, unless the
//! `ffmpeg.hwaccel` setting names another), its size rules, and whether drawtext works.
//! `probe` checks both at start and falls back to `software`.
//!
//! Plain data. It knows nothing of programmes, processes or channels.

use smol_str::SmolStr;

use crate::board::Board;
use crate::scheduler::cursor::OutputProfile;

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
    /// The highest H.264 level (× 10) passed through to the players: what a client of a
    /// board of this size is sure to decode (4.2: 1080p60; 5.2: 2160p60).
    pub max_h264_level: i32,
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
            max_h264_level: if board.max_width >= 3840 { 52 } else { 42 },
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
