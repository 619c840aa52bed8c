//! The optional LLM: Ollama (`POST {base}/api/chat`, `GET {base}/api/tags`) or any
//! OpenAI-compatible server (`POST {base}/chat/completions`). The answer is asked for as
//! JSON of a schema we give (`format` / `response_format`), unwrapped from a Markdown fence
//! when a small model adds one, and decoded into our types: anything else is a 502.
//!
//! One call in flight (a Pi runs one model at a time): a second waits for the first within
//! the same `timeout_seconds` that bounds every call, else 429 with `Retry-After`. Nothing
//! is spawned: when the client leaves, the handler's future is dropped and with it the
//! connection and the permit. Errors: down → 503, timeout → 504, bad answer → 502.
//!
//! The base URL goes through `http::url_guard` with loopback allowed (Ollama is local by
//! design) and link-local/metadata addresses refused.

mod wire;

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::store::Message;
use crate::app::App;
use crate::http::client::ClientError;
use crate::http::ApiError;
use crate::kinds::AiProvider;
use crate::settings::Ai;

/// The largest answer read: a plan or a chat turn is a few KB.
pub const ANSWER_CAP: usize = 1 << 20;

static IN_FLIGHT: Semaphore = Semaphore::const_new(1);

/// A conversation turn as the model answers it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub response: String,
    pub stage: String,
    pub ready_to_build: bool,
    #[serde(default)]
    pub specification: Option<String>,
}

fn reply_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "response": {"type": "string"},
            "stage": {"type": "string", "enum": ["gathering", "refining", "ready"]},
            "ready_to_build": {"type": "boolean"},
            "specification": {"type": ["string", "null"]}
        },
        "required": ["response", "stage", "ready_to_build", "specification"],
        "additionalProperties": false
    })
}

/// What the model may add to an offline plan.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refinement {
    #[serde(default)]
    pub channel_name: Option<String>,
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
}

fn refinement_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "channel_name": {"type": "string"},
            "collections": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["channel_name", "collections", "notes"],
        "additionalProperties": false
    })
}

/// One conversation turn: the persona's system prompt, then the history.
pub async fn converse(
    app: &App,
    ai: &Ai,
    system: &str,
    history: &[Message],
) -> Result<Reply, ApiError> {
    let mut messages = vec![wire::msg("system", system)];
    messages.extend(history.iter().map(|m| wire::msg(&m.role, &m.content)));
    call(app, ai, messages, reply_schema()).await
}

/// Asks the model to refine `plan_json` (the offline plan) for `request`.
pub async fn refine(
    app: &App,
    ai: &Ai,
    request: &str,
    plan_json: &str,
    collections: &[String],
) -> Result<Refinement, ApiError> {
    let system = "You refine a TV channel plan built from the user's media library. Answer \
                  with a better channel_name, the names of existing collections that fit \
                  (only from the list given), and short notes.";
    let user = format!(
        "Request: {request}\nExisting collections: {}\nOffline plan: {plan_json}",
        collections.join(", ")
    );
    let messages = vec![wire::msg("system", system), wire::msg("user", &user)];
    call(app, ai, messages, refinement_schema()).await
}

/// The troubleshooting agent's question to the model: plain words, and calls of the
/// registry's tools by name. The registry validates every call (an unknown tool or a
/// restart of every channel is refused there), so nothing here is trusted.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    pub explanation: String,
    #[serde(default)]
    pub calls: Vec<AdvisedCall>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisedCall {
    pub tool: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub item_id: Option<i64>,
    #[serde(default)]
    pub library_id: Option<i64>,
    #[serde(default)]
    pub playout_id: Option<i64>,
}

fn advice_schema(tools: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "explanation": {"type": "string"},
            "calls": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "tool": {"type": "string", "enum": tools},
                    "channel": {"type": "string"},
                    "item_id": {"type": "integer"},
                    "library_id": {"type": "integer"},
                    "playout_id": {"type": "integer"}
                },
                "required": ["tool"],
                "additionalProperties": false
            }}
        },
        "required": ["explanation", "calls"],
        "additionalProperties": false
    })
}

/// Asks the model about `question` given `facts` (the grounded envelopes and findings, as
/// JSON): only these facts, only these `tools`.
pub async fn advise(
    app: &App,
    ai: &Ai,
    system: &str,
    question: &str,
    facts: &str,
    tools: &[&str],
) -> Result<Advice, ApiError> {
    let user = format!(
        "Question: {question}\nFacts from the server (use only these): {facts}\nTools you may \
         propose (at most a few; each is checked before it runs): {}",
        tools.join(", ")
    );
    let messages = vec![wire::msg("system", system), wire::msg("user", &user)];
    call(app, ai, messages, advice_schema(tools)).await
}

