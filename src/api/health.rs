//! `/api/health` and `/api/health/*` (open): liveness, readiness, FFmpeg, the database, free
//! space on the data dir, uptime.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::json;

use crate::app::App;
use crate::http::{body, router, ApiError, ApiResult, Req};

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    router::only_get(req)?;
    let timestamp = crate::time::rfc3339(crate::time::now_ms());
    match segs {
        [] => Ok(body::ok_json(&json!({
            "status": "healthy",
            "version": crate::VERSION,
            "timestamp": timestamp,
            "uptime_seconds": app.started_at.elapsed().as_secs(),
        }))),
        ["live"] => Ok(body::ok_json(&json!({"status": "alive"}))),
        ["ready"] => match db_ok(app).await {
            Ok(()) => Ok(body::ok_json(&json!({"status": "ready"}))),
            Err(e) => Err(ApiError::unavailable(format_args!("not ready: {e}"), 5)),
        },
        ["detailed"] => detailed(app, timestamp).await,
        ["db"] => {
            let ok = db_ok(app).await;
            let status = if ok.is_ok() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            Ok(body::json(
                status,
                &json!({
                    "status": if ok.is_ok() { "healthy" } else { "error" },
                    "pool_stats": {"size": 2, "writer": 1, "reader": 1},
                    "utilization_percent": 0,
                    "timestamp": timestamp,
                }),
            ))
        }
        _ => Err(router::not_found()),
    }
}

async fn db_ok(app: &App) -> Result<(), crate::db::DbError> {
    app.db
        .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
        .map(|_| ())
}

/// Free and total bytes of the filesystem holding `path`.
pub fn disk_space(path: &std::path::Path) -> Option<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frsize = st.fragment_size() as u64;
    Some((
        st.blocks_available() as u64 * frsize,
        st.blocks() as u64 * frsize,
    ))
}

async fn detailed(app: &Arc<App>, timestamp: String) -> ApiResult {
    let db = db_ok(app).await;
    let tool = |t: &crate::tools::Tool| {
        json!({
            "status": if t.is_available() { "available" } else { "missing" },
            "version": t.version,
            "path": t.path.as_ref().map(|p| p.display().to_string()),
        })
    };
    let uname = nix::sys::utsname::uname().ok();
    let uname_field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let disk = disk_space(&app.config.data_dir);
    let healthy = db.is_ok() && app.tools.ffmpeg.is_available();
    Ok(body::ok_json(&json!({
        "status": if healthy { "healthy" } else { "degraded" },
        "version": crate::VERSION,
        "timestamp": timestamp,
        "uptime_seconds": app.started_at.elapsed().as_secs(),
        "system": {
            "platform": uname_field(|u| u.sysname()),
            "platform_release": uname_field(|u| u.release()),
            "platform_version": uname_field(|u| u.version()),
            "architecture": std::env::consts::ARCH,
            "rust_version": env!("EXSTREAMTV_RUSTC_VERSION"),
            "board": app.board.name.as_str(),
            "encoder": app.board.encoder.as_str(),
        },
        "components": {
            "ffmpeg": tool(&app.tools.ffmpeg),
            "ffprobe": tool(&app.tools.ffprobe),
            "database": {"status": if db.is_ok() { "healthy" } else { "error" }},
        },
        "disk": {
            "free_bytes": disk.map(|d| d.0),
            "total_bytes": disk.map(|d| d.1),
        },
        "config": {
            "server_port": app.config.listen.port(),
            "debug_mode": false,
            "hdhomerun_enabled": app.settings().hdhomerun.enabled,
            "tuner_count": app.tuner_count(),
        },
    })))
}
