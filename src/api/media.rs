//! `/api/media`: the media items — filtered, sorted and paged lists (SQL `LIMIT`/`OFFSET`,
//! never the whole table), counts, filter values, shows and their episodes, search, one
//! item, delete and adding one local file (the writes are `ops::media`) — and the open
//! artwork files under `/static/artwork/{id}/{kind}` that M3U `tvg-logo` and XMLTV `<icon>`
//! point at.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

use super::tx::write_tx;
use super::view::{self, row_view, RowView, Stamp};
use crate::app::App;
use crate::db::DbError;
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::library::probe::Probe;
use crate::ops::{
    self,
    media::{MediaId, NewMedia},
};

/// Page size when none is asked for (API.md).
const DEFAULT_LIMIT: i64 = 100;
/// The largest page: bounds one response however large the library.
const MAX_LIMIT: i64 = 1000;
/// Search results when `limit` is absent (API.md).
const DEFAULT_SEARCH_LIMIT: i64 = 50;
/// Artwork files above this are not served (a poster is a few hundred KiB).
const MAX_ARTWORK_BYTES: u64 = 16 * 1024 * 1024;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        ["count"] => {
            router::only_get(req)?;
            count(app, req).await
        }
        ["filters"] => {
            router::only_get(req)?;
            filters(app, req).await
        }
        ["shows"] => {
            router::only_get(req)?;
            shows(app, req).await
        }
        ["search"] => {
            router::only_get(req)?;
            search(app, req).await
        }
        ["plex", "from-rating-key"] => {
            router::only(req, router::Verb::Post)?;
            super::remote_libraries::from_rating_key(app, req).await
        }
        ["shows", title, "episodes"] => {
            router::only_get(req)?;
            let title = crate::http::query::percent_decode(title).into_owned();
            episodes(app, title).await
        }
        [id] => {
            let id = MediaId(router::id(id)?);
            by_verb!(req, {
                Get => get(app, id.0).await,
                Delete => delete(app, id).await,
            })
        }
        _ => Err(router::not_found()),
    }
}

row_view! {
    /// API.md's MediaItem, plus ours: the probe's findings, `probe_error`, `is_missing`,
    /// `episode_number_end`, `file_size`. `duration` is in seconds, to the millisecond;
    /// `uploader`, `upload_date` and `view_count` (online sources) are always `null` here.
    pub struct MediaView {
        id: MediaId,
        source: String,
        source_id: Option<String>,
        external_id: Option<String>,
        library_id: Option<i64>,
        url: String,
        title: String,
        description: Option<String>,
        duration = "duration_ms / 1000.0": Option<f64>,
        thumbnail: Option<String>,
        poster_path: Option<String>,
        art_url: Option<String>,
        uploader = "NULL": Option<String>,
        upload_date = "NULL": Option<String>,
        view_count = "NULL": Option<i64>,
        meta_data: Option<String>,
        media_type: Option<String>,
        year: Option<i64>,
        content_rating: Option<String>,
        genres: Option<String>,
        studio: Option<String>,
        show_title: Option<String>,
        season_number: Option<i64>,
        episode_number: Option<i64>,
        episode_number_end: Option<i64>,
        added_date = "added_at_ms": Option<Stamp>,
        originally_available: Option<String>,
        rating: Option<f64>,
        created_at = "created_at_ms": Option<Stamp>,
        updated_at = "updated_at_ms": Option<Stamp>,
        container: Option<String>,
        video_codec: Option<String>,
        width: Option<i64>,
        height: Option<i64>,
        frame_rate: Option<f64>,
        field_order: Option<String>,
        audio_codec: Option<String>,
        audio_channels: Option<i64>,
        audio_sample_rate: Option<i64>,
        probe_error: Option<String>,
        is_missing: bool,
        file_size: Option<i64>,
    }
}

/// One media item as JSON, if it exists.
pub fn media_by_id(conn: &Connection, id: i64) -> Result<Option<MediaView>, DbError> {
    view::get(conn, "media_items", id)
}

/// One media item with its streams (ffprobe's list, as the scanner stored it).
#[derive(serde::Serialize)]
struct MediaDetail {
    #[serde(flatten)]
    item: MediaView,
    streams: Option<serde_json::Value>,
}

