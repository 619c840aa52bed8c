//! Long FFmpeg runs (API.md §6 ProcessPoolManager `long_run_hours`, default 24): a single
//! FFmpeg older than the limit is replaced, but as a planned handover, never a kill in front
//! of the viewers. If its programme ends soon (`BOUNDARY_SLACK_MS`), the next programme's
//! FFmpeg takes over at that boundary as always; otherwise the run is cut `CUT_AHEAD_MS`
//! ahead of the stream, a fresh FFmpeg of the same item is started at the cut (the
//! prestart of any boundary), and the splicer joins the two like two programmes.
//!
//! Pure: the feeder passes in ages and stream times. It knows nothing of FFmpeg.

use std::time::Duration;

use crate::time::UnixMs;

/// A run past its limit whose programme ends within this waits for that boundary: a
/// handover there costs nothing extra.
pub const BOUNDARY_SLACK_MS: i64 = 10 * 60_000;
/// The cut is placed this far ahead of the stream: the successor's prestart lead, so its
/// first packets are ready when the cut is reached.
pub const CUT_AHEAD_MS: i64 = super::channel::PRESTART_MS;
/// After a handover that could not happen (the successor failed to start), the run is
/// left alone this long before another try.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where to cut a run that is `age` old, playing at stream time `pos_ms` a programme that
/// ends at `end_ms`; `None` to let it run.
pub fn handover_at(
    age: Duration,
    limit: Duration,
    pos_ms: UnixMs,
    end_ms: UnixMs,
) -> Option<UnixMs> {
    if age < limit || end_ms - pos_ms <= BOUNDARY_SLACK_MS {
        return None;
    }
    Some(pos_ms + CUT_AHEAD_MS)
}

/// The limit from the setting (hours; at least one).
pub fn limit(hours: u32) -> Duration {
    Duration::from_secs(u64::from(hours.max(1)) * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(3600);

    #[test]
    fn a_run_is_handed_over_only_past_the_limit_and_far_from_a_boundary() {
        let limit = limit(24);
        assert_eq!(limit, 24 * H);
        let pos = 1_000_000_000;
        let day_ms = 86_400_000;
        // Younger than the limit: nothing, however long the programme.
        assert_eq!(handover_at(23 * H, limit, pos, pos + 10 * day_ms), None);
        // Past it, with the programme going on for hours: cut just ahead of the stream.
        assert_eq!(
            handover_at(24 * H, limit, pos, pos + 10 * day_ms),
            Some(pos + CUT_AHEAD_MS)
        );
        assert_eq!(
            handover_at(30 * H, limit, pos, pos + BOUNDARY_SLACK_MS + 1),
            Some(pos + CUT_AHEAD_MS)
        );
        // Past it, but the boundary is near: that boundary is the handover.
        assert_eq!(
            handover_at(24 * H, limit, pos, pos + BOUNDARY_SLACK_MS),
            None
        );
        assert_eq!(handover_at(25 * H, limit, pos, pos + 5_000), None);
        // The setting is at least an hour.
        assert_eq!(super::limit(0), H);
    }
}
