//! The M3U sources (`/api/integrations/iptv/sources`): each playlist URL we read channels
//! from, with what its last read found (channel count, when, the error if it failed). An
//! import through `/api/import/m3u/import` records its playlist here too, so the list
//! shows every source the lineup's relayed channels came from, and the channels remember
//! their source (`relayed_tvg_ids`), so its guide (`url_tvg`) is merged into ours. Knows no
//! HTTP; the only JSON is the relay metadata the import stored.

use rusqlite::{params, Connection, OptionalExtension};

use crate::db::DbError;

#[derive(Debug, Clone)]
pub struct M3uSource {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub channel_count: i64,
    pub last_refresh_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    /// The playlist's own XMLTV (`#EXTM3U url-tvg`), as its last good read gave it.
    pub url_tvg: Option<String>,
}

/// What one read of a source's playlist found.
pub enum Read<'a> {
    Channels(i64),
    Failed(&'a str),
}

const COLUMNS: &str =
    "id, name, url, enabled, channel_count, last_refresh_ms, last_error, created_at_ms, url_tvg";

fn source_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<M3uSource> {
    Ok(M3uSource {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        enabled: r.get(3)?,
        channel_count: r.get(4)?,
        last_refresh_ms: r.get(5)?,
        last_error: r.get(6)?,
        created_at_ms: r.get(7)?,
        url_tvg: r.get(8)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<M3uSource>, DbError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM m3u_sources ORDER BY id"))?;
    let rows = stmt.query_map([], source_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<M3uSource>, DbError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM m3u_sources WHERE id = ?1"))?;
    Ok(stmt.query_row([id], source_of).optional()?)
}

/// The source at `url`, created (named `name`) when new, with this read recorded; its id.
pub fn upsert(
    conn: &Connection,
    name: &str,
    url: &str,
    read: Read<'_>,
    now_ms: i64,
) -> Result<i64, DbError> {
    conn.execute(
        "INSERT INTO m3u_sources (name, url, created_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT(url) DO NOTHING",
        params![name, url, now_ms],
    )?;
    let id: i64 = conn.query_row("SELECT id FROM m3u_sources WHERE url = ?1", [url], |r| {
        r.get(0)
    })?;
    record(conn, id, read, now_ms)?;
    Ok(id)
}

/// Records one read of source `id`: a count clears the error; a failure keeps the count
/// of the last good read.
pub fn record(conn: &Connection, id: i64, read: Read<'_>, now_ms: i64) -> Result<(), DbError> {
    match read {
        Read::Channels(n) => conn.execute(
            "UPDATE m3u_sources SET channel_count = ?2, last_refresh_ms = ?3, last_error = NULL
             WHERE id = ?1",
            params![id, n, now_ms],
        )?,
        Read::Failed(why) => conn.execute(
            "UPDATE m3u_sources SET last_refresh_ms = ?2, last_error = ?3 WHERE id = ?1",
            params![id, now_ms, why],
        )?,
    };
    Ok(())
}

/// Records the guide URL the source's playlist named (none: it names none now).
pub fn set_url_tvg(conn: &Connection, id: i64, url_tvg: Option<&str>) -> Result<(), DbError> {
    conn.execute(
        "UPDATE m3u_sources SET url_tvg = ?2 WHERE id = ?1",
        params![id, url_tvg],
    )?;
    Ok(())
}

/// The sources that name a guide: `(id, url_tvg)`.
pub fn with_guides(conn: &Connection) -> Result<Vec<(i64, String)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, url_tvg FROM m3u_sources WHERE url_tvg IS NOT NULL AND enabled ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The relayed channels imported from an M3U source: `(channel id, source id, tvg-id)`,
/// from what the import stored with each channel's live item (`"m3u_source_id"`,
/// `"tvg_id"` in its metadata).
pub fn relayed_tvg_ids(conn: &Connection) -> Result<Vec<(i64, i64, String)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT s.channel_id, mi.meta_data FROM media_items mi
         JOIN schedule_items si ON si.media_item_id = mi.id
         JOIN schedules s ON s.id = si.schedule_id
         WHERE mi.source = 'live' AND s.channel_id IS NOT NULL
           AND instr(mi.meta_data, '\"m3u_source_id\":') > 0
         ORDER BY s.channel_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (channel_id, meta) = row?;
        // Text the import wrote; a row edited into something else is left out.
        let Ok(meta) = serde_json::from_str::<RelayMeta>(&meta) else {
            continue;
        };
        if let (Some(source), Some(tvg_id)) = (meta.m3u_source_id, meta.tvg_id) {
            out.push((channel_id, source, tvg_id));
        }
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct RelayMeta {
    m3u_source_id: Option<i64>,
    tvg_id: Option<String>,
}

/// Forgets the source (its relayed channels stay: they are channels of their own).
pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM m3u_sources WHERE id = ?1", [id])? > 0)
}
