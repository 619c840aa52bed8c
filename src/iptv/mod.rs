//! IPTV outputs: the M3U playlist, the XMLTV guide and the stream routes, for VLC, Kodi,
//! TiviMate and the like, and the loopback proxy of remote items (`remote`). Routing and documents live here; the streams themselves are
//! `stream::http`'s. Every route is behind the optional `?access_token=` gate.

pub mod cache;
pub mod guide;
pub mod lineup;
pub mod m3u;
pub mod m3u_source;
pub mod origin;
pub mod remote;
pub mod source_guide;
pub mod xmltv;

use std::sync::Arc;

use hyper::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE, ETAG,
    USER_AGENT,
};

use self::cache::Doc;
use self::m3u::{M3uRequest, StreamMode};
use self::origin::Origin;
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Body, Req};

pub const M3U_TYPE: &str = "application/vnd.apple.mpegurl";
pub const XMLTV_TYPE: &str = "application/xml; charset=utf-8";

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        // FFmpeg's proxy reads are gated by their signature, not the access token.
        ["remote", id] => remote::route(app, req, id).await,
        _ => gated(app, req, segs).await,
    }
}

async fn gated(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    crate::http::auth::check_access_token(req, app.settings().access_token())?;
    match segs {
        ["channels.m3u"] => {
            router::only_get(req)?;
            m3u(app, req).await
        }
        ["xmltv.xml"] => {
            router::only_get(req)?;
            xmltv(app, req).await
        }
        ["xmltv", "refresh"] => {
            router::only(req, Verb::Post)?;
            {
                // The guide is rendered per request; a new version changes its ETag, so
                // clients holding the old one fetch it afresh.
                app.content_changed();
                Ok(body::ok_json(&serde_json::json!({
                    "status": "ok", "message": "the guide will be regenerated on the next fetch"
                })))
            }
        }
        ["channel", file] => {
            router::only_get(req)?;
            if let Some(number) = file.strip_suffix(".ts") {
                let number = channel_number(number)?;
                crate::stream::http::channel_ts(app, req, number, None).await
            } else if let Some(number) = file.strip_suffix(".m3u8") {
                let number = channel_number(number)?;
                crate::stream::http::hls_playlist(app, req, number).await
            } else {
                Err(router::not_found())
            }
        }
        ["channel", number, "seg", file] => {
            router::only_get(req)?;
            let number = channel_number(number)?;
            let seq = file
                .strip_suffix(".ts")
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(router::not_found)?;
            crate::stream::http::hls_segment(app, req, number, seq).await
        }
        ["stream", id] => {
            let media_id = router::id(id)?;
            by_verb!(req, {
                Get => crate::stream::http::media_item(app, req, media_id).await,
                Options => Ok(cors_preflight()),
            })
        }
        _ => Err(router::not_found()),
    }
}

/// `^\d+(\.\d+)?$`, else 400 (API.md §3, Streams).
pub fn channel_number(text: &str) -> Result<&str, ApiError> {
    if crate::kinds::is_channel_number(text) {
        Ok(text)
    } else {
        Err(ApiError::bad_request(format_args!(
            "channel number {text:?} is not like 100 or 5.1"
        )))
    }
}

fn cors_preflight() -> crate::http::Response {
    let mut resp = body::empty_ok();
    let h = resp.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range, Content-Range, Content-Type"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    resp
}

async fn m3u(app: &Arc<App>, req: &Req) -> ApiResult {
    let mode = match req.query("mode") {
        None => StreamMode::Ts,
        Some(m) => StreamMode::parse(&m).ok_or_else(|| {
            ApiError::bad_request(format_args!(
                "query parameter mode: {m:?} is not ts, hls or mixed"
            ))
        })?,
    };
    let kodi = req
        .header(USER_AGENT)
        .is_some_and(|ua| ua.starts_with("Kodi"));
    let origin = Origin::of_request(app, req);
    let token_query = origin::token_query(app);
    let key = format!("m3u {mode:?} {kodi} {} {token_query}", origin.as_str());
    let version = app.content_version();
    let doc = match app.outputs.get(version, &key) {
        Some(doc) => doc,
        None => {
            let channels = lineup::enabled_channels(&app.db).await?;
            let text = m3u::render(
                &channels,
                &M3uRequest {
                    origin: origin.as_str(),
                    token_query: &token_query,
                    mode,
                    kodi,
                },
            );
            let doc = Doc::new(bytes::Bytes::from(text));
            app.outputs.put(version, key, doc.clone());
            doc
        }
    };
    Ok(cache::respond(req, doc, M3U_TYPE, true))
}

/// The XMLTV guide, streamed (also `/hdhomerun/epg`). Its ETag names the content version,
/// this process and the variant, so a 304 is answered without touching the DB.
pub async fn xmltv(app: &Arc<App>, req: &Req) -> ApiResult {
    let origin = Origin::of_request(app, req);
    let version = app.content_version();
    let etag = cache::etag_of(&[
        &app.started_ms.to_le_bytes(),
        &version.to_le_bytes(),
        origin.as_str().as_bytes(),
    ]);
    if cache::not_modified(req, &etag) {
        return Ok(cache::not_modified_response(etag));
    }
    let channels = lineup::enabled_channels(&app.db).await?;
    let now_ms = crate::time::now_ms();
    let horizon_ms = i64::from(app.settings().playout.days_to_build.max(1)) * 86_400_000;
    let relayed = app
        .db
        .read(crate::ops::m3u_sources::relayed_tvg_ids)
        .await?;
    let external = app.source_guides.for_channels(&relayed);
    let guide = xmltv::GuideBody::new(
        app.db.clone(),
        channels,
        external,
        origin.as_str(),
        now_ms,
        horizon_ms,
    )
    .map_err(ApiError::internal)?;
    let mut resp = hyper::Response::new(if req.is_head() {
        Body::Empty
    } else {
        Body::stream(guide)
    });
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(XMLTV_TYPE));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(ETAG, etag);
    Ok(resp)
}
