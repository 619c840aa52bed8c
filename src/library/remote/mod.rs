//! Plex, Jellyfin and Emby servers as media sources. Each protocol module (`plex`,
//! `jellyfin`, `emby`) turns its server's JSON into the one shared model here (`ServerInfo`,
//! `RemoteLibrary`, `RemoteItem`, one `Page` at a time); `store` keeps the servers and their
//! items in the same tables as local media, `scan` pages through a library incrementally,
//! and `sign` makes the loopback URLs FFmpeg plays (the server's token never leaves this
//! process except towards that server). It knows no routes: `api::media_sources` calls in.

pub mod emby;
pub mod jellyfin;
pub mod plex;
pub mod scan;
pub mod sign;
pub mod store;

use std::fmt;

use hyper::header::{HeaderName, HeaderValue};

use crate::http::client::{self, Answer, ClientError};
use crate::kinds::{MediaType, SourceType};

/// Items asked for per page: the bound (≤ 200), and a Jellyfin page with media streams
/// stays well under `client::DEFAULT_CAP`.
pub const PAGE_SIZE: u64 = 200;
/// A listing longer than this is refused (a server that never stops paging).
pub const MAX_ITEMS: u64 = 1_000_000;
/// Sent as the client name and version in every server's auth headers.
pub const CLIENT_NAME: &str = "exstreamtv";
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How to reach one server: what `store::SourceRow` holds, without the row's bookkeeping.
#[derive(Clone)]
pub struct Server {
    pub source_type: SourceType,
    /// Base URL without a trailing slash; may carry a path prefix (`http://host/jellyfin`).
    pub url: String,
    /// The token or API key. Never formatted: `Debug` below redacts it.
    pub secret: String,
    pub user_id: Option<String>,
    /// A name for error messages (the source's name, or its URL).
    pub label: String,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("source_type", &self.source_type)
            .field("url", &self.url)
            .field("secret", &"***")
            .finish()
    }
}

impl Server {
    pub fn new(source_type: SourceType, url: &str, secret: &str, label: &str) -> Server {
        Server {
            source_type,
            url: url.trim().trim_end_matches('/').to_owned(),
            secret: secret.to_owned(),
            user_id: None,
            label: label.to_owned(),
        }
    }

    /// The auth (and identification) headers this server's protocol wants.
    pub fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, RemoteError> {
        match self.source_type {
            SourceType::Plex => plex::headers(&self.secret),
            SourceType::Jellyfin => jellyfin::headers(&self.secret),
            SourceType::Emby => emby::headers(&self.secret),
            SourceType::Local => Err(RemoteError::NotRemote),
        }
    }

    /// GET `target` (path and query, starting with `/`) as JSON.
    pub async fn get_json(&self, target: &str) -> Result<serde_json::Value, RemoteError> {
        let headers = self.headers()?;
        let answer = client::get(
            &format!("{}{target}", self.url),
            &headers,
            client::DEFAULT_CAP,
        )
        .await
        .map_err(|e| RemoteError::Client(self.label.clone(), e))?;
        self.json_of(answer)
    }

    fn json_of(&self, answer: Answer) -> Result<serde_json::Value, RemoteError> {
        let status = answer.status.as_u16();
        if status == 401 || status == 403 {
            return Err(RemoteError::Unauthorized(self.label.clone()));
        }
        if !answer.status.is_success() {
            return Err(RemoteError::Status(self.label.clone(), status));
        }
        if !answer.is_json() {
            return Err(RemoteError::NotJson(self.label.clone()));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| RemoteError::BadJson(self.label.clone(), e.to_string()))
    }

    pub async fn info(&self) -> Result<ServerInfo, RemoteError> {
        match self.source_type {
            SourceType::Plex => plex::info(self).await,
            SourceType::Jellyfin | SourceType::Emby => jellyfin::info(self).await,
            SourceType::Local => Err(RemoteError::NotRemote),
        }
    }

    pub async fn libraries(&self) -> Result<Vec<RemoteLibrary>, RemoteError> {
        match self.source_type {
            SourceType::Plex => plex::libraries(self).await,
            SourceType::Jellyfin | SourceType::Emby => jellyfin::libraries(self).await,
            SourceType::Local => Err(RemoteError::NotRemote),
        }
    }

    /// One page of a library's playable items, from `start`; with `since` (ms), only the
    /// items the server changed since then (its `updatedAt` / `DateLastSaved`).
    pub async fn page(&self, ask: &PageAsk<'_>) -> Result<Page, RemoteError> {
        match self.source_type {
            SourceType::Plex => plex::page(self, ask).await,
            SourceType::Jellyfin | SourceType::Emby => jellyfin::page(self, ask).await,
            SourceType::Local => Err(RemoteError::NotRemote),
        }
    }
}

