//! `GET /metrics`: Prometheus text exposition (format 0.0.4), open like the TV routes.
//! Names keep EXStreamTV's (`exstreamtv_*`). Rendered from atomics and snapshots; no lock is
//! held across an await.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::app::App;
use crate::http::{body, router, ApiResult, Req};
use crate::stream::manager::ChannelSnapshot;

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
        "Time spent producing HTTP response heads (routed requests; cached polled documents are not timed).",
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
    render_library(app, out).await;
}

/// A per-channel family: name, type, help, and the value read from a channel's snapshot.
type PerChannel = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ChannelSnapshot) -> u64,
);

/// The streaming engine: tuners, FFmpeg, viewers, bytes, drops, breakers, tune latency.
fn render_streams(app: &App, out: &mut Exposition) {
    render_engine_counters(app, out);
    let channels = app.streams.snapshot();
    render_per_channel(&channels, out);
    render_stream_modes(app, &channels, out);
    render_tune_latency(app, out);
}

/// `exstreamtv_channel_stream_mode{channel, mode}`: 1 for the mode a running channel's
/// FFmpeg is in now, 0 for the others.
fn render_stream_modes(app: &App, channels: &[ChannelSnapshot], out: &mut Exposition) {
    use crate::stream::ffmpeg::StreamMode;
    out.family(
        "channel_stream_mode",
        "gauge",
        "Per running channel: 1 for its mode now (copy: video and audio copied; audio: video copied, audio encoded; transcode: video encoded).",
    );
    for c in channels {
        let Some(ch) = app.streams.running(c.channel_id) else {
            continue;
        };
        let now = ch.now_playing().mode;
        for mode in StreamMode::ALL {
            out.sample(
                "channel_stream_mode",
                &[("channel", &c.number), ("mode", mode.as_str())],
                u8::from(mode == now),
            );
        }
    }
    out.single(
        "copy_fallbacks_total",
        "counter",
        "Items whose copy failed and that were transcoded instead.",
        app.streams.totals.copy_fallbacks.load(Ordering::Relaxed),
    );
}

/// The engine-wide gauges (tuners, FFmpeg processes), then its counters.
fn render_engine_counters(app: &App, out: &mut Exposition) {
    out.single(
        "tuners_in_use",
        "gauge",
        "Tuners streaming now (channels and /iptv/stream items).",
        app.streams.pool.in_use(),
    );
    out.single(
        "ffmpeg_processes_active",
        "gauge",
        "FFmpeg-backed streams running now.",
        app.streams.active_processes(),
    );
    out.single(
        "ffmpeg_pool_capacity",
        "gauge",
        "The FFmpeg pool bound (= tuners).",
        app.tuner_count(),
    );
    out.single(
        "ffmpeg_spawn_pending",
        "gauge",
        "FFmpeg starts waiting for a permit (tunes never wait).",
        0,
    );
    render_run_counters(app, out);
}

/// Tunes, FFmpeg runs and restarts, counted since the start.
fn render_run_counters(app: &App, out: &mut Exposition) {
    let totals = &app.streams.totals;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    out.family(
        "ffmpeg_spawn_rejected_total",
        "counter",
        "Tunes refused (no tuner free, too many viewers, no FFmpeg).",
    );
    out.sample(
        "ffmpeg_spawn_rejected_total",
        &[("reason", "capacity")],
        load(&totals.tunes_rejected),
    );
    out.single(
        "stream_success_total",
        "counter",
        "Tunes that got a stream.",
        load(&totals.tunes),
    );
    out.single(
        "stream_failure_total",
        "counter",
        "FFmpeg runs that failed (non-zero exit, no output, or a stall).",
        load(&totals.ffmpeg_failures),
    );
    out.single(
        "channel_starts_total",
        "counter",
        "Channels started (cold tunes).",
        load(&totals.channel_starts),
    );
    out.single(
        "health_timeouts_total",
        "counter",
        "FFmpeg runs killed for a stall.",
        load(&totals.ffmpeg_stalls),
    );
    out.single(
        "ffmpeg_kills_total",
        "counter",
        "FFmpeg processes stopped before they finished.",
        load(&totals.ffmpeg_kills),
    );
    out.single(
        "restarts_total",
        "counter",
        "Health-triggered FFmpeg restarts admitted by the restart gate.",
        load(&totals.restarts),
    );
    out.single(
        "restarts_deferred_total",
        "counter",
        "Restarts deferred by the per-channel cooldown or the all-channel rate (the slate played meanwhile).",
        load(&totals.restarts_deferred),
    );
    out.single(
        "restart_rate_per_minute",
        "gauge",
        "Health-triggered restarts in the last minute, across all channels.",
        app.streams.restart_rate_per_minute(),
    );
}

