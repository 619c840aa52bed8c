//! Filler preset writes: presets (how much filler plays: a count, a duration, or padding to
//! a boundary) and their items (each draws from one media item, collection or playlist).
//! Each runs inside the caller's write transaction and returns the `Changes` it made: an
//! edit rebuilds exactly the playouts whose channel or schedule items use the preset
//! (`ops::readers`). It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, OptionalExtension, Transaction};

use serde::de::{self, Deserialize, Deserializer};

use super::fields::{patch, Flag, Int, Name, OneOf, Text, ToColumn};
use super::ids::{FillerItemId, FillerPresetId, MediaId, ScheduleId};
use super::readers::{self, Content};
use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{FillerContent, FillerModeKind, PlaybackOrder};
use crate::time::UnixMs;

patch! {
    /// A preset's fields, each validated once at the edge.
    pub struct FillerPresetPatch {
        name: Name,
        filler_mode: OneOf<FillerModeKind>,
        count: Option<Int<1, 1_000>>,
        duration_seconds: Option<Int<1, 86_400>>,
        pad_to_minutes: Option<Int<1, 1_440>>,
        playback_order: FillerOrder,
        allow_repeats: Flag,
    }
}

patch! {
    /// An item's fields, each validated once at the edge; its source fields are checked
    /// merged with the stored row on an update.
    pub struct FillerItemPatch {
        collection_type: Option<OneOf<FillerContent>>,
        /// A collection's or a playlist's, by `collection_type`.
        collection_id: Option<Int<1, { i64::MAX }>>,
        media_item_id: Option<MediaId>,
        weight: Int<1, 100>,
        min_duration_seconds: Option<Int<0, 86_400>>,
        max_duration_seconds: Option<Int<0, 86_400>>,
    }
}

/// A filler preset's playback order: one of `PlaybackOrder::FILLER`, stored as its
/// canonical text. A lenient field type beside `ops::fields`'s (`OneOf<PlaybackOrder>`
/// would take every order a schedule item takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillerOrder(pub PlaybackOrder);

impl<'de> Deserialize<'de> for FillerOrder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(text) = Text::deserialize(d)?;
        let filler = PlaybackOrder::FILLER;
        (filler.canonical)(&text)
            .ok()
            .and_then(|order| order.parse().ok())
            .map(FillerOrder)
            .ok_or_else(|| {
                de::Error::custom(format_args!("must be one of {}", filler.names.join(", ")))
            })
    }
}

impl ToColumn for FillerOrder {
    fn to_column(&self) -> Value {
        Value::Text(self.0.as_str().to_owned())
    }
}

/// Where an item draws from, as stored (or about to be).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Source {
    collection_type: Option<FillerContent>,
    collection_id: Option<i64>,
    media_item_id: Option<i64>,
}

impl Source {
    /// The source with the fields `item` sends (`null` clears one).
    fn patched(self, item: &FillerItemPatch) -> Source {
        Source {
            collection_type: item
                .collection_type
                .given()
                .map_or(self.collection_type, |kind| kind.map(|kind| kind.0)),
            collection_id: item
                .collection_id
                .given()
                .map_or(self.collection_id, |id| id.map(|id| id.0)),
            media_item_id: item
                .media_item_id
                .given()
                .map_or(self.media_item_id, |id| id.map(|id| id.0)),
        }
    }
}

/// Who uses a preset (the 409 of a delete names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresetUser {
    Channel {
        number: String,
        name: String,
    },
    ScheduleItem {
        position: i64,
        schedule: ScheduleId,
        schedule_name: String,
    },
}

impl fmt::Display for PresetUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresetUser::Channel { number, name } => write!(f, "channel {number} ({name})"),
            PresetUser::ScheduleItem {
                position,
                schedule,
                schedule_name,
            } => write!(
                f,
                "item {position} of schedule {schedule} ({schedule_name})"
            ),
        }
    }
}

