//! `/api/logs/*`: recent records from the in-memory ring (`logging::ring`), a live
//! Server-Sent Events stream, and the browser error log the web UI posts to.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Body, Req};
use crate::logging::{self, LogEntry};

/// A comment line this often keeps proxies and EventSource from timing out (API.md: 15 s).
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Browser-reported errors kept (`/api/logs/browser/entries`).
const BROWSER_ENTRIES: usize = 100;
/// The AI module's records (`/api/logs/ollama/*`) are those of this target.
const AI_TARGET: &str = "exstreamtv::ai";
/// `?lines=` is capped at the ring's size.
const MAX_LINES: usize = logging::RING_RECORDS;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => {
            router::only_get(req)?;
            Ok(body::ok_json(&json!({
                "message": "recent log records are kept in memory; nothing is written to disk",
                "endpoints": [
                    {"path": "/api/logs/entries", "description": "recent records (?lines, filter_level, target, search)"},
                    {"path": "/api/logs/stream", "description": "new records as Server-Sent Events"},
                    {"path": "/api/logs/clear", "description": "POST: empty the in-memory ring"},
                    {"path": "/api/logs/{entry_id}", "description": "one record with its context"},
                    {"path": "/api/logs/browser", "description": "POST: errors reported by a browser"},
                    {"path": "/api/logs/plex/logs/entries", "description": "our records about Plex servers (?lines)"},
                ],
                "status": {
                    "log_file": null, "log_file_exists": false,
                    "plex_logs_available": true, "ollama_logs_available": true,
                    "records_in_memory": logging::ring().len(),
                },
            })))
        }
        ["entries"] => {
            router::only_get(req)?;
            entries(req)
        }
        ["stream"] => {
            router::only_get(req)?;
            Ok(stream(app))
        }
        ["clear"] => by_verb!(req, {
            Get | Post => {
                logging::ring().clear();
                Ok(body::ok_json(
                    &json!({"success": true, "message": "log records cleared"}),
                ))
            },
        }),
        ["browser"] => {
            router::only(req, Verb::Post)?;
            browser_post(req).await
        }
        ["browser", "entries"] => {
            router::only_get(req)?;
            let limit: usize = req
                .query_parsed("limit")?
                .unwrap_or(100)
                .min(BROWSER_ENTRIES);
            let entries: Vec<serde_json::Value> = browser_log()
                .lock()
                .map(|b| b.iter().rev().take(limit).cloned().collect())
                .unwrap_or_default();
            Ok(body::ok_json(
                &json!({"count": entries.len(), "entries": entries}),
            ))
        }
        ["browser", "clear"] => by_verb!(req, {
            Delete | Post => {
                if let Ok(mut b) = browser_log().lock() {
                    b.clear();
                }
                Ok(body::ok_json(&json!({"success": true})))
            },
        }),
        [entry_id] => {
            router::only_get(req)?;
            one_entry(entry_id)
        }
        _ => lifecycle_and_plex(req, segs),
    }
}

/// `/api/logs/lifecycle/*` and `/api/logs/plex/*`: EXStreamTV's file-log routes, answered
/// from the ring.
fn lifecycle_and_plex(req: &Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["lifecycle", "status"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&lifecycle_status()))
        }
        ["lifecycle", "archive-now"] | ["lifecycle", "cleanup-now"] => {
            router::only(req, Verb::Post)?;
            Ok(body::ok_json(&json!({
                "success": true, "archived": 0, "deleted": 0,
                "message": "no log file is written (SD cards wear out), so there is nothing to archive or delete",
            })))
        }
        ["lifecycle", "truncate-now"] => {
            router::only(req, Verb::Post)?;
            let records = logging::ring().len();
            logging::ring().clear();
            Ok(body::ok_json(&json!({
                "success": true, "truncated_records": records,
                "message": format!("{records} records dropped from the in-memory ring"),
            })))
        }
        ["plex", "logs"] | ["plex", "logs", "entries"] => {
            router::only_get(req)?;
            plex_entries(req)
        }
        ["plex", "logs", "directory"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&json!({
                "directory": null, "exists": false,
                "message": "the Plex server's log directory is on the Plex machine; /api/logs/plex/logs/entries has our records about it",
            })))
        }
        ["ollama", "entries"] => {
            router::only_get(req)?;
            let lines: usize = req.query_parsed("lines")?.unwrap_or(500).min(MAX_LINES);
            let entries = logging::ring().recent(lines, |e| e.logger.starts_with(AI_TARGET));
            Ok(body::ok_json(&json!({
                "entries": entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
                "showing": entries.len(),
                "source": "exstreamtv's own records of its AI module, from the in-memory ring",
            })))
        }
        ["ollama", "directory"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&json!({
                "directory": null, "exists": false,
                "message": "no log file is written; /api/logs/ollama/entries has the AI module's records",
            })))
        }
        ["plex", "logs", "files"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&json!({"files": []})))
        }
        _ => Err(router::not_found()),
    }
}

