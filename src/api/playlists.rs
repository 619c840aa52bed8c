//! `/api/playlists`: ordered lists whose entries are media items or whole collections.
//! Entries keep their order in `position`; moving one swaps it with its neighbour.

use std::sync::Arc;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::collections::{check_name, lenient_string};
use super::tx::{self, write_tx};
use super::view::{self, row_view, Stamp};
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

row_view! {
    /// A playlist's own fields, as `/api/playlists` sends them (`PlaylistDoc` adds its
    /// entries).
    pub struct PlaylistView {
        id: PlaylistId,
        name: String,
        description: Option<String>,
        channel_id: Option<ChannelId>,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

row_view! {
    /// One entry of a playlist with what it names (a media item's title, source and url,
    /// or a collection's name), as read from `ENTRIES_FROM`; `PlaylistEntry` is what is
    /// sent of it.
    pub struct EntryRow {
        id = "pi.id": PlaylistItemId,
        media_item_id = "pi.media_item_id": Option<MediaId>,
        collection_id = "pi.collection_id": Option<CollectionId>,
        order = "pi.position": i64,
        title = "m.title": Option<String>,
        source = "m.source": Option<String>,
        url = "m.url": Option<String>,
        collection_name = "c.name": Option<String>,
    }
}

/// A playlist's entries, in order (`?1` the playlist).
const ENTRIES_FROM: &str = "playlist_items pi
     LEFT JOIN media_items m ON m.id = pi.media_item_id
     LEFT JOIN collections c ON c.id = pi.collection_id
     WHERE pi.playlist_id = ?1 ORDER BY pi.position, pi.id";

/// One entry as sent: `media_item` and `collection` are `null` unless it is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaylistEntry {
    id: PlaylistItemId,
    media_item_id: Option<MediaId>,
    collection_id: Option<CollectionId>,
    order: i64,
    media_item: Option<EntryMedia>,
    collection: Option<EntryCollection>,
}

/// The media item of an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryMedia {
    id: MediaId,
    title: Option<String>,
    source: Option<String>,
    url: Option<String>,
}

/// The collection of an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryCollection {
    id: CollectionId,
    name: Option<String>,
}

impl From<EntryRow> for PlaylistEntry {
    fn from(row: EntryRow) -> Self {
        let EntryRow {
            id,
            media_item_id,
            collection_id,
            order,
            title,
            source,
            url,
            collection_name,
        } = row;
        PlaylistEntry {
            id,
            media_item_id,
            collection_id,
            order,
            media_item: media_item_id.map(|id| EntryMedia {
                id,
                title,
                source,
                url,
            }),
            collection: collection_id.map(|id| EntryCollection {
                id,
                name: collection_name,
            }),
        }
    }
}

/// A playlist with its entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaylistDoc {
    #[serde(flatten)]
    playlist: PlaylistView,
    items: Vec<PlaylistEntry>,
}

/// A playlist with its entries, if it exists.
fn playlist_doc(conn: &Connection, id: i64) -> Result<Option<PlaylistDoc>, DbError> {
    let Some(playlist) = view::get::<PlaylistView>(conn, "playlists", id)? else {
        return Ok(None);
    };
    let items = view::list::<EntryRow>(conn, ENTRIES_FROM, [id])?
        .into_iter()
        .map(PlaylistEntry::from)
        .collect();
    Ok(Some(PlaylistDoc { playlist, items }))
}

async fn list(app: &Arc<App>) -> ApiResult {
    let out = app
        .db
        .read(|conn| tx::all_by_name(conn, "playlists", playlist_doc))
        .await?;
    Ok(body::ok_json(&out))
}

async fn get(app: &Arc<App>, id: i64) -> ApiResult {
    let doc = app
        .db
        .read(move |conn| playlist_doc(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("playlist not found"))?;
    Ok(body::ok_json(&doc))
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
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &new, now_ms())?;
        let doc = playlist_doc(tx, id.0)?
            .ok_or_else(|| ApiError::internal("playlist vanished after insert"))?;
        Ok((id, doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: PlaylistId) -> ApiResult {
    let input: PlaylistInput = req.params().await?;
    let patch = PlaylistPatch {
        name: input.name.map(|n| check_name(Some(n))).transpose()?,
        description: input.description,
    };
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        let doc =
            playlist_doc(tx, id.0)?.ok_or_else(|| ApiError::not_found("playlist not found"))?;
        Ok((doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Playlist 1 on channel 7 with a media entry, a collection entry and a position tie;
    /// playlist 2 empty.
    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../../schema.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO channels (id, number, name, created_at_ms, updated_at_ms)
             VALUES (7, '7', 'Seven', 1, 2);
             INSERT INTO media_items (id, source, url, title, added_at_ms, created_at_ms, updated_at_ms)
             VALUES (1, 'local', 'file:///a.mkv', 'Alpha', 1, 1, 1),
                    (2, 'plex', 'http://x/b', 'Beta', 1, 1, 1);
             INSERT INTO collections (id, name, created_at_ms, updated_at_ms)
             VALUES (1, 'Mine', 1, 1);
             INSERT INTO playlists (id, name, description, channel_id, created_at_ms, updated_at_ms)
             VALUES (1, 'Evening', NULL, 7, 1700000000000, 1700000009999),
                    (2, 'empty', 'nothing', NULL, 3, 4);
             INSERT INTO playlist_items (id, playlist_id, media_item_id, collection_id, position)
             VALUES (20, 1, 2, NULL, 1), (21, 1, NULL, 1, 1), (22, 1, 1, NULL, 0);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_playlist_sends_its_entries_with_what_each_names() {
        let conn = db();
        let doc = playlist_doc(&conn, 1).unwrap().unwrap();
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"id":1,"name":"Evening","description":null,"channel_id":7,"created_at":"2023-11-14T22:13:20Z","updated_at":"2023-11-14T22:13:29.999Z","items":[{"id":22,"media_item_id":1,"collection_id":null,"order":0,"media_item":{"id":1,"title":"Alpha","source":"local","url":"file:///a.mkv"},"collection":null},{"id":20,"media_item_id":2,"collection_id":null,"order":1,"media_item":{"id":2,"title":"Beta","source":"plex","url":"http://x/b"},"collection":null},{"id":21,"media_item_id":null,"collection_id":1,"order":1,"media_item":null,"collection":{"id":1,"name":"Mine"}}]}"#
        );
        let doc = playlist_doc(&conn, 2).unwrap().unwrap();
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"id":2,"name":"empty","description":"nothing","channel_id":null,"created_at":"1970-01-01T00:00:00.003Z","updated_at":"1970-01-01T00:00:00.004Z","items":[]}"#
        );
        assert_eq!(playlist_doc(&conn, 3).unwrap(), None);
        let list = tx::all_by_name(&conn, "playlists", playlist_doc).unwrap();
        let ids: Vec<i64> = list.iter().map(|doc| doc.playlist.id.0).collect();
        assert_eq!(ids, [2, 1]);
    }
}
