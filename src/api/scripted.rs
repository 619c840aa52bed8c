//! `/api/scripted/build/{build_id}/…` (API.md §2.8) and the playout's
//! `/api/playouts/{id}/build/start|commit|cancel|sessions` (§2.7): the JSON ⇄
//! `ops::build_sessions` mapping of scripted builds. Each verb's inputs come as query
//! parameters or a JSON body; each POST answers `{build_id, action, …inputs,
//! items_buffered}`. Verbs we have no model for answer 501 with the reason.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::tx::write_tx;
use crate::app::App;
use crate::http::request::from_value;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{BuildStatus, PlaybackOrder};
use crate::ops::build_sessions::{self as ops, Session, Source, Step, Switch, Target};
use crate::ops::collections::{self, CollectionError, NewCollection};
use crate::ops::fields::{AnyId, Field, Int, Name, OneOf, Text};
use crate::ops::ids::{MediaId, PlayoutId};
use crate::ops::playlists::{self, Entry, NewPlaylist};
use crate::playout::clock::parse_time;
use crate::scheduler::BuildClock;
use crate::time::{now_ms, parse_rfc3339, rfc3339};

/// A verb's inputs, every one optional here; each verb requires its own.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Inputs {
    collection_id: Field<AnyId>,
    playlist_id: Field<AnyId>,
    multi_collection_id: Field<AnyId>,
    /// A week of programmes is the most one verb adds (`script::MAX_ITEMS_PER_VERB`).
    count: Field<Int<1, 2_000>>,
    /// At most a week.
    duration_minutes: Field<Int<1, 10_080>>,
    playback_order: Field<OneOf<PlaybackOrder>>,
    /// At most a day.
    minutes: Field<Int<1, 1_440>>,
    filler_preset_id: Field<Option<AnyId>>,
    target_time: Field<Text>,
    item_index: Field<Int<0, 1_000_000>>,
    title: Field<Name>,
    name: Field<Name>,
    media_item_ids: Field<Vec<AnyId>>,
    show_title: Field<Name>,
    season: Field<Int<0, 10_000>>,
    query: Field<Text>,
    media_type: Field<Text>,
}

impl Inputs {
    fn order(&self) -> PlaybackOrder {
        self.playback_order
            .given()
            .map_or(PlaybackOrder::Chronological, |o| o.0)
    }

    fn count(&self) -> Option<u32> {
        self.count.given().map(|c| c.0 as u32)
    }

    fn collection(&self) -> Result<Source, ApiError> {
        let id = self
            .collection_id
            .given()
            .ok_or_else(required("collection_id"))?;
        Ok(Source::Collection(id.0))
    }

    fn filler(&self) -> Option<i64> {
        self.filler_preset_id.value().map(|id| id.0)
    }

    fn target(&self) -> Result<Target, ApiError> {
        let text = &self
            .target_time
            .given()
            .ok_or_else(required("target_time"))?
            .0;
        if let Some(ms) = parse_rfc3339(text) {
            return Ok(Target::Instant(ms));
        }
        parse_time(text)
            .map(Target::Clock)
            .ok_or_else(|| ApiError::invalid("target_time", "expected RFC 3339 or \"HH:MM\""))
    }
}

fn required(field: &'static str) -> impl Fn() -> ApiError {
    move || ApiError::invalid(field, "field required")
}

