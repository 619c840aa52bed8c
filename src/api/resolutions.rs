//! `/api/resolutions`: the frame sizes FFmpeg profiles refer to, as JSON; the writes and
//! their refusals (built-ins, sizes in use) are `ops::resolutions`.

use std::sync::Arc;

use super::tx::{read, write_tx};
use super::view::{self, row_view};
use crate::app::App;
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    resolutions::{ResolutionId, ResolutionPatch},
};

row_view! {
    /// A resolution as `/api/resolutions` sends it (the table has no timestamps).
    pub struct ResolutionView {
        id: ResolutionId,
        name: String,
        width: i64,
        height: i64,
        is_custom: bool,
    }
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = ResolutionId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let doc = read(app, move |conn| rendered(conn, id)).await?;
                    Ok(body::ok_json(&doc))
                },
                Put | Patch => update(app, req, id).await,
                Delete => delete(app, id).await,
            })
        }
        _ => Err(router::not_found()),
    }
}

async fn list(app: &Arc<App>) -> ApiResult {
    let list = read(app, |conn| {
        Ok(view::list::<ResolutionView>(
            conn,
            "resolutions ORDER BY width * height, id",
            [],
        )?)
    })
    .await?;
    Ok(body::ok_json(&list))
}

fn rendered(conn: &rusqlite::Connection, id: ResolutionId) -> Result<ResolutionView, ApiError> {
    view::get(conn, "resolutions", id.0)?.ok_or_else(|| ApiError::not_found("resolution not found"))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: ResolutionPatch = req.params_requiring(&["name", "width", "height"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::resolutions::create(tx, &patch)?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: ResolutionId) -> ApiResult {
    let patch: ResolutionPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::resolutions::update(tx, id, &patch)?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: ResolutionId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::resolutions::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}
