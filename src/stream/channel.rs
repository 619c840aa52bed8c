//! A tuned channel and its feeder task. The feeder walks the playout from "now": the first
//! item starts with a seek to the right offset; shortly before an item ends the next item's
//! FFmpeg is started; at each boundary the splicer joins them, and the output goes into the
//! ring in chunks. FFmpeg's stdout is read only while the stream is inside the limit of the
//! `stream_throttler` mode (`pacing`: by default less than 750 ms ahead of the wall clock, by
//! PCR): backpressure, not `-re`.
//!
//! Faults: an FFmpeg that exits non-zero, stalls or produces nothing is restarted at the
//! stream's position with backoff, when the restart gate (`restart`) admits it (the slate
//! plays meanwhile); a run older than `ffmpeg.long_run_hours` is handed over (`longrun`); an item that fails twice in a row is skipped (slate for
//! its slot); repeated failures open the circuit breaker and the slate plays meanwhile.
//!
//! It reads the timeline only through `scheduler::cursor`; it knows no SQL and no HTTP.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hyper::body::Frame;
use smol_str::SmolStr;
use tokio::io::AsyncReadExt;
use tokio::process::ChildStdout;
use tokio::sync::Notify;

use super::breaker::{Breaker, BreakerConfig, BreakerPhase, BreakerState};
use super::ffmpeg::{
    self, CopyFrom, Decision, EncodeReason, Hardware, Job, Process, Source, StderrTail, StreamMode,
};
use super::hls::Hls;
use super::longrun;
use super::pacing::{self, Limit, Observation, Pacer};
use super::pool::Permit;
use super::restart::{Admission, ChannelRestarts, Reason};
use super::ring::{Cursor, Read, Ring, CHUNK_MAX_PACKETS};
use super::splicer::{Sink, Splicer};
use super::ts::{Aligner, PACKET_LEN};
use crate::app::App;
use crate::ops::ids::ChannelId;
use crate::scheduler::cursor::{self, Input, MediaInfo, OutputProfile, Programme, Watermark};
use crate::time::{now_ms, UnixMs};
use crate::tools::Tools;

/// The next item's FFmpeg starts this long (stream time) before the current one ends, so its
/// first packets are ready at the boundary (FFmpeg needs ~0.1–0.5 s to open and encode).
pub const PRESTART_MS: i64 = 3000;
/// No byte from FFmpeg for this long while we want data is a stall (it is killed and
/// restarted). Its first bytes get longer: it may be opening a remote URL.
pub const STALL: Duration = Duration::from_secs(5);
pub const FIRST_BYTE_STALL: Duration = Duration::from_secs(15);
/// FFmpeg's stdout is read this much at a time: one pipe buffer.
pub const READ_SIZE: usize = 64 * 1024;
/// Read data is spliced this many packets at a time, with the pacing checked between
/// slices: one read of a still slate can hold seconds of stream.
const SLICE_PACKETS: usize = CHUNK_MAX_PACKETS;
/// Chunks are cut from blocks of this size: one allocation per 256 KiB of stream, none
/// per packet or per chunk.
const CHUNK_BLOCK: usize = 256 * 1024;
/// How often the feeder checks whether its last viewer has been gone for the grace period.
const IDLE_CHECK: Duration = Duration::from_millis(250);
/// A programme with less than this left is not started (the next one is): FFmpeg needs a
/// moment to start, and a sliver of an item can hold audio with barely any video.
const MIN_ITEM_MS: i64 = 500;
/// With no programme (empty or ended playout) the slate plays in pieces of this length,
/// and the playout is looked at again after each.
const SLATE_PIECE_MS: i64 = 60_000;
/// A timeline change that replaces what plays now cuts over this far ahead of the stream
/// position: at once. The successor's FFmpeg needs ~0.1–0.5 s to its first packet; the
/// viewers do not starve meanwhile, because the stream runs ahead of the clock by the pacing
/// lead (`pacing`: 750 ms at least), and its timestamps stay continuous (the splicer).
const TIMELINE_CUT_AHEAD_MS: i64 = 0;
/// Re-reads of a changed timeline are at least this far apart: a storm of writes folds into
/// a few re-reads (and at most a few cut-overs) instead of one FFmpeg start per write.
const TIMELINE_RECHECK: Duration = Duration::from_millis(200);
/// The playing programme still matches the timeline when its position in the media differs
/// from the stored one by at most this (the splice drifts a few ms per item; a rebuild that
/// keeps the programme keeps its in-point exactly).
const SAME_OFFSET_MS: i64 = 1000;
/// At a handover, the old item is read on to its next frame start for at most this much
/// stream time (a frame lasts 20–42 ms; a stream without video would never get there).
const MAX_FRAME_END_MS: i64 = 500;
/// ... and waits at most this long for each read of it (a stalled FFmpeg is cut as it is).
const FRAME_END_WAIT: Duration = Duration::from_millis(250);
/// The slates' titles; `follow` tells "nothing scheduled" from "failing" by them.
const OFFLINE: &str = "Offline";
const TROUBLE: &str = "Technical difficulties";
/// An item that fails this many times in a row is skipped for its slot.
const ITEM_FAILURES_TO_SKIP: u32 = 2;
/// A run that played this much of its item before failing resets the item's failure count.
const PLAYED_MS: i64 = 2000;
/// Items skipped as unplayable, remembered per channel (the oldest is forgotten first).
const SKIPPED_ITEMS_MAX: usize = 16;
/// Items whose copy failed and that are transcoded from then on, per channel (the oldest
/// is forgotten first, and copied again when it comes round).
const NO_COPY_ITEMS_MAX: usize = 16;
/// A stream more than this behind the wall clock (after an outage) jumps back to "now".
const RESYNC_BEHIND_MS: i64 = 3000;
/// A prestarted FFmpeg plays on from the stream's position when it was planned to start
/// within this of it (a splice drifts a few ms per item); further off, it is stopped and
/// the position planned afresh.
const PRESTART_MATCH_MS: i64 = 1500;
/// After its stdout's end, FFmpeg gets this long to exit before it is stopped.
const EXIT_WAIT: Duration = Duration::from_secs(2);
/// An exit 0 counts as a success when the run moved the stream on by this much, or ended
/// within `END_SLACK_MS` of its planned end (seeking past the end of a file shorter than
/// its slot exits 0 with nothing to show).
const MIN_PROGRESS_MS: i64 = 500;
const END_SLACK_MS: i64 = 1000;
/// The slate played when the playout cannot be read; it is read again after it.
const UNREADABLE_SLATE_MS: i64 = 5000;
/// The slate played when a page does not resolve; it is resolved again after it.
const RESOLVE_RETRY_MS: i64 = 10_000;
/// The slate while the breaker is open lasts at least this (then the breaker is asked
/// again), however soon the breaker says it closes.
const BREAKER_SLATE_MIN_MS: i64 = 1000;
/// Programmes read to plan a run: the one playing, the next (where an Offline slate ends)
/// and one more.
const PLAN_PROGRAMMES: usize = 3;
/// Programmes read when the timeline changed: one more than `PLAN_PROGRAMMES`, as the
/// read starts inside the running plan, which may be a programme before the position.
const FOLLOW_PROGRAMMES: usize = 4;
/// Most viewers one channel can have whatever the setting says (ring reader slots).
pub const MAX_READERS: u16 = 256;

/// Per-channel counters, read by stats snapshots without locking.
#[derive(Default)]
pub struct Stats {
    pub bytes_in: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub chunks_dropped: AtomicU64,
    pub restarts: AtomicU64,
    pub failures: AtomicU64,
    pub items: AtomicU64,
    /// Items whose copy failed and that were transcoded instead.
    pub copy_fallbacks: AtomicU64,
    /// Wall-clock ms of the last chunk out, 0 before the first (read: `last_output_ms`).
    last_output_ms: AtomicI64,
    /// The running FFmpeg's pid, 0 before the first (read: `ffmpeg_pid`).
    ffmpeg_pid: AtomicU32,
    /// The breaker's `BreakerPhase::code` (read: `breaker`).
    breaker_code: AtomicU32,
    pub recent_failures: AtomicU32,
}

