//! The channel manager: one running `Channel` (one FFmpeg at a time, one tuner) per tuned
//! channel, shared by all its viewers. A tune attaches a viewer to the running channel or
//! starts it (taking a tuner from the pool, or failing at once when none is free); a channel
//! stops once it has had no viewer for the idle grace (setting `channels.idle_grace_seconds`)
//! and no HLS playlist fetch for the hold (`channels.hls_hold_seconds`). It owns the feeder tasks (a `JoinSet`) and
//! stops them all, reaping every FFmpeg, at shutdown.
//!
//! Prewarmed channels (`idle_behavior: keep_running`, at most one per tuner) are started
//! without a viewer and never retired for idleness (`keep_running`, called by the prewarm
//! task in `background`); a channel that leaves that set stops once the idle grace has
//! passed since it left, as if its last viewer had gone then.
//!
//! Stats snapshots for metrics, the dashboard, health and status.json come from here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, OnceCell};
use tokio::task::JoinSet;

use super::breaker::BreakerPhase;
use super::channel::{self, Channel, Viewer, MAX_READERS};
use super::ffmpeg::{self, Hardware};
use crate::ops::ids::ChannelId;
use bytes::Bytes;

use super::ffmpeg::{Job, Source};
use super::pool::{Owner, Permit, Pool, PoolError, MAX_TUNERS};
use super::restart::{Admission, ChannelRestarts, RestartGate};
use crate::app::App;
use crate::scheduler::cursor::{self, ChannelInfo, OutputProfile, Programme};
use crate::time::now_ms;
use crate::tools::Tools;

/// The feeders get this long to stop (and reap their FFmpeg) at shutdown before they are
/// aborted: inside the 5 s process budget, after the 2 s HTTP drain runs beside it.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuneError {
    AllTunersInUse,
    NoSuchTuner,
    TooManyViewers,
    FfmpegMissing,
    /// The tools check (`tools::ToolsCheck`) had not finished within `tools::TOOLS_WAIT`.
    FfmpegUnchecked,
    ShuttingDown,
}

impl std::fmt::Display for TuneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TuneError::AllTunersInUse => f.write_str("All tuners in use"),
            TuneError::NoSuchTuner => f.write_str("no such tuner"),
            TuneError::TooManyViewers => f.write_str("too many viewers on this channel"),
            TuneError::FfmpegMissing => {
                f.write_str("ffmpeg is not installed: streams cannot start")
            }
            TuneError::FfmpegUnchecked => {
                f.write_str("still checking ffmpeg after start: try again in a moment")
            }
            TuneError::ShuttingDown => f.write_str("shutting down"),
        }
    }
}

impl std::error::Error for TuneError {}

impl From<PoolError> for TuneError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::AllTunersInUse => TuneError::AllTunersInUse,
            PoolError::NoSuchTuner => TuneError::NoSuchTuner,
        }
    }
}

#[derive(Default)]
pub struct Manager {
    /// Running channels by id; at most `pool::MAX_TUNERS` (each holds a tuner).
    channels: Mutex<HashMap<ChannelId, Arc<Channel>>>,
    pub pool: Arc<Pool>,
    tasks: Mutex<JoinSet<()>>,
    hardware: OnceCell<Hardware>,
    media_seq: AtomicU64,
    /// The all-channel half of the restart gate (`restart`): every health-triggered
    /// restart of every channel asks it through `admit_restart`.
    restarts: Mutex<RestartGate>,
    prewarm: Mutex<Prewarm>,
    /// Wakes the prewarm task: a write named a channel (its `idle_behavior` may have moved).
    prewarm_wake: Notify,
    pub totals: Totals,
}

/// The prewarmed channels: bounded by the tuners, since each holds one.
#[derive(Default)]
struct Prewarm {
    /// The channels kept running, as last read (`keep_running`).
    kept: heapless::Vec<ChannelId, MAX_TUNERS>,
    /// Channels no longer kept, and since when: their idle grace runs from then.
    released: heapless::Vec<(ChannelId, Instant), MAX_TUNERS>,
}

