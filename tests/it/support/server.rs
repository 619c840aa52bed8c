//! The real `exstreamtv` binary on `127.0.0.1:0`. Dropping a `TestServer` sends SIGTERM,
//! waits for exit, and asserts that no FFmpeg it started is still alive (children inherit a
//! unique marker in their environment, which /proc shows).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::Client;
use super::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_exstreamtv");
pub const TOKEN: &str = "test-token-0123456789abcdef";

pub struct TestServer {
    pub child: Option<Child>,
    pub addr: SocketAddr,
    pub data: Arc<TempDir>,
    pub marker: String,
    /// Everything the server logged so far.
    pub log: Arc<Mutex<String>>,
}

pub struct Builder {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    data: Option<Arc<TempDir>>,
    token: Option<String>,
    /// Run the server as this user (root tests cannot see permission errors otherwise).
    user: Option<&'static str>,
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder {
            args: Vec::new(),
            envs: Vec::new(),
            data: None,
            token: Some(TOKEN.into()),
            user: None,
        }
    }

    /// The demo-channel server with the test token.
    pub fn start() -> TestServer {
        TestServer::builder().start()
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr).token(TOKEN)
    }

    /// A client that sends no API token.
    pub fn anon(&self) -> Client {
        Client::new(self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the exit status.
    pub fn stop(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        unsafe_kill(child.id(), "TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, no grace: the power-cut stand-in.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The pids of live processes that carry this server's marker (its FFmpeg children).
    pub fn marked_processes(&self) -> Vec<u32> {
        marked_processes(&self.marker)
    }
}

pub fn marked_processes(marker: &str) -> Vec<u32> {
    let needle = format!("EXSTREAMTV_TEST_MARKER={marker}");
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let is_zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
                    .unwrap_or(false)
            })
            .unwrap_or(false);
        if !is_zombie && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Builder {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    /// Reuse a data dir (restart tests).
    pub fn data(mut self, data: Arc<TempDir>) -> Self {
        self.data = Some(data);
        self
    }

    /// Start without EXSTREAMTV_API_TOKEN (the token is generated into the data dir).
    pub fn no_token_env(mut self) -> Self {
        self.token = None;
        self
    }

    /// Runs the server as `nobody` (through util-linux `setpriv`), with the data dir handed
    /// over to it: file permissions then apply as they would under systemd's DynamicUser.
    pub fn run_as_nobody(mut self) -> Self {
        self.user = Some("nobody");
        self
    }

    pub fn media(self, dir: &Path) -> Self {
        self.arg("--media").arg(dir.display().to_string())
    }

    pub fn try_start(self) -> Result<TestServer, String> {
        let data = self.data.unwrap_or_else(|| Arc::new(TempDir::new("data")));
        let marker = format!(
            "{}-{}",
            std::process::id(),
            data.path().display().to_string().len() as u64 ^ rand_u64()
        );
        let mut cmd = match self.user {
            None => Command::new(BIN),
            Some(user) => {
                let uid = nix::unistd::User::from_name(user)
                    .ok()
                    .flatten()
                    .expect("the user exists");
                std::os::unix::fs::chown(
                    data.path(),
                    Some(uid.uid.as_raw()),
                    Some(uid.gid.as_raw()),
                )
                .expect("chown the data dir");
                let mut cmd = Command::new("setpriv");
                cmd.args([
                    format!("--reuid={}", uid.uid),
                    format!("--regid={}", uid.gid),
                    "--clear-groups".to_string(),
                    "--".to_string(),
                    BIN.to_string(),
                ]);
                cmd
            }
        };
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--discovery-port",
            "0",
            "--ssdp-port",
            "0",
            "--data",
        ])
        .arg(data.path())
        .args(&self.args)
        .env("EXSTREAMTV_TEST_MARKER", &marker)
        .env("EXSTREAMTV_LOG", "info")
        .env_remove("EXSTREAMTV_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(t) = &self.token {
            cmd.env("EXSTREAMTV_API_TOKEN", t);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| format!("spawn {BIN}: {e}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let log_writer = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("EXSTREAMTV_TEST_ECHO").is_some() {
                    eprintln!("[server] {line}");
                }
                if let Some(addr) = line.split("listening addr=").nth(1) {
                    if let (Some(tx), Ok(addr)) = (tx.take(), addr.trim().parse()) {
                        let _ = tx.send(addr);
                    }
                }
                if let Ok(mut l) = log_writer.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(TestServer {
                child: Some(child),
                addr,
                data,
                marker,
                log,
            }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(50));
                Err(format!(
                    "server did not start (exit {status:?}); log:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                ))
            }
        }
    }

    pub fn start(self) -> TestServer {
        match self.try_start() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let status = self.stop(Duration::from_secs(6));
        // Children must be gone once the server has exited: give the kernel a moment to
        // reap, then check. Panicking in drop while already panicking would abort, so only
        // assert on the happy path.
        let leaked = if super::wait_until(Duration::from_secs(2), || {
            self.marked_processes().is_empty()
        }) {
            Vec::new()
        } else {
            let pids = self.marked_processes();
            for pid in &pids {
                unsafe_kill(*pid, "KILL");
            }
            pids
        };
        if !std::thread::panicking() {
            assert!(
                leaked.is_empty(),
                "server left processes running: {leaked:?}"
            );
            if let Some(status) = status {
                assert!(
                    status.success(),
                    "server exited with {status}; log:\n{}",
                    self.log_text()
                );
            }
        }
    }
}

/// The path of a file inside the data dir.
pub fn data_file(server: &TestServer, name: &str) -> PathBuf {
    server.data_dir().join(name)
}
