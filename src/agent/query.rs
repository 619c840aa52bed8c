//! A question to the agent (`/api/ollama/query`), answered by rules: the detector runs over
//! the ring's recent warnings and errors, the resolver plans for what it finds, and the
//! bounded loop runs the plan in the current mode. With an LLM configured, the model reads
//! the same grounded facts and may explain and propose calls, which go through the same
//! registry, guards and loop. What the question itself asks for (a
//! restart, a named tool) is validated by the registry like any proposal: "restart every
//! channel" or a tool that does not exist is refused, never executed.

use std::sync::Arc;

use serde::Serialize;

use super::bounded_loop::{self, Purpose, Step};
use super::envelope::{self, GroundedEnvelope};
use super::patterns::{Finding, PatternDetector};
use super::tools::{Call, Refused, Tool};
use crate::app::App;
use crate::kinds::{AgentMode, AiProvider};
use crate::logging::RING_RECORDS;

/// Findings reported (and planned for) per question.
pub const MAX_FINDINGS: usize = 3;
pub const PERSONA: &str = "system_admin";
/// The model's proposals read per question (the loop's `max_steps` bounds what runs).
const MAX_LLM_CALLS: usize = 8;

#[derive(Debug, Serialize)]
pub struct Diagnosis {
    pub response: String,
    pub fixes: Vec<Step>,
    pub log_matches: Vec<Finding>,
    pub context_used: Vec<GroundedEnvelope>,
    pub persona: &'static str,
}

/// What the words of `query` ask for: a restart (of the channel named after "channel", or
/// of several when it says "all"/"every") and tools named after "tool".
pub fn requested(query: &str) -> Vec<Result<Call, Refused>> {
    let lower = query.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '*'))
        .filter(|w| !w.is_empty())
        .collect();
    let after = |key: &str| {
        words
            .windows(2)
            .filter(|w| w[0] == key || w[0] == format!("{key}s"))
            .map(|w| w[1])
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    if words.iter().any(|w| w.starts_with("restart")) {
        let many = words
            .iter()
            .any(|w| matches!(*w, "all" | "every" | "each" | "*"));
        let channel = if many {
            Some("all")
        } else {
            after("channel").first().copied()
        };
        out.push(match channel {
            Some(c) => Ok(Call::new(Tool::RestartChannel).on_channel(c)),
            None => Err(Refused::Missing("channel")),
        });
    }
    for name in after("tool") {
        out.push(
            Tool::from_name(name)
                .map(Call::new)
                .ok_or_else(|| Refused::UnknownTool(name.to_string())),
        );
    }
    out
}

/// Runs what the query's words ask for (one step each), through the registry like any
/// proposal; returns the steps and a line per request.
async fn run_requested(app: &Arc<App>, mode: AgentMode, query: &str) -> (Vec<Step>, Vec<String>) {
    let (mut fixes, mut lines) = (Vec::new(), Vec::new());
    let purpose = Purpose {
        pattern: None,
        reason: "asked for in the query",
    };
    for req in requested(query) {
        let call = match req {
            Ok(call) => call,
            Err(refused) => {
                lines.push(format!("refused: {refused}"));
                continue;
            }
        };
        let steps = bounded_loop::run(app, super::registry(), mode, 1, &[call], &purpose).await;
        for s in &steps {
            lines.push(format!(
                "{}: {} ({})",
                s.call.tool.as_str(),
                s.status,
                s.detail
            ));
        }
        fixes.extend(steps);
    }
    (fixes, lines)
}

