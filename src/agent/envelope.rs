//! The GroundedEnvelope: the facts a decision may use, gathered from our own state only
//! (the stream manager's snapshot, the restart gate, the log ring and the detector's
//! finding). Nothing in it comes from a model or from the request's words.

use serde::Serialize;
use smol_str::SmolStr;

use super::patterns::Finding;
use crate::app::App;
use crate::stream::restart::MAX_PER_WINDOW;

/// Error lines carried: enough to show what failed, small enough to read.
pub const RECENT_ERRORS: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct GroundedEnvelope {
    pub channel: Option<SmolStr>,
    pub running: bool,
    /// `closed`, `half_open` or `open`; `None` when the channel is not running.
    pub breaker: Option<&'static str>,
    /// Restarts the gate would still admit across all channels in this minute.
    pub restart_budget_left: usize,
    pub recent_errors: Vec<String>,
    pub pattern: Option<&'static str>,
    pub confidence: Option<f32>,
    pub now_playing_item_id: Option<i64>,
    pub now_playing_title: Option<String>,
    pub viewers: u32,
}

/// The envelope for `finding` (or for the server as a whole without one).
pub fn gather(app: &App, finding: Option<&Finding>) -> GroundedEnvelope {
    let channel = finding.and_then(|f| f.channel.clone());
    let snapshot = channel.as_ref().and_then(|number| {
        app.streams
            .snapshot()
            .into_iter()
            .find(|s| s.number == number.as_str())
    });
    let used = app.streams.restart_rate_per_minute();
    let recent_errors = crate::logging::ring()
        .recent(RECENT_ERRORS, |e| {
            matches!(e.level, "WARNING" | "ERROR")
                && channel
                    .as_ref()
                    .is_none_or(|n| e.message.contains(&format!("channel={n}")))
        })
        .iter()
        .map(|e| e.message.chars().take(240).collect())
        .collect();
    GroundedEnvelope {
        running: snapshot.is_some(),
        breaker: snapshot.as_ref().map(|s| s.breaker),
        restart_budget_left: MAX_PER_WINDOW.saturating_sub(used),
        recent_errors,
        pattern: finding.map(|f| f.pattern.as_str()),
        confidence: finding.map(|f| f.confidence),
        now_playing_item_id: snapshot.as_ref().and_then(|s| s.current_item_id),
        now_playing_title: snapshot.as_ref().map(|s| s.current_title.clone()),
        viewers: snapshot.as_ref().map_or(0, |s| s.viewers),
        channel,
    }
}
