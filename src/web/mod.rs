//! The web admin served from the binary: `index.html` at `/` and `/ui/…` (no-cache, since it
//! names the current assets), the assets under `/ui/assets/<name>.<hash>.<ext>` (immutable:
//! a new build gives new names), each gzip-compressed by `build.rs` and embedded. Only the
//! compressed bytes are in the binary; a client that does not accept gzip (no browser) gets
//! a 406 rather than a runtime inflater. Login sessions: `session`.

pub mod session;

use bytes::Bytes;
use hyper::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, VARY,
};
use hyper::StatusCode;

use crate::http::body::Body;
use crate::http::{router, ApiError, ApiResult, Req};

/// One embedded file, as `build.rs` lists it.
pub struct Asset {
    pub name: &'static str,
    pub mime: &'static str,
    pub etag: &'static str,
    pub immutable: bool,
    pub raw_len: usize,
    pub gz: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `/ui/…`: an asset by its hashed name, else the page (the UI routes by `#` fragment, so
/// any other path under `/ui` is the page too).
pub fn route(_app: &crate::app::App, req: &Req, segs: &[&str]) -> ApiResult {
    router::only_get(req)?;
    match segs {
        ["assets", file] => match find(file).filter(|a| a.immutable) {
            Some(asset) => serve(req, asset),
            None => Err(ApiError::not_found(format_args!("no asset {file}"))),
        },
        [] => index(req),
        _ => index(req),
    }
}

/// `/`: the page, or the JSON index for a client that asks for JSON alone.
pub fn root(req: &Req) -> ApiResult {
    if wants_json_only(req) {
        router::only_get(req)?;
        return Ok(crate::api::index());
    }
    index(req)
}

pub fn index(req: &Req) -> ApiResult {
    router::only_get(req)?;
    match find("index.html") {
        Some(asset) => serve(req, asset),
        None => Err(ApiError::internal("index.html not embedded")),
    }
}

/// `/favicon.ico`, for clients that ask before reading the page's `<link rel=icon>`.
pub fn favicon(req: &Req) -> ApiResult {
    router::only_get(req)?;
    match ASSETS.iter().find(|a| a.name.starts_with("favicon.")) {
        Some(asset) => serve(req, asset),
        None => Err(ApiError::not_found("no favicon")),
    }
}

/// True when the client asks for JSON alone (`Accept: application/json`): `/` then answers
/// the JSON index it answered before the UI existed.
pub fn wants_json_only(req: &Req) -> bool {
    let Some(accept) = req.header(ACCEPT) else {
        return false;
    };
    accept.split(',').all(|part| {
        let mime = part.split(';').next().unwrap_or("").trim();
        mime.eq_ignore_ascii_case("application/json")
    })
}

fn accepts_gzip(req: &Req) -> bool {
    req.header(ACCEPT_ENCODING).is_some_and(|v| {
        v.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

fn serve(req: &Req, asset: &'static Asset) -> ApiResult {
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = req
        .header(IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut resp = if not_modified {
        let mut resp = hyper::Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp
    } else if accepts_gzip(req) {
        let mut resp = hyper::Response::new(Body::from(Bytes::from_static(asset.gz)));
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.mime));
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        resp
    } else {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "the web UI is served gzip-compressed only (Accept-Encoding: gzip); use a browser",
        ));
    };
    let headers = resp.headers_mut();
    headers.insert(ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    Ok(resp)
}

/// (compressed, uncompressed) bytes of every asset, for the size figures.
pub fn sizes() -> (usize, usize) {
    ASSETS
        .iter()
        .fold((0, 0), |(gz, raw), a| (gz + a.gz.len(), raw + a.raw_len))
}

#[cfg(test)]
mod tests {
    /// Each vendored file is the one its SHA256SUMS names (as `sha256sum -c` checks), so an
    /// edit or a swapped download fails here; its licence sits beside it.
    #[test]
    fn vendored_files_match_their_sha256_and_carry_a_licence() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/assets/vendor");
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        let mut checked = 0;
        for line in sums.lines().filter(|l| !l.trim().is_empty()) {
            let (want, name) = line.split_once("  ").unwrap();
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let got = crate::hash::hex_sha256(&bytes);
            assert_eq!(got, want, "{name}");
            let licence = name.split('.').next().unwrap_or(name);
            assert!(
                dir.join(format!("{licence}.js.LICENSE")).exists(),
                "{name} has no licence beside it"
            );
            checked += 1;
        }
        assert!(checked > 0);
    }
}
