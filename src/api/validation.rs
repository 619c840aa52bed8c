//! `/api/validation/*`: `library::validate` over the library's local files — one file by
//! its path (or `media_item_id`), or all of them in the background with progress — and the
//! stored verdicts. Only files the library knows are checked (a path is a key into the
//! library, never a file we would open otherwise). Without FFmpeg and ffprobe the
//! validator is off: 503.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::tx::read;
use crate::app::App;
use crate::changes::Changes;
use crate::db::DbError;
use crate::http::query::percent_decode;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::library::validate::{self, Verdict};
use crate::time::{now_ms, rfc3339};

/// Verdicts `results` lists at most per page.
const MAX_RESULTS: i64 = 1000;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["status"] => {
            router::only_get(req)?;
            status(app).await
        }
        ["results"] => {
            router::only_get(req)?;
            results(app, req).await
        }
        ["results", file] => {
            router::only_get(req)?;
            let path = percent_decode(file).into_owned();
            let item = read(app, move |conn| item_by_path(conn, &path)).await?;
            let doc = read(app, move |conn| result_of(conn, item.0)).await?;
            doc.map(|d| body::ok_json(&d))
                .ok_or_else(|| ApiError::not_found("the file has not been validated"))
        }
        ["validate"] => {
            router::only(req, Verb::Post)?;
            validate_one(app, req).await
        }
        ["validate-all"] => {
            router::only(req, Verb::Post)?;
            validate_all(app).await
        }
        ["clear-cache"] => {
            router::only(req, Verb::Post)?;
            let cleared = app
                .db
                .write(|conn| Ok(conn.execute("DELETE FROM media_validations", [])?))
                .await?;
            // Items marked invalid may play again.
            app.apply(Changes::all("validations cleared")).await;
            Ok(body::ok_json(&json!({"success": true, "cleared": cleared})))
        }
        _ => Err(router::not_found()),
    }
}

/// FFmpeg's and ffprobe's programs, or 503: the validator is off without them.
async fn programs(app: &Arc<App>) -> Result<(PathBuf, PathBuf), ApiError> {
    let tools = app.tools.wait(app.shutdown.clone()).await;
    match tools {
        Some(t) if t.ffmpeg.is_available() && t.ffprobe.is_available() => Ok((
            t.ffprobe.program().to_path_buf(),
            t.ffmpeg.program().to_path_buf(),
        )),
        _ => Err(ApiError::unavailable(
            "the validator needs ffmpeg and ffprobe, and they are not available",
            30,
        )),
    }
}

async fn status(app: &Arc<App>) -> ApiResult {
    let enabled = programs(app).await.is_ok();
    let (running, checked, total) = validate::run_state().progress();
    let counts = read(app, |conn| {
        Ok(conn
            .query_row(
                "SELECT (SELECT count(*) FROM media_items WHERE source = 'local'
                             AND path_bytes IS NOT NULL AND is_missing = 0),
                        (SELECT count(*) FROM media_validations WHERE valid = 1),
                        (SELECT count(*) FROM media_validations WHERE valid = 0)",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .map_err(DbError::from)?)
    })
    .await?;
    Ok(body::ok_json(&json!({
        "enabled": enabled, "watching": false,
        "total_files": counts.0, "valid_files": counts.1, "invalid_files": counts.2,
        "running": running, "checked": checked, "queued": total.saturating_sub(checked),
    })))
}

async fn results(app: &Arc<App>, req: &Req) -> ApiResult {
    let valid: Option<bool> = req.query_parsed("valid")?;
    let limit = req
        .query_parsed::<i64>("limit")?
        .unwrap_or(100)
        .clamp(1, MAX_RESULTS);
    let rows = read(app, move |conn| {
        let mut stmt = conn
            .prepare(&format!(
                "{SELECT} WHERE ?1 IS NULL OR v.valid = ?1 ORDER BY v.checked_at_ms DESC LIMIT ?2"
            ))
            .map_err(DbError::from)?;
        let rows = stmt
            .query_map(params![valid, limit], result_json)
            .map_err(DbError::from)?;
        Ok(rows.collect::<Result<Vec<_>, _>>().map_err(DbError::from)?)
    })
    .await?;
    Ok(body::ok_json(
        &json!({"count": rows.len(), "results": rows}),
    ))
}

const SELECT: &str = "SELECT v.media_item_id, m.path_bytes, v.valid, v.reason, v.checked_at_ms
     FROM media_validations v JOIN media_items m ON m.id = v.media_item_id";

fn result_json(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let path: Option<Vec<u8>> = r.get(1)?;
    Ok(json!({
        "media_item_id": r.get::<_, i64>(0)?,
        "file_path": path.map(|p| String::from_utf8_lossy(&p).into_owned()),
        "valid": r.get::<_, bool>(2)?,
        "reason": r.get::<_, Option<String>>(3)?,
        "checked_at": rfc3339(r.get(4)?),
    }))
}

fn result_of(conn: &Connection, media_item_id: i64) -> Result<Option<Value>, ApiError> {
    Ok(conn
        .query_row(
            &format!("{SELECT} WHERE v.media_item_id = ?1"),
            [media_item_id],
            result_json,
        )
        .optional()
        .map_err(DbError::from)?)
}

/// A local library item: id, file, size now.
type Item = (i64, PathBuf);

fn item_by_path(conn: &Connection, path: &str) -> Result<Item, ApiError> {
    conn.query_row(
        "SELECT id, path_bytes FROM media_items WHERE path_bytes = ?1 AND source = 'local'",
        [path.as_bytes()],
        item_row,
    )
    .optional()
    .map_err(DbError::from)?
    .ok_or_else(|| ApiError::not_found("no library file has that path"))
}

fn item_by_id(conn: &Connection, id: i64) -> Result<Item, ApiError> {
    conn.query_row(
        "SELECT id, path_bytes FROM media_items WHERE id = ?1 AND source = 'local'
             AND path_bytes IS NOT NULL",
        [id],
        item_row,
    )
    .optional()
    .map_err(DbError::from)?
    .ok_or_else(|| ApiError::not_found("no local library file has that id"))
}

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let bytes: Vec<u8> = r.get(1)?;
    Ok((r.get(0)?, PathBuf::from(OsStr::from_bytes(&bytes))))
}

