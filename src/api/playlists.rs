//! `/api/playlists`: ordered lists whose entries are media items or whole collections.
//! Entries keep their order in `position`; moving one swaps it with its neighbour.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

use super::collections::{check_name, lenient_string};
use super::tx::{self, write_tx};
use crate::app::App;
use crate::db::DbError;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::ids::{ChannelId, CollectionId, MediaId, PlaylistId, PlaylistItemId};
use crate::ops::playlists::{self as ops, Direction, Entry, NewPlaylist, PlaylistPatch};
use crate::time::now_ms;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => get(app, id).await,
                Put => update(app, req, PlaylistId(id)).await,
                Delete => delete(app, PlaylistId(id)).await,
            })
        }
        [id, "items", item] => by_verb!(req, {
            Post => add(app, playlist_id(id)?, Entry::Media(MediaId(router::id(item)?))).await,
            Delete => remove(app, playlist_id(id)?, PlaylistItemId(router::id(item)?)).await,
        }),
        // Ours: a whole collection as one entry.
        [id, "collections", cid] => {
            router::only(req, Verb::Post)?;
            let (id, cid) = (playlist_id(id)?, CollectionId(router::id(cid)?));
            add(app, id, Entry::Collection(cid)).await
        }
        [id, "items", item, "move"] => {
            router::only(req, Verb::Post)?;
            let (id, item) = (playlist_id(id)?, PlaylistItemId(router::id(item)?));
            move_entry(app, req, id, item).await
        }
        _ => Err(router::not_found()),
    }
}

fn playlist_id(seg: &str) -> Result<PlaylistId, ApiError> {
    Ok(PlaylistId(router::id(seg)?))
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
        .read(|conn| tx::all_by_name(conn, "playlists", playlist_json))
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
    let new = NewPlaylist {
        name: check_name(input.name)?,
        description: input.description,
        channel_id: input.channel_id.map(ChannelId),
    };
    let (id, value, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &new, now_ms())?;
        let value = playlist_json(tx, id.0)?
            .ok_or_else(|| ApiError::internal("playlist vanished after insert"))?;
        Ok((id, value, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &value))
}

async fn update(app: &Arc<App>, req: &mut Req, id: PlaylistId) -> ApiResult {
    let input: PlaylistInput = req.params().await?;
    let patch = PlaylistPatch {
        name: input.name.map(|n| check_name(Some(n))).transpose()?,
        description: input.description,
    };
    let (value, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        let value =
            playlist_json(tx, id.0)?.ok_or_else(|| ApiError::not_found("playlist not found"))?;
        Ok((value, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&value))
}

/// A playlist a schedule plays cannot be deleted (409).
async fn delete(app: &Arc<App>, id: PlaylistId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn add(app: &Arc<App>, id: PlaylistId, entry: Entry) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::add(tx, id, entry, now_ms())?)).await?;
    app.apply(changes).await;
    Ok(body::created_json(
        &json!({"message": format!("{} added to the playlist", entry.what())}),
    ))
}

async fn remove(app: &Arc<App>, id: PlaylistId, entry: PlaylistItemId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::remove(tx, id, entry)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

#[derive(Deserialize)]
struct MoveInput {
    #[serde(default, deserialize_with = "lenient_string")]
    direction: Option<String>,
}

async fn move_entry(
    app: &Arc<App>,
    req: &mut Req,
    id: PlaylistId,
    entry: PlaylistItemId,
) -> ApiResult {
    let input: MoveInput = req.params().await?;
    let direction = match input.direction.as_deref() {
        Some("up") => Direction::Up,
        Some("down") => Direction::Down,
        Some(other) => {
            return Err(ApiError::bad_request(format_args!(
                "direction: {other:?} is not up or down"
            )))
        }
        None => return Err(ApiError::bad_request("direction: required (up or down)")),
    };
    let changes = write_tx(app, move |tx| {
        Ok(ops::move_entry(tx, id, entry, direction, now_ms())?)
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(
        &json!({"message": format!("moved {}", direction.as_str())}),
    ))
}
