//! Live HLS cut from a channel's ring: segments of about `TARGET_MS`, each starting at a
//! keyframe chunk (which begins with PAT and PMT), kept in memory as the ring's own `Bytes`
//! (shared, never copied, never on disk), a window of `WINDOW` listed. Segments are
//! collected only while an HLS client fetched the playlist within the hold (setting
//! `channels.hls_hold_seconds`, default `HOLD`); that same window is what keeps the channel
//! (and its tuner) alive for HLS viewers.
//!
//! It knows nothing of FFmpeg or HTTP; the playlist text is rendered here.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::time::{now_ms, UnixMs};

/// Segments listed in the playlist (API.md §5).
pub const WINDOW: usize = 6;
/// Segments cut near this duration, at the first keyframe after `TARGET_MS - 500`.
pub const TARGET_MS: i64 = 4000;
/// An HLS viewer holds the channel's tuner until this long passes without a playlist fetch
/// (API.md §5). The default of `channels.hls_hold_seconds`: a player refetches the live
/// playlist every target duration (4 s), so 30 s survives several missed fetches.
pub const HOLD: Duration = Duration::from_secs(30);
/// Kept beyond the window, so a player that fetches the oldest listed segment just as it
/// slides out still gets it.
const KEPT: usize = WINDOW + 2;
/// A segment with more chunks than this (no keyframe for far too long) is abandoned: it
/// bounds memory if a source has no keyframes at all.
const SEGMENT_MAX_CHUNKS: usize = 4096;

#[derive(Default)]
pub struct Hls {
    inner: Mutex<Inner>,
    /// Wall ms of the last playlist fetch; 0 = never.
    last_fetch_ms: AtomicI64,
    /// The hold in force at the last fetch, in ms (0 before any: `HOLD`).
    hold_ms: AtomicI64,
    segment_ready: Notify,
}

#[derive(Default)]
struct Inner {
    segments: heapless::Deque<Segment, KEPT>,
    building: Option<Building>,
    next_seq: u64,
}

struct Segment {
    seq: u64,
    duration_ms: i64,
    chunks: Vec<Bytes>,
}

struct Building {
    start_stream_ms: i64,
    chunks: Vec<Bytes>,
}

impl Hls {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_active(&self, now: UnixMs) -> bool {
        let last = self.last_fetch_ms.load(Ordering::Relaxed);
        last > 0 && now - last < self.hold().as_millis() as i64
    }

