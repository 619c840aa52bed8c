//! `/api/playouts`: playout CRUD (creating or re-pointing one builds its timeline at once),
//! and the views and actions on the stored timeline: items, now-playing, history, rebuild,
//! skip. One active playout per channel: activating one deactivates the channel's others.

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};

use super::tx::{read, write_tx, SqlResult};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    ids::{ChannelId, ScheduleId},
    playouts::{NewPlayout, PlayoutId, PlayoutPatch},
};
use crate::scheduler::BuildClock;
use crate::time::{now_ms, rfc3339};

row_view! {
    /// A playout as `/api/playouts` sends it.
    pub struct PlayoutView {
        id: PlayoutId,
        channel_id: ChannelId,
        program_schedule_id: Option<ScheduleId>,
        template_id: Option<i64>,
        playout_type: String,
        daily_reset_time: Option<String>,
        is_active: bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

/// A playout with where its next rebuild resumes, as `GET /api/playouts/{id}` sends it.
#[derive(Debug, Serialize)]
struct WithAnchor {
    #[serde(flatten)]
    playout: PlayoutView,
    anchor: Option<Anchor>,
}

/// The builder's resume point (`playouts.anchor`), as the API shows it.
#[derive(Debug, Serialize)]
struct Anchor {
    next_start: Value,
    collection_state: Value,
}

/// `?limit=` of the items view: a day of short items; larger pages go by offset.
const MAX_ITEMS_LIMIT: i64 = 1_000;
const MAX_HISTORY_LIMIT: i64 = 1_000;
/// `GET /api/playouts/channel/{num}` lists at most this many blocks (API.md).
const MAX_TIME_BLOCKS: i64 = 50;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => {
                let channel_id = req.query_parsed::<i64>("channel_id")?;
                let list = read(app, move |conn| list(conn, channel_id)).await?;
                Ok(body::ok_json(&list))
            },
            Post => create(app, req).await,
        }),
        ["channel", number] => {
            router::only_get(req)?;
            by_channel_number(app, number).await
        }
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| with_anchor(conn, id)).await?)),
                Put | Patch => update(app, req, PlayoutId(id)).await,
                Delete => delete(app, PlayoutId(id)).await,
            })
        }
        [id, "items"] => {
            router::only_get(req)?;
            items(app, req, router::id(id)?).await
        }
        [id, "now-playing"] => {
            router::only_get(req)?;
            let id = router::id(id)?;
            let doc = read(app, move |conn| now_playing(conn, id, now_ms())).await?;
            Ok(body::ok_json(&doc))
        }
        [id, "history"] => {
            router::only_get(req)?;
            played(app, req, router::id(id)?).await
        }
        [id, "rebuild"] => {
            router::only(req, Verb::Post)?;
            rebuild(app, PlayoutId(router::id(id)?)).await
        }
        [id, "skip"] => {
            router::only(req, Verb::Post)?;
            skip(app, router::id(id)?).await
        }
        [id, "cancel-skip"] => {
            router::only(req, Verb::Post)?;
            let id = router::id(id)?;
            read(app, move |conn| ensure(conn, id)).await?;
            // Honest, unlike EXStreamTV's placeholder: a skip is applied at once and is final.
            Ok(body::ok_json(&json!({
                "playout_id": id, "cancelled": false,
                "message": "a skip takes effect immediately and cannot be cancelled; rebuild to re-plan from now",
            })))
        }
        _ => Err(router::not_found()),
    }
}

/// `GET /api/playouts/{id}/items`: a page of the stored timeline.
async fn items(app: &Arc<App>, req: &Req, id: i64) -> ApiResult {
    let limit = req.query_parsed::<i64>("limit")?.unwrap_or(100);
    let offset = req.query_parsed::<i64>("offset")?.unwrap_or(0);
    if !(1..=MAX_ITEMS_LIMIT).contains(&limit) || offset < 0 {
        return Err(ApiError::bad_request(format_args!(
            "query parameters: limit must be 1-{MAX_ITEMS_LIMIT}, offset ≥ 0"
        )));
    }
    let doc = read(app, move |conn| {
        ensure(conn, id)?;
        let items = items_page(conn, id, limit, offset)?;
        let total: i64 = conn
            .query_row(
                "SELECT count(*) FROM playout_items WHERE playout_id = ?1",
                [id],
                |r| r.get(0),
            )
            .api()?;
        Ok(
            json!({"playout_id": id, "count": items.len(), "offset": offset,
                  "limit": limit, "total": total, "items": items}),
        )
    })
    .await?;
    Ok(body::ok_json(&doc))
}