fn level_rank(level: &str) -> Option<u8> {
    Some(match level.to_ascii_uppercase().as_str() {
        "DEBUG" | "TRACE" => 0,
        "INFO" => 1,
        "WARNING" | "WARN" => 2,
        "ERROR" => 3,
        "CRITICAL" => 4,
        _ => return None,
    })
}

fn entries(req: &Req) -> ApiResult {
    let lines: usize = req.query_parsed("lines")?.unwrap_or(500).min(MAX_LINES);
    let min_level = match req.query("filter_level") {
        None => 0,
        Some(l) => level_rank(&l).ok_or_else(|| {
            ApiError::bad_request("filter_level: one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        })?,
    };
    let target = req.query("target").map(|t| t.into_owned());
    let search = req.query("search").map(|s| s.to_lowercase());
    let ring = logging::ring();
    let entries = ring.recent(lines, |e| {
        level_rank(e.level).unwrap_or(0) >= min_level
            && target.as_deref().is_none_or(|t| e.logger.starts_with(t))
            && search
                .as_deref()
                .is_none_or(|s| e.message.to_lowercase().contains(s))
    });
    Ok(body::ok_json(&json!({
        "entries": entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
        "total_lines": ring.len(),
        "showing": entries.len(),
    })))
}

/// `/api/logs/lifecycle/status` in EXStreamTV's shape: the one "active log" is the
/// in-memory ring (its records and their bytes), and nothing is ever archived.
fn lifecycle_status() -> serde_json::Value {
    let ring = logging::ring();
    let records = ring.recent(MAX_LINES, |_| true);
    let bytes: usize = records.iter().map(|e| e.raw.len()).sum();
    let size_mb = bytes as f64 / (1024.0 * 1024.0);
    json!({
        "active_logs": [{
            "path": "memory", "size_mb": size_mb, "records": records.len(),
            "modified": records.last().map(|e| e.timestamp.clone()),
        }],
        "archived_logs": [],
        "total_active_size_mb": size_mb,
        "total_archive_size_mb": 0.0,
        "config": {
            "max_file_size_mb": null, "archive_after_days": null, "delete_after_days": null,
            "ring_records": logging::RING_RECORDS, "written_to_disk": false,
        },
    })
}

/// `/api/logs/plex/logs[/entries]`: we cannot read a Plex server's own log files, so these are
/// our records about Plex (every one carries `kind=plex`), from the same ring.
fn plex_entries(req: &Req) -> ApiResult {
    let lines: usize = req.query_parsed("lines")?.unwrap_or(500).min(MAX_LINES);
    let entries = logging::ring().recent(lines, |e| e.raw.contains("kind=plex"));
    Ok(body::ok_json(&json!({
        "entries": entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
        "showing": entries.len(),
        "source": "exstreamtv's own records about Plex (the Plex server's files are not readable from here)",
    })))
}

fn entry_json(e: &LogEntry) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["entry_id"] = json!(base64_encode(e.id.to_string().as_bytes()));
    v
}

/// `/api/logs/{entry_id}`: the id is base64 (as EXStreamTV's), of the record's number.
fn one_entry(entry_id: &str) -> ApiResult {
    let id = base64_decode(entry_id)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| ApiError::bad_request("entry_id is not a valid id"))?;
    let (entry, context) = logging::ring()
        .context(id, 5)
        .ok_or_else(|| ApiError::not_found("no such log entry (it may have left the ring)"))?;
    Ok(body::ok_json(&json!({
        "entry": entry_json(&entry),
        "context": context.iter().map(|e| json!({
            "line_number": e.id, "content": e.raw, "is_target": e.id == entry.id,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct BrowserError {
    #[serde(rename = "type", default = "default_type")]
    kind: String,
    message: String,
    stack: Option<String>,
    url: Option<String>,
    line: Option<i64>,
    col: Option<i64>,
}

fn default_type() -> String {
    "error".into()
}

fn browser_log() -> &'static Mutex<VecDeque<serde_json::Value>> {
    static LOG: std::sync::OnceLock<Mutex<VecDeque<serde_json::Value>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| Mutex::new(VecDeque::with_capacity(BROWSER_ENTRIES)))
}

async fn browser_post(req: &mut Req) -> ApiResult {
    let e: BrowserError = req.json().await?;
    let cut = |s: String| {
        s.chars()
            .take(logging::MAX_MESSAGE_BYTES)
            .collect::<String>()
    };
    tracing::warn!(target: "exstreamtv::browser", kind = %e.kind, "browser reported: {}", e.message);
    let entry = json!({
        "type": cut(e.kind), "message": cut(e.message), "stack": e.stack.map(cut), "url": e.url.map(cut),
        "line": e.line, "col": e.col, "timestamp": crate::time::rfc3339(crate::time::now_ms()),
    });
    if let Ok(mut log) = browser_log().lock() {
        if log.len() == BROWSER_ENTRIES {
            log.pop_front();
        }
        log.push_back(entry);
    }
    Ok(body::ok_json(&json!({"success": true})))
}

fn stream(app: &App) -> crate::http::Response {
    let sse = SseBody {
        next: Some(Box::pin(next_event(
            logging::ring().subscribe(),
            app.shutdown.clone(),
        ))),
    };
    let mut resp = hyper::Response::new(Body::stream(sse));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

enum Event {
    Record(Arc<LogEntry>),
    Keepalive,
    /// The client fell more than `LIVE_QUEUE` records behind, or the server is stopping.
    End,
}

type Pending = Pin<
    Box<
        dyn Future<
                Output = (
                    Event,
                    broadcast::Receiver<Arc<LogEntry>>,
                    watch::Receiver<bool>,
                ),
            > + Send,
    >,
>;

/// Waits for the next record, a keepalive tick, or shutdown. Owns its receivers and hands
/// them back, so the body needs no self-reference; one small allocation per event is fine
/// for logs (this is not the media path).
async fn next_event(
    mut rx: broadcast::Receiver<Arc<LogEntry>>,
    mut shutdown: watch::Receiver<bool>,
) -> (
    Event,
    broadcast::Receiver<Arc<LogEntry>>,
    watch::Receiver<bool>,
) {
    if *shutdown.borrow() {
        return (Event::End, rx, shutdown);
    }
    let event = tokio::select! {
        r = rx.recv() => match r {
            Ok(entry) => Event::Record(entry),
            // Lagged: this client does not read fast enough; drop it rather than buffer.
            Err(_) => Event::End,
        },
        _ = shutdown.changed() => Event::End,
        _ = tokio::time::sleep(KEEPALIVE) => Event::Keepalive,
    };
    (event, rx, shutdown)
}

struct SseBody {
    next: Option<Pending>,
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(pending) = self.next.as_mut() else {
            return Poll::Ready(None);
        };
        let (event, rx, shutdown) = match pending.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(v) => v,
        };
        let frame = match event {
            Event::End => {
                self.next = None;
                return Poll::Ready(None);
            }
            Event::Keepalive => Bytes::from_static(b": keepalive\n\n"),
            Event::Record(entry) => {
                let json = serde_json::to_string(&entry_json(&entry)).unwrap_or_default();
                Bytes::from(format!("id: {}\ndata: {json}\n\n", entry.id))
            }
        };
        self.next = Some(Box::pin(next_event(rx, shutdown)));
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "1", "12", "123", "1234", "98765"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(base64_encode(b"42"), "NDI=");
        assert!(base64_decode("!!").is_none());
    }
}
