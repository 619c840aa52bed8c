//! `/api/collections`: manual and smart collections (the query language is documented in
//! `library::collections`), their items, and multi-collections (ordered groups of
//! collections).

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::columns::{self, Removal};
use crate::app::App;
use crate::db::DbError;
use crate::http::{body, router, ApiError, ApiResult, Req};
use crate::kinds::CollectionKind;
use crate::library::collections as smart;
use router::Verb;

/// Collection and playlist names longer than this are refused.
pub const MAX_NAME_LEN: usize = 200;
/// Collections one multi-collection may group.
const MAX_MULTI_MEMBERS: usize = 256;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match (req.verb(), segs) {
        (Verb::Get, []) => list(app).await,
        (Verb::Post, []) => create(app, req).await,
        (_, []) => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        (Verb::Post, ["smart"]) => create_smart(app, req).await,
        (_, ["smart"]) => Err(ApiError::method_not_allowed("POST")),
        (Verb::Post, ["smart", id, "refresh"]) => refresh(app, router::id(id)?).await,
        (_, ["smart", _, "refresh"]) => Err(ApiError::method_not_allowed("POST")),
        (Verb::Get, ["multi"]) => multi_list(app).await,
        (Verb::Post, ["multi"]) => multi_create(app, req).await,
        (_, ["multi"]) => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        (Verb::Get, ["multi", id]) => multi_get(app, router::id(id)?).await,
        (Verb::Put, ["multi", id]) => multi_update(app, req, router::id(id)?).await,
        (Verb::Delete, ["multi", id]) => multi_delete(app, router::id(id)?).await,
        (_, ["multi", _]) => Err(ApiError::method_not_allowed("GET, HEAD, PUT, DELETE")),
        (Verb::Post, ["multi", id, "collections", cid]) => {
            multi_link(app, router::id(id)?, router::id(cid)?).await
        }
        (Verb::Delete, ["multi", id, "collections", cid]) => {
            multi_unlink(app, router::id(id)?, router::id(cid)?).await
        }
        (_, ["multi", _, "collections", _]) => Err(ApiError::method_not_allowed("POST, DELETE")),
        (Verb::Get, [id]) => get(app, router::id(id)?).await,
        (Verb::Delete, [id]) => delete(app, router::id(id)?).await,
        (_, [id]) => {
            router::id(id)?;
            Err(ApiError::method_not_allowed("GET, HEAD, DELETE"))
        }
        (Verb::Post, [id, "items", media_id]) => {
            add_item(app, router::id(id)?, router::id(media_id)?).await
        }
        (Verb::Delete, [id, "items", media_id]) => {
            remove_item(app, router::id(id)?, router::id(media_id)?).await
        }
        (_, [_, "items", _]) => Err(ApiError::method_not_allowed("POST, DELETE")),
        _ => Err(router::not_found()),
    }
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

