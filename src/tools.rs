//! The external programs we drive — FFmpeg and ffprobe: where they are and which version,
//! for health, doctor and the command builders.
//!
//! `serve` checks them only after the listener is open: each `-version` costs tens of ms of
//! dynamic linking (100-300 ms on a loaded two-core box), several times the whole start
//! budget. So the server holds a `ToolsCheck`, unknown until the background task publishes
//! what it found: readers that report (health) say "checking" meanwhile; readers that need a
//! program (a tune, a scan, the encoder probe) wait for it, bounded by `TOOLS_WAIT`.
//! It must not know HTTP or `App`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// One `-version` gets this long. It answers in tens of ms, a few hundred on a loaded Pi 3; a
/// program that hangs (a stale network mount) is reported missing rather than never known.
/// Below `TOOLS_WAIT`, so a reader that waits from the start sees the answer.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(4);

/// How long a reader that needs the tools (a tune, a scan, the encoder probe) waits for the
/// check: above `VERSION_TIMEOUT` plus the spawns, so only a starved runtime runs out first.
pub const TOOLS_WAIT: Duration = Duration::from_secs(5);

/// Stdout read from `-version`: only its first line counts, and FFmpeg's whole answer is
/// ~2 KiB; the bound is for a program that prints without end.
const VERSION_OUTPUT_MAX: u64 = 16 * 1024;

#[derive(Debug, Clone)]
pub struct Tool {
    /// As configured (`ffmpeg`, or an absolute path).
    pub name: String,
    /// Resolved through PATH; `None` when not found.
    pub path: Option<PathBuf>,
    /// The first line's version word, e.g. `5.1.6-0+deb12u1`.
    pub version: Option<String>,
}

impl Tool {
    pub fn is_available(&self) -> bool {
        self.path.is_some() && self.version.is_some()
    }

    /// The program to exec: the resolved path, else the configured name (the spawn then
    /// fails with a clear "not found").
    pub fn program(&self) -> &Path {
        self.path
            .as_deref()
            .unwrap_or_else(|| Path::new(&self.name))
    }
}

#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: Tool,
    pub ffprobe: Tool,
}

impl Tools {
    /// Finds both and runs their `-version` at once, each bounded by `VERSION_TIMEOUT`.
    /// Cancel-safe: dropping the future kills both children's process groups.
    pub async fn detect(ffmpeg: &str, ffprobe: &str) -> Tools {
        let (ffmpeg, ffprobe) = tokio::join!(detect_tool(ffmpeg), detect_tool(ffprobe));
        Tools { ffmpeg, ffprobe }
    }
}

async fn detect_tool(name: &str) -> Tool {
    // A few stat calls, the same PATH walk the exec below would make itself.
    let path = resolve(name);
    let version = match &path {
        Some(p) => version_of(p, VERSION_TIMEOUT).await,
        None => None,
    };
    Tool {
        name: name.to_string(),
        path,
        version,
    }
}

/// `program -version` in its own process group, bounded by `timeout`; the version word of
/// its first line.
async fn version_of(program: &Path, timeout: Duration) -> Option<String> {
    let mut command = tokio::process::Command::new(program);
    command.arg("-version");
    let limits = crate::child::Limits {
        timeout,
        stdout_max: VERSION_OUTPUT_MAX,
        stderr_max: 0,
    };
    let out = crate::child::run(command, limits, std::future::pending())
        .await
        .ok()?;
    parse_version(&out.stdout)
}

/// "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) ..." → `5.1.6-0+deb12u1`.
fn parse_version(out: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(out);
    text.lines()
        .next()?
        .split_whitespace()
        .nth(2)
        .map(str::to_string)
}

/// What the server knows of its tools: nothing while the check runs, then what it found.
/// The check publishes once, on every path (a missing or hanging tool is published as
/// missing), so a wait ends within `VERSION_TIMEOUT` of the check's start.
pub struct ToolsCheck(watch::Sender<Option<Arc<Tools>>>);

