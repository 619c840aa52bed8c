//! `/api/collections`: manual and smart collections (the query language is documented in
//! `library::collections`), their items, and multi-collections (ordered groups of
//! collections).

use std::sync::Arc;

use rusqlite::Connection;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use super::tx::{self, write_tx};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::db::DbError;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::CollectionKind;
use crate::ops::collections::{self as ops, CollectionPatch, NewCollection};
use crate::ops::ids::{CollectionId, MediaId, MultiCollectionId};
use crate::time::now_ms;

/// Collection and playlist names longer than this are refused.
pub const MAX_NAME_LEN: usize = 200;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        ["smart"] => {
            router::only(req, Verb::Post)?;
            create_smart(app, req).await
        }
        ["consolidate"] => {
            router::only(req, Verb::Post)?;
            consolidate(app, req).await
        }
        ["smart", id, "refresh"] => {
            router::only(req, Verb::Post)?;
            refresh(app, CollectionId(router::id(id)?)).await
        }
        ["multi"] => by_verb!(req, {
            Get => multi_list(app).await,
            Post => multi_create(app, req).await,
        }),
        ["multi", id] => by_verb!(req, {
            Get => multi_get(app, router::id(id)?).await,
            Put => multi_update(app, req, MultiCollectionId(router::id(id)?)).await,
            Delete => multi_delete(app, MultiCollectionId(router::id(id)?)).await,
        }),
        ["multi", id, "collections", cid] => by_verb!(req, {
            Post => multi_link(app, multi_and_member(id, cid)?).await,
            Delete => multi_unlink(app, multi_and_member(id, cid)?).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => get(app, id).await,
                Delete => delete(app, CollectionId(id)).await,
            })
        }
        [id, "items", media_id] => by_verb!(req, {
            Post => add_item(app, collection_and_media(id, media_id)?).await,
            Delete => remove_item(app, collection_and_media(id, media_id)?).await,
        }),
        _ => Err(router::not_found()),
    }
}

fn multi_and_member(id: &str, cid: &str) -> Result<(MultiCollectionId, CollectionId), ApiError> {
    Ok((
        MultiCollectionId(router::id(id)?),
        CollectionId(router::id(cid)?),
    ))
}

fn collection_and_media(id: &str, media_id: &str) -> Result<(CollectionId, MediaId), ApiError> {
    Ok((
        CollectionId(router::id(id)?),
        MediaId(router::id(media_id)?),
    ))
}

/// A string field that also takes a number (`?name=2024` arrives as an integer).
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(serde::de::Error::custom("expected a string")),
    }
}

/// A required, trimmed, bounded name.
pub fn check_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "field required"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid(
            "name",
            format_args!("longer than {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(name)
}

row_view! {
    /// A collection's own fields, as `/api/collections` sends them (`CollectionDoc` adds its
    /// items).
    pub struct CollectionView {
        id: CollectionId,
        name: String,
        description: Option<String>,
        collection_type: String,
        search_query: Option<String>,
        auto_folder: Option<String>,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

row_view! {
    /// One item of a collection with its media item's title, source and url, as read from
    /// `ITEMS_FROM`; `CollectionItem` is what is sent of it.
    pub struct CollectionItemRow {
        id = "ci.id": i64,
        media_item_id = "ci.media_item_id": MediaId,
        order = "ci.position": i64,
        title = "m.title": String,
        source = "m.source": String,
        url = "m.url": String,
    }
}

/// A collection's items, in order (`?1` the collection).
const ITEMS_FROM: &str = "collection_items ci JOIN media_items m ON m.id = ci.media_item_id
     WHERE ci.collection_id = ?1 ORDER BY ci.position, ci.id";

/// One item of a collection as sent: `media_item` only by a single collection's GET and
/// its create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionItem {
    id: i64,
    media_item_id: MediaId,
    order: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_item: Option<MediaBrief>,
}

/// The media item of a collection's item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaBrief {
    id: MediaId,
    title: String,
    source: String,
    url: String,
}

impl CollectionItem {
    fn from_row(row: CollectionItemRow, with_media: bool) -> Self {
        let CollectionItemRow {
            id,
            media_item_id,
            order,
            title,
            source,
            url,
        } = row;
        CollectionItem {
            id,
            media_item_id,
            order,
            media_item: with_media.then_some(MediaBrief {
                id: media_item_id,
                title,
                source,
                url,
            }),
        }
    }
}

/// A collection with its items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionDoc {
    #[serde(flatten)]
    collection: CollectionView,
    item_count: usize,
    items: Vec<CollectionItem>,
}