fn name_taken(e: DbError) -> ApiError {
    if e.is_unique_violation() {
        ApiError::conflict("name: already taken")
    } else {
        ApiError::from(e)
    }
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
            columns::all_by_name(conn, "collections", |conn, id| {
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
    let name = check_name(input.name)?;
    let description = input.description;
    let id = app
        .db
        .write(move |conn| {
            let now = crate::time::now_ms();
            conn.execute(
                "INSERT INTO collections (name, description, collection_type, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, 'manual', ?3, ?3)",
                params![name, description, now],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
        .map_err(name_taken)?;
    let value = app
        .db
        .read(move |conn| collection_json(conn, id, true))
        .await?
        .ok_or_else(|| ApiError::internal("collection vanished after insert"))?;
    Ok(body::created(id, &value))
}

async fn create_smart(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateCollection = req.params().await?;
    create_smart_from(app, input).await
}

async fn create_smart_from(app: &Arc<App>, input: CreateCollection) -> ApiResult {
    let name = check_name(input.name)?;
    let query = input
        .search_query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("search_query", "field required"))?;
    smart::compile(&query).map_err(|e| ApiError::invalid("search_query", e))?;
    let description = input.description;
    let response_query = query.clone();
    let (id, item_count) = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let now = crate::time::now_ms();
            tx.execute(
                "INSERT INTO collections (name, description, collection_type, search_query, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, 'smart', ?3, ?4, ?4)",
                params![name, description, query, now],
            )?;
            let id = tx.last_insert_rowid();
            let n = smart::refresh_smart(&tx, id, &query)?;
            tx.commit()?;
            Ok((id, n))
        })
        .await
        .map_err(name_taken)?;
    let name: String = app
        .db
        .read(move |conn| {
            Ok(
                conn.query_row("SELECT name FROM collections WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?,
            )
        })
        .await?;
    Ok(body::created(
        id,
        &json!({
            "id": id, "name": name, "collection_type": "smart",
            "search_query": response_query, "item_count": item_count,
        }),
    ))
}

async fn refresh(app: &Arc<App>, id: i64) -> ApiResult {
    enum Outcome {
        NotFound,
        NotSmart,
        Done(i64, i64),
    }
    let outcome = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let row: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT collection_type, search_query FROM collections WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((kind, query)) = row else {
                return Ok(Outcome::NotFound);
            };
            let (true, Some(query)) = (kind == "smart", query) else {
                return Ok(Outcome::NotSmart);
            };
            let before: i64 = tx.query_row(
                "SELECT count(*) FROM collection_items WHERE collection_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            let after = smart::refresh_smart(&tx, id, &query)?;
            tx.execute(
                "UPDATE collections SET updated_at_ms = ?2 WHERE id = ?1",
                params![id, crate::time::now_ms()],
            )?;
            tx.commit()?;
            Ok(Outcome::Done(before, after))
        })
        .await?;
    match outcome {
        Outcome::NotFound => Err(ApiError::not_found("collection not found")),
        Outcome::NotSmart => Err(ApiError::invalid(
            "collection_type",
            "not a smart collection",
        )),
        Outcome::Done(before, after) => {
            if before != after {
                app.content_changed();
                crate::scheduler::library_changed(app).await;
            }
            Ok(body::ok_json(&json!({
                "collection_id": id, "previous_count": before, "new_count": after,
                "message": format!("refreshed: {before} → {after} items"),
            })))
        }
    }
}

/// Schedules that play a collection: a collection they use cannot be deleted (409).
async fn delete(app: &Arc<App>, id: i64) -> ApiResult {
    columns::delete_unless_scheduled(
        app,
        "collections",
        "collection",
        "SELECT schedule_id FROM schedule_items
         WHERE collection_id = ?1 AND collection_type IN ('collection', 'smart_collection')
         UNION ALL SELECT id FROM schedules WHERE collection_id = ?1
         LIMIT 1",
        id,
    )
    .await
}

/// The result of a membership change, decided on the DB thread.
enum Membership {
    NoCollection,
    NoMedia,
    NotManual,
    Duplicate,
    NotMember,
    Done,
}

impl Membership {
    fn into_result(self, ok: impl FnOnce() -> ApiResult) -> ApiResult {
        match self {
            Membership::NoCollection => Err(ApiError::not_found("collection not found")),
            Membership::NoMedia => Err(ApiError::not_found("media item not found")),
            Membership::NotManual => Err(ApiError::invalid(
                "collection_type",
                "a smart collection takes its items from its query",
            )),
            Membership::Duplicate => {
                Err(ApiError::conflict("the item is already in the collection"))
            }
            Membership::NotMember => Err(ApiError::not_found("the item is not in the collection")),
            Membership::Done => ok(),
        }
    }
}

async fn add_item(app: &Arc<App>, id: i64, media_id: i64) -> ApiResult {
    let outcome = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let kind: Option<String> = tx
                .query_row("SELECT collection_type FROM collections WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            let Some(kind) = kind else {
                return Ok(Membership::NoCollection);
            };
            if kind != "manual" {
                return Ok(Membership::NotManual);
            }
            let media = crate::db::exists(&tx, "media_items", media_id)?;
            if !media {
                return Ok(Membership::NoMedia);
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO collection_items (collection_id, media_item_id, position)
                 SELECT ?1, ?2, coalesce(max(position), -1) + 1 FROM collection_items WHERE collection_id = ?1",
                params![id, media_id],
            )?;
            if inserted == 0 {
                return Ok(Membership::Duplicate);
            }
            tx.execute(
                "UPDATE collections SET updated_at_ms = ?2 WHERE id = ?1",
                params![id, crate::time::now_ms()],
            )?;
            tx.commit()?;
            Ok(Membership::Done)
        })
        .await?;
    outcome.into_result(|| {
        app.content_changed();
        Ok(body::created_json(
            &json!({"message": "item added to the collection"}),
        ))
    })
}