impl Default for ToolsCheck {
    fn default() -> Self {
        ToolsCheck::checking()
    }
}

impl ToolsCheck {
    pub fn checking() -> ToolsCheck {
        ToolsCheck(watch::Sender::new(None))
    }

    /// The tools once the check has finished; `None` while it runs.
    pub fn known(&self) -> Option<Arc<Tools>> {
        self.0.borrow().clone()
    }

    /// The tools, waiting for the check for up to `TOOLS_WAIT`; `None` if it is still
    /// running then, or once `shutdown` turns true (the check is dropped then, unpublished).
    pub async fn wait(&self, mut shutdown: watch::Receiver<bool>) -> Option<Arc<Tools>> {
        if let Some(tools) = self.known() {
            return Some(tools);
        }
        let mut receiver = self.0.subscribe();
        let published = async {
            match receiver.wait_for(Option::is_some).await {
                Ok(tools) => tools.clone(),
                // The sender lives in `App` beside every waiter: never closed under one.
                Err(_) => None,
            }
        };
        tokio::select! {
            tools = tokio::time::timeout(TOOLS_WAIT, published) => tools.ok().flatten(),
            _ = shutdown.wait_for(|down| *down) => None,
        }
    }

    pub fn publish(&self, tools: Tools) {
        self.0.send_replace(Some(Arc::new(tools)));
    }
}

/// Looks `name` up in PATH unless it already contains a slash.
pub fn resolve(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_third_word_of_the_first_line() {
        let out = b"ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024\nbuilt with gcc 12\n";
        assert_eq!(parse_version(out).as_deref(), Some("5.1.6-0+deb12u1"));
        assert_eq!(parse_version(b"ffmpeg\n"), None);
        assert_eq!(parse_version(b""), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_with_the_published_tools_after_its_bound_or_at_shutdown() {
        let check = Arc::new(ToolsCheck::checking());
        let (shutdown_tx, shutdown) = watch::channel(false);
        assert!(check.known().is_none());
        // Nothing published: the wait gives up after TOOLS_WAIT (the paused clock jumps).
        let started = tokio::time::Instant::now();
        assert!(check.wait(shutdown.clone()).await.is_none());
        assert!(started.elapsed() >= TOOLS_WAIT);
        let waiter = tokio::spawn({
            let (check, shutdown) = (check.clone(), shutdown.clone());
            async move { check.wait(shutdown).await }
        });
        tokio::task::yield_now().await;
        let missing = Tool {
            name: "ffmpeg".into(),
            path: None,
            version: None,
        };
        check.publish(Tools {
            ffmpeg: missing.clone(),
            ffprobe: missing,
        });
        let tools = waiter.await.unwrap().expect("published before the bound");
        assert!(!tools.ffmpeg.is_available());
        assert!(check.known().is_some());
        // A shutdown ends a wait at once.
        let unknown = ToolsCheck::checking();
        shutdown_tx.send(true).unwrap();
        let started = tokio::time::Instant::now();
        assert!(unknown.wait(shutdown).await.is_none());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_program_that_hangs_is_missing_at_the_timeout() {
        // The group kill itself is `child::tests`' to prove; here: no version, in time.
        let dir = std::env::temp_dir().join(format!("exstreamtv-hangs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hangs = dir.join("hangs");
        std::fs::write(&hangs, "#!/bin/sh\nexec sleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hangs, std::fs::Permissions::from_mode(0o755)).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(version_of(&hangs, Duration::from_millis(300)).await, None);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_missing_program_is_found_missing_without_running_anything() {
        let tools = Tools::detect("/nonexistent/ffmpeg", "/nonexistent/ffprobe").await;
        assert!(tools.ffmpeg.path.is_none() && tools.ffmpeg.version.is_none());
        assert_eq!(tools.ffprobe.program(), Path::new("/nonexistent/ffprobe"));
    }
}
