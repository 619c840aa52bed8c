//! Media items that are URLs (issue 17 point 1, EXStreamTV's StreamManager): `detect_source`
//! classifies a URL (a file over HTTP(S), HLS, an MPEG-TS stream, a YouTube or archive.org
//! page); `inspect` probes what can be probed (ffprobe with `-rw_timeout`, bounded by
//! `probe`'s own timeout) and decides what the item is: `url` (a file or an HLS VOD, with
//! a duration, played seekable), `live` (no duration: relayed, never seeked), or a page
//! that needs `yt-dlp` — without it the item is stored unplayable with that reason (it
//! plays the slate). The URL has already passed `http::url_guard`. It knows no HTTP
//! routes and no SQL.
//!
//! A page is resolved by `yt-dlp` (`resolve`: one run, `--dump-single-json`, killed with
//! its process group at the timeout) to a direct media URL, its title and duration: when
//! the item is added, and again when it plays, since such URLs expire. `Pages` caches page
//! → (direct URL, expiry): the expiry is the URL's own `expire=` (YouTube's, Unix seconds),
//! else an hour; a 403 from the direct URL forgets it early (`stream::channel`).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;
use tokio::sync::watch;

use crate::child::{self, RunError};
use crate::kinds::MediaSource;
use crate::library::credentials;
use crate::library::probe::{self, Probe, ProbeError};
use crate::time::UnixMs;

/// What a URL points at, from its host and path alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// A media file (`.mp4`, `.mkv`, ...), or anything not recognised (probed to find out).
    Direct,
    /// An HLS playlist (`.m3u8`): VOD or live, the probe tells.
    Hls,
    /// An MPEG-TS stream (`.ts`, `.mpegts`, `/live/…`), live unless the probe finds a length.
    MpegTs,
    Youtube,
    ArchiveOrg,
}

/// Classifies `url` by its host and path (no I/O).
pub fn detect_source(url: &str) -> UrlKind {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let on = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if on("youtube.com") || on("youtu.be") || on("youtube-nocookie.com") {
        return UrlKind::Youtube;
    }
    if on("archive.org") {
        return UrlKind::ArchiveOrg;
    }
    let path = path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if path.ends_with(".m3u8") {
        UrlKind::Hls
    } else if path.ends_with(".ts") || path.ends_with(".mpegts") || path.starts_with("live/") {
        UrlKind::MpegTs
    } else {
        UrlKind::Direct
    }
}

/// What an added URL becomes.
#[derive(Debug)]
pub enum Inspected {
    /// Probed: `url` with a duration, `live` without one; a page resolved by yt-dlp keeps
    /// its source (`youtube`, `archive_org`) and brings the page's title.
    Playable {
        source: MediaSource,
        probe: Box<Probe>,
        title: Option<String>,
    },
    /// A page `yt-dlp` must resolve, and it is not installed: stored unplayable.
    Unplayable {
        source: MediaSource,
        reason: &'static str,
    },
}

pub const NO_YT_DLP: &str =
    "yt-dlp is not installed: YouTube and archive.org pages cannot be resolved to a stream";

/// Why a URL cannot be added.
#[derive(Debug)]
pub enum InspectError {
    Probe(ProbeError),
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectError::Probe(err) => write!(f, "{err}"),
        }
    }
}

