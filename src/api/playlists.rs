//! `/api/playlists`: ordered lists whose entries are media items or whole collections.
//! Entries keep their order in `position`; moving one swaps it with its neighbour.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

use super::collections::{check_name, lenient_string};
use super::columns::{self, Removal};
use crate::app::App;
use crate::db::DbError;
use crate::http::{body, router, ApiError, ApiResult, Req};
use router::Verb;

/// Entries in one playlist at most: bounds a playlist response and the order rewrite.
const MAX_PLAYLIST_ENTRIES: i64 = 10_000;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match (req.verb(), segs) {
        (Verb::Get, []) => list(app).await,
        (Verb::Post, []) => create(app, req).await,
        (_, []) => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        (Verb::Get, [id]) => get(app, router::id(id)?).await,
        (Verb::Put, [id]) => update(app, req, router::id(id)?).await,
        (Verb::Delete, [id]) => delete(app, router::id(id)?).await,
        (_, [id]) => {
            router::id(id)?;
            Err(ApiError::method_not_allowed("GET, HEAD, PUT, DELETE"))
        }
        (Verb::Post, [id, "items", media_id]) => {
            add(app, router::id(id)?, Entry::Media(router::id(media_id)?)).await
        }
        (Verb::Delete, [id, "items", item_id]) => {
            remove(app, router::id(id)?, router::id(item_id)?).await
        }
        (_, [_, "items", _]) => Err(ApiError::method_not_allowed("POST, DELETE")),
        // Ours: a whole collection as one entry.
        (Verb::Post, [id, "collections", cid]) => {
            add(app, router::id(id)?, Entry::Collection(router::id(cid)?)).await
        }
        (_, [_, "collections", _]) => Err(ApiError::method_not_allowed("POST")),
        (Verb::Post, [id, "items", item_id, "move"]) => {
            let (id, item_id) = (router::id(id)?, router::id(item_id)?);
            move_entry(app, req, id, item_id).await
        }
        (_, [_, "items", _, "move"]) => Err(ApiError::method_not_allowed("POST")),
        _ => Err(router::not_found()),
    }
}

#[derive(Clone, Copy)]
enum Entry {
    Media(i64),
    Collection(i64),
}

