//! One FFmpeg child process: started in its own process group (`process_group(0)`), stdout
//! piped to the reader, the last stderr lines kept in a `StderrTail` for the log and the API,
//! and a stop that always reaps: killpg SIGTERM, a bounded wait (`STOP_GRACE`), killpg
//! SIGKILL, wait. `kill_on_drop` and `Drop` are the net for an aborted owner, not the plan.
//!
//! It knows nothing of what FFmpeg is asked to do (`argv`), channels or viewers.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;

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
/// After the exit, the stderr reader gets this long to read the last lines: the pipe closes
/// with the group, so only a grandchild that kept it open makes this wait run out.
const STDERR_JOIN_WAIT: Duration = Duration::from_millis(200);

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
            if tokio::time::timeout(STDERR_JOIN_WAIT, task).await.is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;

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
