//! Schedule item writes: create (appended, or inserted at an index), update, delete, and
//! moves; positions stay dense (0..n-1). References are checked, and the stored row's
//! content and mode must make sense together (checked after a partial update, on the row as
//! stored). Every write first takes a history snapshot of the schedule
//! (`ops::schedule_history`) in its own transaction, and rebuilds, from now on, the
//! playouts that use the item's schedule. A refusal is a `ScheduleItemError`. It knows no
//! HTTP and no JSON.

use std::fmt;

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Transaction};

use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{
    FixedStartBehavior, GuideMode, PlaybackOrder, SlotContent, SlotMode, StartType, TailMode,
    TextEnum,
};
use crate::time::UnixMs;

use super::fields::{patch, AnyId, ClockTime, Int, OneOf, Text};

pub use super::ids::ScheduleItemId;
use super::ids::{CollectionId, FillerPresetId, MediaId, PlaylistId, ScheduleId};

patch! {
    /// The fields an item write sends, each validated once at the edge. Neither the item's
    /// schedule nor its position is among them: where an item goes is the operations' to
    /// decide (`NewScheduleItem`, `move_item`).
    pub struct ScheduleItemPatch {
        start_type: OneOf<StartType>,
        start_time: Option<ClockTime>,
        fixed_start_time_behavior: Option<OneOf<FixedStartBehavior>>,
        collection_type: OneOf<SlotContent>,
        collection_id: Option<AnyId>,
        media_item_id: Option<MediaId>,
        playlist_id: Option<PlaylistId>,
        search_title: Option<Text>,
        search_query: Option<Text>,
        plex_show_key: Option<Text>,
        plex_season_key: Option<Text>,
        plex_artist_key: Option<Text>,
        playback_order: OneOf<PlaybackOrder>,
        playout_mode: OneOf<SlotMode>,
        multiple_mode: Option<Text>,
        multiple_count: Option<Int<1, 10_000>>,
        playout_duration_hours: Int<0, { 24 * 7 }>,
        playout_duration_minutes: Int<0, 59>,
        fill_with_group_mode: Option<Text>,
        tail_mode: Option<OneOf<TailMode>>,
        tail_filler_collection_id: Option<CollectionId>,
        discard_to_fill_attempts: Option<Int<0, 100>>,
        custom_title: Option<Text>,
        guide_mode: OneOf<GuideMode>,
        pre_roll_filler_id: Option<FillerPresetId>,
        mid_roll_filler_id: Option<FillerPresetId>,
        post_roll_filler_id: Option<FillerPresetId>,
        tail_filler_id: Option<FillerPresetId>,
        fallback_filler_id: Option<FillerPresetId>,
        watermark_id: Option<AnyId>,
        preferred_audio_language: Option<Text>,
        preferred_audio_title: Option<Text>,
        preferred_subtitle_language: Option<Text>,
        subtitle_mode: Option<Text>,
    }
}