/// A `WHERE` built from query filters, with its parameters in order.
#[derive(Default)]
struct Filter {
    clauses: Vec<&'static str>,
    params: Vec<Value>,
}

impl Filter {
    fn add(&mut self, clause: &'static str, values: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause);
        self.params.extend(values);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

fn text(v: &str) -> Value {
    Value::Text(v.to_string())
}

/// The list filters of API.md (+ ours: `show`, `include_missing=false`).
fn list_filter(req: &Req) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    if let Some(v) = req.query("source") {
        f.add("source = ?", [text(&v)]);
    }
    if let Some(v) = req.query_parsed::<i64>("library_id")? {
        f.add("library_id = ?", [Value::Integer(v)]);
    }
    if let Some(v) = req.query("media_type") {
        f.add("media_type = ?", [text(&v)]);
    }
    if let Some(v) = req.query_parsed::<i64>("year")? {
        f.add("year = ?", [Value::Integer(v)]);
    }
    if let Some(v) = req.query_parsed::<i64>("year_min")? {
        f.add("year >= ?", [Value::Integer(v)]);
    }
    if let Some(v) = req.query_parsed::<i64>("year_max")? {
        f.add("year <= ?", [Value::Integer(v)]);
    }
    if let Some(v) = req.query_parsed::<f64>("duration_min")? {
        f.add("duration_ms >= ?", [Value::Integer((v * 1000.0) as i64)]);
    }
    if let Some(v) = req.query_parsed::<f64>("duration_max")? {
        f.add("duration_ms <= ?", [Value::Integer((v * 1000.0) as i64)]);
    }
    if let Some(v) = req.query("content_rating") {
        f.add("content_rating = ?", [text(&v)]);
    }
    if let Some(v) = req.query("genre") {
        f.add(
            "instr(',' || lower(replace(genres, ', ', ',')) || ',', ',' || lower(?) || ',') > 0",
            [text(&v)],
        );
    }
    if let Some(v) = req.query("show") {
        f.add("show_title = ?", [text(&v)]);
    }
    if let Some(v) = req.query("search").filter(|v| !v.is_empty()) {
        f.add(
            "(instr(lower(title), lower(?)) > 0 OR instr(lower(coalesce(show_title, '')), lower(?)) > 0)",
            [text(&v), text(&v)],
        );
    }
    if req.query_parsed::<bool>("include_missing")? == Some(false) {
        f.add("is_missing = 0", []);
    }
    Ok(f)
}

fn paging(req: &Req, default_limit: i64) -> Result<(i64, i64), ApiError> {
    let skip = req.query_parsed::<i64>("skip")?.unwrap_or(0);
    let limit = req.query_parsed::<i64>("limit")?.unwrap_or(default_limit);
    if skip < 0 {
        return Err(ApiError::bad_request(
            "query parameter skip: must be 0 or more",
        ));
    }
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format_args!(
            "query parameter limit: must be 1 to {MAX_LIMIT}"
        )));
    }
    Ok((skip, limit))
}