impl Stats {
    /// When the last chunk went out; `None` before the first. In the atomic, 0 is "none":
    /// no chunk goes out at the epoch.
    pub fn last_output_ms(&self) -> Option<UnixMs> {
        let at_ms = self.last_output_ms.load(Ordering::Relaxed);
        (at_ms > 0).then_some(at_ms)
    }

    fn output_at(&self, now: UnixMs) {
        self.last_output_ms.store(now, Ordering::Relaxed);
    }

    /// The pid of the channel's current FFmpeg; `None` before the first. In the atomic, 0
    /// is "none": no process has pid 0.
    pub fn ffmpeg_pid(&self) -> Option<u32> {
        let pid = self.ffmpeg_pid.load(Ordering::Relaxed);
        (pid > 0).then_some(pid)
    }

    fn ffmpeg_started(&self, pid: u32) {
        self.ffmpeg_pid.store(pid, Ordering::Relaxed);
    }

    /// The breaker's state at the last failure (closed before the first).
    pub fn breaker(&self) -> BreakerPhase {
        // Only `breaker_is` stores, and a code fits a u8.
        BreakerPhase::from_code(self.breaker_code.load(Ordering::Relaxed) as u8)
    }

    fn breaker_is(&self, phase: BreakerPhase) {
        self.breaker_code
            .store(u32::from(phase.code()), Ordering::Relaxed);
    }
}

/// What the channel is sending now.
#[derive(Debug, Clone, Default)]
pub struct NowPlaying {
    pub item_id: Option<i64>,
    pub title: String,
    /// The stream (playout) time the piece began at.
    pub from_ms: UnixMs,
    pub slate: bool,
    /// What FFmpeg does with the video and audio (`copy`, `audio`, `transcode`).
    pub mode: StreamMode,
    /// Why the video is encoded, when it is.
    pub mode_reason: Option<EncodeReason>,
}

pub struct Channel {
    pub id: ChannelId,
    pub number: SmolStr,
    pub name: String,
    pub tuner: u16,
    pub started_ms: UnixMs,
    pub ring: Ring,
    pub hls: Hls,
    pub stats: Stats,
    pub stderr: Arc<StderrTail>,
    pub now_playing: Mutex<NowPlaying>,
    /// Viewers attached (changed under the manager's lock when attaching).
    viewers: AtomicU32,
    idle: IdleClock,
    stopping: AtomicBool,
    stop: Notify,
    /// Woken when the channel's stored timeline changed (`changes`); a wake while the feeder
    /// is busy is kept (one permit), so many writes fold into one re-read.
    timeline: Notify,
    /// Set by the debug route: the current run counts as past the long-run limit.
    aged_out: AtomicBool,
}

impl Channel {
    pub fn new(id: ChannelId, number: SmolStr, name: String, tuner: u16) -> Channel {
        Channel {
            id,
            number,
            name,
            tuner,
            started_ms: now_ms(),
            ring: Ring::new(MAX_READERS),
            hls: Hls::default(),
            stats: Stats::default(),
            stderr: Arc::new(StderrTail::default()),
            now_playing: Mutex::new(NowPlaying::default()),
            viewers: AtomicU32::new(0),
            idle: IdleClock::new(),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            timeline: Notify::new(),
            aged_out: AtomicBool::new(false),
        }
    }

    /// Fault injection (`/api/debug/channels/{num}/age-out`): the running FFmpeg is
    /// treated as older than `ffmpeg.long_run_hours` at the feeder's next check.
    pub fn age_out_run(&self) {
        self.aged_out.store(true, Ordering::Relaxed);
    }

    pub fn viewers(&self) -> u32 {
        self.viewers.load(Ordering::Acquire)
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Asks the feeder to stop (it closes the ring, so viewers end, and reaps FFmpeg).
    pub fn request_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify_one();
    }

    /// The stored timeline changed: the feeder re-reads it and cuts over when the programme
    /// that should play now is not the one playing.
    pub fn timeline_changed(&self) {
        self.timeline.notify_one();
    }

    /// Called by the manager under its lock; `None` when the ring has no reader slot left.
    pub(super) fn attach(self: &Arc<Self>) -> Option<Viewer> {
        let cursor = self.ring.attach()?;
        self.viewers.fetch_add(1, Ordering::AcqRel);
        self.idle.watched();
        Some(Viewer {
            channel: self.clone(),
            cursor: Some(cursor),
        })
    }

    fn viewer_left(&self) {
        if self.viewers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.left();
        }
    }

    /// How long no TS viewer has watched, `None` while someone does (HLS is `hls.idle_for`).
    pub fn idle_for(&self) -> Option<Duration> {
        if self.viewers() > 0 {
            return None;
        }
        self.idle.idle_for()
    }

    pub fn now_playing(&self) -> NowPlaying {
        self.now_playing
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default()
    }
}

/// When the last TS viewer left, read by the idle check without a lock. One atomic holds
/// milliseconds since `created`, or `WATCHED` while someone watches; only these methods
/// know that encoding. A new channel counts as idle since its creation (a tune that never
/// attaches a viewer still ends after the grace period).
struct IdleClock {
    created: Instant,
    left_at_ms: AtomicU64,
}

impl IdleClock {
    /// `left_at_ms` while a viewer watches (no real time: a channel would run 584 million
    /// years to reach it).
    const WATCHED: u64 = u64::MAX;

    fn new() -> IdleClock {
        IdleClock {
            created: Instant::now(),
            left_at_ms: AtomicU64::new(0),
        }
    }

    fn watched(&self) {
        self.left_at_ms.store(Self::WATCHED, Ordering::Release);
    }

    /// The last viewer left now.
    fn left(&self) {
        let at_ms = self.created.elapsed().as_millis() as u64;
        self.left_at_ms.store(at_ms, Ordering::Release);
    }

    /// How long since the last viewer left; `None` while one watches.
    fn idle_for(&self) -> Option<Duration> {
        match self.left_at_ms.load(Ordering::Acquire) {
            Self::WATCHED => None,
            at_ms => Some(
                self.created
                    .elapsed()
                    .saturating_sub(Duration::from_millis(at_ms)),
            ),
        }
    }
}

/// One viewer: a cursor into the channel's ring, polled by hyper as the response body.
/// It holds no buffer of its own: memory per viewer is constant.
pub struct Viewer {
    channel: Arc<Channel>,
    cursor: Option<Cursor>,
}

impl Viewer {
    pub fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }
}

impl hyper::body::Body for Viewer {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(cursor) = this.cursor.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match this.channel.ring.read(cursor, Some(cx.waker())) {
                Read::Chunk(bytes) => {
                    this.channel
                        .stats
                        .bytes_sent
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                Read::Lagged { n_skipped } => {
                    this.channel
                        .stats
                        .chunks_dropped
                        .fetch_add(n_skipped, Ordering::Relaxed);
                }
                Read::CaughtUp => return Poll::Pending,
                Read::Closed => return Poll::Ready(None),
            }
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        if let Some(cursor) = self.cursor.take() {
            self.channel.ring.detach(cursor);
        }
        self.channel.viewer_left();
    }
}

/// Builds ring chunks: packets are copied once, from FFmpeg's read buffer into a block;
/// a chunk is cut at a keyframe, at `CHUNK_MAX_PACKETS`, or at the end of each read.
struct ChunkWriter {
    buf: BytesMut,
    n_packets: usize,
    keyframe: bool,
}

struct Out<'a> {
    writer: &'a mut ChunkWriter,
    channel: &'a Channel,
    /// The stream time reached (for HLS segment durations), as of this read.
    stream_ms: i64,
}

impl Out<'_> {
    fn flush(&mut self) {
        let w = &mut *self.writer;
        if w.buf.is_empty() {
            return;
        }
        let chunk = w.buf.split().freeze();
        let now = now_ms();
        self.channel
            .hls
            .on_chunk(&chunk, w.keyframe, self.stream_ms, now);
        self.channel.ring.publish(chunk, w.keyframe);
        self.channel.stats.output_at(now);
        w.keyframe = false;
        w.n_packets = 0;
    }
}

