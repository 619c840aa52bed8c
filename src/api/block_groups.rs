//! `/api/block-groups`: the names blocks are filed under (`ops::blocks` does the writes; a
//! group still holding blocks is not deleted).

use std::sync::Arc;

use rusqlite::Connection;

use super::tx::{read, write_tx};
use super::view::{self, row_view};
use crate::app::App;
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::blocks::{self as ops, GroupPatch};
use crate::time::now_ms;

/// `/api/block-groups`.
pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => {
                let list = read(app, |conn| {
                    Ok(view::list::<GroupView>(conn, "block_groups ORDER BY name, id", [])?)
                })
                .await?;
                Ok(body::ok_json(&list))
            },
            Post => create_group(app, req).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| group(conn, id)).await?)),
                Put | Patch => update_group(app, req, id).await,
                Delete => {
                    let changes = write_tx(app, move |tx| Ok(ops::delete_group(tx, id)?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        _ => Err(router::not_found()),
    }
}

row_view! {
    /// A block group with how many blocks it files.
    pub struct GroupView {
        id: i64,
        name: String,
        block_count = "(SELECT count(*) FROM blocks b WHERE b.group_id = block_groups.id)": i64,
    }
}

fn group(conn: &Connection, id: i64) -> Result<GroupView, ApiError> {
    view::get(conn, "block_groups", id)?.ok_or_else(|| ApiError::not_found("block group not found"))
}

async fn create_group(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: GroupPatch = req.params_requiring(&["name"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create_group(tx, &patch, now_ms())?;
        Ok((id, group(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id, &doc))
}

async fn update_group(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: GroupPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update_group(tx, id, &patch, now_ms())?;
        Ok((group(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}
