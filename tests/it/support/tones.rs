//! What a viewer heard, and when: the audio of a captured TS decoded by FFmpeg, one tone
//! (Hz, 0 for silence) per 50 ms window, each with the arrival time of the TS bytes that
//! carried it (audio PES PTS → byte offset → the read that delivered it). The streaming
//! tests give every programme its own tone, so a switch in this list is a programme change
//! as the viewer received it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::tscheck;

/// 50 ms at 8 kHz.
const RATE: usize = 8000;
const WINDOW: usize = RATE / 20;
/// A window whose samples all stay within this is silence (the slates are silent).
const SILENT: i16 = 64;

#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub arrival: Instant,
    pub hz: u32,
}

/// The windows of `ts` (as received), classified to the nearest of `tones` or 0 (silence).
pub fn windows(ts: &[u8], arrivals: &[(Instant, usize)], tones: &[u32], dir: &Path) -> Vec<Window> {
    let cap = dir.join("capture.ts");
    std::fs::write(&cap, ts).expect("write capture");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(&cap)
        // async: samples are padded or trimmed to the timestamps, so window k is at PTS
        // first + k × 50 ms even where a decoder drops priming samples at a splice.
        .args([
            "-map",
            "0:a:0",
            "-af",
            "aresample=async=1",
            "-ac",
            "1",
            "-ar",
            "8000",
        ])
        .args(["-f", "s16le", "pipe:1"])
        .output()
        .expect("ffmpeg decodes the capture");
    let _ = std::fs::remove_file(&cap);
    let samples: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let report = tscheck::check(ts);
    let pes = &report.pid(0x101).expect("an audio PID").pes;
    let first_pts = pes.first().expect("audio PES").0;
    let arrival_of = |offset: usize| {
        arrivals
            .iter()
            .find(|(_, n)| *n > offset)
            .or(arrivals.last())
            .expect("arrivals")
            .0
    };
    samples
        .chunks_exact(WINDOW)
        .enumerate()
        .map(|(k, w)| {
            let pts = first_pts + (k * WINDOW * 90_000 / RATE) as i64;
            let offset = pes
                .iter()
                .take_while(|(p, _)| *p <= pts)
                .last()
                .map_or(0, |(_, o)| *o);
            Window {
                arrival: arrival_of(offset),
                hz: classify(w, tones),
            }
        })
        .collect()
}

fn classify(w: &[i16], tones: &[u32]) -> u32 {
    if w.iter().all(|s| s.unsigned_abs() <= SILENT as u16) {
        return 0;
    }
    let crossings = w.windows(2).filter(|p| (p[0] < 0) != (p[1] < 0)).count();
    let hz = crossings as f64 / 2.0 / (WINDOW as f64 / RATE as f64);
    tones
        .iter()
        .copied()
        .min_by_key(|t| (hz - *t as f64).abs() as u64)
        .unwrap_or(0)
}

/// The first window from which `hz` holds for `n` windows in a row.
pub fn first_steady(windows: &[Window], hz: u32, n: usize) -> Option<&Window> {
    (0..windows.len().saturating_sub(n - 1))
        .find(|k| windows[*k..*k + n].iter().all(|w| w.hz == hz))
        .map(|k| &windows[k])
}

/// The tones heard, in order, each once per run.
pub fn sequence(windows: &[Window]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for w in windows {
        if out.last() != Some(&w.hz) {
            out.push(w.hz);
        }
    }
    out
}
