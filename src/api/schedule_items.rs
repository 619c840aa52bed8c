//! `/api/schedule-items`: the full (ErsatzTV) view of schedule items: CRUD, insertion at an
//! index, moves, and dense renumbering of positions. References are checked (422) and the
//! mode's parameters must make sense together; every change rebuilds the schedule's
//! playouts from now on.

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};

use super::columns::{
    self, body_object, col, one_of, opt, read, write_tx, Column, Kind, SqlResult, ID,
};
use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{
    FixedStartBehavior, GuideMode, PlaybackOrder, SlotContent, SlotMode, StartType, TailMode,
    TextEnum,
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
        [] => match req.verb() {
            Verb::Get => {
                let schedule_id = req.query_parsed::<i64>("schedule_id")?;
                let list = read(app, move |conn| list_json(conn, schedule_id)).await?;
                Ok(body::ok_json(&list))
            }
            Verb::Post => {
                let body = body_object(req).await?;
                columns::require(&body, &["schedule_id"])?;
                let (id, item) = create_item(app, body).await?;
                Ok(body::created(id, &item))
            }
            _ => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        },
        [id] => {
            let id = router::id(id)?;
            match req.verb() {
                Verb::Get => {
                    let item = read(app, move |conn| get_json(conn, id)).await?;
                    Ok(body::ok_json(&item.ok_or_else(not_found)?))
                }
                Verb::Put | Verb::Patch => {
                    let mut body = body_object(req).await?;
                    // Moving between schedules or positions has its own routes.
                    body.remove("schedule_id");
                    body.remove("index");
                    let values = columns::changes(COLUMNS, &body)?;
                    let (item, schedule_id) = write_tx(app, move |tx| {
                        let schedule_id = schedule_of(tx, id)?;
                        check_refs(tx, &values)?;
                        columns::update(tx, "schedule_items", id, &values, now_ms()).api()?;
                        let item = get_json(tx, id)?.ok_or_else(not_found)?;
                        check_consistent(&item)?;
                        check_target(tx, &item)?;
                        Ok((item, schedule_id))
                    })
                    .await?;
                    crate::scheduler::schedule_changed(app, schedule_id).await?;
                    Ok(body::ok_json(&item))
                }
                Verb::Delete => {
                    delete_item(app, id, None).await?;
                    Ok(body::no_content())
                }
                _ => Err(ApiError::method_not_allowed(
                    "GET, HEAD, PUT, PATCH, DELETE",
                )),
            }
        }
        [id, "move"] => {
            if req.verb() != Verb::Post {
                return Err(ApiError::method_not_allowed("POST"));
            }
            let id = router::id(id)?;
            let body = body_object(req).await?;
            let up = match body.get("direction").and_then(Value::as_str) {
                Some("up") => true,
                Some("down") => false,
                _ => {
                    return Err(ApiError::bad_request(
                        "query parameter direction: must be up or down",
                    ))
                }
            };
            let (item, schedule_id) = write_tx(app, move |tx| {
                let schedule_id = schedule_of(tx, id)?;
                renumber(tx, schedule_id)?;
                let ids = ids_in_order(tx, schedule_id)?;
                let at = ids.iter().position(|x| *x == id).ok_or_else(not_found)?;
                let other = match (up, at) {
                    (true, 0) => None,
                    (true, _) => Some(at - 1),
                    (false, _) => (at + 1 < ids.len()).then_some(at + 1),
                };
                let Some(other) = other else {
                    return Err(ApiError::conflict(format_args!(
                        "the item is already at the {} of its schedule",
                        if up { "top" } else { "bottom" }
                    )));
                };
                let now = now_ms();
                tx.execute(
                    "UPDATE schedule_items SET position = ?2, updated_at_ms = ?3 WHERE id = ?1",
                    params![id, other as i64, now],
                )
                .api()?;
                tx.execute(
                    "UPDATE schedule_items SET position = ?2, updated_at_ms = ?3 WHERE id = ?1",
                    params![ids[other], at as i64, now],
                )
                .api()?;
                Ok((get_json(tx, id)?.ok_or_else(not_found)?, schedule_id))
            })
            .await?;
            crate::scheduler::schedule_changed(app, schedule_id).await?;
            Ok(body::ok_json(&item))
        }
        _ => Err(router::not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("schedule item not found")
}

fn schedule_of(tx: &rusqlite::Connection, id: i64) -> Result<i64, ApiError> {
    tx.query_row(
        "SELECT schedule_id FROM schedule_items WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
    .api()?
    .ok_or_else(not_found)
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

fn ids_in_order(tx: &rusqlite::Connection, schedule_id: i64) -> Result<Vec<i64>, ApiError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT id FROM schedule_items WHERE schedule_id = ?1 ORDER BY position, id",
        )
        .api()?;
    let rows = stmt.query_map([schedule_id], |r| r.get(0)).api()?;
    rows.collect::<Result<Vec<i64>, _>>().api()
}

/// Positions become 0..n-1 in their current order.
fn renumber(tx: &rusqlite::Connection, schedule_id: i64) -> Result<(), ApiError> {
    for (position, id) in ids_in_order(tx, schedule_id)?.into_iter().enumerate() {
        tx.execute(
            "UPDATE schedule_items SET position = ?2 WHERE id = ?1 AND position != ?2",
            params![id, position as i64],
        )
        .api()?;
    }
    Ok(())
}

/// 422 unless each id the item refers to exists (in the table its `collection_type` names).
fn check_refs(
    tx: &rusqlite::Connection,
    values: &[(&'static Column, rusqlite::types::Value)],
) -> Result<(), ApiError> {
    columns::check_ref(tx, values, "schedule_id", "schedules", "schedule")?;
    columns::check_ref(tx, values, "media_item_id", "media_items", "media item")?;
    columns::check_ref(tx, values, "playlist_id", "playlists", "playlist")?;
    for role in [
        "pre_roll_filler_id",
        "mid_roll_filler_id",
        "post_roll_filler_id",
        "tail_filler_id",
        "fallback_filler_id",
    ] {
        columns::check_ref(tx, values, role, "filler_presets", "filler preset")?;
    }
    columns::check_ref(
        tx,
        values,
        "tail_filler_collection_id",
        "collections",
        "collection",
    )
}

/// The item's content and mode, checked on the row as stored (after a partial update).
fn check_consistent(item: &Value) -> Result<(), ApiError> {
    let kind: SlotContent = stored(item, "collection_type")?;
    let id_of = |field: &str| item[field].as_i64();
    let target = match kind {
        SlotContent::MultiCollection => {
            ("collection_id", id_of("collection_id"), "multi_collections")
        }
        SlotContent::Playlist => (
            "playlist_id",
            id_of("playlist_id").or(id_of("collection_id")),
            "playlists",
        ),
        SlotContent::MediaItem => (
            "media_item_id",
            id_of("media_item_id").or(id_of("collection_id")),
            "media_items",
        ),
        SlotContent::Collection
        | SlotContent::TelevisionShow
        | SlotContent::TelevisionSeason
        | SlotContent::Artist
        | SlotContent::SmartCollection => ("collection_id", id_of("collection_id"), "collections"),
    };
    if target.1.is_none() {
        return Err(ApiError::invalid(
            target.0,
            format_args!("required for collection_type {kind}"),
        ));
    }
    match stored::<SlotMode>(item, "playout_mode")? {
        SlotMode::Multiple if item["multiple_count"].is_null() => {
            return Err(ApiError::invalid(
                "multiple_count",
                "required for playout_mode multiple",
            ))
        }
        SlotMode::Duration
            if item["playout_duration_hours"].as_i64().unwrap_or(0) == 0
                && item["playout_duration_minutes"].as_i64().unwrap_or(0) == 0 =>
        {
            return Err(ApiError::invalid(
                "playout_duration_minutes",
                "playout_mode duration needs a duration above zero",
            ))
        }
        _ => {}
    }
    if stored::<StartType>(item, "start_type")? == StartType::Fixed && item["start_time"].is_null()
    {
        return Err(ApiError::invalid(
            "start_time",
            "required for start_type fixed",
        ));
    }
    Ok(())
}

/// `field` of a stored item (just written through `COLUMNS`, so canonical): a value put
/// there some other way is a 422 naming the field, never a guess.
fn stored<T: TextEnum>(item: &Value, field: &str) -> Result<T, ApiError> {
    item[field]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|err| ApiError::invalid(field, err))
}

/// The referenced content exists (run after `check_consistent`).
fn check_target(tx: &rusqlite::Connection, item: &Value) -> Result<(), ApiError> {
    let (field, id, table, what) = match stored::<SlotContent>(item, "collection_type")? {
        SlotContent::MultiCollection => (
            "collection_id",
            item["collection_id"].as_i64(),
            "multi_collections",
            "multi-collection",
        ),
        SlotContent::Playlist => (
            "playlist_id",
            item["playlist_id"]
                .as_i64()
                .or(item["collection_id"].as_i64()),
            "playlists",
            "playlist",
        ),
        SlotContent::MediaItem => (
            "media_item_id",
            item["media_item_id"]
                .as_i64()
                .or(item["collection_id"].as_i64()),
            "media_items",
            "media item",
        ),
        SlotContent::Collection
        | SlotContent::TelevisionShow
        | SlotContent::TelevisionSeason
        | SlotContent::Artist
        | SlotContent::SmartCollection => (
            "collection_id",
            item["collection_id"].as_i64(),
            "collections",
            "collection",
        ),
    };
    match id {
        Some(id) if !columns::exists(tx, table, id)? => Err(ApiError::invalid(
            field,
            format_args!("unknown {what} {id}"),
        )),
        _ => Ok(()),
    }
}

/// Appends the item to its schedule, or inserts it at `index` (later items move down).
/// Inserts an item; returns its id and its document.
pub async fn create_item(
    app: &Arc<App>,
    body: Map<String, Value>,
) -> Result<(i64, Value), ApiError> {
    let values = columns::changes(COLUMNS, &body)?;
    let schedule_id = columns::int_value(&values, "schedule_id")
        .ok_or_else(|| ApiError::invalid("schedule_id", "field required"))?;
    let index = columns::int_value(&values, "index");
    let (id, item) = write_tx(app, move |tx| {
        if !columns::exists(tx, "schedules", schedule_id)? {
            return Err(ApiError::not_found("schedule not found"));
        }
        check_refs(tx, &values)?;
        renumber(tx, schedule_id)?;
        let n: i64 = tx
            .query_row(
                "SELECT count(*) FROM schedule_items WHERE schedule_id = ?1",
                [schedule_id],
                |r| r.get(0),
            )
            .api()?;
        let position = index.unwrap_or(n).min(n);
        tx.execute(
            "UPDATE schedule_items SET position = position + 1 WHERE schedule_id = ?1 AND position >= ?2",
            params![schedule_id, position],
        )
        .api()?;
        let mut values: Vec<_> = values.into_iter().filter(|(c, _)| c.json != "index").collect();
        values.push((&COLUMNS[1], rusqlite::types::Value::Integer(position)));
        let id = columns::insert(tx, "schedule_items", &values, now_ms()).api()?;
        let item = get_json(tx, id)?.ok_or_else(not_found)?;
        check_consistent(&item)?;
        check_target(tx, &item)?;
        Ok((id, item))
    })
    .await?;
    crate::scheduler::schedule_changed(app, schedule_id).await?;
    Ok((id, item))
}

/// Deletes an item (of `schedule_id` when given) and renumbers the rest.
pub async fn delete_item(
    app: &Arc<App>,
    id: i64,
    schedule_id: Option<i64>,
) -> Result<(), ApiError> {
    let schedule_id = write_tx(app, move |tx| {
        let owner = schedule_of(tx, id)?;
        if schedule_id.is_some_and(|s| s != owner) {
            return Err(not_found());
        }
        tx.execute("DELETE FROM schedule_items WHERE id = ?1", [id])
            .api()?;
        renumber(tx, owner)?;
        Ok(owner)
    })
    .await?;
    crate::scheduler::schedule_changed(app, schedule_id).await?;
    Ok(())
}