/// `GET /api/playouts/{id}/history`: what played, newest first.
async fn played(app: &Arc<App>, req: &Req, id: i64) -> ApiResult {
    let limit = req.query_parsed::<i64>("limit")?.unwrap_or(50);
    if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format_args!(
            "query parameter limit: must be 1-{MAX_HISTORY_LIMIT}"
        )));
    }
    let doc = read(app, move |conn| history(conn, id, limit, now_ms())).await?;
    Ok(body::ok_json(&doc))
}

/// `POST /api/playouts/{id}/skip`: ends what plays now (`scheduler::skip` applies its own
/// `Changes`: it needs a connection of its own, not the caller's transaction).
async fn skip(app: &Arc<App>, id: i64) -> ApiResult {
    read(app, move |conn| {
        ensure(conn, id)?;
        refuse_mirror(conn, id)
    })
    .await?;
    let doc = match crate::scheduler::skip(app, id).await? {
        Some(skipped) => json!({
            "playout_id": id, "skipped": true, "skipped_item_id": skipped.item_id,
            "skipped_title": skipped.title,
            "message": format!("skipped; later items start {} s earlier", skipped.shift_ms / 1000),
        }),
        None => json!({"playout_id": id, "skipped": false, "skipped_item_id": null,
                       "skipped_title": null, "message": "nothing is playing"}),
    };
    Ok(body::ok_json(&doc))
}

fn not_found() -> ApiError {
    ApiError::not_found("playout not found")
}

/// The playout with where its next rebuild resumes (`anchor`), as `GET /api/playouts/{id}`
/// shows it.
fn with_anchor(conn: &rusqlite::Connection, id: i64) -> Result<WithAnchor, ApiError> {
    let playout = rendered(conn, PlayoutId(id))?;
    let anchor: Option<String> = conn
        .query_row("SELECT anchor FROM playouts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .api()?;
    let anchor = anchor
        .and_then(|a| serde_json::from_str::<Value>(&a).ok())
        .map(|a| Anchor {
            next_start: a["next_start"].clone(),
            collection_state: a["state"].clone(),
        });
    Ok(WithAnchor { playout, anchor })
}

fn ensure(conn: &rusqlite::Connection, id: i64) -> Result<(), ApiError> {
    if crate::db::exists(conn, "playouts", id)? {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// A mirror plays its source's timeline: skipping is done on the source (409 otherwise).
fn refuse_mirror(conn: &rusqlite::Connection, id: i64) -> Result<(), ApiError> {
    use crate::scheduler::mirror::{self, Source};
    let Some(channel_id) = mirror::playout_channel(conn, id)? else {
        return Ok(());
    };
    match mirror::source_of(conn, channel_id)? {
        Source::Generated => Ok(()),
        Source::Mirror { root, .. } => Err(ApiError::conflict(format_args!(
            "this playout mirrors channel {}: skip on the source channel",
            root.map_or_else(|| "(none)".to_string(), |r| r.to_string())
        ))),
    }
}

/// One playout, `None` when absent.
pub fn get(conn: &rusqlite::Connection, id: PlayoutId) -> Result<Option<PlayoutView>, ApiError> {
    Ok(view::get(conn, "playouts", id.0)?)
}

/// Every playout, or one channel's.
pub fn list(
    conn: &rusqlite::Connection,
    channel_id: Option<i64>,
) -> Result<Vec<PlayoutView>, ApiError> {
    Ok(view::list(
        conn,
        "playouts WHERE ?1 IS NULL OR channel_id = ?1 ORDER BY id",
        [channel_id],
    )?)
}

/// Every playout, or one channel's, as JSON (`list`, for callers that want `Value`s).
pub fn list_json(
    conn: &rusqlite::Connection,
    channel_id: Option<i64>,
) -> Result<Vec<Value>, ApiError> {
    list(conn, channel_id)?
        .into_iter()
        .map(|playout| serde_json::to_value(playout).map_err(ApiError::internal))
        .collect()
}

const ITEM_COLUMNS: &str = "id, media_item_id, source_url, title, episode_title, start_ms,
    finish_ms, filler_kind, custom_title, in_point_ms";

fn item_json(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let start: i64 = r.get(5)?;
    let finish: i64 = r.get(6)?;
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "media_item_id": r.get::<_, Option<i64>>(1)?,
        "source_url": r.get::<_, Option<String>>(2)?,
        "title": r.get::<_, String>(3)?,
        "episode_title": r.get::<_, Option<String>>(4)?,
        "start_time": rfc3339(start),
        "finish_time": rfc3339(finish),
        "duration_seconds": (finish - start) as f64 / 1000.0,
        "filler_kind": r.get::<_, Option<String>>(7)?,
        "custom_title": r.get::<_, Option<String>>(8)?,
        "in_point_seconds": r.get::<_, i64>(9)? as f64 / 1000.0,
    }))
}

