//! The platform: start-up, health, errors, auth, restart, shutdown, hostile clients.

use std::time::Duration;

use crate::support::{TestServer, TOKEN};

#[test]
fn starts_and_reports_health() {
    let server = TestServer::start();
    let health = server.anon().get("/api/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "healthy");
    let detailed = server.anon().get("/api/health/detailed").json();
    assert_eq!(detailed["components"]["database"]["status"], "healthy");
    assert!(detailed["disk"]["free_bytes"].as_u64().unwrap() > 0);
    // The tools are checked after the listener opened: known within moments.
    let detailed = ffmpeg_known(&server);
    assert_eq!(
        detailed["components"]["ffmpeg"]["status"], "available",
        "{detailed}"
    );
    assert!(
        detailed["components"]["ffmpeg"]["version"].is_string(),
        "{detailed}"
    );
    assert_eq!(detailed["status"], "healthy", "{detailed}");
    assert_eq!(
        server.anon().get("/api/health/live").json()["status"],
        "alive"
    );
    assert_eq!(
        server.anon().get("/api/health/ready").json()["status"],
        "ready"
    );
}

/// How long the test FFmpeg takes to answer `-version`: far longer than a start, so the
/// requests made right after it land while the check runs.
const SLOW_VERSION: &str = "1.5";
/// Bounds the wait for the tools check (its own bound is 4 s after the listener opens).
const TOOLS_KNOWN_WITHIN: Duration = Duration::from_secs(10);

/// `/api/health/detailed` once the tools check has finished (polled against a deadline).
fn ffmpeg_known(server: &TestServer) -> serde_json::Value {
    let mut detailed = serde_json::Value::Null;
    let known = crate::support::wait_until(TOOLS_KNOWN_WITHIN, || {
        detailed = server.anon().get("/api/health/detailed").json();
        detailed["components"]["ffmpeg"]["status"] != "checking"
    });
    assert!(known, "the tools check never finished: {detailed}");
    detailed
}

/// The FFmpeg on PATH, where the test's wrapper hands over to.
fn real_ffmpeg() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&path)
        .map(|dir| dir.join("ffmpeg"))
        .find(|p| p.is_file())
        .expect("ffmpeg on PATH")
}

/// Writes an `ffmpeg` into `bin` that sleeps `seconds` before answering `-version` (an SD
/// card, a loaded board) and otherwise is the real one; returns it and a PATH that finds it
/// first.
fn slow_ffmpeg(bin: &crate::support::TempDir, seconds: &str) -> (std::path::PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let wrapper = bin.path().join("ffmpeg");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -version ]; then sleep {seconds}; fi\nexec '{}' \"$@\"\n",
            real_ffmpeg().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").expect("PATH")
    );
    (wrapper, path)
}

