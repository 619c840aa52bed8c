//! Migration from ErsatzTV, EXStreamTV and StreamTV (`/api/migration/*`): a foreign SQLite
//! file, opened read-only and never written, is read into a `Foreign` — plain data in our
//! own terms: the folders to scan, FFmpeg profiles, collections as file paths, media URLs,
//! playlists, filler presets and watermarks, and channels as our portable `ChannelDoc`s that name their content by name or path —
//! and `apply` creates it through the typed operations (`ops::libraries`, `collections`,
//! `playlists`, `profiles`, `yaml_channels::import`), so every check they make applies
//! and one channel that does not fit is a warning, not a failed migration.
//!
//! What a source has and we cannot carry (a Plex library, a show by the source's own id,
//! a YAML playout) is named in the warnings. Reading tolerates missing tables and columns:
//! each version of ErsatzTV has a few more.

mod apply;
mod ersatztv;
mod ersatztv_playlists;
mod ersatztv_presets;
mod exstreamtv;
pub mod exstreamtv_config;
mod progress;
mod streamtv;

use std::fmt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::kinds::{FillerModeKind, WatermarkLocation, WatermarkMode, WatermarkSize};
use crate::ops::yaml_channels::ChannelDoc;

pub use apply::{apply, Stats};
pub use exstreamtv_config::Tuner;
pub use progress::{Progress, Registry};

/// Where the data comes from (`/api/migration/{validate,import}/{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ersatztv,
    Streamtv,
    Exstreamtv,
}

impl Source {
    pub fn parse(text: &str) -> Option<Source> {
        match text {
            "ersatztv" => Some(Source::Ersatztv),
            "streamtv" => Some(Source::Streamtv),
            "exstreamtv" => Some(Source::Exstreamtv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Ersatztv => "ersatztv",
            Source::Streamtv => "streamtv",
            Source::Exstreamtv => "exstreamtv",
        }
    }
}

/// A foreign FFmpeg profile, in our units.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignProfile {
    pub name: String,
    pub width: i64,
    pub height: i64,
    pub video_bitrate_kbps: Option<i64>,
    pub video_buffer_kbps: Option<i64>,
    pub audio_bitrate_kbps: Option<i64>,
    pub audio_channels: Option<i64>,
    pub audio_sample_rate: Option<i64>,
}

/// A foreign collection: its files, matched to ours by path after the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignCollection {
    pub name: String,
    pub paths: Vec<String>,
}

/// A media item given by URL (or a path), played as URL media.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignMedia {
    pub url: String,
    pub title: String,
    pub duration_ms: Option<i64>,
}

/// A playlist: its entries in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignPlaylist {
    pub name: String,
    pub entries: Vec<ForeignEntry>,
}

/// A playlist entry: a media item by its URL (a local file's is its path), or every item of
/// a collection by the collection's name.
#[derive(Debug, Clone, PartialEq)]
pub enum ForeignEntry {
    Url(String),
    Collection(String),
}

