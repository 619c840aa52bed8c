//! `/api/dashboard/*`: JSON summaries for an admin UI — what exists (channels, library),
//! what is happening (streams, recent activity) and how the box is doing (CPU, memory, disk).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::app::App;
use crate::http::router;
use crate::http::{body, ApiResult, Req};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    router::only_get(req)?;
    let v = match segs {
        [] => {
            let counts = counts(app).await?;
            json!({
                "message": "exstreamtv dashboard",
                "endpoints": [
                    {"path": "/api/dashboard/stats", "description": "everything below in one document"},
                    {"path": "/api/dashboard/quick-stats", "description": "headline numbers"},
                    {"path": "/api/dashboard/system-info", "description": "host and platform"},
                    {"path": "/api/dashboard/resource-usage", "description": "CPU, memory, disk, network"},
                    {"path": "/api/dashboard/active-streams", "description": "channels being streamed now"},
                    {"path": "/api/dashboard/activity", "description": "recent events"},
                    {"path": "/api/dashboard/stream-history", "description": "viewers over time"},
                    {"path": "/api/dashboard/library-stats", "description": "media by source"},
                ],
                "summary": {
                    "channels": counts.channels,
                    "enabled_channels": counts.enabled_channels,
                    "active_streams": active_streams(app).len(),
                    "playlists": counts.playlists,
                    "collections": counts.collections,
                    "media_items": counts.media_items,
                    "libraries": counts.libraries,
                },
            })
        }
        ["stats"] => {
            let counts = counts(app).await?;
            json!({
                "quick_stats": quick_stats(app, &counts),
                "system_info": system_info(app),
                "resource_usage": resource_usage(app),
                "active_streams": active_streams(app),
                "recent_activity": activity(20),
                "storage_breakdown": storage(app, &counts),
            })
        }
        ["quick-stats"] => quick_stats(app, &counts(app).await?),
        ["system-info"] => system_info(app),
        ["resource-usage"] => resource_usage(app),
        ["active-streams"] => Value::Array(active_streams(app)),
        ["activity"] => {
            let limit: usize = req
                .query_parsed("limit")?
                .unwrap_or(20)
                .min(crate::logging::RING_RECORDS);
            activity(limit)
        }
        ["stream-history"] => {
            let (hourly, daily, bandwidth) = app.metrics.stream_history.series();
            let series = |v: crate::metrics::Series| -> Vec<Value> {
                v.into_iter()
                    .map(|(label, value)| json!({"label": label, "value": value}))
                    .collect()
            };
            json!({
                "hourly_viewers": series(hourly),
                "daily_streams": series(daily),
                "weekly_bandwidth": series(bandwidth),
            })
        }
        ["library-stats"] => library_stats(app).await?,
        _ => return Err(router::not_found()),
    };
    Ok(body::ok_json(&v))
}

#[derive(Default)]
struct Counts {
    channels: i64,
    enabled_channels: i64,
    playlists: i64,
    collections: i64,
    media_items: i64,
    libraries: i64,
    media_seconds: i64,
}

async fn counts(app: &App) -> Result<Counts, crate::http::ApiError> {
    Ok(app
        .db
        .read(|conn| {
            let n = |sql: &str| -> Result<i64, crate::db::DbError> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
            Ok(Counts {
                channels: n("SELECT count(*) FROM channels")?,
                enabled_channels: n("SELECT count(*) FROM channels WHERE enabled = 1")?,
                playlists: n("SELECT count(*) FROM playlists")?,
                collections: n("SELECT count(*) FROM collections")?,
                media_items: n("SELECT count(*) FROM media_items WHERE is_missing = 0")?,
                libraries: n("SELECT count(*) FROM libraries")?,
                media_seconds: n("SELECT coalesce(sum(duration_ms), 0) / 1000 FROM media_items WHERE is_missing = 0")?,
            })
        })
        .await?)
}

fn quick_stats(app: &App, c: &Counts) -> Value {
    json!([
        {"label": "Channels", "value": c.channels, "icon": "tv", "color": "blue"},
        {"label": "Active streams", "value": active_streams(app).len(), "icon": "broadcast", "color": "green"},
        {"label": "Media items", "value": c.media_items, "icon": "film", "color": "purple"},
        {"label": "Library hours", "value": c.media_seconds / 3600, "icon": "clock", "color": "orange"},
        {"label": "Tuners", "value": app.tuner_count(), "icon": "antenna", "color": "gray"},
    ])
}

