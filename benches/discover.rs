//! discover.json throughput: requests per second over one keep-alive connection, the server
//! on a single-threaded runtime (one core), against a bare hyper server answering the same
//! bytes in the same run. Prints both and the ratio (ours / bare); asserts nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use exstreamtv::config::{Command, Config};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const REQUESTS: usize = 20_000;
const ROUNDS: usize = 3;

/// Sends `n` keep-alive GETs for `path` and returns requests per second (and the last body).
fn hammer(addr: SocketAddr, path: &str, n: usize) -> (f64, Vec<u8>) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).ok();
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let request = format!("GET {path} HTTP/1.1\r\nHost: 192.168.1.20:8411\r\n\r\n");
    let mut body = Vec::new();
    let started = Instant::now();
    for _ in 0..n {
        writer.write_all(request.as_bytes()).expect("write");
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line
                .to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
            {
                len = v.parse().expect("length");
            }
        }
        body.resize(len, 0);
        reader.read_exact(&mut body).expect("body");
    }
    (n as f64 / started.elapsed().as_secs_f64(), body)
}

fn one_core_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A bare hyper 1 server answering every request with `doc`.
fn bare_hyper(doc: Bytes) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        one_core_runtime().block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                stream.set_nodelay(true).ok();
                let doc = doc.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let doc = doc.clone();
                        async move {
                            let mut resp = hyper::Response::new(Full::new(doc));
                            resp.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().expect("bare server address")
}

/// exstreamtv's own HTTP server (router, caches, metrics) on a one-thread runtime.
fn data_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("exstreamtv-bench-discover-{}", std::process::id()))
}

fn ours() -> SocketAddr {
    let dir =
        std::env::temp_dir().join(format!("exstreamtv-bench-discover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args: Vec<std::ffi::OsString> = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--discovery-port",
        "0",
        "--ssdp-port",
        "0",
        "--data",
    ]
    .iter()
    .map(Into::into)
    .chain([dir.clone().into_os_string()])
    .collect();
    let Ok(Command::Serve(config)) = Config::from_args_and_env(&args, |_| None) else {
        panic!("config");
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (_shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let app =
            Arc::new(exstreamtv::serve::prepare(config, shutdown_rx.clone()).expect("prepare"));
        one_core_runtime().block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            app.outputs.set_http_addr(addr);
            tx.send(addr).expect("send");
            exstreamtv::http::server::serve(app, listener, shutdown_rx).await;
        });
    });
    rx.recv().expect("server address")
}

fn main() {
    let ours = ours();
    // Warm up (the first request renders and caches the document) and take its bytes, so
    // the bare server sends exactly the same body.
    let (_, doc) = hammer(ours, "/hdhomerun/discover.json", 100);
    let bare = bare_hyper(Bytes::from(doc.clone()));
    hammer(bare, "/", 100);
    let (mut best_ours, mut best_bare) = (0f64, 0f64);
    for _ in 0..ROUNDS {
        best_bare = best_bare.max(hammer(bare, "/", REQUESTS).0);
        best_ours = best_ours.max(hammer(ours, "/hdhomerun/discover.json", REQUESTS).0);
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "discover.json ({} bytes), one keep-alive connection, one-core server runtime, best of {ROUNDS} x {REQUESTS}:",
        doc.len()
    );
    println!("  bare hyper   {best_bare:>9.0} req/s");
    println!("  exstreamtv   {best_ours:>9.0} req/s");
    println!("  ratio        {:>9.2}", best_ours / best_bare);
    let _ = std::fs::remove_dir_all(data_dir());
}
