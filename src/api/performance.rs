//! `/api/performance/*`: our own figures, as they stand — requests per route with their
//! times and the slowest, the output cache, the database's round trips and file sizes,
//! the FFmpeg children with their CPU and memory from `/proc`, the background tasks (their
//! records from the log ring). Everything is measured or counted here; nothing is an
//! estimate.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::app::App;
use crate::db::DbError;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiResult, Req};
use crate::time::rfc3339;

/// The background tasks the server runs, with what each does and how often.
const TASKS: &[(&str, &str, &str)] = &[
    (
        "scheduler",
        "keeps every timeline built to its horizon",
        "exstreamtv::scheduler",
    ),
    (
        "scanner",
        "scans libraries when due (checked every 5 min)",
        "exstreamtv::library",
    ),
    (
        "streams",
        "starts, feeds and stops channels",
        "exstreamtv::stream",
    ),
    (
        "stream_history",
        "samples viewers, tunes and bytes every 30 s",
        "exstreamtv::background",
    ),
    (
        "event_loop_lag",
        "measures the runtime's timer lag every second",
        "exstreamtv::background",
    ),
    (
        "discovery",
        "answers HDHomeRun discovery on UDP",
        "exstreamtv::hdhr",
    ),
];

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["stats"] | ["health"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&stats(app).await))
        }
        ["requests", "endpoints"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&endpoints(app)))
        }
        ["requests", "slow"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&slow(app)))
        }
        ["cache"] => {
            router::only_get(req)?;
            let (entries, bytes, hits, misses) = app.outputs.stats();
            Ok(body::ok_json(&json!({
                "outputs": {"entries": entries, "bytes": bytes, "hits": hits, "misses": misses,
                            "hit_rate": ratio(hits, hits + misses)},
            })))
        }
        ["cache", "clear"] => {
            router::only(req, Verb::Post)?;
            let cleared = app.outputs.clear();
            Ok(body::ok_json(&json!({"success": true, "cleared": cleared})))
        }
        ["database"] => {
            router::only_get(req)?;
            database(app).await
        }
        ["ffmpeg"] | ["ffmpeg", "processes"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&ffmpeg(app, segs.len() == 2)))
        }
        ["tasks"] | ["tasks", "scheduled"] => {
            router::only_get(req)?;
            let tasks: Vec<Value> = TASKS
                .iter()
                .map(|(name, what, _)| json!({"name": name, "description": what, "running": true}))
                .collect();
            Ok(body::ok_json(
                &json!({"tasks": tasks, "count": tasks.len()}),
            ))
        }
        ["tasks", "recent"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&recent_tasks()))
        }
        _ => Err(router::not_found()),
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1000.0).round() / 1000.0)
}

fn millis(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}

async fn stats(app: &Arc<App>) -> Value {
    let (rows, _) = app.metrics.request_times();
    let requests: u64 = rows.iter().map(|r| r.count).sum();
    let micros: u64 = rows.iter().map(|r| r.micros_total).sum();
    let ffmpeg = crate::system::children_named("ffmpeg");
    json!({
        "status": "healthy",
        "uptime_seconds": app.started_at.elapsed().as_secs(),
        "requests": requests,
        "request_mean_ms": (requests > 0).then(|| millis(micros / requests)),
        "process_rss_bytes": crate::system::rss_bytes(),
        "cpu_percent": crate::system::cpu_percent(),
        "ffmpeg_processes": ffmpeg.len(),
        "tuners_in_use": app.streams.pool.in_use(),
        "tuner_count": app.tuner_count(),
        "viewers": app.streams.snapshot().iter().map(|c| u64::from(c.viewers)).sum::<u64>(),
    })
}

