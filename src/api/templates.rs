//! `/api/templates`: a day laid out from blocks (each item places a block at its own
//! `"HH:MM"`), and `…/{id}/apply/{channel_id}`, which lays the channel's playout out with it
//! on one day of the week or every day. The writes and their refusals are `ops::templates`.

use std::sync::Arc;

use rusqlite::Connection;
use serde::Serialize;

use super::tx::{read, write_tx, SqlResult};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::ids::ChannelId;
use crate::ops::templates::{self as ops, ApplyPatch, ItemPatch, TemplatePatch};
use crate::time::now_ms;

/// `/api/templates`.
pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| template(conn, id)).await?)),
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
        [id, "apply", channel] => {
            router::only(req, Verb::Post)?;
            let channel = ChannelId(router::id(channel)?);
            apply(app, req, router::id(id)?, channel).await
        }
        _ => Err(router::not_found()),
    }
}

row_view! {
    /// A template's own fields (`TemplateDoc` adds its items).
    pub struct TemplateView {
        id: i64,
        name: String,
        group_id: Option<i64>,
        is_enabled: bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

row_view! {
    /// One item of a template, in start-time order, with its block's name and length.
    pub struct ItemView {
        id = "ti.id": i64,
        start_time = "ti.start_time": String,
        block_id = "ti.block_id": i64,
        block_name = "b.name": String,
        duration_minutes = "b.duration_minutes": i64,
    }
}

/// A template with its items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateDoc {
    #[serde(flatten)]
    template: TemplateView,
    items: Vec<ItemView>,
}

fn template(conn: &Connection, id: i64) -> Result<TemplateDoc, ApiError> {
    let template: TemplateView = view::get(conn, "templates", id)?
        .ok_or_else(|| ApiError::not_found("template not found"))?;
    let items = view::list::<ItemView>(
        conn,
        "template_items ti JOIN blocks b ON b.id = ti.block_id
         WHERE ti.template_id = ?1 ORDER BY ti.start_time, ti.id",
        [id],
    )?;
    Ok(TemplateDoc { template, items })
}

async fn list(app: &Arc<App>, req: &Req) -> ApiResult {
    let group = req.query_parsed::<i64>("group_id")?;
    let list = read(app, move |conn| {
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM templates WHERE ?1 IS NULL OR group_id = ?1 ORDER BY name, id")
            .and_then(|mut stmt| stmt.query_map([group], |r| r.get(0))?.collect())
            .api()?;
        ids.into_iter()
            .map(|id| template(conn, id))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(body::ok_json(&list))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: TemplatePatch = req.params_requiring(&["name"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &patch, now_ms())?;
        Ok((id, template(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: TemplatePatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        Ok((template(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// Answers the whole template, so a client sees the item in its place in the day.
async fn add_item(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: ItemPatch = req.params_requiring(&["block_id"]).await?;
    let (item, doc, changes) = write_tx(app, move |tx| {
        let (item, changes) = ops::add_item(tx, id, &patch, now_ms())?;
        Ok((item, template(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(item, &doc))
}

async fn update_item(app: &Arc<App>, req: &mut Req, id: i64, item: i64) -> ApiResult {
    let patch: ItemPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update_item(tx, id, item, &patch, now_ms())?;
        Ok((template(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// `{message, playout_id, template_id, channel_id, day_of_week}`; the playout is rebuilt
/// before the answer, so the guide already shows the template's day.
async fn apply(app: &Arc<App>, req: &mut Req, id: i64, channel: ChannelId) -> ApiResult {
    let patch: ApplyPatch = req.params().await?;
    let seed = super::playouts::random_seed()?;
    let (applied, changes) = write_tx(app, move |tx| {
        Ok(ops::apply(tx, id, channel, &patch, seed, now_ms())?)
    })
    .await?;
    app.apply(changes).await;
    let day = match applied.day_of_week {
        Some(day) => format!("day {day}"),
        None => "every day".to_string(),
    };
    Ok(body::ok_json(&serde_json::json!({
        "message": format!("template {id} applied to channel {channel} for {day}"),
        "playout_id": applied.playout_id,
        "template_id": id,
        "channel_id": channel,
        "day_of_week": applied.day_of_week,
    })))
}
