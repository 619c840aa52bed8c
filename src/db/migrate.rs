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
    // 3 -> 4: blocks and templates (ops::blocks, ops::templates): time-of-day programming.
    "CREATE TABLE block_groups (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE blocks (
        id               INTEGER PRIMARY KEY,
        name             TEXT NOT NULL,
        group_id         INTEGER REFERENCES block_groups(id),
        start_time       TEXT NOT NULL,
        duration_minutes INTEGER NOT NULL,
        days_of_week     INTEGER NOT NULL DEFAULT 127,
        stop_before_end  INTEGER NOT NULL DEFAULT 1,
        created_at_ms    INTEGER NOT NULL,
        updated_at_ms    INTEGER NOT NULL
    );
    CREATE TABLE block_items (
        id               INTEGER PRIMARY KEY,
        block_id         INTEGER NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
        position         INTEGER NOT NULL,
        collection_type  TEXT NOT NULL DEFAULT 'collection',
        collection_id    INTEGER NOT NULL,
        playback_order   TEXT NOT NULL DEFAULT 'chronological',
        include_in_guide INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX block_items_block ON block_items(block_id, position);
    CREATE TABLE template_groups (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE templates (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        group_id      INTEGER REFERENCES template_groups(id),
        is_enabled    INTEGER NOT NULL DEFAULT 1,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE template_items (
        id          INTEGER PRIMARY KEY,
        template_id INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        block_id    INTEGER NOT NULL REFERENCES blocks(id),
        start_time  TEXT NOT NULL
    );
    CREATE INDEX template_items_template ON template_items(template_id, start_time);
    CREATE INDEX template_items_block ON template_items(block_id);
    CREATE TABLE playout_templates (
        id            INTEGER PRIMARY KEY,
        playout_id    INTEGER NOT NULL REFERENCES playouts(id) ON DELETE CASCADE,
        template_id   INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        days_of_week  INTEGER NOT NULL,
        priority      INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL
    );
    CREATE INDEX playout_templates_playout ON playout_templates(playout_id);",
    // 4 -> 5: deco (ops::deco): break assets and each channel's secondary content.
    "CREATE TABLE deco_groups (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE deco (
        id                      INTEGER PRIMARY KEY,
        name                    TEXT NOT NULL,
        group_id                INTEGER REFERENCES deco_groups(id),
        deco_type               TEXT NOT NULL DEFAULT 'bumper',
        media_item_id           INTEGER REFERENCES media_items(id) ON DELETE SET NULL,
        file_path               TEXT,
        duration_seconds        REAL,
        static_duration_seconds REAL NOT NULL DEFAULT 5,
        weight                  INTEGER NOT NULL DEFAULT 1,
        created_at_ms           INTEGER NOT NULL,
        updated_at_ms           INTEGER NOT NULL
    );
    CREATE INDEX deco_group ON deco(group_id);
    CREATE TABLE channel_deco (
        channel_id                   INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
        deco_group_id                INTEGER REFERENCES deco_groups(id),
        breaks                       TEXT NOT NULL DEFAULT 'none',
        break_every_minutes          INTEGER,
        break_count                  INTEGER NOT NULL DEFAULT 1,
        default_filler_mode          TEXT NOT NULL DEFAULT 'inherit',
        default_filler_collection_id INTEGER REFERENCES collections(id) ON DELETE SET NULL,
        watermark_mode               TEXT NOT NULL DEFAULT 'inherit',
        watermark_id                 INTEGER,
        updated_at_ms                INTEGER NOT NULL
    );
    CREATE TABLE channel_deco_windows (
        id            INTEGER PRIMARY KEY,
        channel_id    INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        start_time    TEXT NOT NULL,
        end_time      TEXT NOT NULL,
        deco_group_id INTEGER REFERENCES deco_groups(id)
    );
    CREATE INDEX channel_deco_windows_channel ON channel_deco_windows(channel_id, position);",
    // 5 -> 6: Plex, Jellyfin and Emby servers (library::remote).
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
    // 6 -> 7: media validation verdicts (library::validate).
    "CREATE TABLE media_validations (
        media_item_id INTEGER PRIMARY KEY REFERENCES media_items(id) ON DELETE CASCADE,
        valid         INTEGER NOT NULL,
        reason        TEXT,
        file_size     INTEGER,
        checked_at_ms INTEGER NOT NULL
    );",
    // 7 -> 8: watermarks (ops::watermarks): the PNG lives in the row, so a backup stays one
    // file; a block item may turn them off, and its playout items remember it.
    "CREATE TABLE watermarks (
        id                          INTEGER PRIMARY KEY,
        name                        TEXT NOT NULL,
        mode                        TEXT NOT NULL DEFAULT 'permanent',
        image_source                TEXT NOT NULL DEFAULT 'custom',
        location                    TEXT NOT NULL DEFAULT 'bottom_right',
        size                        TEXT NOT NULL DEFAULT 'scaled',
        width_percent               REAL NOT NULL DEFAULT 15,
        horizontal_margin_percent   REAL NOT NULL DEFAULT 5,
        vertical_margin_percent     REAL NOT NULL DEFAULT 5,
        frequency_minutes           INTEGER NOT NULL DEFAULT 15,
        duration_seconds            INTEGER NOT NULL DEFAULT 15,
        opacity                     INTEGER NOT NULL DEFAULT 100,
        place_within_source_content INTEGER NOT NULL DEFAULT 0,
        opacity_expression          TEXT,
        z_index                     INTEGER NOT NULL DEFAULT 0,
        image                       BLOB,
        image_sha256                TEXT,
        original_content_type       TEXT,
        created_at_ms               INTEGER NOT NULL,
        updated_at_ms               INTEGER NOT NULL
    );
    ALTER TABLE block_items ADD COLUMN disable_watermarks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE playout_items ADD COLUMN watermark_off INTEGER NOT NULL DEFAULT 0;",
    // 8 -> 9: scripted build sessions (ops::build_sessions).
    "CREATE TABLE build_sessions (
        id                INTEGER PRIMARY KEY,
        playout_id        INTEGER NOT NULL REFERENCES playouts(id) ON DELETE CASCADE,
        status            TEXT NOT NULL DEFAULT 'building',  -- building|committed|cancelled|expired
        -- Where the buffered items replace the timeline at commit, and where the next verb adds.
        start_ms          INTEGER NOT NULL,
        cursor_ms         INTEGER NOT NULL,
        -- The builder's state at the cursor (JSON, playout::Anchor): collection cursors.
        anchor            TEXT NOT NULL,
        watermark_enabled INTEGER NOT NULL DEFAULT 1,
        graphics_enabled  INTEGER NOT NULL DEFAULT 1,
        pre_roll_enabled  INTEGER NOT NULL DEFAULT 1,
        -- An open EPG group: its items show as one programme of this title.
        epg_group_title   TEXT,
        epg_group_opened  INTEGER NOT NULL DEFAULT 0,
        expires_at_ms     INTEGER NOT NULL,
        created_at_ms     INTEGER NOT NULL,
        updated_at_ms     INTEGER NOT NULL
    );
    CREATE INDEX build_sessions_playout ON build_sessions(playout_id, status);
    CREATE TABLE build_session_items (
        id            INTEGER PRIMARY KEY,
        session_id    INTEGER NOT NULL REFERENCES build_sessions(id) ON DELETE CASCADE,
        media_item_id INTEGER REFERENCES media_items(id) ON DELETE SET NULL,
        title         TEXT NOT NULL,
        episode_title TEXT,
        start_ms      INTEGER NOT NULL,
        finish_ms     INTEGER NOT NULL CHECK (finish_ms > start_ms),
        in_point_ms   INTEGER NOT NULL DEFAULT 0,
        filler_kind   TEXT,
        custom_title  TEXT,
        guide_mode    TEXT NOT NULL DEFAULT 'normal',
        watermark_off INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX build_session_items_session ON build_session_items(session_id, start_ms);",
    // 9 -> 10: notification webhooks (ops::notifications, notify) and M3U sources
    // (ops::m3u_sources).
    "CREATE TABLE notification_services (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        service_type  TEXT NOT NULL DEFAULT 'webhook',  -- webhook|discord|slack
        url           TEXT NOT NULL,
        events        TEXT NOT NULL DEFAULT '',         -- comma-separated kinds; empty = all
        enabled       INTEGER NOT NULL DEFAULT 1,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE notification_history (
        id            INTEGER PRIMARY KEY,
        service       TEXT NOT NULL,
        event         TEXT NOT NULL,
        success       INTEGER NOT NULL,
        status_code   INTEGER,
        error         TEXT,
        attempts      INTEGER NOT NULL,
        sent_at_ms    INTEGER NOT NULL
    );
    CREATE TABLE m3u_sources (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL,
        url             TEXT NOT NULL UNIQUE,
        enabled         INTEGER NOT NULL DEFAULT 1,
        channel_count   INTEGER NOT NULL DEFAULT 0,
        last_refresh_ms INTEGER,
        last_error      TEXT,
        created_at_ms   INTEGER NOT NULL
    );",
    // 10 -> 11: the AI channel creator's plans and chat sessions (ai::store): JSON bodies,
    // 24 h TTL.
    "CREATE TABLE ai_plans (
        id            TEXT PRIMARY KEY,
        status        TEXT NOT NULL,
        body          TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX ai_plans_created ON ai_plans(created_at_ms);
    CREATE TABLE ai_sessions (
        id            TEXT PRIMARY KEY,
        body          TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX ai_sessions_created ON ai_sessions(created_at_ms);",
    // 11 -> 12: the troubleshooting agent's queue and fix history (agent::queue).
    "CREATE TABLE agent_fixes (
        id            INTEGER PRIMARY KEY,
        tool          TEXT NOT NULL,
        call          TEXT NOT NULL,
        pattern       TEXT,
        reason        TEXT NOT NULL DEFAULT '',
        status        TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'executed', 'failed', 'rejected')),
        outcome       TEXT,
        created_at_ms INTEGER NOT NULL,
        decided_at_ms INTEGER
    );
    CREATE INDEX agent_fixes_status ON agent_fixes(status, id);",
    // 12 -> 13: the web UI's login sessions (web::session); only the id's SHA-256 is kept.
    "CREATE TABLE web_sessions (
        hash          TEXT PRIMARY KEY,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );",
    // 13 -> 14: an M3U source's own guide (`#EXTM3U url-tvg`, iptv::source_guide).
    "ALTER TABLE m3u_sources ADD COLUMN url_tvg TEXT;",
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
             DROP TABLE playout_templates; DROP TABLE template_items; DROP TABLE templates;
             DROP TABLE template_groups; DROP TABLE block_items; DROP TABLE blocks;
             DROP TABLE block_groups; DROP TABLE channel_deco_windows; DROP TABLE channel_deco;
             DROP TABLE deco; DROP TABLE deco_groups;
             ALTER TABLE libraries DROP COLUMN media_source_id;
             ALTER TABLE libraries DROP COLUMN remote_key;
             DROP TABLE media_sources; DROP TABLE media_validations;
             DROP TABLE watermarks;
             ALTER TABLE playout_items DROP COLUMN watermark_off;
             DROP TABLE build_session_items; DROP TABLE build_sessions;
             DROP TABLE notification_services; DROP TABLE notification_history;
             ALTER TABLE m3u_sources DROP COLUMN url_tvg; DROP TABLE m3u_sources;
             DROP TABLE ai_plans; DROP TABLE ai_sessions;
             DROP TABLE agent_fixes;
             DROP TABLE web_sessions;
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
