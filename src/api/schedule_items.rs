//! `/api/schedule-items`: the full (ErsatzTV) view of schedule items: CRUD, insertion at an
//! index, moves, and dense renumbering of positions. References are checked (422) and the
//! mode's parameters must make sense together; every change rebuilds the schedule's
//! playouts from now on.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::columns::{
    self, body_object, col, one_of, opt, read, write_tx, Column, Kind, SqlResult, ID,
};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{
    FixedStartBehavior, GuideMode, PlaybackOrder, SlotContent, SlotMode, StartType, TailMode,
};
use crate::ops::{
    self,
    ids::{CollectionId, FillerPresetId, MediaId, PlaylistId, ScheduleId},
    schedule_items::{Direction, NewScheduleItem, ScheduleItemId, ScheduleItemPatch},
};
use crate::time::now_ms;

pub const COLUMNS: &[Column] = &[
    col("schedule_id", ID),
    Column {
        json: "index",
        sql: "position",
        kind: Kind::Int {
            min: 0,
            max: 1_000_000,
        },
        nullable: false,
    },
    col("start_type", one_of::<StartType>()),
    opt("start_time", Kind::Time),
    opt("fixed_start_time_behavior", one_of::<FixedStartBehavior>()),
    col("collection_type", one_of::<SlotContent>()),
    opt("collection_id", ID),
    opt("media_item_id", ID),
    opt("playlist_id", ID),
    opt("search_title", Kind::Text),
    opt("search_query", Kind::Text),
    opt("plex_show_key", Kind::Text),
    opt("plex_season_key", Kind::Text),
    opt("plex_artist_key", Kind::Text),
    col("playback_order", one_of::<PlaybackOrder>()),
    col("playout_mode", one_of::<SlotMode>()),
    opt("multiple_mode", Kind::Text),
    opt(
        "multiple_count",
        Kind::Int {
            min: 1,
            max: 10_000,
        },
    ),
    col(
        "playout_duration_hours",
        Kind::Int {
            min: 0,
            max: 24 * 7,
        },
    ),
    col("playout_duration_minutes", Kind::Int { min: 0, max: 59 }),
    opt("fill_with_group_mode", Kind::Text),
    opt("tail_mode", one_of::<TailMode>()),
    opt("tail_filler_collection_id", ID),
    opt("discard_to_fill_attempts", Kind::Int { min: 0, max: 100 }),
    opt("custom_title", Kind::Text),
    col("guide_mode", one_of::<GuideMode>()),
    opt("pre_roll_filler_id", ID),
    opt("mid_roll_filler_id", ID),
    opt("post_roll_filler_id", ID),
    opt("tail_filler_id", ID),
    opt("fallback_filler_id", ID),
    opt("watermark_id", ID),
    opt("preferred_audio_language", Kind::Text),
    opt("preferred_audio_title", Kind::Text),
    opt("preferred_subtitle_language", Kind::Text),
    opt("subtitle_mode", Kind::Text),
];

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => {
                let schedule_id = req.query_parsed::<i64>("schedule_id")?;
                let list = read(app, move |conn| list_json(conn, schedule_id)).await?;
                Ok(body::ok_json(&list))
            },
            Post => {
                let body = body_object(req).await?;
                columns::require(&body, &["schedule_id"])?;
                let (id, item) = create_item(app, body).await?;
                Ok(body::created(id.0, &item))
            },
        }),
        [id] => {
            let id = ScheduleItemId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let item = read(app, move |conn| get_json(conn, id.0)).await?;
                    Ok(body::ok_json(&item.ok_or_else(not_found)?))
                },
                Put | Patch => update(app, req, id).await,
                Delete => {
                    delete_item(app, id, None).await?;
                    Ok(body::no_content())
                },
            })
        }
        [id, "move"] => {
            router::only(req, Verb::Post)?;
            move_item(app, req, ScheduleItemId(router::id(id)?)).await
        }
        _ => Err(router::not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("schedule item not found")
}

/// The body's fields, validated once (422 naming the field), as the operations take them.
fn patch_from(body: &Map<String, Value>) -> Result<ScheduleItemPatch, ApiError> {
    Ok(patch_of(&columns::changes(COLUMNS, body)?))
}

