//! `/api/resolutions`: the frame sizes FFmpeg profiles refer to, as JSON; the writes and
//! their refusals (built-ins, sizes in use) are `ops::resolutions`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::columns::{self, body_object, col, read, write_tx, Column, Kind};
use crate::app::App;
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    resolutions::{ResolutionId, ResolutionPatch},
};

pub const RESOLUTION_COLUMNS: &[Column] = &[
    col("name", Kind::Name),
    col("width", Kind::Int { min: 16, max: 7680 }),
    col("height", Kind::Int { min: 16, max: 4320 }),
    col("is_custom", Kind::Bool),
];

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
        columns::list(
            conn,
            "resolutions",
            RESOLUTION_COLUMNS,
            "width * height, id",
        )
    })
    .await?;
    Ok(body::ok_json(&list))
}

/// The body's fields, validated once (422 naming the field); `is_custom` is ignored, the
/// database decides it.
fn patch_from(body: &Map<String, Value>) -> Result<ResolutionPatch, ApiError> {
    let mut values = columns::changes(RESOLUTION_COLUMNS, body)?;
    values.retain(|(c, _)| c.json != "is_custom");
    Ok(ResolutionPatch {
        name: columns::text_value(&values, "name").map(str::to_string),
        values: columns::by_sql(&values),
    })
}

fn rendered(conn: &rusqlite::Connection, id: ResolutionId) -> Result<Value, ApiError> {
    columns::get(conn, "resolutions", RESOLUTION_COLUMNS, id.0)?
        .ok_or_else(|| ApiError::not_found("resolution not found"))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let body = body_object(req).await?;
    columns::require(&body, &["name", "width", "height"])?;
    let patch = patch_from(&body)?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::resolutions::create(tx, &patch)?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: ResolutionId) -> ApiResult {
    let patch = patch_from(&body_object(req).await?)?;
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
