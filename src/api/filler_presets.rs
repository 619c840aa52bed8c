//! `/api/filler-presets`: filler (pre-, mid-, post-roll, pad, tail, fallback) as presets with
//! items drawn from collections, playlists or single media. A preset's mode must carry its
//! parameter (count, duration, pad minutes). Any change rebuilds the playouts from now (the
//! builder writes only the timelines that actually change); deleting a preset in use is 409.

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};

use super::columns::{
    self, body_object, col, one_of, opt, read, write_tx, Column, Kind, SqlResult, ID,
};
use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{FillerContent, FillerModeKind, PlaybackOrder};
use crate::time::now_ms;

pub const COLUMNS: &[Column] = &[
    col("name", Kind::Name),
    col("filler_mode", one_of::<FillerModeKind>()),
    opt("count", Kind::Int { min: 1, max: 1_000 }),
    opt(
        "duration_seconds",
        Kind::Int {
            min: 1,
            max: 86_400,
        },
    ),
    opt("pad_to_minutes", Kind::Int { min: 1, max: 1_440 }),
    col("playback_order", Kind::Enum(PlaybackOrder::FILLER)),
    col("allow_repeats", Kind::Bool),
];

pub const ITEM_COLUMNS: &[Column] = &[
    opt("collection_type", one_of::<FillerContent>()),
    opt("collection_id", ID),
    opt("media_item_id", ID),
    col("weight", Kind::Int { min: 1, max: 100 }),
    opt(
        "min_duration_seconds",
        Kind::Int {
            min: 0,
            max: 86_400,
        },
    ),
    opt(
        "max_duration_seconds",
        Kind::Int {
            min: 0,
            max: 86_400,
        },
    ),
];

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    let doc = match segs {
        [] => match req.verb() {
            Verb::Get => {
                let list = read(app, |conn| {
                    let mut stmt = conn
                        .prepare("SELECT id FROM filler_presets ORDER BY name, id")
                        .api()?;
                    let ids = stmt
                        .query_map([], |r| r.get::<_, i64>(0))
                        .api()?
                        .collect::<Result<Vec<_>, _>>()
                        .api()?;
                    ids.into_iter()
                        .map(|id| preset_json(conn, id)?.ok_or_else(not_found))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
                return Ok(body::ok_json(&list));
            }
            Verb::Post => {
                let body = body_object(req).await?;
                columns::require(&body, &["name"])?;
                let values = columns::changes(COLUMNS, &body)?;
                let items = item_bodies(&body)?;
                let (id, doc) = write_tx(app, move |tx| {
                    let id = columns::insert(tx, "filler_presets", &values, now_ms()).api()?;
                    for item in &items {
                        insert_item(tx, id, item)?;
                    }
                    let doc = preset_json(tx, id)?.ok_or_else(not_found)?;
                    check_mode(&doc)?;
                    Ok((id, doc))
                })
                .await?;
                return Ok(body::created(id, &doc));
            }
            _ => return Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        },
        [id] => {
            let id = router::id(id)?;
            match req.verb() {
                Verb::Get => {
                    let doc = read(app, move |conn| preset_json(conn, id)).await?;
                    return Ok(body::ok_json(&doc.ok_or_else(not_found)?));
                }
                Verb::Put | Verb::Patch => {
                    let body = body_object(req).await?;
                    let values = columns::changes(COLUMNS, &body)?;
                    write_tx(app, move |tx| {
                        if !columns::exists(tx, "filler_presets", id)? {
                            return Err(not_found());
                        }
                        columns::update(tx, "filler_presets", id, &values, now_ms()).api()?;
                        let doc = preset_json(tx, id)?.ok_or_else(not_found)?;
                        check_mode(&doc)?;
                        Ok(doc)
                    })
                    .await?
                }
                Verb::Delete => {
                    write_tx(app, move |tx| {
                        if !columns::exists(tx, "filler_presets", id)? {
                            return Err(not_found());
                        }
                        if let Some(user) = user_of(tx, id)? {
                            return Err(ApiError::conflict(format_args!(
                                "the preset is used by {user}"
                            )));
                        }
                        tx.execute("DELETE FROM filler_presets WHERE id = ?1", [id])
                            .api()?;
                        Ok(())
                    })
                    .await?;
                    return Ok(body::no_content());
                }
                _ => {
                    return Err(ApiError::method_not_allowed(
                        "GET, HEAD, PUT, PATCH, DELETE",
                    ))
                }
            }
        }
        [id, "items"] => {
            if req.verb() != Verb::Post {
                return Err(ApiError::method_not_allowed("POST"));
            }
            let id = router::id(id)?;
            let body = body_object(req).await?;
            let (item_id, item) = write_tx(app, move |tx| {
                if !columns::exists(tx, "filler_presets", id)? {
                    return Err(not_found());
                }
                let item_id = insert_item(tx, id, &body)?;
                Ok((item_id, item_json(tx, item_id)?))
            })
            .await?;
            crate::scheduler::rebuild_all(app).await?;
            return Ok(body::created(item_id, &item));
        }
        [id, "items", item_id] => {
            let (id, item_id) = (router::id(id)?, router::id(item_id)?);
            match req.verb() {
                Verb::Put | Verb::Patch => {
                    let body = body_object(req).await?;
                    let values = columns::changes(ITEM_COLUMNS, &body)?;
                    write_tx(app, move |tx| {
                        owned_item(tx, id, item_id)?;
                        check_item(tx, &merged(item_json(tx, item_id)?, &values))?;
                        for (column, value) in &values {
                            // `column.sql` is one of ITEM_COLUMNS: a fixed name.
                            tx.execute(
                                &format!(
                                    "UPDATE filler_items SET {} = ?2 WHERE id = ?1",
                                    column.sql
                                ),
                                params![item_id, value],
                            )
                            .api()?;
                        }
                        item_json(tx, item_id)
                    })
                    .await?
                }
                Verb::Delete => {
                    write_tx(app, move |tx| {
                        owned_item(tx, id, item_id)?;
                        tx.execute("DELETE FROM filler_items WHERE id = ?1", [item_id])
                            .api()?;
                        Ok(())
                    })
                    .await?;
                    crate::scheduler::rebuild_all(app).await?;
                    return Ok(body::no_content());
                }
                _ => return Err(ApiError::method_not_allowed("PUT, PATCH, DELETE")),
            }
        }
        _ => return Err(router::not_found()),
    };
    crate::scheduler::rebuild_all(app).await?;
    Ok(body::ok_json(&doc))
}

fn not_found() -> ApiError {
    ApiError::not_found("filler preset not found")
}

fn preset_json(conn: &rusqlite::Connection, id: i64) -> Result<Option<Value>, ApiError> {
    let sql = format!(
        "SELECT {} FROM filler_presets WHERE id = ?1",
        columns::select_list(COLUMNS)
    );
    let Some(mut doc) = conn
        .query_row(&sql, [id], |row| columns::to_json(COLUMNS, row))
        .optional()
        .api()?
    else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached("SELECT id FROM filler_items WHERE preset_id = ?1 ORDER BY id")
        .api()?;
    let ids = stmt
        .query_map([id], |r| r.get::<_, i64>(0))
        .api()?
        .collect::<Result<Vec<_>, _>>()
        .api()?;
    let items = ids
        .into_iter()
        .map(|item_id| item_json(conn, item_id))
        .collect::<Result<Vec<_>, _>>()?;
    doc.insert("items".into(), Value::Array(items));
    Ok(Some(Value::Object(doc)))
}

fn item_json(conn: &rusqlite::Connection, item_id: i64) -> Result<Value, ApiError> {
    let mut list = String::from("id, preset_id");
    for c in ITEM_COLUMNS {
        list.push_str(", ");
        list.push_str(c.sql);
    }
    conn.query_row(
        &format!("SELECT {list} FROM filler_items WHERE id = ?1"),
        [item_id],
        |row| {
            let mut out = Map::new();
            out.insert("id".into(), Value::from(row.get::<_, i64>(0)?));
            out.insert("preset_id".into(), Value::from(row.get::<_, i64>(1)?));
            for (i, c) in ITEM_COLUMNS.iter().enumerate() {
                let v: rusqlite::types::Value = row.get(i + 2)?;
                out.insert(
                    c.json.into(),
                    match v {
                        rusqlite::types::Value::Integer(n) => Value::from(n),
                        rusqlite::types::Value::Text(s) => Value::from(s),
                        _ => Value::Null,
                    },
                );
            }
            Ok(Value::Object(out))
        },
    )
    .optional()
    .api()?
    .ok_or_else(|| ApiError::not_found("filler item not found"))
}

fn owned_item(tx: &rusqlite::Connection, preset_id: i64, item_id: i64) -> Result<(), ApiError> {
    let owner: Option<i64> = tx
        .query_row(
            "SELECT preset_id FROM filler_items WHERE id = ?1",
            [item_id],
            |r| r.get(0),
        )
        .optional()
        .api()?;
    if owner != Some(preset_id) {
        return Err(ApiError::not_found("filler item not found"));
    }
    Ok(())
}

/// The `items` array of a preset body.
fn item_bodies(body: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, ApiError> {
    match body.get("items") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(m.clone()),
                _ => Err(ApiError::invalid(
                    &format!("items[{i}]"),
                    "expected an object",
                )),
            })
            .collect(),
        Some(_) => Err(ApiError::invalid("items", "expected an array")),
    }
}

