//! Library writes: adding a local library (its fields checked and its folder resolved
//! once, `NewLibrary::checked`) and deleting one with its media. Each write runs inside the
//! caller's write transaction and returns the `Changes` it made; a refusal is a
//! `LibraryError`. Scans are the scanner's (`library::scanner`): they write through their
//! own batches, not here. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::Transaction;

use crate::changes::{Changes, Rebuild, Timelines};
use crate::db::DbError;
use crate::kinds::LibraryType;
use crate::library::store::{self, CreateError, NewLocal};

pub use super::ids::LibraryId;

/// A library name longer than this is refused (it is shown in lists and logs).
pub const MAX_NAME_LEN: usize = 200;
/// The longest rescan interval: a year, in hours (0: never rescanned on a timer).
pub const MAX_SCAN_INTERVAL_HOURS: i64 = 24 * 365;

/// Why a library write was refused.
#[derive(Debug)]
pub enum LibraryError {
    NotFound,
    /// A scan of the library is running (a delete would pull its rows from under it).
    InUse,
    /// Another library has this folder, or one inside or around it.
    Overlaps {
        id: LibraryId,
        path: String,
    },
    TooMany,
    /// A field makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibraryError::NotFound => f.write_str("library not found"),
            LibraryError::InUse => f.write_str("a scan of this library is running"),
            LibraryError::Overlaps { id, path } => {
                write!(f, "path: overlaps library {id} ({path})")
            }
            LibraryError::TooMany => write!(f, "at most {} libraries", store::MAX_LIBRARIES),
            LibraryError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            LibraryError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(LibraryError);

impl From<CreateError> for LibraryError {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::Db(err) => LibraryError::Db(err),
            CreateError::Overlaps { id, path } => LibraryError::Overlaps {
                id: LibraryId(id),
                path,
            },
            CreateError::TooMany => LibraryError::TooMany,
        }
    }
}

fn invalid(field: &'static str, problem: impl fmt::Display) -> LibraryError {
    LibraryError::Invalid {
        field,
        problem: problem.to_string(),
    }
}

/// A local library a writer asks for, as sent (the REST body, an import).
#[derive(Debug, Clone)]
pub struct LibraryRequest {
    pub name: String,
    pub path: String,
    pub library_type: String,
    pub recursive: bool,
    pub file_extensions: String,
    pub scan_interval_hours: i64,
}

/// A local library whose fields are checked and whose folder exists: `path` is canonical.
#[derive(Debug, Clone)]
pub struct NewLibrary {
    pub name: String,
    pub path: String,
    pub library_type: LibraryType,
    pub recursive: bool,
    pub file_extensions: String,
    pub scan_interval_hours: i64,
}

impl NewLibrary {
    /// Checks the fields in a fixed order (name, type, extensions, interval, path: the first
    /// bad one is named), then resolves the folder. Async: the folder is looked up on disk,
    /// never on the DB thread.
    pub async fn checked(request: LibraryRequest) -> Result<NewLibrary, LibraryError> {
        let name = request.name.trim().to_string();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(invalid(
                "name",
                format_args!("must be 1 to {MAX_NAME_LEN} characters"),
            ));
        }
        let library_type: LibraryType = request.library_type.parse().map_err(|_| {
            invalid(
                "library_type",
                format_args!("must be {}", crate::kinds::either(LibraryType::NAMES)),
            )
        })?;
        if crate::library::walk::parse_extensions(&request.file_extensions).is_empty() {
            return Err(invalid("file_extensions", "no extension given"));
        }
        if !(0..=MAX_SCAN_INTERVAL_HOURS).contains(&request.scan_interval_hours) {
            return Err(invalid(
                "scan_interval_hours",
                format_args!("must be 0 to {MAX_SCAN_INTERVAL_HOURS}"),
            ));
        }
        Ok(NewLibrary {
            name,
            path: local_folder(&request.path).await?,
            library_type,
            recursive: request.recursive,
            file_extensions: request.file_extensions,
            scan_interval_hours: request.scan_interval_hours,
        })
    }
}

/// The canonical, UTF-8 path of the folder `path` names (absolute, existing, a folder).
async fn local_folder(path: &str) -> Result<String, LibraryError> {
    if !path.starts_with('/') {
        return Err(invalid("path", "must be an absolute path"));
    }
    let canonical = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| invalid("path", format_args!("{path}: {e}")))?;
    let is_dir = tokio::fs::metadata(&canonical)
        .await
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if !is_dir {
        return Err(invalid("path", format_args!("{path} is not a folder")));
    }
    canonical
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| invalid("path", "the folder's path is not valid UTF-8"))
}

