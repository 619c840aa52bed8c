//! The agent's queue and history in SQLite (`agent_fixes`): fixes waiting for approval
//! (`pending`) and what became of every fix (`executed`, `failed`, `rejected`). Bounded:
//! at most `MAX_PENDING` wait (a proposal already waiting is not queued twice) and the
//! newest `MAX_HISTORY` decided rows are kept. Knows no HTTP.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::tools::Call;
use crate::db::DbError;

pub const MAX_PENDING: i64 = 50;
pub const MAX_HISTORY: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Executed,
    Failed,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Executed => "executed",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
        }
    }
}

/// One row, as the routes show it.
#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub id: i64,
    pub tool: String,
    pub call: Value,
    pub pattern: Option<String>,
    pub reason: String,
    pub status: String,
    pub outcome: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl Fix {
    /// The stored call; `None` when the row no longer parses (it is then refused).
    pub fn parsed(&self) -> Option<Call> {
        serde_json::from_value(self.call.clone()).ok()
    }
}

const COLUMNS: &str =
    "id, tool, call, pattern, reason, status, outcome, created_at_ms, decided_at_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Fix> {
    let call: String = r.get(2)?;
    Ok(Fix {
        id: r.get(0)?,
        tool: r.get(1)?,
        call: serde_json::from_str(&call).unwrap_or(Value::Null),
        pattern: r.get(3)?,
        reason: r.get(4)?,
        status: r.get(5)?,
        outcome: r.get(6)?,
        created_at: crate::time::rfc3339(r.get(7)?),
        decided_at: r.get::<_, Option<i64>>(8)?.map(crate::time::rfc3339),
    })
}

fn call_json(call: &Call) -> String {
    serde_json::to_string(call).unwrap_or_default()
}

/// Queues `call` for approval: the id of its pending row (an equal one waiting already is
/// reused), `None` when `MAX_PENDING` wait.
pub fn enqueue(
    conn: &Connection,
    call: &Call,
    pattern: Option<&str>,
    reason: &str,
    now_ms: i64,
) -> Result<Option<i64>, DbError> {
    let json = call_json(call);
    let waiting: Option<i64> = conn
        .query_row(
            "SELECT id FROM agent_fixes WHERE status = 'pending' AND call = ?1",
            [&json],
            |r| r.get(0),
        )
        .optional()?;
    if waiting.is_some() {
        return Ok(waiting);
    }
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM agent_fixes WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?;
    if n >= MAX_PENDING {
        return Ok(None);
    }
    conn.execute(
        "INSERT INTO agent_fixes (tool, call, pattern, reason, status, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
        params![call.tool.as_str(), json, pattern, reason, now_ms],
    )?;
    Ok(Some(conn.last_insert_rowid()))
}

/// A fix decided at once (the `auto` mode): straight into the history.
pub fn record(
    conn: &Connection,
    call: &Call,
    pattern: Option<&str>,
    reason: &str,
    status: Status,
    outcome: &str,
    now_ms: i64,
) -> Result<i64, DbError> {
    conn.execute(
        "INSERT INTO agent_fixes (tool, call, pattern, reason, status, outcome, created_at_ms, decided_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![call.tool.as_str(), call_json(call), pattern, reason, status.as_str(), outcome, now_ms],
    )?;
    let id = conn.last_insert_rowid();
    prune(conn)?;
    Ok(id)
}

/// Decides a pending fix; false when `id` is not pending (decided already, or absent).
pub fn decide(
    conn: &Connection,
    id: i64,
    status: Status,
    outcome: &str,
    now_ms: i64,
) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE agent_fixes SET status = ?2, outcome = ?3, decided_at_ms = ?4
         WHERE id = ?1 AND status = 'pending'",
        params![id, status.as_str(), outcome, now_ms],
    )?;
    prune(conn)?;
    Ok(n == 1)
}

fn prune(conn: &Connection) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM agent_fixes WHERE status != 'pending' AND id NOT IN
           (SELECT id FROM agent_fixes WHERE status != 'pending' ORDER BY id DESC LIMIT ?1)",
        [MAX_HISTORY],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Fix>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM agent_fixes WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], row).optional()?)
}

/// The pending fixes, oldest first, or the decided ones, newest first.
pub fn list(conn: &Connection, pending: bool) -> Result<Vec<Fix>, DbError> {
    let sql = if pending {
        format!("SELECT {COLUMNS} FROM agent_fixes WHERE status = 'pending' ORDER BY id")
    } else {
        format!("SELECT {COLUMNS} FROM agent_fixes WHERE status != 'pending' ORDER BY id DESC")
    };
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
