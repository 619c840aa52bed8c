//! The long-lived tasks beside the HTTP server (discovery, the playout horizon, scans, ...).
//! Each is owned by the serve loop's `JoinSet` and watches `App::shutdown`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::app::App;

pub fn spawn_all(app: &Arc<App>, tasks: &mut JoinSet<()>, http_addr: SocketAddr) {
    // First: tunes, scans and the encoder probe wait for it.
    tasks.spawn(check_tools(app.clone()));
    tasks.spawn(sample_event_loop_lag(app.clone()));
    tasks.spawn(sample_stream_history(app.clone()));
    tasks.spawn(crate::notify::run(app.clone()));
    tasks.spawn(crate::scheduler::run_horizon(app.clone()));
    // Library scans (`--media` folders at start, API requests), one at a time.
    tasks.spawn(crate::library::scanner::run(app.clone()));
    let hdhomerun = &app.settings().hdhomerun;
    if let Some(port) = app.config.discovery_port {
        if hdhomerun.enable_udp_discovery {
            tasks.spawn(crate::hdhr::discovery::run(app.clone(), port));
        }
    }
    if hdhomerun.port80 && http_addr.port() != JELLYFIN_HTTP_PORT {
        tasks.spawn(serve_port80(app.clone(), http_addr));
    }
    if let Some(port) = app.config.ssdp_port {
        if hdhomerun.enable_ssdp {
            tasks.spawn(crate::hdhr::ssdp::run(app.clone(), port));
        }
    }
    // Probes the encoder, then at shutdown stops every channel and reaps its FFmpeg.
    tasks.spawn(crate::stream::manager::run(app.clone()));
    tasks.spawn(crate::iptv::source_guide::run(app.clone()));
    tasks.spawn(prewarm_channels(app.clone()));
    // The troubleshooting agent: follows the log only while ai.agent.mode is not off.
    tasks.spawn(crate::agent::task::run(app.clone()));
    tasks.spawn(release_startup_code(app.clone()));
}

/// How long after the encoder probe startup's other one-off work (the first horizon pass,
/// the scan of `--media` folders) is given before its code is released.
const STARTUP_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Once startup is over (tools checked, the encoder probed, a moment to settle), gives back
/// the code pages only startup ran (`residency`): idle RSS about halves.
async fn release_startup_code(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    let waiting = shutdown.clone();
    let startup = async {
        if let Some(tools) = app.tools.wait(waiting).await {
            if tools.ffmpeg.is_available() {
                app.streams.hardware(&app, &tools).await;
            }
        }
        tokio::time::sleep(STARTUP_SETTLE).await;
    };
    tokio::select! {
        _ = startup => {}
        _ = shutdown.wait_for(|down| *down) => return,
    }
    // Inline: a read of /proc/self/maps and a few madvise calls, microseconds.
    let bytes = crate::residency::release_startup_code();
    tracing::debug!(mapped_kib = bytes / 1024, "startup code released");
}

/// How often the prewarm task checks its channels besides the writes that wake it: a
/// prewarmed channel whose feeder ended (or that found no free tuner) starts again within
/// this.
const PREWARM_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Starts the channels whose `idle_behavior` is `keep_running` and keeps them running
/// without viewers (`stream::Manager::keep_running`): at boot, after each write that names a
/// channel, and every `PREWARM_CHECK`.
async fn prewarm_channels(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    loop {
        let pass = async {
            match kept_channels(&app.db).await {
                Ok(wanted) => app.streams.keep_running(&app, &wanted).await,
                Err(err) => tracing::warn!(%err, "cannot read the channels to keep running"),
            }
        };
        tokio::select! {
            _ = pass => {}
            _ = shutdown.wait_for(|down| *down) => return,
        }
        tokio::select! {
            _ = app.streams.prewarm_requested() => {}
            _ = tokio::time::sleep(PREWARM_CHECK) => {}
            _ = shutdown.wait_for(|down| *down) => return,
        }
    }
}

