//! `/api/collections`: manual and smart collections (the query language is documented in
//! `library::collections`), their items, and multi-collections (ordered groups of
//! collections).

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::tx::{self, write_tx};
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

/// A collection with its items; `with_media` adds `media_item:{id, title, source, url}`.
fn collection_json(
    conn: &Connection,
    id: i64,
    with_media: bool,
) -> Result<Option<serde_json::Value>, DbError> {
    let head = conn
        .prepare_cached(
            "SELECT id, name, description, collection_type, search_query, auto_folder,
                    created_at_ms, updated_at_ms FROM collections WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "name": r.get::<_, String>(1)?,
                "description": r.get::<_, Option<String>>(2)?,
                "collection_type": r.get::<_, String>(3)?,
                "search_query": r.get::<_, Option<String>>(4)?,
                "auto_folder": r.get::<_, Option<String>>(5)?,
                "created_at": crate::time::rfc3339(r.get(6)?),
                "updated_at": crate::time::rfc3339(r.get(7)?),
            }))
        })
        .optional()?;
    let Some(mut head) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT ci.id, ci.media_item_id, ci.position, m.title, m.source, m.url
         FROM collection_items ci JOIN media_items m ON m.id = ci.media_item_id
         WHERE ci.collection_id = ?1 ORDER BY ci.position, ci.id",
    )?;
    let items = stmt
        .query_map([id], |r| {
            let mut item = json!({
                "id": r.get::<_, i64>(0)?,
                "media_item_id": r.get::<_, i64>(1)?,
                "order": r.get::<_, i64>(2)?,
            });
            if with_media {
                item["media_item"] = json!({
                    "id": r.get::<_, i64>(1)?,
                    "title": r.get::<_, String>(3)?,
                    "source": r.get::<_, String>(4)?,
                    "url": r.get::<_, String>(5)?,
                });
            }
            Ok(item)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    head["item_count"] = items.len().into();
    head["items"] = items.into();
    Ok(Some(head))
}

async fn list(app: &Arc<App>) -> ApiResult {
    let out = app
        .db
        .read(|conn| {
            tx::all_by_name(conn, "collections", |conn, id| {
                collection_json(conn, id, false)
            })
        })
        .await?;
    Ok(body::ok_json(&out))
}

async fn get(app: &Arc<App>, id: i64) -> ApiResult {
    let value = app
        .db
        .read(move |conn| collection_json(conn, id, true))
        .await?
        .ok_or_else(|| ApiError::not_found("collection not found"))?;
    Ok(body::ok_json(&value))
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
    let (id, value, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create_manual(tx, &new, now_ms())?;
        let value = collection_json(tx, id.0, true)?
            .ok_or_else(|| ApiError::internal("collection vanished after insert"))?;
        Ok((id, value, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &value))
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
        &json!({
            "id": id, "name": name, "collection_type": "smart",
            "search_query": response_query, "item_count": item_count,
        }),
    ))
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

async fn multi_list(app: &Arc<App>) -> ApiResult {
    let out = app
        .db
        .read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT mc.id, mc.name, mc.description,
                        (SELECT count(*) FROM multi_collection_links l WHERE l.multi_collection_id = mc.id),
                        mc.created_at_ms, mc.updated_at_ms
                 FROM multi_collections mc ORDER BY lower(mc.name), mc.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(json!({
                    "id": r.get::<_, i64>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "description": r.get::<_, Option<String>>(2)?,
                    "collection_count": r.get::<_, i64>(3)?,
                    "created_at": crate::time::rfc3339(r.get(4)?),
                    "updated_at": crate::time::rfc3339(r.get(5)?),
                }))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(body::ok_json(&out))
}

fn multi_json(conn: &Connection, id: i64) -> Result<Option<serde_json::Value>, DbError> {
    let head = conn
        .query_row(
            "SELECT id, name, description, created_at_ms, updated_at_ms FROM multi_collections WHERE id = ?1",
            [id],
            |r| {
                Ok(json!({
                    "id": r.get::<_, i64>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "description": r.get::<_, Option<String>>(2)?,
                    "created_at": crate::time::rfc3339(r.get(3)?),
                    "updated_at": crate::time::rfc3339(r.get(4)?),
                }))
            },
        )
        .optional()?;
    let Some(mut head) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.name, l.position, l.id FROM multi_collection_links l
         JOIN collections c ON c.id = l.collection_id
         WHERE l.multi_collection_id = ?1 ORDER BY l.position, l.id",
    )?;
    let links = stmt
        .query_map([id], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "name": r.get::<_, String>(1)?,
                "position": r.get::<_, i64>(2)?,
                "link_id": r.get::<_, i64>(3)?,
            }))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    head["collection_count"] = links.len().into();
    head["collections"] = links.into();
    Ok(Some(head))
}

async fn multi_get(app: &Arc<App>, id: i64) -> ApiResult {
    let value = app
        .db
        .read(move |conn| multi_json(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found("multi-collection not found"))?;
    Ok(body::ok_json(&value))
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
    let (id, value, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create_multi(tx, &new, &members, now_ms())?;
        let value = multi_json(tx, id.0)?
            .ok_or_else(|| ApiError::internal("multi-collection vanished after insert"))?;
        Ok((id, value, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(
        id.0,
        &json!({
            "id": value["id"], "name": value["name"], "description": value["description"],
            "collection_count": value["collection_count"],
        }),
    ))
}

async fn multi_update(app: &Arc<App>, req: &mut Req, id: MultiCollectionId) -> ApiResult {
    let input: MultiInput = req.params().await?;
    let patch = CollectionPatch {
        name: input.name.map(|n| check_name(Some(n))).transpose()?,
        description: input.description,
    };
    let (value, changes) = write_tx(app, move |tx| {
        let changes = ops::update_multi(tx, id, &patch, now_ms())?;
        let value = multi_json(tx, id.0)?
            .ok_or_else(|| ApiError::not_found("multi-collection not found"))?;
        Ok((value, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&value))
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