/// One family per figure, one sample per running channel.
fn render_per_channel(channels: &[ChannelSnapshot], out: &mut Exposition) {
    let per_channel: [PerChannel; 5] = [
        ("viewers", "gauge", "Viewers per running channel.", |c| {
            u64::from(c.viewers)
        }),
        (
            "channel_restart_total",
            "counter",
            "FFmpeg restarts per running channel.",
            |c| c.restarts,
        ),
        (
            "circuit_breaker_state",
            "gauge",
            "Per running channel: 0 closed, 1 half-open, 2 open.",
            |c| u64::from(c.breaker_code),
        ),
        (
            "channel_bytes_sent_total",
            "counter",
            "Bytes sent to viewers, per running channel.",
            |c| c.bytes_sent,
        ),
        (
            "viewer_dropped_total",
            "counter",
            "Ring chunks skipped by viewers too slow to keep up, per running channel.",
            |c| c.chunks_dropped,
        ),
    ];
    for (name, kind, help, value) in per_channel {
        out.family(name, kind, help);
        for c in channels {
            out.sample(name, &[("channel", &c.number)], value(c));
        }
    }
}

fn render_tune_latency(app: &App, out: &mut Exposition) {
    let (buckets, sum, count) = app.metrics.tune_latency.cumulative();
    out.family(
        "tune_latency_seconds",
        "histogram",
        "From a tune request to the stream being ready.",
    );
    for (le, n) in buckets {
        out.sample("tune_latency_seconds_bucket", &[("le", &le.to_string())], n);
    }
    out.sample("tune_latency_seconds_bucket", &[("le", "+Inf")], count);
    out.sample("tune_latency_seconds_sum", &[], sum);
    out.sample("tune_latency_seconds_count", &[], count);
}

/// The library and the timelines: media counts, ffprobe calls, each channel's built horizon.
async fn render_library(app: &App, out: &mut Exposition) {
    out.single(
        "scan_ffprobe_calls_total",
        "counter",
        "ffprobe runs by the library scanner.",
        app.scanner.ffprobe_calls_total.load(Ordering::Relaxed),
    );
    let now = crate::time::now_ms();
    let read = app
        .db
        .read(move |conn| {
            let media: i64 = conn.query_row(
                "SELECT count(*) FROM media_items WHERE is_missing = 0",
                [],
                |r| r.get(0),
            )?;
            let mut stmt = conn.prepare_cached(
                "SELECT c.number, max(pi.finish_ms) FROM channels c
                 JOIN playouts p ON p.channel_id = c.id AND p.is_active = 1
                 JOIN playout_items pi ON pi.playout_id = p.id
                 GROUP BY c.id ORDER BY c.number",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            Ok((media, rows.collect::<Result<Vec<_>, _>>()?))
        })
        .await;
    let Ok((media, horizons)) = read else { return };
    out.single(
        "library_media_items",
        "gauge",
        "Media items present in the library.",
        media,
    );
    out.family(
        "playout_horizon_seconds",
        "gauge",
        "How far ahead each channel's timeline is built.",
    );
    for (number, finish_ms) in horizons {
        out.sample(
            "playout_horizon_seconds",
            &[("channel", &number)],
            (finish_ms - now).max(0) / 1000,
        );
    }
}
