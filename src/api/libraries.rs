//! `/api/libraries`: local libraries (create, list, delete; the writes are
//! `ops::libraries`), libraries of Plex, Jellyfin and Emby servers (discover, create, list,
//! delete, scan: the same rows and scans as local ones; `remote_libraries`), scans (start,
//! progress, scan-all) and library stats.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::media_sources::remote_type;
use super::tx::write_tx;
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::SourceType;
use crate::library::scanner::ScanRequestError;
use crate::library::store::{self, LibraryRow, DEFAULT_EXTENSIONS};
use crate::ops::{
    self,
    libraries::{LibraryId, LibraryRequest, NewLibrary},
};

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => {
            router::only_get(req)?;
            list(app, None).await
        }
        ["stats"] => {
            router::only_get(req)?;
            stats(app).await
        }
        ["scan-progress", id] => {
            router::only_get(req)?;
            scan_progress(app, router::id(id)?)
        }
        ["scan-all"] => {
            router::only(req, Verb::Post)?;
            scan_all(app).await
        }
        ["local"] => by_verb!(req, {
            Get => list(app, Some(SourceType::Local)).await,
            Post => create_local(app, req).await,
        }),
        ["local", id] => by_verb!(req, {
            Get => get(app, SourceType::Local, router::id(id)?).await,
            Delete => delete(app, SourceType::Local, LibraryId(router::id(id)?)).await,
        }),
        ["local", id, "scan"] => {
            router::only(req, Verb::Post)?;
            scan(app, SourceType::Local, router::id(id)?).await
        }
        // Libraries of Plex, Jellyfin and Emby servers (`remote_type`: anything else is 404).
        [kind] => {
            let kind = remote_type(kind)?;
            by_verb!(req, {
                Get => list(app, Some(kind)).await,
                Post => super::remote_libraries::create(app, req, kind).await,
            })
        }
        [kind, "discover"] => {
            let kind = remote_type(kind)?;
            by_verb!(req, {
                Get => super::remote_libraries::discover(app, req, kind).await,
                Post => super::remote_libraries::discover(app, req, kind).await,
            })
        }
        [kind, id] => {
            let kind = remote_type(kind)?;
            by_verb!(req, {
                Get => get(app, kind, router::id(id)?).await,
                Delete => delete(app, kind, LibraryId(router::id(id)?)).await,
            })
        }
        [kind, id, "scan"] => {
            let kind = remote_type(kind)?;
            router::only(req, Verb::Post)?;
            scan(app, kind, router::id(id)?).await
        }
        _ => Err(router::not_found()),
    }
}

/// The libraries of one source type (`/api/media-sources/{type}/libraries`).
pub async fn list_of(app: &Arc<App>, kind: SourceType) -> ApiResult {
    list(app, Some(kind)).await
}

/// API.md's Library, plus ours: `last_error`, `recursive`, `file_extensions`,
/// `scan_interval_hours`.
pub fn library_json(app: &App, l: &LibraryRow) -> serde_json::Value {
    let status = if app.scanner.is_scanning(l.id) {
        "scanning"
    } else if !l.is_enabled {
        "disabled"
    } else if l.last_error.is_some() {
        "error"
    } else {
        "idle"
    };
    json!({
        "id": l.id,
        "name": l.name,
        "library_type": l.library_type,
        "source_type": l.source_type,
        "is_enabled": l.is_enabled,
        "last_scan": l.last_scan_ms.map(crate::time::rfc3339),
        "item_count": l.item_count,
        "status": status,
        "path": l.path,
        "server_url": l.server_url,
        "last_error": l.last_error,
        "recursive": l.recursive,
        "file_extensions": l.file_extensions,
        "scan_interval_hours": l.scan_interval_hours,
    })
}

async fn list(app: &Arc<App>, source_type: Option<SourceType>) -> ApiResult {
    let rows = app
        .db
        .read(move |conn| store::libraries(conn, source_type))
        .await?;
    let out: Vec<_> = rows.iter().map(|l| library_json(app, l)).collect();
    Ok(body::ok_json(&out))
}

async fn get(app: &Arc<App>, kind: SourceType, id: i64) -> ApiResult {
    let row = app
        .db
        .read(move |conn| store::library(conn, id))
        .await?
        .filter(|l| l.source_type == kind)
        .ok_or_else(|| ApiError::not_found("library not found"))?;
    Ok(body::ok_json(&library_json(app, &row)))
}

