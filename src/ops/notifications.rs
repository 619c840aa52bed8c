//! The notification services (`notify`) and their delivery history: a service is a named
//! webhook URL, the body it reads and the event kinds it wants (none = all); the history
//! keeps the newest `KEEP_HISTORY` deliveries. Knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension};

use crate::db::DbError;
use crate::kinds::{EventKind, ServiceType};

/// Deliveries kept: weeks of a home server's events, a few hundred KiB at most.
pub const KEEP_HISTORY: i64 = 500;

#[derive(Debug, Clone)]
pub struct Service {
    pub id: i64,
    pub name: String,
    pub service_type: ServiceType,
    pub url: String,
    /// The kinds it wants; empty = every kind.
    pub events: Vec<EventKind>,
    pub enabled: bool,
    pub created_at_ms: i64,
}

impl Service {
    pub fn wants(&self, kind: EventKind) -> bool {
        kind == EventKind::Test || self.events.is_empty() || self.events.contains(&kind)
    }
}

/// One delivery's outcome.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub success: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub attempts: u32,
}

/// A delivery as the history holds it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: i64,
    pub service: String,
    pub event: String,
    pub delivery: Delivery,
    pub sent_at_ms: i64,
}

#[derive(Debug)]
pub enum NotificationError {
    NotFound,
    NameTaken,
    Db(DbError),
}

impl fmt::Display for NotificationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotificationError::NotFound => f.write_str("notification service not found"),
            NotificationError::NameTaken => {
                f.write_str("name: a notification service of that name exists")
            }
            NotificationError::Db(e) => write!(f, "{e}"),
        }
    }
}

impl From<DbError> for NotificationError {
    fn from(e: DbError) -> Self {
        NotificationError::Db(e)
    }
}

impl From<rusqlite::Error> for NotificationError {
    fn from(e: rusqlite::Error) -> Self {
        NotificationError::Db(e.into())
    }
}

const COLUMNS: &str = "id, name, service_type, url, events, enabled, created_at_ms";

fn service_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Service> {
    let kind: String = row.get(2)?;
    let events: String = row.get(4)?;
    Ok(Service {
        id: row.get(0)?,
        name: row.get(1)?,
        service_type: kind.parse().unwrap_or(ServiceType::Webhook),
        url: row.get(3)?,
        // Stored by `create` from parsed kinds; an unknown one (a newer version's) is skipped.
        events: events.split(',').filter_map(|e| e.parse().ok()).collect(),
        enabled: row.get(5)?,
        created_at_ms: row.get(6)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<Service>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM notification_services ORDER BY lower(name), id"
    ))?;
    let rows = stmt.query_map([], service_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn enabled(conn: &Connection) -> Result<Vec<Service>, DbError> {
    Ok(list(conn)?.into_iter().filter(|s| s.enabled).collect())
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<Service>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM notification_services WHERE name = ?1"
    ))?;
    Ok(stmt.query_row([name], service_of).optional()?)
}

/// A new service; its URL already through `http::url_guard`.
pub struct NewService<'a> {
    pub name: &'a str,
    pub service_type: ServiceType,
    pub url: &'a str,
    pub events: &'a [EventKind],
    pub enabled: bool,
}

pub fn create(
    conn: &Connection,
    new: &NewService<'_>,
    now_ms: i64,
) -> Result<Service, NotificationError> {
    if by_name(conn, new.name)?.is_some() {
        return Err(NotificationError::NameTaken);
    }
    let events: Vec<&str> = new.events.iter().map(|e| e.as_str()).collect();
    conn.execute(
        "INSERT INTO notification_services (name, service_type, url, events, enabled, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            new.name,
            new.service_type.as_str(),
            new.url,
            events.join(","),
            new.enabled,
            now_ms
        ],
    )?;
    by_name(conn, new.name)?.ok_or(NotificationError::NotFound)
}

pub fn delete(conn: &Connection, name: &str) -> Result<(), NotificationError> {
    match conn.execute("DELETE FROM notification_services WHERE name = ?1", [name])? {
        0 => Err(NotificationError::NotFound),
        _ => Ok(()),
    }
}

/// Records one delivery and forgets the oldest beyond `KEEP_HISTORY`.
pub fn record(
    conn: &Connection,
    service: &str,
    event: EventKind,
    d: &Delivery,
    now_ms: i64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO notification_history
             (service, event, success, status_code, error, attempts, sent_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            service,
            event.as_str(),
            d.success,
            d.status_code,
            d.error,
            d.attempts,
            now_ms
        ],
    )?;
    conn.execute(
        "DELETE FROM notification_history WHERE id <= (SELECT max(id) FROM notification_history) - ?1",
        [KEEP_HISTORY],
    )?;
    Ok(())
}

/// The newest `limit` deliveries, newest first.
pub fn history(conn: &Connection, limit: i64) -> Result<Vec<Sent>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, service, event, success, status_code, error, attempts, sent_at_ms
         FROM notification_history ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(Sent {
            id: r.get(0)?,
            service: r.get(1)?,
            event: r.get(2)?,
            delivery: Delivery {
                success: r.get(3)?,
                status_code: r.get(4)?,
                error: r.get(5)?,
                attempts: r.get(6)?,
            },
            sent_at_ms: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
