//! Media validation: is a library file really playable? ffprobe must read it, and FFmpeg
//! must decode its first seconds and its last seconds without an error (a truncated
//! download probes fine and fails at its end). The verdict is stored per item
//! (`media_validations`, with the file's size so a changed file is checked again); an
//! invalid item leaves the timelines (`scheduler::inputs` plays only items not marked
//! invalid). Every child is bounded and reaped (`child::run`). Knows no HTTP.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::process::Command;
use tokio::sync::watch;

use super::probe::{self, shutdown_signal};
use crate::child::{self, Limits};
use crate::db::DbError;

/// Seconds decoded at each end of a file.
const DECODE_SECONDS: &str = "2";
/// One decode's budget: two seconds of any codec decode far faster than this.
const DECODE_TIMEOUT: Duration = Duration::from_secs(60);
/// FFmpeg's error output kept: the first line is the reason.
const MAX_STDERR: u64 = 4 * 1024;

/// A file's verdict: valid, or the sentence that says why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub reason: Option<String>,
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        self.reason.is_none()
    }

    fn invalid(reason: impl Into<String>) -> Verdict {
        Verdict {
            reason: Some(reason.into()),
        }
    }
}

/// Checks one file: on disk and not empty, readable by ffprobe, its head and tail decoded.
pub async fn check(
    ffprobe: &Path,
    ffmpeg: &Path,
    file: &Path,
    shutdown: watch::Receiver<bool>,
) -> Verdict {
    match std::fs::metadata(file) {
        Err(e) => return Verdict::invalid(format!("not readable: {e}")),
        Ok(m) if !m.is_file() => return Verdict::invalid("not a file"),
        Ok(m) if m.len() == 0 => return Verdict::invalid("the file is empty (0 bytes)"),
        Ok(_) => {}
    }
    let probed = match probe::probe(ffprobe, file, shutdown.clone()).await {
        Ok(p) => p,
        Err(e) => return Verdict::invalid(format!("ffprobe: {e}")),
    };
    if let Some(reason) = decode(ffmpeg, file, &[], shutdown.clone()).await {
        return Verdict::invalid(format!("its start does not decode: {reason}"));
    }
    // The tail only when the file is longer than both windows (else the head was all).
    let long = probed.duration_ms.unwrap_or(0) > 4_000;
    if long {
        let tail = ["-sseof", "-2"];
        if let Some(reason) = decode(ffmpeg, file, &tail, shutdown).await {
            return Verdict::invalid(format!("its end does not decode: {reason}"));
        }
    }
    Verdict { reason: None }
}

/// Decodes `DECODE_SECONDS` of `file` (after `input_args`) to nothing; the first error
/// FFmpeg prints, or `None` when it decoded cleanly.
async fn decode(
    ffmpeg: &Path,
    file: &Path,
    input_args: &[&str],
    mut shutdown: watch::Receiver<bool>,
) -> Option<String> {
    let mut command = Command::new(ffmpeg);
    command
        .args(["-nostdin", "-hide_banner", "-v", "error"])
        .args(input_args)
        .arg("-i")
        .arg(file)
        .args(["-t", DECODE_SECONDS, "-f", "null", "-"]);
    let limits = Limits {
        timeout: DECODE_TIMEOUT,
        stdout_max: 0,
        stderr_max: MAX_STDERR,
    };
    match child::run(command, limits, shutdown_signal(&mut shutdown)).await {
        Err(e) => Some(format!("ffmpeg {e}")),
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr);
            let first = text.lines().map(str::trim).find(|l| !l.is_empty());
            match (out.status.success(), first) {
                (true, None) => None,
                (_, Some(line)) => Some(line.to_string()),
                (false, None) => Some(format!("ffmpeg exited with {}", out.status)),
            }
        }
    }
}

/// Stores a verdict for an item whose file had `size` bytes; true when the item turned
/// invalid now (its timelines must drop it).
pub fn store(
    conn: &Connection,
    media_item_id: i64,
    verdict: &Verdict,
    size: Option<i64>,
    now_ms: i64,
) -> Result<bool, DbError> {
    let was_invalid: Option<bool> = conn
        .query_row(
            "SELECT valid = 0 FROM media_validations WHERE media_item_id = ?1",
            [media_item_id],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute(
        "INSERT OR REPLACE INTO media_validations
             (media_item_id, valid, reason, file_size, checked_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            media_item_id,
            verdict.is_valid(),
            verdict.reason,
            size,
            now_ms
        ],
    )?;
    Ok(!verdict.is_valid() && was_invalid != Some(true))
}

/// The background `validate-all` run: one at a time, its progress for `/status`.
#[derive(Debug, Default)]
pub struct Run {
    running: AtomicBool,
    total: AtomicU64,
    checked: AtomicU64,
}

impl Run {
    /// Claims the run; false when one is already going.
    pub fn start(&self, total: u64) -> bool {
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.total.store(total, Ordering::Relaxed);
        self.checked.store(0, Ordering::Relaxed);
        true
    }

    pub fn tick(&self) {
        self.checked.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finish(&self) {
        self.running.store(false, Ordering::Release);
    }

    /// (running, checked, total).
    pub fn progress(&self) -> (bool, u64, u64) {
        (
            self.running.load(Ordering::Acquire),
            self.checked.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// The process's one run (validation is a module of the server, not per request).
pub fn run_state() -> &'static Run {
    static RUN: std::sync::OnceLock<Run> = std::sync::OnceLock::new();
    RUN.get_or_init(Run::default)
}