fn insert_item(
    tx: &rusqlite::Connection,
    preset_id: i64,
    body: &Map<String, Value>,
) -> Result<i64, ApiError> {
    let mut values = columns::changes(ITEM_COLUMNS, body)?;
    if columns::int_value(&values, "collection_id").is_some()
        && columns::text_value(&values, "collection_type").is_none()
    {
        values.push((
            &ITEM_COLUMNS[0],
            rusqlite::types::Value::Text("collection".into()),
        ));
    }
    check_item(tx, &merged(Value::Object(Map::new()), &values))?;
    let mut names = vec!["preset_id"];
    names.extend(values.iter().map(|(c, _)| c.sql));
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let mut params: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Integer(preset_id)];
    params.extend(values.into_iter().map(|(_, v)| v));
    tx.execute(
        &format!(
            "INSERT INTO filler_items ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ),
        rusqlite::params_from_iter(params),
    )
    .api()?;
    Ok(tx.last_insert_rowid())
}

/// `item` with `values` applied (to check before writing: the foreign keys would refuse
/// an unknown media item with a bare constraint error).
fn merged(mut item: Value, values: &[(&'static Column, rusqlite::types::Value)]) -> Value {
    for (column, value) in values {
        item[column.json] = match value {
            rusqlite::types::Value::Integer(n) => Value::from(*n),
            rusqlite::types::Value::Text(t) => Value::from(t.as_str()),
            _ => Value::Null,
        };
    }
    item
}

/// One source per item, and it exists.
fn check_item(tx: &rusqlite::Connection, item: &Value) -> Result<(), ApiError> {
    match (
        item["media_item_id"].as_i64(),
        item["collection_id"].as_i64(),
    ) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "media_item_id",
            "give a media_item_id or a collection_id, not both",
        )),
        (None, None) => Err(ApiError::invalid(
            "collection_id",
            "a media_item_id or a collection_id is required",
        )),
        (Some(mid), None) => match columns::exists(tx, "media_items", mid)? {
            true => Ok(()),
            false => Err(ApiError::invalid(
                "media_item_id",
                format_args!("unknown media item {mid}"),
            )),
        },
        (None, Some(cid)) => {
            let (table, what) = match item["collection_type"].as_str() {
                Some("playlist") => ("playlists", "playlist"),
                _ => ("collections", "collection"),
            };
            match columns::exists(tx, table, cid)? {
                true => Ok(()),
                false => Err(ApiError::invalid(
                    "collection_id",
                    format_args!("unknown {what} {cid}"),
                )),
            }
        }
    }
}

