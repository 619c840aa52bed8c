//! The HTTP entry points of the streaming engine. The `iptv` and `hdhr` routers call these;
//! they own the tune semantics (404 unknown channel, 503 + 805 when no tuner is free, HEAD
//! starts nothing).

use std::sync::Arc;

use crate::app::App;
use crate::http::{ApiError, ApiResult, Req};

/// A continuous MPEG-TS of the channel numbered `number` (`/iptv/channel/{num}.ts`,
/// `/hdhomerun/auto/v{num}`); `tuner` is `Some(n)` for `/hdhomerun/tuner{n}/stream`.
pub async fn channel_ts(
    _app: &Arc<App>,
    _req: &mut Req,
    _number: &str,
    _tuner: Option<u16>,
) -> ApiResult {
    Err(ApiError::unavailable("streaming is not available yet", 5))
}

/// The live HLS playlist of a channel (`/iptv/channel/{num}.m3u8`).
pub async fn hls_playlist(_app: &Arc<App>, _req: &mut Req, _number: &str) -> ApiResult {
    Err(ApiError::unavailable("streaming is not available yet", 5))
}

/// One HLS segment (`/iptv/channel/{num}/seg/{seq}.ts`).
pub async fn hls_segment(_app: &Arc<App>, _req: &mut Req, _number: &str, _seq: u64) -> ApiResult {
    Err(ApiError::unavailable("streaming is not available yet", 5))
}

/// One library item as MPEG-TS (`/iptv/stream/{media_id}`, `?start=` seconds).
pub async fn media_item(_app: &Arc<App>, _req: &mut Req, _media_id: i64) -> ApiResult {
    Err(ApiError::unavailable("streaming is not available yet", 5))
}
