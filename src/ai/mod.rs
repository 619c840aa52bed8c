//! The AI channel creator (issue 16 points 1–3): a planner that works offline — a request
//! in plain words made into an intent (`intent`), our sources ranked against it
//! (`sources`), a plan over our real media (`plan`, its breaks and filler from our short
//! clips in `clips`) kept in SQLite for 24 hours (`store`)
//! and executed in one transaction through the ordinary ops (`execute`) — plus the
//! personas the conversations speak as (`personas`). An LLM, when configured, only
//! refines what the rules produced (`provider`); nothing here needs one.

pub mod clips;
pub mod execute;
pub mod intent;
pub mod personas;
pub mod plan;
pub mod provider;
pub mod sources;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh id for a plan or a session: the clock's nanoseconds and a counter, in hex
/// (unique within a process and, with the clock, across restarts).
pub fn fresh_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{nanos:x}{n:04x}")
}
