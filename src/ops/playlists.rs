//! Playlist writes: playlists, and their entries (a media item or a whole collection) in
//! `position` order; moving an entry swaps it with its neighbour. Each runs inside the
//! caller's write transaction and returns the `Changes` it made: an entry edit rebuilds
//! exactly the playouts that read the playlist (`ops::readers`). It knows no HTTP and no
//! JSON.

use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};

use super::ids::{ChannelId, CollectionId, MediaId, PlaylistId, PlaylistItemId, ScheduleId};
use super::readers::{self, Content};
use crate::changes::Changes;
use crate::db::DbError;
use crate::time::UnixMs;

/// Entries in one playlist at most: bounds a playlist response and the order rewrite.
pub const MAX_PLAYLIST_ENTRIES: i64 = 10_000;

/// A new playlist; the name is validated at the edge.
#[derive(Debug, Clone, Default)]
pub struct NewPlaylist {
    pub name: String,
    pub description: Option<String>,
    pub channel_id: Option<ChannelId>,
}

/// A partial edit: only the fields given change.
#[derive(Debug, Clone, Default)]
pub struct PlaylistPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// What an entry plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Media(MediaId),
    /// Every item of the collection, in its order.
    Collection(CollectionId),
}

impl Entry {
    /// How the API names the entry's kind ("media item added to the playlist").
    pub fn what(self) -> &'static str {
        match self {
            Entry::Media(_) => "media item",
            Entry::Collection(_) => "collection",
        }
    }

    /// (table, `playlist_items` column, id) of what the entry points at.
    fn target(self) -> (&'static str, &'static str, i64) {
        match self {
            Entry::Media(id) => ("media_items", "media_item_id", id.0),
            Entry::Collection(id) => ("collections", "collection_id", id.0),
        }
    }
}

/// Which way an entry moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// The end an entry cannot move past.
    fn end(self) -> &'static str {
        match self {
            Direction::Up => "top",
            Direction::Down => "bottom",
        }
    }
}

/// Why a playlist write was refused.
#[derive(Debug)]
pub enum PlaylistError {
    NotFound,
    /// The entry is not one of this playlist's.
    EntryNotFound,
    /// The media item or collection an entry would point at does not exist.
    TargetNotFound(Entry),
    AlreadyIn(Entry),
    Full,
    /// The entry is already first (moving up) or last (moving down).
    AtEnd(Direction),
    /// A schedule plays it: deleting it would leave the schedule a hole.
    InUse {
        schedule: ScheduleId,
    },
    /// A field points nowhere or makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for PlaylistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaylistError::NotFound => f.write_str("playlist not found"),
            PlaylistError::EntryNotFound => f.write_str("no such entry in the playlist"),
            PlaylistError::TargetNotFound(entry) => write!(f, "{} not found", entry.what()),
            PlaylistError::AlreadyIn(entry) => {
                write!(f, "the {} is already in the playlist", entry.what())
            }
            PlaylistError::Full => {
                write!(f, "a playlist holds at most {MAX_PLAYLIST_ENTRIES} entries")
            }
            PlaylistError::AtEnd(direction) => {
                write!(f, "the entry is already at the {}", direction.end())
            }
            PlaylistError::InUse { schedule } => {
                write!(f, "the playlist is used by schedule {schedule}")
            }
            PlaylistError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            PlaylistError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(PlaylistError);

pub fn create(
    tx: &Transaction<'_>,
    new: &NewPlaylist,
    now_ms: UnixMs,
) -> Result<(PlaylistId, Changes), PlaylistError> {
    if let Some(channel) = new.channel_id {
        if !crate::db::exists(tx, "channels", channel.0)? {
            return Err(PlaylistError::Invalid {
                field: "channel_id",
                problem: "no such channel".into(),
            });
        }
    }
    tx.execute(
        "INSERT INTO playlists (name, description, channel_id, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![new.name, new.description, new.channel_id, now_ms],
    )?;
    let id = PlaylistId(tx.last_insert_rowid());
    Ok((id, readers::unseen("playlist created")))
}

/// Renames or re-describes a playlist (no timeline reads either).
pub fn update(
    tx: &Transaction<'_>,
    id: PlaylistId,
    patch: &PlaylistPatch,
    now_ms: UnixMs,
) -> Result<Changes, PlaylistError> {
    let n = tx.execute(
        "UPDATE playlists SET name = coalesce(?2, name), description = coalesce(?3, description),
             updated_at_ms = ?4 WHERE id = ?1",
        params![id, patch.name, patch.description, now_ms],
    )?;
    if n == 0 {
        return Err(PlaylistError::NotFound);
    }
    Ok(readers::unseen("playlist updated"))
}

/// Deletes a playlist no schedule plays; the filler that drew from it is rebuilt without it.
pub fn delete(tx: &Transaction<'_>, id: PlaylistId) -> Result<Changes, PlaylistError> {
    let schedule: Option<ScheduleId> = tx
        .query_row(
            "SELECT schedule_id FROM schedule_items
             WHERE playlist_id = ?1 OR (collection_type = 'playlist' AND collection_id = ?1)
             UNION ALL SELECT id FROM schedules WHERE playlist_id = ?1
             LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(schedule) = schedule {
        return Err(PlaylistError::InUse { schedule });
    }
    let changes = readers::rebuilding_readers(tx, Content::Playlist(id), "playlist deleted")?;
    match tx.execute("DELETE FROM playlists WHERE id = ?1", [id])? {
        0 => Err(PlaylistError::NotFound),
        _ => Ok(changes),
    }
}

/// Appends an entry (each media item or collection at most once per playlist).
pub fn add(
    tx: &Transaction<'_>,
    id: PlaylistId,
    entry: Entry,
    now_ms: UnixMs,
) -> Result<Changes, PlaylistError> {
    ensure_exists(tx, id)?;
    let (table, column, target) = entry.target();
    if !crate::db::exists(tx, table, target)? {
        return Err(PlaylistError::TargetNotFound(entry));
    }
    // `column` is one of two fixed names (`Entry::target`).
    let duplicate: bool = tx.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM playlist_items WHERE playlist_id = ?1 AND {column} = ?2)"
        ),
        params![id, target],
        |r| r.get(0),
    )?;
    if duplicate {
        return Err(PlaylistError::AlreadyIn(entry));
    }
    let n_entries: i64 = tx.query_row(
        "SELECT count(*) FROM playlist_items WHERE playlist_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if n_entries >= MAX_PLAYLIST_ENTRIES {
        return Err(PlaylistError::Full);
    }
    tx.execute(
        &format!(
            "INSERT INTO playlist_items (playlist_id, {column}, position)
             SELECT ?1, ?2, coalesce(max(position), -1) + 1 FROM playlist_items WHERE playlist_id = ?1"
        ),
        params![id, target],
    )?;
    touch(tx, id, now_ms)?;
    Ok(readers::rebuilding_readers(
        tx,
        Content::Playlist(id),
        "playlist entry added",
    )?)
}

