//! The SQL of remote sources: the `media_sources` rows (a server and its secret), the
//! libraries of a server (`libraries.media_source_id`, `remote_key`), and a scan's page
//! writes into `media_items` — the same table local files use, so collections, schedules and
//! playouts need nothing new. A remote item's `url` is `{type}://{library}/{key}` (unique,
//! never fetched), `external_id` the path on the server that streams it, `sidecar_stamp` a
//! stamp of its metadata (an unchanged item is not rewritten) and `path_bytes` the local
//! file a path replacement found, if any. Runs on the DB threads; knows no HTTP.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{RemoteItem, Server};
use crate::db::DbError;
use crate::kinds::{LibraryType, SourceType};

use crate::time::UnixMs;

/// A `media_sources` row with its counts. `secret` stays in this process: views redact it.
#[derive(Clone)]
pub struct SourceRow {
    pub id: i64,
    pub source_type: SourceType,
    pub name: String,
    pub server_url: String,
    pub secret: String,
    pub user_id: Option<String>,
    pub verify_tls: bool,
    pub path_replacements: Vec<Replacement>,
    pub is_enabled: bool,
    pub library_count: i64,
    pub item_count: i64,
    pub last_scan_ms: Option<UnixMs>,
}

/// A server path prefix and the local prefix it maps to (ErsatzTV's and Tunarr's `{from, to}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replacement {
    pub from: String,
    pub to: String,
}

impl SourceRow {
    pub fn server(&self) -> Server {
        let mut server = Server::new(self.source_type, &self.server_url, &self.secret, &self.name);
        server.user_id = self.user_id.clone();
        server
    }

    /// The local path of a server path, by the first replacement whose `from` prefixes it.
    pub fn local_path(&self, server_path: &str) -> Option<String> {
        self.path_replacements.iter().find_map(|r| {
            let rest = server_path.strip_prefix(r.from.as_str())?;
            Some(format!("{}{rest}", r.to))
        })
    }
}

const SOURCE_COLUMNS: &str = "s.id, s.source_type, s.name, s.server_url, s.secret, s.user_id,
    s.verify_tls, s.path_replacements, s.is_enabled,
    (SELECT count(*) FROM libraries l WHERE l.media_source_id = s.id),
    (SELECT count(*) FROM media_items m JOIN libraries l ON l.id = m.library_id
      WHERE l.media_source_id = s.id AND m.is_missing = 0),
    (SELECT max(l.last_scan_ms) FROM libraries l WHERE l.media_source_id = s.id)";

fn source_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRow> {
    let source_type: String = row.get(1)?;
    let source_type = source_type.parse::<SourceType>().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("media_sources.source_type: {source_type}").into(),
        )
    })?;
    let replacements: String = row.get(7)?;
    Ok(SourceRow {
        id: row.get(0)?,
        source_type,
        name: row.get(2)?,
        server_url: row.get(3)?,
        secret: row.get(4)?,
        user_id: row.get(5)?,
        verify_tls: row.get(6)?,
        // Written only by `create_source` from a checked list; an edited one reads as none.
        path_replacements: serde_json::from_str(&replacements).unwrap_or_default(),
        is_enabled: row.get(8)?,
        library_count: row.get(9)?,
        item_count: row.get(10)?,
        last_scan_ms: row.get(11)?,
    })
}

pub fn sources(conn: &Connection, of: Option<SourceType>) -> Result<Vec<SourceRow>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SOURCE_COLUMNS} FROM media_sources s
         WHERE ?1 IS NULL OR s.source_type = ?1 ORDER BY s.id"
    ))?;
    let rows = stmt.query_map([of.map(|t| t.as_str())], source_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn source(conn: &Connection, id: i64) -> Result<Option<SourceRow>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SOURCE_COLUMNS} FROM media_sources s WHERE s.id = ?1"
    ))?;
    Ok(stmt.query_row([id], source_from_row).optional()?)
}

pub struct NewSource {
    pub source_type: SourceType,
    pub name: String,
    pub server_url: String,
    pub secret: String,
    pub user_id: Option<String>,
    pub verify_tls: bool,
    pub path_replacements: Vec<Replacement>,
}