async fn list(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let filter = list_filter(req)?;
    let (skip, limit) = paging(req, DEFAULT_LIMIT)?;
    let sort_column = match req.query("sort_by").as_deref().unwrap_or("title") {
        "title" => "lower(title)",
        "year" => "year",
        "duration" => "duration_ms",
        "created_at" => "created_at_ms",
        "added_date" => "added_at_ms",
        other => {
            return Err(ApiError::bad_request(format_args!(
                "query parameter sort_by: {other:?} is not title, year, duration, created_at or added_date"
            )))
        }
    };
    let order = match req.query("sort_order").as_deref().unwrap_or("asc") {
        "asc" => "ASC",
        "desc" => "DESC",
        other => {
            return Err(ApiError::bad_request(format_args!(
                "query parameter sort_order: {other:?} is not asc or desc"
            )))
        }
    };
    let paginated = req.query_parsed::<bool>("paginated")?.unwrap_or(false);
    let where_sql = filter.sql();
    let (items, total) = app
        .db
        .read(move |conn| {
            let sql = format!(
                "SELECT {} FROM media_items WHERE {where_sql}
                 ORDER BY {sort_column} {order}, id {order} LIMIT {limit} OFFSET {skip}",
                MediaView::select_list()
            );
            let mut stmt = conn.prepare(&sql)?;
            let items = stmt
                .query_map(params_from_iter(filter.params.iter()), MediaView::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let total: Option<i64> = if paginated {
                Some(conn.query_row(
                    &format!("SELECT count(*) FROM media_items WHERE {where_sql}"),
                    params_from_iter(filter.params.iter()),
                    |r| r.get(0),
                )?)
            } else {
                None
            };
            Ok((items, total))
        })
        .await?;
    match total {
        Some(total) => Ok(body::ok_json(&json!({
            "items": items, "total": total, "skip": skip, "limit": limit,
            "has_more": skip + (items.len() as i64) < total,
        }))),
        None => Ok(body::ok_json(&items)),
    }
}

async fn search(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let q = req
        .query("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("query parameter q: required"))?
        .into_owned();
    let source = req.query("source").map(|s| s.into_owned());
    let limit = req
        .query_parsed::<i64>("limit")?
        .unwrap_or(DEFAULT_SEARCH_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format_args!(
            "query parameter limit: must be 1 to {MAX_LIMIT}"
        )));
    }
    let items = app
        .db
        .read(move |conn| {
            let sql = format!(
                "SELECT {} FROM media_items
                 WHERE (instr(lower(title), lower(?1)) > 0
                        OR instr(lower(coalesce(show_title, '')), lower(?1)) > 0
                        OR instr(lower(coalesce(description, '')), lower(?1)) > 0)
                   AND (?2 IS NULL OR source = ?2)
                 ORDER BY lower(title), id LIMIT ?3",
                MediaView::select_list()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params![q, source, limit], MediaView::from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(body::ok_json(&items))
}

async fn count(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let source = req.query("source").map(|s| s.into_owned());
    let value = app
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT source, count(*) FROM media_items
                 WHERE ?1 IS NULL OR source = ?1 GROUP BY source ORDER BY source",
            )?;
            let mut by_source = serde_json::Map::new();
            let mut total = 0i64;
            for row in stmt.query_map([source], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })? {
                let (s, n) = row?;
                total += n;
                by_source.insert(s, n.into());
            }
            Ok(json!({"total": total, "by_source": by_source}))
        })
        .await?;
    Ok(body::ok_json(&value))
}

