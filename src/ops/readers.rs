//! Which active playouts read a piece of content (a collection, multi-collection, playlist
//! or filler preset): what a write to it asks `App::apply` to rebuild. Content reaches a
//! timeline through schedules (their items and their own collection or playlist), through
//! channels (their filler slots and their deco's default filler), and through the blocks of
//! the templates applied to a playout; and content nests: a collection is read by the
//! multi-collections, playlists and filler items that hold it, a playlist by filler items.
//! The queries follow `scheduler::inputs`, which decides what a build reads; where they
//! over-approximate (an item whose type the builder would skip), the extra rebuild writes
//! nothing, since the builder rewrites only timelines that come out different.
//!
//! It knows no HTTP and no JSON.

use rusqlite::Connection;

use super::ids::{CollectionId, FillerPresetId, MultiCollectionId, PlaylistId};
use crate::changes::{Changes, Rebuild, Timelines};
use crate::db::DbError;

/// A piece of content timelines may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Collection(CollectionId),
    MultiCollection(MultiCollectionId),
    Playlist(PlaylistId),
    FillerPreset(FillerPresetId),
}

/// The schedules and channels that read some content, directly or through another.
#[derive(Debug, Default)]
struct Readers {
    schedules: Vec<i64>,
    channels: Vec<i64>,
    /// Read through a block of a template applied to them.
    playouts: Vec<i64>,
}

/// The active playouts that read `content` (past `changes::MAX_LISTED`, `Rebuild::All`).
pub fn playouts_reading(conn: &Connection, content: Content) -> Result<Rebuild, DbError> {
    let mut readers = Readers::default();
    add_readers(conn, content, &mut readers)?;
    readers.schedules.sort_unstable();
    readers.schedules.dedup();
    readers.channels.sort_unstable();
    readers.channels.dedup();
    let mut rebuild = Rebuild::Empty;
    for playout_id in readers.playouts {
        rebuild.add(super::ids::PlayoutId(playout_id));
    }
    for schedule_id in readers.schedules {
        rebuild.merge(crate::scheduler::playouts_of_schedule(
            conn,
            super::ids::ScheduleId(schedule_id),
        )?);
    }
    for channel_id in readers.channels {
        rebuild.merge(crate::scheduler::playouts_of_channel(
            conn,
            super::ids::ChannelId(channel_id),
        )?);
    }
    Ok(rebuild)
}

/// What a write to `content` changed: the playouts that read it are rebuilt after the
/// commit, and what clients see changes only where a rebuilt timeline does (`App::apply`).
pub fn rebuilding_readers(
    conn: &Connection,
    content: Content,
    cause: &str,
) -> Result<Changes, DbError> {
    Ok(rebuilding(playouts_reading(conn, content)?, cause))
}

/// `rebuild` after the commit; nothing else changed until a timeline does.
pub fn rebuilding(rebuild: Rebuild, cause: &str) -> Changes {
    Changes {
        content: false,
        timelines: Timelines::Empty,
        rebuild,
        cause: cause.into(),
    }
}

/// A write no timeline and no client document reads (a new or renamed container).
pub fn unseen(cause: &str) -> Changes {
    rebuilding(Rebuild::Empty, cause)
}

fn add_readers(conn: &Connection, content: Content, out: &mut Readers) -> Result<(), DbError> {
    match content {
        Content::Collection(id) => collection_readers(conn, id, out),
        Content::MultiCollection(id) => {
            out.schedules.extend(ids(
                conn,
                "SELECT schedule_id FROM schedule_items
                 WHERE collection_type = 'multi_collection' AND collection_id = ?1",
                id.0,
            )?);
            Ok(())
        }
        Content::Playlist(id) => playlist_readers(conn, id, out),
        Content::FillerPreset(id) => preset_readers_of(conn, id, out),
    }
}

