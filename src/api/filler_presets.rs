//! `/api/filler-presets`: filler (pre-, mid-, post-roll, pad, tail, fallback) as presets with
//! items drawn from collections, playlists or single media. A preset's mode must carry its
//! parameter (count, duration, pad minutes). A change rebuilds, from now, the playouts whose
//! channel or schedule items use the preset (`ops::filler`); deleting a preset in use is 409.

use std::sync::Arc;

use rusqlite::types::Value as SqlValue;
use rusqlite::OptionalExtension;
use serde_json::{Map, Value};

use super::columns::{
    self, body_object, col, one_of, opt, read, write_tx, Column, Kind, SqlResult, ID,
};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{FillerContent, FillerModeKind, PlaybackOrder};
use crate::ops::filler::{self as ops, FillerItemPatch, FillerPresetPatch, SourcePatch};
use crate::ops::ids::{FillerItemId, FillerPresetId};
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
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = FillerPresetId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let doc = read(app, move |conn| preset_json(conn, id.0)).await?;
                    Ok(body::ok_json(&doc.ok_or_else(not_found)?))
                },
                Put | Patch => update(app, req, id).await,
                Delete => delete(app, id).await,
            })
        }
        [id, "items"] => {
            router::only(req, Verb::Post)?;
            add_item(app, req, FillerPresetId(router::id(id)?)).await
        }
        [id, "items", item_id] => {
            let id = FillerPresetId(router::id(id)?);
            let item_id = FillerItemId(router::id(item_id)?);
            by_verb!(req, {
                Put | Patch => update_item(app, req, id, item_id).await,
                Delete => delete_item(app, id, item_id).await,
            })
        }
        _ => Err(router::not_found()),
    }
}

async fn list(app: &Arc<App>) -> ApiResult {
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
    Ok(body::ok_json(&list))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let body = body_object(req).await?;
    columns::require(&body, &["name"])?;
    let patch = preset_patch(&body)?;
    let items = item_bodies(&body)?
        .iter()
        .map(item_patch)
        .collect::<Result<Vec<_>, _>>()?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &patch, &items, now_ms())?;
        let doc = preset_json(tx, id.0)?.ok_or_else(not_found)?;
        Ok((id, doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: FillerPresetId) -> ApiResult {
    let patch = preset_patch(&body_object(req).await?)?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        let doc = preset_json(tx, id.0)?.ok_or_else(not_found)?;
        Ok((doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: FillerPresetId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn add_item(app: &Arc<App>, req: &mut Req, id: FillerPresetId) -> ApiResult {
    let item = item_patch(&body_object(req).await?)?;
    let (item_id, doc, changes) = write_tx(app, move |tx| {
        let (item_id, changes) = ops::add_item(tx, id, &item)?;
        Ok((item_id, item_json(tx, item_id.0)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(item_id.0, &doc))
}

async fn update_item(
    app: &Arc<App>,
    req: &mut Req,
    id: FillerPresetId,
    item_id: FillerItemId,
) -> ApiResult {
    let item = item_patch(&body_object(req).await?)?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update_item(tx, id, item_id, &item)?;
        Ok((item_json(tx, item_id.0)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete_item(app: &Arc<App>, id: FillerPresetId, item_id: FillerItemId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete_item(tx, id, item_id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
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

/// A preset body's fields, validated once (422 naming the field).
fn preset_patch(body: &Map<String, Value>) -> Result<FillerPresetPatch, ApiError> {
    Ok(FillerPresetPatch {
        values: columns::by_sql(&columns::changes(COLUMNS, body)?),
    })
}

/// An item body's fields, validated once, with its source fields typed.
fn item_patch(body: &Map<String, Value>) -> Result<FillerItemPatch, ApiError> {
    let values = columns::changes(ITEM_COLUMNS, body)?;
    let sent = |field: &str| values.iter().find(|(c, _)| c.json == field).map(|(_, v)| v);
    let int = |field: &str| {
        sent(field).map(|v| match v {
            SqlValue::Integer(n) => Some(*n),
            _ => None,
        })
    };
    let collection_type = match sent("collection_type") {
        None => None,
        Some(SqlValue::Text(text)) => Some(Some(
            text.parse::<FillerContent>()
                .map_err(|err| ApiError::invalid("collection_type", err))?,
        )),
        Some(_) => Some(None),
    };
    let source = SourcePatch {
        collection_type,
        collection_id: int("collection_id"),
        media_item_id: int("media_item_id"),
    };
    Ok(FillerItemPatch {
        values: columns::by_sql(&values),
        source,
    })
}
