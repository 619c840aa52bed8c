//! `/iptv/remote/{media_id}?exp=…&sig=…`: the loopback proxy FFmpeg reads a Plex, Jellyfin
//! or Emby item through. The URL is signed and expiring (`library::remote::sign`) and
//! answered only to this box; the server's token is added here as a header and never
//! appears in FFmpeg's argv, a URL or a log line. `Range` passes through both ways, and the
//! body streams frame by frame as the server sends it (nothing buffered, nothing on disk).

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use hyper::StatusCode;

use crate::app::App;
use crate::http::{client, router, ApiError, ApiResult, Body, Req};
use crate::library::remote::{sign, store};

pub async fn route(app: &Arc<App>, req: &mut Req, id: &str) -> ApiResult {
    router::only_get(req)?;
    let media_id = router::id(id)?;
    let exp: i64 = req.query_parsed("exp")?.unwrap_or(0);
    let sig = req.query("sig").map(|s| s.into_owned()).unwrap_or_default();
    let denied = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "this URL is not signed for this item, or has expired",
        )
    };
    if !sign::allowed_peer(req.peer.ip())
        || !sign::verify(media_id, exp, &sig, crate::time::now_ms())
    {
        return Err(denied());
    }
    let (source, path) = app
        .db
        .read(move |conn| store::stream_target(conn, media_id))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format_args!("media item {media_id} is not a remote item"))
        })?;
    let server = source.server();
    let mut headers = server
        .headers()
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e))?;
    if let Some(range) = req
        .header(RANGE)
        .and_then(|r| hyper::header::HeaderValue::from_str(r).ok())
    {
        headers.push((RANGE, range));
    }
    let upstream = client::open(&format!("{}{path}", server.url), &headers)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format_args!("{}: {e}", server.label),
            )
        })?;
    let status = upstream.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format_args!("{}: the server refused the token or API key", server.label),
        ));
    }
    let mut resp = hyper::Response::new(Body::Empty);
    *resp.status_mut() = status;
    for name in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_RANGE, ACCEPT_RANGES] {
        if let Some(v) = upstream.headers().get(&name) {
            resp.headers_mut().insert(name, v.clone());
        }
    }
    let body = upstream
        .into_body()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::BrokenPipe, e));
    *resp.body_mut() = Body::stream(body);
    Ok(resp)
}