fn playlist_json(conn: &Connection, id: i64) -> Result<Option<serde_json::Value>, DbError> {
    let head = conn
        .prepare_cached(
            "SELECT id, name, description, channel_id, created_at_ms, updated_at_ms
             FROM playlists WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "name": r.get::<_, String>(1)?,
                "description": r.get::<_, Option<String>>(2)?,
                "channel_id": r.get::<_, Option<i64>>(3)?,
                "created_at": crate::time::rfc3339(r.get(4)?),
                "updated_at": crate::time::rfc3339(r.get(5)?),
            }))
        })
        .optional()?;
    let Some(mut head) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT pi.id, pi.media_item_id, pi.collection_id, pi.position, m.title, m.source, m.url, c.name
         FROM playlist_items pi
         LEFT JOIN media_items m ON m.id = pi.media_item_id
         LEFT JOIN collections c ON c.id = pi.collection_id
         WHERE pi.playlist_id = ?1 ORDER BY pi.position, pi.id",
    )?;
    let items = stmt
        .query_map([id], |r| {
            let media_id: Option<i64> = r.get(1)?;
            let collection_id: Option<i64> = r.get(2)?;
            let mut item = json!({
                "id": r.get::<_, i64>(0)?,
                "media_item_id": media_id,
                "collection_id": collection_id,
                "order": r.get::<_, i64>(3)?,
                "media_item": null,
                "collection": null,
            });
            if let Some(mid) = media_id {
                item["media_item"] = json!({
                    "id": mid,
                    "title": r.get::<_, Option<String>>(4)?,
                    "source": r.get::<_, Option<String>>(5)?,
                    "url": r.get::<_, Option<String>>(6)?,
                });
            }
            if let Some(cid) = collection_id {
                item["collection"] = json!({"id": cid, "name": r.get::<_, Option<String>>(7)?});
            }
            Ok(item)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    head["items"] = items.into();
    Ok(Some(head))
}

async fn list(app: &Arc<App>) -> ApiResult {
    let out = app
        .db
        .read(|conn| columns::all_by_name(conn, "playlists", playlist_json))
        .await?;
    Ok(body::ok_json(&out))
}

async fn get(app: &Arc<App>, id: i64) -> ApiResult {
    let value = app
        .db
        .read(move |conn| playlist_json(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("playlist not found"))?;
    Ok(body::ok_json(&value))
}

#[derive(Deserialize)]
struct PlaylistInput {
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    description: Option<String>,
    #[serde(default)]
    channel_id: Option<i64>,
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: PlaylistInput = req.json().await?;
    let name = check_name(input.name)?;
    let (description, channel_id) = (input.description, input.channel_id);
    let id = app
        .db
        .write(move |conn| {
            if let Some(cid) = channel_id {
                let exists = crate::db::exists(conn, "channels", cid)?;
                if !exists {
                    return Ok(None);
                }
            }
            let now = crate::time::now_ms();
            conn.execute(
                "INSERT INTO playlists (name, description, channel_id, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![name, description, channel_id, now],
            )?;
            Ok(Some(conn.last_insert_rowid()))
        })
        .await?
        .ok_or_else(|| ApiError::invalid("channel_id", "no such channel"))?;
    let value = app
        .db
        .read(move |conn| playlist_json(conn, id))
        .await?
        .ok_or_else(|| ApiError::internal("playlist vanished after insert"))?;
    Ok(body::created(id, &value))
}

async fn update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let input: PlaylistInput = req.params().await?;
    let name = match input.name {
        Some(n) => Some(check_name(Some(n))?),
        None => None,
    };
    let description = input.description;
    let n = app
        .db
        .write(move |conn| {
            Ok(conn.execute(
                "UPDATE playlists SET name = coalesce(?2, name), description = coalesce(?3, description),
                     updated_at_ms = ?4 WHERE id = ?1",
                params![id, name, description, crate::time::now_ms()],
            )?)
        })
        .await?;
    if n == 0 {
        return Err(ApiError::not_found("playlist not found"));
    }
    get(app, id).await
}

async fn delete(app: &Arc<App>, id: i64) -> ApiResult {
    columns::delete_unless_scheduled(
        app,
        "playlists",
        "playlist",
        "SELECT schedule_id FROM schedule_items
         WHERE playlist_id = ?1 OR (collection_type = 'playlist' AND collection_id = ?1)
         UNION ALL SELECT id FROM schedules WHERE playlist_id = ?1
         LIMIT 1",
        id,
    )
    .await
}

enum Change {
    NoPlaylist,
    NoTarget,
    Duplicate,
    Full,
    NoEntry,
    AtEnd,
    Done,
}

async fn add(app: &Arc<App>, id: i64, entry: Entry) -> ApiResult {
    let outcome = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let exists = crate::db::exists(&tx, "playlists", id)?;
            if !exists {
                return Ok(Change::NoPlaylist);
            }
            let (table, column, target) = match entry {
                Entry::Media(m) => ("media_items", "media_item_id", m),
                Entry::Collection(c) => ("collections", "collection_id", c),
            };
            let target_exists: bool = tx.query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"),
                [target],
                |r| r.get(0),
            )?;
            if !target_exists {
                return Ok(Change::NoTarget);
            }
            let duplicate: bool = tx.query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM playlist_items WHERE playlist_id = ?1 AND {column} = ?2)"),
                params![id, target],
                |r| r.get(0),
            )?;
            if duplicate {
                return Ok(Change::Duplicate);
            }
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM playlist_items WHERE playlist_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if n >= MAX_PLAYLIST_ENTRIES {
                return Ok(Change::Full);
            }
            tx.execute(
                &format!(
                    "INSERT INTO playlist_items (playlist_id, {column}, position)
                     SELECT ?1, ?2, coalesce(max(position), -1) + 1 FROM playlist_items WHERE playlist_id = ?1"
                ),
                params![id, target],
            )?;
            touch(&tx, id)?;
            tx.commit()?;
            Ok(Change::Done)
        })
        .await?;
    let what = match entry {
        Entry::Media(_) => "media item",
        Entry::Collection(_) => "collection",
    };
    match outcome {
        Change::NoPlaylist => Err(ApiError::not_found("playlist not found")),
        Change::NoTarget => Err(ApiError::not_found(format_args!("{what} not found"))),
        Change::Duplicate => Err(ApiError::conflict(format_args!(
            "the {what} is already in the playlist"
        ))),
        Change::Full => Err(ApiError::conflict(format_args!(
            "a playlist holds at most {MAX_PLAYLIST_ENTRIES} entries"
        ))),
        _ => {
            app.content_changed();
            Ok(body::created_json(
                &json!({"message": format!("{what} added to the playlist")}),
            ))
        }
    }
}

