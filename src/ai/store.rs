//! Plans and chat sessions in SQLite (`ai_plans`, `ai_sessions`), so they survive a
//! restart and never grow without bound: each lives 24 hours from its creation, and
//! every access purges the expired ones first (in the same write transaction).

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::db::DbError;
use crate::time::UnixMs;

/// How long a plan or a session lives.
pub const TTL_MS: i64 = 24 * 3_600_000;

/// Deletes every plan and session older than the TTL.
pub fn purge(conn: &Connection, now_ms: UnixMs) -> Result<(), DbError> {
    let cutoff = now_ms - TTL_MS;
    conn.execute("DELETE FROM ai_plans WHERE created_at_ms < ?1", [cutoff])?;
    conn.execute("DELETE FROM ai_sessions WHERE created_at_ms < ?1", [cutoff])?;
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| DbError::Corrupt(e.to_string()))
}

pub fn save_plan(conn: &Connection, plan: &Plan, now_ms: UnixMs) -> Result<(), DbError> {
    let body = encode(plan)?;
    conn.execute(
        "INSERT INTO ai_plans (id, status, body, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, body = excluded.body,
             updated_at_ms = excluded.updated_at_ms",
        params![plan.plan_id, plan.status.as_str(), body, now_ms],
    )?;
    Ok(())
}

pub fn plan(conn: &Connection, id: &str, now_ms: UnixMs) -> Result<Option<Plan>, DbError> {
    purge(conn, now_ms)?;
    let body: Option<String> = conn
        .query_row("SELECT body FROM ai_plans WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    body.map(|b| serde_json::from_str(&b).map_err(|e| DbError::Corrupt(format!("plan {id}: {e}"))))
        .transpose()
}

pub fn delete_plan(conn: &Connection, id: &str, now_ms: UnixMs) -> Result<bool, DbError> {
    purge(conn, now_ms)?;
    Ok(conn.execute("DELETE FROM ai_plans WHERE id = ?1", [id])? > 0)
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// A conversation with a persona about one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub session_id: String,
    pub persona_id: Option<String>,
    pub stage: String,
    pub messages: Vec<Message>,
    /// The channel asked for so far, in the user's words (what `/create` plans from).
    pub specification: Option<String>,
    pub ready_to_build: bool,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
}

pub fn save_session(conn: &Connection, s: &Session, now_ms: UnixMs) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO ai_sessions (id, body, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET body = excluded.body, updated_at_ms = excluded.updated_at_ms",
        params![s.session_id, encode(s)?, s.created_at, now_ms],
    )?;
    Ok(())
}

pub fn session(conn: &Connection, id: &str, now_ms: UnixMs) -> Result<Option<Session>, DbError> {
    purge(conn, now_ms)?;
    let body: Option<String> = conn
        .query_row("SELECT body FROM ai_sessions WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    body.map(|b| {
        serde_json::from_str(&b).map_err(|e| DbError::Corrupt(format!("session {id}: {e}")))
    })
    .transpose()
}

pub fn sessions(conn: &Connection, now_ms: UnixMs) -> Result<Vec<Session>, DbError> {
    purge(conn, now_ms)?;
    let bodies: Vec<String> = conn
        .prepare("SELECT body FROM ai_sessions ORDER BY created_at_ms, id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(bodies
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect())
}

pub fn delete_session(conn: &Connection, id: &str, now_ms: UnixMs) -> Result<bool, DbError> {
    purge(conn, now_ms)?;
    Ok(conn.execute("DELETE FROM ai_sessions WHERE id = ?1", [id])? > 0)
}