impl Sink for Out<'_> {
    fn packet(&mut self, packet: &[u8]) {
        let w = &mut *self.writer;
        if w.buf.capacity() - w.buf.len() < PACKET_LEN {
            w.buf.reserve(CHUNK_BLOCK);
        }
        w.buf.extend_from_slice(packet);
        w.n_packets += 1;
        if w.n_packets >= CHUNK_MAX_PACKETS {
            self.flush();
        }
    }

    fn keyframe(&mut self) {
        self.flush();
        self.writer.keyframe = true;
    }
}

/// What one FFmpeg is asked to play, and the slot of the timeline it covers.
#[derive(Debug, Clone)]
struct Plan {
    item_id: Option<i64>,
    title: String,
    /// Stream (playout) time at which it starts and is planned to end.
    start_ms: UnixMs,
    end_ms: UnixMs,
    seek_ms: i64,
    what: What,
    /// The YouTube or archive.org page the input's URL was resolved from: a 403 from that
    /// URL forgets it (`App::pages`), so the retry resolves the page again.
    page: Option<String>,
}

impl Plan {
    /// `pos`, or the latest moment still well inside the plan: with less than `MIN_ITEM_MS`
    /// of it left, `current` already names the next programme, so the plan is judged (and
    /// its programme read) from there.
    fn inside(&self, pos: UnixMs) -> UnixMs {
        pos.min(self.end_ms - MIN_ITEM_MS).max(self.start_ms)
    }

    fn is_live(&self) -> bool {
        matches!(
            self.what,
            What::Media {
                input: Input::Live(_),
                ..
            }
        )
    }
}

#[derive(Debug, Clone)]
enum What {
    /// The media facts boxed: they are most of a plan's size, and a slate has none.
    Media {
        input: Input,
        media: Box<MediaInfo>,
        /// Drawn over it (`scheduler::cursor::watermark` resolves it at the start).
        watermark_id: Option<i64>,
    },
    Slate(&'static str),
}

/// The programme playing at stream time `pos`; with less than `MIN_ITEM_MS` of it left, the
/// next one (started that much early).
fn current(programmes: &[Programme], pos: UnixMs) -> Option<&Programme> {
    programmes
        .iter()
        .find(|p| p.start_ms <= pos + MIN_ITEM_MS && p.finish_ms - pos >= MIN_ITEM_MS)
}

/// Where an Offline slate starting at `pos` ends: the next programme, or a piece later (the
/// timeline is looked at again then).
fn offline_until(programmes: &[Programme], pos: UnixMs) -> UnixMs {
    programmes
        .iter()
        .map(|p| p.start_ms)
        .find(|s| *s > pos)
        .unwrap_or(pos + SLATE_PIECE_MS)
        .min(pos + SLATE_PIECE_MS)
}

/// Whether `plan`, at stream time `at`, plays what `programmes` say plays then: the same
/// playout item at the same position in its media, or the Offline slate in a hole. A
/// failing channel's slate is always right: its retry reads the timeline when it is due.
fn still_right(plan: &Plan, programmes: &[Programme], at: UnixMs) -> bool {
    match (&plan.what, current(programmes, at)) {
        (What::Slate(title), _) if *title != OFFLINE => true,
        (What::Slate(_), wanted) => wanted.is_none(),
        (What::Media { .. }, Some(p)) => {
            let playing = plan.seek_ms + (at - plan.start_ms);
            let stored = p.in_point_ms + (at - p.start_ms);
            plan.item_id == Some(p.item_id) && (playing - stored).abs() <= SAME_OFFSET_MS
        }
        (What::Media { .. }, None) => false,
    }
}

/// What a feeder does about a changed timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// What plays is what the timeline says, to its end.
    Keep,
    /// Cut over to the timeline at this stream time.
    CutAt(UnixMs),
}

/// Whether `plan`, playing at stream time `pos`, still matches the stored timeline
/// (`programmes`, read from `pos` or just before): a different programme (or a programme
/// where the slate plays) is cut over to at once; the same one that now ends sooner (a
/// skip, a programme added into a hole) is cut at its new end.
fn follow(plan: &Plan, programmes: &[Programme], pos: UnixMs) -> Follow {
    let soon = pos + TIMELINE_CUT_AHEAD_MS;
    let at = plan.inside(pos);
    if !still_right(plan, programmes, at) {
        return Follow::CutAt(soon);
    }
    let end_ms = match (&plan.what, current(programmes, at)) {
        (What::Slate(title), _) if *title != OFFLINE => return Follow::Keep,
        (What::Slate(_), _) => offline_until(programmes, at),
        (What::Media { .. }, Some(p)) => p.finish_ms,
        (What::Media { .. }, None) => return Follow::Keep,
    };
    if end_ms < plan.end_ms - SAME_OFFSET_MS {
        Follow::CutAt(end_ms.max(soon))
    } else {
        Follow::Keep
    }
}

/// One FFmpeg run and the plan it plays. `plan.end_ms` and `handover_from` move together:
/// a planned cut (long run, changed timeline) moves `end_ms` to the cut and keeps the
/// programme's own end in `handover_from`, and `timeline_cut` says which cut it is; a
/// successor that fails to start puts all three back.
struct Running {
    plan: Plan,
    /// Copy or transcode, and why.
    decision: Decision,
    process: Process,
    stdout: ChildStdout,
    n_bytes: u64,
    started: Instant,
    /// A handover is planned: `plan.end_ms` was moved to the cut; this is the programme's
    /// own end.
    handover_from: Option<UnixMs>,
    /// The planned handover is a cut-over to a changed timeline (not a long-run one).
    timeline_cut: bool,
}

enum Outcome {
    Eof,
    Stalled,
    Stopped,
    /// A long run reached its cut; its successor is ready in `next`.
    HandedOver,
}

/// What the pump does at a planned cut.
enum AtCut {
    /// The old item ended on a whole frame (or could not get there): the successor plays.
    HandedOver,
    /// The packets read end inside a frame: read on, then look again.
    ReadOn,
    /// The successor did not start: the cut is dropped and this run plays on.
    PlayOn,
}

/// Runs the channel until it is stopped, idle for the grace period, or the server stops.
/// Holds the tuner `permit` for as long as it runs.
pub async fn run(
    app: Arc<App>,
    channel: Arc<Channel>,
    hardware: Hardware,
    tools: Arc<Tools>,
    permit: Permit,
) {
    let profile = match cursor::output_profile(&app.db, channel.id).await {
        Ok(p) => p,
        Err(err) => {
            tracing::warn!(channel = %channel.number, %err, "cannot read the output profile; using the default");
            OutputProfile::default()
        }
    };
    let mut feeder = Feeder {
        app: app.clone(),
        channel: channel.clone(),
        hardware,
        tools,
        profile,
        splicer: Splicer::new(),
        aligner: Aligner::new(READ_SIZE),
        writer: ChunkWriter {
            buf: BytesMut::with_capacity(CHUNK_BLOCK),
            n_packets: 0,
            keyframe: false,
        },
        origin_ms: None,
        next: None,
        breaker: Breaker::new(),
        skipped: heapless::Deque::new(),
        no_copy: heapless::Deque::new(),
        failed_item: None,
        retry_at: None,
        restart: ChannelRestarts::default(),
        pending_restart: None,
        handover_retry_at: None,
        warming: None,
        timeline_checked: None,
        timeline_due: None,
        pacer: Pacer::new(pacing::Mode::from_settings(
            &app.settings().stream_throttler,
        )),
        shutdown: app.shutdown.clone(),
    };
    tracing::info!(channel = %channel.number, tuner = channel.tuner, "channel started");
    crate::notify::emit(crate::notify::Event::new(
        crate::notify::EventKind::StreamStart,
        channel.number.as_str(),
        format!("channel {} ({}) started", channel.number, channel.name),
    ));
    feeder.run().await;
    // Viewers end first (they get what is in the ring), then the children are reaped.
    channel.ring.close();
    if let Some(next) = feeder.next.take() {
        next.process.stop().await;
    }
    app.streams.forget(&channel);
    drop(permit);
    tracing::info!(channel = %channel.number, "channel stopped");
    crate::notify::emit(crate::notify::Event::new(
        crate::notify::EventKind::StreamStop,
        channel.number.as_str(),
        format!("channel {} ({}) stopped", channel.number, channel.name),
    ));
}