fn touch(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE playlists SET updated_at_ms = ?2 WHERE id = ?1",
        params![id, crate::time::now_ms()],
    )?;
    Ok(())
}

async fn remove(app: &Arc<App>, id: i64, item_id: i64) -> ApiResult {
    let removal = app
        .db
        .write(move |conn| {
            columns::remove_member(
                conn,
                "playlists",
                id,
                "DELETE FROM playlist_items WHERE playlist_id = ?1 AND id = ?2",
                item_id,
            )
        })
        .await?;
    match removal {
        Removal::NoContainer => Err(ApiError::not_found("playlist not found")),
        Removal::NotMember => Err(ApiError::not_found("no such entry in the playlist")),
        Removal::Removed => {
            app.content_changed();
            Ok(body::no_content())
        }
    }
}

#[derive(Deserialize)]
struct MoveInput {
    #[serde(default, deserialize_with = "lenient_string")]
    direction: Option<String>,
}

async fn move_entry(app: &Arc<App>, req: &mut Req, id: i64, item_id: i64) -> ApiResult {
    let input: MoveInput = req.params().await?;
    let up = match input.direction.as_deref() {
        Some("up") => true,
        Some("down") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format_args!(
                "direction: {other:?} is not up or down"
            )))
        }
        None => return Err(ApiError::bad_request("direction: required (up or down)")),
    };
    let outcome = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let exists = crate::db::exists(&tx, "playlists", id)?;
            if !exists {
                return Ok(Change::NoPlaylist);
            }
            let order: Vec<i64> = tx
                .prepare(
                    "SELECT id FROM playlist_items WHERE playlist_id = ?1 ORDER BY position, id",
                )?
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let Some(at) = order.iter().position(|x| *x == item_id) else {
                return Ok(Change::NoEntry);
            };
            let other = if up {
                at.checked_sub(1)
            } else {
                Some(at + 1).filter(|i| *i < order.len())
            };
            let Some(other) = other else {
                return Ok(Change::AtEnd);
            };
            let mut order = order;
            order.swap(at, other);
            // Renumber 0..n: positions stay dense whatever earlier deletes left behind.
            let mut stmt = tx.prepare("UPDATE playlist_items SET position = ?2 WHERE id = ?1")?;
            for (position, entry) in order.iter().enumerate() {
                stmt.execute(params![entry, position as i64])?;
            }
            drop(stmt);
            touch(&tx, id)?;
            tx.commit()?;
            Ok(Change::Done)
        })
        .await?;
    match outcome {
        Change::NoPlaylist => Err(ApiError::not_found("playlist not found")),
        Change::NoEntry => Err(ApiError::not_found("no such entry in the playlist")),
        Change::AtEnd => Err(ApiError::conflict(format_args!(
            "the entry is already at the {}",
            if up { "top" } else { "bottom" }
        ))),
        _ => {
            app.content_changed();
            Ok(body::ok_json(
                &json!({"message": format!("moved {}", if up { "up" } else { "down" })}),
            ))
        }
    }
}
