//! Flash-and-forget first start: an empty database with no `--media` gets channel 1 "Demo",
//! whose programmes FFmpeg generates itself (test pattern, tone, title and clock), with a
//! schedule and a playout, so the lineup, M3U, guide and stream work with no configuration.
//! The programmes are `generated` media items; no media file is ever written.
//!
//! With `--media` on a database without channels, the first completed scan of each media
//! folder creates one channel per top-level subfolder instead (`create_media_channels`).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::scheduler::BuildClock;

/// The URL scheme of media FFmpeg synthesises (lavfi); `stream::ffmpeg` knows how to play it.
pub const GENERATED_SCHEME: &str = "generated://";

/// The demo programmes: (title, description, minutes). Different lengths make boundaries
/// fall at different times of the hour, which exercises the splicer.
const DEMO_PROGRAMMES: [(&str, &str, i64); 3] = [
    (
        "Test Pattern",
        "SMPTE-style colour bars with a 1 kHz tone.",
        15,
    ),
    (
        "Moving Pattern",
        "A moving test card with a 440 Hz tone.",
        10,
    ),
    ("Clock", "The time, on a test card, with a 880 Hz tone.", 5),
];

/// Creates the demo channel when the database has no channel and no media folder was
/// given. Returns whether it did. Idempotent.
pub fn prepare(db: &Db, config: &Config) -> Result<bool, DbError> {
    if !config.media_dirs.is_empty() {
        return Ok(false);
    }
    db.write_blocking(|conn| {
        let tx = conn.transaction()?;
        let n_channels: i64 = tx.query_row("SELECT count(*) FROM channels", [], |r| r.get(0))?;
        if n_channels > 0 {
            return Ok(false);
        }
        let now = crate::time::now_ms();
        tx.execute(
            "INSERT INTO collections (name, description, collection_type, created_at_ms, updated_at_ms)
             VALUES ('Demo', 'Programmes FFmpeg generates itself', 'manual', ?1, ?1)",
            [now],
        )?;
        let collection_id = tx.last_insert_rowid();
        for (position, (title, description, minutes)) in DEMO_PROGRAMMES.iter().enumerate() {
            let url = format!("{GENERATED_SCHEME}demo/{}", position + 1);
            tx.execute(
                "INSERT INTO media_items (source, url, title, description, duration_ms, media_type,
                     show_title, season_number, episode_number, container, video_codec, width, height,
                     frame_rate, audio_codec, audio_channels, audio_sample_rate,
                     added_at_ms, created_at_ms, updated_at_ms)
                 VALUES ('generated', ?1, ?2, ?3, ?4, 'episode', 'Demo', 1, ?5, 'lavfi', 'rawvideo',
                     1280, 720, 30, 'pcm', 2, 48000, ?6, ?6, ?6)",
                params![url, title, description, minutes * 60_000, position as i64 + 1, now],
            )?;
            let media_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO collection_items (collection_id, media_item_id, position) VALUES (?1, ?2, ?3)",
                params![collection_id, media_id, position as i64],
            )?;
        }
        tx.execute(
            "INSERT INTO channels (number, name, \"group\", created_at_ms, updated_at_ms)
             VALUES ('1', 'Demo', 'Demo', ?1, ?1)",
            [now],
        )?;
        let channel_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO schedules (name, channel_id, collection_id, created_at_ms, updated_at_ms)
             VALUES ('Demo', ?1, ?2, ?3, ?3)",
            params![channel_id, collection_id, now],
        )?;
        let schedule_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id,
                 playback_order, playout_mode, created_at_ms, updated_at_ms)
             VALUES (?1, 0, 'collection', ?2, 'chronological', 'flood', ?3, ?3)",
            params![schedule_id, collection_id, now],
        )?;
        tx.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, playout_type, seed, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, 'continuous', 1, ?3, ?3)",
            params![channel_id, schedule_id, now],
        )?;
        tx.commit()?;
        Ok(true)
    })
}

/// Whether the first scans of the `--media` folders should create channels: there are media
/// folders and not a single channel yet.
pub fn wants_media_channels(db: &Db, config: &Config) -> Result<bool, DbError> {
    if config.media_dirs.is_empty() {
        return Ok(false);
    }
    db.write_blocking(|conn| {
        let n: i64 = conn.query_row("SELECT count(*) FROM channels", [], |r| r.get(0))?;
        Ok(n == 0)
    })
}

/// Collection names tried per folder before giving up (`Name`, `Name (2)`, ...).
const MAX_NAME_TRIES: usize = 100;

