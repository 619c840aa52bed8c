//! The per-channel circuit breaker and restart backoff. Failures (an FFmpeg that exits
//! non-zero, stalls, or produces nothing) are counted in a sliding window; too many open the
//! breaker for a cooldown, during which the channel serves a slate instead of retrying;
//! then one trial (half-open) closes it or opens it again. EXStreamTV's defaults: 5
//! failures in 300 s open it for 120 s (settings `breaker.*`).
//!
//! Pure: time is passed in, so it is tested without sleeping.

use std::time::{Duration, Instant};

/// Failure times kept: the threshold is at most this (a larger setting is capped), which
/// bounds the window's memory.
pub const MAX_TRACKED_FAILURES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Serving the slate until the instant given.
    Open {
        until: Instant,
    },
    /// The cooldown is over; the next attempt decides.
    HalfOpen,
}

impl BreakerState {
    /// The state without its deadline, as the stats and the snapshot report it.
    pub fn phase(self) -> BreakerPhase {
        match self {
            BreakerState::Closed => BreakerPhase::Closed,
            BreakerState::HalfOpen => BreakerPhase::HalfOpen,
            BreakerState::Open { .. } => BreakerPhase::Open,
        }
    }
}

/// A breaker's state as it crosses from the feeder to the manager: the channel's stats
/// are read without locks, so it travels as an atomic code (`code`), and `from_code` is
/// the one place that code is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerPhase {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerPhase {
    /// The Prometheus value: 0 closed, 1 half-open, 2 open.
    pub fn code(self) -> u8 {
        match self {
            BreakerPhase::Closed => 0,
            BreakerPhase::HalfOpen => 1,
            BreakerPhase::Open => 2,
        }
    }

    /// The inverse of `code`. Only `code` writes the atomic, so any other value cannot
    /// occur; it reads as closed, the state a channel starts in.
    pub fn from_code(code: u8) -> BreakerPhase {
        match code {
            2 => BreakerPhase::Open,
            1 => BreakerPhase::HalfOpen,
            _ => BreakerPhase::Closed,
        }
    }

    /// The snapshot's (and status.json's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerPhase::Closed => "closed",
            BreakerPhase::HalfOpen => "half_open",
            BreakerPhase::Open => "open",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

impl From<&crate::settings::Breaker> for BreakerConfig {
    fn from(s: &crate::settings::Breaker) -> Self {
        BreakerConfig {
            failure_threshold: s.failure_threshold.clamp(1, MAX_TRACKED_FAILURES as u32),
            window: Duration::from_secs(s.window_seconds.max(1) as u64),
            cooldown: Duration::from_secs(s.cooldown_seconds as u64),
        }
    }
}

#[derive(Debug)]
pub struct Breaker {
    /// Failures counting towards opening (cleared when it opens).
    failures: heapless::Deque<Instant, MAX_TRACKED_FAILURES>,
    /// Every failure within the window, for health (`error_count_5min`).
    recent: heapless::Deque<Instant, MAX_TRACKED_FAILURES>,
    state: BreakerState,
    /// Failures in a row since the last success (drives the backoff).
    consecutive: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::new()
    }
}

impl Breaker {
    pub fn new() -> Breaker {
        Breaker {
            failures: heapless::Deque::new(),
            recent: heapless::Deque::new(),
            state: BreakerState::Closed,
            consecutive: 0,
        }
    }

    /// The state now (an expired cooldown turns into half-open).
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if let BreakerState::Open { until } = self.state {
            if now >= until {
                self.state = BreakerState::HalfOpen;
            }
        }
        self.state
    }

    pub fn record_failure(&mut self, now: Instant, cfg: BreakerConfig) {
        self.consecutive = self.consecutive.saturating_add(1);
        if self.failures.is_full() {
            self.failures.pop_front();
        }
        let _ = self.failures.push_back(now);
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(now);
        self.prune(now, cfg);
        let trial_failed = self.state(now) == BreakerState::HalfOpen;
        if trial_failed || self.failures.len() as u32 >= cfg.failure_threshold {
            self.state = BreakerState::Open {
                until: now + cfg.cooldown,
            };
            self.failures.clear();
        }
    }

    pub fn record_success(&mut self) {
        self.consecutive = 0;
        if self.state == BreakerState::HalfOpen {
            self.state = BreakerState::Closed;
        }
    }

    /// Failures within the window (for health: `error_count_5min`).
    pub fn recent_failures(&mut self, now: Instant, cfg: BreakerConfig) -> u32 {
        self.prune(now, cfg);
        self.recent.len() as u32
    }

    fn prune(&mut self, now: Instant, cfg: BreakerConfig) {
        for list in [&mut self.failures, &mut self.recent] {
            while let Some(first) = list.front() {
                if now.duration_since(*first) > cfg.window {
                    list.pop_front();
                } else {
                    break;
                }
            }
        }
    }

    /// How long to wait before the next attempt: nothing after the first failure (a killed
    /// FFmpeg comes back at once), then 0.5 s doubling to 30 s.
    pub fn backoff(&self) -> Duration {
        match self.consecutive {
            0 | 1 => Duration::ZERO,
            n => Duration::from_millis(500u64 << (n - 2).min(6)).min(BACKOFF_MAX),
        }
    }
}

/// The longest wait between restarts of a failing channel.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig::from(&crate::settings::Breaker::default())
    }

    #[test]
    fn five_failures_in_the_window_open_it_for_the_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for i in 0..4 {
            b.record_failure(t0 + Duration::from_secs(i * 10), cfg());
            assert_eq!(b.state(t0), BreakerState::Closed);
        }
        b.record_failure(t0 + Duration::from_secs(40), cfg());
        let open_until = t0 + Duration::from_secs(160);
        assert_eq!(
            b.state(t0 + Duration::from_secs(41)),
            BreakerState::Open { until: open_until }
        );
        assert_eq!(b.state(open_until), BreakerState::HalfOpen);
        // A failed trial opens it again; a good one closes it.
        b.record_failure(open_until, cfg());
        assert!(matches!(b.state(open_until), BreakerState::Open { .. }));
        let later = open_until + Duration::from_secs(121);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        b.record_success();
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for i in 0..10 {
            b.record_failure(t0 + Duration::from_secs(i * 100), cfg());
        }
        assert_eq!(b.state(t0 + Duration::from_secs(900)), BreakerState::Closed);
        assert_eq!(b.recent_failures(t0 + Duration::from_secs(900), cfg()), 4);
    }

    #[test]
    fn backoff_grows_and_resets() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        let big = BreakerConfig {
            failure_threshold: 32,
            ..cfg()
        };
        let mut waits = Vec::new();
        for _ in 0..10 {
            b.record_failure(t0, big);
            waits.push(b.backoff().as_millis());
        }
        assert_eq!(
            waits,
            vec![0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.record_success();
        assert_eq!(b.backoff(), Duration::ZERO);
    }

    #[test]
    fn phase_codes_round_trip() {
        for phase in [
            BreakerPhase::Closed,
            BreakerPhase::HalfOpen,
            BreakerPhase::Open,
        ] {
            assert_eq!(BreakerPhase::from_code(phase.code()), phase);
        }
        assert_eq!(BreakerPhase::Open.as_str(), "open");
    }
}
