//! How far a channel's feeder may run ahead: the `stream_throttler` modes (settings
//! `stream_throttler.{enabled, mode}`). The feeder reads FFmpeg only while it is inside the
//! limit chosen here; that backpressure is the only pacing (no `-re`).
//!
//! - `realtime`: the stream runs at most `REALTIME_LEAD_MS` ahead of the wall clock (PCR).
//!   A new viewer gets that lead (plus the GOP before it) at once, then real time.
//! - `burst`: the same with `BURST_LEAD_MS`, so clients with big buffers fill them fast.
//! - `adaptive`: realtime's lead to begin with; every `ADAPTIVE_WINDOW` in which every
//!   viewer kept up (no chunk dropped, none more than one window's worth of chunks behind)
//!   it grows by `ADAPTIVE_GROWTH` up to `BURST_LEAD_MS`; the first window in which one
//!   fell behind (or nobody watched) sets it back to realtime's.
//! - `disabled` (or `enabled: false`): no clock at all. FFmpeg runs at its own speed while the
//!   most advanced viewer is less than `LEADER_MAX_BEHIND_CHUNKS` behind the head, so one
//!   viewer is paced by its own reading, like a pass-through, and memory is still the ring's
//!   fixed slots (slower viewers skip ahead, as in every mode). With no TS viewer (only HLS,
//!   or nobody during the idle grace) nothing reads the ring, so realtime's limit applies.
//!
//! Pure: the feeder passes in what it observed and the time. It knows nothing of FFmpeg.

use std::time::{Duration, Instant};

use super::ring::RING_CHUNKS;

/// Realtime's lead: what a new viewer gets at once. 750 ms keeps what is sent within a
/// second of what the guide says (scripts/stream-figures).
pub const REALTIME_LEAD_MS: i64 = 750;
/// Burst's lead, and adaptive's ceiling: 5 s fills a player's buffer at tune time while
/// staying well inside the ring (~12 s at 4 Mbit/s).
pub const BURST_LEAD_MS: i64 = 5000;
/// Adaptive looks at its viewers this often (EXStreamTV's adaptive window).
pub const ADAPTIVE_WINDOW: Duration = Duration::from_secs(1);
/// Adaptive grows its lead by this factor per good window (EXStreamTV's 1.2), as 6/5.
pub const ADAPTIVE_GROWTH: (i64, i64) = (6, 5);
/// Disabled: the head may run this many chunks ahead of the most advanced viewer. Half the
/// ring, so the newest keyframe a new viewer starts from is never overwritten by the run.
pub const LEADER_MAX_BEHIND_CHUNKS: u64 = RING_CHUNKS as u64 / 2;
/// Disabled: how often the feeder looks again while it waits for the leading viewer (a
/// wake-up per viewer read would put work on the send path).
pub const LEADER_POLL: Duration = Duration::from_millis(20);

/// The setting's modes are the pacer's: one enum (`kinds::ThrottleMode`), decoded when the
/// settings are read, so a stored typo cannot reach here.
pub use crate::kinds::ThrottleMode as Mode;

impl Mode {
    /// The mode in effect: `enabled: false` is disabled whatever `mode` says.
    pub fn from_settings(s: &crate::settings::StreamThrottler) -> Mode {
        if s.enabled {
            s.mode
        } else {
            Mode::Disabled
        }
    }
}

/// What the feeder may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Read while the stream is less than this many ms ahead of the wall clock.
    AheadOfClock(i64),
    /// Read while the most advanced viewer is less than this many chunks behind the head.
    AheadOfLeader(u64),
}

/// What the feeder saw of its viewers since the last window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observation {
    /// TS viewers attached to the ring.
    pub viewers: u32,
    /// Chunks published so far (a running count).
    pub published: u64,
    /// Chunks viewers skipped so far (a running count).
    pub dropped: u64,
    /// How many chunks the slowest viewer is behind the head.
    pub slowest_lag: u64,
}

#[derive(Debug)]
pub struct Pacer {
    mode: Mode,
    adaptive_lead_ms: i64,
    window_start: Option<(Instant, Observation)>,
}

