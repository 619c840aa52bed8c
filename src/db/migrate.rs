//! Schema versions via `PRAGMA user_version`. A fresh database gets `schema.sql` whole; an
//! older one runs each step from its version up, all inside one transaction, so a crash
//! mid-upgrade leaves the old version intact. A newer database is refused, never touched.

use std::path::Path;

use rusqlite::Connection;

use super::DbError;

const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// `STEPS[i]` upgrades version `i + 1` to `i + 2`. Append only; `schema.sql` must always equal
/// the result of applying every step (a unit test checks it).
const STEPS: &[&str] = &[
    // 1 -> 2: schedule history (ops::schedule_history).
    "CREATE TABLE schedule_history (
        id            INTEGER PRIMARY KEY,
        schedule_id   INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
        label         TEXT NOT NULL,
        schedule      TEXT NOT NULL,
        items         TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE INDEX schedule_history_schedule ON schedule_history(schedule_id, id);",
    // 2 -> 3: copy-first streaming (kinds::CopyMode).
    "ALTER TABLE ffmpeg_profiles ADD COLUMN copy_mode TEXT NOT NULL DEFAULT 'passthrough';",
    // 3 -> 4: Plex, Jellyfin and Emby servers (library::remote).
    "CREATE TABLE media_sources (
        id                INTEGER PRIMARY KEY,
        source_type       TEXT NOT NULL,
        name              TEXT NOT NULL,
        server_url        TEXT NOT NULL,
        secret            TEXT NOT NULL DEFAULT '',
        user_id           TEXT,
        verify_tls        INTEGER NOT NULL DEFAULT 1,
        path_replacements TEXT NOT NULL DEFAULT '[]',
        is_enabled        INTEGER NOT NULL DEFAULT 1,
        created_at_ms     INTEGER NOT NULL,
        updated_at_ms     INTEGER NOT NULL
    );
    ALTER TABLE libraries ADD COLUMN media_source_id INTEGER REFERENCES media_sources(id) ON DELETE CASCADE;
    ALTER TABLE libraries ADD COLUMN remote_key TEXT;",
];

pub const SCHEMA_VERSION: i64 = 1 + STEPS.len() as i64;

pub(super) fn check_integrity(conn: &Connection) -> Result<(), DbError> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::NotADatabase =>
            {
                DbError::Corrupt(msg.unwrap_or_else(|| "file is not a database".into()))
            }
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
            {
                DbError::Corrupt(msg.unwrap_or_else(|| "malformed".into()))
            }
            other => DbError::Sqlite(other),
        })?;
    if verdict != "ok" {
        return Err(DbError::Corrupt(verdict));
    }
    Ok(())
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    if version == 0 {
        let n_tables: i64 = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )?;
        if n_tables > 0 {
            return Err(DbError::Foreign(path.to_path_buf()));
        }
        tx.execute_batch(SCHEMA_SQL)?;
    } else {
        for step in &STEPS[(version - 1) as usize..] {
            tx.execute_batch(step)?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    tracing::info!(
        from = version,
        to = SCHEMA_VERSION,
        "database schema migrated"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_gets_the_current_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // Idempotent.
        migrate(&mut conn, Path::new(":memory:")).unwrap();
    }

    /// A database of version 1 (before schedule history and `copy_mode`) upgrades in place:
    /// its profiles get the default, and its tables end up as a fresh database's.
    #[test]
    fn a_version_1_database_upgrades() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA_SQL).unwrap();
        conn.execute_batch(
            "ALTER TABLE ffmpeg_profiles DROP COLUMN copy_mode;
             DROP TABLE schedule_history;
             ALTER TABLE libraries DROP COLUMN media_source_id;
             ALTER TABLE libraries DROP COLUMN remote_key;
             DROP TABLE media_sources;
             INSERT INTO ffmpeg_profiles (name, resolution_id, created_at_ms, updated_at_ms)
             VALUES ('old', 2, 1, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let mode: String = conn
            .query_row("SELECT copy_mode FROM ffmpeg_profiles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "passthrough");
        let columns = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare("SELECT name FROM pragma_table_info('ffmpeg_profiles') ORDER BY cid")
                .unwrap();
            let rows = stmt.query_map([], |r| r.get(0)).unwrap();
            rows.map(Result::unwrap).collect()
        };
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh, Path::new(":memory:")).unwrap();
        assert_eq!(columns(&conn), columns(&fresh));
    }

    #[test]
    fn the_schedule_history_step_builds_the_table_schema_sql_has() {
        // Found by content, so the test holds whatever order the steps are merged in.
        let step = STEPS
            .iter()
            .find(|s| s.contains("CREATE TABLE schedule_history"))
            .expect("the schedule history step");
        let layout = |conn: &Connection| -> Vec<(String, String, bool, Option<String>)> {
            conn.prepare(
                "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('schedule_history')",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let fresh = Connection::open_in_memory().unwrap();
        fresh.execute_batch(SCHEMA_SQL).unwrap();
        let stepped = Connection::open_in_memory().unwrap();
        stepped.execute_batch(SCHEMA_SQL).unwrap();
        stepped
            .execute_batch("DROP TABLE schedule_history")
            .unwrap();
        stepped.execute_batch(step).unwrap();
        assert_eq!(layout(&fresh).len(), 6);
        assert_eq!(layout(&stepped), layout(&fresh));
        let index = |conn: &Connection| -> Option<String> {
            conn.query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'schedule_history_schedule'",
                [],
                |r| r.get(0),
            )
            .ok()
        };
        assert_eq!(index(&stepped), index(&fresh));
        assert!(index(&fresh).is_some());
    }

    #[test]
    fn newer_and_foreign_databases_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn, Path::new("x")),
            Err(DbError::TooNew { .. })
        ));
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE other (x)").unwrap();
        assert!(matches!(
            migrate(&mut conn, Path::new("x")),
            Err(DbError::Foreign(_))
        ));
    }
}
