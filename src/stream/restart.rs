//! The restart gate: the one entry point every health-triggered restart passes through (an
//! FFmpeg that crashed, stalled or produced nothing, retried at the stream's position).
//! API.md §6 "Health restart": a channel is restarted at most once per `CHANNEL_COOLDOWN`,
//! and across all channels at most `MAX_PER_WINDOW` restarts per `WINDOW`; a restart over
//! either limit is deferred (the viewers keep getting the slate meanwhile) and asked again
//! later. The circuit breaker still counts every failure and opens as before.
//!
//! What is not a restart: a new programme starting at its boundary, the slate itself, and a
//! planned long-run handover. Those are the normal life of a channel.
//!
//! Pure: time is passed in, so it is tested without sleeping. It knows nothing of FFmpeg.

use std::time::{Duration, Instant};

/// Between two health-triggered restarts of the same channel (API.md §6).
pub const CHANNEL_COOLDOWN: Duration = Duration::from_secs(60);
/// The window the all-channel rate is measured over.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Restarts admitted per `WINDOW` across all channels; "more than 2 restarts/min defers
/// the rest" (API.md §6). It also bounds the gate's memory.
pub const MAX_PER_WINDOW: usize = 2;

/// Why a restart has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// This channel was restarted less than `CHANNEL_COOLDOWN` ago.
    Cooldown,
    /// `MAX_PER_WINDOW` restarts already happened across all channels in the last `WINDOW`.
    Storm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Restart now (it has been counted).
    Now,
    /// Ask again at `until` (or later).
    Defer { until: Instant, reason: Reason },
}

/// One channel's part of the gate: when it was last restarted.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChannelRestarts {
    last: Option<Instant>,
}

/// The all-channel part: the admitted restarts of the last `WINDOW`.
#[derive(Debug, Default)]
pub struct RestartGate {
    recent: heapless::Deque<Instant, MAX_PER_WINDOW>,
}

impl RestartGate {
    pub fn new() -> RestartGate {
        RestartGate::default()
    }

    fn prune(&mut self, now: Instant) {
        while let Some(first) = self.recent.front() {
            if now.saturating_duration_since(*first) >= WINDOW {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// Asks to restart the channel whose state is `channel` at `now`; an admitted restart is
    /// recorded in both parts.
    pub fn admit(&mut self, channel: &mut ChannelRestarts, now: Instant) -> Admission {
        self.prune(now);
        let cooldown_until = channel.last.map(|t| t + CHANNEL_COOLDOWN);
        if let Some(until) = cooldown_until.filter(|t| *t > now) {
            return Admission::Defer {
                until,
                reason: Reason::Cooldown,
            };
        }
        if self.recent.is_full() {
            // The oldest admitted restart leaves the window first.
            let until = self.recent.front().map_or(now, |t| *t + WINDOW);
            return Admission::Defer {
                until,
                reason: Reason::Storm,
            };
        }
        let _ = self.recent.push_back(now);
        channel.last = Some(now);
        Admission::Now
    }

    /// Restarts admitted in the last `WINDOW` (the `restart_rate_per_minute` gauge).
    pub fn rate_per_minute(&mut self, now: Instant) -> usize {
        self.prune(now);
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_channel_is_restarted_once_per_cooldown() {
        let t0 = Instant::now();
        let mut gate = RestartGate::new();
        let mut ch = ChannelRestarts::default();
        assert_eq!(gate.admit(&mut ch, t0), Admission::Now);
        assert_eq!(
            gate.admit(&mut ch, t0 + s(5)),
            Admission::Defer {
                until: t0 + s(60),
                reason: Reason::Cooldown
            }
        );
        assert_eq!(
            gate.admit(&mut ch, t0 + s(59)),
            Admission::Defer {
                until: t0 + s(60),
                reason: Reason::Cooldown
            }
        );
        assert_eq!(gate.admit(&mut ch, t0 + s(60)), Admission::Now);
        assert_eq!(gate.rate_per_minute(t0 + s(60)), 1);
    }

    #[test]
    fn more_than_two_restarts_a_minute_across_channels_are_deferred() {
        let t0 = Instant::now();
        let mut gate = RestartGate::new();
        let mut chans = [ChannelRestarts::default(); 4];
        assert_eq!(gate.admit(&mut chans[0], t0), Admission::Now);
        assert_eq!(gate.admit(&mut chans[1], t0 + s(10)), Admission::Now);
        assert_eq!(gate.rate_per_minute(t0 + s(10)), 2);
        // The third waits until the first leaves the window; the fourth too.
        let storm = Admission::Defer {
            until: t0 + s(60),
            reason: Reason::Storm,
        };
        assert_eq!(gate.admit(&mut chans[2], t0 + s(20)), storm);
        assert_eq!(gate.admit(&mut chans[3], t0 + s(21)), storm);
        // A deferral is not counted: the rate stays 2.
        assert_eq!(gate.rate_per_minute(t0 + s(21)), 2);
        assert_eq!(gate.admit(&mut chans[2], t0 + s(60)), Admission::Now);
        // One slot was freed and taken: the fourth waits for the second to leave.
        assert_eq!(
            gate.admit(&mut chans[3], t0 + s(61)),
            Admission::Defer {
                until: t0 + s(70),
                reason: Reason::Storm
            }
        );
        assert_eq!(gate.admit(&mut chans[3], t0 + s(70)), Admission::Now);
        // The first channel's own cooldown is long over; the rate limit still applies.
        assert_eq!(
            gate.admit(&mut chans[0], t0 + s(75)),
            Admission::Defer {
                until: t0 + s(120),
                reason: Reason::Storm
            }
        );
        assert_eq!(gate.rate_per_minute(t0 + s(200)), 0);
        assert_eq!(gate.admit(&mut chans[0], t0 + s(200)), Admission::Now);
    }

    #[test]
    fn the_cooldown_is_checked_before_the_rate() {
        let t0 = Instant::now();
        let mut gate = RestartGate::new();
        let mut a = ChannelRestarts::default();
        let mut b = ChannelRestarts::default();
        assert_eq!(gate.admit(&mut a, t0), Admission::Now);
        assert_eq!(gate.admit(&mut b, t0), Admission::Now);
        assert!(matches!(
            gate.admit(&mut a, t0 + s(1)),
            Admission::Defer {
                reason: Reason::Cooldown,
                ..
            }
        ));
    }
}