fn check_mode(doc: &Value) -> Result<(), ApiError> {
    let needs = match doc["filler_mode"].as_str() {
        Some("count") => "count",
        Some("pad") => "pad_to_minutes",
        _ => "duration_seconds",
    };
    if doc[needs].is_null() {
        return Err(ApiError::invalid(
            needs,
            format_args!("required for filler_mode {}", doc["filler_mode"]),
        ));
    }
    Ok(())
}

/// Who uses the preset, for the 409: a channel or a schedule item.
fn user_of(tx: &rusqlite::Connection, id: i64) -> Result<Option<String>, ApiError> {
    let channel: Option<(String, String)> = tx
        .query_row(
            "SELECT number, name FROM channels
             WHERE ?1 IN (fallback_filler_id, pre_roll_filler_id, post_roll_filler_id)
             ORDER BY id LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .api()?;
    if let Some((number, name)) = channel {
        return Ok(Some(format!("channel {number} ({name})")));
    }
    let item: Option<(i64, String, i64)> = tx
        .query_row(
            "SELECT s.id, s.name, si.position FROM schedule_items si
             JOIN schedules s ON s.id = si.schedule_id
             WHERE ?1 IN (si.pre_roll_filler_id, si.mid_roll_filler_id, si.post_roll_filler_id,
                          si.tail_filler_id, si.fallback_filler_id)
             ORDER BY si.id LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .api()?;
    Ok(item.map(|(sid, name, position)| format!("item {position} of schedule {sid} ({name})")))
}
