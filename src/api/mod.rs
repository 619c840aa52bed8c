//! The REST API under `/api`: one file per resource. Every route needs the API token except
//! the health checks and `lineup_status.json`.

pub mod channels;
pub mod health;
pub mod metrics;

use std::sync::Arc;

use crate::app::App;
use crate::http::{router, ApiResult, Req};

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["health", rest @ ..] => return health::route(app, req, rest).await,
        ["lineup_status.json"] => return crate::hdhr::route(app, req, segs).await,
        _ => {}
    }
    app.api_token.check(req)?;
    match segs {
        ["channels", rest @ ..] => channels::route(app, req, rest).await,
        _ => Err(router::not_found()),
    }
}
