//! Live HLS cut from a channel's ring: segments of about `TARGET_MS`, each starting at a
//! keyframe chunk (which begins with PAT and PMT), kept in memory as the ring's own `Bytes`
//! (shared, never copied, never on disk), a window of `WINDOW` listed. Segments are
//! collected only while an HLS client fetched the playlist within the hold (setting
//! `channels.hls_hold_seconds`, default `HOLD`); that same window is what keeps the channel
//! (and its tuner) alive for HLS viewers.
//!
//! Where the video's coding parameters change (copy mode: another resolution, frame rate or
//! SPS at a programme boundary) the splicer gives the keyframe's PMT a new version; a
//! segment starts there, whatever its predecessor's length, and is listed after
//! `#EXT-X-DISCONTINUITY` (with `#EXT-X-DISCONTINUITY-SEQUENCE` counting those that slid
//! out). Timestamps stay continuous across it.
//!
//! A segment's URL names the same bytes for as long as the process runs (a sequence number
//! is never reused: each channel run numbers from its own base), so an HTTP cache in front
//! may keep it for the window (`CACHE_SECONDS`) and fan it out.
//!
//! It knows nothing of FFmpeg or HTTP; the playlist text is rendered here.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use super::ts;
use crate::time::{now_ms, UnixMs};

/// Segments listed in the playlist (API.md §5).
pub const WINDOW: usize = 6;
/// Segments cut near this duration, at the first keyframe after `TARGET_MS - 500`.
pub const TARGET_MS: i64 = 4000;
/// An HLS viewer holds the channel's tuner until this long passes without a playlist fetch
/// (API.md §5). The default of `channels.hls_hold_seconds`: a player refetches the live
/// playlist every target duration (4 s), so 30 s survives several missed fetches.
pub const HOLD: Duration = Duration::from_secs(30);
/// How long a cache may keep a segment (`Cache-Control: max-age`): as long as the window
/// lists it. Its bytes never change, so it is `immutable` too.
pub const CACHE_SECONDS: i64 = WINDOW as i64 * TARGET_MS / 1000;
/// A segment's `Cache-Control`, spelt out (a static header value; a test checks that it
/// says `CACHE_SECONDS`).
pub const SEGMENT_CACHE_CONTROL: &str = "public, max-age=24, immutable";
/// The playlist's `Cache-Control`: at most half a segment, so a viewer behind a cache sees
/// a new segment no later than one without it would.
pub const PLAYLIST_CACHE_CONTROL: &str = "max-age=1";
/// The last channel run's first segment number (see `run_start`).
static LAST_RUN_START: AtomicU64 = AtomicU64::new(0);

/// Where a channel run numbers its segments from: the wall clock in ms at its start (one
/// past the last run's if the clock has not moved on). A run cuts far fewer than one segment
/// a millisecond, so no two runs share a URL, in this process or across a restart: a cache
/// in front may still hold the last process's segments, and they are `immutable`.
fn run_start() -> u64 {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    let prev = LAST_RUN_START
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |prev| {
            Some(now.max(prev + 1))
        })
        .unwrap_or_else(|prev| prev); // unreachable: the closure always answers
    now.max(prev + 1)
}
/// Kept beyond the window, so a player that fetches the oldest listed segment just as it
/// slides out still gets it.
const KEPT: usize = WINDOW + 2;
/// A segment with more chunks than this (no keyframe for far too long) is abandoned: it
/// bounds memory if a source has no keyframes at all.
const SEGMENT_MAX_CHUNKS: usize = 4096;

pub struct Hls {
    inner: Mutex<Inner>,
    /// Wall ms of the last playlist fetch; 0 = never.
    last_fetch_ms: AtomicI64,
    /// The hold in force at the last fetch, in ms (0 before any: `HOLD`).
    hold_ms: AtomicI64,
    segment_ready: Notify,
}

impl Default for Hls {
    fn default() -> Self {
        Hls {
            inner: Mutex::new(Inner {
                segments: heapless::Deque::new(),
                building: None,
                next_seq: run_start(),
                pmt_version: None,
                n_discontinuities_gone: 0,
            }),
            last_fetch_ms: AtomicI64::new(0),
            hold_ms: AtomicI64::new(0),
            segment_ready: Notify::new(),
        }
    }
}

