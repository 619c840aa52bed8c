//! The bounded troubleshooting agent (issue 16, point 4): the log ring's WARN/ERROR records
//! feed a `patterns::PatternDetector`; a detected pattern becomes planned tool calls
//! (`resolver`), grounded in our own state (`envelope`), validated by the
//! `tools::ToolRegistry`'s guards, and run by the `bounded_loop` per `ai.agent.mode`
//! (`off` | `dry_run` | `approve` | `auto`). Approvals and the fix history live in SQLite
//! (`queue`). Rules only: no LLM is consulted here. A restart always goes through the
//! restart gate; no route executes a tool except through the queue and the guards.

pub mod bounded_loop;
pub mod envelope;
pub mod patterns;
pub mod query;
pub mod queue;
pub mod resolver;
pub mod task;
pub mod tools;

use std::fmt;
use std::sync::{Arc, OnceLock};

use self::queue::{Fix, Status};
use self::tools::{Refused, ToolRegistry};
use crate::app::App;
use crate::db::DbError;
use crate::kinds::AgentMode;

/// The process's registry (it holds the agent's half of the restart gate per channel).
pub fn registry() -> &'static ToolRegistry {
    static REGISTRY: OnceLock<ToolRegistry> = OnceLock::new();
    REGISTRY.get_or_init(ToolRegistry::default)
}

pub fn mode(app: &App) -> AgentMode {
    app.settings().ai.agent.mode
}

/// Why a queued fix was not run.
#[derive(Debug)]
pub enum ApplyError {
    /// The agent's mode does not run fixes (`off`, `dry_run`).
    Mode(AgentMode),
    NotFound(i64),
    /// The fix was decided already (executed, failed, rejected).
    Decided(i64, String),
    Refused(Refused),
    Db(DbError),
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Mode(m) => write!(
                f,
                "the troubleshooting agent's mode is {}: fixes are not executed (set ai.agent.mode to approve or auto)",
                m.as_str()
            ),
            ApplyError::NotFound(id) => write!(f, "fix {id} not found"),
            ApplyError::Decided(id, s) => write!(f, "fix {id} is {s} already"),
            ApplyError::Refused(r) => write!(f, "refused: {r}"),
            ApplyError::Db(e) => write!(f, "database: {e}"),
        }
    }
}

impl From<DbError> for ApplyError {
    fn from(e: DbError) -> Self {
        ApplyError::Db(e)
    }
}

async fn pending(app: &App, id: i64) -> Result<Fix, ApplyError> {
    let fix = app
        .db
        .read(move |conn| queue::get(conn, id))
        .await?
        .ok_or(ApplyError::NotFound(id))?;
    if fix.status != Status::Pending.as_str() {
        return Err(ApplyError::Decided(id, fix.status));
    }
    Ok(fix)
}

/// Runs the queued fix `id` through the registry's guard and records its outcome; only in
/// the `approve` and `auto` modes.
pub async fn apply(app: &Arc<App>, id: i64) -> Result<Fix, ApplyError> {
    let mode = mode(app);
    if !matches!(mode, AgentMode::Approve | AgentMode::Auto) {
        return Err(ApplyError::Mode(mode));
    }
    let fix = pending(app, id).await?;
    let call = fix
        .parsed()
        .ok_or_else(|| ApplyError::Refused(Refused::UnknownTool(fix.tool.clone())))?;
    let result = registry().execute(app, &call).await;
    let (status, outcome) = match &result {
        Ok(done) => (
            Status::Executed,
            done.as_str().map_or(done.to_string(), str::to_owned),
        ),
        Err(r) => (Status::Failed, r.to_string()),
    };
    let now = crate::time::now_ms();
    let decided = app
        .db
        .write(move |conn| {
            queue::decide(conn, id, status, &outcome, now)?;
            queue::get(conn, id)
        })
        .await?;
    match result {
        Err(r) => Err(ApplyError::Refused(r)),
        Ok(_) => decided.ok_or(ApplyError::NotFound(id)),
    }
}

/// Rejects the queued fix `id` (nothing runs); allowed in every mode.
pub async fn reject(app: &App, id: i64, reason: &str) -> Result<(), ApplyError> {
    pending(app, id).await?;
    let outcome = format!("rejected: {reason}");
    let now = crate::time::now_ms();
    let done = app
        .db
        .write(move |conn| queue::decide(conn, id, Status::Rejected, &outcome, now))
        .await?;
    if done {
        Ok(())
    } else {
        Err(ApplyError::Decided(id, "decided".into()))
    }
}

/// The media item a playout item plays (the detector sees only playout items).
pub async fn media_of(app: &App, playout_item_id: Option<i64>) -> Option<i64> {
    let id = playout_item_id?;
    app.db
        .read(move |conn| {
            use rusqlite::OptionalExtension;
            Ok(conn
                .query_row(
                    "SELECT media_item_id FROM playout_items WHERE id = ?1",
                    [id],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .optional()?
                .flatten())
        })
        .await
        .ok()
        .flatten()
}

/// Whether a log record is one the detector reads: warnings and errors, not the agent's
/// own lines or the audit log (it must not feed on what it writes).
pub fn is_evidence(entry: &crate::logging::LogEntry) -> bool {
    matches!(entry.level, "WARNING" | "ERROR")
        && entry.logger != crate::logging::AUDIT_TARGET
        && !entry.logger.starts_with("exstreamtv::agent")
}