/// What one page request asks.
#[derive(Debug, Clone, Copy)]
pub struct PageAsk<'a> {
    pub library_key: &'a str,
    pub library_type: crate::kinds::LibraryType,
    pub start: u64,
    pub size: u64,
    pub since_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
}

/// A library (Plex section, Jellyfin/Emby view) as `discover` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteLibrary {
    pub key: String,
    pub name: String,
    /// movie|show|music|other, as our `LibraryType` names them.
    pub library_type: String,
    pub agent: Option<String>,
}

/// One playable item in the shared model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteItem {
    /// The server's id (Plex `ratingKey`, Jellyfin `Id`).
    pub key: String,
    /// Path and query on the server that answer the file's bytes (with `Range`).
    pub stream_path: String,
    /// The file's path on the server's disk (for path replacements).
    pub server_path: Option<String>,
    pub media_type: Option<MediaType>,
    pub title: String,
    pub description: Option<String>,
    pub year: Option<i64>,
    pub show_title: Option<String>,
    pub season_number: Option<i64>,
    pub episode_number: Option<i64>,
    pub genres: Vec<String>,
    pub content_rating: Option<String>,
    pub rating: Option<f64>,
    pub studio: Option<String>,
    pub originally_available: Option<String>,
    pub duration_ms: Option<i64>,
    pub file_size: Option<i64>,
    pub container: Option<String>,
    pub video_codec: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub frame_rate: Option<f64>,
    pub audio_codec: Option<String>,
    pub audio_channels: Option<i64>,
    pub audio_sample_rate: Option<i64>,
    /// The server's change stamp (ms), when it has one.
    pub updated_ms: Option<i64>,
}

impl RemoteItem {
    /// A stamp of everything we store: an item whose stamp is unchanged is not rewritten.
    pub fn stamp(&self) -> i64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{self:?}").hash(&mut h);
        // SQLite integers are signed: keep the stamp positive and 63-bit.
        (h.finish() >> 1) as i64
    }
}

pub struct Page {
    pub items: Vec<RemoteItem>,
    /// The server's count of the whole listing (all pages).
    pub total: u64,
}

#[derive(Debug)]
pub enum RemoteError {
    NotRemote,
    /// The server refused our token or key (its 401/403): a 4xx of ours, not our own 401.
    Unauthorized(String),
    Status(String, u16),
    NotJson(String),
    BadJson(String, String),
    Client(String, ClientError),
    TooMany(String),
    BadHeader,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::NotRemote => f.write_str("not a Plex, Jellyfin or Emby source"),
            RemoteError::Unauthorized(s) => {
                write!(f, "{s}: the server refused the token or API key")
            }
            RemoteError::Status(s, code) => write!(f, "{s}: the server answered HTTP {code}"),
            RemoteError::NotJson(s) => {
                write!(f, "{s}: the server did not answer JSON (wrong URL?)")
            }
            RemoteError::BadJson(s, e) => write!(f, "{s}: unreadable answer: {e}"),
            RemoteError::Client(s, e) => write!(f, "{s}: {e}"),
            RemoteError::TooMany(s) => write!(f, "{s}: more than {MAX_ITEMS} items"),
            RemoteError::BadHeader => {
                f.write_str("the token or key holds characters a header cannot")
            }
        }
    }
}

impl std::error::Error for RemoteError {}

/// A header whose value is a secret: hyper keeps it out of its own `Debug` output.
pub(crate) fn secret_header(
    name: &'static str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), RemoteError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| RemoteError::BadHeader)?;
    v.set_sensitive(true);
    Ok((HeaderName::from_static(name), v))
}

pub(crate) fn plain_header(
    name: &'static str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), RemoteError> {
    let v = HeaderValue::from_str(value).map_err(|_| RemoteError::BadHeader)?;
    Ok((HeaderName::from_static(name), v))
}

/// Percent-encodes a query value (RFC 3986 unreserved kept).
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JSON helpers for the protocol modules: absent, null and wrong-typed all read as `None`.
pub(crate) fn s(v: &serde_json::Value, k: &str) -> Option<String> {
    match v.get(k)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn i(v: &serde_json::Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(crate) fn f(v: &serde_json::Value, k: &str) -> Option<f64> {
    match v.get(k)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(crate) fn arr<'a>(v: &'a serde_json::Value, k: &str) -> &'a [serde_json::Value] {
    v.get(k)
        .and_then(|a| a.as_array())
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