    /// Records a playlist fetch (starts collecting segments); `hold` is how long it keeps
    /// the channel.
    pub fn touch(&self, hold: Duration) {
        self.hold_ms
            .store(hold.as_millis().max(1) as i64, Ordering::Relaxed);
        self.last_fetch_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// How long the last playlist fetch holds the channel.
    pub fn hold(&self) -> Duration {
        match self.hold_ms.load(Ordering::Relaxed) {
            ms if ms > 0 => Duration::from_millis(ms as u64),
            _ => HOLD,
        }
    }

    /// Whether an HLS viewer still holds the channel: a fetch within the hold.
    pub fn holds(&self) -> bool {
        self.idle_for() < self.hold()
    }

    /// How long since the last playlist fetch (`Duration::MAX` if never).
    pub fn idle_for(&self) -> Duration {
        let last = self.last_fetch_ms.load(Ordering::Relaxed);
        if last == 0 {
            return Duration::MAX;
        }
        Duration::from_millis((now_ms() - last).max(0) as u64)
    }

    /// Called for every chunk published to the ring; `stream_ms` is the stream time the
    /// chunk reaches.
    pub fn on_chunk(&self, chunk: &Bytes, keyframe: bool, stream_ms: i64, wall_ms: UnixMs) {
        if !self.is_active(wall_ms) {
            if self.last_fetch_ms.load(Ordering::Relaxed) > 0 {
                // Nobody watches any more: free the segments.
                let mut inner = self.lock();
                inner.segments.clear();
                inner.building = None;
            }
            return;
        }
        let mut inner = self.lock();
        if keyframe {
            let done = inner
                .building
                .as_ref()
                .is_some_and(|b| stream_ms - b.start_stream_ms >= TARGET_MS - 500);
            if done {
                if let Some(b) = inner.building.take() {
                    let seq = inner.next_seq;
                    inner.next_seq += 1;
                    if inner.segments.is_full() {
                        inner.segments.pop_front();
                    }
                    let _ = inner.segments.push_back(Segment {
                        seq,
                        duration_ms: stream_ms - b.start_stream_ms,
                        chunks: b.chunks,
                    });
                    self.segment_ready.notify_waiters();
                }
            }
            if inner.building.is_none() {
                inner.building = Some(Building {
                    start_stream_ms: stream_ms,
                    chunks: Vec::with_capacity(256),
                });
            }
        }
        let abandon = match inner.building.as_mut() {
            Some(b) if b.chunks.len() >= SEGMENT_MAX_CHUNKS => true,
            Some(b) => {
                b.chunks.push(chunk.clone());
                false
            }
            None => false,
        };
        if abandon {
            inner.building = None;
        }
    }

    /// Waits (at most `timeout`) until at least one segment exists.
    pub async fn wait_for_segment(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.segment_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.lock().segments.is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return !self.lock().segments.is_empty();
            }
        }
    }

    /// The live playlist: the newest `WINDOW` segments, each URI `prefix<seq>.ts<suffix>`.
    pub fn playlist(&self, prefix: &str, suffix: &str) -> String {
        use std::fmt::Write;
        let inner = self.lock();
        let skip = inner.segments.len().saturating_sub(WINDOW);
        let listed: Vec<&Segment> = inner.segments.iter().skip(skip).collect();
        let target = listed
            .iter()
            .map(|s| (s.duration_ms + 999) / 1000)
            .max()
            .unwrap_or(TARGET_MS / 1000)
            .max(TARGET_MS / 1000);
        let mut out = String::with_capacity(128 + listed.len() * 64);
        let first = listed.first().map_or(0, |s| s.seq);
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        for s in listed {
            let _ = write!(
                out,
                "#EXTINF:{}.{:03},\n{prefix}{}.ts{suffix}\n",
                s.duration_ms / 1000,
                s.duration_ms % 1000,
                s.seq
            );
        }
        out
    }

    /// The chunks of segment `seq`, if it is still kept.
    pub fn segment(&self, seq: u64) -> Option<Vec<Bytes>> {
        let inner = self.lock();
        inner
            .segments
            .iter()
            .find(|s| s.seq == seq)
            .map(|s| s.chunks.clone())
    }

    pub fn n_segments(&self) -> usize {
        self.lock().segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_cut_at_keyframes_and_windowed() {
        let hls = Hls::default();
        let wall = now_ms();
        // Not active: nothing is collected.
        hls.on_chunk(&Bytes::from_static(b"k"), true, 0, wall);
        assert_eq!(hls.n_segments(), 0);
        hls.touch(HOLD);
        // Chunks every 500 ms, a keyframe every 2 s, for 60 s.
        for i in 0..120i64 {
            let key = i % 4 == 0;
            hls.on_chunk(&Bytes::from(vec![i as u8]), key, i * 500, wall);
        }
        assert_eq!(hls.n_segments(), KEPT);
        let text = hls.playlist("100/seg/", "");
        let expected_first = 14 - WINDOW as u64; // 14 segments of 4 s were finished
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"));
        assert!(
            text.contains(&format!("#EXT-X-MEDIA-SEQUENCE:{expected_first}\n")),
            "{text}"
        );
        assert_eq!(text.matches("#EXTINF:4.000,").count(), WINDOW);
        assert!(!text.contains("ENDLIST"));
        let seg = hls.segment(expected_first).unwrap();
        assert_eq!(seg.len(), 8);
        assert_eq!(seg[0][0] as u64, expected_first * 8);
        assert!(hls.segment(0).is_none());
    }
}