/// `?file_path=` or `?media_item_id=`; `force` checks again a file already checked at its
/// current size.
async fn validate_one(app: &Arc<App>, req: &Req) -> ApiResult {
    let force = req.query_parsed::<bool>("force")?.unwrap_or(false);
    let id: Option<i64> = req.query_parsed("media_item_id")?;
    let path = req.query("file_path").map(|p| p.into_owned());
    let item = match (id, path) {
        (Some(id), _) => read(app, move |conn| item_by_id(conn, id)).await?,
        (None, Some(path)) => read(app, move |conn| item_by_path(conn, &path)).await?,
        (None, None) => return Err(ApiError::invalid("file_path", "field required")),
    };
    let (ffprobe, ffmpeg) = programs(app).await?;
    let id = item.0;
    if !force {
        let size = file_size(&item.1);
        let cached = read(app, move |conn| cached(conn, id, size)).await?;
        if let Some(doc) = cached {
            return Ok(body::ok_json(&doc));
        }
    }
    check_and_store(app, &ffprobe, &ffmpeg, &item).await?;
    let doc = read(app, move |conn| result_of(conn, id)).await?;
    Ok(body::ok_json(&doc.unwrap_or(Value::Null)))
}

fn file_size(path: &std::path::Path) -> Option<i64> {
    std::fs::metadata(path).ok().map(|m| m.len() as i64)
}

/// The stored verdict when the file still has the size it was checked at.
fn cached(conn: &Connection, id: i64, size: Option<i64>) -> Result<Option<Value>, ApiError> {
    let same: Option<bool> = conn
        .query_row(
            "SELECT file_size IS ?2 FROM media_validations WHERE media_item_id = ?1",
            params![id, size],
            |r| r.get(0),
        )
        .optional()
        .map_err(DbError::from)?;
    match same {
        Some(true) => result_of(conn, id),
        _ => Ok(None),
    }
}

async fn check_and_store(
    app: &Arc<App>,
    ffprobe: &std::path::Path,
    ffmpeg: &std::path::Path,
    item: &Item,
) -> Result<Verdict, ApiError> {
    let verdict = validate::check(ffprobe, ffmpeg, &item.1, app.shutdown.clone()).await;
    let (id, size) = (item.0, file_size(&item.1));
    let stored = verdict.clone();
    let newly_invalid = app
        .db
        .write(move |conn| validate::store(conn, id, &stored, size, now_ms()))
        .await?;
    if newly_invalid {
        tracing::warn!(media_item = id, reason = ?verdict.reason, "a library file failed validation");
        app.apply(Changes::all("a file failed validation")).await;
    }
    Ok(verdict)
}

/// Starts checking every local file in the background (one at a time: a Pi has other
/// work); 409 while a run is going.
async fn validate_all(app: &Arc<App>) -> ApiResult {
    let (ffprobe, ffmpeg) = programs(app).await?;
    let items: Vec<Item> = read(app, |conn| {
        let mut stmt = conn
            .prepare(
                "SELECT id, path_bytes FROM media_items WHERE source = 'local'
                     AND path_bytes IS NOT NULL AND is_missing = 0 ORDER BY id",
            )
            .map_err(DbError::from)?;
        let rows = stmt.query_map([], item_row).map_err(DbError::from)?;
        Ok(rows.collect::<Result<Vec<_>, _>>().map_err(DbError::from)?)
    })
    .await?;
    let run = validate::run_state();
    if !run.start(items.len() as u64) {
        return Err(ApiError::conflict(
            "a validation of every file is already running",
        ));
    }
    let total = items.len();
    let task_app = app.clone();
    tokio::spawn(async move {
        for item in &items {
            if *task_app.shutdown.borrow() {
                break;
            }
            if let Err(e) = check_and_store(&task_app, &ffprobe, &ffmpeg, item).await {
                tracing::warn!(media_item = item.0, error = %e.detail, "validation not stored");
            }
            validate::run_state().tick();
        }
        validate::run_state().finish();
    });
    Ok(body::ok_json(&json!({
        "status": "started", "total": total, "results": [], "valid": null, "invalid": null,
        "message": "checking every file in the background; see /api/validation/status",
    })))
}