struct Inner {
    segments: heapless::Deque<Segment, KEPT>,
    building: Option<Building>,
    next_seq: u64,
    /// The PMT version of the last keyframe chunk: a new one marks a discontinuity.
    pmt_version: Option<u8>,
    /// Discontinuities of segments no longer kept (the base of the discontinuity sequence).
    n_discontinuities_gone: u64,
}

struct Segment {
    seq: u64,
    duration_ms: i64,
    /// The video's coding parameters differ from the segment before.
    discontinuity: bool,
    chunks: Vec<Bytes>,
}

struct Building {
    start_stream_ms: i64,
    discontinuity: bool,
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
                let gone = inner.segments.iter().filter(|s| s.discontinuity).count();
                inner.n_discontinuities_gone += gone as u64;
                inner.segments.clear();
                inner.building = None;
                inner.pmt_version = None;
            }
            return;
        }
        let mut inner = self.lock();
        if keyframe {
            let version = ts::program_version(chunk);
            let discontinuity =
                matches!((inner.pmt_version, version), (Some(was), Some(now)) if was != now);
            if version.is_some() {
                inner.pmt_version = version;
            }
            let done = inner.building.as_ref().is_some_and(|b| {
                !b.chunks.is_empty()
                    && (discontinuity || stream_ms - b.start_stream_ms >= TARGET_MS - 500)
            });
            if done {
                if let Some(b) = inner.building.take() {
                    inner.finish(b, stream_ms);
                    self.segment_ready.notify_waiters();
                }
            }
            match inner.building.as_mut() {
                None => {
                    inner.building = Some(Building {
                        start_stream_ms: stream_ms,
                        discontinuity,
                        chunks: Vec::with_capacity(256),
                    })
                }
                // An empty segment (cut here before) takes the mark.
                Some(b) => b.discontinuity |= discontinuity,
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
        let mut out = String::with_capacity(160 + listed.len() * 96);
        let first = listed.first().map_or(inner.next_seq, |s| s.seq);
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        // Discontinuities before the first listed segment; its own mark is listed below.
        let before = inner.n_discontinuities_gone
            + inner
                .segments
                .iter()
                .take(skip)
                .filter(|s| s.discontinuity)
                .count() as u64;
        if before > 0 {
            let _ = writeln!(out, "#EXT-X-DISCONTINUITY-SEQUENCE:{before}");
        }
        for s in listed {
            if s.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
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

impl Inner {
    /// `b` becomes the newest segment, ending where the next begins (`end_stream_ms`).
    fn finish(&mut self, b: Building, end_stream_ms: i64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.segments.is_full() {
            if let Some(old) = self.segments.pop_front() {
                self.n_discontinuities_gone += u64::from(old.discontinuity);
            }
        }
        let _ = self.segments.push_back(Segment {
            seq,
            duration_ms: end_stream_ms - b.start_stream_ms,
            discontinuity: b.discontinuity,
            chunks: b.chunks,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_headers_say_the_window_and_half_a_segment() {
        let max_age = |text: &str| -> i64 {
            let at = text.find("max-age=").expect("a max-age") + "max-age=".len();
            let digits: String = text[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().expect("seconds")
        };
        assert_eq!(max_age(SEGMENT_CACHE_CONTROL), CACHE_SECONDS);
        assert!(max_age(PLAYLIST_CACHE_CONTROL) * 1000 <= TARGET_MS / 2);
    }

    #[test]
    fn segments_are_cut_at_keyframes_and_windowed() {
        let hls = Hls::default();
        let before = now_ms() as u64;
        let base = hls.lock().next_seq;
        assert!(base >= before, "numbered from the wall clock");
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
        let expected_first = base + 14 - WINDOW as u64; // 14 segments of 4 s were finished
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"));
        assert!(
            text.contains(&format!("#EXT-X-MEDIA-SEQUENCE:{expected_first}\n")),
            "{text}"
        );
        assert_eq!(text.matches("#EXTINF:4.000,").count(), WINDOW);
        assert!(!text.contains("ENDLIST") && !text.contains("DISCONTINUITY"));
        let seg = hls.segment(expected_first).unwrap();
        assert_eq!(seg.len(), 8);
        assert_eq!(seg[0][0] as u64, (expected_first - base) * 8);
        assert!(hls.segment(base).is_none());
        // Another run of a channel numbers its segments apart: no URL is reused.
        let next = Hls::default().lock().next_seq;
        assert!(next > base, "{next} after {base}");
    }

    /// A keyframe chunk: PAT, then a PMT of `version`, then one byte standing for the rest.
    fn keyframe_chunk(version: u8) -> Bytes {
        let mut out = vec![0u8; 2 * ts::PACKET_LEN];
        let (pat, pmt) = out.split_at_mut(ts::PACKET_LEN);
        let pat: &mut [u8; ts::PACKET_LEN] = pat.try_into().unwrap();
        let pmt: &mut [u8; ts::PACKET_LEN] = pmt.try_into().unwrap();
        ts::write_pat(pat, 1, 1, ts::Pid(0x1000));
        let streams = [ts::PmtStream {
            stream_type: ts::StreamType::H264,
            pid: ts::Pid(0x100),
            es_info: heapless::Vec::new(),
        }];
        assert!(ts::write_pmt(
            pmt,
            ts::Pid(0x1000),
            1,
            version,
            ts::Pid(0x100),
            &streams
        ));
        Bytes::from(out)
    }

    #[test]
    fn discontinuities_that_slide_out_are_counted_in_the_sequence() {
        let hls = Hls::default();
        let wall = now_ms();
        hls.touch(HOLD);
        // A keyframe every 2 s; the PMT version changes at 5 s and at 31 s, as the splicer
        // writes it when the video's SPS/PPS change.
        let version = |at: i64| u8::from(at >= 5000) + u8::from(at >= 31_000);
        let mut keyframes: Vec<i64> = vec![0, 2000, 4000];
        keyframes.extend((0..32).map(|k| 5000 + k * 2000));
        keyframes.push(31_000);
        keyframes.sort();
        let feed = |until: i64| {
            for &at in keyframes.iter().filter(|at| **at < until) {
                hls.on_chunk(&keyframe_chunk(version(at)), true, at, wall);
                hls.on_chunk(&Bytes::from_static(b"p"), false, at + 500, wall);
            }
        };
        feed(36_000);
        let text = hls.playlist("1/seg/", "");
        // Listed: 13–17 … 29–31, then 31–35 after its mark; 5–9 slid out with its mark.
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{text}");
        assert!(
            text.contains("#EXT-X-DISCONTINUITY\n#EXTINF:4.000,"),
            "{text}"
        );
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
        let hls = Hls::default();
        hls.touch(HOLD);
        for &at in &keyframes {
            hls.on_chunk(&keyframe_chunk(version(at)), true, at, wall);
        }
        let text = hls.playlist("1/seg/", "");
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n"), "{text}");
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    }

    #[test]
    fn the_discontinuity_is_listed_before_the_segment_that_starts_at_the_change() {
        let hls = Hls::default();
        let base = hls.lock().next_seq;
        let wall = now_ms();
        hls.touch(HOLD);
        let mut at = 0;
        for k in 0..10 {
            // The change comes 1 s after the keyframe at 8 s.
            let version = u8::from(k >= 5);
            hls.on_chunk(&keyframe_chunk(version), true, at, wall);
            hls.on_chunk(&Bytes::from_static(b"p"), false, at + 500, wall);
            at += if k == 4 { 1000 } else { 2000 };
        }
        let text = hls.playlist("1/seg/", "");
        let expected = format!(
            "#EXTINF:1.000,\n1/seg/{}.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4.000,\n1/seg/{}.ts\n",
            base + 2,
            base + 3
        );
        assert!(text.contains(&expected), "{text}");
        assert!(!text.contains("DISCONTINUITY-SEQUENCE"), "{text}");
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
    }
}