/// The feeder's state. Its fields move in groups:
///
/// - Fixed for the channel's life: `app`, `channel`, `hardware`, `tools`, `profile`,
///   `shutdown`.
/// - The output, advanced together by every read: `aligner` holds FFmpeg's bytes until
///   they are whole packets, `splicer` retimes them, `writer` cuts them into ring chunks.
///   The stream position is `origin_ms + splicer.elapsed_ms()`; `origin_ms` is set at the
///   first output and moved only by a resync after an outage (`RESYNC_BEHIND_MS`).
///   Between runs the splicer is flushed into the ring (`flush_into_ring`), then it and the
///   aligner begin a new item.
/// - The successor: `next`, at most one FFmpeg, started `PRESTART_MS` before the running
///   plan's end (or at a planned cut); taken when its start is within `PRESTART_MATCH_MS`
///   of the position, else stopped. `handover_retry_at` holds off a long-run handover
///   whose successor failed to start.
/// - Failures: `breaker` (every run), `failed_item` (one item's failures in a row; a
///   success or `PLAYED_MS` of play resets it), `skipped` (items given up on, at most
///   `SKIPPED_ITEMS_MAX`), and `retry_at` with `pending_restart`, set together by `failed`
///   for a media item: the slate covers until `retry_at`, then `plan_at` asks the restart
///   gate (`restart`) before the item plays again.
/// - Timeline follow: `timeline_checked` is the last re-read; `timeline_due` is set only
///   while a wake waits out `TIMELINE_RECHECK` after it (no wake is taken meanwhile).
/// - `pacer`: how far ahead of the clock it may run; its mode follows the settings at
///   each `IDLE_CHECK`.
struct Feeder {
    app: Arc<App>,
    channel: Arc<Channel>,
    hardware: Hardware,
    /// The FFmpeg to run: known before the tune that started the channel got its answer.
    tools: Arc<Tools>,
    profile: OutputProfile,
    splicer: Splicer,
    aligner: Aligner,
    writer: ChunkWriter,
    /// The playout time of the stream's first DTS; `None` until the first output.
    origin_ms: Option<UnixMs>,
    next: Option<Running>,
    breaker: Breaker,
    skipped: heapless::Deque<i64, SKIPPED_ITEMS_MAX>,
    /// Items whose copy failed: transcoded from then on (`fall_back_from_copy`).
    no_copy: heapless::Deque<i64, NO_COPY_ITEMS_MAX>,
    /// The item that failed last and how many times in a row.
    failed_item: Option<(i64, u32)>,
    /// Until then (a failure's backoff) the slate plays instead of a retry.
    retry_at: Option<Instant>,
    /// This channel's half of the restart gate (its last health-triggered restart).
    restart: ChannelRestarts,
    /// A failed item waiting to be restarted through the gate.
    pending_restart: Option<PendingRestart>,
    /// How far ahead it may run (the `stream_throttler` mode).
    pacer: Pacer,
    /// A long-run handover whose successor failed to start is not tried again before this.
    handover_retry_at: Option<Instant>,
    /// The next programme's page being resolved ahead of its start (`warm_next_page`).
    warming: Option<tokio::task::JoinHandle<()>>,
    /// When the timeline was last re-read after a change, and when a change that came
    /// sooner than `TIMELINE_RECHECK` after it is to be read (kept across items, so a
    /// change is never lost between two runs).
    timeline_checked: Option<Instant>,
    timeline_due: Option<Instant>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// A restart of `item_id` at the stream's position, not yet admitted by the gate.
#[derive(Debug, Clone, Copy)]
struct PendingRestart {
    item_id: Option<i64>,
    /// Whether the gate has deferred it (a deferral is counted once).
    deferred: bool,
}

impl Feeder {
    /// The playout time the output has reached (from its DTS).
    fn pos_ms(&self) -> UnixMs {
        match self.origin_ms {
            Some(origin) => origin + self.splicer.elapsed_ms(),
            None => now_ms(),
        }
    }

    /// How far the stream is ahead of the wall clock. Measured on the output's DTS, which
    /// the PCR follows at a constant distance (the splicer writes a PCR where FFmpeg
    /// wrote none, so the two never part).
    fn ahead_ms(&self) -> i64 {
        match self.origin_ms {
            Some(_) => self.pos_ms() - now_ms(),
            None => 0,
        }
    }

    fn stopped(&self) -> bool {
        self.channel.is_stopping() || *self.shutdown.borrow()
    }

    fn breaker_config(&self) -> BreakerConfig {
        BreakerConfig::from(&self.app.settings().breaker)
    }

    async fn run(&mut self) {
        while !self.stopped() {
            self.resync();
            let pos = self.pos_ms();
            let Some(mut running) = self.take_or_start(pos).await else {
                continue;
            };
            self.begin(&running, pos);
            let outcome = self.pump(&mut running).await;
            if self.end(running, outcome, pos).await.is_break() {
                return;
            }
        }
    }

    /// After an outage the stream has fallen behind: continue from "now" (a jump in
    /// content; the timestamps stay continuous).
    fn resync(&mut self) {
        let behind = now_ms() - self.pos_ms();
        if let (Some(origin), true) = (self.origin_ms.as_mut(), behind > RESYNC_BEHIND_MS) {
            *origin += behind;
        }
    }

    /// The run that plays from `pos`: the prestarted one when it was planned to start
    /// there, else a new one. `None` when FFmpeg could not start (the failure is counted
    /// and its backoff waited out).
    async fn take_or_start(&mut self, pos: UnixMs) -> Option<Running> {
        match self.next.take() {
            Some(next) if (next.plan.start_ms - pos).abs() <= PRESTART_MATCH_MS => {
                return Some(next);
            }
            Some(stale) => {
                stale.process.stop().await;
            }
            None => {}
        }
        let plan = self.plan_at(pos).await;
        let running = self.start(plan).await;
        if running.is_none() {
            self.failed(None).await;
        }
        running
    }

    /// A run's output begins at stream time `pos`: a new item for the splicer, and what the
    /// stats and `now_playing` show.
    fn begin(&mut self, running: &Running, pos: UnixMs) {
        self.splicer.begin_item();
        self.aligner.reset();
        self.channel.stats.items.fetch_add(1, Ordering::Relaxed);
        self.channel.stats.ffmpeg_started(running.process.pid());
        if let Ok(mut now) = self.channel.now_playing.lock() {
            *now = NowPlaying {
                item_id: running.plan.item_id,
                title: running.plan.title.clone(),
                from_ms: pos,
                slate: matches!(running.plan.what, What::Slate(_)),
                mode: running.decision.mode(),
                mode_reason: running.decision.reason(),
            };
        }
    }

    /// Ends the run that began at `pos`, as its `outcome` says; `Break` when the feeder
    /// stops.
    async fn end(&mut self, running: Running, outcome: Outcome, pos: UnixMs) -> ControlFlow<()> {
        let Running {
            plan,
            decision,
            process,
            stdout,
            n_bytes,
            timeline_cut,
            ..
        } = running;
        drop(stdout);
        match outcome {
            Outcome::HandedOver => {
                self.flush_into_ring();
                self.count_kill();
                process.stop().await;
                self.record_success();
                if timeline_cut {
                    tracing::info!(channel = %self.channel.number, item = ?plan.item_id, "cut over to the changed timeline");
                } else {
                    tracing::info!(channel = %self.channel.number, item = ?plan.item_id, "long FFmpeg run handed over to a fresh one");
                }
            }
            Outcome::Stopped => {
                self.count_kill();
                process.stop().await;
                return ControlFlow::Break(());
            }
            Outcome::Stalled => {
                self.app
                    .streams
                    .totals
                    .ffmpeg_stalls
                    .fetch_add(1, Ordering::Relaxed);
                self.count_kill();
                tracing::warn!(channel = %self.channel.number, item = ?plan.item_id, "ffmpeg stalled; restarting");
                process.stop().await;
                if !self.fall_back_from_copy(&plan, &decision) {
                    self.forgive_if_played(pos);
                    self.failed(Some(&plan)).await;
                }
            }
            Outcome::Eof => self.ended(&plan, &decision, process, n_bytes, pos).await,
        }
        ControlFlow::Continue(())
    }