/// Why yt-dlp gave no direct URL for a page.
#[derive(Debug, Clone)]
pub enum ResolveError {
    NotInstalled,
    /// It could not be started, or its output could not be read.
    Spawn(String),
    /// It ran past the timeout and was killed (with its process group).
    Timeout(Duration),
    Cancelled,
    /// It exited with an error: its first line of stderr.
    Failed(String),
    /// It printed no JSON with a media URL.
    BadOutput(String),
    /// The direct URL it gave is refused by `http::url_guard`.
    Refused(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::NotInstalled => f.write_str(NO_YT_DLP),
            ResolveError::Spawn(e) => write!(f, "yt-dlp could not run: {e}"),
            ResolveError::Timeout(t) => {
                write!(
                    f,
                    "yt-dlp did not resolve the page within {} s (killed)",
                    t.as_secs()
                )
            }
            ResolveError::Cancelled => f.write_str("yt-dlp was stopped by the shutdown"),
            ResolveError::Failed(why) => write!(f, "yt-dlp failed: {why}"),
            ResolveError::BadOutput(why) => write!(f, "yt-dlp gave no media URL: {why}"),
            ResolveError::Refused(why) => write!(f, "yt-dlp's media URL is refused: {why}"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// What yt-dlp made of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The direct media URL FFmpeg reads.
    pub url: String,
    pub title: Option<String>,
    pub duration_ms: Option<i64>,
}

/// yt-dlp's JSON of one video, as far as we read it (a YouTube document is ~0.5 MB of
/// formats we skip).
#[derive(Deserialize)]
struct YtDlpJson {
    url: Option<String>,
    title: Option<String>,
    duration: Option<f64>,
    /// Set instead of `url` when the format chosen is a merge of several.
    #[serde(default)]
    requested_formats: Vec<YtDlpFormat>,
}

#[derive(Deserialize)]
struct YtDlpFormat {
    url: Option<String>,
}

/// One format FFmpeg can read from a single URL: the best up to 1080 lines, else the best.
const YT_DLP_FORMAT: &str = "best[height<=1080]/best";
/// yt-dlp's JSON for one video with all its formats is about a megabyte; 16 MiB bounds a
/// broken one.
const MAX_YT_DLP_JSON: u64 = 16 << 20;
const MAX_YT_DLP_STDERR: u64 = 16 << 10;

/// The argv (without the program) that resolves `page`: one format from one URL, its JSON
/// on stdout, nothing written beside (no cache dir); credentials as files, never values.
pub fn yt_dlp_args(
    page: &str,
    cookies: Option<&Path>,
    netrc: Option<&Path>,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "--no-playlist",
        "--no-warnings",
        "--no-progress",
        "--no-cache-dir",
        "-f",
        YT_DLP_FORMAT,
        "--dump-single-json",
    ]
    .iter()
    .map(Into::into)
    .collect();
    if let Some(file) = cookies {
        args.push("--cookies".into());
        args.push(file.into());
    }
    if let Some(file) = netrc {
        args.push("--netrc".into());
        args.push("--netrc-location".into());
        args.push(file.into());
    }
    // `--` then the page: a URL starting with `-` is not an option.
    args.push("--".into());
    args.push(page.into());
    args
}

/// Runs yt-dlp on `page` (with the stored cookies and archive.org login, when there are)
/// and reads its JSON. The child and its group are killed at `timeout` or on shutdown.
pub async fn resolve(
    yt_dlp: &Path,
    data_dir: &Path,
    page: &str,
    timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Resolved, ResolveError> {
    let cookies = credentials::youtube_cookies(data_dir);
    let netrc = credentials::archive_org_netrc(data_dir);
    let (has_cookies, has_netrc) = (
        tokio::fs::metadata(&cookies).await.is_ok(),
        tokio::fs::metadata(&netrc).await.is_ok(),
    );
    let mut command = Command::new(yt_dlp);
    command.args(yt_dlp_args(
        page,
        has_cookies.then_some(cookies.as_path()),
        has_netrc.then_some(netrc.as_path()),
    ));
    let limits = child::Limits {
        timeout,
        stdout_max: MAX_YT_DLP_JSON,
        stderr_max: MAX_YT_DLP_STDERR,
    };
    let output = child::run(command, limits, probe::shutdown_signal(&mut shutdown))
        .await
        .map_err(|err| match err {
            RunError::Spawn(e) | RunError::Io(e) => ResolveError::Spawn(e.to_string()),
            RunError::Timeout => ResolveError::Timeout(timeout),
            RunError::Cancelled => ResolveError::Cancelled,
        })?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        return Err(ResolveError::Failed(first.chars().take(300).collect()));
    }
    parse_yt_dlp(&output.stdout)
}

fn parse_yt_dlp(stdout: &[u8]) -> Result<Resolved, ResolveError> {
    let doc: YtDlpJson =
        serde_json::from_slice(stdout).map_err(|e| ResolveError::BadOutput(e.to_string()))?;
    let url = doc
        .url
        .or_else(|| doc.requested_formats.into_iter().find_map(|f| f.url))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| ResolveError::BadOutput("no http(s) url in its JSON".into()))?;
    Ok(Resolved {
        url,
        title: doc.title.filter(|t| !t.trim().is_empty()),
        duration_ms: doc
            .duration
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| (d * 1000.0).round() as i64),
    })
}

