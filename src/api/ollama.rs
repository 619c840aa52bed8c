//! `/api/ollama/*` (API.md §2.13): the local Ollama server's status (asked with a short
//! timeout; nothing is installed or downloaded here: those routes answer 501 with how to
//! do it), and the troubleshooting agent (`agent`): a question answered by rules over the
//! logs, the approval queue and the fix history. No route here executes a tool except
//! through the queue and the registry's guards (`agent::apply`).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::agent::{self, query, queue, ApplyError};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};

/// Ollama answers `/api/tags` at once when it runs; a status page must not wait for one
/// that does not.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// `/api/tags` of a box with many models is a few KB.
const TAGS_CAP: usize = 256 * 1024;
/// Small models a Pi-class box can run, smallest first.
const RECOMMENDED: &[&str] = &["qwen2.5:0.5b", "llama3.2:1b", "phi3:mini"];
const INSTALL_HOWTO: &str = "exstreamtv does not install software or download models: install Ollama from https://ollama.com/download (or your distribution's package), run `ollama pull <model>` on the machine, then set ai.provider to ollama";
const WELCOME: &str = "I am the troubleshooting assistant. Ask why a channel fails; I read the recent warnings and errors, name the pattern, and propose fixes that go through the restart gate and the approval queue (ai.agent.mode).";

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["status"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&status(app).await))
        }
        ["install"] | ["models", _, "install"] => {
            router::only(req, Verb::Post)?;
            Err(ApiError::not_implemented(INSTALL_HOWTO))
        }
        ["models", _] => {
            router::only(req, Verb::Delete)?;
            Err(ApiError::not_implemented(
                "exstreamtv does not remove models: run `ollama rm <model>` on the machine",
            ))
        }
        ["query"] => {
            router::only(req, Verb::Post)?;
            ask(app, req).await
        }
        ["welcome"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&json!({ "message": WELCOME })))
        }
        ["conversation", "clear"] => {
            router::only(req, Verb::Post)?;
            // Rules keep no conversation: there is nothing to forget.
            Ok(body::ok_json(&json!({ "success": true })))
        }
        ["pending-approvals"] => {
            router::only_get(req)?;
            let approvals = list(app, true).await?;
            Ok(body::ok_json(&json!({ "approvals": approvals })))
        }
        ["fix-history"] => {
            router::only_get(req)?;
            let fixes = list(app, false).await?;
            Ok(body::ok_json(&json!({ "fixes": fixes })))
        }
        ["approvals", id, "approve"] | ["fixes", id, "apply"] => {
            router::only(req, Verb::Post)?;
            let fix = agent::apply(app, router::id(id)?)
                .await
                .map_err(api_error)?;
            Ok(body::ok_json(&json!({ "success": true, "fix": fix })))
        }
        ["approvals", id, "reject"] => by_verb!(req, { Post => reject(app, req, id).await }),
        _ => Err(router::not_found()),
    }
}

fn api_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::NotFound(_) => ApiError::not_found(e),
        ApplyError::Db(db) => db.into(),
        ApplyError::Mode(_) | ApplyError::Decided(..) | ApplyError::Refused(_) => {
            ApiError::conflict(e)
        }
    }
}

async fn list(app: &App, pending: bool) -> Result<Vec<queue::Fix>, ApiError> {
    Ok(app.db.read(move |conn| queue::list(conn, pending)).await?)
}

#[derive(Deserialize, Default)]
struct RejectBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn reject(app: &App, req: &mut Req, id: &str) -> ApiResult {
    let id = router::id(id)?;
    let b: RejectBody = req.json_or_default().await?;
    let reason = b.reason.unwrap_or_else(|| "no reason given".into());
    agent::reject(app, id, &reason).await.map_err(api_error)?;
    Ok(body::ok_json(&json!({ "success": true })))
}

#[derive(Deserialize)]
struct QueryBody {
    query: String,
    #[serde(default = "yes")]
    include_streamtv_logs: bool,
    #[serde(default = "yes")]
    include_plex_logs: bool,
    #[serde(default = "yes")]
    include_browser_logs: bool,
    #[serde(default = "yes")]
    include_ollama_logs: bool,
}

fn yes() -> bool {
    true
}

/// Queries are a sentence; more than this is not a question.
const MAX_QUERY: usize = 4000;

async fn ask(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let b: QueryBody = req.params_requiring(&["query"]).await?;
    if b.query.trim().is_empty() {
        return Err(ApiError::invalid("query", "must not be empty"));
    }
    if b.query.len() > MAX_QUERY {
        return Err(ApiError::invalid(
            "query",
            format_args!("longer than {MAX_QUERY} bytes"),
        ));
    }
    // Our ring holds our own, Plex's and the AI module's records alike; the browser's
    // reports are not failures of a stream.
    let _ = (
        b.include_plex_logs,
        b.include_browser_logs,
        b.include_ollama_logs,
    );
    let d = query::diagnose(app, &b.query, b.include_streamtv_logs).await;
    Ok(body::ok_json(&json!({
        "success": true,
        "model": Value::Null,
        "response": d.response,
        "fixes": d.fixes,
        "log_matches": d.log_matches,
        "context_used": d.context_used,
        "persona": d.persona,
    })))
}

/// Whether Ollama answers at `ai.base_url`, and its models.
async fn status(app: &App) -> Value {
    let base = app.settings().ai.base_url.trim_end_matches('/').to_string();
    let url = format!("{base}/api/tags");
    let answer = tokio::time::timeout(
        STATUS_TIMEOUT,
        crate::http::client::get(&url, &[], TAGS_CAP),
    )
    .await;
    let tags: Option<Value> = match answer {
        Ok(Ok(a)) if a.status.is_success() => serde_json::from_slice(&a.body).ok(),
        _ => None,
    };
    let running = tags.is_some();
    let models: Vec<Value> = tags
        .as_ref()
        .and_then(|t| t["models"].as_array())
        .map(|m| {
            m.iter()
                .map(|m| json!({"name": m["name"], "size": m["size"]}))
                .collect()
        })
        .unwrap_or_default();
    let memory = crate::system::memory();
    json!({
        "installed": running || on_path("ollama"),
        "server_running": running,
        "base_url": base,
        "system_info": {
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "memory_total_bytes": memory.map(|m| m.0),
            "memory_available_bytes": memory.map(|m| m.1),
        },
        "recommended_models": RECOMMENDED,
        "installed_models": models,
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
