//! Fake Plex, Jellyfin and Emby servers on 127.0.0.1:0 for the remote-source tests: JSON in
//! the shapes the real servers document (Plex `MediaContainer`/`Metadata`/`Media`/`Part`,
//! Jellyfin/Emby `BaseItemDto` pages with `TotalRecordCount`), paged listings, "changed
//! since" filters, the auth each server checks (the Jellyfin fake is 12.x: it refuses
//! `X-Emby-Token` and `api_key` with a 401), and a real clip served with `Range`.
//! One thread per connection, one request per connection (`Connection: close`).

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plex,
    Jellyfin,
    Emby,
}

pub struct State {
    pub kind: Kind,
    pub token: String,
    pub n_items: u64,
    pub clip: PathBuf,
    /// Path prefix the server lives under (`/jellyfin`), or "".
    pub prefix: String,
    /// Items taken off the server.
    pub removed: Mutex<BTreeSet<u64>>,
    /// Every request's target (path and query), in arrival order.
    pub requests: Mutex<Vec<String>>,
    /// Every request head that carried a token header (to prove which header was used).
    pub listing_requests: AtomicU64,
    /// When set, every answer is an HTML page (a web UI or a captive portal at that URL).
    pub html: AtomicBool,
    /// Item `updatedAt`, seconds: a day ago, so a rescan finds nothing changed.
    pub updated_s: i64,
    /// Items changed "now": the only ones a "changed since" listing returns.
    pub touched: Mutex<BTreeSet<u64>>,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

impl Fake {
    pub fn start(kind: Kind, token: &str, n_items: u64, clip: PathBuf, prefix: &str) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake");
        let addr = listener.local_addr().unwrap();
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let state = Arc::new(State {
            kind,
            token: token.into(),
            n_items,
            clip,
            prefix: prefix.into(),
            removed: Mutex::new(BTreeSet::new()),
            requests: Mutex::new(Vec::new()),
            listing_requests: AtomicU64::new(0),
            html: AtomicBool::new(false),
            updated_s: now_s - 86_400,
            touched: Mutex::new(BTreeSet::new()),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(&st, conn);
                });
            }
        });
        Fake { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.state.prefix)
    }

    pub fn n_requests(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

struct Head {
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self, name: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k).eq_ignore_ascii_case(name)).then(|| decode(v))
        })
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<Head> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 || buf.len() > 32 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or("");
    let target = request.split(' ').nth(1).unwrap_or("/").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Head { target, headers })
}

fn answer(conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body)
}

fn json_answer(conn: &mut TcpStream, v: &Value) -> std::io::Result<()> {
    answer(
        conn,
        "200 OK",
        "application/json; charset=utf-8",
        v.to_string().as_bytes(),
    )
}

fn authorized(st: &State, h: &Head) -> bool {
    match st.kind {
        Kind::Plex => h.header("x-plex-token") == Some(st.token.as_str()),
        Kind::Emby => h.header("x-emby-token") == Some(st.token.as_str()),
        // Jellyfin 12.x: the legacy ways are refused even with the right key.
        Kind::Jellyfin => {
            let legacy = h.header("x-emby-token").is_some()
                || h.header("x-emby-authorization").is_some()
                || h.header("x-mediabrowser-token").is_some()
                || h.query("api_key").is_some();
            let auth = h.header("authorization").unwrap_or("");
            !legacy
                && auth.starts_with("MediaBrowser ")
                && auth.contains(&format!("Token=\"{}\"", st.token))
                && auth.contains("Client=\"exstreamtv\"")
                && auth.contains("DeviceId=\"")
        }
    }
}

fn serve(st: &State, mut conn: TcpStream) -> std::io::Result<()> {
    let head = read_head(&mut conn)?;
    st.requests.lock().unwrap().push(head.target.clone());
    if st.html.load(Ordering::Relaxed) {
        return answer(
            &mut conn,
            "200 OK",
            "text/html",
            b"<html><body>Sign in</body></html>",
        );
    }
    let Some(path) = head
        .path()
        .strip_prefix(st.prefix.as_str())
        .map(str::to_owned)
    else {
        return answer(&mut conn, "404 Not Found", "text/plain", b"no");
    };
    let public = path == "/System/Info/Public";
    if !public && !authorized(st, &head) {
        return answer(&mut conn, "401 Unauthorized", "text/plain", b"Unauthorized");
    }
    match st.kind {
        Kind::Plex => plex(st, &head, &path, &mut conn),
        Kind::Jellyfin | Kind::Emby => jellyfin(st, &head, &path, &mut conn),
    }
}

fn present(st: &State) -> Vec<u64> {
    let removed = st.removed.lock().unwrap();
    (1..=st.n_items).filter(|k| !removed.contains(k)).collect()
}