fn system_info(app: &App) -> Value {
    let (mem_total, _) = crate::system::memory().unwrap_or((0, 0));
    let disk = crate::api::health::disk_space(&app.config.data_dir);
    json!({
        "hostname": crate::system::hostname(),
        "platform": format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        "python_version": null,
        "rust_version": env!("EXSTREAMTV_RUSTC_VERSION"),
        "version": crate::VERSION,
        "board": app.board.name.as_str(),
        "encoder": app.board.encoder.as_str(),
        "cpu_count": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_total_gb": round2(mem_total as f64 / GIB),
        "disk_total_gb": round2(disk.map(|d| d.1).unwrap_or(0) as f64 / GIB),
        "uptime_hours": round2(crate::system::uptime_seconds() / 3600.0),
        "server_uptime_hours": round2(app.started_at.elapsed().as_secs_f64() / 3600.0),
    })
}

fn resource_usage(app: &App) -> Value {
    let (mem_total, mem_avail) = crate::system::memory().unwrap_or((0, 0));
    let used = mem_total.saturating_sub(mem_avail);
    let (disk_free, disk_total) =
        crate::api::health::disk_space(&app.config.data_dir).unwrap_or((0, 0));
    let (rx, tx) = crate::system::network_bytes();
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            round2(part as f64 * 100.0 / whole as f64)
        }
    };
    json!({
        "cpu_percent": round2(crate::system::cpu_percent()),
        "memory_percent": pct(used, mem_total),
        "memory_used_gb": round2(used as f64 / GIB),
        "process_rss_mb": round2(crate::system::rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0)),
        "disk_percent": pct(disk_total - disk_free, disk_total),
        "disk_used_gb": round2((disk_total - disk_free) as f64 / GIB),
        "disk_free_gb": round2(disk_free as f64 / GIB),
        "network_sent_mb": round2(tx as f64 / 1e6),
        "network_recv_mb": round2(rx as f64 / 1e6),
    })
}

fn active_streams(app: &App) -> Vec<Value> {
    app.streams
        .snapshot()
        .into_iter()
        .map(|c| {
            // Average over the channel's life: bytes sent to all viewers, per second.
            let kbps = (c.uptime_seconds > 0).then(|| c.bytes_sent * 8 / 1000 / c.uptime_seconds);
            let (mode, mode_reason) = crate::api::health::stream_mode(app, c.channel_id);
            json!({
                "channel_id": c.channel_id,
                "channel_name": c.name,
                "channel_number": c.number,
                "current_item": (!c.current_title.is_empty()).then_some(c.current_title),
                "viewers": c.viewers,
                "uptime_minutes": c.uptime_seconds / 60,
                "bitrate_kbps": kbps,
                "tuner": c.tuner,
                "on_slate": c.on_slate,
                "breaker": c.breaker,
                "restarts": c.restarts,
                "mode": mode,
                "mode_reason": mode_reason,
            })
        })
        .collect()
}

/// Recent events, from the log ring: errors, warnings and the notable info records.
fn activity(limit: usize) -> Value {
    let records = crate::logging::ring().recent(limit, |e| e.level != "DEBUG");
    let items: Vec<Value> = records
        .iter()
        .rev()
        .map(|e| {
            let m = e.message.to_ascii_lowercase();
            let (kind, icon, color) = if e.level == "ERROR" {
                ("error", "alert", "red")
            } else if m.contains("scan") && (m.contains("complete") || m.contains("finished") || m.contains("done")) {
                ("scan_complete", "folder", "blue")
            } else if m.contains("channel") && m.contains("start") {
                ("stream_start", "play", "green")
            } else if m.contains("channel") && m.contains("stop") {
                ("stream_end", "stop", "gray")
            } else {
                ("info", "info", if e.level == "WARNING" { "orange" } else { "gray" })
            };
            json!({"id": e.id, "type": kind, "message": e.message, "timestamp": e.timestamp, "icon": icon, "color": color})
        })
        .collect();
    Value::Array(items)
}

fn storage(app: &App, c: &Counts) -> Value {
    let db_bytes: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", app.db.path().display())).ok())
        .map(|m| m.len())
        .sum();
    json!({
        "database_mb": round2(db_bytes as f64 / 1e6),
        "media_items": c.media_items,
        "media_hours": round2(c.media_seconds as f64 / 3600.0),
        "media_on_disk": "read in place; nothing is copied",
    })
}

async fn library_stats(app: &App) -> ApiResult<Value> {
    let rows: Vec<(String, i64, i64)> = app
        .db
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT coalesce(l.source_type, m.source), count(DISTINCT l.id), count(m.id)
                 FROM media_items m LEFT JOIN libraries l ON l.id = m.library_id
                 WHERE m.is_missing = 0 GROUP BY 1",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let mut v = json!({
        "local": {"count": 0, "items": 0},
        "plex": {"count": 0, "items": 0},
        "jellyfin": {"count": 0, "items": 0},
        "emby": {"count": 0, "items": 0},
    });
    for (source, libraries, items) in rows {
        v[source] = json!({"count": libraries, "items": items});
    }
    Ok(v)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
