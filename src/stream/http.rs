//! The HTTP entry points of the streaming engine. The `iptv` and `hdhr` routers call these;
//! they own the tune semantics (400 bad number, 404 unknown or disabled channel, 503 + 805
//! when no tuner is free, HEAD starts nothing; a tune that arrives while the start-up tools
//! check runs waits for it) and the stream response headers.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::StatusCode;

use super::manager::TuneError;
use crate::app::App;
use crate::http::{ApiError, ApiResult, Body, Req, Response};
use crate::kinds::is_channel_number;
use crate::scheduler::cursor::{self, ChannelInfo, Input};

/// How long a first playlist fetch waits for the first segment of a channel it started.
const FIRST_SEGMENT_WAIT: Duration = Duration::from_secs(12);

impl From<TuneError> for ApiError {
    fn from(err: TuneError) -> Self {
        match err {
            TuneError::AllTunersInUse => ApiError::unavailable(err, 5).with_header(
                HeaderName::from_static("x-hdhomerun-error"),
                HeaderValue::from_static("805 All Tuners In Use"),
            ),
            TuneError::NoSuchTuner => ApiError::not_found(err),
            TuneError::TooManyViewers | TuneError::FfmpegMissing | TuneError::ShuttingDown => {
                ApiError::unavailable(err, 5)
            }
            // The check ends within seconds of the start: worth a quick retry.
            TuneError::FfmpegUnchecked => ApiError::unavailable(err, 1),
        }
    }
}

async fn enabled_channel(app: &App, number: &str) -> Result<ChannelInfo, ApiError> {
    if !is_channel_number(number) {
        return Err(ApiError::bad_request(format_args!(
            "invalid channel number {number:?}: expected digits, optionally with one dot (\"100\", \"5.1\")"
        )));
    }
    match cursor::channel_by_number(&app.db, number).await? {
        Some(info) if info.enabled => Ok(info),
        _ => Err(ApiError::not_found(format_args!(
            "channel {number} not found"
        ))),
    }
}

fn stream_headers(resp: &mut Response, content_type: &'static str) {
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate, private"),
    );
    h.insert(
        HeaderName::from_static("access-control-allow-origin"),
        HeaderValue::from_static("*"),
    );
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
}

/// HLS answers may be cached (`hls`: a segment's URL names the same bytes for as long as
/// the server runs): the stream headers with `cache_control` instead of `no-store`, and
/// without `X-Accel-Buffering: no`, with which nginx neither buffers nor caches.
fn hls_headers(resp: &mut Response, content_type: &'static str, cache_control: HeaderValue) {
    stream_headers(resp, content_type);
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, cache_control);
    h.remove(HeaderName::from_static("x-accel-buffering"));
}

fn ts_response(body: Body) -> Response {
    let mut resp = hyper::Response::new(body);
    stream_headers(&mut resp, "video/mp2t");
    resp
}

/// The body of a HEAD answer: never polled by hyper, and of unknown length, so the headers
/// match the GET's (chunked, no Content-Length).
struct HeadOnly;

impl hyper::body::Body for HeadOnly {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(None)
    }
}

/// A continuous MPEG-TS of the channel numbered `number` (`/iptv/channel/{num}.ts`,
/// `/hdhomerun/auto/v{num}`); `tuner` is `Some(n)` for `/hdhomerun/tuner{n}/stream`.
pub async fn channel_ts(
    app: &Arc<App>,
    req: &mut Req,
    number: &str,
    tuner: Option<u16>,
) -> ApiResult {
    let info = enabled_channel(app, number).await?;
    if tuner.is_some_and(|n| n >= app.tuner_count()) {
        return Err(TuneError::NoSuchTuner.into());
    }
    if req.is_head() {
        app.streams.check(app, info.id, tuner).await?;
        return Ok(ts_response(Body::stream(HeadOnly)));
    }
    let started = std::time::Instant::now();
    let viewer = app.streams.tune(app, &info, tuner).await?;
    app.metrics.tune_latency.observe(started.elapsed());
    Ok(ts_response(Body::stream(viewer)))
}

/// The query suffix every emitted URL carries when the IPTV token is on.
fn token_suffix(app: &App) -> String {
    match app.settings().access_token() {
        Some(token) => {
            let mut s = String::from("?access_token=");
            for b in token.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    s.push(b as char);
                } else {
                    s.push_str(&format!("%{b:02X}"));
                }
            }
            s
        }
        None => String::new(),
    }
}

/// The live HLS playlist of a channel (`/iptv/channel/{num}.m3u8`). The first fetch starts
/// the channel; each fetch keeps it (and its tuner) for another hold
/// (`channels.hls_hold_seconds`, default `hls::HOLD`).
pub async fn hls_playlist(app: &Arc<App>, req: &mut Req, number: &str) -> ApiResult {
    let info = enabled_channel(app, number).await?;
    if req.is_head() {
        app.streams.check(app, info.id, None).await?;
        let mut resp = hyper::Response::new(Body::Empty);
        hls_headers(
            &mut resp,
            "application/vnd.apple.mpegurl",
            HeaderValue::from_static(super::hls::PLAYLIST_CACHE_CONTROL),
        );
        return Ok(resp);
    }
    let channel = app.streams.ensure_running(app, &info).await?;
    let hold = Duration::from_secs(u64::from(app.settings().channels.hls_hold_seconds));
    channel.hls.touch(hold);
    if !channel.hls.wait_for_segment(FIRST_SEGMENT_WAIT).await {
        return Err(ApiError::unavailable("the stream is starting", 2));
    }
    // The hold runs from the answer: the first one may have waited for its segment.
    channel.hls.touch(hold);
    let text = channel
        .hls
        .playlist(&format!("{number}/seg/"), &token_suffix(app));
    let mut resp = hyper::Response::new(Body::from(Bytes::from(text)));
    hls_headers(
        &mut resp,
        "application/vnd.apple.mpegurl",
        HeaderValue::from_static(super::hls::PLAYLIST_CACHE_CONTROL),
    );
    Ok(resp)
}