/// A collection with its items, if it exists; `with_media` adds each item's `media_item`.
fn collection_doc(
    conn: &Connection,
    id: i64,
    with_media: bool,
) -> Result<Option<CollectionDoc>, DbError> {
    let Some(collection) = view::get::<CollectionView>(conn, "collections", id)? else {
        return Ok(None);
    };
    let items: Vec<CollectionItem> = view::list::<CollectionItemRow>(conn, ITEMS_FROM, [id])?
        .into_iter()
        .map(|row| CollectionItem::from_row(row, with_media))
        .collect();
    Ok(Some(CollectionDoc {
        collection,
        item_count: items.len(),
        items,
    }))
}

async fn list(app: &Arc<App>) -> ApiResult {
    let out = app
        .db
        .read(|conn| {
            tx::all_by_name(conn, "collections", |conn, id| {
                collection_doc(conn, id, false)
            })
        })
        .await?;
    Ok(body::ok_json(&out))
}

async fn get(app: &Arc<App>, id: i64) -> ApiResult {
    let doc = app
        .db
        .read(move |conn| collection_doc(conn, id, true))
        .await?
        .ok_or_else(|| ApiError::not_found("collection not found"))?;
    Ok(body::ok_json(&doc))
}

#[derive(Deserialize)]
struct CreateCollection {
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    collection_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    search_query: Option<String>,
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateCollection = req.json().await?;
    let kind = match input.collection_type.as_deref() {
        None => CollectionKind::Manual,
        Some(text) => text.parse().map_err(|_| {
            ApiError::invalid(
                "collection_type",
                format_args!("must be {}", crate::kinds::either(CollectionKind::NAMES)),
            )
        })?,
    };
    match kind {
        CollectionKind::Manual => {}
        CollectionKind::Smart => return create_smart_from(app, input).await,
        CollectionKind::Multi => {
            return Err(ApiError::invalid(
                "collection_type",
                "multi-collections are created at /api/collections/multi",
            ))
        }
    }
    let new = NewCollection {
        name: check_name(input.name)?,
        description: input.description,
    };
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create_manual(tx, &new, now_ms())?;
        let doc = collection_doc(tx, id.0, true)?
            .ok_or_else(|| ApiError::internal("collection vanished after insert"))?;
        Ok((id, doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn create_smart(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateCollection = req.params().await?;
    create_smart_from(app, input).await
}

async fn create_smart_from(app: &Arc<App>, input: CreateCollection) -> ApiResult {
    let new = NewCollection {
        name: check_name(input.name)?,
        description: input.description,
    };
    let query = input
        .search_query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("search_query", "field required"))?;
    let response_query = query.clone();
    let name = new.name.clone();
    let (id, item_count, changes) = write_tx(app, move |tx| {
        Ok(ops::create_smart(tx, &new, &query, now_ms())?)
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(
        id.0,
        &SmartCreated {
            id,
            name,
            collection_type: CollectionKind::Smart,
            search_query: response_query,
            item_count,
        },
    ))
}

/// What a smart collection's create sends back.
#[derive(Serialize)]
struct SmartCreated {
    id: CollectionId,
    name: String,
    collection_type: CollectionKind,
    search_query: String,
    item_count: i64,
}

async fn refresh(app: &Arc<App>, id: CollectionId) -> ApiResult {
    let (refreshed, changes) = write_tx(app, move |tx| Ok(ops::refresh(tx, id, now_ms())?)).await?;
    app.apply(changes).await;
    let ops::Refreshed {
        previous_count: before,
        new_count: after,
    } = refreshed;
    Ok(body::ok_json(&json!({
        "collection_id": id, "previous_count": before, "new_count": after,
        "message": format!("refreshed: {before} → {after} items"),
    })))
}

/// A collection a schedule plays cannot be deleted (409).
async fn delete(app: &Arc<App>, id: CollectionId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn add_item(app: &Arc<App>, (id, media): (CollectionId, MediaId)) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::add_item(tx, id, media, now_ms())?)).await?;
    app.apply(changes).await;
    Ok(body::created_json(
        &json!({"message": "item added to the collection"}),
    ))
}

async fn remove_item(app: &Arc<App>, (id, media): (CollectionId, MediaId)) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::remove_item(tx, id, media)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

// ------------------------------------------------------------------ multi-collections

/// `collection_ids` as `"1,2,3"`, `3` or `[1, 2, 3]`.
fn id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let bad = || serde::de::Error::custom("expected ids: [1, 2] or \"1,2\"");
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => Ok(Some(vec![n.as_i64().ok_or_else(bad)?])),
        Some(serde_json::Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<i64>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| x.as_i64().ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

#[derive(Deserialize)]
struct MultiInput {
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "id_list")]
    collection_ids: Option<Vec<i64>>,
}

