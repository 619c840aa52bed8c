//! `/api/libraries`: local libraries (create, list, delete), scans (start, progress,
//! scan-all) and library stats. Remote sources (Plex, Jellyfin, Emby) are not built yet:
//! their routes answer 404.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::http::{body, router, ApiError, ApiResult, Req};
use crate::kinds::{LibraryType, SourceType};
use crate::library::scanner::ScanRequestError;
use crate::library::store::{self, CreateError, LibraryRow, NewLocal, DEFAULT_EXTENSIONS};
use router::Verb;

/// A library name longer than this is refused (it is shown in lists and logs).
const MAX_NAME_LEN: usize = 200;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match (req.verb(), segs) {
        (Verb::Get, []) => list(app, None).await,
        (_, []) => Err(ApiError::method_not_allowed("GET, HEAD")),
        (Verb::Get, ["stats"]) => stats(app).await,
        (_, ["stats"]) => Err(ApiError::method_not_allowed("GET, HEAD")),
        (Verb::Get, ["scan-progress", id]) => scan_progress(app, router::id(id)?),
        (_, ["scan-progress", _]) => Err(ApiError::method_not_allowed("GET, HEAD")),
        (Verb::Post, ["scan-all"]) => scan_all(app).await,
        (_, ["scan-all"]) => Err(ApiError::method_not_allowed("POST")),
        (Verb::Get, ["local"]) => list(app, Some(SourceType::Local)).await,
        (Verb::Post, ["local"]) => create_local(app, req).await,
        (_, ["local"]) => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        (Verb::Get, ["local", id]) => get(app, router::id(id)?).await,
        (Verb::Delete, ["local", id]) => delete(app, router::id(id)?).await,
        (_, ["local", _]) => Err(ApiError::method_not_allowed("GET, HEAD, DELETE")),
        (Verb::Post, ["local", id, "scan"]) => scan(app, router::id(id)?).await,
        (_, ["local", _, "scan"]) => Err(ApiError::method_not_allowed("POST")),
        _ => Err(router::not_found()),
    }
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

async fn get(app: &Arc<App>, id: i64) -> ApiResult {
    let row = app
        .db
        .read(move |conn| store::library(conn, id))
        .await?
        .filter(|l| l.source_type == SourceType::Local)
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

impl From<ScanRequestError> for ApiError {
    fn from(e: ScanRequestError) -> Self {
        match e {
            ScanRequestError::AlreadyScanning => ApiError::conflict(&e),
            ScanRequestError::QueueFull => ApiError::unavailable(&e, 10),
        }
    }
}

async fn scan(app: &Arc<App>, id: i64) -> ApiResult {
    let row = app
        .db
        .read(move |conn| store::library(conn, id))
        .await?
        .filter(|l| l.source_type == SourceType::Local)
        .ok_or_else(|| ApiError::not_found("library not found"))?;
    if !row.is_enabled {
        return Err(ApiError::conflict("the library is disabled"));
    }
    let progress = app.scanner.request(id)?;
    Ok(body::ok_json(&progress))
}

async fn scan_all(app: &Arc<App>) -> ApiResult {
    let rows = app
        .db
        .read(|conn| store::libraries(conn, Some(SourceType::Local)))
        .await?;
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
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid(
            "name",
            format_args!("must be 1 to {MAX_NAME_LEN} characters"),
        ));
    }
    let library_type: LibraryType = input.library_type.parse().map_err(|_| {
        ApiError::invalid(
            "library_type",
            format_args!("must be {}", crate::kinds::either(LibraryType::NAMES)),
        )
    })?;
    if crate::library::walk::parse_extensions(&input.file_extensions).is_empty() {
        return Err(ApiError::invalid("file_extensions", "no extension given"));
    }
    if !(0..=24 * 365).contains(&input.scan_interval_hours) {
        return Err(ApiError::invalid(
            "scan_interval_hours",
            "must be 0 to 8760",
        ));
    }
    if !input.path.starts_with('/') {
        return Err(ApiError::invalid("path", "must be an absolute path"));
    }
    let canonical = tokio::fs::canonicalize(&input.path)
        .await
        .map_err(|e| ApiError::invalid("path", format_args!("{}: {e}", input.path)))?;
    let is_dir = tokio::fs::metadata(&canonical)
        .await
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if !is_dir {
        return Err(ApiError::invalid(
            "path",
            format_args!("{} is not a folder", input.path),
        ));
    }
    let Some(path) = canonical.to_str().map(str::to_string) else {
        return Err(ApiError::invalid(
            "path",
            "the folder's path is not valid UTF-8",
        ));
    };
    let id = app
        .db
        .write(move |conn| {
            let new = NewLocal {
                name: &name,
                path: &path,
                library_type,
                recursive: input.recursive,
                file_extensions: &input.file_extensions,
                scan_interval_hours: input.scan_interval_hours,
            };
            Ok(store::create_local(conn, &new))
        })
        .await?
        .map_err(|e| match e {
            CreateError::Db(e) => ApiError::from(e),
            CreateError::Overlaps { id, path } => {
                ApiError::conflict(format_args!("path: overlaps library {id} ({path})"))
            }
            CreateError::TooMany => {
                ApiError::conflict(format_args!("at most {} libraries", store::MAX_LIBRARIES))
            }
        })?;
    // A new library is scanned at once: that is why it was added.
    if let Err(e) = app.scanner.request(id) {
        tracing::warn!(library = id, error = %e, "new library not scanned");
    }
    let row = app
        .db
        .read(move |conn| store::library(conn, id))
        .await?
        .ok_or_else(|| ApiError::internal("library vanished after insert"))?;
    Ok(body::created(id, &library_json(app, &row)))
}

async fn delete(app: &Arc<App>, id: i64) -> ApiResult {
    if app.scanner.is_scanning(id) {
        return Err(ApiError::conflict("a scan of this library is running"));
    }
    let deleted = app
        .db
        .write(move |conn| {
            Ok(conn.execute(
                "DELETE FROM libraries WHERE id = ?1 AND source_type = 'local'",
                [id],
            )?)
        })
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found("library not found"));
    }
    app.scanner.forget(id);
    app.content_changed();
    crate::scheduler::library_changed(app).await;
    Ok(body::no_content())
}