pub fn remove(
    tx: &Transaction<'_>,
    id: PlaylistId,
    entry: PlaylistItemId,
) -> Result<Changes, PlaylistError> {
    ensure_exists(tx, id)?;
    let n = tx.execute(
        "DELETE FROM playlist_items WHERE playlist_id = ?1 AND id = ?2",
        params![id, entry],
    )?;
    if n == 0 {
        return Err(PlaylistError::EntryNotFound);
    }
    Ok(readers::rebuilding_readers(
        tx,
        Content::Playlist(id),
        "playlist entry removed",
    )?)
}

/// Swaps an entry with its neighbour in `direction`.
pub fn move_entry(
    tx: &Transaction<'_>,
    id: PlaylistId,
    entry: PlaylistItemId,
    direction: Direction,
    now_ms: UnixMs,
) -> Result<Changes, PlaylistError> {
    ensure_exists(tx, id)?;
    let mut order: Vec<PlaylistItemId> = tx
        .prepare("SELECT id FROM playlist_items WHERE playlist_id = ?1 ORDER BY position, id")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let at = order
        .iter()
        .position(|x| *x == entry)
        .ok_or(PlaylistError::EntryNotFound)?;
    let other = match direction {
        Direction::Up => at.checked_sub(1),
        Direction::Down => Some(at + 1).filter(|i| *i < order.len()),
    };
    let other = other.ok_or(PlaylistError::AtEnd(direction))?;
    order.swap(at, other);
    // Renumber 0..n: positions stay dense whatever earlier deletes left behind.
    let mut stmt = tx.prepare("UPDATE playlist_items SET position = ?2 WHERE id = ?1")?;
    for (position, entry) in order.iter().enumerate() {
        stmt.execute(params![entry, position as i64])?;
    }
    drop(stmt);
    touch(tx, id, now_ms)?;
    Ok(readers::rebuilding_readers(
        tx,
        Content::Playlist(id),
        "playlist entry moved",
    )?)
}