/// The verbs `verb` runs (`create-playlist` has its own handler), and those `unsupported`
/// answers 501 for.
const VERBS: &[&str] = &[
    "add-count",
    "add-duration",
    "add-collection",
    "add-all",
    "add-playlist",
    "add-smart-collection",
    "pad-to-next",
    "pad-until",
    "pad-until-exact",
    "wait-until",
    "wait-until-exact",
    "skip-items",
    "skip-to-item",
    "add-multi-collection",
];

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["build", build_id, "context"] => {
            router::only_get(req)?;
            context(app, session_id(build_id)?).await
        }
        ["build", build_id, "peek-next", content_type] => {
            router::only_get(req)?;
            let content_type = content_type.to_string();
            peek(app, req, session_id(build_id)?, content_type).await
        }
        ["build", build_id, "epg-group", action] => {
            router::only(req, Verb::Post)?;
            let start = match *action {
                "start" => true,
                "stop" => false,
                _ => return Err(ApiError::not_found("unknown epg-group action")),
            };
            epg_group(app, req, session_id(build_id)?, start).await
        }
        ["build", build_id, which, state] => {
            router::only(req, Verb::Post)?;
            let which = match *which {
                "graphics" => Switch::Graphics,
                "watermark" => Switch::Watermark,
                "pre-roll" => Switch::PreRoll,
                _ => return Err(ApiError::not_found("unknown switch")),
            };
            let on = match *state {
                "on" => true,
                "off" => false,
                _ => return Err(ApiError::not_found("a switch is on or off")),
            };
            switch(app, session_id(build_id)?, which, on).await
        }
        ["build", build_id, action] => {
            router::only(req, Verb::Post)?;
            let id = session_id(build_id)?;
            if *action == "create-playlist" {
                create_playlist(app, req, id).await
            } else if *action == "add-show" || *action == "add-search" {
                add_query(app, req, id, action).await
            } else if *action == "add-marathon" {
                add_marathon(app, req, id).await
            } else if VERBS.contains(action) {
                verb(app, req, id, action).await
            } else {
                Err(ApiError::not_found("unknown scripted verb"))
            }
        }
        _ => Err(router::not_found()),
    }
}

/// A build session's id; anything else names no session (404 saying so).
fn session_id(seg: &str) -> Result<i64, ApiError> {
    router::id(seg).map_err(|_| ApiError::not_found(format_args!("no build session {seg:?}")))
}

/// The verb's inputs (merged query and body) and their typed reading.
async fn inputs(req: &mut Req) -> Result<(Map<String, Value>, Inputs), ApiError> {
    let map: Map<String, Value> = req.params().await?;
    let inputs = from_value(Value::Object(map.clone()))?;
    Ok((map, inputs))
}

/// A count of the source when one is sent, else all of it.
fn count_or_all(source: Source, order: PlaybackOrder, count: Option<u32>) -> Step {
    match count {
        Some(count) => Step::AddCount {
            source,
            order,
            count,
        },
        None => Step::AddAll { source, order },
    }
}

/// The `add-*` verbs.
fn add_step(action: &str, inputs: &Inputs) -> Result<Step, ApiError> {
    let order = inputs.order();
    Ok(match action {
        "add-count" => {
            let count = inputs.count().ok_or_else(required("count"))?;
            count_or_all(inputs.collection()?, order, Some(count))
        }
        "add-all" => count_or_all(inputs.collection()?, order, None),
        "add-smart-collection" => count_or_all(inputs.collection()?, order, inputs.count()),
        "add-collection" => match (inputs.count(), inputs.duration_minutes.given()) {
            (None, Some(minutes)) => Step::AddDuration {
                source: inputs.collection()?,
                order,
                minutes: minutes.0 as u32,
            },
            (count, _) => count_or_all(inputs.collection()?, order, count),
        },
        "add-duration" => Step::AddDuration {
            source: inputs.collection()?,
            order,
            minutes: inputs
                .duration_minutes
                .given()
                .ok_or_else(required("duration_minutes"))?
                .0 as u32,
        },
        "add-multi-collection" => {
            let id = inputs
                .multi_collection_id
                .given()
                .ok_or_else(required("multi_collection_id"))?;
            count_or_all(Source::MultiCollection(id.0), order, inputs.count())
        }
        _ => {
            let id = inputs
                .playlist_id
                .given()
                .ok_or_else(required("playlist_id"))?;
            count_or_all(Source::Playlist(id.0), order, inputs.count())
        }
    })
}