/// Direct URLs kept per page: a channel plays a handful of pages at a time; 256 covers
/// every tuner's current and next item many times over.
pub const MAX_PAGES: usize = 256;
/// How long a direct URL without its own `expire=` is trusted.
pub const DEFAULT_EXPIRY_MS: i64 = 3_600_000;
/// A URL is re-resolved this long before its `expire=`, so FFmpeg does not open it just
/// as it lapses.
const EXPIRY_MARGIN_MS: i64 = 60_000;

/// When the direct `url` stops working: its `expire=` query parameter (Unix seconds, as
/// YouTube's carry), else `DEFAULT_EXPIRY_MS` from `now_ms`.
pub fn expiry_ms(url: &str, now_ms: UnixMs) -> UnixMs {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("expire="))
        .and_then(|v| v.parse::<i64>().ok())
        .map(|s| s.saturating_mul(1000) - EXPIRY_MARGIN_MS)
        .unwrap_or(now_ms + DEFAULT_EXPIRY_MS)
}

/// The page → (direct URL, expiry) cache; at most `MAX_PAGES` entries (the expired go
/// first, then the soonest to expire). Its lock is never held across an `.await`.
#[derive(Default)]
pub struct Pages {
    map: Mutex<HashMap<String, (String, UnixMs)>>,
}

impl Pages {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, UnixMs)>> {
        // A poisoned map still holds whole entries (each is one insert).
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The page's direct URL while it has not expired.
    pub fn get(&self, page: &str, now_ms: UnixMs) -> Option<String> {
        let map = self.lock();
        let (url, expires) = map.get(page)?;
        (*expires > now_ms).then(|| url.clone())
    }

    pub fn put(&self, page: &str, url: &str, now_ms: UnixMs) {
        let mut map = self.lock();
        if map.len() >= MAX_PAGES && !map.contains_key(page) {
            map.retain(|_, (_, expires)| *expires > now_ms);
            if map.len() >= MAX_PAGES {
                let soonest = map
                    .iter()
                    .min_by_key(|(_, (_, expires))| *expires)
                    .map(|(k, _)| k.clone());
                if let Some(key) = soonest {
                    map.remove(&key);
                }
            }
        }
        map.insert(page.to_string(), (url.to_string(), expiry_ms(url, now_ms)));
    }