impl Prewarm {
    fn release(&mut self, id: ChannelId, at: Instant) {
        self.released.retain(|(r, _)| *r != id);
        if self.released.is_full() {
            self.released.remove(0);
        }
        let _ = self.released.push((id, at));
    }
}

/// Process-wide counters (channels come and go; these stay).
#[derive(Default)]
pub struct Totals {
    pub channel_starts: AtomicU64,
    pub tunes: AtomicU64,
    pub tunes_rejected: AtomicU64,
    /// FFmpeg runs that failed (non-zero exit, no output, or a stall).
    pub ffmpeg_failures: AtomicU64,
    /// FFmpeg runs killed for producing nothing for `channel::STALL`.
    pub ffmpeg_stalls: AtomicU64,
    /// FFmpeg processes we killed before they finished (stalls, stops, idle channels).
    pub ffmpeg_kills: AtomicU64,
    /// Health-triggered restarts admitted by the restart gate.
    pub restarts: AtomicU64,
    /// Restarts the gate deferred (per-channel cooldown or all-channel rate), each
    /// counted once however often it is asked again.
    pub restarts_deferred: AtomicU64,
    /// Items whose copy failed and that were transcoded instead (`channel`).
    pub copy_fallbacks: AtomicU64,
}

/// One running channel, as metrics, the dashboard, health and status.json see it.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelSnapshot {
    pub channel_id: ChannelId,
    pub number: String,
    pub name: String,
    pub tuner: u16,
    pub viewers: u32,
    pub started_ms: i64,
    pub uptime_seconds: u64,
    pub restarts: u64,
    pub failures: u64,
    pub error_count_5min: u32,
    pub bytes_in: u64,
    pub bytes_sent: u64,
    pub chunks_dropped: u64,
    pub items: u64,
    /// `closed`, `half_open` or `open`.
    pub breaker: &'static str,
    /// 0 closed, 1 half-open, 2 open (the Prometheus gauge).
    pub breaker_code: u8,
    pub last_output_ms: Option<i64>,
    pub last_output_seconds_ago: Option<f64>,
    pub current_item_id: Option<i64>,
    pub current_title: String,
    pub on_slate: bool,
    pub ffmpeg_pid: Option<u32>,
    pub stderr_tail: Vec<String>,
    pub hls_segments: usize,
}

impl ChannelSnapshot {
    /// The breaker's state, decoded from `breaker_code`: compare this, not the code.
    pub fn breaker_phase(&self) -> BreakerPhase {
        BreakerPhase::from_code(self.breaker_code)
    }
}

impl Manager {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelId, Arc<Channel>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tasks(&self) -> MutexGuard<'_, JoinSet<()>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The encoder the machine can use (probed once with `tools`' FFmpeg; the first call
    /// waits for the probe).
    pub async fn hardware(&self, app: &App, tools: &Tools) -> Hardware {
        self.hardware
            .get_or_init(|| async {
                let wanted = Hardware::from_board(&app.board, &app.settings().ffmpeg);
                ffmpeg::probe(tools.ffmpeg.program(), &wanted).await
            })
            .await
            .clone()
    }

    /// The tools a stream needs, once known: a tune that arrives while the start-up check
    /// runs waits for it (bounded by `tools::TOOLS_WAIT`) instead of failing.
    async fn precheck(&self, app: &App) -> Result<Arc<Tools>, TuneError> {
        let tools = app.tools.wait(app.shutdown.clone()).await;
        if app.is_shutting_down() {
            return Err(TuneError::ShuttingDown);
        }
        let tools = tools.ok_or(TuneError::FfmpegUnchecked)?;
        if !tools.ffmpeg.is_available() {
            return Err(TuneError::FfmpegMissing);
        }
        Ok(tools)
    }

    fn max_viewers(app: &App) -> u32 {
        app.settings()
            .channels
            .max_viewers_per_channel
            .clamp(1, MAX_READERS as u32)
    }