fn step(action: &str, inputs: &Inputs) -> Result<Step, ApiError> {
    let order = inputs.order();
    Ok(match action {
        "pad-to-next" => Step::PadToNext {
            minutes: inputs.minutes.given().ok_or_else(required("minutes"))?.0 as u32,
            filler: inputs.filler(),
        },
        "pad-until" | "pad-until-exact" => Step::PadUntil {
            target: inputs.target()?,
            exact: action == "pad-until-exact",
            filler: inputs.filler(),
        },
        "wait-until" | "wait-until-exact" => Step::WaitUntil {
            target: inputs.target()?,
            exact: action == "wait-until-exact",
        },
        "skip-items" => Step::SkipItems {
            source: inputs.collection()?,
            order,
            count: inputs.count().unwrap_or(1),
        },
        "skip-to-item" => Step::SkipToItem {
            source: inputs.collection()?,
            order,
            index: inputs
                .item_index
                .given()
                .ok_or_else(required("item_index"))?
                .0 as u32,
        },
        _ => return add_step(action, inputs),
    })
}

/// `POST …/{action}`: one verb at the session's cursor.
async fn verb(app: &Arc<App>, req: &mut Req, id: i64, action: &str) -> ApiResult {
    let (map, inputs) = inputs(req).await?;
    let step = step(action, &inputs)?;
    let clock = BuildClock::now(&app.settings());
    let applied = write_tx(app, move |tx| Ok(ops::apply(tx, id, step, &clock)?)).await?;
    let mut doc = answer(id, action, map, &applied.session);
    doc["items_added"] = applied.n_added.into();
    doc["current_time"] = rfc3339(applied.session.cursor_ms).into();
    Ok(body::ok_json(&doc))
}

/// `POST …/create-playlist {name*, media_item_ids*}`: a playlist of those items, in that
/// order, for a later `add-playlist` (the session must be building).
async fn create_playlist(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let (map, inputs) = inputs(req).await?;
    let name = inputs.name.given().ok_or_else(required("name"))?.0.clone();
    let mut media: Vec<MediaId> = Vec::new();
    for m in inputs
        .media_item_ids
        .given()
        .ok_or_else(required("media_item_ids"))?
    {
        if !media.contains(&MediaId(m.0)) {
            media.push(MediaId(m.0));
        }
    }
    let now = now_ms();
    let (session, playlist, changes) = write_tx(app, move |tx| {
        let session = ops::ensure_building(tx, id, now)?;
        let new = NewPlaylist {
            name,
            ..NewPlaylist::default()
        };
        let (playlist, changes) = playlists::create(tx, &new, now)?;
        for m in media {
            playlists::add(tx, playlist, Entry::Media(m), now)?;
        }
        Ok((session, playlist, changes))
    })
    .await?;
    app.apply(changes).await;
    let mut doc = answer(id, "create-playlist", map, &session);
    doc["playlist_id"] = playlist.0.into();
    Ok(body::ok_json(&doc))
}

