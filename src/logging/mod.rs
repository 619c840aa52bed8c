//! Logging: one `tracing` subscriber, filtered by `EXSTREAMTV_LOG` (`filter`), that writes
//! each record to stderr (journald picks it up under systemd) and into an in-memory ring of
//! recent records that `/api/logs` reads and `/api/logs/stream` follows live. Nothing is
//! written to disk (SD-card wear).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span;

use self::filter::Filter;

mod filter;

/// The audit log's target (`http::audit` writes it): short, so a filter can name it
/// (`EXSTREAMTV_LOG=warn,audit=warn`) and `/api/logs/entries?target=audit` can select it.
pub const AUDIT_TARGET: &str = "audit";

/// Records kept for `/api/logs/entries`: about an hour of a busy server's info lines, at most
/// ~2000 × 4 KiB = 8 MiB in the worst case and typically well under 1 MiB.
pub const RING_RECORDS: usize = 2000;
/// A record's message is cut here: a 100 KB log line must not evict the ring or bloat SSE.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Records in flight to live `/api/logs/stream` clients. A client that falls this far
/// behind is dropped (its stream ends) instead of being buffered without bound.
pub const LIVE_QUEUE: usize = 256;

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub id: u64,
    pub raw: String,
    pub timestamp: String,
    /// DEBUG|INFO|WARNING|ERROR (EXStreamTV's names).
    pub level: &'static str,
    pub logger: String,
    pub message: String,
    pub is_error: bool,
    pub matched_scripts: [(); 0],
}

pub struct LogRing {
    records: Mutex<VecDeque<Arc<LogEntry>>>,
    live: broadcast::Sender<Arc<LogEntry>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl LogRing {
    fn new() -> LogRing {
        LogRing {
            records: Mutex::new(VecDeque::with_capacity(RING_RECORDS)),
            live: broadcast::channel(LIVE_QUEUE).0,
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn push(&self, entry: LogEntry) {
        let entry = Arc::new(entry);
        if let Ok(mut records) = self.records.lock() {
            if records.len() == RING_RECORDS {
                records.pop_front();
            }
            records.push_back(entry.clone());
        }
        // No receiver is fine: nobody is following.
        let _ = self.live.send(entry);
    }

    /// The newest `max` records that pass `keep`, oldest first.
    pub fn recent(&self, max: usize, keep: impl Fn(&LogEntry) -> bool) -> Vec<Arc<LogEntry>> {
        let Ok(records) = self.records.lock() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<LogEntry>> = records
            .iter()
            .rev()
            .filter(|e| keep(e))
            .take(max)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The record `id` and up to `around` records either side of it.
    pub fn context(&self, id: u64, around: usize) -> Option<(Arc<LogEntry>, Vec<Arc<LogEntry>>)> {
        let records = self.records.lock().ok()?;
        let pos = records.iter().position(|e| e.id == id)?;
        let from = pos.saturating_sub(around);
        let to = (pos + around + 1).min(records.len());
        Some((
            records[pos].clone(),
            records.range(from..to).cloned().collect(),
        ))
    }

    pub fn len(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        if let Ok(mut records) = self.records.lock() {
            records.clear();
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogEntry>> {
        self.live.subscribe()
    }
}

/// The process-wide ring (the tracing subscriber is process-wide too).
pub fn ring() -> &'static LogRing {
    static RING: OnceLock<LogRing> = OnceLock::new();
    RING.get_or_init(LogRing::new)
}

/// Installs the global subscriber. An unparsable filter falls back to `info` with a warning.
pub fn init(filter: &str) {
    let (parsed, bad) = match Filter::parse(filter) {
        Ok(f) => (f, false),
        Err(_) => (Filter::everything_at(LevelFilter::INFO), true),
    };
    let _ = tracing::subscriber::set_global_default(RingSubscriber { filter: parsed });
    if bad {
        tracing::warn!(
            filter,
            "EXSTREAMTV_LOG is not a valid filter; logging at info"
        );
    }
}

/// The process's subscriber: events only. Nothing here opens spans, so spans are accepted
/// and ignored.
struct RingSubscriber {
    filter: Filter,
}

impl tracing::Subscriber for RingSubscriber {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        self.filter.allows(meta.target(), *meta.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.filter.max_level())
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        write_record(event);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// One record to stderr and into the ring.
fn write_record(event: &tracing::Event<'_>) {
    let meta = event.metadata();
    let mut visitor = MessageVisitor {
        message: String::new(),
        fields: String::new(),
    };
    event.record(&mut visitor);
    let mut message = visitor.message;
    if !visitor.fields.is_empty() {
        message.push_str(&visitor.fields);
    }
    truncate(&mut message, MAX_MESSAGE_BYTES);
    let level = match *meta.level() {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARNING",
        tracing::Level::INFO => "INFO",
        _ => "DEBUG",
    };
    let ring = ring();
    let timestamp = crate::time::rfc3339(crate::time::now_ms());
    let raw = format!("{timestamp} {level} {}: {message}", meta.target());
    // The same line to stderr (journald under systemd), in one write so that lines from
    // different threads never interleave. A closed stderr is not our problem to report.
    {
        use std::io::Write;
        let mut line = Vec::with_capacity(raw.len() + 1);
        line.extend_from_slice(raw.as_bytes());
        line.push(b'\n');
        let _ = std::io::stderr().lock().write_all(&line);
    }
    ring.push(LogEntry {
        id: ring
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        raw,
        timestamp,
        level,
        logger: meta.target().to_string(),
        message,
        is_error: level == "ERROR",
        matched_scripts: [],
    });
}

struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else if self.fields.len() < MAX_MESSAGE_BYTES {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if self.fields.len() < MAX_MESSAGE_BYTES {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// Cuts `s` to at most `max` bytes on a char boundary, marking the cut.
fn truncate(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push_str(" …(truncated)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_is_bounded_and_long_lines_are_cut() {
        let ring = LogRing::new();
        for i in 0..RING_RECORDS + 10 {
            let mut message = "x".repeat(if i == 0 { 100_000 } else { 10 });
            truncate(&mut message, MAX_MESSAGE_BYTES);
            assert!(message.len() <= MAX_MESSAGE_BYTES + 20);
            ring.push(LogEntry {
                id: i as u64,
                raw: String::new(),
                timestamp: String::new(),
                level: "INFO",
                logger: "t".into(),
                message,
                is_error: false,
                matched_scripts: [],
            });
        }
        assert_eq!(ring.len(), RING_RECORDS);
        assert_eq!(
            ring.recent(3, |_| true)
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>(),
            vec![2007, 2008, 2009]
        );
        let (entry, ctx) = ring.context(2005, 2).unwrap();
        assert_eq!(entry.id, 2005);
        assert_eq!(ctx.len(), 5);
        let mut s = "é".repeat(10);
        truncate(&mut s, 5);
        assert!(s.starts_with("éé"));
    }
}