/// The validated fields as the operations take them; the position (`index`) is not among
/// them: where an item goes is the operation's to decide.
fn patch_of(values: &[(&'static Column, rusqlite::types::Value)]) -> ScheduleItemPatch {
    let filler_presets = FILLER_FIELDS
        .iter()
        .filter_map(|field| {
            columns::int_value(values, field).map(|id| (*field, FillerPresetId(id)))
        })
        .collect();
    let mut by_sql = columns::by_sql(values);
    by_sql.retain(|(sql, _)| *sql != "position");
    ScheduleItemPatch {
        media_item_id: columns::int_value(values, "media_item_id").map(MediaId),
        playlist_id: columns::int_value(values, "playlist_id").map(PlaylistId),
        filler_presets,
        tail_filler_collection_id: columns::int_value(values, "tail_filler_collection_id")
            .map(CollectionId),
        values: by_sql,
    }
}

/// The filler slots of an item, in the order their references are checked.
const FILLER_FIELDS: [&str; 5] = [
    "pre_roll_filler_id",
    "mid_roll_filler_id",
    "post_roll_filler_id",
    "tail_filler_id",
    "fallback_filler_id",
];

fn rendered(tx: &rusqlite::Connection, id: ScheduleItemId) -> Result<Value, ApiError> {
    get_json(tx, id.0)?.ok_or_else(not_found)
}

async fn update(app: &Arc<App>, req: &mut Req, id: ScheduleItemId) -> ApiResult {
    let mut body = body_object(req).await?;
    // Moving between schedules or positions has its own routes.
    body.remove("schedule_id");
    body.remove("index");
    let patch = patch_from(&body)?;
    let (item, changes) = write_tx(app, move |tx| {
        let changes = ops::schedule_items::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&item))
}

async fn move_item(app: &Arc<App>, req: &mut Req, id: ScheduleItemId) -> ApiResult {
    let body = body_object(req).await?;
    let direction = match body.get("direction").and_then(Value::as_str) {
        Some("up") => Direction::Up,
        Some("down") => Direction::Down,
        _ => {
            return Err(ApiError::bad_request(
                "query parameter direction: must be up or down",
            ))
        }
    };
    let (item, changes) = write_tx(app, move |tx| {
        let changes = ops::schedule_items::move_item(tx, id, direction, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&item))
}

pub fn get_json(conn: &rusqlite::Connection, id: i64) -> Result<Option<Value>, ApiError> {
    columns::get(conn, "schedule_items", COLUMNS, id)
}

/// Items by schedule and position (one schedule's, or every one's).
pub fn list_json(
    conn: &rusqlite::Connection,
    schedule_id: Option<i64>,
) -> Result<Vec<Value>, ApiError> {
    let sql = format!(
        "SELECT {} FROM schedule_items WHERE ?1 IS NULL OR schedule_id = ?1
         ORDER BY schedule_id, position, id",
        columns::select_list(COLUMNS)
    );
    let mut stmt = conn.prepare(&sql).api()?;
    let rows = stmt
        .query_map([schedule_id], |row| {
            columns::to_json(COLUMNS, row).map(Value::Object)
        })
        .api()?;
    rows.collect::<Result<Vec<_>, _>>().api()
}

/// Appends the item to its schedule, or inserts it at `index` (later items move down);
/// returns its id and its document.
pub async fn create_item(
    app: &Arc<App>,
    body: Map<String, Value>,
) -> Result<(ScheduleItemId, Value), ApiError> {
    let values = columns::changes(COLUMNS, &body)?;
    let schedule_id = columns::int_value(&values, "schedule_id")
        .map(ScheduleId)
        .ok_or_else(|| ApiError::invalid("schedule_id", "field required"))?;
    let new = NewScheduleItem {
        schedule_id,
        index: columns::int_value(&values, "index"),
        patch: patch_of(&values),
    };
    let (id, item, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::schedule_items::create(tx, &new, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok((id, item))
}

/// Deletes an item (of `schedule_id` when given) and renumbers the rest.
pub async fn delete_item(
    app: &Arc<App>,
    id: ScheduleItemId,
    schedule_id: Option<ScheduleId>,
) -> Result<(), ApiError> {
    let changes = write_tx(app, move |tx| {
        Ok(ops::schedule_items::delete(tx, id, schedule_id)?)
    })
    .await?;
    app.apply(changes).await;
    Ok(())
}
