//! The documents Plex, Jellyfin and Channels DVR poll every few seconds (discover.json,
//! lineup.json, device.xml), answered before the router runs: synchronously, from the
//! document cache, without allocating. The HTTP server calls `answer` for every request;
//! `None` sends the request down the full route (a cache miss, a bad token, a `show`
//! query, the device switched off), which answers it the same way or with the error.

use bytes::Bytes;

use super::{JSON, XML};
use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{Req, Response};
use crate::iptv::cache;
use crate::iptv::origin;
use crate::metrics::PolledDoc;

/// What one connection was last answered here, and what it asked. A client polls the same
/// URL on the same keep-alive connection, so the next identical request at the same content
/// version gets the same body without the settings, the token check or the shared cache:
/// settings changes move the content version, so none of those can have changed.
pub struct LastPolled {
    version: u64,
    doc: PolledDoc,
    /// Owned copies: a slice of hyper's read buffer would pin that buffer.
    path_and_query: Box<str>,
    host: Option<Box<[u8]>>,
    body: Bytes,
}

impl LastPolled {
    fn answers(&self, version: u64, req: &Req) -> bool {
        self.version == version
            && req.verb() == Verb::Get
            && req
                .parts
                .uri
                .path_and_query()
                .is_some_and(|pq| pq.as_str() == &*self.path_and_query)
            && req
                .parts
                .headers
                .get(hyper::header::HOST)
                .map(|h| h.as_bytes())
                == self.host.as_deref()
    }
}

/// The response for a polled document, if the cache has it; `last` is the connection's
/// memory of its previous answer (see `LastPolled`).
pub fn answer(
    app: &App,
    req: &Req,
    last: &mut Option<LastPolled>,
) -> Option<(Response, PolledDoc)> {
    // Read before the settings: a settings change that races this request moves the
    // version after it stores the settings, so what is remembered under `version` was
    // checked against settings at least as new.
    let version = app.content_version();
    if let Some(last) = last.as_ref().filter(|l| l.answers(version, req)) {
        let resp = cache::respond_plain(last.body.clone(), content_type(last.doc));
        return Some((resp, last.doc));
    }
    let segs = router::split(req.parts.uri.path())?;
    let (doc, kind) = match segs.as_slice() {
        ["hdhomerun", "discover.json"] => (PolledDoc::Discover, "discover"),
        ["hdhomerun", "lineup.json"] if req.query("show").is_none() => {
            (PolledDoc::Lineup, "lineup")
        }
        ["hdhomerun", "device.xml"] => (PolledDoc::DeviceXml, "device.xml"),
        ["device.xml"] => (PolledDoc::RootDeviceXml, "device.xml"),
        _ => return None,
    };
    if req.verb() != Verb::Get {
        return None;
    }
    let settings = app.settings();
    if !settings.hdhomerun.enabled {
        return None;
    }
    let token = settings.access_token();
    crate::http::auth::check_access_token(req, token).ok()?;
    let mut key = StackKey::new();
    write_key(&mut key, app, req, kind, token).ok()?;
    let body = app.outputs.get_body(version, &key)?;
    *last = Some(LastPolled {
        version,
        doc,
        path_and_query: req.parts.uri.path_and_query()?.as_str().into(),
        host: req
            .parts
            .headers
            .get(hyper::header::HOST)
            .map(|h| h.as_bytes().into()),
        body: body.clone(),
    });
    Some((cache::respond_plain(body, content_type(doc)), doc))
}

fn content_type(doc: PolledDoc) -> &'static str {
    match doc {
        PolledDoc::Discover | PolledDoc::Lineup => JSON,
        PolledDoc::DeviceXml | PolledDoc::RootDeviceXml => XML,
    }
}

/// A cache key that fits a real Host header and token; longer ones take the full route.
type StackKey = heapless::String<320>;

/// Writes the key the full route caches under (`"{kind} {origin} {token_query}"`, see
/// `hdhr::cached`) for the common cases — `--base-url`, or a plain Host header — and fails
/// for the rest (no Host: the origin then depends on the route to the peer) or when it
/// does not fit.
fn write_key(
    key: &mut StackKey,
    app: &App,
    req: &Req,
    kind: &str,
    access_token: Option<&str>,
) -> Result<(), ()> {
    // push_str, not write!: the formatting machinery costs more than the rest of a hit.
    key.push_str(kind).map_err(drop)?;
    key.push(' ').map_err(drop)?;
    match (&app.config.base_url, req.header(hyper::header::HOST)) {
        (Some(base), _) => key.push_str(base).map_err(drop)?,
        (None, Some(host)) if origin::is_plain_host(host) => {
            key.push_str("http://").map_err(drop)?;
            key.push_str(host).map_err(drop)?;
        }
        _ => return Err(()),
    }
    key.push(' ').map_err(drop)?;
    if let Some(token) = access_token {
        key.push_str("?access_token=").map_err(drop)?;
        push_percent_encoded(key, token)?;
    }
    Ok(())
}

/// `origin::percent_encode`, into the stack key.
fn push_percent_encoded(key: &mut StackKey, text: &str) -> Result<(), ()> {
    use std::fmt::Write;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            key.push(char::from(b)).map_err(drop)?;
        } else {
            write!(key, "%{b:02X}").map_err(drop)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stack_key_is_the_allocating_key() {
        // Both paths must encode the token alike, or the fast path would always miss.
        for token in ["plain-token_1.2~", "a b/é?&="] {
            let mut fast = super::StackKey::new();
            super::push_percent_encoded(&mut fast, token).unwrap();
            assert_eq!(fast.as_str(), crate::iptv::origin::percent_encode(token));
        }
    }
}