/// One HLS segment (`/iptv/channel/{num}/seg/{seq}.ts`), from memory.
pub async fn hls_segment(app: &Arc<App>, req: &mut Req, number: &str, seq: u64) -> ApiResult {
    let info = enabled_channel(app, number).await?;
    let chunks = app
        .streams
        .running(info.id)
        .and_then(|ch| ch.hls.segment(seq))
        .ok_or_else(|| ApiError::not_found(format_args!("segment {seq} expired")))?;
    let len: usize = chunks.iter().map(Bytes::len).sum();
    let body = if req.is_head() {
        Body::Empty
    } else {
        Body::stream(Chunks(chunks.into_iter()))
    };
    let mut resp = hyper::Response::new(body);
    hls_headers(
        &mut resp,
        "video/mp2t",
        HeaderValue::from_static(super::hls::SEGMENT_CACHE_CONTROL),
    );
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}

/// A finite body of shared chunks (an HLS segment): sent as they are, never copied.
struct Chunks(std::vec::IntoIter<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.get_mut().0.next().map(|b| Ok(Frame::data(b))))
    }
}

/// One library item as MPEG-TS (`/iptv/stream/{media_id}`, `?start=` seconds), in the
/// default output profile, through the tuner pool (it holds a tuner while it plays).
pub async fn media_item(app: &Arc<App>, req: &mut Req, media_id: i64) -> ApiResult {
    if matches!(req.query("raw").as_deref(), Some("1" | "true")) {
        return raw_media_item(app, req, media_id).await;
    }
    let start_s: f64 = req.query_parsed("start")?.unwrap_or(0.0);
    if !(start_s.is_finite() && start_s >= 0.0) {
        return Err(ApiError::bad_request("start: expected seconds, 0 or more"));
    }
    let mut programme = cursor::media_programme(&app.db, media_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format_args!("media item {media_id} not found")))?;
    resolve_page(app, &mut programme.input).await?;
    if matches!(programme.input, Input::Offline) {
        return Err(ApiError::bad_request(format_args!(
            "media item {media_id} has no playable source"
        )));
    }
    if req.is_head() {
        app.streams.check_media(app).await?;
        return Ok(ts_response(Body::stream(HeadOnly)));
    }
    let body = app
        .streams
        .play_media(app, programme, (start_s * 1000.0) as i64)
        .await?;
    Ok(ts_response(Body::stream(body)))
}

/// A page's input becomes its direct URL; yt-dlp's failure is a 502 (the page's server
/// or yt-dlp failed us, not the request).
async fn resolve_page(app: &App, input: &mut Input) -> Result<(), ApiError> {
    if let Input::Page(page) = input {
        let resolved = app
            .resolve_page(page)
            .await
            .map_err(|err| ApiError::new(StatusCode::BAD_GATEWAY, err))?;
        *input = Input::Url(resolved.url);
    }
    Ok(())
}

/// `?raw=1`: the local file itself (`Range`: 206 with `Content-Range`, 416 beyond the end),
/// read from disk as the client takes it, or a 302 to a remote item's URL. No FFmpeg, no
/// tuner.
async fn raw_media_item(app: &Arc<App>, req: &mut Req, media_id: i64) -> ApiResult {
    use super::raw::{self, RangeAsk};
    use hyper::header::{ACCEPT_RANGES, CONTENT_RANGE, LOCATION};
    let mut programme = cursor::media_programme(&app.db, media_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format_args!("media item {media_id} not found")))?;
    resolve_page(app, &mut programme.input).await?;
    let path = match programme.input {
        Input::File(path) => path,
        Input::Url(url) | Input::Live(url) => {
            let location = HeaderValue::from_str(&url).map_err(|_| {
                ApiError::bad_request(format_args!("media item {media_id} has no usable URL"))
            })?;
            let mut resp = hyper::Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::FOUND;
            resp.headers_mut().insert(LOCATION, location);
            return Ok(resp);
        }
        Input::Generated(_) | Input::Page(_) | Input::Offline => {
            return Err(ApiError::bad_request(format_args!(
                "media item {media_id} has no file or URL to serve"
            )))
        }
    };
    let gone = || ApiError::not_found(format_args!("the file of media item {media_id} is gone"));
    let file = tokio::fs::File::open(&path).await.map_err(|_| gone())?;
    let meta = file.metadata().await.map_err(|_| gone())?;
    if !meta.is_file() {
        return Err(gone());
    }
    let len = meta.len();
    let (status, start, n_bytes) = match raw::parse_range(req.header("range"), len) {
        RangeAsk::Whole => (StatusCode::OK, 0, len),
        RangeAsk::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeAsk::Unsatisfiable => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format_args!("range not satisfiable: the file has {len} bytes"),
            )
            .with_header(
                CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}")).map_err(ApiError::internal)?,
            ));
        }
    };
    let body = if req.is_head() {
        Body::Empty
    } else {
        use tokio::io::AsyncSeekExt;
        let mut file = file;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|_| gone())?;
        Body::stream(raw::FileBody::new(file, n_bytes))
    };
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(raw::content_type(&path)),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(n_bytes));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        HeaderName::from_static("access-control-allow-origin"),
        HeaderValue::from_static("*"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{len}", start + n_bytes - 1);
        h.insert(
            CONTENT_RANGE,
            HeaderValue::from_str(&range).map_err(ApiError::internal)?,
        );
    }
    Ok(resp)
}