impl Pacer {
    pub fn new(mode: Mode) -> Pacer {
        Pacer {
            mode,
            adaptive_lead_ms: REALTIME_LEAD_MS,
            window_start: None,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A settings change applies at once; adaptive starts over from realtime's lead.
    pub fn set_mode(&mut self, mode: Mode) {
        if mode != self.mode {
            self.mode = mode;
            self.adaptive_lead_ms = REALTIME_LEAD_MS;
            self.window_start = None;
        }
    }

    /// Adaptive's lead now.
    pub fn adaptive_lead_ms(&self) -> i64 {
        self.adaptive_lead_ms
    }

    /// Feeds adaptive: called often; it judges once per `ADAPTIVE_WINDOW`.
    pub fn observe(&mut self, now: Instant, seen: Observation) {
        if self.mode != Mode::Adaptive {
            return;
        }
        let Some((started, first)) = self.window_start else {
            self.window_start = Some((now, seen));
            return;
        };
        if now.saturating_duration_since(started) < ADAPTIVE_WINDOW {
            return;
        }
        let published = seen.published.saturating_sub(first.published);
        let kept_up = seen.viewers > 0
            && seen.dropped == first.dropped
            && seen.slowest_lag <= published.max(1);
        self.adaptive_lead_ms = if kept_up {
            let (num, den) = ADAPTIVE_GROWTH;
            (self.adaptive_lead_ms * num / den).min(BURST_LEAD_MS)
        } else {
            REALTIME_LEAD_MS
        };
        self.window_start = Some((now, seen));
    }

    /// The limit in force for a channel with `viewers` TS viewers.
    pub fn limit(&self, viewers: u32) -> Limit {
        match self.mode {
            Mode::Realtime => Limit::AheadOfClock(REALTIME_LEAD_MS),
            Mode::Burst => Limit::AheadOfClock(BURST_LEAD_MS),
            Mode::Adaptive => Limit::AheadOfClock(self.adaptive_lead_ms),
            Mode::Disabled if viewers == 0 => Limit::AheadOfClock(REALTIME_LEAD_MS),
            Mode::Disabled => Limit::AheadOfLeader(LEADER_MAX_BEHIND_CHUNKS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::StreamThrottler;

    fn settings(enabled: bool, mode: Mode) -> StreamThrottler {
        StreamThrottler {
            enabled,
            mode,
            ..StreamThrottler::default()
        }
    }

    #[test]
    fn modes_come_from_the_settings() {
        assert_eq!(
            Mode::from_settings(&StreamThrottler::default()),
            Mode::Realtime
        );
        for mode in Mode::ALL {
            assert_eq!(Mode::from_settings(&settings(true, *mode)), *mode);
            assert_eq!(Mode::from_settings(&settings(false, *mode)), Mode::Disabled);
        }
    }

    #[test]
    fn each_mode_has_its_lead() {
        assert_eq!(
            Pacer::new(Mode::Realtime).limit(3),
            Limit::AheadOfClock(750)
        );
        assert_eq!(Pacer::new(Mode::Burst).limit(3), Limit::AheadOfClock(5000));
        assert_eq!(
            Pacer::new(Mode::Adaptive).limit(3),
            Limit::AheadOfClock(750)
        );
        assert_eq!(
            Pacer::new(Mode::Disabled).limit(1),
            Limit::AheadOfLeader(RING_CHUNKS as u64 / 2)
        );
        // Nobody reads the ring (HLS only): the clock again.
        assert_eq!(
            Pacer::new(Mode::Disabled).limit(0),
            Limit::AheadOfClock(750)
        );
    }

    #[test]
    fn adaptive_grows_while_every_viewer_keeps_up_and_falls_back_when_one_lags() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Mode::Adaptive);
        let mut seen = Observation {
            viewers: 2,
            published: 0,
            dropped: 0,
            slowest_lag: 0,
        };
        let mut leads = Vec::new();
        for i in 0..12u64 {
            seen.published = i * 50;
            seen.slowest_lag = 3;
            p.observe(t0 + Duration::from_millis(1000 * i), seen);
            // Between windows nothing changes.
            p.observe(t0 + Duration::from_millis(1000 * i + 500), seen);
            leads.push(p.adaptive_lead_ms());
        }
        assert_eq!(
            leads,
            vec![750, 900, 1080, 1296, 1555, 1866, 2239, 2686, 3223, 3867, 4640, 5000]
        );
        assert_eq!(p.limit(2), Limit::AheadOfClock(5000));
        // A viewer more than a window's worth of chunks behind: back to realtime's lead.
        seen.published += 50;
        seen.slowest_lag = 51;
        p.observe(t0 + Duration::from_secs(12), seen);
        assert_eq!(p.adaptive_lead_ms(), 750);
        // Grows again, then a dropped chunk sets it back.
        seen.published += 50;
        seen.slowest_lag = 0;
        p.observe(t0 + Duration::from_secs(13), seen);
        assert_eq!(p.adaptive_lead_ms(), 900);
        seen.published += 50;
        seen.dropped += 1;
        p.observe(t0 + Duration::from_secs(14), seen);
        assert_eq!(p.adaptive_lead_ms(), 750);
        // Nobody watching: no reason to run ahead.
        seen.published += 50;
        p.observe(t0 + Duration::from_secs(15), seen);
        assert_eq!(p.adaptive_lead_ms(), 900);
        seen.viewers = 0;
        seen.published += 50;
        p.observe(t0 + Duration::from_secs(16), seen);
        assert_eq!(p.adaptive_lead_ms(), 750);
        // Changing mode starts over.
        p.set_mode(Mode::Burst);
        p.set_mode(Mode::Adaptive);
        assert_eq!(p.limit(1), Limit::AheadOfClock(750));
    }
}