    /// FFmpeg's stdout ended: its last packets go out, then its exit decides between a
    /// success and a failure.
    async fn ended(
        &mut self,
        plan: &Plan,
        decision: &Decision,
        mut process: Process,
        n_bytes: u64,
        pos: UnixMs,
    ) {
        // Let it flush its last packets into the splicer's pending buffer.
        self.flush_into_ring();
        let status = match tokio::time::timeout(EXIT_WAIT, process.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                process.stop().await;
                None
            }
        };
        let reached = self.pos_ms();
        let progressed = reached - pos >= MIN_PROGRESS_MS || reached >= plan.end_ms - END_SLACK_MS;
        let ok = status.is_some_and(|s| s.success()) && n_bytes > 0 && progressed;
        if ok {
            self.record_success();
        } else {
            let stderr = self.channel.stderr.lines();
            tracing::warn!(
                channel = %self.channel.number,
                item = ?plan.item_id,
                status = ?status,
                stderr = ?stderr,
                "ffmpeg failed"
            );
            // The direct URL of a page expired early or was revoked: resolve it again.
            if let Some(page) = &plan.page {
                if stderr.iter().any(|l| l.contains("403")) {
                    tracing::info!(channel = %self.channel.number, "the page's URL answered 403; it will be resolved again");
                    self.app.pages.forget(page);
                }
            }
            if !self.fall_back_from_copy(plan, decision) {
                self.forgive_if_played(pos);
                self.failed(Some(plan)).await;
            }
        }
    }