fn ensure_exists(tx: &Transaction<'_>, id: PlaylistId) -> Result<(), PlaylistError> {
    match crate::db::exists(tx, "playlists", id.0)? {
        true => Ok(()),
        false => Err(PlaylistError::NotFound),
    }
}

fn touch(tx: &Transaction<'_>, id: PlaylistId, now_ms: UnixMs) -> Result<(), DbError> {
    tx.execute(
        "UPDATE playlists SET updated_at_ms = ?2 WHERE id = ?1",
        params![id, now_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Rebuild;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn named(name: &str) -> NewPlaylist {
        NewPlaylist {
            name: name.into(),
            ..NewPlaylist::default()
        }
    }

    fn media(tx: &Transaction<'_>, title: &str) -> MediaId {
        tx.execute(
            "INSERT INTO media_items (source, url, title, duration_ms, added_at_ms, created_at_ms, updated_at_ms)
             VALUES ('local', ?1, ?1, 60000, 1, 1, 1)",
            [title],
        )
        .unwrap();
        MediaId(tx.last_insert_rowid())
    }

    fn entries(tx: &Transaction<'_>, id: PlaylistId) -> Vec<PlaylistItemId> {
        tx.prepare("SELECT id FROM playlist_items WHERE playlist_id = ?1 ORDER BY position, id")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn create_checks_the_channel_and_update_needs_the_playlist() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let mut bad = named("Evening");
        bad.channel_id = Some(ChannelId(9999));
        let err = create(&tx, &bad, 1).unwrap_err();
        assert_eq!(err.to_string(), "channel_id: no such channel");
        let (id, changes) = create(&tx, &named("Evening"), 1).unwrap();
        assert!(changes.rebuild.is_empty());
        let patch = PlaylistPatch {
            name: Some("Night".into()),
            description: None,
        };
        update(&tx, id, &patch, 2).unwrap();
        assert!(matches!(
            update(&tx, PlaylistId(999), &patch, 2),
            Err(PlaylistError::NotFound)
        ));
    }

    #[test]
    fn entries_are_unique_bounded_at_the_ends_and_moves_swap_neighbours() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &named("Evening"), 1).unwrap();
        let (film, pilot) = (media(&tx, "Film"), media(&tx, "Pilot"));
        add(&tx, id, Entry::Media(film), 2).unwrap();
        add(&tx, id, Entry::Media(pilot), 2).unwrap();
        let err = add(&tx, id, Entry::Media(film), 2).unwrap_err();
        assert_eq!(err.to_string(), "the media item is already in the playlist");
        let err = add(&tx, id, Entry::Collection(CollectionId(9)), 2).unwrap_err();
        assert_eq!(err.to_string(), "collection not found");
        let order = entries(&tx, id);
        let err = move_entry(&tx, id, order[0], Direction::Up, 3).unwrap_err();
        assert_eq!(err.to_string(), "the entry is already at the top");
        move_entry(&tx, id, order[1], Direction::Up, 3).unwrap();
        assert_eq!(entries(&tx, id), [order[1], order[0]]);
        let err = move_entry(&tx, id, PlaylistItemId(999), Direction::Down, 3).unwrap_err();
        assert!(matches!(err, PlaylistError::EntryNotFound), "{err}");
        remove(&tx, id, order[0]).unwrap();
        let err = remove(&tx, id, order[0]).unwrap_err();
        assert_eq!(err.to_string(), "no such entry in the playlist");
    }

    #[test]
    fn a_scheduled_playlist_is_not_deleted_and_its_entries_rebuild_its_readers() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &named("Evening"), 1).unwrap();
        tx.execute_batch(
            "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES ('5', 'News', 1, 1);
             INSERT INTO schedules (name, created_at_ms, updated_at_ms) VALUES ('S', 1, 1);",
        )
        .unwrap();
        let schedule = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO schedule_items (schedule_id, position, collection_type, playlist_id, created_at_ms, updated_at_ms)
             VALUES (?1, 0, 'playlist', ?2, 1, 1)",
            params![schedule, id],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, seed, created_at_ms, updated_at_ms)
             SELECT id, ?1, 7, 1, 1 FROM channels WHERE number = '5'",
            [schedule],
        )
        .unwrap();
        let playout = tx.last_insert_rowid();
        let changes = add(&tx, id, Entry::Media(media(&tx, "Film")), 2).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let err = delete(&tx, id).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the playlist is used by schedule {schedule}")
        );
        let (unused, _) = create(&tx, &named("Unused"), 1).unwrap();
        assert!(delete(&tx, unused).unwrap().rebuild.is_empty());
        assert!(matches!(delete(&tx, unused), Err(PlaylistError::NotFound)));
    }
}
