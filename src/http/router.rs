//! The router: a `match` on the path split into a fixed-capacity `heapless::Vec<&str>` — no
//! regex, no per-route allocation. Each area (`api`, `iptv`, `hdhr`) matches its own tail.
//! Unknown paths are 404; a known path with the wrong method is 405 with `Allow`.

use std::sync::Arc;

use hyper::header::{HeaderValue, LOCATION};
use hyper::{Method, StatusCode};

use super::body::{self, Body};
use super::error::ApiError;
use super::request::Req;
use super::ApiResult;
use crate::app::App;

/// The deepest route has 7 segments (`/api/collections/multi/{id}/collections/{cid}`);
/// a longer path cannot match anything and is a 404 without further work.
pub const MAX_SEGMENTS: usize = 10;

pub type Segments<'p> = heapless::Vec<&'p str, MAX_SEGMENTS>;

/// Splits `/a/b/c/` into `[a, b, c]` (one trailing slash is ignored). `None` when the path
/// has too many segments or an empty one (`//`).
pub fn split(path: &str) -> Option<Segments<'_>> {
    let path = path.strip_prefix('/')?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segs = Segments::new();
    if path.is_empty() {
        return Some(segs);
    }
    for seg in path.split('/') {
        if seg.is_empty() {
            return None;
        }
        segs.push(seg).ok()?;
    }
    Some(segs)
}

/// A request method as routes branch on it: HEAD is answered wherever GET is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Other,
}

impl Verb {
    pub fn of(method: &Method) -> Verb {
        match *method {
            Method::GET | Method::HEAD => Verb::Get,
            Method::POST => Verb::Post,
            Method::PUT => Verb::Put,
            Method::DELETE => Verb::Delete,
            Method::PATCH => Verb::Patch,
            Method::OPTIONS => Verb::Options,
            _ => Verb::Other,
        }
    }
}

impl Verb {
    /// The method's name as `Allow` lists it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
            Verb::Patch => "PATCH",
            Verb::Options => "OPTIONS",
            Verb::Other => "",
        }
    }
}