/// Adds the library. Nothing a client or a channel sees changes until its scan finds media
/// (the scanner's writes announce themselves); the caller asks for that scan.
pub fn create(
    tx: &Transaction<'_>,
    new: &NewLibrary,
) -> Result<(LibraryId, Changes), LibraryError> {
    let local = NewLocal {
        name: &new.name,
        path: &new.path,
        library_type: new.library_type,
        recursive: new.recursive,
        file_extensions: &new.file_extensions,
        scan_interval_hours: new.scan_interval_hours,
    };
    let id = LibraryId(store::create_local(tx, &local)?);
    Ok((id, Changes::default()))
}

/// Deletes a library of `kind` (local, or a server's) and, by cascade, its media items,
/// unless `is_scanning` says a scan of it runs (the scanner's state is in memory, not in the
/// database).
pub fn delete(
    tx: &Transaction<'_>,
    id: LibraryId,
    kind: crate::kinds::SourceType,
    is_scanning: impl Fn(LibraryId) -> bool,
) -> Result<Changes, LibraryError> {
    if is_scanning(id) {
        return Err(LibraryError::InUse);
    }
    let n = tx.execute(
        "DELETE FROM libraries WHERE id = ?1 AND source_type = ?2",
        rusqlite::params![id, kind.as_str()],
    )?;
    if n == 0 {
        return Err(LibraryError::NotFound);
    }
    Ok(library_changed("library deleted"))
}

/// Media came or went: every playout is rebuilt and every running channel re-reads. Which
/// playouts could play an item is not one query (smart collections match by their saved
/// search; multi-collections and filler presets nest), so a change to the library rebuilds
/// them all, as a scan's does.
pub fn library_changed(cause: &str) -> Changes {
    Changes {
        timelines: Timelines::All,
        ..Changes::rebuilding(Rebuild::All, cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn request(name: &str, path: &str) -> LibraryRequest {
        LibraryRequest {
            name: name.into(),
            path: path.into(),
            library_type: "movie".into(),
            recursive: true,
            file_extensions: ".mp4".into(),
            scan_interval_hours: 1,
        }
    }

    fn new(path: &str) -> NewLibrary {
        NewLibrary {
            name: "Films".into(),
            path: path.into(),
            library_type: LibraryType::Movie,
            recursive: true,
            file_extensions: ".mp4".into(),
            scan_interval_hours: 1,
        }
    }

    #[tokio::test]
    async fn fields_are_checked_in_order_and_the_folder_resolved() {
        let checked = NewLibrary::checked;
        let dir = std::env::temp_dir();
        let path = dir.to_str().unwrap();
        let mut bad = request(" ", "relative");
        bad.library_type = "films".into();
        assert_eq!(
            checked(bad.clone()).await.unwrap_err().to_string(),
            "name: must be 1 to 200 characters"
        );
        bad.name = "Films".into();
        assert!(checked(bad.clone())
            .await
            .unwrap_err()
            .to_string()
            .starts_with("library_type: must be "));
        bad.library_type = "movie".into();
        assert_eq!(
            checked(bad).await.unwrap_err().to_string(),
            "path: must be an absolute path"
        );
        let mut long = request("Films", path);
        long.scan_interval_hours = 9000;
        assert_eq!(
            checked(long).await.unwrap_err().to_string(),
            "scan_interval_hours: must be 0 to 8760"
        );
        let ok = checked(request(" Films ", path)).await.unwrap();
        assert_eq!(ok.name, "Films");
        let canonical = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(ok.path, canonical.to_str().unwrap());
    }

    #[test]
    fn create_refuses_an_overlapping_folder_and_delete_rebuilds_everything() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, changes) = create(&tx, &new("/media/films")).unwrap();
        assert_eq!(changes, Changes::default());
        let err = create(&tx, &new("/media/films/old")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("path: overlaps library {id} (/media/films)")
        );
        let err = delete(&tx, id, crate::kinds::SourceType::Local, |scanned| {
            scanned == id
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "a scan of this library is running");
        let changes = delete(&tx, id, crate::kinds::SourceType::Local, |_| false).unwrap();
        assert_eq!(changes.rebuild, Rebuild::All);
        assert!(changes.content && changes.timelines == Timelines::All);
        assert!(matches!(
            delete(&tx, id, crate::kinds::SourceType::Local, |_| false),
            Err(LibraryError::NotFound)
        ));
    }

    #[test]
    fn a_delete_takes_the_library_s_media_with_it() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &new("/media/films")).unwrap();
        tx.execute(
            "INSERT INTO media_items (library_id, url, title, added_at_ms, created_at_ms, updated_at_ms)
             VALUES (?1, '/media/films/a.mp4', 'A', 1, 1, 1)",
            [id],
        )
        .unwrap();
        delete(&tx, id, crate::kinds::SourceType::Local, |_| false).unwrap();
        let left: i64 = tx
            .query_row("SELECT count(*) FROM media_items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
