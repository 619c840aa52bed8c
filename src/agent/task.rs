//! The agent's background task: while `ai.agent.mode` is not `off` it follows the log ring,
//! feeds the detector, and on a detected pattern runs the resolver and the bounded loop,
//! rate limited (`Limiter`). While `off` it holds no subscription and no detector: it only
//! looks at the mode again every `MODE_CHECK`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smol_str::SmolStr;
use tokio::sync::broadcast::error::RecvError;

use super::bounded_loop::{self, Purpose};
use super::patterns::{Finding, Pattern, PatternDetector};
use crate::app::App;
use crate::kinds::AgentMode;

pub const MODE_CHECK: Duration = Duration::from_secs(5);
/// One pattern on one channel and item is resolved at most once per this.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(60);
/// Resolutions per `RESOLVE_EVERY` across everything: 100 errors a second cannot turn into
/// 100 loops.
pub const MAX_RESOLUTIONS: usize = 4;

type Key = (Pattern, Option<SmolStr>, Option<i64>);

/// The recent resolutions: at most `MAX_RESOLUTIONS`, each for `RESOLVE_EVERY`.
#[derive(Default)]
pub struct Limiter {
    recent: heapless::Vec<(Key, Instant), MAX_RESOLUTIONS>,
}

impl Limiter {
    /// True when `finding` may be resolved now (then it is counted).
    pub fn allow(&mut self, finding: &Finding, now: Instant) -> bool {
        self.recent
            .retain(|(_, at)| now.saturating_duration_since(*at) < RESOLVE_EVERY);
        let key = (finding.pattern, finding.channel.clone(), finding.item_id);
        if self.recent.iter().any(|(k, _)| *k == key) {
            return false;
        }
        self.recent.push((key, now)).is_ok()
    }
}

pub async fn run(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    loop {
        while super::mode(&app) == AgentMode::Off {
            tokio::select! {
                _ = tokio::time::sleep(MODE_CHECK) => {}
                _ = stopped(&mut shutdown) => return,
            }
        }
        tracing::info!(
            mode = super::mode(&app).as_str(),
            "troubleshooting agent following the log"
        );
        if !follow(&app).await {
            return;
        }
    }
}

/// Follows the ring until the mode turns `off` (true) or the server stops (false).
async fn follow(app: &Arc<App>) -> bool {
    let mut shutdown = app.shutdown.clone();
    let mut rx = crate::logging::ring().subscribe();
    let mut detector = PatternDetector::new();
    let mut limiter = Limiter::default();
    let mut check = tokio::time::interval(MODE_CHECK);
    loop {
        // The select only picks the record; the work is done outside it.
        let got = tokio::select! {
            got = rx.recv() => got,
            _ = check.tick() => {
                if super::mode(app) == AgentMode::Off {
                    return true;
                }
                continue;
            }
            _ = stopped(&mut shutdown) => return false,
        };
        match got {
            Ok(entry) if super::is_evidence(&entry) => {
                let Some(finding) = detector.feed(crate::time::now_ms(), &entry.message) else {
                    continue;
                };
                if limiter.allow(&finding, Instant::now()) {
                    resolve(app, &finding).await;
                }
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return false,
        }
    }
}

async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}

/// The resolver's plan for `finding`, run by the bounded loop in the current mode.
async fn resolve(app: &Arc<App>, finding: &Finding) {
    let settings = app.settings();
    let media = super::media_of(app, finding.item_id).await;
    let plan = super::resolver::plan(finding, media);
    let purpose = Purpose {
        pattern: Some(finding.pattern.as_str()),
        reason: &plan.report,
    };
    let steps = bounded_loop::run(
        app,
        super::registry(),
        settings.ai.agent.mode,
        settings.ai.agent.max_steps,
        &plan.steps,
        &purpose,
    )
    .await;
    let outcome: Vec<String> = steps
        .iter()
        .map(|s| format!("{} {}", s.call.tool.as_str(), s.status))
        .collect();
    tracing::info!(
        pattern = finding.pattern.as_str(),
        channel = ?finding.channel,
        confidence = finding.confidence,
        steps = ?outcome,
        "troubleshooting agent: {}",
        plan.report
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stall(channel: &str) -> Finding {
        Finding {
            pattern: Pattern::Stall,
            confidence: 0.8,
            channel: Some(channel.into()),
            item_id: None,
            cause: None,
            evidence: Vec::new(),
        }
    }

    #[test]
    fn a_hundred_findings_in_a_second_make_at_most_four_resolutions_a_minute() {
        let t0 = Instant::now();
        let mut limiter = Limiter::default();
        let admitted = (0..100)
            .filter(|i| {
                let at = t0 + Duration::from_millis(*i as u64 * 10);
                limiter.allow(&stall(&format!("{}", i % 10)), at)
            })
            .count();
        assert_eq!(admitted, MAX_RESOLUTIONS);
        // The same finding again within the minute: not resolved twice.
        let mut limiter = Limiter::default();
        assert!(limiter.allow(&stall("1"), t0));
        assert!(!limiter.allow(&stall("1"), t0 + Duration::from_secs(59)));
        assert!(limiter.allow(&stall("1"), t0 + RESOLVE_EVERY));
    }
}
