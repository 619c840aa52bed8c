//! The library's SQL: library rows, what the scanner knows of a folder, and the batched
//! writes of a scan (one transaction per batch, to spare the SD card). Closures here run on
//! the DB threads through `Db::read`/`Db::write`; nothing here knows HTTP or processes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::names::NameKind;
use super::probe::Probe;
use crate::db::DbError;
use crate::kinds::{ArtworkKind, LibraryType, SourceType, TextEnum};
use crate::time::UnixMs;

/// At most this many libraries (local and remote): bounds the scan queue and the progress
/// map; a home server has a handful.
pub const MAX_LIBRARIES: usize = 256;

/// A library row as the scanner and the API need it.
#[derive(Debug, Clone)]
pub struct LibraryRow {
    pub id: i64,
    pub name: String,
    pub library_type: LibraryType,
    pub source_type: SourceType,
    pub is_enabled: bool,
    pub path: Option<String>,
    pub server_url: Option<String>,
    pub recursive: bool,
    pub file_extensions: String,
    pub scan_interval_hours: i64,
    pub last_scan_ms: Option<UnixMs>,
    pub last_error: Option<String>,
    pub item_count: i64,
}

const LIBRARY_COLUMNS: &str = "l.id, l.name, l.library_type, l.source_type, l.is_enabled, l.path,
    l.server_url, l.recursive, l.file_extensions, l.scan_interval_hours, l.last_scan_ms,
    l.last_error, (SELECT count(*) FROM media_items m WHERE m.library_id = l.id AND m.is_missing = 0)";

fn library_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LibraryRow> {
    Ok(LibraryRow {
        id: row.get(0)?,
        name: row.get(1)?,
        library_type: decoded(row, 2)?,
        source_type: decoded(row, 3)?,
        is_enabled: row.get(4)?,
        path: row.get(5)?,
        server_url: row.get(6)?,
        recursive: row.get(7)?,
        file_extensions: row.get(8)?,
        scan_interval_hours: row.get(9)?,
        last_scan_ms: row.get(10)?,
        last_error: row.get(11)?,
        item_count: row.get(12)?,
    })
}

/// Column `i` as `T`. A value the API and the importer would refuse fails the read, naming
/// the column and the accepted values, rather than reading as some other kind of library.
fn decoded<T: TextEnum>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    text.parse().map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(err))
    })
}

