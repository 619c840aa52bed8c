//! Rendered client documents (discover.json, lineup.json, device.xml, the M3U), kept as
//! `Bytes` so every request shares one copy, and dropped when `App::content_version` moves.
//! Also the ETag / `If-None-Match` handling the M3U and XMLTV use.

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::StatusCode;

use crate::http::{Body, Req, Response};

/// Cached renderings. A document varies by kind, origin (the Host a client used), token and
/// mode, and a LAN box sees a handful of clients, each with one origin: 32 covers 4 kinds ×
/// 8 variants. Past it the oldest is dropped; rendering again costs one small DB read.
pub const DOC_CACHE_ENTRIES: usize = 32;

/// A rendered document and its strong ETag.
#[derive(Clone)]
pub struct Doc {
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Doc {
    pub fn new(body: Bytes) -> Doc {
        let etag = etag_of(&[&body]);
        Doc { body, etag }
    }
}

struct Entry {
    version: u64,
    key: String,
    doc: Doc,
}

/// The output side's state inside `App`.
#[derive(Default)]
pub struct Outputs {
    docs: Mutex<Vec<Entry>>,
    /// The HTTP listener's real address (the port is ephemeral in tests); set once at start.
    http_addr: OnceLock<SocketAddr>,
    /// `--listen`, used until `http_addr` is known.
    configured: OnceLock<SocketAddr>,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl Outputs {
    pub fn new(configured_listen: SocketAddr) -> Outputs {
        let outputs = Outputs::default();
        let _ = outputs.configured.set(configured_listen);
        outputs
    }

    pub fn set_http_addr(&self, addr: SocketAddr) {
        let _ = self.http_addr.set(addr);
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
            .get()
            .or(self.configured.get())
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8411)))
    }

    /// The document rendered for `key` at content version `version`, if still cached.
    pub fn get(&self, version: u64, key: &str) -> Option<Doc> {
        self.find(version, key, |doc| doc.clone())
    }

    /// Only the body of `get`: what a response without an ETag needs.
    pub fn get_body(&self, version: u64, key: &str) -> Option<Bytes> {
        self.find(version, key, |doc| doc.body.clone())
    }

    fn find<T>(&self, version: u64, key: &str, take: impl FnOnce(&Doc) -> T) -> Option<T> {
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let found = docs
            .iter()
            .find(|e| e.version == version && e.key == key)
            .map(|e| take(&e.doc));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        found
    }

    /// (entries, their bytes, hits, misses) since start.
    pub fn stats(&self) -> (usize, usize, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = docs.iter().map(|e| e.doc.body.len()).sum();
        (
            docs.len(),
            bytes,
            self.hits.load(Relaxed),
            self.misses.load(Relaxed),
        )
    }

    /// Drops every rendering (each is made again at its next request).
    pub fn clear(&self) -> usize {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let n = docs.len();
        docs.clear();
        n
    }

    /// Stores a rendering made from data read at `version` (read the version *before* the
    /// data, so a write racing the render leaves a stale entry that is never served).
    pub fn put(&self, version: u64, key: String, doc: Doc) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.retain(|e| e.version >= version && e.key != key);
        if docs.len() >= DOC_CACHE_ENTRIES {
            docs.remove(0);
        }
        docs.push(Entry { version, key, doc });
    }
}

/// A strong ETag: FNV-1a 64 over the parts.
pub fn etag_of(parts: &[&[u8]]) -> HeaderValue {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter() {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // Separates ["ab","c"] from ["a","bc"].
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Hex digits and quotes only: always a valid header value.
    HeaderValue::from_str(&format!("\"{hash:016x}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// True when the request's `If-None-Match` lists `etag` (or `*`); weak tags compare equal.
pub fn not_modified(req: &Req, etag: &HeaderValue) -> bool {
    let Some(header) = req.header(IF_NONE_MATCH) else {
        return false;
    };
    let Ok(ours) = etag.to_str() else {
        return false;
    };
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

/// 304 with the ETag, no body.
pub fn not_modified_response(etag: HeaderValue) -> Response {
    let mut resp = hyper::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    resp.headers_mut().insert(ETAG, etag);
    resp
}

/// 200 with a cached document; `etag` adds the ETag and `Cache-Control: no-cache` (store,
/// but revalidate) and honours `If-None-Match`. Without a validator nothing caches the
/// document, so it needs no Cache-Control (`respond_plain`).
pub fn respond(req: &Req, doc: Doc, content_type: &'static str, with_etag: bool) -> Response {
    if !with_etag {
        return respond_plain(doc.body, content_type);
    }
    if not_modified(req, &doc.etag) {
        return not_modified_response(doc.etag);
    }
    let mut resp = respond_plain(doc.body, content_type);
    let headers = resp.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(ETAG, doc.etag);
    resp
}

/// 200 with a body and its Content-Type.
pub fn respond_plain(body: Bytes, content_type: &'static str) -> Response {
    let mut resp = hyper::Response::new(Body::from(body));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_versions_and_bound() {
        let outputs = Outputs::default();
        outputs.put(1, "a".into(), Doc::new(Bytes::from_static(b"one")));
        assert_eq!(outputs.get(1, "a").unwrap().body, "one");
        assert!(outputs.get(2, "a").is_none());
        outputs.put(2, "a".into(), Doc::new(Bytes::from_static(b"two")));
        assert!(outputs.get(1, "a").is_none());
        for i in 0..100 {
            outputs.put(2, format!("k{i}"), Doc::new(Bytes::from_static(b"x")));
        }
        assert_eq!(outputs.docs.lock().unwrap().len(), DOC_CACHE_ENTRIES);
        assert!(outputs.get(2, "k99").is_some());
        assert_ne!(etag_of(&[b"ab", b"c"]), etag_of(&[b"a", b"bc"]));
    }
}