/// `Allow` for the verbs a route answers, in the order given; HEAD follows GET, since GET
/// routes answer it too.
pub fn allow(verbs: &[Verb]) -> String {
    let mut out = String::new();
    for verb in verbs {
        if *verb == Verb::Other {
            continue;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(verb.as_str());
        if *verb == Verb::Get {
            out.push_str(", HEAD");
        }
    }
    out
}

/// Dispatches on the request's verb; any verb without an arm is a 405 whose `Allow` is
/// derived from the arms, so the list of methods is written once, in the `match` itself:
///
/// ```ignore
/// by_verb!(req, {
///     Get => list(app, req).await,
///     Put | Patch => update(app, req, id).await,
/// })
/// ```
macro_rules! by_verb {
    ($req:expr, { $( $($verb:ident)|+ => $arm:expr ),+ $(,)? }) => {
        match $req.verb() {
            $( $($crate::http::router::Verb::$verb)|+ => $arm, )+
            _ => Err($crate::http::ApiError::not_allowed(&[
                $( $($crate::http::router::Verb::$verb),+ ),+
            ])),
        }
    };
}
pub(crate) use by_verb;

impl Req {
    pub fn verb(&self) -> Verb {
        Verb::of(self.method())
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

/// Parses an `{id}` segment; a non-integer id is a 404 (API.md: routing).
pub fn id(seg: &str) -> Result<i64, ApiError> {
    seg.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(not_found)
}

pub async fn route(app: &Arc<App>, req: &mut Req) -> ApiResult {
    // `Uri` clones by refcount; the segments borrow from this copy so `req` stays free for
    // handlers to read the body from.
    let uri = req.parts.uri.clone();
    let segs = split(uri.path()).ok_or_else(not_found)?;
    match segs.as_slice() {
        ["api", rest @ ..] => crate::api::route(app, req, rest).await,
        ["iptv", rest @ ..] => crate::iptv::route(app, req, rest).await,
        ["hdhomerun", rest @ ..] => crate::hdhr::route(app, req, rest).await,
        // EXStreamTV's root aliases: 307 to /hdhomerun/..., keeping the query (access_token).
        [doc @ ("discover.json" | "lineup.json" | "lineup_status.json")] => {
            only_get(req)?;
            let target = match uri.query() {
                Some(q) => format!("/hdhomerun/{doc}?{q}"),
                None => format!("/hdhomerun/{doc}"),
            };
            redirect(&target)
        }
        // Ours: served directly, since a redirect would add tune latency.
        ["device.xml"] | ["lineup.post"] | ["auto", _] => crate::hdhr::route(app, req, &segs).await,
        ["health"] => {
            only_get(req)?;
            Ok(body::ok_json(&serde_json::json!({
                "status": "healthy", "version": crate::VERSION, "app": "exstreamtv"
            })))
        }
        ["version"] => {
            only_get(req)?;
            Ok(body::ok_json(&serde_json::json!({
                "version": crate::VERSION, "app": "exstreamtv",
                "description": "live TV channels from a media library"
            })))
        }
        ["metrics"] => crate::api::metrics::route(app, req).await,
        ["static", "channel_icons", file] => crate::api::channels::icon_file(app, req, file).await,
        // Open (TV clients cannot send the token): M3U tvg-logo and XMLTV <icon> point here.
        ["static", "artwork", id, kind] => {
            crate::api::media::artwork_file(app, req, id, kind).await
        }
        ["openapi.json"] => crate::api::openapi::document(app, req).await,
        ["docs"] | ["documentation"] => crate::api::openapi::page(app, req).await,
        // The web UI, or the JSON index for a client that asks for JSON alone.
        [] => crate::web::root(req),
        ["ui", rest @ ..] => crate::web::route(app, req, rest),
        ["favicon.ico"] => crate::web::favicon(req),
        _ => Err(not_found()),
    }
}

/// 405 unless GET or HEAD.
pub fn only_get(req: &Req) -> Result<(), ApiError> {
    only(req, Verb::Get)
}

/// The route answers `verb` alone (405 with its `Allow` otherwise).
pub fn only(req: &Req, verb: Verb) -> Result<(), ApiError> {
    if req.verb() == verb {
        return Ok(());
    }
    Err(ApiError::not_allowed(&[verb]))
}

pub fn redirect(target: &str) -> ApiResult {
    let value =
        HeaderValue::from_str(target).map_err(|_| ApiError::bad_request("bad redirect target"))?;
    let mut resp = hyper::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    resp.headers_mut().insert(LOCATION, value);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_arms_with_head_after_get() {
        assert_eq!(allow(&[Verb::Get, Verb::Post]), "GET, HEAD, POST");
        assert_eq!(allow(&[Verb::Post, Verb::Delete]), "POST, DELETE");
        assert_eq!(
            allow(&[Verb::Get, Verb::Put, Verb::Patch, Verb::Delete]),
            "GET, HEAD, PUT, PATCH, DELETE"
        );
        let err = ApiError::not_allowed(&[Verb::Get, Verb::Put, Verb::Patch]);
        assert_eq!(err.status, hyper::StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn splits_paths() {
        assert_eq!(split("/").unwrap().as_slice(), &[] as &[&str]);
        assert_eq!(
            split("/api/channels/").unwrap().as_slice(),
            &["api", "channels"]
        );
        assert_eq!(split("/a/b/c").unwrap().as_slice(), &["a", "b", "c"]);
        assert!(split("//x").is_none());
        assert!(split("nope").is_none());
        assert!(split(&"/x".repeat(MAX_SEGMENTS + 1)).is_none());
    }

    #[test]
    fn random_paths_never_panic() {
        // Seeded xorshift: reproducible garbage.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            let mut s = String::from("/");
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(b"/ab%.\xff"[(seed % 6) as usize] as char);
            }
            let _ = split(&s);
            let _ = id(&s);
        }
    }
}