/// A filler preset drawing from one collection or playlist (by its name, as created here).
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignFiller {
    pub name: String,
    pub source: FillerSource,
    pub mode: FillerModeKind,
    pub count: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub pad_to_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FillerSource {
    Collection(String),
    Playlist(String),
}

/// A watermark's settings (its image, if any, is uploaded here afterwards).
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignWatermark {
    pub name: String,
    pub mode: WatermarkMode,
    /// Draws the channel's logo rather than an image of its own.
    pub channel_logo: bool,
    pub location: WatermarkLocation,
    pub size: WatermarkSize,
    pub width_percent: i64,
    pub horizontal_margin_percent: i64,
    pub vertical_margin_percent: i64,
    pub frequency_minutes: i64,
    pub duration_seconds: i64,
    pub opacity: i64,
}

/// Everything read from one foreign database.
#[derive(Debug, Default)]
pub struct Foreign {
    /// Rows per source table, as `validate` reports them.
    pub counts: Vec<(String, i64)>,
    pub warnings: Vec<String>,
    /// Folders of local libraries, as the source stored them.
    pub folders: Vec<String>,
    pub profiles: Vec<ForeignProfile>,
    pub collections: Vec<ForeignCollection>,
    pub media: Vec<ForeignMedia>,
    pub playlists: Vec<ForeignPlaylist>,
    pub fillers: Vec<ForeignFiller>,
    pub watermarks: Vec<ForeignWatermark>,
    pub channels: Vec<ChannelDoc>,
    /// The source's id of each of `channels` (empty, or one per channel): kept here when
    /// free, so a guide id `exstream.<id>` stays the same.
    pub channel_ids: Vec<Option<i64>>,
}

#[derive(Debug)]
pub enum MigrationError {
    /// The file cannot be opened or is not a database.
    Unreadable(String),
    /// Another process holds a write lock on it.
    Locked,
    /// A database, but not one of this source (its main table is missing).
    NotThisSource {
        source: Source,
        missing: &'static str,
    },
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrationError::Unreadable(why) => write!(f, "cannot read the database: {why}"),
            MigrationError::Locked => {
                f.write_str("the database is locked by another process; stop it and retry")
            }
            MigrationError::NotThisSource { source, missing } => write!(
                f,
                "not a {} database: it has no {missing} table",
                source.as_str()
            ),
        }
    }
}

impl std::error::Error for MigrationError {}

/// Reads `path` as `source`'s database. Blocking: run it off the tokio workers.
pub fn read(source: Source, path: &Path) -> Result<Foreign, MigrationError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| MigrationError::Unreadable(e.to_string()))?;
    // A source whose server is still running may hold a lock: fail fast, not hang.
    conn.busy_timeout(std::time::Duration::from_secs(1))
        .map_err(|e| MigrationError::Unreadable(e.to_string()))?;
    // A file that is not SQLite fails on its first read, not at open.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(unreadable)?;
    let tables = Tables::of(&conn).map_err(unreadable)?;
    let read = match source {
        Source::Ersatztv => ersatztv::read(&conn, &tables),
        Source::Streamtv => streamtv::read(&conn, &tables),
        Source::Exstreamtv => exstreamtv::read(&conn, &tables),
    };
    read.map_err(|e| match e {
        ReadError::Missing(missing) => MigrationError::NotThisSource { source, missing },
        ReadError::Sql(e) => unreadable(e),
    })
}

fn unreadable(e: rusqlite::Error) -> MigrationError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            MigrationError::Locked
        }
        _ => MigrationError::Unreadable(e.to_string()),
    }
}

enum ReadError {
    Missing(&'static str),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        ReadError::Sql(e)
    }
}

/// Every row of `sql`, made by `f`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], f)?;
    rows.collect()
}

/// The source's tables and their columns, so each read asks only for what exists.
struct Tables {
    columns: std::collections::HashMap<String, Vec<String>>,
}

impl Tables {
    fn of(conn: &Connection) -> rusqlite::Result<Tables> {
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut columns = std::collections::HashMap::new();
        for name in names {
            let cols: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{}')",
                    name.replace('\'', "''")
                ))?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            columns.insert(name, cols);
        }
        Ok(Tables { columns })
    }

    fn has(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns
            .get(table)
            .is_some_and(|cols| cols.iter().any(|c| c.eq_ignore_ascii_case(column)))
    }

    /// `"column"` when the table has it, else `default` (an SQL literal), for SELECT lists.
    fn or(&self, table: &str, column: &str, default: &str) -> String {
        if self.has_column(table, column) {
            format!("\"{column}\"")
        } else {
            default.to_owned()
        }
    }

    fn count(&self, conn: &Connection, table: &str) -> rusqlite::Result<i64> {
        if !self.has(table) {
            return Ok(0);
        }
        conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
            r.get(0)
        })
    }
}
