//! `/api/settings/plex` and its actions: EXStreamTV's one Plex server, `{enabled, base_url,
//! token, use_for_epg}`. Ours is a view of the default Plex media source (the Plex server
//! with the lowest id in `media_sources`), so this page and `/api/media-sources/plex` edit
//! one thing and the token stays a secret: redacted in every answer, kept when the
//! redacted value comes back. Actions that make sense here do real work against that
//! server or our library; those that need plex.tv or Plex's own guide answer 501 saying
//! why.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};

use super::media_sources::{checked_url, library_list_json, remote_error};
use super::settings::REDACTED;
use super::tx::write_tx;
use crate::app::App;
use crate::changes::{Changes, Rebuild};
use crate::db::DbError;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::SourceType;
use crate::library::remote::store::{self, NewSource, SourceRow};
use crate::library::remote::{plex, Server};
use crate::ops::ids::PlayoutId;
use crate::time::now_ms;

/// Items `preview-filter` lists at most.
const PREVIEW_LIMIT: i64 = 100;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => Ok(body::ok_json(&settings_json(default_source(app).await?.as_ref()))),
            Put | Patch => put(app, req).await,
        }),
        ["libraries"] => {
            router::only_get(req)?;
            let libs = server(app).await?.libraries().await;
            Ok(body::ok_json(&library_list_json(
                &libs.map_err(|e| remote_error(SourceType::Plex, e))?,
            )))
        }
        ["test-channel", channel] => {
            router::only_get(req)?;
            test_channel(app, router::id(channel)?).await
        }
        ["preview-filter"] => {
            router::only_get(req)?;
            preview_filter(app, req).await
        }
        ["oauth", "pin"] | ["oauth", "poll", _] => {
            router::only_get(req)?;
            Err(no_plex_tv())
        }
        _ => {
            router::only(req, Verb::Post)?;
            action(app, segs).await
        }
    }
}