    /// A run that copied and failed: its item is transcoded from now on, at once (no
    /// backoff, no failure counted against the breaker: the transcode is the retry, and its
    /// own failure counts). False when the run did not copy (or its item was transcoded
    /// already): the failure is an ordinary one.
    fn fall_back_from_copy(&mut self, plan: &Plan, decision: &Decision) -> bool {
        let Some(item_id) = plan.item_id.filter(|_| decision.copies()) else {
            return false;
        };
        if self.no_copy.iter().any(|id| *id == item_id) {
            return false;
        }
        if self.no_copy.is_full() {
            self.no_copy.pop_front();
        }
        let _ = self.no_copy.push_back(item_id);
        self.channel
            .stats
            .copy_fallbacks
            .fetch_add(1, Ordering::Relaxed);
        self.app
            .streams
            .totals
            .copy_fallbacks
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            channel = %self.channel.number,
            item = item_id,
            mode = decision.mode().as_str(),
            "copying the item failed; transcoding it instead"
        );
        true
    }

    /// Releases what the splicer still holds (an item that ended before its shift was
    /// known) and the chunk being built into the ring: the run's output ends here.
    fn flush_into_ring(&mut self) {
        let stream_ms = self.splicer.elapsed_ms();
        let mut out = Out {
            writer: &mut self.writer,
            channel: &self.channel,
            stream_ms,
        };
        self.splicer.flush(&mut out);
        out.flush();
    }

    /// An FFmpeg stopped by us (a handover, a stall, a stop, a stale prestart).
    fn count_kill(&self) {
        self.app
            .streams
            .totals
            .ffmpeg_kills
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A run that moved the stream on by `PLAYED_MS` before it failed did play its item:
    /// the item's failures in a row start again (a long item killed twice an hour apart
    /// is not unplayable).
    fn forgive_if_played(&mut self, started_at: UnixMs) {
        if self.pos_ms() - started_at >= PLAYED_MS {
            self.failed_item = None;
        }
    }

    /// Counts a failure (breaker, per-item skip), then waits out the backoff.
    async fn failed(&mut self, plan: Option<&Plan>) {
        let now = Instant::now();
        self.record_failure(now);
        // A live relay is never skipped: its source comes back, and is retried behind the
        // backoff, the breaker and the restart gate like any failure.
        let skipping = plan
            .filter(|p| !p.is_live())
            .and_then(|p| p.item_id)
            .is_some_and(|item_id| self.count_item_failure(item_id));
        // Backoff spaces out retries of the same thing; a skipped item is not retried.
        // Meanwhile viewers get the slate, unless the slate (or the spawn) is what failed:
        // then there is nothing to show and the feeder just waits.
        // The retry is a restart: it goes through the gate (`restart`), asked in `plan_at`
        // when the item comes up again, or here when there is no slate to wait behind.
        if skipping {
            self.pending_restart = None;
            return;
        }
        let wait = self.breaker.backoff();
        let slate_can_cover = plan.is_some_and(|p| matches!(p.what, What::Media { .. }));
        if slate_can_cover {
            if !wait.is_zero() {
                self.retry_at = Some(now + wait);
            }
            self.pending_restart = Some(PendingRestart {
                item_id: plan.and_then(|p| p.item_id),
                deferred: false,
            });
            return;
        }
        // The slate (or a spawn) failed: restart it behind the gate. A media restart still
        // pending stays pending.
        if !wait.is_zero() && !self.pause(wait).await {
            return;
        }
        let mut pending = PendingRestart {
            item_id: None,
            deferred: false,
        };
        while let Some(until) = self.ask_restart(&mut pending) {
            if !self
                .pause(until.saturating_duration_since(Instant::now()))
                .await
            {
                return;
            }
        }
    }

    /// A failure for the breaker, the totals and the channel's stats.
    /// A run that played: the breaker closes after a half-open trial, and the stats say so
    /// (they were last written by a failure, and would show the breaker open for ever).
    fn record_success(&mut self) {
        self.breaker.record_success();
        self.failed_item = None;
        let phase = self.breaker.state(Instant::now()).phase();
        self.channel.stats.breaker_is(phase);
    }

    fn record_failure(&mut self, now: Instant) {
        let cfg = self.breaker_config();
        self.breaker.record_failure(now, cfg);
        self.app
            .streams
            .totals
            .ffmpeg_failures
            .fetch_add(1, Ordering::Relaxed);
        let stats = &self.channel.stats;
        stats.failures.fetch_add(1, Ordering::Relaxed);
        stats
            .recent_failures
            .store(self.breaker.recent_failures(now, cfg), Ordering::Relaxed);
        let state = self.breaker.state(now);
        stats.breaker_is(state.phase());
        if let BreakerState::Open { .. } = state {
            tracing::warn!(channel = %self.channel.number, "circuit breaker open: serving the slate");
            crate::notify::emit(crate::notify::Event::new(
                crate::notify::EventKind::ChannelFailing,
                self.channel.number.as_str(),
                format!(
                    "channel {} ({}) is failing: its circuit breaker opened, viewers see the slate",
                    self.channel.number, self.channel.name
                ),
            ));
        }
    }

    /// One more failure of `item_id` in a row; true when that makes it unplayable (it is
    /// then skipped for its slot).
    fn count_item_failure(&mut self, item_id: i64) -> bool {
        let n = match self.failed_item {
            Some((id, n)) if id == item_id => n + 1,
            _ => 1,
        };
        self.failed_item = Some((item_id, n));
        if n < ITEM_FAILURES_TO_SKIP {
            return false;
        }
        tracing::warn!(channel = %self.channel.number, item = item_id, "item unplayable; skipping it");
        if self.skipped.is_full() {
            self.skipped.pop_front();
        }
        let _ = self.skipped.push_back(item_id);
        self.failed_item = None;
        true
    }

    /// Waits `how_long`; false when the channel or the server stopped meanwhile.
    async fn pause(&mut self, how_long: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(how_long) => true,
            _ = self.channel.stop.notified() => false,
            _ = self.shutdown.changed() => false,
        }
    }

    /// Asks the restart gate for `pending`: `None` when admitted (counted as a restart),
    /// else when to ask again (the first deferral is counted and logged).
    fn ask_restart(&mut self, pending: &mut PendingRestart) -> Option<Instant> {
        match self.app.streams.admit_restart(&mut self.restart) {
            Admission::Now => {
                self.channel.stats.restarts.fetch_add(1, Ordering::Relaxed);
                None
            }
            Admission::Defer { until, reason } => {
                if !pending.deferred {
                    pending.deferred = true;
                    self.app
                        .streams
                        .totals
                        .restarts_deferred
                        .fetch_add(1, Ordering::Relaxed);
                    let why = match reason {
                        Reason::Cooldown => "this channel was restarted less than a minute ago",
                        Reason::Storm => "too many restarts across all channels",
                    };
                    tracing::warn!(
                        channel = %self.channel.number,
                        item = ?pending.item_id,
                        wait_ms = until.saturating_duration_since(Instant::now()).as_millis() as u64,
                        "restart deferred ({why}): serving the slate"
                    );
                }
                Some(until)
            }
        }
    }

    /// Resolves the page of the programme after the one at `pos` (if it is a page and not
    /// cached) in the background now, so the cut to it finds its URL in the cache instead of
    /// waiting for yt-dlp at the boundary. One at a time, bounded by the resolve timeout.
    fn warm_next_page(&mut self, programmes: &[Programme], pos: UnixMs) {
        if self.warming.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let next = programmes.iter().find(|n| n.start_ms > pos + MIN_ITEM_MS);
        let Some(Input::Page(page)) = next.map(|n| &n.input) else {
            return;
        };
        if self.app.pages.get(page, crate::time::now_ms()).is_some() {
            return;
        }
        let (app, page, number) = (self.app.clone(), page.clone(), self.channel.number.clone());
        self.warming = Some(tokio::spawn(async move {
            if let Err(err) = app.resolve_page(&page).await {
                tracing::debug!(channel = %number, %err, "the next page did not resolve ahead");
            }
        }));
    }

    /// What plays at stream time `pos`.
    async fn plan_at(&mut self, pos: UnixMs) -> Plan {
        let now = Instant::now();
        let breaker = self.breaker.state(now);
        let slate = |title: &'static str, end_ms: UnixMs| Plan {
            item_id: None,
            title: title.to_string(),
            start_ms: pos,
            end_ms: end_ms.max(pos + MIN_ITEM_MS),
            seek_ms: 0,
            what: What::Slate(title),
            page: None,
        };
        let read = cursor::programmes(&self.app.db, self.channel.id, pos, PLAN_PROGRAMMES);
        let programmes = match read.await {
            Ok(p) => p,
            Err(err) => {
                tracing::warn!(channel = %self.channel.number, %err, "cannot read the playout");
                return slate(TROUBLE, pos + UNREADABLE_SLATE_MS);
            }
        };
        self.warm_next_page(&programmes, pos);
        let Some(p) = current(&programmes, pos) else {
            // A hole or the end of the playout: the slate until the next programme.
            return slate(OFFLINE, offline_until(&programmes, pos));
        };
        if let BreakerState::Open { until } = breaker {
            let left = until.saturating_duration_since(now).as_millis() as i64;
            return slate(
                TROUBLE,
                p.finish_ms.min(pos + left.max(BREAKER_SLATE_MIN_MS)),
            );
        }
        if let Some(retry_at) = self.retry_at.filter(|t| *t > now) {
            let left = retry_at.duration_since(now).as_millis() as i64;
            return slate(TROUBLE, p.finish_ms.min(pos + left.max(MIN_ITEM_MS)));
        }
        if self.skipped.iter().any(|id| *id == p.item_id) {
            return slate(TROUBLE, p.finish_ms);
        }
        // Starting the item that failed again is a restart: the gate decides when.
        // Any other item is a programme starting normally; the failed one is behind us.
        if let Some(mut pending) = self.pending_restart.take() {
            if pending.item_id == Some(p.item_id) {
                if let Some(until) = self.ask_restart(&mut pending) {
                    self.pending_restart = Some(pending);
                    self.retry_at = Some(until);
                    let left = until.saturating_duration_since(now).as_millis() as i64;
                    return slate(TROUBLE, p.finish_ms.min(pos + left.max(MIN_ITEM_MS)));
                }
            }
        }
        // A page plays from the direct URL yt-dlp gives (cached until it expires); a page
        // that does not resolve is a failure like an FFmpeg's: the slate, then a retry.
        let (input, page) = match &p.input {
            Input::Page(page) => match self.app.resolve_page(page).await {
                Ok(resolved) => (Input::Url(resolved.url), Some(page.clone())),
                Err(err) => {
                    tracing::warn!(channel = %self.channel.number, item = p.item_id, %err, "cannot resolve the page");
                    self.channel.stderr.push(&err.to_string());
                    self.record_failure(now);
                    return slate(TROUBLE, p.finish_ms.min(pos + RESOLVE_RETRY_MS));
                }
            },
            other => (other.clone(), None),
        };
        Plan {
            item_id: Some(p.item_id),
            title: p.title.clone(),
            start_ms: pos,
            end_ms: p.finish_ms,
            seek_ms: p.in_point_ms + (pos - p.start_ms).max(0),
            what: What::Media {
                input,
                media: Box::new(p.media.clone()),
                watermark_id: p.watermark_id,
            },
            page,
        }
    }

    /// Starts FFmpeg for `plan`: copying when the source allows it (mid-programme from the
    /// keyframe at or before the offset, looked up first), else transcoding.
    async fn start(&self, plan: Plan) -> Option<Running> {
        let source = match &plan.what {
            What::Media { input, media, .. } => Source::Media {
                input,
                media,
                title: &plan.title,
            },
            What::Slate(text) => Source::Slate { text },
        };
        let watermark = self.watermark(&plan).await;
        let job = Job {
            source,
            seek_ms: plan.seek_ms,
            duration_ms: Some(plan.end_ms - plan.start_ms),
            watermark: watermark.as_ref(),
        };
        let from = self.copy_from(&plan, &job).await;
        let decision = ffmpeg::decide(&self.hardware, &self.profile, &job, from);
        let args = ffmpeg::command_for(&self.hardware, &self.profile, &job, &decision);
        let program = self.tools.ffmpeg.program();
        match ffmpeg::spawn(program, &args, self.channel.stderr.clone()) {
            Ok(mut process) => {
                let stdout = process.stdout.take()?;
                tracing::debug!(
                    channel = %self.channel.number,
                    item = ?plan.item_id,
                    seek_ms = plan.seek_ms,
                    mode = decision.mode().as_str(),
                    reason = decision.reason().map(EncodeReason::as_str),
                    "ffmpeg started"
                );
                Some(Running {
                    plan,
                    decision,
                    process,
                    stdout,
                    n_bytes: 0,
                    started: Instant::now(),
                    handover_from: None,
                    timeline_cut: false,
                })
            }
            Err(err) => {
                tracing::warn!(channel = %self.channel.number, %err, "cannot start ffmpeg");
                self.channel.stderr.push(&err.to_string());
                None
            }
        }
    }

    /// The plan's watermark, its image in the cache and its intermittent cycle placed at
    /// the run's start on the wall clock; none when it cannot be read (logged, the
    /// programme plays without).
    async fn watermark(&self, plan: &Plan) -> Option<Watermark> {
        let What::Media {
            watermark_id: Some(id),
            ..
        } = plan.what
        else {
            return None;
        };
        let dir = self.app.config.data_dir.clone();
        let found = cursor::watermark(&self.app.db, dir, id, self.channel.id).await;
        let mut mark = found
            .inspect_err(|err| {
                tracing::warn!(channel = %self.channel.number, watermark = id, %err, "watermark unreadable");
            })
            .ok()??;
        if let Some((every_s, _)) = mark.every {
            let every_ms = i64::from(every_s.max(1)) * 1000;
            mark.phase_s = (plan.start_ms.rem_euclid(every_ms) / 1000) as u32;
        }
        Some(mark)
    }

    /// Where a copy of `job` may start: refused for an item whose copy failed; mid-programme,
    /// the keyframe at or before the offset (a failed lookup or one too far back means a
    /// transcode).
    async fn copy_from(&self, plan: &Plan, job: &Job<'_>) -> CopyFrom {
        if plan
            .item_id
            .is_some_and(|id| self.no_copy.iter().any(|n| *n == id))
        {
            return CopyFrom::Refused(EncodeReason::CopyFailed);
        }
        let What::Media { input, .. } = &plan.what else {
            return CopyFrom::StartOnly;
        };
        if !ffmpeg::wants_keyframe(&self.hardware, &self.profile, job) {
            return CopyFrom::StartOnly;
        }
        let ffprobe = self.tools.ffprobe.program();
        match ffmpeg::keyframe_before(ffprobe, input, job.seek_ms).await {
            Ok(at) => CopyFrom::Keyframe(at),
            Err(err) => {
                tracing::info!(channel = %self.channel.number, item = ?plan.item_id, %err, "transcoding mid-programme");
                CopyFrom::Refused(EncodeReason::NoKeyframe)
            }
        }
    }

    /// Reads the current FFmpeg into the splicer and the ring, paced by the wall clock,
    /// until it ends, stalls, or the channel stops.
    async fn pump(&mut self, running: &mut Running) -> Outcome {
        let mut idle_check = tokio::time::interval(IDLE_CHECK);
        let mut last_data = Instant::now();
        loop {
            if self.stopped() {
                return Outcome::Stopped;
            }
            self.prestart_if_due(running).await;
            if let (Some(end_ms), true) =
                (running.handover_from, self.pos_ms() >= running.plan.end_ms)
            {
                match self.at_cut(running, end_ms).await {
                    AtCut::HandedOver => return Outcome::HandedOver,
                    AtCut::ReadOn => continue,
                    AtCut::PlayOn => {}
                }
            }
            let pace = self.pace();
            // Packets already read are spliced (paced, a slice at a time) before reading more.
            let buffered = !self.aligner.whole().is_empty();
            if buffered && pace.is_none() {
                self.splice_slice(running);
                continue;
            }
            let stall = if running.n_bytes == 0 {
                FIRST_BYTE_STALL
            } else {
                STALL
            };
            tokio::select! {
                biased;
                _ = self.channel.stop.notified() => return Outcome::Stopped,
                _ = self.shutdown.changed() => return Outcome::Stopped,
                _ = self.channel.timeline.notified(), if self.timeline_due.is_none() => {
                    let earliest = self.timeline_checked.map(|t| t + TIMELINE_RECHECK);
                    match earliest {
                        Some(at) if at > Instant::now() => self.timeline_due = Some(at),
                        _ => self.follow_timeline(running).await,
                    }
                }
                _ = tokio::time::sleep_until(self.timeline_due.unwrap_or_else(Instant::now).into()), if self.timeline_due.is_some() => {
                    self.follow_timeline(running).await;
                }
                _ = idle_check.tick() => {
                    if self.app.streams.retire_if_idle(&self.app, &self.channel) {
                        return Outcome::Stopped;
                    }
                    self.update_pacer();
                    self.plan_long_run(running);
                }
                _ = tokio::time::sleep(pace.unwrap_or_default()), if pace.is_some() => {
                    // We were not reading: the stall clock restarts.
                    last_data = Instant::now();
                }
                _ = tokio::time::sleep_until((last_data + stall).into()), if pace.is_none() => {
                    return Outcome::Stalled;
                }
                read = running.stdout.read(self.aligner.spare()), if pace.is_none() && !buffered => {
                    let n = match read {
                        Ok(0) | Err(_) => return Outcome::Eof,
                        Ok(n) => n,
                    };
                    last_data = Instant::now();
                    running.n_bytes += n as u64;
                    self.channel.stats.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                    self.aligner.commit(n);
                    self.splice_slice(running);
                }
            }
        }
    }

    /// Starts the next item's FFmpeg ahead of the boundary (or of a planned cut, which
    /// may be right now: it is started before the handover in `pump` looks for it).
    async fn prestart_if_due(&mut self, running: &Running) {
        if self.next.is_none() && self.pos_ms() >= running.plan.end_ms - PRESTART_MS {
            let overrun = (self.pos_ms() - running.plan.end_ms).max(0);
            let plan = self.plan_at(running.plan.end_ms + overrun).await;
            self.next = self.start(plan).await;
        }
    }

    /// At or past a planned cut (`running.plan.end_ms`; the programme's own end is
    /// `end_ms`): hands over once the old item ends on a whole frame, reads on to that
    /// frame's end, or, when the successor did not start, plays on to `end_ms`.
    async fn at_cut(&mut self, running: &mut Running, end_ms: UnixMs) -> AtCut {
        // The old item ends on a whole frame: up to the next frame start, read
        // further if need be (a frame is tens of ms), but never for long.
        let overrun = self.pos_ms() - running.plan.end_ms;
        if self.next.is_some() && (self.splice_to_frame_end(running) || overrun > MAX_FRAME_END_MS)
        {
            return AtCut::HandedOver;
        }
        if self.next.is_some() {
            // Read on (unpaced) to the frame's end.
            let read = running.stdout.read(self.aligner.spare());
            match tokio::time::timeout(FRAME_END_WAIT, read).await {
                Ok(Ok(0) | Err(_)) | Err(_) => return AtCut::HandedOver,
                Ok(Ok(n)) => {
                    running.n_bytes += n as u64;
                    self.aligner.commit(n);
                }
            }
            return AtCut::ReadOn;
        }
        // The successor did not start: this run goes on to its programme's end.
        tracing::warn!(channel = %self.channel.number, "cannot start the successor; playing on");
        running.plan.end_ms = end_ms;
        running.handover_from = None;
        running.timeline_cut = false;
        self.handover_retry_at = Some(Instant::now() + longrun::RETRY_AFTER);
        AtCut::PlayOn
    }

    /// The stored timeline changed: re-reads it and, when what plays (or is prestarted) is
    /// no longer what it says, plans a cut through the prestart and the splicer, as a
    /// long-run handover does: the successor starts now, the viewers stay connected.
    async fn follow_timeline(&mut self, running: &mut Running) {
        self.timeline_checked = Some(Instant::now());
        self.timeline_due = None;
        let pos = self.pos_ms();
        let at = running.plan.inside(pos);
        let read = cursor::programmes(&self.app.db, self.channel.id, at, FOLLOW_PROGRAMMES);
        let programmes = match read.await {
            Ok(p) => p,
            Err(err) => {
                tracing::warn!(channel = %self.channel.number, %err, "cannot read the changed playout");
                return;
            }
        };
        let next_is_stale = self
            .next
            .as_ref()
            .is_some_and(|next| !still_right(&next.plan, &programmes, next.plan.start_ms));
        let cut = follow(&running.plan, &programmes, pos);
        if next_is_stale || matches!(cut, Follow::CutAt(_)) {
            // Planned from the old timeline (or for the old end): the prestart plans it
            // again from the new one.
            if let Some(next) = self.next.take() {
                self.count_kill();
                next.process.stop().await;
            }
        }
        let Follow::CutAt(cut) = cut else {
            return;
        };
        tracing::info!(
            channel = %self.channel.number,
            item = ?running.plan.item_id,
            in_ms = cut - pos,
            "timeline changed: cutting over"
        );
        running.handover_from.get_or_insert(running.plan.end_ms);
        running.plan.end_ms = cut;
        running.timeline_cut = true;
    }

    /// A run older than `ffmpeg.long_run_hours` gets a cut (`longrun`): the prestart
    /// starts its successor at the cut, and the pump hands over when the stream gets there.
    fn plan_long_run(&mut self, running: &mut Running) {
        if running.handover_from.is_some()
            || self.next.is_some()
            || self.handover_retry_at.is_some_and(|t| Instant::now() < t)
        {
            return;
        }
        let limit = longrun::limit(self.app.settings().ffmpeg.long_run_hours);
        let age = if self.channel.aged_out.swap(false, Ordering::Relaxed) {
            limit
        } else {
            running.started.elapsed()
        };
        let pos = self.pos_ms();
        if let Some(cut) = longrun::handover_at(age, limit, pos, running.plan.end_ms) {
            tracing::info!(channel = %self.channel.number, item = ?running.plan.item_id, "FFmpeg has run for the long-run limit; handing over to a fresh one");
            running.handover_from = Some(running.plan.end_ms);
            running.plan.end_ms = cut;
        }
    }

    /// How long to wait before reading FFmpeg again, `None` to read now.
    fn pace(&self) -> Option<Duration> {
        match self.pacer.limit(self.channel.viewers()) {
            Limit::AheadOfClock(lead_ms) => {
                let ahead = self.ahead_ms();
                (ahead > lead_ms).then(|| Duration::from_millis((ahead - lead_ms) as u64))
            }
            Limit::AheadOfLeader(max_behind) => match self.channel.ring.reader_lags() {
                Some((leader, _)) if leader >= max_behind => Some(pacing::LEADER_POLL),
                _ => None,
            },
        }
    }

    /// Applies a settings change of the mode and shows adaptive what the viewers did.
    fn update_pacer(&mut self) {
        self.pacer.set_mode(pacing::Mode::from_settings(
            &self.app.settings().stream_throttler,
        ));
        if self.pacer.mode() == pacing::Mode::Adaptive {
            let ring = &self.channel.ring;
            self.pacer.observe(
                Instant::now(),
                Observation {
                    viewers: self.channel.viewers(),
                    published: ring.n_published(),
                    dropped: self.channel.stats.chunks_dropped.load(Ordering::Relaxed),
                    slowest_lag: ring.reader_lags().map_or(0, |(_, slow)| slow),
                },
            );
        }
    }

    /// Splices up to `SLICE_PACKETS` of the packets read, into the ring.
    fn splice_slice(&mut self, running: &Running) {
        let n = self.aligner.whole().len().min(SLICE_PACKETS * PACKET_LEN);
        self.splice_bytes(running, n);
    }

    /// At a handover's cut: splices the packets read up to the next video frame start and
    /// drops the rest, so the old item ends on whole frames (`Splicer::starts_video_frame`).
    /// False when the packets read end inside a frame: more must be read first.
    fn splice_to_frame_end(&mut self, running: &Running) -> bool {
        let whole = self.aligner.whole();
        let found = whole
            .chunks_exact(PACKET_LEN)
            .position(|packet| self.splicer.starts_video_frame(packet));
        let n = found.map_or(whole.len(), |i| i * PACKET_LEN);
        self.splice_bytes(running, n);
        if found.is_some() {
            self.aligner.reset();
        }
        found.is_some()
    }

    /// Splices the first `n` bytes of the packets read into the ring.
    fn splice_bytes(&mut self, running: &Running, n: usize) {
        let stream_ms = self.splicer.elapsed_ms();
        let whole = self.aligner.whole();
        let mut out = Out {
            writer: &mut self.writer,
            channel: &self.channel,
            stream_ms,
        };
        self.splicer.push(&mut whole[..n], &mut out);
        out.flush();
        self.aligner.consume_bytes(n);
        if self.origin_ms.is_none() && self.splicer.has_output() {
            self.origin_ms = Some(running.plan.start_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMs = 1_000_000;

    fn programme(item_id: i64, start_ms: UnixMs, finish_ms: UnixMs) -> Programme {
        Programme {
            item_id,
            media_id: Some(item_id),
            title: format!("item {item_id}"),
            start_ms,
            finish_ms,
            in_point_ms: 0,
            filler_kind: None,
            input: Input::Generated("generated://demo/1".into()),
            media: MediaInfo::default(),
            watermark_id: None,
        }
    }

    /// What the feeder planned for `p` when it started it at `start_ms`.
    fn playing(p: &Programme, start_ms: UnixMs) -> Plan {
        Plan {
            item_id: Some(p.item_id),
            title: p.title.clone(),
            start_ms,
            end_ms: p.finish_ms,
            seek_ms: p.in_point_ms + (start_ms - p.start_ms),
            what: What::Media {
                input: p.input.clone(),
                media: Box::new(p.media.clone()),
                watermark_id: None,
            },
            page: None,
        }
    }

    fn slate(title: &'static str, start_ms: UnixMs, end_ms: UnixMs) -> Plan {
        Plan {
            item_id: None,
            title: title.into(),
            start_ms,
            end_ms,
            seek_ms: 0,
            what: What::Slate(title),
            page: None,
        }
    }

    #[test]
    fn an_unchanged_programme_is_kept_to_its_end() {
        let a = programme(1, T0, T0 + 60_000);
        let b = programme(2, T0 + 60_000, T0 + 90_000);
        let plan = playing(&a, T0 + 5_000);
        let pos = T0 + 20_000;
        assert_eq!(follow(&plan, &[a.clone(), b.clone()], pos), Follow::Keep);
        // In its last half second `current` names the next programme; still kept.
        assert_eq!(follow(&plan, &[a, b], T0 + 59_800), Follow::Keep);
    }

    #[test]
    fn another_programme_now_or_another_offset_cuts_over_at_once() {
        let a = programme(1, T0, T0 + 60_000);
        let plan = playing(&a, T0);
        let pos = T0 + 20_000;
        let rebuilt = programme(7, T0 - 10_000, T0 + 50_000);
        assert_eq!(
            follow(&plan, &[rebuilt], pos),
            Follow::CutAt(pos + TIMELINE_CUT_AHEAD_MS)
        );
        // The same item moved by more than the tolerance (a new in-point).
        let mut moved = a.clone();
        moved.in_point_ms = 30_000;
        assert!(matches!(follow(&plan, &[moved], pos), Follow::CutAt(_)));
        // Deleted playout: nothing stored at all, the Offline slate takes over.
        assert!(matches!(follow(&plan, &[], pos), Follow::CutAt(_)));
        assert!(still_right(&slate(OFFLINE, pos, pos + 60_000), &[], pos));
    }

    #[test]
    fn a_skip_cuts_over_to_the_next_programme() {
        let a = programme(1, T0, T0 + 60_000);
        let plan = playing(&a, T0);
        let pos = T0 + 20_000;
        // The skip ended `a` at the wall clock, just behind the stream.
        let mut skipped = a.clone();
        skipped.finish_ms = pos - 400;
        let b = programme(2, pos - 400, pos + 30_000);
        assert_eq!(
            follow(&plan, &[skipped, b], pos),
            Follow::CutAt(pos + TIMELINE_CUT_AHEAD_MS)
        );
    }

    #[test]
    fn the_offline_slate_gives_way_to_a_programme_now_or_at_its_start() {
        let pos = T0 + 1_000;
        let plan = slate(OFFLINE, T0, T0 + SLATE_PIECE_MS);
        assert_eq!(follow(&plan, &[], pos), Follow::Keep);
        let now = programme(1, pos - 5_000, pos + 60_000);
        assert_eq!(
            follow(&plan, &[now], pos),
            Follow::CutAt(pos + TIMELINE_CUT_AHEAD_MS)
        );
        let later = programme(1, pos + 20_000, pos + 80_000);
        assert_eq!(follow(&plan, &[later], pos), Follow::CutAt(pos + 20_000));
    }

    #[test]
    fn a_failing_channels_slate_is_left_to_its_retry() {
        let pos = T0 + 1_000;
        let plan = slate(TROUBLE, T0, T0 + 5_000);
        let now = programme(1, T0, T0 + 60_000);
        assert_eq!(follow(&plan, &[now], pos), Follow::Keep);
    }
}