    /// What a tune would answer, without starting or reserving anything (HEAD).
    pub async fn check(
        &self,
        app: &App,
        channel_id: ChannelId,
        want: Option<u16>,
    ) -> Result<(), TuneError> {
        self.precheck(app).await?;
        let limit = app.tuner_count();
        let map = self.lock();
        if let Some(ch) = map.get(&channel_id).filter(|c| !c.is_stopping()) {
            if want.is_some_and(|n| n >= limit) {
                return Err(TuneError::NoSuchTuner);
            }
            if let Some(n) = want.filter(|n| *n != ch.tuner) {
                self.pool.would_grant(limit, Some(n))?;
            }
            if ch.viewers() >= Self::max_viewers(app) {
                return Err(TuneError::TooManyViewers);
            }
            return Ok(());
        }
        Ok(self.pool.would_grant(limit, want)?)
    }

    /// Attaches a viewer to the channel, starting it if needed.
    pub async fn tune(
        &self,
        app: &Arc<App>,
        info: &ChannelInfo,
        want: Option<u16>,
    ) -> Result<Viewer, TuneError> {
        self.totals.tunes.fetch_add(1, Ordering::Relaxed);
        let result = self.tune_inner(app, info, want, true).await;
        if result.is_err() {
            self.totals.tunes_rejected.fetch_add(1, Ordering::Relaxed);
        }
        result.map(|(_, viewer)| viewer.expect("tune_inner attaches when asked"))
    }

    /// Starts the channel if needed, without a TS viewer (HLS).
    pub async fn ensure_running(
        &self,
        app: &Arc<App>,
        info: &ChannelInfo,
    ) -> Result<Arc<Channel>, TuneError> {
        self.tune_inner(app, info, None, false)
            .await
            .map(|(ch, _)| ch)
    }