fn collection_readers(
    conn: &Connection,
    id: CollectionId,
    out: &mut Readers,
) -> Result<(), DbError> {
    // Every slot type but these three reads its collection_id as a collection
    // (`scheduler::inputs::content_key`); a schedule without items floods its own.
    out.schedules.extend(ids(
        conn,
        "SELECT schedule_id FROM schedule_items WHERE collection_id = ?1
             AND collection_type NOT IN ('multi_collection', 'playlist', 'media_item')
         UNION SELECT id FROM schedules WHERE collection_id = ?1",
        id.0,
    )?);
    let multis = ids(
        conn,
        "SELECT multi_collection_id FROM multi_collection_links WHERE collection_id = ?1",
        id.0,
    )?;
    for multi in multis {
        add_readers(
            conn,
            Content::MultiCollection(MultiCollectionId(multi)),
            out,
        )?;
    }
    let playlists = ids(
        conn,
        "SELECT DISTINCT playlist_id FROM playlist_items WHERE collection_id = ?1",
        id.0,
    )?;
    for playlist in playlists {
        playlist_readers(conn, PlaylistId(playlist), out)?;
    }
    let presets = ids(
        conn,
        "SELECT DISTINCT preset_id FROM filler_items
         WHERE media_item_id IS NULL AND collection_id = ?1
           AND coalesce(collection_type, 'collection') != 'playlist'",
        id.0,
    )?;
    for preset in presets {
        preset_readers_of(conn, FillerPresetId(preset), out)?;
    }
    out.channels.extend(ids(
        conn,
        "SELECT channel_id FROM channel_deco WHERE default_filler_collection_id = ?1",
        id.0,
    )?);
    // A smart collection's block item reads its collection_id as a collection too.
    block_readers(conn, "collection_type != 'playlist'", id.0, out)
}

/// The active playouts with a template whose blocks hold an item on `filter` and `id`.
fn block_readers(
    conn: &Connection,
    filter: &str,
    id: i64,
    out: &mut Readers,
) -> Result<(), DbError> {
    let sql = format!(
        "SELECT DISTINCT pt.playout_id FROM playout_templates pt
         JOIN playouts p ON p.id = pt.playout_id AND p.is_active = 1
         JOIN template_items ti ON ti.template_id = pt.template_id
         JOIN block_items bi ON bi.block_id = ti.block_id
         WHERE bi.collection_id = ?1 AND bi.{filter}"
    );
    out.playouts.extend(ids(conn, &sql, id)?);
    Ok(())
}

fn playlist_readers(conn: &Connection, id: PlaylistId, out: &mut Readers) -> Result<(), DbError> {
    out.schedules.extend(ids(
        conn,
        "SELECT schedule_id FROM schedule_items
         WHERE collection_type = 'playlist' AND coalesce(playlist_id, collection_id) = ?1
         UNION SELECT id FROM schedules WHERE playlist_id = ?1",
        id.0,
    )?);
    let presets = ids(
        conn,
        "SELECT DISTINCT preset_id FROM filler_items
         WHERE media_item_id IS NULL AND collection_type = 'playlist' AND collection_id = ?1",
        id.0,
    )?;
    for preset in presets {
        preset_readers_of(conn, FillerPresetId(preset), out)?;
    }
    block_readers(conn, "collection_type = 'playlist'", id.0, out)
}

fn preset_readers_of(
    conn: &Connection,
    id: FillerPresetId,
    out: &mut Readers,
) -> Result<(), DbError> {
    out.channels.extend(ids(
        conn,
        "SELECT id FROM channels
         WHERE ?1 IN (fallback_filler_id, pre_roll_filler_id, post_roll_filler_id)",
        id.0,
    )?);
    out.schedules.extend(ids(
        conn,
        "SELECT DISTINCT schedule_id FROM schedule_items
         WHERE ?1 IN (pre_roll_filler_id, mid_roll_filler_id, post_roll_filler_id,
                      tail_filler_id, fallback_filler_id)",
        id.0,
    )?);
    Ok(())
}

