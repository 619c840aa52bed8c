//! HLS behind a standard HTTP cache: Debian's nginx with `deploy/nginx.conf` (paths and
//! ports substituted into a temp copy) in front of the real server, 50 viewers through it,
//! and the server's own request counts: each segment is fetched from the server once.
//!
//! Skipped, with the reason printed, only when nginx is not installed (CI installs it).
//! `EXSTREAMTV_FIGURES=1` (scripts/hls-cache-figures) also runs the same viewers straight
//! at the server first, the baseline the figure is a ratio against.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stream_fixture::{self as fx, item, Media};
use crate::support::http::Client;
use crate::support::{wait_until, TempDir, TestServer};

const N_VIEWERS: usize = 50;
/// Long enough for a few new segments (about 4 s each) after the ones listed at the start.
const VIEWING: Duration = Duration::from_secs(12);
const CHANNEL: &str = "930";

/// nginx as the test runs it: its own prefix, pid, logs and cache in a temp dir; stopped
/// (TERM to the master, which stops its workers) and reaped on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// `deploy/nginx.conf` with its three marked lines (and its log and cache paths) pointed
/// at the test's server, port and temp dir. Each must match: the file keeps those lines.
fn site_conf(upstream: SocketAddr, port: u16, dir: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf");
    let mut conf = std::fs::read_to_string(&path).expect("deploy/nginx.conf");
    let dir = dir.display();
    for (from, to) in [
        ("server 127.0.0.1:8411;", format!("server {upstream};")),
        ("listen 8080;", format!("listen 127.0.0.1:{port};")),
        ("/var/cache/nginx/exstreamtv", format!("{dir}/cache")),
        (
            "/var/log/nginx/exstreamtv.access.log",
            format!("{dir}/access.log"),
        ),
    ] {
        assert!(
            conf.contains(from),
            "deploy/nginx.conf no longer has {from:?}"
        );
        conf = conf.replace(from, &to);
    }
    conf
}

