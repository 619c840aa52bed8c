//! `/api/schedules`: schedule CRUD and EXStreamTV's compact view of a schedule's items
//! (`SItem`). The full ErsatzTV view of the same rows is `api::schedule_items`. Any change
//! rebuilds the playouts that use the schedule, from now on.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::columns::{self, body_object, read, write_tx};
use super::schedule_items;
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    ids::{ChannelId, CollectionId, PlaylistId, ScheduleItemId},
    schedules::{ScheduleId, SchedulePatch},
};
use crate::time::now_ms;

row_view! {
    /// A schedule as `/api/schedules` sends it.
    pub struct ScheduleView {
        id: ScheduleId,
        name: String,
        channel_id: Option<ChannelId>,
        keep_multi_part_episodes_together: bool,
        treat_collections_as_shows: bool,
        shuffle_schedule_items: bool,
        random_start_point: bool,
        is_yaml_source: bool,
        playlist_id: Option<PlaylistId>,
        collection_id: Option<CollectionId>,
        start_time: Option<String>,
        end_time: Option<String>,
        repeat = "\"repeat\"": bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = ScheduleId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let doc = read(app, move |conn| rendered(conn, id)).await?;
                    Ok(body::ok_json(&doc))
                },
                Put | Patch => update(app, req, id).await,
                Delete => delete(app, id).await,
            })
        }
        [id, "items"] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => list_items(app, id).await,
                Post => create_item(app, req, id).await,
            })
        }
        [id, "items", item_id] => {
            router::only(req, Verb::Delete)?;
            let (id, item_id) = (router::id(id)?, router::id(item_id)?);
            schedule_items::delete_item(app, ScheduleItemId(item_id), Some(ScheduleId(id))).await?;
            Ok(body::no_content())
        }
        _ => Err(router::not_found()),
    }
}

async fn list(app: &Arc<App>, req: &Req) -> ApiResult {
    let channel_id = req.query_parsed::<i64>("channel_id")?;
    let list = read(app, move |conn| {
        Ok(view::list::<ScheduleView>(
            conn,
            "schedules WHERE ?1 IS NULL OR channel_id = ?1 ORDER BY id",
            [channel_id],
        )?)
    })
    .await?;
    Ok(body::ok_json(&list))
}

fn rendered(conn: &rusqlite::Connection, id: ScheduleId) -> Result<ScheduleView, ApiError> {
    view::get(conn, "schedules", id.0)?.ok_or_else(not_found)
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: SchedulePatch = req.params().await?;
    if !patch.name.is_given() {
        return Err(ApiError::invalid("name", "field required"));
    }
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::schedules::create(tx, &patch, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: ScheduleId) -> ApiResult {
    let patch: SchedulePatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::schedules::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: ScheduleId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::schedules::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

/// The schedule's items in the compact view.
async fn list_items(app: &Arc<App>, id: i64) -> ApiResult {
    let list = read(app, move |conn| {
        rendered(conn, ScheduleId(id))?;
        let items = schedule_items::list_json(conn, Some(id))?;
        Ok(items.iter().map(compact).collect::<Vec<_>>())
    })
    .await?;
    Ok(body::ok_json(&list))
}

/// Adds an item given in the compact view, whose names map onto the full ones.
async fn create_item(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let mut body = body_object(req).await?;
    columns::require(&body, &["collection_type", "collection_id"])?;
    let mode = body
        .remove("playback_mode")
        .unwrap_or_else(|| Value::from("flood"));
    body.insert("playout_mode".into(), mode);
    if let Some(minutes) = body.remove("duration_minutes") {
        let minutes = minutes
            .as_i64()
            .ok_or_else(|| ApiError::invalid("duration_minutes", "expected an integer"))?;
        body.insert("playout_duration_hours".into(), Value::from(minutes / 60));
        body.insert("playout_duration_minutes".into(), Value::from(minutes % 60));
    }
    if body.get("start_time").is_some_and(|v| !v.is_null()) {
        body.insert("start_type".into(), Value::from("fixed"));
    }
    body.insert("schedule_id".into(), Value::from(id));
    body.remove("index");
    let (item_id, item) = schedule_items::create_item(app, body).await?;
    Ok(body::created(item_id.0, &compact(&item)))
}

fn not_found() -> ApiError {
    ApiError::not_found("schedule not found")
}

/// EXStreamTV's `SItem` from the full `ScheduleItem`.
fn compact(item: &Value) -> Value {
    let mut out = Map::new();
    for field in [
        "id",
        "schedule_id",
        "collection_type",
        "collection_id",
        "custom_title",
        "multiple_count",
        "start_time",
        "playback_order",
        "guide_mode",
        "created_at",
        "updated_at",
    ] {
        out.insert(field.into(), item[field].clone());
    }
    out.insert("position".into(), item["index"].clone());
    out.insert("playback_mode".into(), item["playout_mode"].clone());
    let minutes = item["playout_duration_hours"].as_i64().unwrap_or(0) * 60
        + item["playout_duration_minutes"].as_i64().unwrap_or(0);
    out.insert(
        "duration_minutes".into(),
        if minutes > 0 {
            Value::from(minutes)
        } else {
            Value::Null
        },
    );
    Value::Object(out)
}
