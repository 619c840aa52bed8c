//! `/api/blocks`: time-of-day programming (a block airs at its
//! `start_time` on the days of its `days_of_week` mask) and the items each block cycles
//! through. The writes and their refusals are `ops::blocks`.

use std::sync::Arc;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::tx::{read, write_tx, SqlResult};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::blocks::{self as ops, BlockPatch, ItemPatch};
use crate::time::now_ms;

/// `/api/blocks`.
pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| block(conn, id)).await?)),
                Put | Patch => update(app, req, id).await,
                Delete => {
                    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        [id, "items"] => {
            router::only(req, Verb::Post)?;
            add_item(app, req, router::id(id)?).await
        }
        [id, "items", "reorder"] => {
            router::only(req, Verb::Post)?;
            reorder(app, req, router::id(id)?).await
        }
        [id, "items", item] => {
            let (id, item) = (router::id(id)?, router::id(item)?);
            by_verb!(req, {
                Put | Patch => update_item(app, req, id, item).await,
                Delete => {
                    let changes =
                        write_tx(app, move |tx| Ok(ops::remove_item(tx, id, item, now_ms())?))
                            .await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        _ => Err(router::not_found()),
    }
}

row_view! {
    /// A block's own fields (`BlockDoc` adds its items).
    pub struct BlockView {
        id: i64,
        name: String,
        group_id: Option<i64>,
        start_time: String,
        duration_minutes: i64,
        days_of_week: i64,
        stop_before_end: bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

row_view! {
    /// One item of a block, in position order.
    pub struct ItemView {
        id: i64,
        position: i64,
        collection_type: String,
        collection_id: i64,
        playback_order: String,
        include_in_guide: bool,
        disable_watermarks: bool,
    }
}

/// A block with its items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockDoc {
    #[serde(flatten)]
    block: BlockView,
    items: Vec<ItemView>,
}

fn block(conn: &Connection, id: i64) -> Result<BlockDoc, ApiError> {
    let block: BlockView =
        view::get(conn, "blocks", id)?.ok_or_else(|| ApiError::not_found("block not found"))?;
    let items = view::list::<ItemView>(
        conn,
        "block_items WHERE block_id = ?1 ORDER BY position, id",
        [id],
    )?;
    Ok(BlockDoc { block, items })
}

async fn list(app: &Arc<App>, req: &Req) -> ApiResult {
    let group = req.query_parsed::<i64>("group_id")?;
    let list = read(app, move |conn| {
        let ids: Vec<i64> = conn
            .prepare(
                "SELECT id FROM blocks WHERE ?1 IS NULL OR group_id = ?1
                 ORDER BY start_time, name, id",
            )
            .and_then(|mut stmt| stmt.query_map([group], |r| r.get(0))?.collect())
            .api()?;
        ids.into_iter()
            .map(|id| block(conn, id))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(body::ok_json(&list))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: BlockPatch = req
        .params_requiring(&["name", "start_time", "duration_minutes"])
        .await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &patch, now_ms())?;
        Ok((id, block(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: BlockPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        Ok((block(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// Answers the whole block, so a client sees the item in its place.
async fn add_item(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: ItemPatch = req.params_requiring(&["collection_id"]).await?;
    let (item, doc, changes) = write_tx(app, move |tx| {
        let (item, changes) = ops::add_item(tx, id, &patch, now_ms())?;
        Ok((item, block(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(item, &doc))
}

async fn update_item(app: &Arc<App>, req: &mut Req, id: i64, item: i64) -> ApiResult {
    let patch: ItemPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update_item(tx, id, item, &patch, now_ms())?;
        Ok((block(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

#[derive(Deserialize)]
struct ReorderInput {
    /// Any id not of the block (a negative one included) is refused by the op, 422.
    item_ids: Vec<i64>,
}

async fn reorder(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let input: ReorderInput = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::reorder(tx, id, &input.item_ids, now_ms())?;
        Ok((block(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}