/// A page of the listing; `delta`: only the items changed since a recent time.
fn paged(st: &State, start: u64, size: u64, delta: bool) -> (Vec<u64>, u64) {
    let touched = st.touched.lock().unwrap().clone();
    let all: Vec<u64> = present(st)
        .into_iter()
        .filter(|k| !delta || touched.contains(k))
        .collect();
    let total = all.len() as u64;
    let page = all
        .into_iter()
        .skip(start as usize)
        .take(size as usize)
        .collect();
    (page, total)
}

fn clip_size(st: &State) -> u64 {
    std::fs::metadata(&st.clip).map(|m| m.len()).unwrap_or(0)
}

fn plex(st: &State, h: &Head, path: &str, conn: &mut TcpStream) -> std::io::Result<()> {
    if h.header("accept") != Some("application/json") {
        return answer(conn, "200 OK", "text/xml", b"<MediaContainer/>");
    }
    match path {
        "/identity" => json_answer(
            conn,
            &json!({"MediaContainer": {"size": 0, "claimed": true,
            "machineIdentifier": "fake-plex-1", "version": "1.41.3.9314"}}),
        ),
        "/" => json_answer(
            conn,
            &json!({"MediaContainer": {"size": 1, "friendlyName": "Fake Plex",
            "version": "1.41.3.9314"}}),
        ),
        "/library/sections" => json_answer(
            conn,
            &json!({"MediaContainer": {"size": 1, "Directory": [
            {"key": "1", "title": "Shows", "type": "show", "agent": "tv.plex.agents.series"}]}}),
        ),
        "/library/sections/1/all" => {
            st.listing_requests.fetch_add(1, Ordering::Relaxed);
            let num = |k: &str| h.query(k).and_then(|v| v.parse::<u64>().ok());
            let start = num("X-Plex-Container-Start").unwrap_or(0);
            let size = num("X-Plex-Container-Size").unwrap_or(50);
            let since: Option<i64> = h.query("updatedAt>").and_then(|v| v.parse().ok());
            // Our scans ask for changes since their last scan: later than a day ago.
            assert!(since.is_none_or(|s| s > st.updated_s), "since {since:?}");
            assert_eq!(
                h.query("type").as_deref(),
                Some("4"),
                "episodes of a show library"
            );
            let (keys, total) = paged(st, start, size, since.is_some());
            let size_b = clip_size(st);
            let md: Vec<Value> = keys.iter().map(|k| json!({
                "ratingKey": k.to_string(), "key": format!("/library/metadata/{k}"),
                "type": "episode", "title": format!("Episode {k}"),
                "grandparentTitle": format!("Show {}", k / 100), "parentIndex": 1 + (k % 100) / 20,
                "index": k % 20 + 1, "summary": "A test episode.", "year": 2020, "duration": 6000,
                "updatedAt": st.updated_s, "addedAt": st.updated_s, "contentRating": "TV-PG",
                "audienceRating": 7.5, "Genre": [{"tag": "Comedy"}],
                "Media": [{"id": k, "duration": 6000, "width": 320, "height": 240, "videoCodec": "h264",
                    "audioCodec": "aac", "audioChannels": 1, "container": "mp4", "videoFrameRate": "PAL",
                    "Part": [{"id": k, "key": format!("/library/parts/{k}/1700000000/file.mp4"),
                        "file": format!("/data/tv/e{k}.mp4"), "size": size_b, "container": "mp4",
                        "duration": 6000}]}]
            })).collect();
            json_answer(
                conn,
                &json!({"MediaContainer": {"size": md.len(), "totalSize": total,
                "offset": start, "Metadata": md}}),
            )
        }
        p if p.starts_with("/library/metadata/") => {
            let k: u64 = p["/library/metadata/".len()..].parse().unwrap_or(0);
            if k == 0 || k > st.n_items {
                return json_answer(conn, &json!({"MediaContainer": {"size": 0}}));
            }
            let size_b = clip_size(st);
            json_answer(
                conn,
                &json!({"MediaContainer": {"size": 1, "librarySectionID": 1, "Metadata": [{
                "ratingKey": k.to_string(), "type": "episode", "title": format!("Episode {k}"),
                "librarySectionID": 1, "grandparentTitle": "Show 0", "parentIndex": 1, "index": k,
                "duration": 6000, "updatedAt": st.updated_s,
                "Media": [{"videoCodec": "h264", "audioCodec": "aac", "width": 320, "height": 240,
                    "Part": [{"key": format!("/library/parts/{k}/1/file.mp4"),
                        "file": format!("/data/tv/e{k}.mp4"), "size": size_b, "container": "mp4"}]}]}]}}),
            )
        }
        p if p.starts_with("/library/parts/") => file(st, h, conn),
        _ => answer(conn, "404 Not Found", "text/plain", b"no"),
    }
}