fn items_page(
    conn: &rusqlite::Connection,
    id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Value>, ApiError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM playout_items WHERE playout_id = ?1
             ORDER BY start_ms LIMIT ?2 OFFSET ?3"
        ))
        .api()?;
    let rows = stmt
        .query_map(params![id, limit, offset], item_json)
        .api()?;
    rows.collect::<Result<Vec<_>, _>>().api()
}

/// Items overlapping `[from_ms, to_ms)`, in time order.
pub fn items_between(
    conn: &rusqlite::Connection,
    id: i64,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Value>, ApiError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM playout_items
             WHERE playout_id = ?1 AND finish_ms > ?2 AND start_ms < ?3 ORDER BY start_ms"
        ))
        .api()?;
    let rows = stmt
        .query_map(params![id, from_ms, to_ms], item_json)
        .api()?;
    rows.collect::<Result<Vec<_>, _>>().api()
}

fn now_playing(conn: &rusqlite::Connection, id: i64, now: i64) -> Result<Value, ApiError> {
    ensure(conn, id)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, title, episode_title, start_ms, finish_ms FROM playout_items
             WHERE playout_id = ?1 AND finish_ms > ?2 ORDER BY start_ms LIMIT 2",
        )
        .api()?;
    let rows = stmt
        .query_map(params![id, now], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .api()?
        .collect::<Result<Vec<_>, _>>()
        .api()?;
    let mut rows = rows.into_iter().peekable();
    let current = match rows.peek() {
        Some((_, _, _, start, _)) if *start <= now => rows.next(),
        _ => None,
    };
    let next = rows.next();
    Ok(json!({
        "playout_id": id,
        "current_time": rfc3339(now),
        "current": current.map(|(item_id, title, episode_title, start, finish)| json!({
            "id": item_id, "title": title, "episode_title": episode_title,
            "start_time": rfc3339(start), "finish_time": rfc3339(finish),
            "progress_seconds": (now - start) as f64 / 1000.0,
            "duration_seconds": (finish - start) as f64 / 1000.0,
        })),
        "next": next.map(|(item_id, title, _, start, _)| json!({
            "id": item_id, "title": title, "start_time": rfc3339(start),
            "starts_in_seconds": (start - now) as f64 / 1000.0,
        })),
    }))
}

/// What played, newest first: items that finished (still on the timeline) and the history
/// table (retired and skipped items).
fn history(conn: &rusqlite::Connection, id: i64, limit: i64, now: i64) -> Result<Value, ApiError> {
    ensure(conn, id)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, title, media_item_id, source_url, start_ms, finish_ms, status, error_message
             FROM (
                 SELECT id, title, media_item_id, source_url, started_at_ms AS start_ms,
                        finished_at_ms AS finish_ms, status, error_message
                 FROM playout_history WHERE playout_id = ?1
                 UNION ALL
                 SELECT id, title, media_item_id, source_url, start_ms, finish_ms, 'played', NULL
                 FROM playout_items WHERE playout_id = ?1 AND finish_ms <= ?2
             ) ORDER BY start_ms DESC LIMIT ?3",
        )
        .api()?;
    let rows = stmt
        .query_map(params![id, now, limit], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "title": r.get::<_, String>(1)?,
                "media_item_id": r.get::<_, Option<i64>>(2)?,
                "source_url": r.get::<_, Option<String>>(3)?,
                "started_at": rfc3339(r.get(4)?),
                "finished_at": r.get::<_, Option<i64>>(5)?.map(rfc3339),
                "status": r.get::<_, String>(6)?,
                "error_message": r.get::<_, Option<String>>(7)?,
            }))
        })
        .api()?;
    Ok(Value::Array(rows.collect::<Result<Vec<_>, _>>().api()?))
}

