//! Media item writes: adding one local file (already probed by the caller: ffprobe is a
//! process, not a database step) and deleting an item. Each runs inside the caller's write
//! transaction and returns the `Changes` it made; a refusal is a `MediaError`. It knows no
//! HTTP and no JSON.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rusqlite::{params, Transaction};

use crate::changes::{Changes, Timelines};
use crate::db::DbError;
use crate::library::probe::Probe;
use crate::time::UnixMs;

pub use super::ids::MediaId;

/// Why a media write was refused.
#[derive(Debug)]
pub enum MediaError {
    NotFound,
    /// A field makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::NotFound => f.write_str("media item not found"),
            MediaError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            MediaError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(MediaError);

/// The local file a `url` names: a path or a `file://` URL, absolute.
pub fn local_path(url: &str) -> Result<&str, MediaError> {
    let path = url.strip_prefix("file://").unwrap_or(url);
    if !path.starts_with('/') {
        return Err(MediaError::Invalid {
            field: "url",
            problem: "must be an absolute path to a local file".into(),
        });
    }
    Ok(path)
}

/// One local file to add, as found on disk and by ffprobe.
#[derive(Debug, Clone)]
pub struct NewMedia {
    /// Absolute (`local_path`).
    pub path: String,
    pub title: String,
    pub description: Option<String>,
    pub duration_ms: Option<i64>,
    pub thumbnail: Option<String>,
    pub file_size: i64,
    pub file_mtime_ms: UnixMs,
    pub probe: Probe,
}

/// Adds a file outside any library (`source` local, `media_type` other). No timeline plays
/// it until a collection or a schedule names it, so nothing is rebuilt; the version moves
/// as it always has on an added item.
pub fn create(
    tx: &Transaction<'_>,
    new: &NewMedia,
    now_ms: UnixMs,
) -> Result<(MediaId, Changes), MediaError> {
    let path = Path::new(&new.path);
    let dir = path.parent().map(|p| p.as_os_str().as_bytes());
    let probe = &new.probe;
    tx.execute(
        "INSERT INTO media_items (source, path_bytes, dir_bytes, url, title, description,
             duration_ms, thumbnail, media_type, file_size, file_mtime_ms, container,
             video_codec, width, height, frame_rate, field_order, audio_codec,
             audio_channels, audio_sample_rate, streams, added_at_ms, created_at_ms, updated_at_ms)
         VALUES ('local', ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'other', ?8, ?9, ?10, ?11, ?12, ?13,
             ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?20, ?20)",
        params![
            new.path.as_bytes(),
            dir,
            new.path,
            new.title,
            new.description,
            new.duration_ms,
            new.thumbnail,
            new.file_size,
            new.file_mtime_ms,
            probe.container,
            probe.video_codec,
            probe.width,
            probe.height,
            probe.frame_rate,
            probe.field_order,
            probe.audio_codec,
            probe.audio_channels,
            probe.audio_sample_rate,
            probe.streams_json,
            now_ms
        ],
    )?;
    let id = MediaId(tx.last_insert_rowid());
    Ok((
        id,
        Changes {
            content: true,
            ..Changes::timelines(Timelines::Empty, "media added")
        },
    ))
}

/// One URL to add (already through `http::url_guard` and `library::url_media::inspect`).
#[derive(Debug, Clone)]
pub struct NewUrlMedia {
    pub url: String,
    /// `url`, `live`, `youtube` or `archive_org`.
    pub source: crate::kinds::MediaSource,
    pub title: String,
    pub description: Option<String>,
    pub duration_ms: Option<i64>,
    pub thumbnail: Option<String>,
    /// What ffprobe found (nothing for a page it cannot read).
    pub probe: Probe,
    /// Why it cannot play (stored as `probe_error`, and the item plays the slate).
    pub unplayable: Option<String>,
}