/// The enabled channels whose `idle_behavior` is `keep_running`, by id (at most one per
/// tuner can run).
async fn kept_channels(
    db: &crate::db::Db,
) -> Result<Vec<crate::scheduler::cursor::ChannelInfo>, crate::db::DbError> {
    use crate::kinds::IdleBehavior;
    use crate::stream::pool::MAX_TUNERS;
    db.read(|conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT id, number, name, enabled, ffmpeg_profile_id FROM channels
             WHERE enabled = 1 AND idle_behavior = ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![IdleBehavior::KeepRunning.as_str(), MAX_TUNERS as i64 + 1],
            |row| {
                Ok(crate::scheduler::cursor::ChannelInfo {
                    id: row.get(0)?,
                    number: smol_str::SmolStr::from(row.get::<_, String>(1)?),
                    name: row.get(2)?,
                    enabled: row.get(3)?,
                    ffmpeg_profile_id: row.get(4)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await
}

/// Finds FFmpeg and ffprobe and their versions and publishes them (`App::tools`). Runs here,
/// after the listener opened, not before it: the two `-version` runs cost more than the
/// rest of the start together.
async fn check_tools(app: Arc<App>) {
    let settings = app.settings();
    let mut shutdown = app.shutdown.clone();
    let tools = tokio::select! {
        tools = crate::tools::Tools::detect(&settings.ffmpeg.ffmpeg_path, &settings.ffmpeg.ffprobe_path) => tools,
        // Dropping the check kills its children (`tools::Tools::detect` is cancel-safe).
        _ = shutdown.wait_for(|down| *down) => return,
    };
    match &tools.ffmpeg.version {
        Some(v) => tracing::info!(version = %v, "ffmpeg found"),
        None => {
            tracing::warn!(name = %tools.ffmpeg.name, "ffmpeg not found: streams will not start until it is installed")
        }
    }
    app.tools.publish(tools);
}

/// Measures how late a 1 s timer fires: the runtime's responsiveness, for /metrics.
async fn sample_event_loop_lag(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    loop {
        let asked = std::time::Instant::now();
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let late = asked
            .elapsed()
            .saturating_sub(std::time::Duration::from_secs(1));
        app.metrics.event_loop_lag_micros.store(
            late.as_micros().min(u64::MAX as u128) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// Samples viewers, tunes and bytes every 30 s for the dashboard's history.
async fn sample_stream_history(app: Arc<App>) {
    use std::sync::atomic::Ordering;
    let mut shutdown = app.shutdown.clone();
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(30));
    let (mut last_tunes, mut last_bytes) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let channels = app.streams.snapshot();
        let viewers: u64 = channels.iter().map(|c| u64::from(c.viewers)).sum();
        let bytes: u64 = channels.iter().map(|c| c.bytes_sent).sum();
        let tunes = app.streams.totals.tunes.load(Ordering::Relaxed);
        // Channels that stopped take their byte counts with them: count growth only.
        let new_bytes = bytes.saturating_sub(last_bytes);
        app.metrics.stream_history.sample(
            crate::time::now_ms(),
            viewers,
            tunes - last_tunes,
            new_bytes,
        );
        (last_tunes, last_bytes) = (tunes, bytes);
    }
}

/// Where Jellyfin looks for `discover.json` after a UDP discovery reply, whatever BASE_URL says.
const JELLYFIN_HTTP_PORT: u16 = 80;

/// The same HTTP service on port 80 of the listen address (`hdhomerun.port80`). A port that
/// cannot be bound (no privilege, in use) is a warning: the main port keeps serving.
async fn serve_port80(app: Arc<App>, http_addr: SocketAddr) {
    let addr = SocketAddr::new(http_addr.ip(), JELLYFIN_HTTP_PORT);
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            tracing::info!(%addr, "also listening on port 80 for Jellyfin (hdhomerun.port80)");
            crate::http::server::serve(app.clone(), listener, app.shutdown.clone()).await;
        }
        Err(err) => {
            tracing::warn!(%addr, %err, "hdhomerun.port80 is on but port 80 cannot be bound")
        }
    }
}
