//! `/api/schedules`: schedule CRUD and EXStreamTV's compact view of a schedule's items
//! (`SItem`). The full ErsatzTV view of the same rows is `api::schedule_items`. Any change
//! rebuilds the playouts that use the schedule, from now on.

use std::sync::Arc;

use rusqlite::OptionalExtension;
use serde_json::{Map, Value};

use super::columns::{self, body_object, col, opt, read, write_tx, Column, Kind, SqlResult, ID};
use super::schedule_items;
use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::time::now_ms;

pub const COLUMNS: &[Column] = &[
    col("name", Kind::Name),
    opt("channel_id", ID),
    col("keep_multi_part_episodes_together", Kind::Bool),
    col("treat_collections_as_shows", Kind::Bool),
    col("shuffle_schedule_items", Kind::Bool),
    col("random_start_point", Kind::Bool),
    col("is_yaml_source", Kind::Bool),
    opt("playlist_id", ID),
    opt("collection_id", ID),
    opt("start_time", Kind::Text),
    opt("end_time", Kind::Text),
    Column {
        json: "repeat",
        sql: "\"repeat\"",
        kind: Kind::Bool,
        nullable: false,
    },
];

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => match req.verb() {
            Verb::Get => {
                let channel_id = req.query_parsed::<i64>("channel_id")?;
                let list = read(app, move |conn| {
                    let sql = format!(
                        "SELECT {} FROM schedules WHERE ?1 IS NULL OR channel_id = ?1 ORDER BY id",
                        columns::select_list(COLUMNS)
                    );
                    let mut stmt = conn.prepare(&sql).api()?;
                    let rows = stmt
                        .query_map([channel_id], |row| {
                            columns::to_json(COLUMNS, row).map(Value::Object)
                        })
                        .api()?;
                    rows.collect::<Result<Vec<_>, _>>().api()
                })
                .await?;
                Ok(body::ok_json(&list))
            }
            Verb::Post => {
                let body = body_object(req).await?;
                columns::require(&body, &["name"])?;
                let values = columns::changes(COLUMNS, &body)?;
                let (id, doc) = write_tx(app, move |tx| {
                    check_refs(tx, &values)?;
                    let id = columns::insert(tx, "schedules", &values, now_ms()).api()?;
                    Ok((id, get_json(tx, id)?.ok_or_else(not_found)?))
                })
                .await?;
                Ok(body::created(id, &doc))
            }
            _ => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        },
        [id] => {
            let id = router::id(id)?;
            match req.verb() {
                Verb::Get => {
                    let doc = read(app, move |conn| get_json(conn, id)).await?;
                    Ok(body::ok_json(&doc.ok_or_else(not_found)?))
                }
                Verb::Put | Verb::Patch => {
                    let body = body_object(req).await?;
                    let values = columns::changes(COLUMNS, &body)?;
                    let doc = write_tx(app, move |tx| {
                        if get_json(tx, id)?.is_none() {
                            return Err(not_found());
                        }
                        check_refs(tx, &values)?;
                        columns::update(tx, "schedules", id, &values, now_ms()).api()?;
                        get_json(tx, id)?.ok_or_else(not_found)
                    })
                    .await?;
                    crate::scheduler::schedule_changed(app, id).await?;
                    Ok(body::ok_json(&doc))
                }
                Verb::Delete => {
                    write_tx(app, move |tx| {
                        if get_json(tx, id)?.is_none() {
                            return Err(not_found());
                        }
                        let user: Option<(i64, String, String)> = tx
                            .query_row(
                                "SELECT p.id, c.number, c.name FROM playouts p
                                 JOIN channels c ON c.id = p.channel_id
                                 WHERE p.program_schedule_id = ?1 ORDER BY p.id LIMIT 1",
                                [id],
                                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                            )
                            .optional()
                            .api()?;
                        if let Some((playout, number, name)) = user {
                            return Err(ApiError::conflict(format_args!(
                                "the schedule is used by playout {playout} of channel {number} ({name})"
                            )));
                        }
                        tx.execute("DELETE FROM schedules WHERE id = ?1", [id]).api()?;
                        Ok(())
                    })
                    .await?;
                    Ok(body::no_content())
                }
                _ => Err(ApiError::method_not_allowed(
                    "GET, HEAD, PUT, PATCH, DELETE",
                )),
            }
        }
        [id, "items"] => {
            let id = router::id(id)?;
            match req.verb() {
                Verb::Get => {
                    let list = read(app, move |conn| {
                        if get_json(conn, id)?.is_none() {
                            return Err(not_found());
                        }
                        let items = schedule_items::list_json(conn, Some(id))?;
                        Ok(items.iter().map(compact).collect::<Vec<_>>())
                    })
                    .await?;
                    Ok(body::ok_json(&list))
                }
                Verb::Post => {
                    let mut body = body_object(req).await?;
                    columns::require(&body, &["collection_type", "collection_id"])?;
                    // The compact names map onto the full ones.
                    let mode = body
                        .remove("playback_mode")
                        .unwrap_or_else(|| Value::from("flood"));
                    body.insert("playout_mode".into(), mode);
                    if let Some(minutes) = body.remove("duration_minutes") {
                        let minutes = minutes.as_i64().ok_or_else(|| {
                            ApiError::invalid("duration_minutes", "expected an integer")
                        })?;
                        body.insert("playout_duration_hours".into(), Value::from(minutes / 60));
                        body.insert("playout_duration_minutes".into(), Value::from(minutes % 60));
                    }
                    if body.get("start_time").is_some_and(|v| !v.is_null()) {
                        body.insert("start_type".into(), Value::from("fixed"));
                    }
                    body.insert("schedule_id".into(), Value::from(id));
                    body.remove("index");
                    let (item_id, item) = schedule_items::create_item(app, body).await?;
                    Ok(body::created(item_id, &compact(&item)))
                }
                _ => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
            }
        }
        [id, "items", item_id] => {
            if req.verb() != Verb::Delete {
                return Err(ApiError::method_not_allowed("DELETE"));
            }
            let (id, item_id) = (router::id(id)?, router::id(item_id)?);
            schedule_items::delete_item(app, item_id, Some(id)).await?;
            Ok(body::no_content())
        }
        _ => Err(router::not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("schedule not found")
}

pub fn get_json(conn: &rusqlite::Connection, id: i64) -> Result<Option<Value>, ApiError> {
    columns::get(conn, "schedules", COLUMNS, id)
}

fn check_refs(
    tx: &rusqlite::Connection,
    values: &[(&'static Column, rusqlite::types::Value)],
) -> Result<(), ApiError> {
    columns::check_ref(tx, values, "channel_id", "channels", "channel")?;
    columns::check_ref(tx, values, "playlist_id", "playlists", "playlist")?;
    columns::check_ref(tx, values, "collection_id", "collections", "collection")
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
