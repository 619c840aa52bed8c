//! M3U sources and relayed channels (issue 17 point 2), through the real binary: the test
//! runs a loopback "IPTV box" (`Source`) serving an M3U and a live MPEG-TS that an FFmpeg
//! of the test encodes in real time (`-re`, lavfi testsrc2 + sine) for each connection. The
//! imported channel is relayed to two viewers through one FFmpeg of ours and one connection
//! to the box; when the box dies the viewers get the slate and the stream goes on; when it
//! is back the relay resumes. And the bad input: refused URLs, huge playlists, a 1 MB line,
//! the module off.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::stream_fixture::{self as fx, read_for};
use crate::support::{wait_until, Client, TempDir, TestServer};

/// The test's IPTV box: `/list.m3u`, `/big.m3u`, `/longline.m3u` and `/live.ts`.
pub(crate) struct Source {
    addr: SocketAddr,
    state: Arc<SourceState>,
}

struct SourceState {
    /// While set, `/live.ts` answers 503 and the running encoders are killed.
    down: AtomicBool,
    n_live_connections: AtomicUsize,
    encoders: Mutex<Vec<Child>>,
    stop: AtomicBool,
    playlists: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Source {
    pub(crate) fn start() -> Source {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(SourceState {
            down: AtomicBool::new(false),
            n_live_connections: AtomicUsize::new(0),
            encoders: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            playlists: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = shared.clone();
                std::thread::spawn(move || serve(conn, &state));
            }
        });
        Source { addr, state }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn serve_playlist(&self, path: &str, body: Vec<u8>) {
        self.state
            .playlists
            .lock()
            .unwrap()
            .push((path.to_string(), body));
    }

    /// Kills the live encoders (their connections end) and refuses new ones, or lets them
    /// in again.
    fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
        if down {
            for mut child in self.state.encoders.lock().unwrap().drain(..) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.set_down(true);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(mut conn: TcpStream, state: &SourceState) {
    let mut line = String::new();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // The rest of the head.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
            break;
        }
    }
    // The query (a media URL's `expire=`, ...) names nothing here.
    let path = line
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    if path == "/live.ts" {
        return serve_live(conn, state);
    }
    let body = state
        .playlists
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| b.clone());
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", b"no such playlist".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: audio/x-mpegurl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

/// A live MPEG-TS, encoded in real time for this connection, until the box goes down.
fn serve_live(mut conn: TcpStream, state: &SourceState) {
    if state.down.load(Ordering::SeqCst) {
        let _ = conn.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    state.n_live_connections.fetch_add(1, Ordering::SeqCst);
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=700:sample_rate=48000"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
        ])
        .args([
            "-c:a", "aac", "-b:a", "64k", "-ac", "1", "-f", "mpegts", "pipe:1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the source's ffmpeg");
    let mut out = child.stdout.take().unwrap();
    state.encoders.lock().unwrap().push(child);
    if conn
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = out.read(&mut buf) {
        if n == 0 || conn.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

fn server() -> TestServer {
    fx::server_with(&[], |conn| {
        fx::set_setting(conn, "sources", r#"{"allow_loopback": true}"#);
        // A failed relay is retried soon (the restart gate still spaces restarts by 60 s).
        fx::set_setting(
            conn,
            "breaker",
            r#"{"failure_threshold": 20, "window_seconds": 60, "cooldown_seconds": 1}"#,
        );
        fx::small_profile(conn);
    })
}

fn one_channel_playlist(source: &Source) -> String {
    format!(
        "#EXTM3U url-tvg=\"{}\"\n#EXTINF:-1 tvg-id=\"box.one\" tvg-name=\"Box One\" tvg-logo=\"http://{}/one.png\" group-title=\"Box\" tvg-chno=\"42\",Box One Live\n{}\n#EXTINF:-1 tvg-id=\"box.two\",Box Two\n{}\n",
        source.url("/epg.xml"),
        source.addr,
        source.url("/live.ts"),
        source.url("/missing.ts"),
    )
}

fn current_item(c: &Client, number: &str) -> Option<String> {
    let streams = c.get("/api/dashboard/active-streams").json();
    streams.as_array()?.iter().find_map(|s| {
        (s["channel_number"].as_str() == Some(number) || s["number"].as_str() == Some(number))
            .then(|| s["current_item"].as_str().map(String::from))
            .flatten()
    })
}

/// ffprobe's stream codecs of `ts` (written to `dir`), each once (ffprobe lists a TS
/// program's streams under the program too).
pub(crate) fn codecs(ts: &[u8], dir: &TempDir, name: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, ts).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names.join(",")
}

#[test]
fn a_live_source_is_relayed_to_two_viewers_through_one_ffmpeg_and_survives_its_death() {
    let source = Source::start();
    source.serve_playlist("/list.m3u", one_channel_playlist(&source).into_bytes());
    let server = server();
    let c = server.client();
    let dir = TempDir::new("m3u-relay");

    let r = c.post(&format!(
        "/api/import/m3u/preview?m3u_url={}",
        source.url("/list.m3u")
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let preview = r.json();
    assert_eq!(preview["url_tvg"], source.url("/epg.xml"));
    assert_eq!(preview["total"], 2);
    let first = &preview["channels"][0];
    assert_eq!(
        (
            first["index"].clone(),
            first["name"].clone(),
            first["tvg_id"].clone()
        ),
        (json!(0), json!("Box One Live"), json!("box.one"))
    );
    assert_eq!(first["group"], "Box");
    assert_eq!(first["chno"], "42");
    assert_eq!(first["url"], source.url("/live.ts"));

    let r = c.post_json(
        "/api/import/m3u/import",
        &json!({"m3u_url": source.url("/list.m3u"), "selected_channels": [0]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let channels = r.json();
    assert_eq!(channels.as_array().unwrap().len(), 1);
    let channel = &channels[0];
    assert_eq!(channel["number"], "42", "its own number, free");
    assert_eq!(channel["name"], "Box One Live");
    assert_eq!(channel["group"], "Box");
    let id = channel["id"].as_i64().unwrap();
    let profile = c.get("/api/ffmpeg-profiles").json();
    let small = profile
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test small")
        .unwrap()["id"]
        .clone();
    let r = c.put_json(
        &format!("/api/channels/{id}"),
        &json!({"ffmpeg_profile_id": small}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The guide: one long live programme now.
    let r = c.get(&format!("/api/channels/{id}/programming?hours=24"));
    let programs = r.json()["programs"].clone();
    assert_eq!(programs[0]["title"], "Box One Live", "{programs}");
    assert!(programs[0]["duration_seconds"].as_f64().unwrap() >= 86_400.0 - 1.0);
    let meta = c.get("/api/import/m3u/metadata/box.one").json();
    if meta["metadata"].is_null() {
        eprintln!("{}", server.log_text());
    }
    assert_eq!(meta["metadata"]["tvg_name"], "Box One", "{meta}");
    assert_eq!(meta["metadata"]["channel_ids"], json!([id]));
    assert_eq!(c.get("/api/import/m3u/metadata/nope").status, 404);

    // Two viewers, one FFmpeg, one connection to the box.
    let mut a = c.stream("/iptv/channel/42.ts").unwrap();
    assert_eq!(a.status, 200);
    let mut b = c.stream("/iptv/channel/42.ts").unwrap();
    assert_eq!(b.status, 200);
    let (ts_a, _) = read_for(&mut a.body, Duration::from_secs(4));
    let (ts_b, _) = read_for(&mut b.body, Duration::from_secs(2));
    assert_eq!(codecs(&ts_a, &dir, "a.ts"), "aac,h264");
    assert_eq!(codecs(&ts_b, &dir, "b.ts"), "aac,h264");
    assert_eq!(fx::n_ffmpeg(&server), 1, "one FFmpeg for two viewers");
    assert_eq!(source.state.n_live_connections.load(Ordering::SeqCst), 1);
    assert_eq!(current_item(&c, "42").as_deref(), Some("Box One Live"));

    // The box dies: the slate, and the stream goes on.
    source.set_down(true);
    let reader = std::thread::spawn(move || {
        let (ts, _) = read_for(&mut a.body, Duration::from_secs(14));
        ts
    });
    assert!(
        wait_until(Duration::from_secs(30), || current_item(&c, "42")
            .as_deref()
            == Some("Technical difficulties")),
        "no slate: {:?}",
        current_item(&c, "42")
    );
    let during = reader.join().unwrap();
    assert!(
        during.len() > 50_000,
        "the stream stalled: {} bytes",
        during.len()
    );
    assert_eq!(codecs(&during, &dir, "during.ts"), "aac,h264");

    // Back: relayed again (the restart gate spaces a channel's restarts by up to 60 s).
    source.set_down(false);
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(100), || {
            let _ = read_for(&mut b.body, Duration::from_millis(200));
            current_item(&c, "42").as_deref() == Some("Box One Live")
                && source.state.n_live_connections.load(Ordering::SeqCst) >= 2
        }),
        "not relayed again: {:?}",
        current_item(&c, "42")
    );
    eprintln!(
        "relayed again {:?} after the box came back",
        started.elapsed()
    );
    let (after, _) = read_for(&mut b.body, Duration::from_secs(3));
    assert_eq!(codecs(&after, &dir, "after.ts"), "aac,h264");
    assert_eq!(fx::n_ffmpeg(&server), 1);
}

fn detail_of(c: &Client, path: &str, body: &Value) -> (u16, String) {
    let r = c.post_json(path, body);
    (r.status, r.detail())
}

#[test]
fn refused_urls_huge_playlists_and_the_module_switch() {
    let source = Source::start();
    source.serve_playlist("/list.m3u", one_channel_playlist(&source).into_bytes());
    let server = TestServer::start();
    let c = server.client();
    let preview = "/api/import/m3u/preview";

    for (url, why) in [
        ("file:///etc/passwd", "scheme \"file\" is not allowed"),
        ("gopher://example/", "scheme \"gopher\" is not allowed"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "the cloud metadata address",
        ),
        ("http://[fe80::1]/x.m3u", "link-local"),
    ] {
        let (status, detail) = detail_of(&c, preview, &json!({ "m3u_url": url }));
        assert_eq!(status, 422, "{url}: {detail}");
        assert!(
            detail.starts_with("m3u_url: ") && detail.contains(why),
            "{url}: {detail}"
        );
    }
    // Loopback, with the setting off (the default).
    let (status, detail) = detail_of(&c, preview, &json!({ "m3u_url": source.url("/list.m3u") }));
    assert_eq!(status, 422, "{detail}");
    assert!(detail.contains("sources.allow_loopback"), "{detail}");
    let (status, detail) = detail_of(&c, preview, &json!({}));
    assert_eq!((status, detail.as_str()), (422, "m3u_url: field required"));
    // A file outside <data>/import/, also through a link from inside it; a file inside.
    let (status, detail) = detail_of(&c, preview, &json!({ "m3u_url": "/etc/hosts" }));
    assert_eq!(status, 422, "{detail}");
    let import_dir = server.data_dir().join("import");
    std::fs::create_dir_all(&import_dir).unwrap();
    std::os::unix::fs::symlink("/etc/hosts", import_dir.join("link.m3u")).unwrap();
    let link = import_dir.join("link.m3u").display().to_string();
    let (status, detail) = detail_of(&c, preview, &json!({ "m3u_url": link }));
    assert_eq!(status, 422, "{detail}");
    assert!(detail.contains("import/"), "{detail}");
    let local = import_dir.join("local.m3u");
    std::fs::write(
        &local,
        "#EXTM3U\n#EXTINF:-1,Local\nhttp://192.168.1.20/1.ts\n",
    )
    .unwrap();
    let r = c.post_json(preview, &json!({ "m3u_url": local.display().to_string() }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["channels"][0]["name"], "Local");

    let r = c.put_json("/api/settings/sources", &json!({"allow_loopback": true}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["allow_loopback"], true);

    // 100,000 lines: parsed, capped at 10,000 entries, quickly.
    let mut big = String::from("#EXTM3U\n");
    for i in 0..50_000 {
        big.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"c{i}\" group-title=\"G\",Channel {i}\nhttp://10.0.0.1/{i}.ts\n"
        ));
    }
    source.serve_playlist("/big.m3u", big.into_bytes());
    let started = Instant::now();
    let r = c.post_json(preview, &json!({ "m3u_url": source.url("/big.m3u") }));
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = r.json();
    assert_eq!(
        (doc["total"].clone(), doc["truncated"].clone()),
        (json!(10_000), json!(true))
    );
    eprintln!("100,000-line M3U previewed in {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");

    // A 1 MB line: that entry skipped, the rest listed.
    let mut long = b"#EXTM3U\n#EXTINF:-1 tvg-logo=\"".to_vec();
    long.extend(std::iter::repeat_n(b'x', 1 << 20));
    long.extend(b"\",Huge\nhttp://10.0.0.1/huge.ts\n#EXTINF:-1,Fine\nhttp://10.0.0.1/fine.ts\n");
    source.serve_playlist("/longline.m3u", long);
    let r = c.post_json(preview, &json!({ "m3u_url": source.url("/longline.m3u") }));
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = r.json();
    assert_eq!(
        (doc["total"].clone(), doc["skipped"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(doc["channels"][0]["name"], "Fine");

    // Over 8 MB: 413 for the whole.
    let huge = vec![b'#'; 9 << 20];
    source.serve_playlist("/huge.m3u", huge);
    let (status, detail) = detail_of(&c, preview, &json!({ "m3u_url": source.url("/huge.m3u") }));
    assert_eq!(status, 413, "{detail}");

    // An import: bad indices, a chosen stream URL that the guard refuses.
    let import = "/api/import/m3u/import";
    let (status, detail) = detail_of(
        &c,
        import,
        &json!({"m3u_url": source.url("/list.m3u"), "selected_channels": [5]}),
    );
    assert_eq!(status, 422);
    assert!(detail.starts_with("selected_channels: index 5"), "{detail}");
    let bad = "#EXTM3U\n#EXTINF:-1,Meta\nhttp://169.254.169.254/x.ts\n#EXTINF:-1,File\nfile:///etc/passwd\n";
    source.serve_playlist("/bad.m3u", bad.as_bytes().to_vec());
    for (index, why) in [(0, "always refused"), (1, "scheme \"file\"")] {
        let (status, detail) = detail_of(
            &c,
            import,
            &json!({"m3u_url": source.url("/bad.m3u"), "selected_channels": [index]}),
        );
        assert_eq!(status, 422);
        assert!(
            detail.contains(&format!("selected_channels[{index}]")) && detail.contains(why),
            "{detail}"
        );
    }
    let n_channels = c.get("/api/channels").json().as_array().unwrap().len();

    // The module off: 403 on import; the status says so; back on.
    let r = c.post("/api/m3u/service/disable");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["success"], true);
    assert_eq!(c.get("/api/m3u/service/status").json()["enabled"], false);
    let (status, detail) = detail_of(
        &c,
        import,
        &json!({"m3u_url": source.url("/list.m3u"), "selected_channels": [0]}),
    );
    assert_eq!(status, 403, "{detail}");
    let r = c.post("/api/m3u/service/enable?enable_testing=true");
    assert_eq!(r.status, 200);
    let status = c.get("/api/m3u/service/status").json();
    assert_eq!(
        status,
        json!({"enabled": true, "library_enabled": true, "testing_enabled": true})
    );
    assert_eq!(
        c.post("/api/m3u/service/restart").json()["restart_required"],
        false
    );

    // Numbering from channel_number_start when asked to ignore the source's numbers, and
    // nothing was created by the refused imports.
    assert_eq!(
        c.get("/api/channels").json().as_array().unwrap().len(),
        n_channels
    );
    let r = c.post_json(
        import,
        &json!({"m3u_url": source.url("/list.m3u"), "selected_channels": [0, 1, 0],
                "channel_number_start": 2000, "auto_assign_numbers": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let numbers: Vec<Value> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].clone())
        .collect();
    assert_eq!(numbers, [json!("2000"), json!("2001")]);
    let m3u = server.anon().get("/iptv/channels.m3u").text();
    assert!(m3u.contains("Box Two"), "{m3u}");
}

#[test]
fn url_media_is_probed_and_plays_and_a_page_without_yt_dlp_is_unplayable() {
    let dir = TempDir::new("m3u-url-media");
    let clip = dir.path().join("clip.mp4");
    crate::support::media::faststart_clip(&clip, 4.0, 500);
    let source = Source::start();
    source.serve_playlist("/films/clip.mp4", std::fs::read(&clip).unwrap());
    let server = TestServer::start();
    let c = server.client();
    let url = source.url("/films/clip.mp4");

    // Loopback needs the setting; gopher never.
    let r = c.post_json("/api/media", &json!({ "url": url }));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.detail().starts_with("url: ") && r.detail().contains("sources.allow_loopback"));
    let r = c.post_json("/api/media", &json!({ "url": "gopher://x/a" }));
    assert_eq!(r.status, 422);
    let r = c.put_json("/api/settings/sources", &json!({"allow_loopback": true}));
    assert_eq!(r.status, 200);

    let r = c.post_json("/api/media", &json!({ "url": url }));
    assert_eq!(r.status, 201, "{}", r.text());
    let item = r.json();
    assert_eq!(item["source"], "url");
    assert_eq!(item["title"], "clip.mp4");
    assert_eq!(item["video_codec"], "h264");
    let duration = item["duration"].as_f64().unwrap();
    assert!((3.5..4.5).contains(&duration), "{duration}");
    let id = item["id"].as_i64().unwrap();
    assert_eq!(
        c.post_json("/api/media", &json!({ "url": url })).status,
        200,
        "twice: the same item"
    );

    // It plays: our stream of the item, read by ffprobe.
    let mut s = c.stream(&format!("/iptv/stream/{id}")).unwrap();
    assert_eq!(s.status, 200);
    let (ts, _) = read_for(&mut s.body, Duration::from_secs(6));
    assert_eq!(codecs(&ts, &dir, "item.ts"), "aac,h264");
    s.body.close();

    // A YouTube page without yt-dlp: stored, unplayable, with the reason.
    let r = c.post_json(
        "/api/media",
        &json!({ "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "title": "Video" }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let page = r.json();
    assert_eq!(page["source"], "youtube");
    assert_eq!(page["is_missing"], true);
    assert!(
        page["probe_error"]
            .as_str()
            .unwrap()
            .starts_with("yt-dlp is not installed"),
        "{page}"
    );
}

/// POSTs `file` as the multipart part `file`; the status line.
pub(crate) fn upload(addr: SocketAddr, path: &str, file: &[u8]) -> String {
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; \
filename=\"cookies.txt\"\r\nContent-Type: text/plain\r\n\r\n"
        .to_vec();
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n\
         Content-Length: {}\r\n\r\n",
        crate::support::TOKEN,
        body.len()
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    answer
}

#[test]
fn source_credentials_are_0600_secrets_never_shown_or_logged() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start();
    let c = server.client();
    let status = c.get("/api/auth/status").json();
    assert_eq!(status["youtube"]["authenticated"], false, "{status}");
    assert_eq!(status["archive_org"]["authenticated"], false);
    assert!(status["youtube"]["yt_dlp_available"].is_boolean());

    let cookie =
        b"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tsecret-sid-value\n";
    let answer = upload(server.addr, "/api/auth/youtube/cookies", cookie);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = upload(server.addr, "/api/auth/youtube/cookies", b"{not cookies}");
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
    assert_eq!(
        c.get("/api/auth/youtube/status").json()["has_cookies"],
        true
    );
    let file = server.data_dir().join("secrets/youtube-cookies.txt");
    assert_eq!(std::fs::read(&file).unwrap(), cookie);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let r = c.post_json("/api/auth/archive-org", &json!({"username": "ia-user"}));
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "password: field required")
    );
    let r = c.post_json(
        "/api/auth/archive-org",
        &json!({"username": "ia-user", "password": "hunter2-secret"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let status = c.get("/api/auth/archive-org/status").json();
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["username"], "ia-user");
    let all = c.get("/api/auth/status").text();
    assert!(
        !all.contains("hunter2") && !all.contains("secret-sid"),
        "{all}"
    );
    let log = server.log_text();
    assert!(
        !log.contains("hunter2") && !log.contains("secret-sid"),
        "a secret was logged"
    );
    let login = server.data_dir().join("secrets/archive-org.json");
    assert_eq!(
        std::fs::metadata(&login).unwrap().permissions().mode() & 0o777,
        0o600
    );

    assert_eq!(c.delete("/api/auth/youtube").json()["success"], true);
    assert_eq!(c.delete("/api/auth/archive-org").status, 200);
    assert!(!file.exists() && !login.exists());
    let status = c.get("/api/auth/status").json();
    assert_eq!(status["youtube"]["authenticated"], false);
    assert_eq!(status["archive_org"]["username"], Value::Null);
}

#[test]
fn iptv_sources_list_every_playlist_read_refresh_and_record_failures() {
    let source = Source::start();
    source.serve_playlist("/list.m3u", one_channel_playlist(&source).into_bytes());
    let server = server();
    let c = server.client();
    let sources = "/api/integrations/iptv/sources";
    assert_eq!(c.get(sources).json(), json!([]));
    // Bad input first: each a clear 4xx/501, nothing stored.
    let r = c.post_json(sources, &json!({"name": "x"}));
    assert_eq!(
        (r.status, r.detail()),
        (422, "m3u_url: field required".to_string())
    );
    let r = c.post_json(
        sources,
        &json!({"source_type": "xtream", "m3u_url": "http://127.0.0.1:1/"}),
    );
    assert_eq!(r.status, 501, "{}", r.text());
    let r = c.post_json(
        sources,
        &json!({"source_type": "rss", "m3u_url": "http://127.0.0.1:1/"}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.post_json(sources, &json!({"m3u_url": source.url("/nothing.m3u")}));
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.post_json(sources, &json!({"m3u_url": "http://169.254.169.254/x.m3u"}));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(c.get(sources).json(), json!([]));

    let r = c.post_json(
        sources,
        &json!({"name": "The box", "m3u_url": source.url("/list.m3u")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!(created["channel_count"], 2, "{created}");
    assert_eq!(created["name"], "The box");
    assert_eq!(created["source_type"], "m3u");
    let id = created["id"].as_i64().unwrap();
    let channels = c.get(&format!("{sources}/{id}/channels")).json();
    assert_eq!(channels[0]["tvg_id"], "box.one", "{channels}");

    // An import of another playlist records it too; the same URL again stays one source.
    source.serve_playlist("/other.m3u", one_channel_playlist(&source).into_bytes());
    for url in ["/other.m3u", "/list.m3u"] {
        let r = c.post_json(
            "/api/import/m3u/import",
            &json!({"m3u_url": source.url(url), "selected_channels": [1], "channel_number_start": 700}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let list = c.get(sources).json();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[1]["name"], "127.0.0.1", "{list}");
    assert!(list[1]["last_refresh"].is_string(), "{list}");

    // The playlist goes away: the refresh says so and keeps the last good count.
    source
        .state
        .playlists
        .lock()
        .unwrap()
        .retain(|(p, _)| p != "/list.m3u");
    let r = c.post(&format!("{sources}/{id}/refresh")).json();
    assert_eq!(r["success"], false, "{r}");
    let after = c.get(&format!("{sources}/{id}")).json();
    assert_eq!(after["channel_count"], 2, "{after}");
    assert!(
        after["last_error"].as_str().unwrap().contains("m3u_url"),
        "{after}"
    );
    source.serve_playlist("/list.m3u", one_channel_playlist(&source).into_bytes());
    let r = c.post(&format!("{sources}/{id}/test")).json();
    assert_eq!(
        (r["success"].clone(), r["message"].clone()),
        (json!(true), json!("2 channels"))
    );
    assert!(c.get(&format!("{sources}/{id}")).json()["last_error"].is_null());

    assert_eq!(c.delete(&format!("{sources}/{id}")).status, 204);
    assert_eq!(c.delete(&format!("{sources}/{id}")).status, 404);
    assert_eq!(c.get(&format!("{sources}/{id}/channels")).status, 404);
    assert_eq!(c.get(&format!("{sources}/x")).status, 404);
    // The imported channels stay.
    let lineup = server.anon().get("/hdhomerun/lineup.json").json();
    assert!(
        lineup
            .as_array()
            .unwrap()
            .iter()
            .any(|ch| ch["GuideNumber"] == "700"),
        "{lineup}"
    );
}

/// `YYYYMMDDhhmmss +0000` of `ms`, or in the zone `+hh00` (`offset_h` hours east).
fn xmltv_time(ms: i64, offset_h: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms + offset_h * 3_600_000).unwrap();
    format!("{} {:+03}00", ts.strftime("%Y%m%d%H%M%S"), offset_h)
}

#[test]
fn a_sources_own_guide_is_merged_into_ours_for_its_channels() {
    let source = Source::start();
    source.serve_playlist("/list.m3u", one_channel_playlist(&source).into_bytes());
    let hour = fx::now_ms() / 3_600_000 * 3_600_000;
    let epg = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<tv>
  <channel id="box.one"><display-name>Box One</display-name></channel>
  <channel id="box.other"><display-name>Other</display-name></channel>
  <programme start="{a}" stop="{b}" channel="box.one"><title lang="en">Morning &amp; News</title><desc>Headlines</desc></programme>
  <programme start="{b1}" stop="{c1}" channel="box.one"><title>Weather</title></programme>
  <programme start="{a}" stop="{b}" channel="box.other"><title>Not ours</title></programme>
</tv>
"#,
        a = xmltv_time(hour, 0),
        b = xmltv_time(hour + 3_600_000, 0),
        // The same instants written in another zone.
        b1 = xmltv_time(hour + 3_600_000, 2),
        c1 = xmltv_time(hour + 7_200_000, 2),
    );
    source.serve_playlist("/epg.xml", epg.into_bytes());
    let server = server();
    let c = server.client();
    let r = c.post_json(
        "/api/import/m3u/import",
        &json!({"m3u_url": source.url("/list.m3u"), "selected_channels": [0]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let channel_id = r.json()[0]["id"].as_i64().unwrap();
    let sources = c.get("/api/integrations/iptv/sources").json();
    assert_eq!(
        sources[0]["url_tvg"],
        json!(source.url("/epg.xml")),
        "{sources}"
    );

    let xml = server.anon().get("/iptv/xmltv.xml").text();
    let ours = format!("channel=\"exstream.{channel_id}\"");
    let programmes: Vec<&str> = xml
        .split("<programme ")
        .skip(1)
        .filter(|p| p.contains(&ours))
        .collect();
    assert_eq!(programmes.len(), 2, "{xml}");
    assert!(
        programmes[0].starts_with(&format!(
            "start=\"{}\" stop=\"{}\"",
            xmltv_time(hour, 0),
            xmltv_time(hour + 3_600_000, 0)
        )),
        "{xml}"
    );
    assert!(
        programmes[0].contains(
            "<title lang=\"en\">Morning &amp; News</title><desc lang=\"en\">Headlines</desc>"
        ),
        "{xml}"
    );
    assert!(
        programmes[1].starts_with(&format!(
            "start=\"{}\" stop=\"{}\"",
            xmltv_time(hour + 3_600_000, 0),
            xmltv_time(hour + 7_200_000, 0)
        )) && programmes[1].contains("<title lang=\"en\">Weather</title>"),
        "{xml}"
    );
    assert!(
        !xml.contains("Not ours") && !xml.contains("box.one"),
        "{xml}"
    );

    let dir = TempDir::new("m3u-xmltv");
    let file = dir.path().join("guide.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = Command::new("tv_validate_file")
        .arg(&file)
        .env("XMLTV_SUPPLEMENT", "/usr/share/xmltv")
        .output()
        .expect("tv_validate_file (Debian xmltv-util) is installed");
    assert!(
        out.status.success(),
        "tv_validate_file failed:\n{}\n{}\n{xml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The guide goes away: a refresh drops it, and the relay's own programme is back.
    source
        .state
        .playlists
        .lock()
        .unwrap()
        .retain(|(p, _)| p != "/list.m3u");
    source.serve_playlist(
        "/list.m3u",
        one_channel_playlist(&source)
            .replacen(&format!(" url-tvg=\"{}\"", source.url("/epg.xml")), "", 1)
            .into_bytes(),
    );
    let id = sources[0]["id"].as_i64().unwrap();
    let r = c
        .post(&format!("/api/integrations/iptv/sources/{id}/refresh"))
        .json();
    assert_eq!(r["success"], true, "{r}");
    let xml = server.anon().get("/iptv/xmltv.xml").text();
    assert!(!xml.contains("Weather") && xml.contains(&ours), "{xml}");
}

/// A self-signed certificate for 127.0.0.1 (`c.pem`, key `k.pem`) made in `dir` with the
/// `openssl` CLI, valid for a day.
fn self_signed(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl CLI is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cert
}

/// python3's `http.server` over TLS serving `dir` on 127.0.0.1 (killed and reaped on drop).
struct HttpsServer {
    child: Child,
    port: u16,
}

impl HttpsServer {
    fn start(dir: &std::path::Path, cert: &std::path::Path) -> HttpsServer {
        let key = cert.with_file_name(format!(
            "{}-key.pem",
            cert.file_stem().unwrap().to_string_lossy()
        ));
        let script = "import functools, http.server, ssl, sys\n\
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
            ctx.load_cert_chain(sys.argv[2], sys.argv[3])\n\
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n\
            s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)\n\
            s.socket = ctx.wrap_socket(s.socket, server_side=True)\n\
            print(s.server_address[1], flush=True)\n\
            s.serve_forever()\n";
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(dir)
            .arg(cert)
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .expect("the https server printed its port");
        HttpsServer { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_playlist_is_fetched_through_curl_and_a_wrong_ca_is_refused() {
    let dir = TempDir::new("tls");
    let cert = self_signed(dir.path(), "c");
    let other = self_signed(dir.path(), "other");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("list.m3u"),
        "#EXTM3U\n#EXTINF:-1 tvg-id=\"tls.one\" tvg-chno=\"7\",Secure One\nhttps://127.0.0.1:1/live.ts\n",
    )
    .unwrap();
    let https = HttpsServer::start(&www, &cert);
    let preview = "/api/import/m3u/preview";
    let body = json!({ "m3u_url": https.url("/list.m3u") });

    let server = TestServer::builder()
        .env("CURL_CA_BUNDLE", &cert.display().to_string())
        .start();
    let c = server.client();
    let r = c.put_json("/api/settings/sources", &json!({"allow_loopback": true}));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.post_json(preview, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let preview_json = r.json();
    assert_eq!(preview_json["total"], 1, "{preview_json}");
    assert_eq!(preview_json["channels"][0]["name"], "Secure One");
    assert_eq!(preview_json["channels"][0]["tvg_id"], "tls.one");
    // A missing file is the server's 404, reported as such.
    let (status, detail) = detail_of(&c, preview, &json!({ "m3u_url": https.url("/gone.m3u") }));
    assert_eq!(status, 422, "{detail}");
    assert!(detail.contains("404"), "{detail}");
    drop(server);

    // Another CA: the certificate does not verify, and nothing turns verification off.
    let server = TestServer::builder()
        .env("CURL_CA_BUNDLE", &other.display().to_string())
        .start();
    let c = server.client();
    let r = c.put_json("/api/settings/sources", &json!({"allow_loopback": true}));
    assert_eq!(r.status, 200, "{}", r.text());
    let (status, detail) = detail_of(&c, preview, &body);
    assert_eq!(status, 422, "{detail}");
    assert!(
        detail.starts_with("m3u_url: ") && detail.contains("certificate"),
        "{detail}"
    );
}