fn ids(conn: &Connection, sql: &str, id: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<i64>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::ids::PlayoutId;
    use rusqlite::params;

    fn db() -> Connection {
        super::super::test_db()
    }

    /// A channel numbered `number` with one active playout; returns (channel, playout).
    fn channel(conn: &Connection, number: &str, schedule: Option<i64>) -> (i64, i64) {
        conn.execute(
            "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES (?1, ?1, 1, 1)",
            [number],
        )
        .unwrap();
        let channel = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, seed, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, 7, 1, 1)",
            params![channel, schedule],
        )
        .unwrap();
        (channel, conn.last_insert_rowid())
    }

    #[test]
    fn a_collection_is_read_through_the_playlists_and_filler_that_hold_it() {
        let conn = db();
        conn.execute_batch(
            "INSERT INTO collections (id, name, created_at_ms, updated_at_ms) VALUES (1, 'C', 1, 1);
             INSERT INTO playlists (id, name, created_at_ms, updated_at_ms) VALUES (2, 'P', 1, 1);
             INSERT INTO playlist_items (playlist_id, collection_id, position) VALUES (2, 1, 0);
             INSERT INTO filler_presets (id, name, created_at_ms, updated_at_ms) VALUES (3, 'F', 1, 1);
             INSERT INTO filler_items (preset_id, collection_type, collection_id) VALUES (3, 'playlist', 2);
             INSERT INTO schedules (id, name, created_at_ms, updated_at_ms) VALUES (4, 'S', 1, 1);",
        )
        .unwrap();
        let (_, unrelated) = channel(&conn, "1", None);
        let (with_filler, filler_playout) = channel(&conn, "2", None);
        conn.execute(
            "UPDATE channels SET fallback_filler_id = 3 WHERE id = ?1",
            [with_filler],
        )
        .unwrap();
        let (_, scheduled) = channel(&conn, "3", Some(4));
        conn.execute(
            "INSERT INTO schedule_items (schedule_id, position, collection_type, playlist_id, created_at_ms, updated_at_ms)
             VALUES (4, 0, 'playlist', 2, 1, 1)",
            [],
        )
        .unwrap();
        let rebuild = playouts_reading(&conn, Content::Collection(CollectionId(1))).unwrap();
        assert_eq!(
            rebuild,
            Rebuild::of([PlayoutId(scheduled), PlayoutId(filler_playout)])
        );
        assert!(!matches!(&rebuild, Rebuild::Of(ids) if ids.contains(&PlayoutId(unrelated))));
        let rebuild = playouts_reading(&conn, Content::FillerPreset(FillerPresetId(3))).unwrap();
        assert_eq!(rebuild, Rebuild::of([PlayoutId(filler_playout)]));
        let nobody = playouts_reading(&conn, Content::MultiCollection(MultiCollectionId(9)));
        assert!(nobody.unwrap().is_empty());
    }

    #[test]
    fn a_collection_is_read_through_the_blocks_of_applied_templates_and_the_deco_filler() {
        let conn = db();
        conn.execute_batch(
            "INSERT INTO collections (id, name, created_at_ms, updated_at_ms) VALUES (1, 'C', 1, 1);
             INSERT INTO playlists (id, name, created_at_ms, updated_at_ms) VALUES (2, 'P', 1, 1);
             INSERT INTO blocks (id, name, start_time, duration_minutes, created_at_ms, updated_at_ms)
             VALUES (5, 'B', '08:00', 60, 1, 1);
             INSERT INTO block_items (block_id, position, collection_type, collection_id)
             VALUES (5, 0, 'smart_collection', 1), (5, 1, 'playlist', 2);
             INSERT INTO templates (id, name, created_at_ms, updated_at_ms) VALUES (6, 'T', 1, 1);
             INSERT INTO template_items (template_id, block_id, start_time) VALUES (6, 5, '08:00');",
        )
        .unwrap();
        let (_, unrelated) = channel(&conn, "1", None);
        let (_, templated) = channel(&conn, "2", None);
        conn.execute(
            "INSERT INTO playout_templates (playout_id, template_id, days_of_week, created_at_ms)
             VALUES (?1, 6, 127, 1)",
            [templated],
        )
        .unwrap();
        let (decorated, deco_playout) = channel(&conn, "3", None);
        conn.execute(
            "INSERT INTO channel_deco (channel_id, default_filler_mode, default_filler_collection_id, updated_at_ms)
             VALUES (?1, 'override', 1, 1)",
            [decorated],
        )
        .unwrap();
        let rebuild = playouts_reading(&conn, Content::Collection(CollectionId(1))).unwrap();
        assert_eq!(
            rebuild,
            Rebuild::of([PlayoutId(templated), PlayoutId(deco_playout)])
        );
        assert!(!matches!(&rebuild, Rebuild::Of(ids) if ids.contains(&PlayoutId(unrelated))));
        let rebuild = playouts_reading(&conn, Content::Playlist(PlaylistId(2))).unwrap();
        assert_eq!(rebuild, Rebuild::of([PlayoutId(templated)]));
    }

    #[test]
    fn more_readers_than_a_set_holds_rebuild_every_playout() {
        let conn = db();
        conn.execute_batch(
            "INSERT INTO filler_presets (id, name, created_at_ms, updated_at_ms) VALUES (3, 'F', 1, 1);",
        )
        .unwrap();
        for n in 0..=crate::changes::MAX_LISTED {
            let (id, _) = channel(&conn, &n.to_string(), None);
            conn.execute(
                "UPDATE channels SET pre_roll_filler_id = 3 WHERE id = ?1",
                [id],
            )
            .unwrap();
        }
        let rebuild = playouts_reading(&conn, Content::FillerPreset(FillerPresetId(3))).unwrap();
        assert_eq!(rebuild, Rebuild::All);
        let changes = rebuilding(rebuild, "x");
        assert!(!changes.content && changes.timelines.is_empty());
    }
}