pub fn create_source(conn: &Connection, new: &NewSource, now: UnixMs) -> Result<i64, DbError> {
    let replacements =
        serde_json::to_string(&new.path_replacements).map_err(|e| DbError::Io(e.into()))?;
    conn.execute(
        "INSERT INTO media_sources (source_type, name, server_url, secret, user_id, verify_tls,
                                    path_replacements, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            new.source_type.as_str(),
            new.name,
            new.server_url,
            new.secret,
            new.user_id,
            new.verify_tls,
            replacements,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Changes what is given of a source's URL, secret and switch.
pub fn update_source(
    conn: &Connection,
    id: i64,
    server_url: Option<&str>,
    secret: Option<&str>,
    enabled: Option<bool>,
    now: UnixMs,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE media_sources SET server_url = coalesce(?2, server_url),
             secret = coalesce(?3, secret), is_enabled = coalesce(?4, is_enabled),
             updated_at_ms = ?5
         WHERE id = ?1",
        params![id, server_url, secret, enabled, now],
    )?;
    Ok(())
}

/// The library ids of a source (to check that none is scanning before a delete).
pub fn source_libraries(conn: &Connection, source_id: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM libraries WHERE media_source_id = ?1")?;
    let rows = stmt.query_map([source_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A library of a server, as `POST /api/libraries/{type}` asks for it.
pub struct NewRemoteLibrary {
    pub source_id: i64,
    pub name: String,
    pub library_type: LibraryType,
    pub remote_key: String,
    pub scan_interval_hours: i64,
}

pub fn create_library(
    conn: &Connection,
    new: &NewRemoteLibrary,
    now: UnixMs,
) -> Result<Option<i64>, DbError> {
    let n = conn.execute(
        "INSERT INTO libraries (name, library_type, source_type, server_url, scan_interval_hours,
                                media_source_id, remote_key, created_at_ms, updated_at_ms)
         SELECT ?1, ?2, s.source_type, s.server_url, ?3, s.id, ?4, ?5, ?5
         FROM media_sources s WHERE s.id = ?6",
        params![
            new.name,
            new.library_type.as_str(),
            new.scan_interval_hours,
            new.remote_key,
            now,
            new.source_id
        ],
    )?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// What a scan of a remote library needs: its server, its key there, its type.
pub struct RemoteTarget {
    pub source: SourceRow,
    pub remote_key: String,
    pub library_type: LibraryType,
    pub last_scan_ms: Option<UnixMs>,
}

pub fn target(conn: &Connection, library_id: i64) -> Result<Option<RemoteTarget>, DbError> {
    let row = conn
        .query_row(
            "SELECT media_source_id, remote_key, library_type, last_scan_ms
             FROM libraries WHERE id = ?1 AND media_source_id IS NOT NULL",
            [library_id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((source_id, Some(remote_key), library_type, last_scan_ms)) = row else {
        return Ok(None);
    };
    let Some(source) = source(conn, source_id)? else {
        return Ok(None);
    };
    Ok(Some(RemoteTarget {
        source,
        remote_key,
        library_type: library_type.parse().unwrap_or(LibraryType::Other),
        last_scan_ms,
    }))
}

/// What the database knows of one remote item.
#[derive(Debug, Clone, Copy)]
pub struct KnownItem {
    pub id: i64,
    pub stamp: Option<i64>,
    pub is_missing: bool,
}

/// A library's items by server key (a few tens of bytes each: 50k items is ~3 MB).
pub fn known(conn: &Connection, library_id: i64) -> Result<HashMap<String, KnownItem>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT source_id, id, sidecar_stamp, is_missing FROM media_items
         WHERE library_id = ?1 AND source_id IS NOT NULL",
    )?;
    let rows = stmt.query_map([library_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            KnownItem {
                id: r.get(1)?,
                stamp: r.get(2)?,
                is_missing: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An item to write, with the local file a path replacement found (it exists).
pub struct ItemWrite {
    pub item: RemoteItem,
    pub local_path: Option<String>,
}

/// Writes one page's new and changed items in one transaction; returns each item's row id.
pub fn write_items(
    conn: &mut Connection,
    library_id: i64,
    source: SourceType,
    items: &[ItemWrite],
    now: UnixMs,
) -> Result<Vec<i64>, DbError> {
    let tx = conn.transaction()?;
    let mut ids = Vec::with_capacity(items.len());
    for w in items {
        ids.push(upsert(&tx, library_id, source, w, now)?);
    }
    tx.commit()?;
    Ok(ids)
}

fn upsert(
    tx: &Connection,
    library_id: i64,
    source: SourceType,
    w: &ItemWrite,
    now: UnixMs,
) -> Result<i64, DbError> {
    let it = &w.item;
    let url = format!("{}://{library_id}/{}", source.as_str(), it.key);
    let genres = (!it.genres.is_empty()).then(|| it.genres.join(","));
    let id: i64 = tx.query_row(
        "INSERT INTO media_items (library_id, source, source_id, external_id, url, title,
             description, duration_ms, media_type, year, content_rating, genres, studio,
             show_title, season_number, episode_number, originally_available, rating, file_size,
             file_mtime_ms, sidecar_stamp, container, video_codec, width, height, frame_rate,
             audio_codec, audio_channels, audio_sample_rate, is_missing, added_at_ms,
             created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, 0, ?30, ?30, ?30)
         ON CONFLICT(url) DO UPDATE SET external_id = ?4, title = ?6, description = ?7,
             duration_ms = ?8, media_type = ?9, year = ?10, content_rating = ?11, genres = ?12,
             studio = ?13, show_title = ?14, season_number = ?15, episode_number = ?16,
             originally_available = ?17, rating = ?18, file_size = ?19, file_mtime_ms = ?20,
             sidecar_stamp = ?21, container = ?22, video_codec = ?23, width = ?24, height = ?25,
             frame_rate = ?26, audio_codec = ?27, audio_channels = ?28, audio_sample_rate = ?29,
             is_missing = 0, updated_at_ms = ?30
         RETURNING id",
        params![
            library_id,
            source.as_str(),
            it.key,
            it.stream_path,
            url,
            it.title,
            it.description,
            it.duration_ms,
            it.media_type.map(|t| t.as_str()),
            it.year,
            it.content_rating,
            genres,
            it.studio,
            it.show_title,
            it.season_number,
            it.episode_number,
            it.originally_available,
            it.rating,
            it.file_size,
            it.updated_ms,
            it.stamp(),
            it.container,
            it.video_codec,
            it.width,
            it.height,
            it.frame_rate,
            it.audio_codec,
            it.audio_channels,
            it.audio_sample_rate,
            now
        ],
        |r| r.get(0),
    )?;
    // The local file, when a replacement found one; another library that already has the
    // same file keeps it (the unique path index), and this item plays through the proxy.
    tx.execute(
        "UPDATE OR IGNORE media_items SET path_bytes = ?2 WHERE id = ?1",
        params![id, w.local_path.as_ref().map(|p| p.as_bytes())],
    )?;
    Ok(id)
}

/// Marks the rows `ids` missing (gone from the server); returns how many changed.
pub fn mark_missing(conn: &mut Connection, ids: &[i64]) -> Result<u64, DbError> {
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE media_items SET is_missing = 1 WHERE id = ?1 AND is_missing = 0",
        )?;
        for id in ids {
            n += stmt.execute([id])? as u64;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Where the proxy fetches a remote item: its server and the path there.
pub fn stream_target(
    conn: &Connection,
    media_id: i64,
) -> Result<Option<(SourceRow, String)>, DbError> {
    let row = conn
        .query_row(
            "SELECT l.media_source_id, m.external_id FROM media_items m
             JOIN libraries l ON l.id = m.library_id
             WHERE m.id = ?1 AND l.media_source_id IS NOT NULL",
            [media_id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
        )
        .optional()?;
    let Some((source_id, Some(path))) = row else {
        return Ok(None);
    };
    Ok(source(conn, source_id)?.map(|s| (s, path)))
}
