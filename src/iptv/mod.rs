//! IPTV outputs: the M3U playlist, the XMLTV guide and live HLS, for VLC, Kodi, TiviMate
//! and the like.

use std::sync::Arc;

use crate::app::App;
use crate::http::{router, ApiResult, Req};

pub async fn route(_app: &Arc<App>, _req: &mut Req, _segs: &[&str]) -> ApiResult {
    Err(router::not_found())
}