#[test]
fn a_slow_ffmpeg_check_delays_neither_health_nor_an_early_tune() {
    use std::io::Read;
    let bin = crate::support::TempDir::new("slow-ffmpeg");
    let (wrapper, path) = slow_ffmpeg(&bin, SLOW_VERSION);
    let server = TestServer::builder().env("PATH", &path).start();

    // Started means started: the basic probe is healthy at once, the detail says checking.
    let health = server.anon().get("/api/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "healthy");
    let detailed = server.anon().get("/api/health/detailed").json();
    assert_eq!(
        detailed["components"]["ffmpeg"]["status"], "checking",
        "{detailed}"
    );
    assert!(detailed["components"]["ffmpeg"]["version"].is_null());
    assert_eq!(detailed["status"], "healthy", "{detailed}");
    assert_eq!(
        server.anon().get("/api/health/streaming").json()["status"],
        "checking"
    );

    // Tunes made during the check wait for it instead of getting a 503: a HEAD of the
    // HDHomeRun URL beside it, then the TS stream itself.
    let addr = server.addr;
    let head = std::thread::spawn(move || {
        crate::support::Client::new(addr)
            .head("/hdhomerun/auto/v1")
            .status
    });
    let mut viewer = server.anon().stream("/iptv/channel/1.ts").expect("tune");
    assert_eq!(viewer.status, 200, "{}", server.log_text());
    let mut ts = vec![0u8; 188 * 64];
    viewer.body.read_exact(&mut ts).expect("TS bytes");
    assert!(
        ts.chunks(188).all(|packet| packet[0] == 0x47),
        "not MPEG-TS"
    );
    assert_eq!(head.join().unwrap(), 200);

    // The answer came after the check: health now shows the version.
    let detailed = ffmpeg_known(&server);
    let ffmpeg = &detailed["components"]["ffmpeg"];
    assert_eq!(ffmpeg["status"], "available", "{detailed}");
    assert!(ffmpeg["version"].is_string(), "{detailed}");
    assert_eq!(
        ffmpeg["path"].as_str(),
        Some(wrapper.to_str().unwrap()),
        "{detailed}"
    );
    assert_eq!(
        server.anon().get("/api/health/streaming").json()["status"],
        "healthy"
    );
    viewer.body.close();
}

#[test]
fn sigterm_during_the_tools_check_stops_at_once_and_kills_the_check() {
    let bin = crate::support::TempDir::new("hung-ffmpeg");
    // Hangs for the whole test: a check the shutdown did not kill would leave its sleep
    // behind (carrying the server's marker) for the drop to find.
    let (_, path) = slow_ffmpeg(&bin, "30");
    let mut server = TestServer::builder().env("PATH", &path).start();
    assert_eq!(
        server.anon().get("/api/health/detailed").json()["components"]["ffmpeg"]["status"],
        "checking"
    );
    let started = std::time::Instant::now();
    let status = server
        .stop(Duration::from_secs(5))
        .expect("exited within 5 s");
    assert!(status.success(), "{status}\n{}", server.log_text());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn every_error_is_json_with_the_right_status() {
    let server = TestServer::start();
    let c = server.client();
    let r = c.get("/no/such/route");
    assert_eq!((r.status, r.detail().as_str()), (404, "not found"));
    let r = c.request("DELETE", "/api/health", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    r.detail();
    // Allow is derived from the route's arms (`router::by_verb!`), every verb of them.
    for (method, path, allow) in [
        ("DELETE", "/api/channels", "GET, HEAD, POST"),
        ("POST", "/api/channels/1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("GET", "/api/channels/1/toggle-enabled", "POST"),
        (
            "PUT",
            "/api/channels/1/playback-position",
            "GET, HEAD, POST, DELETE",
        ),
        ("PUT", "/lineup.post", "POST"),
        ("DELETE", "/api/logs/clear", "GET, HEAD, POST"),
    ] {
        let r = c.request(method, path, None);
        assert_eq!(
            (r.status, r.header("allow")),
            (405, Some(allow)),
            "{method} {path}"
        );
        r.detail();
    }
    let r = server.anon().get("/api/channels");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    r.detail();
}

#[test]
fn auth_accepts_bearer_and_api_key_and_rejects_the_rest() {
    let server = TestServer::start();
    let path = "/api/no-such-resource";
    assert_eq!(server.anon().get(path).status, 401);
    assert_eq!(server.anon().token("wrong").get(path).status, 401);
    assert_eq!(
        server.anon().header("X-Api-Key", "nope").get(path).status,
        401
    );
    // Right token: past auth, then the router's 404.
    assert_eq!(server.client().get(path).status, 404);
    assert_eq!(
        server.anon().header("X-Api-Key", TOKEN).get(path).status,
        404
    );
    // Open routes.
    for open in ["/api/health", "/api/health/live", "/health", "/version"] {
        assert_eq!(server.anon().get(open).status, 200, "{open}");
    }
}

#[test]
fn sigterm_exits_zero_quickly() {
    let mut server = TestServer::start();
    assert_eq!(server.anon().get("/api/health").status, 200);
    let started = std::time::Instant::now();
    let status = server
        .stop(Duration::from_secs(5))
        .expect("exited within 5 s");
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn hostile_bytes_get_an_error_status_and_the_server_keeps_serving() {
    use crate::support::http::raw;
    let server = TestServer::start();
    let t = Duration::from_secs(5);
    let garbage = raw(
        server.addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        t,
    );
    assert!(
        garbage.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&garbage)
    );
    // A 64 KiB header line.
    let mut big = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let resp = raw(server.addr, &big, t);
    assert!(
        resp.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&resp[..resp.len().min(200)])
    );
    // Invalid UTF-8 in the path.
    let resp = raw(
        server.addr,
        b"GET /api/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        t,
    );
    assert!(
        resp.starts_with(b"HTTP/1.1 400") || resp.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    // Percent-encoded invalid UTF-8 reaches the router and is a JSON 404.
    let r = server.client().get("/api/%ff%fe/x");
    assert_eq!(r.status, 404);
    r.detail();
    assert_eq!(server.anon().get("/api/health").status, 200);
}

#[test]
fn half_open_connections_neither_delay_requests_nor_outlive_the_header_timeout() {
    use std::io::Write;
    let server = TestServer::start();
    // 200 clients that send half a request head and then wait (slowloris).
    let opened = std::time::Instant::now();
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .expect("write");
        idle.push(s);
    }
    let started = std::time::Instant::now();
    let r = server.anon().get("/api/health");
    let elapsed = started.elapsed();
    assert_eq!(r.status, 200);
    assert!(
        elapsed < Duration::from_secs(1),
        "normal request took {elapsed:?} behind 200 half-open connections"
    );

    // The header-read timeout (10 s, http::server::HEADER_READ_TIMEOUT) closes them. A
    // keep-alive client that asked again at 4 s has until 14 s for its next head: the
    // deadline of each head counts from the end of the previous answer.
    let mut keep = crate::support::http::KeepAlive::connect(server.addr);
    assert_eq!(keep.get("/api/health").status, 200);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(keep.get("/api/health").status, 200);
    let answered = std::time::Instant::now();
    let closed_after = |s: &mut std::net::TcpStream, t0: std::time::Instant| {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 512];
        // EOF, a 408, or a reset all mean the server closed it; a timeout means it did not.
        loop {
            match std::io::Read::read(s, &mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                // A signal (another test's child exiting) interrupted the wait: wait on.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("still open after {:?}: {e}", t0.elapsed()),
            }
        }
        t0.elapsed()
    };
    // Timed from before the connect (the server's clock starts later) and from after the
    // answer; the upper bounds leave room for a loaded machine.
    let slow = closed_after(&mut idle[0], opened);
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(14)).contains(&slow),
        "a half-sent head was closed after {slow:?}"
    );
    let kept = closed_after(keep.socket(), answered);
    assert!(
        (Duration::from_millis(9_500)..Duration::from_secs(14)).contains(&kept),
        "an idle keep-alive connection was closed {kept:?} after its last answer"
    );
    drop(idle);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    use crate::support::TempDir;
    let data = std::sync::Arc::new(TempDir::new("notdb"));
    let db = data.path().join("exstreamtv.db");
    let junk = b"this is my thesis, not a database\n".repeat(100);
    std::fs::write(&db, &junk).unwrap();
    let err = match TestServer::builder().data(data.clone()).try_start() {
        Ok(_) => panic!("server started on a non-SQLite file"),
        Err(e) => e,
    };
    assert!(err.contains("not an SQLite database"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), junk, "the file was modified");
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    use crate::support::TempDir;
    let data = std::sync::Arc::new(TempDir::new("newer"));
    {
        let mut server = TestServer::builder().data(data.clone()).start();
        server.stop(Duration::from_secs(5));
    }
    let db = data.path().join("exstreamtv.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    let err = match TestServer::builder().data(data.clone()).try_start() {
        Ok(_) => panic!("server started on a newer database"),
        Err(e) => e,
    };
    assert!(err.contains("newer than this exstreamtv supports"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn restart_keeps_the_generated_token_and_the_data() {
    use crate::support::TempDir;
    let data = std::sync::Arc::new(TempDir::new("restart"));
    let token;
    let device_id;
    {
        let server = TestServer::builder()
            .data(data.clone())
            .no_token_env()
            .start();
        token = std::fs::read_to_string(server.data_dir().join("api-token"))
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(token.len(), 64, "32 random bytes as hex");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(server.data_dir().join("api-token"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(server.anon().token(&token).get("/api/no-such").status, 404);
        assert!(
            server.log_text().contains("api-token"),
            "the token's path is logged"
        );
        device_id = settings_device_id(&data);
    }
    let server = TestServer::builder()
        .data(data.clone())
        .no_token_env()
        .start();
    assert_eq!(
        std::fs::read_to_string(server.data_dir().join("api-token"))
            .unwrap()
            .trim(),
        token
    );
    assert_eq!(server.anon().token(&token).get("/api/no-such").status, 404);
    assert_eq!(server.anon().token("x").get("/api/no-such").status, 401);
    drop(server);
    assert_eq!(
        settings_device_id(&data),
        device_id,
        "the DeviceID survives a restart"
    );
}

fn settings_device_id(data: &crate::support::TempDir) -> String {
    let conn = rusqlite::Connection::open(data.path().join("exstreamtv.db")).unwrap();
    let v: String = conn
        .query_row(
            "SELECT value FROM settings WHERE key = 'hdhomerun'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str::<serde_json::Value>(&v).unwrap()["device_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn bad_command_lines_exit_2_with_a_message() {
    for args in [
        &["--bogus"][..],
        &["--listen", "nope"],
        &["--tuners", "99"],
        &["--board", "amiga"],
    ] {
        let out = std::process::Command::new(crate::support::server::BIN)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("exstreamtv:") && stderr.contains("--help"),
            "{stderr}"
        );
    }
    let out = std::process::Command::new(crate::support::server::BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("exstreamtv "));
    let out = std::process::Command::new(crate::support::server::BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--discovery-port"));
}

#[test]
fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let server = TestServer::builder()
        .env("EXSTREAMTV_DEBUG_ROUTES", "1")
        .start();
    let r = server.client().get("/api/debug/panic");
    assert_eq!(
        (r.status, r.detail().as_str()),
        (500, "internal server error")
    );
    assert_eq!(server.anon().get("/api/health").status, 200);
    // Off by default.
    let plain = TestServer::start();
    assert_eq!(plain.client().get("/api/debug/panic").status, 404);
}

#[test]
fn doctor_reports_board_ffmpeg_encoders_ports_and_data() {
    let data = crate::support::TempDir::new("doctor");
    let out = std::process::Command::new(crate::support::server::BIN)
        .args([
            "doctor",
            "--listen",
            "127.0.0.1:0",
            "--discovery-port",
            "0",
            "--board",
            "rpi4",
            "--data",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("board:     rpi4"), "{text}");
    assert!(text.contains("encoder:   libx264       works"), "{text}");
    assert!(
        text.contains("h264_v4l2m2m") && text.contains("(board's choice)"),
        "{text}"
    );
    assert!(
        text.contains("ffmpeg:")
            && text.contains("discovery: disabled")
            && text.contains("writable"),
        "{text}"
    );
}

#[test]
fn kill_9_during_concurrent_writes_loses_no_acknowledged_write() {
    use std::sync::{Arc, Mutex};
    let data = Arc::new(crate::support::TempDir::new("kill9"));
    let mut server = TestServer::builder().data(data.clone()).start();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..20)
        .map(|w| {
            let client = server.client();
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let number = format!("{}.{}", 100 + w, i + 1);
                    let body =
                        serde_json::json!({"number": number, "name": format!("Writer {w} #{i}")});
                    match client.try_request(
                        "POST",
                        "/api/channels",
                        Some(body.to_string().as_bytes()),
                    ) {
                        Ok(r) if r.status == 201 => acked.lock().unwrap().push(number),
                        Ok(r) => panic!("write refused: {} {}", r.status, r.text()),
                        Err(_) => break, // the server died under us
                    }
                }
            })
        })
        .collect();
    // Let the writers get going, then pull the plug.
    assert!(crate::support::wait_until(
        Duration::from_secs(20),
        || acked.lock().unwrap().len() >= 200
    ));
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let server = TestServer::builder().data(data.clone()).start();
    let conn = rusqlite::Connection::open(data.path().join("exstreamtv.db")).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    let listed = server.client().get("/api/channels").json();
    let numbers: std::collections::HashSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["number"].as_str())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|n| !numbers.contains(n.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(10)]
    );
}
