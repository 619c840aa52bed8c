//! The BoundedAgentLoop: at most `agent.max_steps` steps over the planned calls; each step
//! proposes one call, which the registry validates (its guard), then the mode decides:
//! `off` never starts the loop, `dry_run` only proposes (nothing changes, not even the
//! queue), `approve` queues it for a person, `auto` executes it and records it in the
//! history. No route or task executes a tool except through here or `agent::apply`.

use std::sync::Arc;

use serde::Serialize;

use super::queue::{self, Status};
use super::tools::{Call, ToolRegistry};
use crate::app::App;
use crate::kinds::AgentMode;

/// The most steps any setting allows: one loop never does more.
pub const MAX_STEPS: u32 = 10;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: u32,
    pub call: Call,
    /// `proposed`, `queued`, `executed`, `refused` or `failed`.
    pub status: &'static str,
    pub fix_id: Option<i64>,
    pub detail: String,
}

/// What the loop is about: the pattern it answers and the resolver's report.
pub struct Purpose<'a> {
    pub pattern: Option<&'a str>,
    pub reason: &'a str,
}

/// Runs the loop over `calls` in `mode`.
pub async fn run(
    app: &Arc<App>,
    registry: &ToolRegistry,
    mode: AgentMode,
    max_steps: u32,
    calls: &[Call],
    purpose: &Purpose<'_>,
) -> Vec<Step> {
    if mode == AgentMode::Off {
        return Vec::new();
    }
    let mut steps = Vec::new();
    for (n, call) in calls
        .iter()
        .take(max_steps.min(MAX_STEPS) as usize)
        .enumerate()
    {
        let mut step = match registry.can_execute(app, call).await {
            Err(refused) => make(call, "refused", None, refused.to_string()),
            Ok(()) => match mode {
                AgentMode::Off => break,
                AgentMode::DryRun => {
                    tracing::info!(tool = call.tool.as_str(), channel = ?call.channel, item = ?call.item_id, "troubleshooting agent (dry_run) proposes a fix; nothing is done");
                    make(call, "proposed", None, "dry_run: proposed only".into())
                }
                AgentMode::Approve => queue_one(app, call, purpose).await,
                AgentMode::Auto => execute_one(app, registry, call, purpose).await,
            },
        };
        step.step = n as u32 + 1;
        steps.push(step);
    }
    steps
}

fn make(call: &Call, status: &'static str, fix_id: Option<i64>, detail: String) -> Step {
    Step {
        step: 0,
        call: call.clone(),
        status,
        fix_id,
        detail,
    }
}

async fn queue_one(app: &App, call: &Call, purpose: &Purpose<'_>) -> Step {
    let (c, pattern, reason) = (
        call.clone(),
        purpose.pattern.map(str::to_owned),
        purpose.reason.to_owned(),
    );
    let now = crate::time::now_ms();
    let queued = app
        .db
        .write(move |conn| queue::enqueue(conn, &c, pattern.as_deref(), &reason, now))
        .await;
    match queued {
        Ok(Some(id)) => {
            tracing::info!(
                fix = id,
                tool = call.tool.as_str(),
                "troubleshooting agent queued a fix for approval"
            );
            make(call, "queued", Some(id), "waiting for approval".into())
        }
        Ok(None) => make(call, "refused", None, "the approval queue is full".into()),
        Err(e) => make(call, "failed", None, e.to_string()),
    }
}

async fn execute_one(
    app: &Arc<App>,
    registry: &ToolRegistry,
    call: &Call,
    purpose: &Purpose<'_>,
) -> Step {
    let (status, detail) = match registry.execute(app, call).await {
        Ok(done) => (
            Status::Executed,
            done.as_str().map_or(done.to_string(), str::to_owned),
        ),
        Err(refused) => (Status::Failed, refused.to_string()),
    };
    let (c, pattern, reason, out) = (
        call.clone(),
        purpose.pattern.map(str::to_owned),
        purpose.reason.to_owned(),
        detail.clone(),
    );
    let now = crate::time::now_ms();
    let id = app
        .db
        .write(move |conn| queue::record(conn, &c, pattern.as_deref(), &reason, status, &out, now))
        .await
        .ok();
    make(call, status.as_str(), id, detail)
}