/// Per route (all statuses together): count, mean and longest time, slowest mean first.
fn endpoints(app: &App) -> Value {
    let (rows, _) = app.metrics.request_times();
    let mut by_route: Vec<(String, u64, u64, u64, u64)> = Vec::new();
    for r in &rows {
        let errors = u64::from(r.status >= 400) * r.count;
        match by_route.iter_mut().find(|e| e.0 == r.label.as_str()) {
            Some(e) => {
                e.1 += r.count;
                e.2 += r.micros_total;
                e.3 = e.3.max(r.micros_max);
                e.4 += errors;
            }
            None => by_route.push((
                r.label.to_string(),
                r.count,
                r.micros_total,
                r.micros_max,
                errors,
            )),
        }
    }
    by_route.sort_by_key(|e| std::cmp::Reverse(e.2 / e.1.max(1)));
    let list: Vec<Value> = by_route
        .iter()
        .map(|(route, n, total, max, errors)| {
            json!({"route": route, "count": n, "mean_ms": millis(total / (*n).max(1)),
                   "max_ms": millis(*max), "errors": errors})
        })
        .collect();
    json!({"endpoints": list, "count": list.len()})
}

fn slow(app: &App) -> Value {
    let (_, slowest) = app.metrics.request_times();
    let list: Vec<Value> = slowest
        .iter()
        .map(|s| {
            json!({"method": s.method.as_str(), "route": s.label.as_str(),
                   "duration_ms": millis(s.micros), "at": rfc3339(s.at_ms)})
        })
        .collect();
    json!({"requests": list, "kept": crate::metrics::SLOWEST_KEPT})
}

/// A read and a write round trip timed now, and the files' sizes.
async fn database(app: &Arc<App>) -> ApiResult {
    let started = Instant::now();
    app.db
        .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await?;
    let read_us = started.elapsed().as_micros() as u64;
    let started = Instant::now();
    let pages: (i64, i64) = app
        .db
        .write(|conn| {
            conn.query_row(
                "SELECT (SELECT page_count FROM pragma_page_count()),
                        (SELECT freelist_count FROM pragma_freelist_count())",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(DbError::from)
        })
        .await?;
    let write_us = started.elapsed().as_micros() as u64;
    let file = app.config.db_path();
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let wal = file.with_extension("db-wal");
    Ok(body::ok_json(&json!({
        "read_round_trip_ms": millis(read_us),
        "write_round_trip_ms": millis(write_us),
        "file_bytes": size(&file), "wal_bytes": size(&wal),
        "page_count": pages.0, "freelist_pages": pages.1,
        "journal_mode": "wal",
    })))
}

fn ffmpeg(app: &App, with_processes: bool) -> Value {
    let children = crate::system::children_named("ffmpeg");
    let cpu: f64 = children.iter().map(|c| c.cpu_seconds).sum();
    let rss: u64 = children.iter().map(|c| c.rss_bytes).sum();
    let mut doc = json!({
        "processes": children.len(), "cpu_seconds_total": cpu, "rss_bytes_total": rss,
        "tuners_in_use": app.streams.pool.in_use(), "tuner_count": app.tuner_count(),
    });
    if with_processes {
        doc["processes_detail"] = children
            .iter()
            .map(|c| {
                json!({"pid": c.pid, "name": c.name, "cpu_seconds": c.cpu_seconds,
                       "rss_bytes": c.rss_bytes, "age_seconds": c.age_seconds.round(),
                       "cpu_percent": (c.age_seconds > 0.0)
                           .then(|| (c.cpu_seconds / c.age_seconds * 1000.0).round() / 10.0)})
            })
            .collect();
    }
    doc
}

/// The tasks' latest records from the log ring (nothing is written to disk).
fn recent_tasks() -> Value {
    let records = crate::logging::ring().recent(50, |e| {
        TASKS
            .iter()
            .any(|(_, _, target)| e.logger.starts_with(target))
    });
    let list: Vec<Value> = records
        .iter()
        .rev()
        .map(|e| {
            json!({"task": task_of(&e.logger), "level": e.level, "message": e.message,
                        "timestamp": e.timestamp})
        })
        .collect();
    json!({"recent": list, "count": list.len()})
}

fn task_of(logger: &str) -> &'static str {
    TASKS
        .iter()
        .find(|(_, _, target)| logger.starts_with(target))
        .map_or("other", |(name, _, _)| name)
}