impl ScheduleItemPatch {
    /// The filler slots the patch sets to a preset, by field, in the order their
    /// references are checked.
    fn filler_presets(&self) -> [(&'static str, Option<FillerPresetId>); 5] {
        [
            ("pre_roll_filler_id", self.pre_roll_filler_id.value()),
            ("mid_roll_filler_id", self.mid_roll_filler_id.value()),
            ("post_roll_filler_id", self.post_roll_filler_id.value()),
            ("tail_filler_id", self.tail_filler_id.value()),
            ("fallback_filler_id", self.fallback_filler_id.value()),
        ]
    }
}

/// A new item: its schedule, where it goes (`None`: at the end; past the end: the end),
/// and its fields.
#[derive(Debug, Clone)]
pub struct NewScheduleItem {
    pub schedule_id: ScheduleId,
    pub index: Option<i64>,
    pub patch: ScheduleItemPatch,
}

/// Which way a move goes in the schedule's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Why a schedule item write was refused.
#[derive(Debug)]
pub enum ScheduleItemError {
    NotFound,
    /// The schedule the item is added to does not exist.
    ScheduleNotFound,
    /// A move past the top or bottom of the schedule.
    AtEdge(Direction),
    /// A field points nowhere or does not fit the item's content or mode (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for ScheduleItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleItemError::NotFound => f.write_str("schedule item not found"),
            ScheduleItemError::ScheduleNotFound => f.write_str("schedule not found"),
            ScheduleItemError::AtEdge(direction) => write!(
                f,
                "the item is already at the {} of its schedule",
                match direction {
                    Direction::Up => "top",
                    Direction::Down => "bottom",
                }
            ),
            ScheduleItemError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            ScheduleItemError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(ScheduleItemError);

fn invalid(field: &'static str, problem: impl fmt::Display) -> ScheduleItemError {
    ScheduleItemError::Invalid {
        field,
        problem: problem.to_string(),
    }
}

/// Adds the item to its schedule at `new.index` (later items move down), or at the end.
pub fn create(
    tx: &Transaction<'_>,
    new: &NewScheduleItem,
    now_ms: UnixMs,
) -> Result<(ScheduleItemId, Changes), ScheduleItemError> {
    let schedule_id = new.schedule_id;
    if !crate::db::exists(tx, "schedules", schedule_id.0)? {
        return Err(ScheduleItemError::ScheduleNotFound);
    }
    check_refs(tx, &new.patch)?;
    history(tx, schedule_id, "schedule item created", now_ms)?;
    renumber(tx, schedule_id)?;
    let n: i64 = tx.query_row(
        "SELECT count(*) FROM schedule_items WHERE schedule_id = ?1",
        [schedule_id],
        |r| r.get(0),
    )?;
    let position = new.index.unwrap_or(n).min(n);
    tx.execute(
        "UPDATE schedule_items SET position = position + 1 WHERE schedule_id = ?1 AND position >= ?2",
        params![schedule_id, position],
    )?;
    let mut values = new.patch.values();
    values.push(("schedule_id", Value::Integer(schedule_id.0)));
    values.push(("position", Value::Integer(position)));
    let id = ScheduleItemId(crate::db::row::insert(
        tx,
        "schedule_items",
        &values,
        now_ms,
    )?);
    check_stored(tx, id)?;
    Ok((id, rebuilding(tx, schedule_id, "schedule item created")?))
}

/// Updates the item's fields (not its schedule or position: moves have their own operation).
pub fn update(
    tx: &Transaction<'_>,
    id: ScheduleItemId,
    patch: &ScheduleItemPatch,
    now_ms: UnixMs,
) -> Result<Changes, ScheduleItemError> {
    let schedule_id = schedule_of(tx, id)?;
    check_refs(tx, patch)?;
    history(tx, schedule_id, "schedule item updated", now_ms)?;
    crate::db::row::update(tx, "schedule_items", id.0, &patch.values(), now_ms)?;
    check_stored(tx, id)?;
    rebuilding(tx, schedule_id, "schedule item updated")
}

/// Deletes the item (only from `schedule_id`, when given: another schedule's item is not
/// found) and renumbers the rest.
pub fn delete(
    tx: &Transaction<'_>,
    id: ScheduleItemId,
    schedule_id: Option<ScheduleId>,
    now_ms: UnixMs,
) -> Result<Changes, ScheduleItemError> {
    let owner = schedule_of(tx, id)?;
    if schedule_id.is_some_and(|s| s != owner) {
        return Err(ScheduleItemError::NotFound);
    }
    history(tx, owner, "schedule item deleted", now_ms)?;
    tx.execute("DELETE FROM schedule_items WHERE id = ?1", [id])?;
    renumber(tx, owner)?;
    rebuilding(tx, owner, "schedule item deleted")
}

/// Swaps the item with its neighbour in `direction`.
pub fn move_item(
    tx: &Transaction<'_>,
    id: ScheduleItemId,
    direction: Direction,
    now_ms: UnixMs,
) -> Result<Changes, ScheduleItemError> {
    let schedule_id = schedule_of(tx, id)?;
    renumber(tx, schedule_id)?;
    let ids = ids_in_order(tx, schedule_id)?;
    let at = ids
        .iter()
        .position(|x| *x == id)
        .ok_or(ScheduleItemError::NotFound)?;
    let other = match direction {
        Direction::Up => at.checked_sub(1),
        Direction::Down => (at + 1 < ids.len()).then_some(at + 1),
    };
    let Some(other) = other else {
        return Err(ScheduleItemError::AtEdge(direction));
    };
    history(tx, schedule_id, "schedule item moved", now_ms)?;
    let mut set_position = tx.prepare_cached(
        "UPDATE schedule_items SET position = ?2, updated_at_ms = ?3 WHERE id = ?1",
    )?;
    set_position.execute(params![id, other as i64, now_ms])?;
    set_position.execute(params![ids[other], at as i64, now_ms])?;
    rebuilding(tx, schedule_id, "schedule item moved")
}

/// Removes every item of the schedule (after a snapshot of it).
pub fn clear(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
    now_ms: UnixMs,
) -> Result<Changes, ScheduleItemError> {
    if !crate::db::exists(tx, "schedules", schedule_id.0)? {
        return Err(ScheduleItemError::ScheduleNotFound);
    }
    history(tx, schedule_id, "schedule items cleared", now_ms)?;
    tx.execute(
        "DELETE FROM schedule_items WHERE schedule_id = ?1",
        [schedule_id],
    )?;
    rebuilding(tx, schedule_id, "schedule items cleared")
}

/// The schedule as it is before the change `label` names (`ops::schedule_history`), in the
/// change's own transaction: refused changes roll it back with them.
fn history(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
    label: &str,
    now_ms: UnixMs,
) -> Result<(), ScheduleItemError> {
    super::schedule_history::snapshot(tx, schedule_id, label, now_ms)?;
    Ok(())
}

fn rebuilding(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
    cause: &str,
) -> Result<Changes, ScheduleItemError> {
    let rebuild = crate::scheduler::playouts_of_schedule(tx, schedule_id)?;
    Ok(Changes::rebuilding(rebuild, cause))
}

fn schedule_of(tx: &Transaction<'_>, id: ScheduleItemId) -> Result<ScheduleId, ScheduleItemError> {
    tx.query_row(
        "SELECT schedule_id FROM schedule_items WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or(ScheduleItemError::NotFound)
}

fn ids_in_order(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
) -> Result<Vec<ScheduleItemId>, ScheduleItemError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM schedule_items WHERE schedule_id = ?1 ORDER BY position, id",
    )?;
    let rows = stmt.query_map([schedule_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Positions become 0..n-1 in their current order.
fn renumber(tx: &Transaction<'_>, schedule_id: ScheduleId) -> Result<(), ScheduleItemError> {
    let mut set_position = tx.prepare_cached(
        "UPDATE schedule_items SET position = ?2 WHERE id = ?1 AND position != ?2",
    )?;
    for (position, id) in ids_in_order(tx, schedule_id)?.into_iter().enumerate() {
        set_position.execute(params![id, position as i64])?;
    }
    Ok(())
}

/// Each id the patch refers to exists.
fn check_refs(tx: &Transaction<'_>, patch: &ScheduleItemPatch) -> Result<(), ScheduleItemError> {
    let mut refs = vec![
        (
            "media_item_id",
            "media_items",
            "media item",
            patch.media_item_id.value().map(|id| id.0),
        ),
        (
            "playlist_id",
            "playlists",
            "playlist",
            patch.playlist_id.value().map(|id| id.0),
        ),
    ];
    refs.extend(
        patch
            .filler_presets()
            .map(|(field, id)| (field, "filler_presets", "filler preset", id.map(|id| id.0))),
    );
    refs.push((
        "tail_filler_collection_id",
        "collections",
        "collection",
        patch.tail_filler_collection_id.value().map(|id| id.0),
    ));
    for (field, table, what, id) in refs {
        let Some(id) = id else { continue };
        if !crate::db::exists(tx, table, id)? {
            return Err(invalid(field, format_args!("unknown {what} {id}")));
        }
    }
    Ok(())
}

/// The fields of a stored item its consistency depends on.
struct Stored {
    collection_type: SlotContent,
    collection_id: Option<i64>,
    playlist_id: Option<i64>,
    media_item_id: Option<i64>,
    playout_mode: SlotMode,
    multiple_count: Option<i64>,
    /// `playout_duration_hours` or `_minutes` is not zero.
    has_duration: bool,
    start_type: StartType,
    has_start_time: bool,
}

/// Where an item's content is: the field naming it, its id, and the table it is in.
struct Target {
    field: &'static str,
    id: Option<i64>,
    table: &'static str,
    what: &'static str,
}

impl Stored {
    fn read(tx: &Transaction<'_>, id: ScheduleItemId) -> Result<Stored, ScheduleItemError> {
        let row = tx
            .query_row(
                "SELECT collection_type, collection_id, playlist_id, media_item_id, playout_mode,
                        multiple_count, playout_duration_hours, playout_duration_minutes,
                        start_type, start_time
                 FROM schedule_items WHERE id = ?1",
                [id],
                |r| {
                    (0..10)
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                },
            )
            .optional()?
            .ok_or(ScheduleItemError::NotFound)?;
        Ok(Stored {
            collection_type: decoded(&row[0], "collection_type")?,
            collection_id: integer(&row[1]),
            playlist_id: integer(&row[2]),
            media_item_id: integer(&row[3]),
            playout_mode: decoded(&row[4], "playout_mode")?,
            multiple_count: integer(&row[5]),
            has_duration: integer(&row[6]).unwrap_or(0) != 0 || integer(&row[7]).unwrap_or(0) != 0,
            start_type: decoded(&row[8], "start_type")?,
            has_start_time: !matches!(row[9], Value::Null),
        })
    }

    /// The content the item plays, by its `collection_type` (a playlist or a media item may
    /// also be named by `collection_id`, as EXStreamTV's clients send it).
    fn target(&self) -> Target {
        let (field, id, table, what) = match self.collection_type {
            SlotContent::MultiCollection => (
                "collection_id",
                self.collection_id,
                "multi_collections",
                "multi-collection",
            ),
            SlotContent::Playlist => (
                "playlist_id",
                self.playlist_id.or(self.collection_id),
                "playlists",
                "playlist",
            ),
            SlotContent::MediaItem => (
                "media_item_id",
                self.media_item_id.or(self.collection_id),
                "media_items",
                "media item",
            ),
            SlotContent::Collection
            | SlotContent::TelevisionShow
            | SlotContent::TelevisionSeason
            | SlotContent::Artist
            | SlotContent::SmartCollection => (
                "collection_id",
                self.collection_id,
                "collections",
                "collection",
            ),
        };
        Target {
            field,
            id,
            table,
            what,
        }
    }

    /// The content and the mode's parameters are there.
    fn check_consistent(&self) -> Result<(), ScheduleItemError> {
        let target = self.target();
        if target.id.is_none() {
            return Err(invalid(
                target.field,
                format_args!("required for collection_type {}", self.collection_type),
            ));
        }
        match self.playout_mode {
            SlotMode::Multiple if self.multiple_count.is_none() => {
                return Err(invalid(
                    "multiple_count",
                    "required for playout_mode multiple",
                ))
            }
            SlotMode::Duration if !self.has_duration => {
                return Err(invalid(
                    "playout_duration_minutes",
                    "playout_mode duration needs a duration above zero",
                ))
            }
            _ => {}
        }
        if self.start_type == StartType::Fixed && !self.has_start_time {
            return Err(invalid("start_time", "required for start_type fixed"));
        }
        Ok(())
    }
}

/// The item as stored (after a partial update) makes sense, and its content exists.
fn check_stored(tx: &Transaction<'_>, id: ScheduleItemId) -> Result<(), ScheduleItemError> {
    let stored = Stored::read(tx, id)?;
    stored.check_consistent()?;
    let target = stored.target();
    match target.id {
        Some(content) if !crate::db::exists(tx, target.table, content)? => Err(invalid(
            target.field,
            format_args!("unknown {} {content}", target.what),
        )),
        _ => Ok(()),
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

/// An enum column of a stored item (written through the API's validation, so canonical): a
/// value put there some other way is refused naming the field, never guessed.
fn decoded<T: TextEnum>(value: &Value, field: &'static str) -> Result<T, ScheduleItemError> {
    let text = match value {
        Value::Text(s) => s.as_str(),
        _ => "",
    };
    text.parse().map_err(|err| invalid(field, err))
}

#[cfg(test)]
mod tests {
    use super::super::fields::Field;
    use super::*;
    use crate::changes::Rebuild;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    /// A schedule with a collection to play, and a channel whose playout uses the schedule.
    fn setup(tx: &Transaction<'_>) -> (ScheduleId, CollectionId, i64) {
        tx.execute_batch(
            "INSERT INTO schedules (name, created_at_ms, updated_at_ms) VALUES ('Week', 1, 1);
             INSERT INTO collections (name, created_at_ms, updated_at_ms) VALUES ('Films', 1, 1);
             INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES ('5', 'News', 1, 1);",
        )
        .unwrap();
        let schedule = tx
            .query_row("SELECT id FROM schedules", [], |r| r.get(0))
            .unwrap();
        let collection = tx
            .query_row("SELECT id FROM collections", [], |r| r.get(0))
            .unwrap();
        tx.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, seed, created_at_ms, updated_at_ms)
             VALUES ((SELECT id FROM channels), ?1, 7, 1, 1)",
            [schedule],
        )
        .unwrap();
        (
            ScheduleId(schedule),
            CollectionId(collection),
            tx.last_insert_rowid(),
        )
    }

    fn item(
        schedule_id: ScheduleId,
        collection: CollectionId,
        index: Option<i64>,
    ) -> NewScheduleItem {
        NewScheduleItem {
            schedule_id,
            index,
            patch: ScheduleItemPatch {
                collection_type: Field::set(OneOf(SlotContent::Collection)),
                collection_id: Field::set(Some(Int(collection.0))),
                ..ScheduleItemPatch::default()
            },
        }
    }

    fn order(tx: &Transaction<'_>, schedule_id: ScheduleId) -> Vec<ScheduleItemId> {
        ids_in_order(tx, schedule_id).unwrap()
    }

    #[test]
    fn create_inserts_at_the_index_and_rebuilds_the_schedules_playouts() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (schedule, films, playout) = setup(&tx);
        let (a, changes) = create(&tx, &item(schedule, films, None), 1).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let (b, _) = create(&tx, &item(schedule, films, Some(0)), 1).unwrap();
        let (c, _) = create(&tx, &item(schedule, films, Some(99)), 1).unwrap();
        assert_eq!(order(&tx, schedule), [b, a, c]);
        let err = create(&tx, &item(ScheduleId(999), films, None), 1).unwrap_err();
        assert!(matches!(err, ScheduleItemError::ScheduleNotFound), "{err}");
        let err = create(&tx, &item(schedule, CollectionId(999), None), 1).unwrap_err();
        assert_eq!(err.to_string(), "collection_id: unknown collection 999");
    }

    #[test]
    fn an_update_is_checked_on_the_row_as_stored() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (schedule, films, playout) = setup(&tx);
        let (id, _) = create(&tx, &item(schedule, films, None), 1).unwrap();
        let unknown_filler = ScheduleItemPatch {
            tail_filler_id: Field::set(Some(FillerPresetId(5))),
            ..ScheduleItemPatch::default()
        };
        let err = update(&tx, id, &unknown_filler, 2).unwrap_err();
        assert_eq!(err.to_string(), "tail_filler_id: unknown filler preset 5");
        let titled = ScheduleItemPatch {
            custom_title: Field::set(Some(Text("Late film".into()))),
            ..ScheduleItemPatch::default()
        };
        assert_eq!(
            update(&tx, id, &titled, 2).unwrap().rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let err = update(&tx, ScheduleItemId(999), &titled, 2).unwrap_err();
        assert!(matches!(err, ScheduleItemError::NotFound));
        // Last: a refused write leaves its row for the caller's rollback.
        let multiple = ScheduleItemPatch {
            playout_mode: Field::set(OneOf(SlotMode::Multiple)),
            ..ScheduleItemPatch::default()
        };
        let err = update(&tx, id, &multiple, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "multiple_count: required for playout_mode multiple"
        );
    }

    #[test]
    fn moves_stop_at_the_edges_and_deletes_renumber() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (schedule, films, playout) = setup(&tx);
        let (a, _) = create(&tx, &item(schedule, films, None), 1).unwrap();
        let (b, _) = create(&tx, &item(schedule, films, None), 1).unwrap();
        let err = move_item(&tx, a, Direction::Up, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the item is already at the top of its schedule"
        );
        move_item(&tx, a, Direction::Down, 2).unwrap();
        assert_eq!(order(&tx, schedule), [b, a]);
        let err = move_item(&tx, a, Direction::Down, 2).unwrap_err();
        assert!(matches!(err, ScheduleItemError::AtEdge(Direction::Down)));
        let err = delete(&tx, a, Some(ScheduleId(schedule.0 + 1)), 3).unwrap_err();
        assert!(matches!(err, ScheduleItemError::NotFound));
        let changes = delete(&tx, b, Some(schedule), 3).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let position: i64 = tx
            .query_row(
                "SELECT position FROM schedule_items WHERE id = ?1",
                [a],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(position, 0);
    }
}