async fn remove_item(app: &Arc<App>, id: i64, media_id: i64) -> ApiResult {
    let removal = app
        .db
        .write(move |conn| {
            columns::remove_member(
                conn,
                "collections",
                id,
                "DELETE FROM collection_items WHERE collection_id = ?1 AND media_item_id = ?2",
                media_id,
            )
        })
        .await?;
    let outcome = match removal {
        Removal::NoContainer => Membership::NoCollection,
        Removal::NotMember => Membership::NotMember,
        Removal::Removed => Membership::Done,
    };
    outcome.into_result(|| {
        app.content_changed();
        Ok(body::no_content())
    })
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
    let name = check_name(input.name)?;
    let ids = input.collection_ids.unwrap_or_default();
    if ids.len() > MAX_MULTI_MEMBERS {
        return Err(ApiError::invalid(
            "collection_ids",
            format_args!("more than {MAX_MULTI_MEMBERS}"),
        ));
    }
    let description = input.description;
    let result = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            for cid in &ids {
                let exists = crate::db::exists(&tx, "collections", *cid)?;
                if !exists {
                    return Ok(Err(*cid));
                }
            }
            let now = crate::time::now_ms();
            tx.execute(
                "INSERT INTO multi_collections (name, description, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?3)",
                params![name, description, now],
            )?;
            let id = tx.last_insert_rowid();
            for (position, cid) in ids.iter().enumerate() {
                tx.execute(
                    "INSERT OR IGNORE INTO multi_collection_links (multi_collection_id, collection_id, position)
                     VALUES (?1, ?2, ?3)",
                    params![id, cid, position as i64],
                )?;
            }
            tx.commit()?;
            Ok(Ok(id))
        })
        .await
        .map_err(name_taken)?;
    let id = result
        .map_err(|cid| ApiError::invalid("collection_ids", format_args!("no collection {cid}")))?;
    let value = app
        .db
        .read(move |conn| multi_json(conn, id))
        .await?
        .ok_or_else(|| ApiError::internal("multi-collection vanished after insert"))?;
    Ok(body::created(
        id,
        &json!({
            "id": value["id"], "name": value["name"], "description": value["description"],
            "collection_count": value["collection_count"],
        }),
    ))
}

async fn multi_update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let input: MultiInput = req.params().await?;
    let name = match input.name {
        Some(n) => Some(check_name(Some(n))?),
        None => None,
    };
    let description = input.description;
    let n = app
        .db
        .write(move |conn| {
            Ok(conn.execute(
                "UPDATE multi_collections SET name = coalesce(?2, name),
                     description = coalesce(?3, description), updated_at_ms = ?4 WHERE id = ?1",
                params![id, name, description, crate::time::now_ms()],
            )?)
        })
        .await
        .map_err(name_taken)?;
    if n == 0 {
        return Err(ApiError::not_found("multi-collection not found"));
    }
    multi_get(app, id).await
}

async fn multi_delete(app: &Arc<App>, id: i64) -> ApiResult {
    columns::delete_unless_scheduled(
        app,
        "multi_collections",
        "multi-collection",
        "SELECT schedule_id FROM schedule_items
         WHERE collection_type = 'multi_collection' AND collection_id = ?1 LIMIT 1",
        id,
    )
    .await
}

async fn multi_link(app: &Arc<App>, id: i64, cid: i64) -> ApiResult {
    enum Outcome {
        NoMulti,
        NoCollection,
        Full,
        Duplicate,
        Done,
    }
    let outcome = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let multi = crate::db::exists(&tx, "multi_collections", id)?;
            if !multi {
                return Ok(Outcome::NoMulti);
            }
            let coll = crate::db::exists(&tx, "collections", cid)?;
            if !coll {
                return Ok(Outcome::NoCollection);
            }
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM multi_collection_links WHERE multi_collection_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if n as usize >= MAX_MULTI_MEMBERS {
                return Ok(Outcome::Full);
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO multi_collection_links (multi_collection_id, collection_id, position)
                 SELECT ?1, ?2, coalesce(max(position), -1) + 1 FROM multi_collection_links
                 WHERE multi_collection_id = ?1",
                params![id, cid],
            )?;
            if inserted == 0 {
                return Ok(Outcome::Duplicate);
            }
            tx.commit()?;
            Ok(Outcome::Done)
        })
        .await?;
    match outcome {
        Outcome::NoMulti => Err(ApiError::not_found("multi-collection not found")),
        Outcome::NoCollection => Err(ApiError::not_found("collection not found")),
        Outcome::Full => Err(ApiError::conflict(format_args!(
            "at most {MAX_MULTI_MEMBERS} collections"
        ))),
        Outcome::Duplicate => Err(ApiError::conflict("the collection is already linked")),
        Outcome::Done => {
            app.content_changed();
            Ok(body::created_json(&json!({"message": "collection linked"})))
        }
    }
}

async fn multi_unlink(app: &Arc<App>, id: i64, cid: i64) -> ApiResult {
    let (multi, n) = app
        .db
        .write(move |conn| {
            let multi = crate::db::exists(conn, "multi_collections", id)?;
            let n = conn.execute(
                "DELETE FROM multi_collection_links WHERE multi_collection_id = ?1 AND collection_id = ?2",
                params![id, cid],
            )?;
            Ok((multi, n))
        })
        .await?;
    if !multi {
        return Err(ApiError::not_found("multi-collection not found"));
    }
    if n == 0 {
        return Err(ApiError::not_found("the collection is not linked"));
    }
    app.content_changed();
    Ok(body::no_content())
}
