//! The two wire formats: Ollama's `/api/chat` and OpenAI's `/chat/completions`.

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use crate::app::App;
use crate::http::client::Answer;
use crate::http::ApiError;
use crate::kinds::AiProvider;
use crate::settings::Ai;

pub fn msg(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

/// The URL and body of a chat call asking for JSON of `schema`.
pub fn request(ai: &Ai, base: &str, messages: Vec<Value>, schema: Value) -> (String, Bytes) {
    let body = match ai.provider {
        AiProvider::Openai => json!({
            "model": ai.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": true}
            }
        }),
        _ => json!({
            "model": ai.model,
            "messages": messages,
            "stream": false,
            "format": schema,
            "options": {"temperature": 0}
        }),
    };
    let url = match ai.provider {
        AiProvider::Openai => format!("{base}/chat/completions"),
        _ => format!("{base}/api/chat"),
    };
    (url, Bytes::from(body.to_string()))
}

/// Bearer auth for an OpenAI-compatible server with a key stored.
pub fn headers(app: &App, ai: &Ai) -> Vec<(HeaderName, HeaderValue)> {
    if ai.provider != AiProvider::Openai {
        return Vec::new();
    }
    crate::api::ai::api_key(app)
        .and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok())
        .map(|v| vec![(AUTHORIZATION, v)])
        .unwrap_or_default()
}

/// The model's text out of the provider's envelope; a non-2xx or an envelope that is not
/// the documented one is a 502 with what the provider said.
pub fn content(ai: &Ai, answer: &Answer) -> Result<String, ApiError> {
    let v: Option<Value> = serde_json::from_slice(&answer.body).ok();
    if !answer.status.is_success() {
        let said = v
            .as_ref()
            .and_then(|v| v.get("error"))
            .map(|e| e.get("message").unwrap_or(e))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(200)
                    .collect()
            });
        return Err(super::bad_gateway(format_args!(
            "the LLM provider answered {}: {said}",
            answer.status
        )));
    }
    let Some(v) = v else {
        return Err(super::bad_gateway("the LLM provider's answer is not JSON"));
    };
    let text = match ai.provider {
        AiProvider::Openai => v.pointer("/choices/0/message/content"),
        _ => v.pointer("/message/content"),
    };
    text.and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| super::bad_gateway("the LLM provider's answer has no message content"))
}