/// Why a filler write was refused.
#[derive(Debug)]
pub enum FillerError {
    NotFound,
    /// No such item in this preset.
    ItemNotFound,
    InUse {
        by: PresetUser,
    },
    /// A field points nowhere or makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for FillerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FillerError::NotFound => f.write_str("filler preset not found"),
            FillerError::ItemNotFound => f.write_str("filler item not found"),
            FillerError::InUse { by } => write!(f, "the preset is used by {by}"),
            FillerError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            FillerError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(FillerError);

fn invalid(field: &'static str, problem: impl Into<String>) -> FillerError {
    FillerError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// Creates a preset with its items; nothing plays it yet.
pub fn create(
    tx: &Transaction<'_>,
    patch: &FillerPresetPatch,
    items: &[FillerItemPatch],
    now_ms: UnixMs,
) -> Result<(FillerPresetId, Changes), FillerError> {
    let id = FillerPresetId(crate::db::row::insert(
        tx,
        "filler_presets",
        &patch.values(),
        now_ms,
    )?);
    for item in items {
        insert_item(tx, id, item)?;
    }
    check_mode(tx, id)?;
    Ok((id, readers::unseen("filler preset created")))
}

pub fn update(
    tx: &Transaction<'_>,
    id: FillerPresetId,
    patch: &FillerPresetPatch,
    now_ms: UnixMs,
) -> Result<Changes, FillerError> {
    ensure_exists(tx, id)?;
    crate::db::row::update(tx, "filler_presets", id.0, &patch.values(), now_ms)?;
    check_mode(tx, id)?;
    Ok(rebuilding(tx, id, "filler preset updated")?)
}

/// Deletes a preset no channel and no schedule item uses (so no timeline reads it).
pub fn delete(tx: &Transaction<'_>, id: FillerPresetId) -> Result<Changes, FillerError> {
    ensure_exists(tx, id)?;
    if let Some(by) = user_of(tx, id)? {
        return Err(FillerError::InUse { by });
    }
    tx.execute("DELETE FROM filler_presets WHERE id = ?1", [id])?;
    Ok(readers::unseen("filler preset deleted"))
}

pub fn add_item(
    tx: &Transaction<'_>,
    id: FillerPresetId,
    item: &FillerItemPatch,
) -> Result<(FillerItemId, Changes), FillerError> {
    ensure_exists(tx, id)?;
    let item_id = insert_item(tx, id, item)?;
    Ok((item_id, rebuilding(tx, id, "filler item added")?))
}

/// Changes the fields `item` sends; the merged item must still have one existing source.
pub fn update_item(
    tx: &Transaction<'_>,
    id: FillerPresetId,
    item_id: FillerItemId,
    item: &FillerItemPatch,
) -> Result<Changes, FillerError> {
    let stored = owned_item(tx, id, item_id)?;
    check_source(tx, stored.patched(item))?;
    let values = item.values();
    if !values.is_empty() {
        let sets: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{column} = ?{}", i + 2))
            .collect();
        // The column names are ours (the API's item column list), never client input.
        let sql = format!("UPDATE filler_items SET {} WHERE id = ?1", sets.join(", "));
        let mut params = vec![Value::Integer(item_id.0)];
        params.extend(values.into_iter().map(|(_, v)| v));
        tx.execute(&sql, params_from_iter(params))?;
    }
    Ok(rebuilding(tx, id, "filler item updated")?)
}

pub fn delete_item(
    tx: &Transaction<'_>,
    id: FillerPresetId,
    item_id: FillerItemId,
) -> Result<Changes, FillerError> {
    owned_item(tx, id, item_id)?;
    tx.execute("DELETE FROM filler_items WHERE id = ?1", [item_id])?;
    Ok(rebuilding(tx, id, "filler item deleted")?)
}

/// The playouts that use the preset, rebuilt after the commit.
fn rebuilding(tx: &Transaction<'_>, id: FillerPresetId, cause: &str) -> Result<Changes, DbError> {
    readers::rebuilding_readers(tx, Content::FillerPreset(id), cause)
}

fn ensure_exists(tx: &Transaction<'_>, id: FillerPresetId) -> Result<(), FillerError> {
    match crate::db::exists(tx, "filler_presets", id.0)? {
        true => Ok(()),
        false => Err(FillerError::NotFound),
    }
}

/// The stored source of `item_id`, if it is an item of preset `id`.
fn owned_item(
    tx: &Transaction<'_>,
    id: FillerPresetId,
    item_id: FillerItemId,
) -> Result<Source, FillerError> {
    let row: Option<(FillerPresetId, Source)> = tx
        .query_row(
            "SELECT preset_id, collection_type, collection_id, media_item_id
             FROM filler_items WHERE id = ?1",
            [item_id],
            |r| {
                let kind: Option<String> = r.get(1)?;
                let source = Source {
                    // An unreadable stored type is checked as a collection (the builder
                    // leaves such an item out, with a warning).
                    collection_type: kind.and_then(|k| k.parse().ok()),
                    collection_id: r.get(2)?,
                    media_item_id: r.get(3)?,
                };
                Ok((r.get(0)?, source))
            },
        )
        .optional()?;
    match row {
        Some((owner, source)) if owner == id => Ok(source),
        _ => Err(FillerError::ItemNotFound),
    }
}

fn insert_item(
    tx: &Transaction<'_>,
    id: FillerPresetId,
    item: &FillerItemPatch,
) -> Result<FillerItemId, FillerError> {
    let mut source = Source::default().patched(item);
    let mut values = item.values();
    if source.collection_id.is_some() && source.collection_type.is_none() {
        // A collection_id without a type draws from a collection.
        source.collection_type = Some(FillerContent::Collection);
        values.retain(|(column, _)| *column != "collection_type");
        values.push((
            "collection_type",
            Value::Text(FillerContent::Collection.as_str().into()),
        ));
    }
    check_source(tx, source)?;
    let mut names = vec!["preset_id"];
    names.extend(values.iter().map(|(column, _)| *column));
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let mut params = vec![Value::Integer(id.0)];
    params.extend(values.into_iter().map(|(_, v)| v));
    tx.execute(
        &format!(
            "INSERT INTO filler_items ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ),
        params_from_iter(params),
    )?;
    Ok(FillerItemId(tx.last_insert_rowid()))
}

/// One source per item, and it exists (checked here: the foreign keys would refuse an
/// unknown media item with a bare constraint error, and collection_id has no key at all).
fn check_source(tx: &Transaction<'_>, source: Source) -> Result<(), FillerError> {
    match (source.media_item_id, source.collection_id) {
        (Some(_), Some(_)) => Err(invalid(
            "media_item_id",
            "give a media_item_id or a collection_id, not both",
        )),
        (None, None) => Err(invalid(
            "collection_id",
            "a media_item_id or a collection_id is required",
        )),
        (Some(mid), None) => match crate::db::exists(tx, "media_items", mid)? {
            true => Ok(()),
            false => Err(invalid(
                "media_item_id",
                format!("unknown media item {}", MediaId(mid)),
            )),
        },
        (None, Some(cid)) => {
            let (table, what) = match source.collection_type {
                Some(FillerContent::Playlist) => ("playlists", "playlist"),
                _ => ("collections", "collection"),
            };
            match crate::db::exists(tx, table, cid)? {
                true => Ok(()),
                false => Err(invalid("collection_id", format!("unknown {what} {cid}"))),
            }
        }
    }
}

/// The stored preset's mode carries its parameter (count, duration or pad minutes).
fn check_mode(tx: &Transaction<'_>, id: FillerPresetId) -> Result<(), FillerError> {
    let (mode, count, duration, pad): (String, Option<i64>, Option<i64>, Option<i64>) = tx
        .query_row(
            "SELECT filler_mode, count, duration_seconds, pad_to_minutes
             FROM filler_presets WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let (needs, value) = match mode.parse::<FillerModeKind>() {
        Ok(FillerModeKind::Count) => ("count", count),
        Ok(FillerModeKind::Pad) => ("pad_to_minutes", pad),
        _ => ("duration_seconds", duration),
    };
    if value.is_none() {
        return Err(invalid(
            needs,
            format!("required for filler_mode \"{mode}\""),
        ));
    }
    Ok(())
}

/// Who uses the preset, for the 409: a channel or a schedule item.
fn user_of(tx: &Transaction<'_>, id: FillerPresetId) -> Result<Option<PresetUser>, DbError> {
    let channel = tx
        .query_row(
            "SELECT number, name FROM channels
             WHERE ?1 IN (fallback_filler_id, pre_roll_filler_id, post_roll_filler_id)
             ORDER BY id LIMIT 1",
            [id],
            |r| {
                Ok(PresetUser::Channel {
                    number: r.get(0)?,
                    name: r.get(1)?,
                })
            },
        )
        .optional()?;
    if channel.is_some() {
        return Ok(channel);
    }
    Ok(tx
        .query_row(
            "SELECT s.id, s.name, si.position FROM schedule_items si
             JOIN schedules s ON s.id = si.schedule_id
             WHERE ?1 IN (si.pre_roll_filler_id, si.mid_roll_filler_id, si.post_roll_filler_id,
                          si.tail_filler_id, si.fallback_filler_id)
             ORDER BY si.id LIMIT 1",
            [id],
            |r| {
                Ok(PresetUser::ScheduleItem {
                    schedule: r.get(0)?,
                    schedule_name: r.get(1)?,
                    position: r.get(2)?,
                })
            },
        )
        .optional()?)
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

    fn preset(name: &str, mode: &str, count: Option<i64>) -> FillerPresetPatch {
        FillerPresetPatch {
            name: Field::set(Name(name.into())),
            filler_mode: Field::set(OneOf(mode.parse().unwrap())),
            count: count.map_or_else(Field::default, |n| Field::set(Some(Int(n)))),
            ..FillerPresetPatch::default()
        }
    }

    fn from_media(media_item_id: i64) -> FillerItemPatch {
        FillerItemPatch {
            media_item_id: Field::set(Some(MediaId(media_item_id))),
            ..FillerItemPatch::default()
        }
    }

    fn from_collection(collection_id: i64) -> FillerItemPatch {
        FillerItemPatch {
            collection_id: Field::set(Some(Int(collection_id))),
            ..FillerItemPatch::default()
        }
    }

    fn media(tx: &Transaction<'_>) -> i64 {
        tx.execute(
            "INSERT INTO media_items (source, url, title, duration_ms, added_at_ms, created_at_ms, updated_at_ms)
             VALUES ('local', 'a.mkv', 'A', 60000, 1, 1, 1)",
            [],
        )
        .unwrap();
        tx.last_insert_rowid()
    }

    #[test]
    fn create_needs_the_modes_parameter_and_an_existing_source() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let err = create(&tx, &preset("Pad", "pad", None), &[], 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pad_to_minutes: required for filler_mode \"pad\""
        );
        let bad = [from_media(999)];
        let err = create(&tx, &preset("Bad", "count", Some(1)), &bad, 1).unwrap_err();
        assert_eq!(err.to_string(), "media_item_id: unknown media item 999");
        let ok = [from_media(media(&tx))];
        let (id, changes) = create(&tx, &preset("Bumper", "count", Some(1)), &ok, 1).unwrap();
        assert!(changes.rebuild.is_empty(), "nothing uses a new preset");
        let err = add_item(&tx, id, &from_collection(42)).unwrap_err();
        assert_eq!(err.to_string(), "collection_id: unknown collection 42");
        let err = update(&tx, id, &preset("Bumper", "duration", None), 2).unwrap_err();
        assert!(matches!(
            err,
            FillerError::Invalid {
                field: "duration_seconds",
                ..
            }
        ));
        assert!(matches!(
            update(&tx, FillerPresetId(999), &preset("X", "count", Some(1)), 2),
            Err(FillerError::NotFound)
        ));
    }

    #[test]
    fn an_item_update_is_checked_merged_with_the_stored_row() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let mid = media(&tx);
        let (id, _) = create(&tx, &preset("Bumper", "count", Some(1)), &[], 1).unwrap();
        let (item, _) = add_item(&tx, id, &from_media(mid)).unwrap();
        // A collection_id beside the stored media_item_id: two sources.
        tx.execute(
            "INSERT INTO collections (name, created_at_ms, updated_at_ms) VALUES ('C', 1, 1)",
            [],
        )
        .unwrap();
        let both = from_collection(tx.last_insert_rowid());
        let err = update_item(&tx, id, item, &both).unwrap_err();
        assert_eq!(
            err.to_string(),
            "media_item_id: give a media_item_id or a collection_id, not both"
        );
        let (other, _) = create(&tx, &preset("Other", "count", Some(1)), &[], 1).unwrap();
        assert!(matches!(
            delete_item(&tx, other, item),
            Err(FillerError::ItemNotFound)
        ));
        delete_item(&tx, id, item).unwrap();
    }

    #[test]
    fn a_preset_in_use_is_not_deleted_and_its_edits_rebuild_its_users_playouts() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &preset("Bumper", "count", Some(1)), &[], 1).unwrap();
        tx.execute(
            "INSERT INTO channels (number, name, pre_roll_filler_id, created_at_ms, updated_at_ms)
             VALUES ('5', 'News', ?1, 1, 1)",
            [id],
        )
        .unwrap();
        let channel = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO playouts (channel_id, seed, created_at_ms, updated_at_ms) VALUES (?1, 7, 1, 1)",
            [channel],
        )
        .unwrap();
        let playout = tx.last_insert_rowid();
        let err = delete(&tx, id).unwrap_err();
        assert_eq!(err.to_string(), "the preset is used by channel 5 (News)");
        let changes = update(&tx, id, &preset("Bumpers", "count", Some(2)), 2).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let (item, changes) = add_item(&tx, id, &from_media(media(&tx))).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        assert_eq!(
            delete_item(&tx, id, item).unwrap().rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let (unused, _) = create(&tx, &preset("Unused", "count", Some(1)), &[], 1).unwrap();
        assert!(delete(&tx, unused).unwrap().rebuild.is_empty());
        assert!(matches!(delete(&tx, unused), Err(FillerError::NotFound)));
    }
}