async fn filters(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let source = req.query("source").map(|s| s.into_owned());
    let library_id = req.query_parsed::<i64>("library_id")?;
    let value = app
        .db
        .read(move |conn| {
            let distinct = |column: &str| -> Result<Vec<serde_json::Value>, crate::db::DbError> {
                let sql = format!(
                    "SELECT DISTINCT {column} FROM media_items
                     WHERE {column} IS NOT NULL AND (?1 IS NULL OR source = ?1)
                       AND (?2 IS NULL OR library_id = ?2)
                     ORDER BY {column}"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt.query_map(rusqlite::params![source, library_id], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })?;
                let mut out = Vec::new();
                for v in rows {
                    out.push(match v? {
                        Value::Integer(i) => i.into(),
                        Value::Text(t) => t.into(),
                        _ => serde_json::Value::Null,
                    });
                }
                Ok(out)
            };
            let mut years = distinct("year")?;
            years.reverse();
            Ok(json!({
                "years": years,
                "year_ranges": [
                    {"label": "2020s", "min": 2020, "max": 2029},
                    {"label": "2010s", "min": 2010, "max": 2019},
                    {"label": "2000s", "min": 2000, "max": 2009},
                    {"label": "1990s", "min": 1990, "max": 1999},
                    {"label": "1980s", "min": 1980, "max": 1989},
                    {"label": "Older", "min": 1800, "max": 1979},
                ],
                "media_types": distinct("media_type")?,
                "content_ratings": distinct("content_rating")?,
                "sources": distinct("source")?,
                "duration_ranges": [
                    {"label": "Under 5 min", "min": 0, "max": 300},
                    {"label": "5-30 min", "min": 300, "max": 1800},
                    {"label": "30-60 min", "min": 1800, "max": 3600},
                    {"label": "1-2 hours", "min": 3600, "max": 7200},
                    {"label": "Over 2 hours", "min": 7200, "max": null},
                ],
            }))
        })
        .await?;
    Ok(body::ok_json(&value))
}

async fn shows(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let library_id = req.query_parsed::<i64>("library_id")?;
    let (skip, limit) = paging(req, DEFAULT_LIMIT)?;
    let value = app
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT show_title, count(*), min(thumbnail), min(year), min(library_id),
                        coalesce(sum(duration_ms), 0)
                 FROM media_items
                 WHERE show_title IS NOT NULL AND is_missing = 0
                   AND (?1 IS NULL OR library_id = ?1)
                 GROUP BY show_title ORDER BY lower(show_title) LIMIT ?2 OFFSET ?3",
            )?;
            let shows = stmt
                .query_map(rusqlite::params![library_id, limit, skip], |r| {
                    Ok(json!({
                        "show_title": r.get::<_, String>(0)?,
                        "episode_count": r.get::<_, i64>(1)?,
                        "thumbnail": r.get::<_, Option<String>>(2)?,
                        "year": r.get::<_, Option<i64>>(3)?,
                        "library_id": r.get::<_, Option<i64>>(4)?,
                        "total_duration": r.get::<_, i64>(5)? as f64 / 1000.0,
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = conn.query_row(
                "SELECT count(DISTINCT show_title) FROM media_items
                 WHERE show_title IS NOT NULL AND is_missing = 0 AND (?1 IS NULL OR library_id = ?1)",
                [library_id],
                |r| r.get(0),
            )?;
            Ok(json!({
                "has_more": skip + (shows.len() as i64) < total,
                "shows": shows, "total": total, "skip": skip, "limit": limit,
            }))
        })
        .await?;
    Ok(body::ok_json(&value))
}

async fn episodes(app: &Arc<App>, show: String) -> ApiResult {
    let value = app
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, title, episode_number, season_number, duration_ms, thumbnail,
                        description, year
                 FROM media_items WHERE show_title = ?1 AND is_missing = 0
                 ORDER BY season_number, episode_number, lower(title), id",
            )?;
            let mut seasons: Vec<(Option<i64>, Vec<serde_json::Value>)> = Vec::new();
            let mut thumbnail = None;
            let mut year = None;
            let mut n = 0;
            for row in stmt.query_map([&show], |r| {
                Ok((
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(7)?,
                    json!({
                        "id": r.get::<_, i64>(0)?,
                        "title": r.get::<_, String>(1)?,
                        "episode_number": r.get::<_, Option<i64>>(2)?,
                        "season_number": r.get::<_, Option<i64>>(3)?,
                        "duration": r.get::<_, Option<i64>>(4)?.map(|d| d as f64 / 1000.0),
                        "thumbnail": r.get::<_, Option<String>>(5)?,
                        "description": r.get::<_, Option<String>>(6)?,
                        "year": r.get::<_, Option<i64>>(7)?,
                    }),
                ))
            })? {
                let (season, thumb, y, episode) = row?;
                n += 1;
                thumbnail = thumbnail.or(thumb);
                year = year.or(y);
                match seasons.last_mut() {
                    Some((s, list)) if *s == season => list.push(episode),
                    _ => seasons.push((season, vec![episode])),
                }
            }
            if n == 0 {
                return Ok(None);
            }
            let season_count = seasons.len();
            let seasons: Vec<_> = seasons
                .into_iter()
                .map(|(s, eps)| json!({"season_number": s, "episode_count": eps.len(), "episodes": eps}))
                .collect();
            Ok(Some(json!({
                "show_title": show, "thumbnail": thumbnail, "year": year,
                "episode_count": n, "season_count": season_count, "seasons": seasons,
            })))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("show not found"))?;
    Ok(body::ok_json(&value))
}

pub(super) async fn get(app: &Arc<App>, id: i64) -> ApiResult {
    let value = app
        .db
        .read(move |conn| {
            let Some(item) = media_by_id(conn, id)? else {
                return Ok(None);
            };
            // The stream list only here: it is large and lists do not need it.
            let streams: Option<String> =
                conn.query_row("SELECT streams FROM media_items WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
            let streams = streams.and_then(|s| serde_json::from_str(&s).ok());
            Ok(Some(MediaDetail { item, streams }))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("media item not found"))?;
    Ok(body::ok_json(&value))
}

async fn delete(app: &Arc<App>, id: MediaId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::media::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

#[derive(Deserialize, Default)]
pub(crate) struct CreateMedia {
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Seconds.
    pub duration: Option<f64>,
    pub thumbnail: Option<String>,
}

/// A media item added (or found: `created` false) by `add`.
pub(crate) struct Added {
    pub id: i64,
    pub item: MediaView,
    pub created: bool,
}

/// `POST /api/media`: one local file (a path or `file://` URL), probed now. Ours: the title
/// defaults to the file stem and the duration comes from ffprobe.
async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateMedia = req.json().await?;
    let added = add(app, input).await?;
    Ok(match added.created {
        true => body::created(added.id, &added.item),
        false => body::ok_json(&added.item),
    })
}

/// Adds one file or URL as `POST /api/media` does (the migration's media come this way).
pub(crate) async fn add(app: &Arc<App>, input: CreateMedia) -> Result<Added, ApiError> {
    if input.url.contains("://") && !input.url.starts_with("file://") {
        return create_url(app, input).await;
    }
    let path = ops::media::local_path(&input.url)?.to_string();
    if let Some(found) = existing(app, &input.url, &path).await? {
        return Ok(found);
    }
    let (meta, probe) = probe_file(app, &path).await?;
    let stem = std::path::Path::new(&path)
        .file_stem()
        .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
        .unwrap_or_else(|| path.clone());
    use std::os::unix::fs::MetadataExt;
    let new = NewMedia {
        title: input.title.filter(|t| !t.trim().is_empty()).unwrap_or(stem),
        description: input.description,
        duration_ms: input
            .duration
            .map(|d| (d * 1000.0) as i64)
            .or(probe.duration_ms),
        thumbnail: input.thumbnail,
        file_size: meta.len() as i64,
        file_mtime_ms: meta.mtime() * 1000 + meta.mtime_nsec() / 1_000_000,
        probe,
        path,
    };
    let (id, item, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::media::create(tx, &new, crate::time::now_ms())?;
        let item = media_by_id(tx, id.0)?
            .ok_or_else(|| ApiError::internal("media item vanished after insert"))?;
        Ok((id, item, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(Added {
        id: id.0,
        item,
        created: true,
    })
}

/// `POST /api/media` with an http(s) URL: through the URL guard (422 naming `url`), then
/// classified and probed (`library::url_media`); a YouTube or archive.org page without
/// yt-dlp is stored unplayable, with the reason in `probe_error`.
async fn create_url(app: &Arc<App>, input: CreateMedia) -> Result<Added, ApiError> {
    use crate::library::url_media::{self, InspectError, Inspected};
    let allow_loopback = app.settings().sources.allow_loopback;
    crate::http::url_guard::parse(&input.url).map_err(|err| ApiError::invalid("url", err))?;
    // A page is on YouTube's or archive.org's hosts (`detect_source`), which yt-dlp
    // fetches: no lookup of its host here. The direct URL it gives is checked instead.
    if url_media::page_source(&input.url).is_none() {
        crate::http::url_guard::check(&input.url, allow_loopback)
            .await
            .map_err(|err| ApiError::invalid("url", err))?;
    }
    if let Some(found) = existing(app, &input.url, &input.url).await? {
        return Ok(found);
    }
    let tools = app
        .tools
        .wait(app.shutdown.clone())
        .await
        .ok_or_else(|| ApiError::unavailable("still checking ffprobe after start", 1))?;
    // A page is resolved by yt-dlp first (when installed): a page it cannot resolve is a
    // 422, one that hangs is killed at the timeout.
    let resolved = if url_media::page_source(&input.url).is_some()
        && !url_media::needs_nothing_fetched(&input.url)
    {
        Some(app.resolve_page(&input.url).await.map_err(resolve_error)?)
    } else {
        None
    };
    let inspected = url_media::inspect(
        tools.ffprobe.program(),
        &input.url,
        resolved,
        app.shutdown.clone(),
    )
    .await
    .map_err(|InspectError::Probe(e)| ApiError::invalid("url", e))?;
    let (source, probe, unplayable, page_title) = match inspected {
        Inspected::Playable {
            source,
            probe,
            title,
        } => (source, *probe, None, title),
        Inspected::Unplayable { source, reason } => {
            (source, Probe::default(), Some(reason.to_string()), None)
        }
    };
    let live = source == crate::kinds::MediaSource::Live;
    let new = ops::media::NewUrlMedia {
        title: url_title(input.title, page_title, &input.url),
        description: input.description,
        // A live stream is one long programme, as a relayed channel's.
        duration_ms: input
            .duration
            .map(|d| (d * 1000.0) as i64)
            .or(probe.duration_ms)
            .or(live.then_some(crate::ops::relays::RELAY_PROGRAMME_MS)),
        thumbnail: input.thumbnail,
        url: input.url,
        source,
        probe,
        unplayable,
    };
    let (id, item, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::media::create_url(tx, &new, crate::time::now_ms())?;
        let item = media_by_id(tx, id.0)?
            .ok_or_else(|| ApiError::internal("media item vanished after insert"))?;
        Ok((id, item, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(Added {
        id: id.0,
        item,
        created: true,
    })
}

/// The title given, else the page's (yt-dlp's), else the URL's last path segment.
fn url_title(given: Option<String>, page_title: Option<String>, url: &str) -> String {
    let stem = || {
        url.split(['?', '#'])
            .next()
            .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
            .unwrap_or(url)
            .to_string()
    };
    given
        .filter(|t| !t.trim().is_empty())
        .or(page_title.map(|t| t.chars().take(500).collect()))
        .unwrap_or_else(stem)
}

/// A page yt-dlp could not resolve: 422 naming `url` (a timeout says it was killed); 503
/// when the server is stopping.
fn resolve_error(err: crate::library::url_media::ResolveError) -> ApiError {
    use crate::library::url_media::ResolveError;
    match err {
        ResolveError::Cancelled => ApiError::unavailable("the server is shutting down", 5),
        other => ApiError::invalid("url", other),
    }
}

/// The item already stored for this URL or path, if any (adding a file twice answers 200).
async fn existing(app: &Arc<App>, url: &str, path: &str) -> Result<Option<Added>, ApiError> {
    let (url, path) = (url.to_string(), path.to_string());
    Ok(app
        .db
        .read(move |conn| {
            let id: Option<i64> = conn
                .query_row(
                    "SELECT id FROM media_items WHERE url = ?1 OR url = ?2",
                    [&url, &path],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => Ok(media_by_id(conn, id)?.map(|item| Added {
                    id,
                    item,
                    created: false,
                })),
                None => Ok(None),
            }
        })
        .await?)
}

/// The file at `path` and what ffprobe finds in it; a missing, non-regular or unreadable
/// file is a 422 naming `url`.
async fn probe_file(app: &Arc<App>, path: &str) -> Result<(std::fs::Metadata, Probe), ApiError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| ApiError::invalid("url", format_args!("{path}: {e}")))?;
    if !meta.is_file() {
        return Err(ApiError::invalid(
            "url",
            format_args!("{path} is not a file"),
        ));
    }
    // A request right after start waits for the tools check (bounded).
    let tools = app
        .tools
        .wait(app.shutdown.clone())
        .await
        .ok_or_else(|| ApiError::unavailable("still checking ffprobe after start", 1))?;
    let probed = crate::library::probe::probe(
        tools.ffprobe.program(),
        std::path::Path::new(path),
        app.shutdown.clone(),
    )
    .await;
    app.scanner
        .ffprobe_calls_total
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = probed.map_err(|e| ApiError::invalid("url", format_args!("{path}: {e}")))?;
    Ok((meta, probe))
}

/// `GET /static/artwork/{media_id}/{kind}` (open): the poster, thumb or fanart image found
/// beside a media file.
pub async fn artwork_file(app: &Arc<App>, req: &mut Req, id: &str, kind: &str) -> ApiResult {
    router::only_get(req)?;
    let id = router::id(id)?;
    let kind: crate::kinds::ArtworkKind = kind.parse().map_err(|_| router::not_found())?;
    let path = app
        .db
        .read(move |conn| crate::library::store::artwork_path(conn, id, kind))
        .await?
        .ok_or_else(|| ApiError::not_found("no such artwork"))?;
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&path));
    let content_type = match path
        .extension()
        .map(|e| e.to_ascii_lowercase())
        .as_ref()
        .and_then(|e| e.to_str())
    {
        Some("png") => "image/png",
        _ => "image/jpeg",
    };
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|_| ApiError::not_found("the artwork file is gone"))?;
    if meta.len() > MAX_ARTWORK_BYTES {
        return Err(ApiError::not_found("the artwork file is too large"));
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::not_found("the artwork file is unreadable"))?;
    Ok(body::bytes(content_type, bytes::Bytes::from(bytes)))
}