/// Adds a URL item outside any library. An unplayable one is stored marked missing, so
/// every programme of it is the slate, and its reason is shown as `probe_error`.
pub fn create_url(
    tx: &Transaction<'_>,
    new: &NewUrlMedia,
    now_ms: UnixMs,
) -> Result<(MediaId, Changes), MediaError> {
    let probe = &new.probe;
    tx.execute(
        "INSERT INTO media_items (source, url, title, description, duration_ms, thumbnail,
             media_type, container, video_codec, width, height, frame_rate, field_order,
             audio_codec, audio_channels, audio_sample_rate, streams, probe_error, is_missing,
             added_at_ms, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'other', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
             ?16, ?17, ?18, ?19, ?19, ?19)",
        params![
            new.source.as_str(),
            new.url,
            new.title,
            new.description,
            new.duration_ms,
            new.thumbnail,
            probe.container,
            probe.video_codec,
            probe.width,
            probe.height,
            probe.frame_rate,
            probe.field_order,
            probe.audio_codec,
            probe.audio_channels,
            probe.audio_sample_rate,
            (!probe.streams_json.is_empty()).then_some(&probe.streams_json),
            new.unplayable,
            new.unplayable.is_some(),
            now_ms
        ],
    )?;
    let id = MediaId(tx.last_insert_rowid());
    Ok((
        id,
        Changes {
            content: true,
            ..Changes::timelines(Timelines::Empty, "media added")
        },
    ))
}

/// Deletes one item (its artwork and collection, playlist and filler entries cascade; the
/// stored programmes that played it become the offline slate until rebuilt).
pub fn delete(tx: &Transaction<'_>, id: MediaId) -> Result<Changes, MediaError> {
    if tx.execute("DELETE FROM media_items WHERE id = ?1", [id])? == 0 {
        return Err(MediaError::NotFound);
    }
    // Which playouts could play the item is not one query: they are all rebuilt.
    Ok(super::libraries::library_changed("media deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Rebuild;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn file(path: &str) -> NewMedia {
        NewMedia {
            path: path.into(),
            title: "Clip".into(),
            description: None,
            duration_ms: Some(60_000),
            thumbnail: None,
            file_size: 1024,
            file_mtime_ms: 5,
            probe: Probe {
                video_codec: Some("h264".into()),
                streams_json: "[]".into(),
                ..Probe::default()
            },
        }
    }

    #[test]
    fn a_url_must_be_an_absolute_local_path() {
        assert_eq!(local_path("file:///m/a.mp4").unwrap(), "/m/a.mp4");
        assert_eq!(local_path("/m/a.mp4").unwrap(), "/m/a.mp4");
        let err = local_path("http://x/a.mp4").unwrap_err();
        assert_eq!(
            err.to_string(),
            "url: must be an absolute path to a local file"
        );
    }

    #[test]
    fn create_stores_the_probe_and_a_second_copy_of_the_path_conflicts() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, changes) = create(&tx, &file("/m/a.mp4"), 7).unwrap();
        assert!(changes.content && changes.rebuild.is_empty());
        let (dir, codec): (Vec<u8>, String) = tx
            .query_row(
                "SELECT dir_bytes, video_codec FROM media_items WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((dir.as_slice(), codec.as_str()), (&b"/m"[..], "h264"));
        let err = create(&tx, &file("/m/a.mp4"), 8).unwrap_err();
        assert!(
            matches!(&err, MediaError::Db(db) if db.is_unique_violation()),
            "{err}"
        );
    }

    #[test]
    fn a_delete_of_a_scheduled_item_rebuilds_every_playout() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &file("/m/a.mp4"), 7).unwrap();
        // In use by a collection: the entry goes with it, and every playout is rebuilt.
        tx.execute_batch(&format!(
            "INSERT INTO collections (id, name, created_at_ms, updated_at_ms) VALUES (1, 'C', 1, 1);
             INSERT INTO collection_items (collection_id, media_item_id, position) VALUES (1, {id}, 0);"
        ))
        .unwrap();
        let changes = delete(&tx, id).unwrap();
        assert_eq!(changes.rebuild, Rebuild::All);
        assert_eq!(changes.timelines, Timelines::All);
        let left: i64 = tx
            .query_row("SELECT count(*) FROM collection_items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        assert!(matches!(delete(&tx, id), Err(MediaError::NotFound)));
    }
}
