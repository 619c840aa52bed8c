//! Media items that are URLs (issue 17 point 1, EXStreamTV's StreamManager): `detect_source`
//! classifies a URL (a file over HTTP(S), HLS, an MPEG-TS stream, a YouTube or archive.org
//! page); `inspect` probes what can be probed (ffprobe with `-rw_timeout`, bounded by
//! `probe`'s own timeout) and decides what the item is: `url` (a file or an HLS VOD, with
//! a duration, played seekable), `live` (no duration: relayed, never seeked), or a page
//! that needs `yt-dlp` — without it the item is stored unplayable with that reason (it
//! plays the slate). The URL has already passed `http::url_guard`. It knows no HTTP
//! routes and no SQL.

use std::ffi::OsStr;
use std::path::Path;

use tokio::sync::watch;

use crate::kinds::MediaSource;
use crate::library::probe::{self, Probe, ProbeError};

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
    /// Probed: `url` with a duration, `live` without one.
    Playable { source: MediaSource, probe: Probe },
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
    /// yt-dlp is there, but resolving pages at play time is not built yet.
    ResolverMissing,
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectError::Probe(err) => write!(f, "{err}"),
            InspectError::ResolverMissing => f.write_str(
                "yt-dlp is installed, but resolving its URLs at play time (with their expiry) is not built yet",
            ),
        }
    }
}

/// Whether adding `url` fetches nothing: a page for yt-dlp when yt-dlp is not installed.
pub fn needs_nothing_fetched(url: &str) -> bool {
    matches!(detect_source(url), UrlKind::Youtube | UrlKind::ArchiveOrg)
        && crate::tools::resolve("yt-dlp").is_none()
}

/// Microseconds ffprobe waits for data from the server before it gives up.
const RW_TIMEOUT_US: &str = "10000000";

/// Decides what `url` is, probing it when it is a stream ffprobe can read.
pub async fn inspect(
    ffprobe: &Path,
    url: &str,
    shutdown: watch::Receiver<bool>,
) -> Result<Inspected, InspectError> {
    let page = match detect_source(url) {
        UrlKind::Youtube => Some(MediaSource::Youtube),
        UrlKind::ArchiveOrg => Some(MediaSource::ArchiveOrg),
        UrlKind::Direct | UrlKind::Hls | UrlKind::MpegTs => None,
    };
    if let Some(source) = page {
        if crate::tools::resolve("yt-dlp").is_none() {
            return Ok(Inspected::Unplayable {
                source,
                reason: NO_YT_DLP,
            });
        }
        return Err(InspectError::ResolverMissing);
    }
    let probe = probe::probe_with(
        ffprobe,
        &["-rw_timeout", RW_TIMEOUT_US],
        OsStr::new(url),
        shutdown,
    )
    .await
    .map_err(InspectError::Probe)?;
    let source = if probe.duration_ms.is_some_and(|d| d > 0) {
        MediaSource::Url
    } else {
        MediaSource::Live
    };
    Ok(Inspected::Playable { source, probe })
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
}
