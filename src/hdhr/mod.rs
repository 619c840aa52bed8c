//! The HDHomeRun face of the server: the HTTP device API Plex, Jellyfin, Emby and Channels
//! DVR read, UDP discovery on port 65001 and SSDP. It reads channels and the playout through
//! the app's caches and hands tunes to `stream`.

pub mod device_id;

use std::sync::Arc;

use crate::app::App;
use crate::http::{router, ApiResult, Req};

pub async fn route(_app: &Arc<App>, _req: &mut Req, _segs: &[&str]) -> ApiResult {
    Err(router::not_found())
}