fn jellyfin(st: &State, h: &Head, path: &str, conn: &mut TcpStream) -> std::io::Result<()> {
    match path {
        "/System/Info/Public" => json_answer(
            conn,
            &json!({"LocalAddress": "http://x", "ServerName":
            if st.kind == Kind::Emby { "Fake Emby" } else { "Fake Jellyfin" },
            "Version": if st.kind == Kind::Emby { "4.8.10.0" } else { "10.11.0" },
            "ProductName": "Jellyfin Server", "Id": "fakeid", "StartupWizardCompleted": true}),
        ),
        "/Library/VirtualFolders" => json_answer(
            conn,
            &json!([
            {"Name": "Shows", "Locations": ["/data/tv"], "CollectionType": "tvshows", "ItemId": "lib1"}]),
        ),
        p if p.starts_with("/Users/") && p.ends_with("/Views") => json_answer(
            conn,
            &json!({"Items": [
            {"Id": "lib1", "Name": "Shows", "CollectionType": "tvshows"}], "TotalRecordCount": 1}),
        ),
        "/Items" => {
            st.listing_requests.fetch_add(1, Ordering::Relaxed);
            assert_eq!(h.query("ParentId").as_deref(), Some("lib1"));
            let num = |k: &str| h.query(k).and_then(|v| v.parse::<u64>().ok());
            let start = num("StartIndex").unwrap_or(0);
            let limit = num("Limit").unwrap_or(100);
            let since = h.query("MinDateLastSaved");
            assert!(
                since
                    .as_deref()
                    .is_none_or(|d| d.len() >= 20 && d.ends_with('Z')),
                "{since:?}"
            );
            let (keys, total) = paged(st, start, limit, since.is_some());
            let size_b = clip_size(st);
            let items: Vec<Value> = keys.iter().map(|k| json!({
                "Id": format!("item{k}"), "Name": format!("Episode {k}"), "Type": "Episode",
                "SeriesName": format!("Show {}", k / 100), "ParentIndexNumber": 1 + (k % 100) / 20,
                "IndexNumber": k % 20 + 1, "Overview": "A test episode.", "ProductionYear": 2020,
                "RunTimeTicks": 60_000_000i64, "Genres": ["Comedy"], "OfficialRating": "TV-PG",
                "CommunityRating": 7.5, "Path": format!("/data/tv/e{k}.mp4"), "Container": "mp4",
                "PremiereDate": "2020-01-02T00:00:00.0000000Z",
                "MediaSources": [{"Id": format!("ms{k}"), "Path": format!("/data/tv/e{k}.mp4"),
                    "Size": size_b, "Container": "mp4"}],
                "MediaStreams": [
                    {"Type": "Video", "Codec": "h264", "Width": 320, "Height": 240, "RealFrameRate": 25.0, "Index": 0},
                    {"Type": "Audio", "Codec": "aac", "Channels": 1, "SampleRate": 48000, "Index": 1}]
            })).collect();
            json_answer(
                conn,
                &json!({"Items": items, "TotalRecordCount": total, "StartIndex": start}),
            )
        }
        p if p.starts_with("/Videos/") && p.ends_with("/stream") => file(st, h, conn),
        _ => answer(conn, "404 Not Found", "text/plain", b"no"),
    }
}

/// The clip, with one `bytes=a-b` / `bytes=a-` range.
fn file(st: &State, h: &Head, conn: &mut TcpStream) -> std::io::Result<()> {
    let mut f = std::fs::File::open(&st.clip)?;
    let len = f.metadata()?.len();
    let range = h
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| {
            let (a, b) = r.split_once('-')?;
            let a: u64 = a.parse().ok()?;
            let b: u64 = if b.is_empty() {
                len - 1
            } else {
                b.parse().ok()?
            };
            Some((a, b.min(len - 1)))
        });
    let (status, start, end) = match range {
        Some((a, _)) if a >= len => {
            return answer(conn, "416 Range Not Satisfiable", "text/plain", b"");
        }
        Some((a, b)) => ("206 Partial Content", a, b),
        None => ("200 OK", 0, len - 1),
    };
    let n = end - start + 1;
    write!(conn, "HTTP/1.1 {status}\r\ncontent-type: video/mp4\r\ncontent-length: {n}\r\naccept-ranges: bytes\r\n")?;
    if range.is_some() {
        write!(conn, "content-range: bytes {start}-{end}/{len}\r\n")?;
    }
    write!(conn, "connection: close\r\n\r\n")?;
    f.seek(SeekFrom::Start(start))?;
    std::io::copy(&mut f.take(n), conn)?;
    Ok(())
}