/// One channel per top-level subfolder of the library's folder (sorted by name, numbered
/// after the highest channel number, from 1), each with a collection of the folder's
/// playable items that follows the folder (`collections.auto_folder`), a schedule with one
/// flood item in season/episode order, and a playout, exactly as the demo channel is built.
/// Files directly in the library folder get one more channel named after the folder. A
/// folder that already has its collection, or has nothing playable, is skipped. Each
/// channel is committed with its first horizon of programmes (built from `clock`), so no
/// client ever lists one of them without a timeline. Returns the number of channels created.
pub fn create_media_channels(
    conn: &mut Connection,
    library_id: i64,
    clock: &BuildClock,
) -> Result<usize, DbError> {
    let tx = conn.transaction()?;
    let root: Option<String> = tx
        .query_row(
            "SELECT path FROM libraries WHERE id = ?1",
            [library_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(root) = root else {
        return Ok(0);
    };
    let root = root.trim_end_matches('/').to_string();
    let root_name = std::path::Path::new(&root)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| root.clone());
    let mut next_number: i64 = tx.query_row(
        "SELECT coalesce(max(CAST(number AS INTEGER)), 0) + 1 FROM channels",
        [],
        |r| r.get(0),
    )?;
    let now = crate::time::now_ms();
    let mut created = 0;
    for (folder, item_ids) in folder_groups(&tx, library_id, &root)? {
        let (name, auto_folder) = match &folder {
            Some(f) => (f.clone(), Some(format!("{root}/{f}"))),
            None => (root_name.clone(), None),
        };
        let channel = FolderChannel {
            name: &name,
            auto_folder: auto_folder.as_deref(),
            number: next_number,
            item_ids: &item_ids,
        };
        if create_folder_channel(&tx, &channel, now, clock)? {
            next_number += 1;
            created += 1;
        }
    }
    tx.commit()?;
    Ok(created)
}

/// A top-level folder (`None`: files in the root) and its playable items, in order.
type FolderGroup = (Option<String>, Vec<i64>);

/// The library's playable items grouped by top-level folder (`None`: files in the root),
/// each group in season/episode order; folders by name, the root's files last.
fn folder_groups(
    tx: &Connection,
    library_id: i64,
    root: &str,
) -> Result<Vec<FolderGroup>, DbError> {
    let prefix = format!("{root}/");
    let mut groups: BTreeMap<Option<String>, Vec<i64>> = BTreeMap::new();
    let mut stmt = tx.prepare(
        "SELECT id, url FROM media_items
         WHERE library_id = ?1 AND is_missing = 0 AND probe_error IS NULL
         ORDER BY show_title IS NULL, lower(show_title), season_number, episode_number,
                  lower(title), id",
    )?;
    let rows = stmt.query_map([library_id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (id, url) = row?;
        let Some(rel) = url.strip_prefix(&prefix) else {
            continue;
        };
        let key = rel.split_once('/').map(|(top, _)| top.to_string());
        groups.entry(key).or_default().push(id);
    }
    // BTreeMap order puts None first: move it last.
    let mut ordered: Vec<FolderGroup> = groups.into_iter().collect();
    ordered.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    });
    Ok(ordered)
}

/// One folder's channel to create.
struct FolderChannel<'a> {
    name: &'a str,
    /// The folder the collection follows; `None` for the root's own files.
    auto_folder: Option<&'a str>,
    number: i64,
    item_ids: &'a [i64],
}

/// Creates the folder's collection, channel, schedule and playout, with its first horizon.
/// False when the folder is skipped (its collection exists, or no name is free).
fn create_folder_channel(
    tx: &rusqlite::Transaction<'_>,
    folder: &FolderChannel<'_>,
    now: i64,
    clock: &BuildClock,
) -> Result<bool, DbError> {
    let name = folder.name;
    if let Some(af) = folder.auto_folder {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM collections WHERE auto_folder = ?1",
                [af],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Ok(false);
        }
    }
    let Some(collection_name) = free_collection_name(tx, name)? else {
        tracing::warn!(folder = %name, "no free collection name; folder skipped");
        return Ok(false);
    };
    tx.execute(
        "INSERT INTO collections (name, description, collection_type, auto_folder, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, 'manual', ?3, ?4, ?4)",
        params![collection_name, format!("Media folder {name}"), folder.auto_folder, now],
    )?;
    let collection_id = tx.last_insert_rowid();
    for (position, media_id) in folder.item_ids.iter().enumerate() {
        tx.execute(
            "INSERT INTO collection_items (collection_id, media_item_id, position) VALUES (?1, ?2, ?3)",
            params![collection_id, media_id, position as i64],
        )?;
    }
    tx.execute(
        "INSERT INTO channels (number, name, \"group\", created_at_ms, updated_at_ms)
         VALUES (?1, ?2, 'General', ?3, ?3)",
        params![folder.number.to_string(), name, now],
    )?;
    let channel_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO schedules (name, channel_id, collection_id, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![name, channel_id, collection_id, now],
    )?;
    let schedule_id = tx.last_insert_rowid();
    // season_episode: the playout sorts by show, season, episode, then title, so shows
    // play in order and movies by title.
    tx.execute(
        "INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id,
             playback_order, playout_mode, created_at_ms, updated_at_ms)
         VALUES (?1, 0, 'collection', ?2, 'season_episode', 'flood', ?3, ?3)",
        params![schedule_id, collection_id, now],
    )?;
    tx.execute(
        "INSERT INTO playouts (channel_id, program_schedule_id, playout_type, seed, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, 'continuous', ?3, ?4, ?4)",
        params![channel_id, schedule_id, seed(channel_id, now), now],
    )?;
    crate::scheduler::rebuild_in(tx, tx.last_insert_rowid(), clock)?;
    Ok(true)
}

/// A stored seed for the playout's shuffles: any value works (the schedule plays in order);
/// varying it per channel keeps shuffles added later from being identical everywhere.
fn seed(channel_id: i64, now: i64) -> i64 {
    (now ^ channel_id.wrapping_mul(0x9E37_79B9)) & 0x7FFF_FFFF
}

fn free_collection_name(conn: &Connection, name: &str) -> Result<Option<String>, DbError> {
    for n in 1..=MAX_NAME_TRIES {
        let candidate = if n == 1 {
            name.to_string()
        } else {
            format!("{name} ({n})")
        };
        let taken: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM collections WHERE name = ?1)",
            [&candidate],
            |r| r.get(0),
        )?;
        if !taken {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}