row_view! {
    /// A multi-collection as its list sends it: with the number of its collections.
    pub struct MultiListView {
        id = "mc.id": MultiCollectionId,
        name = "mc.name": String,
        description = "mc.description": Option<String>,
        collection_count = "(SELECT count(*) FROM multi_collection_links l
                             WHERE l.multi_collection_id = mc.id)": i64,
        created_at = "mc.created_at_ms": Stamp,
        updated_at = "mc.updated_at_ms": Stamp,
    }
}

row_view! {
    /// A multi-collection's own fields (`MultiDoc` adds its collections).
    pub struct MultiView {
        id: MultiCollectionId,
        name: String,
        description: Option<String>,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

row_view! {
    /// One collection of a multi-collection, with its link's id and position.
    pub struct MultiMemberView {
        id = "c.id": CollectionId,
        name = "c.name": String,
        position = "l.position": i64,
        link_id = "l.id": i64,
    }
}

/// A multi-collection with its collections, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiDoc {
    #[serde(flatten)]
    multi: MultiView,
    collection_count: usize,
    collections: Vec<MultiMemberView>,
}

/// What a multi-collection's create sends back.
#[derive(Serialize)]
struct MultiCreated {
    id: MultiCollectionId,
    name: String,
    description: Option<String>,
    collection_count: usize,
}

async fn multi_list(app: &Arc<App>) -> ApiResult {
    let out = app.db.read(multi_rows).await?;
    Ok(body::ok_json(&out))
}

fn multi_rows(conn: &Connection) -> Result<Vec<MultiListView>, DbError> {
    view::list(
        conn,
        "multi_collections mc ORDER BY lower(mc.name), mc.id",
        [],
    )
}

fn multi_doc(conn: &Connection, id: i64) -> Result<Option<MultiDoc>, DbError> {
    let Some(multi) = view::get::<MultiView>(conn, "multi_collections", id)? else {
        return Ok(None);
    };
    let collections: Vec<MultiMemberView> = view::list(
        conn,
        "multi_collection_links l JOIN collections c ON c.id = l.collection_id
         WHERE l.multi_collection_id = ?1 ORDER BY l.position, l.id",
        [id],
    )?;
    Ok(Some(MultiDoc {
        multi,
        collection_count: collections.len(),
        collections,
    }))
}

async fn multi_get(app: &Arc<App>, id: i64) -> ApiResult {
    let doc = app
        .db
        .read(move |conn| multi_doc(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("multi-collection not found"))?;
    Ok(body::ok_json(&doc))
}

async fn multi_create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: MultiInput = req.params().await?;
    let new = NewCollection {
        name: check_name(input.name)?,
        description: input.description,
    };
    let members: Vec<CollectionId> = input
        .collection_ids
        .unwrap_or_default()
        .into_iter()
        .map(CollectionId)
        .collect();
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create_multi(tx, &new, &members, now_ms())?;
        let doc = multi_doc(tx, id.0)?
            .ok_or_else(|| ApiError::internal("multi-collection vanished after insert"))?;
        Ok((id, doc, changes))
    })
    .await?;
    app.apply(changes).await;
    let MultiDoc {
        multi,
        collection_count,
        ..
    } = doc;
    Ok(body::created(
        id.0,
        &MultiCreated {
            id: multi.id,
            name: multi.name,
            description: multi.description,
            collection_count,
        },
    ))
}