fn rendered(conn: &rusqlite::Connection, id: PlayoutId) -> Result<PlayoutView, ApiError> {
    get(conn, id)?.ok_or_else(not_found)
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let new = NewPlayout {
        patch: req.params_requiring(&["channel_id"]).await?,
        seed: random_seed()?,
    };
    let clock = BuildClock::now(&app.settings());
    // Committed with its timeline: no client lists the playout (or tunes its channel)
    // before it has programmes.
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::playouts::create(tx, &new, &clock)?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: PlayoutId) -> ApiResult {
    let patch: PlayoutPatch = req.params().await?;
    let clock = BuildClock::now(&app.settings());
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::playouts::update(tx, id, &patch, &clock)?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: PlayoutId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::playouts::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

/// Rebuilds a playout from now (also `/api/settings/plex/rebuild-channel-playout`).
pub async fn rebuild(app: &Arc<App>, id: PlayoutId) -> ApiResult {
    let clock = BuildClock::now(&app.settings());
    let (outcome, changes) =
        write_tx(app, move |tx| Ok(ops::playouts::rebuild(tx, id, &clock)?)).await?;
    app.apply(changes).await;
    Ok(body::ok_json(&json!({
        "playout_id": id, "status": "rebuilt",
        "message": format!("rebuilt from now: {} items ahead, {} written", outcome.n_ahead, outcome.n_written),
        "items": outcome.n_ahead,
    })))
}

/// A fresh shuffle seed, stored with the playout (non-negative: SQLite integers are signed).
pub fn random_seed() -> Result<i64, ApiError> {
    let bytes = crate::http::auth::random_bytes::<8>().map_err(ApiError::internal)?;
    Ok((u64::from_le_bytes(bytes) >> 1) as i64)
}

async fn by_channel_number(app: &Arc<App>, number: &str) -> ApiResult {
    let number = number.to_string();
    let now = now_ms();
    let doc = read(app, move |conn| {
        let channel = crate::api::channels::by_number(conn, &number)?;
        let Some((channel_id, number, name, enabled)) = channel else {
            return Err(ApiError::not_found("channel not found"));
        };
        let playout_id: Option<i64> = conn
            .query_row(
                "SELECT id FROM playouts WHERE channel_id = ?1 AND is_active = 1 ORDER BY id LIMIT 1",
                [channel_id],
                |r| r.get(0),
            )
            .optional()
            .api()?;
        let playout = match playout_id {
            Some(pid) => get(conn, PlayoutId(pid))?,
            None => None,
        };
        let schedule = match playout.as_ref().and_then(|p| p.program_schedule_id) {
            Some(sid) => conn
                .query_row(
                    "SELECT s.id, s.name, (SELECT count(*) FROM schedule_items WHERE schedule_id = s.id)
                     FROM schedules s WHERE s.id = ?1",
                    [sid],
                    |r| {
                        let n: i64 = r.get(2)?;
                        Ok(json!({"id": r.get::<_, i64>(0)?, "name": r.get::<_, String>(1)?,
                                  "file": null, "description": null,
                                  "content_items": n, "sequences": 0}))
                    },
                )
                .optional()
                .api()?,
            None => None,
        };
        let mut blocks = Vec::new();
        if let Some(pid) = playout_id {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT title, start_ms, finish_ms, filler_kind FROM playout_items
                     WHERE playout_id = ?1 AND finish_ms > ?2 ORDER BY start_ms LIMIT ?3",
                )
                .api()?;
            let rows = stmt
                .query_map(params![pid, now, MAX_TIME_BLOCKS], |r| {
                    let start: i64 = r.get(1)?;
                    let finish: i64 = r.get(2)?;
                    Ok(json!({"title": r.get::<_, String>(0)?, "start_time": rfc3339(start),
                              "end_time": rfc3339(finish), "duration": (finish - start) / 1000,
                              "filler_kind": r.get::<_, Option<String>>(3)?}))
                })
                .api()?;
            blocks = rows.collect::<Result<Vec<_>, _>>().api()?;
        }
        Ok(json!({"channel_number": number, "channel_name": name, "enabled": enabled,
                  "playout": playout, "schedule": schedule, "time_blocks": blocks}))
    })
    .await?;
    Ok(body::ok_json(&doc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_are_non_negative() {
        for _ in 0..100 {
            assert!(super::random_seed().unwrap() >= 0);
        }
    }
}