/// The models the provider has (Ollama's `/api/tags`, OpenAI's `/models`), asked within
/// `limit_s` seconds.
pub async fn models(app: &App, ai: &Ai, limit_s: u32) -> Result<Vec<String>, ApiError> {
    if ai.provider == AiProvider::None {
        return Err(not_configured());
    }
    let base = guarded_base(app, ai).await?;
    let url = match ai.provider {
        AiProvider::Openai => format!("{base}/models"),
        _ => format!("{base}/api/tags"),
    };
    let headers = wire::headers(app, ai);
    let answer = tokio::time::timeout(
        Duration::from_secs(u64::from(limit_s)),
        crate::http::client::get(&url, &headers, ANSWER_CAP),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            hyper::StatusCode::GATEWAY_TIMEOUT,
            format_args!("no answer within {limit_s} s"),
        )
    })?
    .map_err(|e| client_error(e, limit_s))?;
    if !answer.status.is_success() {
        return Err(bad_gateway(format_args!(
            "the provider answered {}",
            answer.status
        )));
    }
    let v: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| bad_gateway(format_args!("the model list is not JSON: {e}")))?;
    let list = v.get("models").or_else(|| v.get("data"));
    Ok(list
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("name").or_else(|| m.get("id"))?.as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default())
}

pub fn not_configured() -> ApiError {
    ApiError::unavailable(
        "no LLM provider is configured (PUT /api/ai/settings {provider: ollama|openai}); the \
         planner routes (analyze, sources, plan) work without one",
        60,
    )
}

pub fn bad_gateway(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(hyper::StatusCode::BAD_GATEWAY, detail)
}

/// The base URL without its trailing slash, after the guard.
async fn guarded_base(app: &App, ai: &Ai) -> Result<String, ApiError> {
    let _ = app;
    crate::http::url_guard::check(&ai.base_url, true)
        .await
        .map_err(|e| ApiError::invalid("base_url", e))?;
    Ok(ai.base_url.trim_end_matches('/').to_string())
}

/// One bounded, serialized call; the answer decoded as `T`.
async fn call<T: DeserializeOwned>(
    app: &App,
    ai: &Ai,
    messages: Vec<Value>,
    schema: Value,
) -> Result<T, ApiError> {
    if ai.provider == AiProvider::None {
        return Err(not_configured());
    }
    let limit = Duration::from_secs(u64::from(ai.timeout_seconds));
    let started = Instant::now();
    let base = guarded_base(app, ai).await?;
    let _permit = tokio::time::timeout(limit, IN_FLIGHT.acquire())
        .await
        .map_err(|_| busy(ai.timeout_seconds))?
        .map_err(ApiError::internal)?;
    let left = limit.saturating_sub(started.elapsed());
    if left.is_zero() {
        return Err(busy(ai.timeout_seconds));
    }
    let (url, body) = wire::request(ai, &base, messages, schema);
    let headers = wire::headers(app, ai);
    let answer = crate::http::client::post_json(&url, &headers, body, ANSWER_CAP, left)
        .await
        .map_err(|e| client_error(e, ai.timeout_seconds))?;
    let content = wire::content(ai, &answer)?;
    let text = unfence(&content);
    serde_json::from_str(text).map_err(|e| {
        bad_gateway(format_args!(
            "the model's answer does not match the schema: {e}"
        ))
    })
}

fn busy(timeout_s: u32) -> ApiError {
    ApiError::new(
        hyper::StatusCode::TOO_MANY_REQUESTS,
        "another LLM call is in flight; try again later",
    )
    .with_header(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from(timeout_s.clamp(1, 60)),
    )
}

fn client_error(err: ClientError, timeout_s: u32) -> ApiError {
    match err {
        ClientError::Connect(_) | ClientError::ConnectTimeout => {
            ApiError::unavailable(format_args!("the LLM provider is down: {err}"), 30)
        }
        ClientError::ReadTimeout => ApiError::new(
            hyper::StatusCode::GATEWAY_TIMEOUT,
            format_args!("the LLM gave no answer within {timeout_s} s"),
        ),
        ClientError::TooLarge(_) => {
            bad_gateway(format_args!("the LLM's answer is too large: {err}"))
        }
        ClientError::BadUrl(_) | ClientError::TlsUnsupported(_) => {
            ApiError::invalid("base_url", err)
        }
        other => bad_gateway(format_args!("the LLM call failed: {other}")),
    }
}

/// The JSON inside a ```json … ``` fence, or the text itself.
pub fn unfence(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_unwrapped() {
        assert_eq!(unfence("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(unfence("```\n{}\n```"), "{}");
        assert_eq!(unfence(" {\"b\":2} "), "{\"b\":2}");
    }
}
