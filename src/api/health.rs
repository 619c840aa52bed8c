//! `/api/health` and `/api/health/*` (open): liveness, readiness, FFmpeg, the database, free
//! space on the data dir, uptime.
//!
//! FFmpeg and ffprobe are checked after the listener opens (`tools::ToolsCheck`): until then
//! `detailed` reports each as `"checking"` and `streaming` says `"checking"`; only a tool
//! known to be missing degrades them. `/api/health` itself, the probe scripts use to see
//! "started", never looked at FFmpeg: it answers 200 healthy from the first request.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::json;

use crate::app::App;
use crate::http::{body, router, ApiError, ApiResult, Req};
use crate::stream::breaker::BreakerPhase;

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
        ["channels"] => Ok(body::ok_json(&channels(app, timestamp))),
        ["streaming"] => Ok(body::ok_json(&streaming(app, timestamp))),
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
    let tools = app.tools.known();
    let tool = |t: Option<&crate::tools::Tool>| match t {
        Some(t) => json!({
            "status": if t.is_available() { "available" } else { "missing" },
            "version": t.version,
            "path": t.path.as_ref().map(|p| p.display().to_string()),
        }),
        None => json!({"status": "checking", "version": null, "path": null}),
    };
    let uname = nix::sys::utsname::uname().ok();
    let uname_field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let disk = disk_space(&app.config.data_dir);
    // Still checking is not a fault: only FFmpeg known to be missing degrades the status.
    let ffmpeg_missing = tools.as_ref().is_some_and(|t| !t.ffmpeg.is_available());
    let healthy = db.is_ok() && !ffmpeg_missing;
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
            "ffmpeg": tool(tools.as_ref().map(|t| &t.ffmpeg)),
            "ffprobe": tool(tools.as_ref().map(|t| &t.ffprobe)),
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

/// A running channel is unhealthy after this long without output (API.md §2.12).
const CHANNEL_SILENT_UNHEALTHY_S: f64 = 60.0;

/// `/api/health/channels`: every running channel's output age, restarts and recent errors.
fn channels(app: &App, timestamp: String) -> serde_json::Value {
    let snapshot = app.streams.snapshot();
    let mut by_id = serde_json::Map::new();
    let mut n_unhealthy = 0;
    for ch in &snapshot {
        // A channel that has not produced anything yet counts from its start.
        let silent_s = ch
            .last_output_seconds_ago
            .unwrap_or(ch.uptime_seconds as f64);
        let unhealthy =
            silent_s > CHANNEL_SILENT_UNHEALTHY_S || ch.breaker_phase() == BreakerPhase::Open;
        if unhealthy {
            n_unhealthy += 1;
        }
        by_id.insert(
            ch.channel_id.to_string(),
            json!({
                "last_output_seconds_ago": ch.last_output_seconds_ago,
                "restart_count": ch.restarts,
                "error_count_5min": ch.error_count_5min,
                "healthy": !unhealthy,
                "number": ch.number,
                "name": ch.name,
                "tuner": ch.tuner,
                "viewers": ch.viewers,
                "breaker": ch.breaker,
                "current_item_id": ch.current_item_id,
                "current_title": ch.current_title,
                "on_slate": ch.on_slate,
                "bytes_sent": ch.bytes_sent,
                "chunks_dropped": ch.chunks_dropped,
                "ffmpeg_pid": ch.ffmpeg_pid,
                "last_stderr": ch.stderr_tail,
            }),
        );
    }
    let status = match n_unhealthy {
        0 => "healthy",
        n if n == snapshot.len() => "error",
        _ => "degraded",
    };
    json!({
        "status": status,
        "total_channels": snapshot.len(),
        "unhealthy_channels": n_unhealthy,
        "channels": by_id,
        "timestamp": timestamp,
    })
}

/// What a running channel's FFmpeg does now (`copy`, `audio`, `transcode`), and why the
/// video is encoded when it is; `None`s for a channel that stopped meanwhile.
pub fn stream_mode(
    app: &App,
    channel: crate::ops::ids::ChannelId,
) -> (Option<&'static str>, Option<&'static str>) {
    match app.streams.running(channel) {
        Some(ch) => {
            let now = ch.now_playing();
            (Some(now.mode.as_str()), now.mode_reason.map(|r| r.as_str()))
        }
        None => (None, None),
    }
}

/// `/api/health/streaming`: FFmpeg processes and the watchdog's counters, and each running
/// channel's mode.
fn streaming(app: &App, timestamp: String) -> serde_json::Value {
    use std::sync::atomic::Ordering::Relaxed;
    let totals = &app.streams.totals;
    let (status, detail) = match app.tools.known() {
        None => ("checking", Some("checking ffmpeg after start")),
        Some(tools) if tools.ffmpeg.is_available() => ("healthy", None),
        Some(_) => (
            "error",
            Some("ffmpeg is not installed: streams cannot start"),
        ),
    };
    let channels: Vec<serde_json::Value> = app
        .streams
        .snapshot()
        .iter()
        .map(|c| {
            let (mode, mode_reason) = stream_mode(app, c.channel_id);
            json!({
                "channel_id": c.channel_id,
                "number": c.number,
                "current_item_id": c.current_item_id,
                "mode": mode,
                "mode_reason": mode_reason,
            })
        })
        .collect();
    json!({
        "status": status,
        "detail": detail,
        "channels": channels,
        "copy_fallbacks": totals.copy_fallbacks.load(Relaxed),
        "watchdog": {
            "active_processes": app.streams.active_processes(),
            "total_kills": totals.ffmpeg_kills.load(Relaxed),
            "total_timeouts": totals.ffmpeg_stalls.load(Relaxed),
            "total_failures": totals.ffmpeg_failures.load(Relaxed),
            "total_restarts": totals.restarts.load(Relaxed),
            "restarts_deferred": totals.restarts_deferred.load(Relaxed),
            "restart_rate_per_minute": app.streams.restart_rate_per_minute(),
        },
        "tuners": {
            "count": app.tuner_count(),
            "in_use": app.streams.pool.in_use(),
        },
        "url_resolver": {"cache_size": 0, "registered_resolvers": 0},
        "timestamp": timestamp,
    })
}