impl Nginx {
    fn start(binary: &Path, upstream: SocketAddr) -> Nginx {
        let dir = TempDir::new("nginx");
        let port = free_port();
        let d = dir.path().display().to_string();
        for sub in ["cache", "client", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("nginx dir");
        }
        // Workers run as `nobody` when the test runs as root: let them write the cache.
        let _ = Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(dir.path())
            .status();
        std::fs::write(
            dir.path().join("exstreamtv.conf"),
            site_conf(upstream, port, dir.path()),
        )
        .expect("site conf");
        let main = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nworker_processes 2;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  client_body_temp_path {d}/client;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/exstreamtv.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("main conf");
        let child = Command::new(binary)
            .args(["-p", &d, "-c", &format!("{d}/nginx.conf")])
            .args(["-e", &format!("{d}/error.log"), "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
        let mut nginx = Nginx { child, addr, dir };
        let up = wait_until(Duration::from_secs(5), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        if !up {
            let log = std::fs::read_to_string(nginx.dir.path().join("error.log"));
            let status = nginx.child.try_wait();
            panic!("nginx did not listen on {addr}: {status:?} {log:?}");
        }
        nginx
    }
}

impl Nginx {
    /// nginx's error log, for a failure's message.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM: the master stops its workers, then exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let stopped = wait_until(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What one viewer read.
#[derive(Default)]
struct Viewed {
    segments: BTreeSet<u64>,
    n_playlists: usize,
    errors: Vec<String>,
}

/// The segment numbers a live playlist lists, in order.
fn listed(playlist: &str) -> Vec<u64> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('?').next())
        .filter_map(|l| l.strip_prefix(&format!("{CHANNEL}/seg/")))
        .filter_map(|l| l.strip_suffix(".ts"))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// A player: the playlist every second, from the live edge (the last three listed) on
/// every new segment once, each checked (200, its Content-Length, whole TS packets).
fn watch(addr: SocketAddr, until: Instant) -> Viewed {
    let client = Client::new(addr);
    let mut viewed = Viewed::default();
    let mut last: Option<u64> = None;
    while Instant::now() < until {
        let playlist = client.get(&format!("/iptv/channel/{CHANNEL}.m3u8"));
        viewed.n_playlists += 1;
        if playlist.status != 200 {
            viewed
                .errors
                .push(format!("playlist: {} {}", playlist.status, playlist.text()));
        } else {
            let seqs = listed(&playlist.text());
            let from = match last {
                Some(last) => last + 1,
                None => seqs
                    .iter()
                    .rev()
                    .nth(2)
                    .or(seqs.first())
                    .copied()
                    .unwrap_or(0),
            };
            for seq in seqs.into_iter().filter(|s| *s >= from) {
                let seg = client.get(&format!("/iptv/channel/{CHANNEL}/seg/{seq}.ts"));
                let length = seg.header("content-length").and_then(|l| l.parse().ok());
                let whole = !seg.body.is_empty()
                    && seg.body.len() % 188 == 0
                    && seg.body[0] == 0x47
                    && length == Some(seg.body.len());
                if seg.status != 200 || !whole {
                    viewed.errors.push(format!(
                        "segment {seq}: {} ({} bytes, content-length {length:?})",
                        seg.status,
                        seg.body.len()
                    ));
                } else {
                    viewed.segments.insert(seq);
                }
                last = Some(seq);
            }
        }
        // A player refetches the live playlist about once a second here (max-age=1).
        std::thread::sleep(Duration::from_secs(1));
    }
    viewed
}

/// `N_VIEWERS` players at `addr` for `VIEWING`: the distinct segments read, and every
/// error any of them met.
fn viewers(addr: SocketAddr) -> (BTreeSet<u64>, Vec<String>) {
    let until = Instant::now() + VIEWING;
    let handles: Vec<_> = (0..N_VIEWERS)
        .map(|_| std::thread::spawn(move || watch(addr, until)))
        .collect();
    let mut all = BTreeSet::new();
    let mut errors = Vec::new();
    for h in handles {
        let v = h.join().expect("a viewer thread");
        assert!(v.n_playlists > 0);
        all.extend(v.segments);
        errors.extend(v.errors);
    }
    (all, errors)
}

/// Segment requests the server itself answered with 200 (its `/metrics`, read directly).
fn server_segment_fetches(server: &TestServer) -> u64 {
    let metrics = server.anon().get("/metrics").text();
    metrics
        .lines()
        .filter(|l| l.starts_with("exstreamtv_http_requests_total{"))
        .filter(|l| l.contains("/seg/") && l.contains("status=\"200\""))
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|n| n.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

#[test]
fn fifty_hls_viewers_through_nginx_cost_the_server_one_fetch_per_segment() {
    let Some(binary) = nginx_binary() else {
        println!("SKIPPED hls_cache: nginx is not installed (apt-get install nginx)");
        return;
    };
    let start = fx::now_ms() - 1000;
    let server = fx::server_with(&["--tuners", "1"], |conn| {
        fx::add_channel(
            conn,
            CHANNEL,
            &[item(&Media::Generated(2), 600_000, "Long")],
            start,
        );
    });
    // The first playlist fetch starts the channel and waits for its first segment.
    let direct = server.anon();
    assert!(wait_until(Duration::from_secs(20), || {
        direct.get(&format!("/iptv/channel/{CHANNEL}.m3u8")).status == 200
    }));
    let playlist = direct.get(&format!("/iptv/channel/{CHANNEL}.m3u8"));
    assert_eq!(playlist.header("cache-control"), Some("max-age=1"));
    let first = *listed(&playlist.text()).first().expect("a listed segment");
    let seg = direct.get(&format!("/iptv/channel/{CHANNEL}/seg/{first}.ts"));
    assert_eq!(seg.status, 200);
    assert_eq!(
        seg.header("cache-control"),
        Some("public, max-age=24, immutable")
    );
    assert_eq!(
        seg.header("content-length"),
        Some(seg.body.len().to_string().as_str())
    );
    let expired = direct.get(&format!("/iptv/channel/{CHANNEL}/seg/{}.ts", first + 1000));
    assert_eq!(expired.status, 404);
    expired.detail();

    let baseline = if std::env::var_os("EXSTREAMTV_FIGURES").is_some() {
        let before = server_segment_fetches(&server);
        let (segments, errors) = viewers(server.addr);
        assert!(errors.is_empty(), "{errors:?}");
        let fetches = server_segment_fetches(&server) - before;
        let per_segment = fetches as f64 / segments.len() as f64;
        println!(
            "hls cache figures: direct: {per_segment:.2} server fetches per segment \
             ({N_VIEWERS} viewers, {} segments, {fetches} fetches)",
            segments.len()
        );
        Some(per_segment)
    } else {
        None
    };

    let nginx = Nginx::start(&binary, server.addr);
    let before = server_segment_fetches(&server);
    let (segments, errors) = viewers(nginx.addr);
    let fetches = server_segment_fetches(&server) - before;
    assert!(errors.is_empty(), "viewers through nginx: {errors:?}");
    assert!(segments.len() >= 3, "only {segments:?} were read");
    let per_segment = fetches as f64 / segments.len() as f64;
    let ratio = baseline.map_or(String::new(), |b| {
        format!("; {:.3} of the direct figure", per_segment / b)
    });
    println!(
        "hls cache figures: through nginx: {per_segment:.2} upstream fetches per segment \
         ({N_VIEWERS} viewers, {} segments, {fetches} fetches){ratio}",
        segments.len()
    );
    // Through the cache the headers stay as the server sent them, and a repeat is a hit.
    let client = Client::new(nginx.addr);
    let last = *segments.last().expect("segments");
    let again = client.get(&format!("/iptv/channel/{CHANNEL}/seg/{last}.ts"));
    assert_eq!(again.status, 200);
    assert_eq!(
        again.header("x-cache-status"),
        Some("HIT"),
        "{:?}\nnginx: {}",
        again.headers,
        nginx.log()
    );
    assert_eq!(
        again.header("cache-control"),
        Some("public, max-age=24, immutable")
    );
    assert_eq!(
        fetches,
        segments.len() as u64,
        "the server answered {fetches} segment requests for {} segments",
        segments.len()
    );
    drop(nginx);
}