/// `add-show {show_title*, season, count=1, playback_order=chronological}` and
/// `add-search {query*, media_type, count=1}`: the matching media are a smart collection
/// (`show:"…" season:N`, or the query in the smart-collection language), found by its query
/// or created once under a name saying what it is, then added as `add-count` adds — the
/// same builder primitive, so a show's episodes continue from session to session.
async fn add_query(app: &Arc<App>, req: &mut Req, id: i64, action: &str) -> ApiResult {
    let (map, inputs) = inputs(req).await?;
    let (query, name) = match action {
        "add-show" => {
            let title = &inputs
                .show_title
                .given()
                .ok_or_else(required("show_title"))?
                .0;
            if title.contains('"') {
                return Err(ApiError::invalid(
                    "show_title",
                    "a title with '\"' cannot be searched",
                ));
            }
            match inputs.season.given() {
                Some(season) => (
                    format!("show:\"{title}\" season:{}", season.0),
                    format!("Show: {title}, season {}", season.0),
                ),
                None => (format!("show:\"{title}\""), format!("Show: {title}")),
            }
        }
        _ => {
            let text = &inputs.query.given().ok_or_else(required("query"))?.0;
            let query = match inputs.media_type.given() {
                Some(kind) => format!("{text} type:{}", kind.0),
                None => text.clone(),
            };
            (query.clone(), format!("Search: {query}"))
        }
    };
    let field = if action == "add-show" {
        "show_title"
    } else {
        "query"
    };
    let count = inputs.count().unwrap_or(1);
    let order = inputs.order();
    let clock = BuildClock::now(&app.settings());
    let (collection, applied) = write_tx(app, move |tx| {
        ops::ensure_building(tx, id, clock.now_ms)?;
        let collection =
            smart_collection(tx, &query, &name, clock.now_ms).map_err(|e| match e {
                CollectionError::Invalid { problem, .. } => ApiError::invalid(field, problem),
                other => ApiError::from(other),
            })?;
        let step = Step::AddCount {
            source: Source::Collection(collection),
            order,
            count,
        };
        Ok((collection, ops::apply(tx, id, step, &clock)?))
    })
    .await?;
    let mut doc = answer(id, action, map, &applied.session);
    doc["collection_id"] = collection.into();
    doc["items_added"] = applied.n_added.into();
    doc["current_time"] = rfc3339(applied.session.cursor_ms).into();
    Ok(body::ok_json(&doc))
}

/// The smart collection whose query is `query` (in any case), created under `name` when
/// there is none.
fn smart_collection(
    tx: &rusqlite::Transaction<'_>,
    query: &str,
    name: &str,
    now_ms: i64,
) -> Result<i64, CollectionError> {
    use rusqlite::OptionalExtension;
    let found: Option<i64> = tx
        .query_row(
            // The language matches case-insensitively, so a query is the same one whatever
            // its case ("The Show" and "the show" share one collection and its cursor).
            "SELECT id FROM collections WHERE collection_type = 'smart'
                 AND lower(search_query) = lower(?1) ORDER BY id LIMIT 1",
            [query],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    let new = NewCollection {
        name: name.to_string(),
        description: Some("made by a scripted build".into()),
    };
    let (id, _, _) = collections::create_smart(tx, &new, query, now_ms)?;
    Ok(id.0)
}

/// `{build_id, action, …inputs, items_buffered}`.
fn answer(id: i64, action: &str, inputs: Map<String, Value>, session: &Session) -> Value {
    let mut doc = Map::new();
    doc.insert("build_id".into(), id.into());
    doc.insert("action".into(), action.into());
    doc.extend(inputs);
    doc.insert("items_buffered".into(), session.n_buffered.into());
    Value::Object(doc)
}

async fn switch(app: &Arc<App>, id: i64, which: Switch, on: bool) -> ApiResult {
    let session = write_tx(app, move |tx| Ok(ops::switch(tx, id, which, on, now_ms())?)).await?;
    let name = match which {
        Switch::Graphics => "graphics",
        Switch::Watermark => "watermark",
        Switch::PreRoll => "pre-roll",
    };
    let action = format!("{name}/{}", if on { "on" } else { "off" });
    let mut doc = answer(id, &action, Map::new(), &session);
    doc["enabled"] = on.into();
    Ok(body::ok_json(&doc))
}

async fn epg_group(app: &Arc<App>, req: &mut Req, id: i64, start: bool) -> ApiResult {
    let (map, inputs) = inputs(req).await?;
    let title = match (start, inputs.title.given()) {
        (false, _) => None,
        (true, Some(title)) => Some(title.0.clone()),
        (true, None) => return Err(required("title")()),
    };
    let session = write_tx(app, move |tx| {
        Ok(ops::epg_group(tx, id, title.as_deref(), now_ms())?)
    })
    .await?;
    let action = if start {
        "epg-group/start"
    } else {
        "epg-group/stop"
    };
    Ok(body::ok_json(&answer(id, action, map, &session)))
}

/// `add-marathon {show_id*, count}`: a show's every episode (or the first `count`), in
/// season/episode order. A show has no id of its own here: `show_id` is its title, as
/// `/api/media/shows` lists it, or the id of one of its episodes.
async fn add_marathon(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let (map, inputs) = inputs(req).await?;
    let title = match map.get("show_id") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_owned(),
        Some(Value::Number(n)) => {
            let episode = n
                .as_i64()
                .ok_or_else(|| ApiError::invalid("show_id", "not an id"))?;
            show_of(app, episode).await?
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "show_id",
                "a show's title or an episode's id",
            ))
        }
        None => return Err(required("show_id")()),
    };
    if title.contains('"') {
        return Err(ApiError::invalid(
            "show_id",
            "a title with '\"' cannot be searched",
        ));
    }
    let query = format!("show:\"{title}\"");
    let name = format!("Marathon: {title}");
    let count = inputs.count();
    let clock = BuildClock::now(&app.settings());
    let (collection, applied) = write_tx(app, move |tx| {
        ops::ensure_building(tx, id, clock.now_ms)?;
        let collection = smart_collection(tx, &query, &name, clock.now_ms)
            .map_err(|e| ApiError::invalid("show_id", e))?;
        let n: i64 = tx
            .query_row(
                "SELECT count(*) FROM collection_items WHERE collection_id = ?1",
                [collection],
                |r| r.get(0),
            )
            .map_err(crate::db::DbError::from)?;
        if n == 0 {
            return Err(ApiError::invalid(
                "show_id",
                format_args!("no episodes of \"{title}\""),
            ));
        }
        let source = Source::Collection(collection);
        let step = count_or_all(source, PlaybackOrder::SeasonEpisode, count);
        Ok((collection, ops::apply(tx, id, step, &clock)?))
    })
    .await?;
    let mut doc = answer(id, "add-marathon", map, &applied.session);
    doc["collection_id"] = collection.into();
    doc["items_added"] = applied.n_added.into();
    doc["current_time"] = rfc3339(applied.session.cursor_ms).into();
    Ok(body::ok_json(&doc))
}

