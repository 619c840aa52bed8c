//! `GET /metrics`: Prometheus text exposition (format 0.0.4), open like the TV routes.
//! Names keep EXStreamTV's (`exstreamtv_*`). Rendered from atomics and snapshots; no lock is
//! held across an await.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::app::App;
use crate::http::{body, router, ApiResult, Req};

pub async fn route(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only_get(req)?;
    let mut out = Exposition(String::with_capacity(8192));
    render(app, &mut out).await;
    Ok(body::bytes(
        "text/plain; version=0.0.4; charset=utf-8",
        Bytes::from(out.0),
    ))
}

/// A Prometheus text document being written; each family writes HELP and TYPE once.
pub struct Exposition(pub String);

impl Exposition {
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(
            self.0,
            "# HELP exstreamtv_{name} {help}\n# TYPE exstreamtv_{name} {kind}"
        );
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.0, "exstreamtv_{name}");
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"");
                escape_label(&mut self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// One family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

async fn render(app: &App, out: &mut Exposition) {
    let m = &app.metrics;
    out.family(
        "http_requests_total",
        "counter",
        "HTTP responses by route and status.",
    );
    for (route, status, n) in m.http_requests() {
        out.sample(
            "http_requests_total",
            &[("route", &route), ("status", &status.to_string())],
            n,
        );
    }
    out.single(
        "http_request_duration_seconds_total",
        "counter",
        "Time spent producing HTTP response heads.",
        m.http_request_micros_total.load(Ordering::Relaxed) as f64 / 1e6,
    );
    out.single(
        "uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        app.started_at.elapsed().as_secs(),
    );
    out.single(
        "system_rss_bytes",
        "gauge",
        "Resident memory of the server process.",
        crate::system::rss_bytes().unwrap_or(0),
    );
    let (fds, fd_limit) = crate::system::fd_usage();
    out.single(
        "fd_usage",
        "gauge",
        "Open file descriptors of the server process.",
        fds,
    );
    if let Some(limit) = fd_limit {
        out.single(
            "fd_limit",
            "gauge",
            "The soft limit on open file descriptors.",
            limit,
        );
    }
    out.single(
        "event_loop_lag_seconds",
        "gauge",
        "How late the async runtime woke a 1 s timer (last sample).",
        m.event_loop_lag_micros.load(Ordering::Relaxed) as f64 / 1e6,
    );
    out.single(
        "db_pool_size",
        "gauge",
        "SQLite connections (one writer, one reader).",
        2,
    );
    out.single(
        "db_pool_checked_out",
        "gauge",
        "SQLite jobs queued or running on the DB threads.",
        app.db.jobs_in_flight(),
    );
    out.single(
        "tuners",
        "gauge",
        "The tuner count (the FFmpeg pool size).",
        app.tuner_count(),
    );
    render_streams(app, out);
}

/// The streaming engine's figures, from `stream::Manager::snapshot` and its totals.
fn render_streams(app: &App, out: &mut Exposition) {
    let streams = &app.streams;
    let totals = &streams.totals;
    let snapshot = streams.snapshot();
    out.single(
        "tuners_in_use",
        "gauge",
        "Tuners streaming now (channels and /iptv/stream items).",
        streams.pool.in_use(),
    );
    out.single(
        "ffmpeg_processes_active",
        "gauge",
        "FFmpeg-backed streams running now.",
        streams.active_processes(),
    );
    out.single(
        "ffmpeg_spawn_rejected_total",
        "counter",
        "Tunes refused (no tuner free, too many viewers, no FFmpeg).",
        totals.tunes_rejected.load(Ordering::Relaxed),
    );
    out.single(
        "stream_failure_total",
        "counter",
        "FFmpeg runs that failed (non-zero exit, no output, or a stall).",
        totals.ffmpeg_failures.load(Ordering::Relaxed),
    );
    out.single(
        "health_timeouts_total",
        "counter",
        "FFmpeg runs killed for a stall.",
        totals.ffmpeg_stalls.load(Ordering::Relaxed),
    );
    out.family("viewers", "gauge", "Viewers per running channel.");
    for ch in &snapshot {
        out.sample("viewers", &[("channel", &ch.number)], ch.viewers);
    }
    out.family(
        "channel_restart_total",
        "counter",
        "FFmpeg restarts per running channel.",
    );
    for ch in &snapshot {
        out.sample(
            "channel_restart_total",
            &[("channel", &ch.number)],
            ch.restarts,
        );
    }
    out.family(
        "circuit_breaker_state",
        "gauge",
        "Per channel: 0 closed, 1 half-open, 2 open.",
    );
    for ch in &snapshot {
        out.sample(
            "circuit_breaker_state",
            &[("channel", &ch.number)],
            ch.breaker_code,
        );
    }
    out.family(
        "viewer_dropped_total",
        "counter",
        "Ring chunks skipped by viewers too slow to keep up, per running channel.",
    );
    for ch in &snapshot {
        out.sample(
            "viewer_dropped_total",
            &[("channel", &ch.number)],
            ch.chunks_dropped,
        );
    }
}