async fn stats(app: &Arc<App>) -> ApiResult {
    let value = app
        .db
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*),
                        count(*) FILTER (WHERE media_type = 'movie'),
                        count(DISTINCT show_title),
                        count(*) FILTER (WHERE media_type = 'episode'),
                        coalesce(sum(duration_ms), 0),
                        (SELECT max(last_scan_ms) FROM libraries)
                 FROM media_items WHERE is_missing = 0",
                [],
                |r| {
                    Ok(json!({
                        "total_items": r.get::<_, i64>(0)?,
                        "movies": r.get::<_, i64>(1)?,
                        "shows": r.get::<_, i64>(2)?,
                        "episodes": r.get::<_, i64>(3)?,
                        "total_duration_hours":
                            (r.get::<_, i64>(4)? as f64 / 3_600_000.0 * 100.0).round() / 100.0,
                        "last_scanned": r.get::<_, Option<i64>>(5)?.map(crate::time::rfc3339),
                    }))
                },
            )?)
        })
        .await?;
    Ok(body::ok_json(&value))
}

fn scan_progress(app: &Arc<App>, id: i64) -> ApiResult {
    let progress = app
        .scanner
        .progress(id)
        .ok_or_else(|| ApiError::not_found("no scan of this library"))?;
    Ok(body::ok_json(&progress))
}

async fn scan(app: &Arc<App>, kind: SourceType, id: i64) -> ApiResult {
    let row = app
        .db
        .read(move |conn| store::library(conn, id))
        .await?
        .filter(|l| l.source_type == kind)
        .ok_or_else(|| ApiError::not_found("library not found"))?;
    if !row.is_enabled {
        return Err(ApiError::conflict("the library is disabled"));
    }
    let progress = app.scanner.request(id)?;
    Ok(body::ok_json(&progress))
}

async fn scan_all(app: &Arc<App>) -> ApiResult {
    let rows = app.db.read(|conn| store::libraries(conn, None)).await?;
    let mut started = Vec::new();
    for l in rows.iter().filter(|l| l.is_enabled) {
        // A library already scanning keeps its scan; it is listed all the same.
        match app.scanner.request(l.id) {
            Ok(_) | Err(ScanRequestError::AlreadyScanning) => {
                started.push(json!({"id": l.id, "type": l.source_type, "name": l.name}))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(body::ok_json(&json!({
        "message": format!("scanning {} libraries", started.len()),
        "libraries": started,
    })))
}

#[derive(Deserialize)]
struct CreateLocal {
    name: String,
    path: String,
    #[serde(default = "default_type")]
    library_type: String,
    #[serde(default = "default_true")]
    recursive: bool,
    #[serde(default = "default_extensions")]
    file_extensions: String,
    #[serde(default = "default_interval")]
    scan_interval_hours: i64,
}

/// A local library of `path` with the defaults `POST /api/libraries/local` takes (the
/// migration's folders).
pub(super) fn local_request(name: String, path: String) -> LibraryRequest {
    LibraryRequest {
        name,
        path,
        library_type: default_type(),
        recursive: true,
        file_extensions: default_extensions(),
        scan_interval_hours: default_interval(),
    }
}

fn default_type() -> String {
    "other".into()
}
fn default_true() -> bool {
    true
}
fn default_extensions() -> String {
    DEFAULT_EXTENSIONS.into()
}
fn default_interval() -> i64 {
    1
}

async fn create_local(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateLocal = req.json().await?;
    let new = NewLibrary::checked(LibraryRequest {
        name: input.name,
        path: input.path,
        library_type: input.library_type,
        recursive: input.recursive,
        file_extensions: input.file_extensions,
        scan_interval_hours: input.scan_interval_hours,
    })
    .await?;
    let (id, changes) = write_tx(app, move |tx| Ok(ops::libraries::create(tx, &new)?)).await?;
    app.apply(changes).await;
    // A new library is scanned at once: that is why it was added.
    if let Err(e) = app.scanner.request(id.0) {
        tracing::warn!(library = id.0, error = %e, "new library not scanned");
    }
    let row = app
        .db
        .read(move |conn| store::library(conn, id.0))
        .await?
        .ok_or_else(|| ApiError::internal("library vanished after insert"))?;
    Ok(body::created(id.0, &library_json(app, &row)))
}

async fn delete(app: &Arc<App>, kind: SourceType, id: LibraryId) -> ApiResult {
    let scans = Arc::clone(app);
    let changes = write_tx(app, move |tx| {
        let is_scanning = |id: LibraryId| scans.scanner.is_scanning(id.0);
        Ok(ops::libraries::delete(tx, id, kind, is_scanning)?)
    })
    .await?;
    app.scanner.forget(id.0);
    app.apply(changes).await;
    Ok(body::no_content())
}