/// The show the media item `episode` belongs to (422 naming `show_id` when none).
async fn show_of(app: &Arc<App>, episode: i64) -> Result<String, ApiError> {
    let title: Option<Option<String>> = app
        .db
        .read(move |conn| {
            use rusqlite::OptionalExtension;
            Ok(conn
                .query_row(
                    "SELECT show_title FROM media_items WHERE id = ?1",
                    [episode],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await?;
    title
        .flatten()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "show_id",
                format_args!("media item {episode} is no show's episode"),
            )
        })
}

fn flags(session: &Session) -> [(String, Value); 3] {
    [
        ("watermark_enabled".into(), session.watermark_enabled.into()),
        ("graphics_enabled".into(), session.graphics_enabled.into()),
        ("pre_roll_enabled".into(), session.pre_roll_enabled.into()),
    ]
}

/// `GET …/context`.
async fn context(app: &Arc<App>, id: i64) -> ApiResult {
    let session = write_tx(app, move |tx| Ok(ops::session(tx, id, now_ms())?)).await?;
    let mut doc = json!({
        "build_id": id,
        "playout_id": session.playout_id,
        "status": session.status,
        "current_time": rfc3339(session.cursor_ms),
        "items_buffered": session.n_buffered,
        "epg_group_active": session.epg_group_title.is_some(),
        "epg_group_title": session.epg_group_title,
        "expires_at": rfc3339(session.expires_at_ms),
        "state": serde_json::to_value(&session.anchor).map_err(ApiError::internal)?,
    });
    if let Value::Object(map) = &mut doc {
        map.extend(flags(&session));
    }
    Ok(body::ok_json(&doc))
}

/// `GET …/peek-next/{content_type}`: what a collection or playlist plays next.
async fn peek(app: &Arc<App>, req: &mut Req, id: i64, content_type: String) -> ApiResult {
    let (_, inputs) = inputs(req).await?;
    let source = match content_type.as_str() {
        "collection" | "smart_collection" | "smart-collection" => inputs.collection()?,
        "playlist" => Source::Playlist(
            inputs
                .playlist_id
                .given()
                .ok_or_else(required("playlist_id"))?
                .0,
        ),
        _ => {
            return Err(ApiError::invalid(
                "content_type",
                "expected collection, smart_collection or playlist",
            ))
        }
    };
    let order = inputs.order();
    let clock = BuildClock::now(&app.settings());
    let next = write_tx(app, move |tx| Ok(ops::peek(tx, id, source, order, &clock)?)).await?;
    Ok(body::ok_json(&json!({
        "build_id": id,
        "content_type": content_type,
        "media_item_id": next.as_ref().map(|m| m.id),
        "title": next.as_ref().map(|m| m.show_title.clone().unwrap_or_else(|| m.title.clone())),
        "episode_title": next.as_ref().and_then(|m| m.show_title.as_ref().map(|_| m.title.clone())),
        "duration_seconds": next.as_ref().map(|m| m.duration_ms as f64 / 1000.0),
    })))
}

/// `POST /api/playouts/{id}/build/start|commit|cancel`.
pub async fn build_action(app: &Arc<App>, req: &mut Req, playout: i64, action: &str) -> ApiResult {
    let playout = PlayoutId(playout);
    let clock = BuildClock::now(&app.settings());
    if action == "start" {
        let (session, created) =
            write_tx(app, move |tx| Ok(ops::start(tx, playout, &clock)?)).await?;
        let message = if created {
            "build session started"
        } else {
            "a build session is already open: returning it"
        };
        return Ok(body::ok_json(&json!({
            "session_id": session.id, "playout_id": playout, "status": session.status,
            "current_time": rfc3339(session.cursor_ms), "expires_at": rfc3339(session.expires_at_ms),
            "message": message,
        })));
    }
    #[derive(Deserialize)]
    struct Query {
        session_id: Field<AnyId>,
    }
    let query: Query = req.params_requiring(&["session_id"]).await?;
    let id = query
        .session_id
        .given()
        .ok_or_else(required("session_id"))?
        .0;
    if action == "cancel" {
        let session = write_tx(app, move |tx| {
            Ok(ops::cancel(tx, playout, id, clock.now_ms)?)
        })
        .await?;
        return Ok(body::ok_json(&json!({
            "session_id": id, "playout_id": playout, "status": session.status,
            "message": "build session cancelled; the timeline is unchanged",
        })));
    }
    let (session, changes) =
        write_tx(app, move |tx| Ok(ops::commit(tx, playout, id, &clock)?)).await?;
    app.apply(changes).await;
    let n_added = session.n_buffered;
    Ok(body::ok_json(&json!({
        "session_id": id, "playout_id": playout, "status": session.status,
        "items_added": n_added,
        "message": format!("committed: {n_added} programmes replace the timeline from {}", rfc3339(session.start_ms)),
    })))
}

/// `GET /api/playouts/{id}/build/sessions?status_filter=`.
pub async fn sessions(app: &Arc<App>, req: &Req, playout: i64) -> ApiResult {
    let status = match req.query("status_filter") {
        None => None,
        Some(text) => Some(
            text.parse::<BuildStatus>()
                .map_err(|err| ApiError::bad_request(format_args!("status_filter: {err}")))?,
        ),
    };
    let playout = PlayoutId(playout);
    let list = write_tx(app, move |tx| Ok(ops::list(tx, playout, status, now_ms())?)).await?;
    let docs: Vec<Value> = list
        .iter()
        .map(|s| {
            let mut doc = json!({
                "session_id": s.id, "playout_id": s.playout_id, "status": s.status,
                "current_time": rfc3339(s.cursor_ms), "expires_at": rfc3339(s.expires_at_ms),
                "created_at": rfc3339(s.created_at_ms),
            });
            if let Value::Object(map) = &mut doc {
                map.extend(flags(s));
            }
            doc
        })
        .collect();
    Ok(body::ok_json(&docs))
}
