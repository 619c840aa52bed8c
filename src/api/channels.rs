//! `/api/channels`: channel CRUD, per-channel schedule views, icons.

use std::sync::Arc;

use crate::app::App;
use crate::http::{router, ApiResult, Req};

pub async fn route(_app: &Arc<App>, _req: &mut Req, _segs: &[&str]) -> ApiResult {
    Err(router::not_found())
}

/// `GET /static/channel_icons/{file}` (open).
pub async fn icon_file(_app: &Arc<App>, req: &mut Req, _file: &str) -> ApiResult {
    router::only_get(req)?;
    Err(router::not_found())
}