/// The configured LLM's reading of the same facts: its explanation, and its proposed calls
/// run through the registry and the loop like the rules' (within what is left of
/// `max_steps`). A provider that fails leaves the rules' answer standing, with a line why.
async fn ask_llm(
    app: &Arc<App>,
    ai: &crate::settings::Ai,
    mode: AgentMode,
    budget: u32,
    query: &str,
    facts: &serde_json::Value,
) -> (Vec<Step>, Vec<String>) {
    let system = crate::ai::personas::find(&app.config.data_dir, PERSONA)
        .map(|p| p.system_prompt)
        .unwrap_or_default();
    let tools: Vec<&str> = Tool::names().collect();
    let advice =
        crate::ai::provider::advise(app, ai, &system, query, &facts.to_string(), &tools).await;
    let advice = match advice {
        Ok(advice) => advice,
        Err(e) => {
            return (
                Vec::new(),
                vec![format!("the LLM was not heard: {}", e.detail)],
            )
        }
    };
    let mut lines = vec![format!("LLM: {}", advice.explanation.trim())];
    let mut calls = Vec::new();
    for c in advice.calls.iter().take(MAX_LLM_CALLS) {
        let Some(tool) = Tool::from_name(&c.tool) else {
            lines.push(format!("refused: {}", Refused::UnknownTool(c.tool.clone())));
            continue;
        };
        let mut call = Call::new(tool);
        call.channel = c.channel.as_deref().map(smol_str::SmolStr::from);
        call.item_id = c.item_id;
        call.library_id = c.library_id;
        call.playout_id = c.playout_id;
        calls.push(call);
    }
    let purpose = Purpose {
        pattern: None,
        reason: "proposed by the LLM",
    };
    let steps = bounded_loop::run(app, super::registry(), mode, budget, &calls, &purpose).await;
    for s in &steps {
        lines.push(format!(
            "{}: {} ({})",
            s.call.tool.as_str(),
            s.status,
            s.detail
        ));
    }
    (steps, lines)
}

/// Answers `query` over the ring: the rules, then the LLM when one is configured.
pub async fn diagnose(app: &Arc<App>, query: &str, include_logs: bool) -> Diagnosis {
    let mut detector = PatternDetector::new();
    if include_logs {
        for entry in crate::logging::ring().recent(RING_RECORDS, super::is_evidence) {
            detector.feed(crate::time::now_ms(), &entry.message);
        }
    }
    let mut findings = detector.analyze_sequence(crate::time::now_ms());
    findings.truncate(MAX_FINDINGS);
    let settings = app.settings();
    let (mode, max_steps) = (settings.ai.agent.mode, settings.ai.agent.max_steps);
    let (mut fixes, mut lines) = run_requested(app, mode, query).await;
    let mut context = Vec::new();
    for f in &findings {
        let plan = super::resolver::plan(f, super::media_of(app, f.item_id).await);
        lines.push(format!(
            "{} (confidence {:.2}): {}",
            f.pattern.as_str(),
            f.confidence,
            plan.report
        ));
        let purpose = Purpose {
            pattern: Some(f.pattern.as_str()),
            reason: &plan.report,
        };
        // A call an earlier finding planned already is not proposed twice.
        let steps: Vec<Call> = plan
            .steps
            .iter()
            .filter(|c| !fixes.iter().any(|s: &Step| s.call == **c))
            .cloned()
            .collect();
        let budget = max_steps.saturating_sub(fixes.len() as u32);
        fixes.extend(
            bounded_loop::run(app, super::registry(), mode, budget, &steps, &purpose).await,
        );
        context.push(envelope::gather(app, Some(f)));
    }
    if findings.is_empty() {
        lines.push("no known failure pattern in the recent warnings and errors".into());
        context.push(envelope::gather(app, None));
    }
    if settings.ai.provider != AiProvider::None {
        let budget = max_steps.saturating_sub(fixes.len() as u32);
        let facts = serde_json::json!({"findings": &findings, "context": &context});
        let (steps, said) = ask_llm(app, &settings.ai, mode, budget, query, &facts).await;
        lines.extend(said);
        fixes.extend(steps);
    }
    if mode == AgentMode::Off {
        lines.push("the troubleshooting agent is off (ai.agent.mode): nothing is proposed".into());
    }
    for (n, step) in fixes.iter_mut().enumerate() {
        step.step = n as u32 + 1;
    }
    Diagnosis {
        response: lines.join("\n"),
        fixes,
        log_matches: findings,
        context_used: context,
        persona: PERSONA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_of_every_channel_and_an_unknown_tool_are_asked_as_such() {
        let asked = requested("Please restart every channel now");
        assert_eq!(
            asked,
            vec![Ok(Call::new(Tool::RestartChannel).on_channel("all"))]
        );
        let asked = requested("restart channel 101");
        assert_eq!(
            asked,
            vec![Ok(Call::new(Tool::RestartChannel).on_channel("101"))]
        );
        let asked = requested("use the tool format_disk");
        assert_eq!(asked, vec![Err(Refused::UnknownTool("format_disk".into()))]);
        assert!(requested("why is channel 5 black?").is_empty());
    }
}