    async fn tune_inner(
        &self,
        app: &Arc<App>,
        info: &ChannelInfo,
        want: Option<u16>,
        attach: bool,
    ) -> Result<(Arc<Channel>, Option<Viewer>), TuneError> {
        let tools = self.precheck(app).await?;
        // Probed before any lock is taken (the first call may take a moment).
        let hardware = self.hardware(app, &tools).await;
        let limit = app.tuner_count();
        let max_viewers = Self::max_viewers(app);
        let mut map = self.lock();
        if let Some(ch) = map.get(&info.id).filter(|c| !c.is_stopping()) {
            if want.is_some_and(|n| n >= limit) {
                return Err(TuneError::NoSuchTuner);
            }
            if let Some(n) = want.filter(|n| *n != ch.tuner) {
                self.pool.would_grant(limit, Some(n))?;
            }
            if !attach {
                return Ok((ch.clone(), None));
            }
            if ch.viewers() >= max_viewers {
                return Err(TuneError::TooManyViewers);
            }
            let viewer = ch.attach().ok_or(TuneError::TooManyViewers)?;
            return Ok((ch.clone(), Some(viewer)));
        }
        let permit = self.pool.acquire(Owner::Channel(info.id), limit, want)?;
        let ch = Arc::new(Channel::new(
            info.id,
            info.number.clone(),
            info.name.clone(),
            permit.tuner(),
        ));
        let viewer = if attach { ch.attach() } else { None };
        map.insert(info.id, ch.clone());
        drop(map);
        self.totals.channel_starts.fetch_add(1, Ordering::Relaxed);
        let mut tasks = self.tasks();
        // Finished feeders are collected here, so the set stays as small as the channels.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(channel::run(
            app.clone(),
            ch.clone(),
            hardware,
            tools,
            permit,
        ));
        Ok((ch, viewer))
    }

    /// The running channel with this id, if any.
    pub fn running(&self, channel_id: ChannelId) -> Option<Arc<Channel>> {
        self.lock()
            .get(&channel_id)
            .filter(|c| !c.is_stopping())
            .cloned()
    }

    /// Tells every running channel in `timelines` that its stored timeline changed: its
    /// feeder re-reads it at once (`Channel::timeline_changed`). Every channel write names
    /// its channel here (`ops::channels`), so this also wakes the prewarm task: the write
    /// may have changed the channel's `idle_behavior`, enabled it or deleted it.
    pub fn timelines_changed(&self, timelines: &crate::changes::Timelines, cause: &str) {
        for ch in self.lock().values() {
            if timelines.contains(ch.id) && !ch.is_stopping() {
                tracing::debug!(channel = %ch.number, cause, "timeline changed");
                ch.timeline_changed();
            }
        }
        self.prewarm_wake.notify_one();
    }

    fn prewarm(&self) -> MutexGuard<'_, Prewarm> {
        self.prewarm.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the channel runs without viewers (`idle_behavior: keep_running`).
    pub fn is_kept(&self, channel_id: ChannelId) -> bool {
        self.prewarm().kept.contains(&channel_id)
    }

    /// Resolves when a write may have changed which channels are kept running.
    pub async fn prewarm_requested(&self) {
        self.prewarm_wake.notified().await;
    }

    /// Makes `wanted` the channels kept running (the first `MAX_TUNERS`) and starts those
    /// that do not run. One that cannot start now (no tuner free, no FFmpeg yet) is started
    /// by a later call; one dropped from the set gets its idle grace from now.
    pub async fn keep_running(&self, app: &Arc<App>, wanted: &[ChannelInfo]) {
        if wanted.len() > MAX_TUNERS {
            tracing::warn!(
                n_channels = wanted.len(),
                max = MAX_TUNERS,
                "more channels are keep_running than there can be tuners; the first ones run"
            );
        }
        let wanted = &wanted[..wanted.len().min(MAX_TUNERS)];
        {
            let now = Instant::now();
            let mut prewarm = self.prewarm();
            let old = std::mem::take(&mut prewarm.kept);
            for info in wanted {
                // At most `MAX_TUNERS`: cannot overflow.
                let _ = prewarm.kept.push(info.id);
            }
            for id in old {
                if !prewarm.kept.contains(&id) {
                    prewarm.release(id, now);
                }
            }
            let Prewarm { kept, released } = &mut *prewarm;
            released.retain(|(id, _)| !kept.contains(id));
        }
        for info in wanted {
            if self.running(info.id).is_some() {
                continue;
            }
            match self.ensure_running(app, info).await {
                Ok(_) => {
                    tracing::info!(channel = %info.number, "prewarmed: running without viewers (idle_behavior keep_running)")
                }
                // Tried again on the next pass.
                Err(err @ (TuneError::AllTunersInUse | TuneError::FfmpegUnchecked)) => {
                    tracing::debug!(channel = %info.number, %err, "cannot prewarm the channel yet")
                }
                Err(err) => {
                    tracing::warn!(channel = %info.number, %err, "cannot prewarm the channel")
                }
            }
        }
    }

    /// Called by a feeder every few hundred ms: stops the channel (under the lock, so no
    /// tune can attach meanwhile) when nobody has watched it for the grace period.
    pub(super) fn retire_if_idle(&self, app: &App, ch: &Arc<Channel>) -> bool {
        let grace = Duration::from_secs(app.settings().channels.idle_grace_seconds as u64);
        let mut prewarm = self.prewarm();
        if prewarm.kept.contains(&ch.id) {
            return false;
        }
        let released_for = prewarm
            .released
            .iter()
            .find(|(id, _)| *id == ch.id)
            .map(|(_, at)| at.elapsed());
        let mut map = self.lock();
        match ch.idle_for() {
            Some(idle)
                if idle >= grace && released_for.is_none_or(|r| r >= grace) && !ch.hls.holds() => {}
            _ => return false,
        }
        ch.request_stop();
        prewarm.released.retain(|(id, _)| *id != ch.id);
        if map.get(&ch.id).is_some_and(|c| Arc::ptr_eq(c, ch)) {
            map.remove(&ch.id);
        }
        tracing::info!(channel = %ch.number, "no viewers for the idle grace; stopping");
        true
    }

    /// The one restart entry point (API.md §6 "Health restart"): a channel's feeder asks
    /// here before it restarts a failed FFmpeg; `channel` is that channel's cooldown state.
    pub(super) fn admit_restart(&self, channel: &mut ChannelRestarts) -> Admission {
        let mut gate = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        let admission = gate.admit(channel, std::time::Instant::now());
        if admission == Admission::Now {
            self.totals.restarts.fetch_add(1, Ordering::Relaxed);
        }
        admission
    }

    /// A restart asked by the troubleshooting agent (`agent::tools`), never a direct one: it
    /// asks the same gate as the feeder (`admit_restart`, counted the same), and only when
    /// admitted replaces the channel's FFmpeg by a fresh one at the stream's position (the
    /// long-run handover, so viewers stay connected). `None`: the channel is not running.
    pub fn restart_through_gate(
        &self,
        channel_id: ChannelId,
        cooldown: &mut ChannelRestarts,
    ) -> Option<Admission> {
        let ch = self.running(channel_id)?;
        let admission = self.admit_restart(cooldown);
        if admission == Admission::Now {
            ch.stats.restarts.fetch_add(1, Ordering::Relaxed);
            ch.age_out_run();
        }
        Some(admission)
    }

    /// Health-triggered restarts admitted in the last minute, across all channels.
    pub fn restart_rate_per_minute(&self) -> usize {
        let mut gate = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        gate.rate_per_minute(std::time::Instant::now())
    }

    /// Removes a stopped channel (its feeder ended for any reason).
    pub(super) fn forget(&self, ch: &Arc<Channel>) {
        let mut map = self.lock();
        if map.get(&ch.id).is_some_and(|c| Arc::ptr_eq(c, ch)) {
            map.remove(&ch.id);
        }
    }

    /// Whether `/iptv/stream` could start now (HEAD).
    pub async fn check_media(&self, app: &App) -> Result<(), TuneError> {
        self.precheck(app).await?;
        Ok(self.pool.would_grant(app.tuner_count(), None)?)
    }

    /// Starts FFmpeg for one library item (`/iptv/stream/{id}`), holding a tuner until
    /// the returned body is dropped.
    pub async fn play_media(
        &self,
        app: &Arc<App>,
        programme: Programme,
        seek_ms: i64,
    ) -> Result<MediaBody, TuneError> {
        let tools = self.precheck(app).await?;
        let hardware = self.hardware(app, &tools).await;
        let session = self.media_seq.fetch_add(1, Ordering::Relaxed);
        let permit = self
            .pool
            .acquire(Owner::Media(session), app.tuner_count(), None)?;
        let profile = default_output_profile(app).await;
        let job = Job {
            source: Source::Media {
                input: &programme.input,
                media: &programme.media,
                title: &programme.title,
            },
            seek_ms: programme.in_point_ms + seek_ms,
            duration_ms: None,
            watermark: None,
        };
        let args = ffmpeg::command(&hardware, &profile, &job);
        let tail = Arc::new(ffmpeg::StderrTail::default());
        let mut process = ffmpeg::spawn(tools.ffmpeg.program(), &args, tail)
            .map_err(|_| TuneError::FfmpegMissing)?;
        let stdout = process.stdout.take().ok_or(TuneError::FfmpegMissing)?;
        Ok(MediaBody {
            app: app.clone(),
            stdout,
            buf: vec![0u8; MEDIA_READ].into_boxed_slice(),
            process: Some(process),
            permit: Some(permit),
        })
    }

    fn spawn_task(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks();
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Every running channel's figures.
    pub fn snapshot(&self) -> Vec<ChannelSnapshot> {
        let channels: Vec<Arc<Channel>> = self.lock().values().cloned().collect();
        let now = now_ms();
        let mut out: Vec<ChannelSnapshot> = channels
            .iter()
            .map(|ch| {
                let s = &ch.stats;
                let last = s.last_output_ms();
                let now_playing = ch.now_playing();
                let breaker = s.breaker();
                ChannelSnapshot {
                    channel_id: ch.id,
                    number: ch.number.to_string(),
                    name: ch.name.clone(),
                    tuner: ch.tuner,
                    viewers: ch.viewers(),
                    started_ms: ch.started_ms,
                    uptime_seconds: ((now - ch.started_ms).max(0) / 1000) as u64,
                    restarts: s.restarts.load(Ordering::Relaxed),
                    failures: s.failures.load(Ordering::Relaxed),
                    error_count_5min: s.recent_failures.load(Ordering::Relaxed),
                    bytes_in: s.bytes_in.load(Ordering::Relaxed),
                    bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
                    chunks_dropped: s.chunks_dropped.load(Ordering::Relaxed),
                    items: s.items.load(Ordering::Relaxed),
                    breaker: breaker.as_str(),
                    breaker_code: breaker.code(),
                    last_output_ms: last,
                    last_output_seconds_ago: last.map(|last| (now - last).max(0) as f64 / 1000.0),
                    current_item_id: now_playing.item_id,
                    current_title: now_playing.title,
                    on_slate: now_playing.slate,
                    ffmpeg_pid: s.ffmpeg_pid(),
                    stderr_tail: ch.stderr.lines(),
                    hls_segments: ch.hls.n_segments(),
                }
            })
            .collect();
        out.sort_by_key(|s| s.tuner);
        out
    }

    /// FFmpeg-backed streams running now (channels and `/iptv/stream` sessions).
    pub fn active_processes(&self) -> usize {
        self.pool.in_use()
    }

    /// Stops every channel and waits (bounded) for their FFmpeg to be reaped.
    pub async fn shutdown(&self) {
        let channels: Vec<Arc<Channel>> = self.lock().values().cloned().collect();
        for ch in &channels {
            ch.request_stop();
        }
        let mut tasks = std::mem::take(&mut *self.tasks());
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_BUDGET, drain).await.is_err() {
            tracing::warn!("some channels did not stop in time; aborting them");
            tasks.abort_all();
            // Aborted feeders drop their processes, which SIGKILL their groups.
            let _ = tokio::time::timeout(Duration::from_millis(200), async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
        }
    }
}