/// The POST actions.
async fn action(app: &Arc<App>, segs: &[&str]) -> ApiResult {
    match segs {
        ["test"] => test(app).await,
        ["scan-library", key] => scan_library(app, key).await,
        ["rebuild-channel-playout", channel] => {
            let channel = router::id(channel)?;
            let playout: Option<i64> = app
                .db
                .read(move |conn| {
                    conn.query_row(
                        "SELECT id FROM playouts WHERE channel_id = ?1",
                        [channel],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(DbError::from)
                })
                .await?;
            let playout =
                playout.ok_or_else(|| ApiError::not_found("the channel has no playout"))?;
            super::playouts::rebuild(app, PlayoutId(playout)).await
        }
        ["rebuild-all-playouts"] => {
            let n = count(app, "SELECT count(*) FROM playouts").await?;
            app.apply(Changes::rebuilding(
                Rebuild::All,
                "plex: rebuild all playouts",
            ))
            .await;
            Ok(body::ok_json(&json!({
                "success": true, "playouts": n,
                "message": format!("rebuilt {n} playouts from now"),
            })))
        }
        ["refresh-urls"] => {
            let n = count(
                app,
                "SELECT count(*) FROM media_items WHERE source = 'plex' AND is_missing = 0",
            )
            .await?;
            Ok(body::ok_json(&json!({
                "success": true, "refreshed": 0, "items": n,
                "message": "no Plex URL is stored: each play gets a fresh signed URL of ours \
                            (the token never leaves this process), so there is nothing to refresh",
            })))
        }
        ["fix-library-ids"] => fix_library_ids(app).await,
        ["cleanup-duplicates"] => cleanup_duplicates(app).await,
        ["oauth", "discover"] => Err(no_plex_tv()),
        ["reload-guide"] => Err(ApiError::not_implemented(
            "the guide is built from this server's own timeline; Plex's guide is not imported",
        )),
        ["auto-populate-playlists"] | ["rebuild-playlist", _] => Err(ApiError::not_implemented(
            "playlists are not filled from Plex filters here: list the matches with \
             GET /api/settings/plex/preview-filter and add them with /api/playlists",
        )),
        _ => Err(router::not_found()),
    }
}

fn no_plex_tv() -> ApiError {
    ApiError::not_implemented(
        "the PIN sign-in needs plex.tv, and this box talks only to the servers you name: \
         PUT /api/settings/plex {base_url, token} with the server's X-Plex-Token",
    )
}

async fn default_source(app: &Arc<App>) -> Result<Option<SourceRow>, ApiError> {
    let rows = app
        .db
        .read(|conn| store::sources(conn, Some(SourceType::Plex)))
        .await?;
    Ok(rows.into_iter().next())
}

/// The default Plex server, or 400: Plex is not set up (API.md's "Plex off").
async fn enabled_source(app: &Arc<App>) -> Result<SourceRow, ApiError> {
    match default_source(app).await? {
        Some(s) if s.is_enabled => Ok(s),
        Some(_) => Err(ApiError::bad_request(
            "Plex is disabled in /api/settings/plex",
        )),
        None => Err(ApiError::bad_request(
            "Plex is not set up: PUT /api/settings/plex {base_url, token} first",
        )),
    }
}

async fn server(app: &Arc<App>) -> Result<Server, ApiError> {
    Ok(enabled_source(app).await?.server())
}

fn settings_json(source: Option<&SourceRow>) -> Value {
    let Some(s) = source else {
        return json!({"enabled": false, "base_url": "", "token": "", "has_token": false,
                      "use_for_epg": false, "media_source_id": null});
    };
    let token = if s.secret.is_empty() { "" } else { REDACTED };
    json!({
        "enabled": s.is_enabled, "base_url": s.server_url, "token": token,
        "has_token": !s.secret.is_empty(), "use_for_epg": false,
        "media_source_id": s.id, "name": s.name,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlexPut {
    enabled: Option<bool>,
    base_url: Option<String>,
    token: Option<String>,
    use_for_epg: Option<bool>,
}

async fn put(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: PlexPut = req.params().await?;
    if input.use_for_epg == Some(true) {
        return Err(ApiError::invalid(
            "use_for_epg",
            "the guide is built from this server's own timeline; Plex's guide is not imported",
        ));
    }
    let url = match input.base_url.as_deref() {
        Some(u) => Some(checked_url(Some(u)).map_err(|_| invalid_url(u))?),
        None => None,
    };
    // The redacted value sent back keeps the stored token.
    let token = input
        .token
        .filter(|t| t != REDACTED && !t.trim().is_empty());
    let enabled = input.enabled;
    let doc = write_tx(app, move |tx| {
        let current = store::sources(tx, Some(SourceType::Plex))?
            .into_iter()
            .next();
        let id = match current {
            Some(s) => {
                store::update_source(
                    tx,
                    s.id,
                    url.as_deref(),
                    token.as_deref(),
                    enabled,
                    now_ms(),
                )?;
                s.id
            }
            None => create(tx, url, token, enabled)?,
        };
        Ok(settings_json(store::source(tx, id)?.as_ref()))
    })
    .await?;
    tracing::info!(kind = "plex", "plex settings updated");
    Ok(body::ok_json(&doc))
}

fn invalid_url(url: &str) -> ApiError {
    ApiError::invalid("base_url", format_args!("not an http URL: {url:?}"))
}

/// The first Plex server, from a PUT that gives its URL and token.
fn create(
    tx: &Connection,
    url: Option<String>,
    token: Option<String>,
    enabled: Option<bool>,
) -> Result<i64, ApiError> {
    let url = url.ok_or_else(|| ApiError::invalid("base_url", "field required"))?;
    let secret = token.ok_or_else(|| ApiError::invalid("token", "field required"))?;
    let new = NewSource {
        source_type: SourceType::Plex,
        name: "Plex".into(),
        server_url: url,
        secret,
        user_id: None,
        verify_tls: true,
        path_replacements: Vec::new(),
    };
    let id = store::create_source(tx, &new, now_ms())?;
    if enabled == Some(false) {
        store::update_source(tx, id, None, None, Some(false), now_ms())?;
    }
    Ok(id)
}

async fn test(app: &Arc<App>) -> ApiResult {
    let server = server(app).await?;
    let info = server.info().await;
    let info = info.map_err(|e| remote_error(SourceType::Plex, e))?;
    let libs = server.libraries().await;
    let libs = libs.map_err(|e| remote_error(SourceType::Plex, e))?;
    Ok(body::ok_json(&json!({
        "success": true, "server_name": info.name, "version": info.version,
        "library_count": libs.len(), "libraries": library_list_json(&libs),
    })))
}

async fn scan_library(app: &Arc<App>, key: &str) -> ApiResult {
    let source = enabled_source(app).await?.id;
    let key_owned = key.to_string();
    let library: Option<i64> = app
        .db
        .read(move |conn| {
            conn.query_row(
                "SELECT id FROM libraries WHERE media_source_id = ?1 AND remote_key = ?2",
                params![source, key_owned],
                |r| r.get(0),
            )
            .optional()
            .map_err(DbError::from)
        })
        .await?;
    let library = library.ok_or_else(|| {
        ApiError::not_found(format_args!(
            "no library of the Plex server has key {key:?}: add it with POST /api/libraries/plex"
        ))
    })?;
    let progress = app.scanner.request(library)?;
    Ok(body::ok_json(&json!({
        "success": true, "library_id": library, "status": progress.status,
        "message": format!("scanning in the background; see /api/libraries/scan-progress/{library}"),
    })))
}

async fn count(app: &Arc<App>, sql: &'static str) -> Result<i64, ApiError> {
    Ok(app
        .db
        .read(move |conn| conn.query_row(sql, [], |r| r.get(0)).map_err(DbError::from))
        .await?)
}

/// Links Plex libraries that name no server (added with their own URL, or whose server
/// row was lost) to the stored server with the same URL; says what it changed.
async fn fix_library_ids(app: &Arc<App>) -> ApiResult {
    let doc = write_tx(app, |tx| {
        let orphans: i64 = tx
            .query_row(
            "SELECT count(*) FROM libraries WHERE source_type = 'plex' AND media_source_id IS NULL",
            [],
            |r| r.get(0),
        )
            .map_err(DbError::from)?;
        let fixed = tx
            .execute(
            "UPDATE libraries SET media_source_id = (SELECT s.id FROM media_sources s
                 WHERE s.source_type = 'plex' AND rtrim(s.server_url, '/') =
                       rtrim(libraries.server_url, '/') ORDER BY s.id LIMIT 1)
             WHERE source_type = 'plex' AND media_source_id IS NULL AND EXISTS
                 (SELECT 1 FROM media_sources s WHERE s.source_type = 'plex'
                  AND rtrim(s.server_url, '/') = rtrim(libraries.server_url, '/'))",
            [],
        )
            .map_err(DbError::from)? as i64;
        Ok(json!({
            "success": true, "checked": orphans, "fixed": fixed, "unfixable": orphans - fixed,
            "message": format!("{orphans} Plex libraries named no server; {fixed} linked to the server with their URL"),
        }))
    })
    .await?;
    Ok(body::ok_json(&doc))
}

/// Marks missing every Plex item that repeats another of the same server (the same rating
/// key in two of our libraries: one Plex library added twice), keeping the oldest; a
/// missing item leaves the timeline after what plays now.
async fn cleanup_duplicates(app: &Arc<App>) -> ApiResult {
    let (found, doc) = write_tx(app, |tx| {
        let marked = tx
            .execute(
            "UPDATE media_items SET is_missing = 1 WHERE source = 'plex' AND is_missing = 0
             AND source_id IS NOT NULL AND EXISTS (
                 SELECT 1 FROM media_items o JOIN libraries lo ON lo.id = o.library_id
                 JOIN libraries lm ON lm.id = media_items.library_id
                 WHERE lo.media_source_id = lm.media_source_id AND o.source = 'plex'
                   AND o.source_id = media_items.source_id AND o.id < media_items.id)",
            [],
        )
            .map_err(DbError::from)? as i64;
        Ok((
            marked,
            json!({
                "success": true, "duplicates_found": marked, "marked_missing": marked,
                "message": format!("{marked} duplicate Plex items marked missing (the oldest of each kept)"),
            }),
        ))
    })
    .await?;
    if found > 0 {
        app.apply(Changes::all("plex: duplicates marked missing"))
            .await;
    }
    Ok(body::ok_json(&doc))
}

/// What the channel plays now, and whether its source can play it: a Plex item is asked
/// of its server, a local file looked for on disk.
async fn test_channel(app: &Arc<App>, channel: i64) -> ApiResult {
    let now = now_ms();
    let playing = app
        .db
        .read(move |conn| now_playing(conn, channel, now))
        .await?;
    let Some((title, item)) = playing else {
        return Ok(body::ok_json(&json!({
            "channel_id": channel, "playing": null, "playable": false,
            "detail": "nothing from the library plays on the channel now",
        })));
    };
    let (playable, detail) = match item {
        NowItem::Other(source) => (false, format!("a {source} item, not a Plex one")),
        NowItem::Plex {
            library,
            rating_key,
        } => {
            let target = app
                .db
                .read(move |conn| store::target(conn, library))
                .await?;
            match target {
                None => (false, "its library names no server".to_string()),
                Some(t) => match plex::metadata(&t.source.server(), &rating_key).await {
                    Ok(Some(_)) => (true, format!("{} has it", t.source.name)),
                    Ok(None) => (false, format!("{} no longer has it", t.source.name)),
                    Err(e) => (false, e.to_string()),
                },
            }
        }
        NowItem::Local(bytes) => {
            use std::os::unix::ffi::OsStrExt;
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&bytes));
            match path.is_file() {
                true => (true, "the file is on disk".to_string()),
                false => (false, format!("{} is not on disk", path.display())),
            }
        }
    };
    Ok(body::ok_json(&json!({
        "channel_id": channel, "playing": title, "playable": playable, "detail": detail,
    })))
}

enum NowItem {
    Plex {
        library: i64,
        rating_key: String,
    },
    /// A Jellyfin or Emby item: not this page's to test.
    Other(String),
    Local(Vec<u8>),
}

fn now_playing(
    conn: &Connection,
    channel: i64,
    now: i64,
) -> Result<Option<(String, NowItem)>, DbError> {
    let row = conn
        .query_row(
            "SELECT pi.title, m.source, m.library_id, m.source_id, m.path_bytes
             FROM playout_items pi JOIN playouts p ON p.id = pi.playout_id
             JOIN media_items m ON m.id = pi.media_item_id
             WHERE p.channel_id = ?1 AND pi.start_ms <= ?2 AND pi.finish_ms > ?2
             ORDER BY pi.start_ms DESC LIMIT 1",
            params![channel, now],
            |r| {
                let source: String = r.get(1)?;
                let item = match (source.as_str(), r.get(2)?, r.get(3)?) {
                    ("plex", Some(library), Some(rating_key)) => NowItem::Plex {
                        library,
                        rating_key,
                    },
                    ("jellyfin" | "emby", ..) => NowItem::Other(source),
                    _ => NowItem::Local(r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default()),
                };
                Ok((r.get(0)?, item))
            },
        )
        .optional()?;
    Ok(row)
}

/// Our Plex items matching `title`, `type`, `genre`, `year`, `show_title` (each optional,
/// text matched as a substring, case-insensitive), at most `PREVIEW_LIMIT`.
async fn preview_filter(app: &Arc<App>, req: &Req) -> ApiResult {
    let text = |k: &str| {
        req.query(k)
            .map(|v| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let (title, kind, genre, show) = (
        text("title"),
        text("type"),
        text("genre"),
        text("show_title"),
    );
    let year: Option<i64> = req.query_parsed("year")?;
    let items = app
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, title, media_type, year, show_title, genres FROM media_items
                 WHERE source = 'plex' AND is_missing = 0
                 AND (?1 IS NULL OR instr(lower(title), lower(?1)) > 0)
                 AND (?2 IS NULL OR media_type = ?2)
                 AND (?3 IS NULL OR instr(lower(coalesce(genres, '')), lower(?3)) > 0)
                 AND (?4 IS NULL OR year = ?4)
                 AND (?5 IS NULL OR instr(lower(coalesce(show_title, '')), lower(?5)) > 0)
                 ORDER BY show_title, title, id LIMIT ?6",
            )?;
            let rows = stmt.query_map(
                params![title, kind, genre, year, show, PREVIEW_LIMIT],
                |r| {
                    Ok(json!({
                        "id": r.get::<_, i64>(0)?, "title": r.get::<_, String>(1)?,
                        "media_type": r.get::<_, Option<String>>(2)?,
                        "year": r.get::<_, Option<i64>>(3)?,
                        "show_title": r.get::<_, Option<String>>(4)?,
                        "genres": r.get::<_, Option<String>>(5)?,
                    }))
                },
            )?;
            rows.collect::<Result<Vec<_>, _>>().map_err(DbError::from)
        })
        .await?;
    Ok(body::ok_json(
        &json!({"count": items.len(), "limit": PREVIEW_LIMIT, "items": items}),
    ))
}