async fn multi_update(app: &Arc<App>, req: &mut Req, id: MultiCollectionId) -> ApiResult {
    let input: MultiInput = req.params().await?;
    let patch = CollectionPatch {
        name: input.name.map(|n| check_name(Some(n))).transpose()?,
        description: input.description,
    };
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update_multi(tx, id, &patch, now_ms())?;
        let doc = multi_doc(tx, id.0)?
            .ok_or_else(|| ApiError::not_found("multi-collection not found"))?;
        Ok((doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// A multi-collection a schedule plays cannot be deleted (409).
async fn multi_delete(app: &Arc<App>, id: MultiCollectionId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete_multi(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn multi_link(app: &Arc<App>, (id, member): (MultiCollectionId, CollectionId)) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::link(tx, id, member)?)).await?;
    app.apply(changes).await;
    Ok(body::created_json(&json!({"message": "collection linked"})))
}

async fn multi_unlink(
    app: &Arc<App>,
    (id, member): (MultiCollectionId, CollectionId),
) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::unlink(tx, id, member)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

/// `POST /api/collections/consolidate[?dry_run=true]`: merges the parts of one collection
/// ("Cartoons Day 1", "Cartoons Day 2", …) into one (`ops::consolidate`).
async fn consolidate(app: &Arc<App>, req: &Req) -> ApiResult {
    let dry_run = req.query_parsed::<bool>("dry_run")?.unwrap_or(false);
    let (groups, changes) = super::tx::write_tx(app, move |tx| {
        Ok(crate::ops::consolidate::consolidate(tx, dry_run, now_ms())?)
    })
    .await?;
    app.apply(changes).await;
    let merged: usize = groups.iter().map(|g| g.merged.len() - 1).sum();
    let verb = if dry_run { "would merge" } else { "merged" };
    Ok(body::ok_json(&serde_json::json!({
        "message": format!("{verb} {merged} collections into {}", groups.len()),
        "dry_run": dry_run,
        "consolidated": merged,
        "groups": groups.iter().map(|g| serde_json::json!({
            "base_name": g.base_name, "collection_id": g.kept_id,
            "merged_collections": g.merged, "items_count": g.items,
        })).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collections 1 (two items, a position tie) and 2 (smart, in a folder), multi 1 with
    /// both, multi 2 with none.
    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../../schema.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO media_items (id, source, url, title, added_at_ms, created_at_ms, updated_at_ms)
             VALUES (1, 'local', 'file:///a.mkv', 'Alpha', 1, 1, 1),
                    (2, 'plex', 'http://x/b', 'Beta', 1, 1, 1);
             INSERT INTO collections (id, name, description, collection_type, search_query,
                                      auto_folder, created_at_ms, updated_at_ms)
             VALUES (1, 'zeta', NULL, 'manual', NULL, NULL, 1700000000000, 1700000000123),
                    (2, 'Alpha', 'first', 'smart', 'show:Alpha', '/tv/Alpha', 0, 86400000);
             INSERT INTO collection_items (id, collection_id, media_item_id, position)
             VALUES (10, 1, 2, 1), (11, 1, 1, 1), (12, 2, 1, 0);
             INSERT INTO multi_collections (id, name, description, created_at_ms, updated_at_ms)
             VALUES (1, 'Both', NULL, 1700000000000, 1700000005000), (2, 'alone', 'none', 10, 20);
             INSERT INTO multi_collection_links (id, multi_collection_id, collection_id, position)
             VALUES (5, 1, 2, 1), (6, 1, 1, 0);",
        )
        .unwrap();
        conn
    }

    fn text(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn a_collection_sends_its_items_and_their_media_only_when_asked() {
        let conn = db();
        let doc = collection_doc(&conn, 1, true).unwrap().unwrap();
        assert_eq!(
            text(&doc),
            r#"{"id":1,"name":"zeta","description":null,"collection_type":"manual","search_query":null,"auto_folder":null,"created_at":"2023-11-14T22:13:20Z","updated_at":"2023-11-14T22:13:20.123Z","item_count":2,"items":[{"id":10,"media_item_id":2,"order":1,"media_item":{"id":2,"title":"Beta","source":"plex","url":"http://x/b"}},{"id":11,"media_item_id":1,"order":1,"media_item":{"id":1,"title":"Alpha","source":"local","url":"file:///a.mkv"}}]}"#
        );
        let doc = collection_doc(&conn, 2, false).unwrap().unwrap();
        assert_eq!(
            text(&doc),
            r#"{"id":2,"name":"Alpha","description":"first","collection_type":"smart","search_query":"show:Alpha","auto_folder":"/tv/Alpha","created_at":"1970-01-01T00:00:00Z","updated_at":"1970-01-02T00:00:00Z","item_count":1,"items":[{"id":12,"media_item_id":1,"order":0}]}"#
        );
        assert_eq!(collection_doc(&conn, 3, true).unwrap(), None);
        let list = tx::all_by_name(&conn, "collections", |conn, id| {
            collection_doc(conn, id, false)
        })
        .unwrap();
        let ids: Vec<i64> = list.iter().map(|doc| doc.collection.id.0).collect();
        assert_eq!(ids, [2, 1]);
    }

    #[test]
    fn a_multi_collection_sends_its_collections_in_order() {
        let conn = db();
        let doc = multi_doc(&conn, 1).unwrap().unwrap();
        assert_eq!(
            text(&doc),
            r#"{"id":1,"name":"Both","description":null,"created_at":"2023-11-14T22:13:20Z","updated_at":"2023-11-14T22:13:25Z","collection_count":2,"collections":[{"id":1,"name":"zeta","position":0,"link_id":6},{"id":2,"name":"Alpha","position":1,"link_id":5}]}"#
        );
        let doc = multi_doc(&conn, 2).unwrap().unwrap();
        assert_eq!(
            text(&doc),
            r#"{"id":2,"name":"alone","description":"none","created_at":"1970-01-01T00:00:00.010Z","updated_at":"1970-01-01T00:00:00.020Z","collection_count":0,"collections":[]}"#
        );
        assert_eq!(multi_doc(&conn, 3).unwrap(), None);
        assert_eq!(
            text(&multi_rows(&conn).unwrap()),
            r#"[{"id":2,"name":"alone","description":"none","collection_count":0,"created_at":"1970-01-01T00:00:00.010Z","updated_at":"1970-01-01T00:00:00.020Z"},{"id":1,"name":"Both","description":null,"collection_count":2,"created_at":"2023-11-14T22:13:20Z","updated_at":"2023-11-14T22:13:25Z"}]"#
        );
    }

    #[test]
    fn the_create_replies_send_what_they_always_did() {
        let created = SmartCreated {
            id: CollectionId(2),
            name: "Alpha".into(),
            collection_type: CollectionKind::Smart,
            search_query: "show:Alpha".into(),
            item_count: 1,
        };
        assert_eq!(
            text(&created),
            r#"{"id":2,"name":"Alpha","collection_type":"smart","search_query":"show:Alpha","item_count":1}"#
        );
        let created = MultiCreated {
            id: MultiCollectionId(2),
            name: "alone".into(),
            description: None,
            collection_count: 0,
        };
        assert_eq!(
            text(&created),
            r#"{"id":2,"name":"alone","description":null,"collection_count":0}"#
        );
    }
}