pub fn libraries(
    conn: &Connection,
    source_type: Option<SourceType>,
) -> Result<Vec<LibraryRow>, DbError> {
    let sql = format!(
        "SELECT {LIBRARY_COLUMNS} FROM libraries l
         WHERE ?1 IS NULL OR l.source_type = ?1 ORDER BY l.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([source_type.map(SourceType::as_str)], library_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn library(conn: &Connection, id: i64) -> Result<Option<LibraryRow>, DbError> {
    let sql = format!("SELECT {LIBRARY_COLUMNS} FROM libraries l WHERE l.id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], library_from_row)
        .optional()?)
}

/// A new local library. The caller has canonicalised `path`.
pub struct NewLocal<'a> {
    pub name: &'a str,
    pub path: &'a str,
    pub library_type: LibraryType,
    pub recursive: bool,
    pub file_extensions: &'a str,
    pub scan_interval_hours: i64,
}

#[derive(Debug)]
pub enum CreateError {
    Db(DbError),
    /// Another library already has this folder, or one inside or around it.
    Overlaps {
        id: i64,
        path: String,
    },
    TooMany,
}

impl From<DbError> for CreateError {
    fn from(e: DbError) -> Self {
        CreateError::Db(e)
    }
}

impl From<rusqlite::Error> for CreateError {
    fn from(e: rusqlite::Error) -> Self {
        CreateError::Db(e.into())
    }
}

/// Whether `a` is `b` or inside it, by path components.
fn is_within(a: &str, b: &str) -> bool {
    Path::new(a).starts_with(Path::new(b))
}

/// Adds a local library unless there are `MAX_LIBRARIES` already or its folder overlaps
/// another's. Run it inside a transaction (`ops::libraries::create`, or at start-up), so
/// that the checks and the insert cannot interleave with another write.
pub fn create_local(tx: &Connection, new: &NewLocal<'_>) -> Result<i64, CreateError> {
    let n: i64 = tx.query_row("SELECT count(*) FROM libraries", [], |r| r.get(0))?;
    if n as usize >= MAX_LIBRARIES {
        return Err(CreateError::TooMany);
    }
    {
        let mut stmt = tx.prepare("SELECT id, path FROM libraries WHERE path IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, path) = row?;
            if is_within(new.path, &path) || is_within(&path, new.path) {
                return Err(CreateError::Overlaps { id, path });
            }
        }
    }
    let now = crate::time::now_ms();
    tx.execute(
        "INSERT INTO libraries (name, library_type, source_type, path, recursive, file_extensions,
             scan_interval_hours, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            new.name,
            new.library_type.as_str(),
            SourceType::Local.as_str(),
            new.path,
            new.recursive,
            new.file_extensions,
            new.scan_interval_hours,
            now
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// `--media DIR`: the library of each folder, created when absent (keyed by the canonical
/// path, so a restart or a second spelling of the same folder adds nothing). A folder that
/// does not exist still gets its library (keyed by its absolute path), whose scan then
/// reports the error. Blocking: runs at start-up.
pub fn ensure_media_libraries(
    conn: &mut Connection,
    dirs: &[PathBuf],
) -> Result<Vec<i64>, DbError> {
    let mut ids = Vec::new();
    for dir in dirs {
        let key = std::fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .unwrap_or_else(|_| dir.clone());
        let key_text = key.to_string_lossy().into_owned();
        let existing: Option<i64> = conn
            .query_row(
                "SELECT id FROM libraries WHERE path = ?1",
                [&key_text],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            // The same folder given twice (or by two spellings) is one library, scanned once.
            if !ids.contains(&id) {
                ids.push(id);
            }
            continue;
        }
        let name = key
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| key_text.clone());
        let new = NewLocal {
            name: &name,
            path: &key_text,
            library_type: LibraryType::Other,
            recursive: true,
            file_extensions: DEFAULT_EXTENSIONS,
            scan_interval_hours: 1,
        };
        let tx = conn.transaction()?;
        let created = create_local(&tx, &new);
        if created.is_ok() {
            tx.commit()?;
        }
        match created {
            Ok(id) => {
                tracing::info!(id, path = %key_text, "media folder added as a library");
                ids.push(id);
            }
            Err(CreateError::Db(e)) => return Err(e),
            Err(CreateError::Overlaps { id, path }) => tracing::warn!(
                folder = %key_text, library = id, %path,
                "media folder overlaps an existing library; not added"
            ),
            Err(CreateError::TooMany) => tracing::warn!(
                folder = %key_text, max = MAX_LIBRARIES, "too many libraries; media folder not added"
            ),
        }
    }
    Ok(ids)
}

/// EXStreamTV's default list of media extensions.
pub const DEFAULT_EXTENSIONS: &str = ".mp4,.mkv,.avi,.mov,.wmv,.flv,.webm,.m4v,.ts,.m2ts";

pub fn set_scan_result(
    conn: &Connection,
    library_id: i64,
    finished_ms: UnixMs,
    error: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE libraries SET last_scan_ms = CASE WHEN ?3 IS NULL THEN ?2 ELSE last_scan_ms END,
             last_error = ?3, updated_at_ms = ?2 WHERE id = ?1",
        params![library_id, finished_ms, error],
    )?;
    Ok(())
}

/// What the database knows of one file, for the changed-or-not decision.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub id: i64,
    pub size: Option<i64>,
    pub mtime_ms: Option<i64>,
    pub sidecar_stamp: Option<i64>,
    pub is_missing: bool,
}

/// The items of one folder whose paths lie in (`after`, `up_to`] (an absent bound is open),
/// keyed by their full path bytes. SQLite compares BLOBs as bytes, as the walker sorts.
pub fn known_in_dir(
    conn: &Connection,
    library_id: i64,
    dir: &[u8],
    after: Option<&[u8]>,
    up_to: Option<&[u8]>,
) -> Result<HashMap<Vec<u8>, Known>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, path_bytes, file_size, file_mtime_ms, sidecar_stamp, is_missing
         FROM media_items WHERE library_id = ?1 AND dir_bytes = ?2
           AND (?3 IS NULL OR path_bytes > ?3) AND (?4 IS NULL OR path_bytes <= ?4)",
    )?;
    let rows = stmt.query_map(params![library_id, dir, after, up_to], |r| {
        Ok((
            r.get::<_, Vec<u8>>(1)?,
            Known {
                id: r.get(0)?,
                size: r.get(2)?,
                mtime_ms: r.get(3)?,
                sidecar_stamp: r.get(4)?,
                is_missing: r.get(5)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The folders of a library that hold items not marked missing.
pub fn present_dirs(conn: &Connection, library_id: i64) -> Result<Vec<Vec<u8>>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT dir_bytes FROM media_items
         WHERE library_id = ?1 AND is_missing = 0 AND dir_bytes IS NOT NULL",
    )?;
    let rows = stmt.query_map([library_id], |r| r.get::<_, Vec<u8>>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Metadata from names and the NFO, merged.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub kind: Option<NameKind>,
    pub title: String,
    pub description: Option<String>,
    pub show_title: Option<String>,
    pub season_number: Option<i64>,
    pub episode_number: Option<i64>,
    pub episode_number_end: Option<i64>,
    pub year: Option<i64>,
    pub genres: Option<String>,
    pub rating: Option<f64>,
    pub content_rating: Option<String>,
    pub studio: Option<String>,
    pub originally_available: Option<String>,
}

/// One file as the scan found it.
#[derive(Debug)]
pub struct Scanned {
    pub existing_id: Option<i64>,
    pub library_id: i64,
    pub path_bytes: Vec<u8>,
    pub dir_bytes: Vec<u8>,
    pub url: String,
    pub size: i64,
    pub mtime_ms: i64,
    pub sidecar_stamp: i64,
    pub meta: Metadata,
    /// `None`: only the sidecars changed; the stream columns stay as they are.
    pub probe: Option<Result<Probe, String>>,
    /// Poster, thumb, fanart paths (raw bytes).
    pub artwork: [Option<Vec<u8>>; 3],
}

/// A change the scan commits.
#[derive(Debug)]
pub enum Write {
    Item(Box<Scanned>),
    /// The file is back, unchanged.
    Present(i64),
    /// The file is gone; the row stays (a channel may be playing it).
    Missing(i64),
}

/// Counts of what a batch changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    pub inserted: u64,
    pub updated: u64,
    pub missing: u64,
    pub present: u64,
    pub failed: u64,
}

/// Commits a batch in one transaction. A row that cannot be written (a display URL that
/// collides after lossy decoding) is logged and skipped; the rest of the batch commits.
pub fn apply(conn: &mut Connection, writes: Vec<Write>) -> Result<Applied, DbError> {
    let now = crate::time::now_ms();
    let tx = conn.transaction()?;
    let mut applied = Applied::default();
    for write in writes {
        match write {
            Write::Present(id) => {
                tx.prepare_cached(
                    "UPDATE media_items SET is_missing = 0, updated_at_ms = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
                applied.present += 1;
            }
            Write::Missing(id) => {
                tx.prepare_cached(
                    "UPDATE media_items SET is_missing = 1, updated_at_ms = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
                applied.missing += 1;
            }
            Write::Item(item) => match write_item(&tx, &item, now) {
                Ok(true) => applied.inserted += 1,
                Ok(false) => applied.updated += 1,
                Err(e) => {
                    tracing::warn!(path = %item.url, error = %e, "cannot store a scanned file; skipped");
                    applied.failed += 1;
                }
            },
        }
    }
    tx.commit()?;
    Ok(applied)
}

/// Writes one scanned file: its row (new or updated), its probe, its artwork. Returns
/// whether the row is new.
fn write_item(tx: &Connection, item: &Scanned, now: UnixMs) -> Result<bool, DbError> {
    let id = match item.existing_id {
        Some(id) => {
            update_row(tx, id, item, now)?;
            id
        }
        None => insert_row(tx, item, now)?,
    };
    if let Some(probe) = &item.probe {
        write_probe(tx, id, probe)?;
    }
    write_artwork(tx, id, item)?;
    Ok(item.existing_id.is_none())
}

/// The file's metadata over a known row (which is present again, if it was missing).
fn update_row(tx: &Connection, id: i64, item: &Scanned, now: UnixMs) -> Result<(), DbError> {
    let m = &item.meta;
    let kind = m.kind.map(NameKind::as_str);
    tx.prepare_cached(
        "UPDATE media_items SET url = ?2, title = ?3, description = ?4, media_type = ?5,
                 year = ?6, content_rating = ?7, genres = ?8, studio = ?9, show_title = ?10,
                 season_number = ?11, episode_number = ?12, episode_number_end = ?13,
                 originally_available = ?14, rating = ?15, file_size = ?16, file_mtime_ms = ?17,
                 sidecar_stamp = ?18, is_missing = 0, updated_at_ms = ?19
             WHERE id = ?1",
    )?
    .execute(params![
        id,
        item.url,
        m.title,
        m.description,
        kind,
        m.year,
        m.content_rating,
        m.genres,
        m.studio,
        m.show_title,
        m.season_number,
        m.episode_number,
        m.episode_number_end,
        m.originally_available,
        m.rating,
        item.size,
        item.mtime_ms,
        item.sidecar_stamp,
        now
    ])?;
    Ok(())
}

/// A new row for the file; returns its id.
fn insert_row(tx: &Connection, item: &Scanned, now: UnixMs) -> Result<i64, DbError> {
    let m = &item.meta;
    let kind = m.kind.map(NameKind::as_str);
    tx.prepare_cached(
        "INSERT INTO media_items (library_id, source, path_bytes, dir_bytes, url, title,
             description, media_type, year, content_rating, genres, studio, show_title,
             season_number, episode_number, episode_number_end, originally_available, rating,
             file_size, file_mtime_ms, sidecar_stamp, added_at_ms, created_at_ms, updated_at_ms)
         VALUES (?1, 'local', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
             ?16, ?17, ?18, ?19, ?20, ?21, ?21, ?21)",
    )?
    .execute(params![
        item.library_id,
        item.path_bytes,
        item.dir_bytes,
        item.url,
        m.title,
        m.description,
        kind,
        m.year,
        m.content_rating,
        m.genres,
        m.studio,
        m.show_title,
        m.season_number,
        m.episode_number,
        m.episode_number_end,
        m.originally_available,
        m.rating,
        item.size,
        item.mtime_ms,
        item.sidecar_stamp,
        now
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The probe's stream facts, or the reason FFmpeg could not read the file.
fn write_probe(tx: &Connection, id: i64, probe: &Result<Probe, String>) -> Result<(), DbError> {
    let (p, error) = match probe {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e.as_str())),
    };
    tx.prepare_cached(
        "UPDATE media_items SET duration_ms = ?2, container = ?3, video_codec = ?4, width = ?5,
             height = ?6, frame_rate = ?7, field_order = ?8, audio_codec = ?9,
             audio_channels = ?10, audio_sample_rate = ?11, streams = ?12, probe_error = ?13
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        p.and_then(|p| p.duration_ms),
        p.and_then(|p| p.container.as_deref()),
        p.and_then(|p| p.video_codec.as_deref()),
        p.and_then(|p| p.width),
        p.and_then(|p| p.height),
        p.and_then(|p| p.frame_rate),
        p.and_then(|p| p.field_order.as_deref()),
        p.and_then(|p| p.audio_codec.as_deref()),
        p.and_then(|p| p.audio_channels),
        p.and_then(|p| p.audio_sample_rate),
        p.map(|p| p.streams_json.as_str()),
        error,
    ])?;
    Ok(())
}

/// The file's artwork rows, and the URLs clients fetch it by.
fn write_artwork(tx: &Connection, id: i64, item: &Scanned) -> Result<(), DbError> {
    tx.prepare_cached("DELETE FROM media_artwork WHERE media_item_id = ?1")?
        .execute([id])?;
    let mut urls: [Option<String>; 3] = [None, None, None];
    for (slot, kind) in super::walk::ARTWORK_KINDS.iter().enumerate() {
        if let Some(path) = &item.artwork[slot] {
            tx.prepare_cached(
                "INSERT INTO media_artwork (media_item_id, kind, path_bytes) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, kind.as_str(), path])?;
            urls[slot] = Some(artwork_url(id, kind.as_str()));
        }
    }
    let [poster, thumb, fanart] = urls;
    // The thumbnail clients show: the thumb, else the poster.
    let thumbnail = thumb.or_else(|| poster.clone());
    tx.prepare_cached(
        "UPDATE media_items SET thumbnail = ?2, poster_path = ?3, art_url = ?4 WHERE id = ?1",
    )?
    .execute(params![id, thumbnail, poster, fanart])?;
    Ok(())
}

/// The open URL path of an item's artwork (`kind`: poster|thumb|fanart).
pub fn artwork_url(media_id: i64, kind: &str) -> String {
    format!("/static/artwork/{media_id}/{kind}")
}

/// Marks every present item of `dir` missing; returns how many.
pub fn mark_dir_missing(conn: &Connection, library_id: i64, dir: &[u8]) -> Result<u64, DbError> {
    let n = conn.execute(
        "UPDATE media_items SET is_missing = 1, updated_at_ms = ?3
         WHERE library_id = ?1 AND dir_bytes = ?2 AND is_missing = 0",
        params![library_id, dir, crate::time::now_ms()],
    )?;
    Ok(n as u64)
}

/// The artwork file of an item, if any.
pub fn artwork_path(
    conn: &Connection,
    media_id: i64,
    kind: ArtworkKind,
) -> Result<Option<Vec<u8>>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT path_bytes FROM media_artwork WHERE media_item_id = ?1 AND kind = ?2",
        )?
        .query_row(params![media_id, kind.as_str()], |r| r.get(0))
        .optional()?)
}
