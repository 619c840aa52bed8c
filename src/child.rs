//! One short child process run to completion under limits: `ffmpeg -version`, ffprobe,
//! curl for https (fed its headers on stdin).
//! The child starts in its own process group, its output is read up to a cap (a program
//! that prints without end cannot fill our memory), and on every path out — done, timed
//! out, cancelled, or the future dropped by a shutdown — the whole group is killed and the
//! child reaped, so a wrapper script's own children go with it and nothing is left behind.
//!
//! Long-running FFmpeg children (the channel encoders) are `stream::ffmpeg::process`.
//! It must not know what the programs are.

use std::fmt;
use std::future::Future;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// How long the run may take and how much of its output is kept.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub stdout_max: u64,
    /// 0: stderr goes to /dev/null.
    pub stderr_max: u64,
}

/// A finished run: its status and what it printed (each cut at its cap).
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Debug)]
pub enum RunError {
    /// The program could not be started (missing, not executable).
    Spawn(std::io::Error),
    /// Reading its output or waiting for it failed.
    Io(std::io::Error),
    Timeout,
    Cancelled,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Spawn(e) => write!(f, "could not start: {e}"),
            RunError::Io(e) => write!(f, "{e}"),
            RunError::Timeout => f.write_str("timed out"),
            RunError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for RunError {}

/// Runs `command` (its program and arguments set; stdio and process group are ours) until
/// it exits, `limits.timeout` passes, or `cancel` resolves.
pub async fn run(
    command: Command,
    limits: Limits,
    cancel: impl Future<Output = ()>,
) -> Result<Output, RunError> {
    run_inner(command, None, limits, cancel).await
}

/// `run` with `input` written to the child's stdin (then closed): what a program reads
/// there, such as secrets that must not appear in its argv (`/proc/*/cmdline` is public).
pub async fn run_fed(
    command: Command,
    input: &[u8],
    limits: Limits,
    cancel: impl Future<Output = ()>,
) -> Result<Output, RunError> {
    run_inner(command, Some(input), limits, cancel).await
}

async fn run_inner(
    mut command: Command,
    input: Option<&[u8]>,
    limits: Limits,
    cancel: impl Future<Output = ()>,
) -> Result<Output, RunError> {
    let stderr = if limits.stderr_max == 0 {
        Stdio::null()
    } else {
        Stdio::piped()
    };
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(stderr)
        .process_group(0)
        // The net under `group`: the leader is killed and reaped even if the group kill fails.
        .kill_on_drop(true)
        .spawn()
        .map_err(RunError::Spawn)?;
    // Declared after `child`, so dropped before it: the group dies while its leader is
    // unreaped (its pid, the group id, cannot have been reused).
    let mut group = GroupKill(child.id().map(|pid| Pid::from_raw(pid as i32)));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stdin = child.stdin.take();
    let work = async {
        let (out, err, ()) = tokio::join!(
            read_capped(stdout, limits.stdout_max),
            read_capped(stderr, limits.stderr_max),
            feed(stdin, input.unwrap_or_default())
        );
        // The pipes are closed before the wait (inside `read_capped`): a program with more
        // to say gets EPIPE, not a full pipe that would block it until the deadline.
        let status = child.wait().await.map_err(RunError::Io)?;
        Ok(Output {
            status,
            stdout: out.map_err(RunError::Io)?,
            stderr: err.map_err(RunError::Io)?,
        })
    };
    let outcome = tokio::select! {
        done = tokio::time::timeout(limits.timeout, work) => done.unwrap_or(Err(RunError::Timeout)),
        () = cancel => Err(RunError::Cancelled),
    };
    match outcome {
        Ok(output) => {
            // Reaped: the group id may be reused from here on; never signal it.
            group.0 = None;
            Ok(output)
        }
        Err(err) => {
            drop(group);
            let _ = child.wait().await;
            Err(err)
        }
    }
}

/// Writes `input` to the child's stdin, then closes it. A child that exits or closes its
/// stdin without reading it all is not our error: its status and output tell.
async fn feed(stdin: Option<tokio::process::ChildStdin>, input: &[u8]) {
    use tokio::io::AsyncWriteExt;
    if let Some(mut stdin) = stdin {
        let _ = stdin.write_all(input).await;
        let _ = stdin.shutdown().await;
    }
}

/// Up to `max` bytes of `pipe`, then the pipe is closed.
async fn read_capped(
    pipe: Option<impl AsyncRead + Unpin>,
    max: u64,
) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    if let Some(pipe) = pipe {
        pipe.take(max).read_to_end(&mut out).await?;
    }
    Ok(out)
}

/// Kills a child's whole process group when dropped before the child was reaped.
struct GroupKill(Option<Pid>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const LIMITS: Limits = Limits {
        timeout: Duration::from_secs(5),
        stdout_max: 8,
        stderr_max: 64,
    };

    fn sh(script: &str) -> Command {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(script);
        command
    }

    #[tokio::test]
    async fn output_is_capped_and_an_endless_printer_still_ends() {
        let out = run(
            sh("echo hello world; echo oops >&2"),
            LIMITS,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hello wo");
        assert_eq!(out.stderr, b"oops\n");
        // `yes` never stops printing: once the cap is read the pipe closes and it dies.
        let out = run(sh("yes"), LIMITS, std::future::pending())
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), 8);
    }

    #[tokio::test]
    async fn a_timeout_or_cancel_kills_the_whole_group() {
        let dir = std::env::temp_dir().join(format!("exstreamtv-child-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (script, pid_file) = (dir.join("hangs"), dir.join("pid"));
        // The shell's child (the sleep) is what a group kill must reach.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nsleep 30 &\necho $! > '{}'\nwait\n",
                pid_file.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let short = Limits {
            timeout: Duration::from_millis(300),
            ..LIMITS
        };
        let started = std::time::Instant::now();
        let err = run(Command::new(&script), short, std::future::pending())
            .await
            .unwrap_err();
        assert!(matches!(err, RunError::Timeout), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_dies(&pid_file).await;
        std::fs::remove_file(&pid_file).unwrap();
        let cancel = tokio::time::sleep(Duration::from_millis(300));
        let err = run(Command::new(&script), LIMITS, cancel)
            .await
            .unwrap_err();
        assert!(matches!(err, RunError::Cancelled), "{err}");
        assert_dies(&pid_file).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn fed_input_reaches_the_childs_stdin() {
        let out = run_fed(sh("tr a-z A-Z"), b"secret", LIMITS, std::future::pending())
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"SECRET");
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let err = run(
            Command::new("/nonexistent/program"),
            LIMITS,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RunError::Spawn(_)), "{err}");
    }

    /// The pid written to `pid_file` is gone, or a zombie waiting for whoever reaps orphans.
    async fn assert_dies(pid_file: &std::path::Path) {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let mut pid = String::new();
        while pid.trim().is_empty() && std::time::Instant::now() < deadline {
            pid = std::fs::read_to_string(pid_file).unwrap_or_default();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stat = format!("/proc/{}/stat", pid.trim());
        let dead = || {
            std::fs::read_to_string(&stat)
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(true)
        };
        while !dead() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(dead(), "the program's child outlived the run");
    }
}
