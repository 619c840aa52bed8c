//! The external programs we drive — FFmpeg and ffprobe — found once at start: where they
//! are and which version, for health, doctor and the command builders.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    /// Blocking (runs `-version`): call at start-up or from `spawn_blocking`.
    pub fn detect(ffmpeg: &str, ffprobe: &str) -> Tools {
        // Both at once: each `-version` costs tens of ms of dynamic linking, on the start-up path.
        std::thread::scope(|scope| {
            let probe = scope.spawn(|| detect_tool(ffprobe));
            let ffmpeg = detect_tool(ffmpeg);
            let ffprobe = probe.join().unwrap_or_else(|_| Tool {
                name: ffprobe.to_string(),
                path: None,
                version: None,
            });
            Tools { ffmpeg, ffprobe }
        })
    }
}

fn detect_tool(name: &str) -> Tool {
    let path = resolve(name);
    let version = path.as_deref().and_then(|p| {
        let out = Command::new(p)
            .arg("-version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) ..."
        text.lines()
            .next()?
            .split_whitespace()
            .nth(2)
            .map(str::to_string)
    });
    Tool {
        name: name.to_string(),
        path,
        version,
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