/// The output profile marked default, for a stream that is no channel's (`play_media`);
/// the built-in default when it cannot be read.
async fn default_output_profile(app: &App) -> OutputProfile {
    cursor::default_output_profile(&app.db)
        .await
        .unwrap_or_default()
}

/// The body of `/iptv/stream/{id}`: FFmpeg's stdout as it comes (the client's reading
/// paces it). Dropping it stops and reaps FFmpeg, then frees the tuner.
pub struct MediaBody {
    app: Arc<App>,
    stdout: tokio::process::ChildStdout,
    buf: Box<[u8]>,
    process: Option<ffmpeg::Process>,
    permit: Option<Permit>,
}

/// Read from FFmpeg's stdout at a time for `/iptv/stream`.
const MEDIA_READ: usize = 64 * 1024;

impl hyper::body::Body for MediaBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        use tokio::io::AsyncRead;
        let this = self.get_mut();
        let mut read_buf = tokio::io::ReadBuf::new(&mut this.buf);
        match std::pin::Pin::new(&mut this.stdout).poll_read(cx, &mut read_buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if read_buf.filled().is_empty() => Poll::Ready(None),
            // One copy per read: this path serves one client per FFmpeg, nothing to share.
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(hyper::body::Frame::data(
                Bytes::copy_from_slice(read_buf.filled()),
            )))),
        }
    }
}

impl Drop for MediaBody {
    fn drop(&mut self) {
        let (Some(process), permit) = (self.process.take(), self.permit.take()) else {
            return;
        };
        self.app.streams.spawn_task(async move {
            process.stop().await;
            drop(permit);
        });
    }
}

/// The background task: probes the encoder once the tools check found FFmpeg (so the first
/// tune does not wait for the probe), then, at shutdown, stops every channel.
pub async fn run(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    // Unknown after the wait (a starved start): the first tune probes instead.
    let tools = app.tools.wait(shutdown.clone()).await;
    if let Some(tools) = tools.filter(|t| t.ffmpeg.is_available()) {
        tokio::select! {
            hw = app.streams.hardware(&app, &tools) => {
                tracing::info!(encoder = ?hw.encoder, drawtext = hw.drawtext, "stream encoder ready");
            }
            _ = shutdown.changed() => {}
        }
    }
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    app.streams.shutdown().await;
}