    /// Forgets the page's URL (the server refused it): the next play resolves again.
    pub fn forget(&self, page: &str) {
        self.lock().remove(page);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether adding `url` fetches nothing: a page for yt-dlp when yt-dlp is not installed.
pub fn needs_nothing_fetched(url: &str) -> bool {
    matches!(detect_source(url), UrlKind::Youtube | UrlKind::ArchiveOrg)
        && crate::tools::resolve("yt-dlp").is_none()
}

/// Microseconds ffprobe waits for data from the server before it gives up.
const RW_TIMEOUT_US: &str = "10000000";

/// The media source a page URL is stored as, `None` for a URL FFmpeg reads itself.
pub fn page_source(url: &str) -> Option<MediaSource> {
    match detect_source(url) {
        UrlKind::Youtube => Some(MediaSource::Youtube),
        UrlKind::ArchiveOrg => Some(MediaSource::ArchiveOrg),
        UrlKind::Direct | UrlKind::Hls | UrlKind::MpegTs => None,
    }
}

/// Decides what `url` is, probing it when it is a stream ffprobe can read. A page comes
/// as `resolved` (yt-dlp's answer, its direct URL already through the guard): the direct
/// URL is probed, and yt-dlp's title and duration win over the probe's.
pub async fn inspect(
    ffprobe: &Path,
    url: &str,
    resolved: Option<Resolved>,
    shutdown: watch::Receiver<bool>,
) -> Result<Inspected, InspectError> {
    if let Some(source) = page_source(url) {
        let Some(resolved) = resolved else {
            return Ok(Inspected::Unplayable {
                source,
                reason: NO_YT_DLP,
            });
        };
        let mut probe = probe_url(ffprobe, &resolved.url, shutdown).await?;
        probe.duration_ms = resolved.duration_ms.or(probe.duration_ms);
        return Ok(Inspected::Playable {
            source,
            probe: Box::new(probe),
            title: resolved.title,
        });
    }
    let probe = probe_url(ffprobe, url, shutdown).await?;
    let source = if probe.duration_ms.is_some_and(|d| d > 0) {
        MediaSource::Url
    } else {
        MediaSource::Live
    };
    Ok(Inspected::Playable {
        source,
        probe: Box::new(probe),
        title: None,
    })
}

async fn probe_url(
    ffprobe: &Path,
    url: &str,
    shutdown: watch::Receiver<bool>,
) -> Result<Probe, InspectError> {
    probe::probe_with(
        ffprobe,
        &["-rw_timeout", RW_TIMEOUT_US],
        OsStr::new(url),
        shutdown,
    )
    .await
    .map_err(InspectError::Probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_classified_by_host_and_path() {
        for (url, kind) in [
            ("https://www.youtube.com/watch?v=x", UrlKind::Youtube),
            ("https://youtu.be/x", UrlKind::Youtube),
            ("https://archive.org/details/film", UrlKind::ArchiveOrg),
            ("http://ia800.us.archive.org/1/a.mp4", UrlKind::ArchiveOrg),
            ("http://nas:8080/films/a.mkv?x=1", UrlKind::Direct),
            ("http://box/hls/index.M3U8?token=1", UrlKind::Hls),
            ("http://box/live/7.ts", UrlKind::MpegTs),
            ("http://u:p@box:8000/live/user/pass/7", UrlKind::MpegTs),
            ("http://notyoutube.com/a.mp4", UrlKind::Direct),
        ] {
            assert_eq!(detect_source(url), kind, "{url}");
        }
    }

    #[test]
    fn yt_dlp_json_gives_the_url_title_and_duration() {
        let json = br#"{"title": "A film", "duration": 12.5, "url": "http://cdn/v.mp4?expire=10", "formats": [{"url": "x"}]}"#;
        let r = parse_yt_dlp(json).unwrap();
        assert_eq!(r.url, "http://cdn/v.mp4?expire=10");
        assert_eq!(
            (r.title.as_deref(), r.duration_ms),
            (Some("A film"), Some(12_500))
        );
        let merged = br#"{"requested_formats": [{"url": "https://v"}, {"url": "https://a"}]}"#;
        assert_eq!(parse_yt_dlp(merged).unwrap().url, "https://v");
        assert!(parse_yt_dlp(br#"{"url": "file:///etc/passwd"}"#).is_err());
        assert!(parse_yt_dlp(b"not json").is_err());
    }

    #[test]
    fn credentials_are_files_and_the_page_comes_last() {
        let args = yt_dlp_args("-x", Some(Path::new("/d/c.txt")), None);
        let args: Vec<_> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            &args[args.len() - 4..],
            ["--cookies", "/d/c.txt", "--", "-x"]
        );
    }

    #[test]
    fn expiry_is_the_urls_own_else_an_hour() {
        assert_eq!(
            expiry_ms("http://g/v?a=1&expire=1000&b", 5),
            1_000_000 - 60_000
        );
        assert_eq!(expiry_ms("http://a/v.mp4", 5), 5 + DEFAULT_EXPIRY_MS);
        assert_eq!(
            expiry_ms("http://a/v?expire=soon", 5),
            5 + DEFAULT_EXPIRY_MS
        );
    }

    #[test]
    fn pages_expire_are_forgotten_and_stay_bounded() {
        let pages = Pages::default();
        pages.put("p", "http://x/v?expire=100", 0);
        assert_eq!(pages.get("p", 0), Some("http://x/v?expire=100".into()));
        assert_eq!(pages.get("p", 100_000), None, "expired");
        pages.put("q", "http://x/w", 0);
        pages.forget("q");
        assert_eq!(pages.get("q", 0), None);
        for i in 0..MAX_PAGES + 10 {
            pages.put(&format!("page{i}"), "http://x/w", i as i64);
        }
        assert_eq!(pages.len(), MAX_PAGES);
        assert!(pages.get(&format!("page{}", MAX_PAGES + 9), 0).is_some());
    }
}
