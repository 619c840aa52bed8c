//! Schedule history: a snapshot of a schedule (its `schedules` row and its `schedule_items`
//! rows, as JSON text in one `schedule_history` row) taken before each change to the
//! schedule or its items — by `ops::schedules` and `ops::schedule_items`, inside the write
//! transaction of the change itself, so no writer can skip it and a refused change leaves
//! none — and on demand (`capture`). `revert` restores one in one transaction, taking a
//! snapshot of what it replaces first (a revert can itself be reverted).
//!
//! History is bounded: the newest `KEEP_PER_SCHEDULE` snapshots of a schedule are kept,
//! older ones are deleted as new ones are written, and a schedule's history goes with it
//! (ON DELETE CASCADE).
//!
//! A snapshot holds every column by name, as SQLite stored it, so it follows `schema.sql`
//! without a second description of the tables; JSON is only its storage format here (the
//! SQLite build has no JSON functions), never a wire shape. It knows no HTTP.

use std::fmt;

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{Map, Value as Json};

use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::SlotContent;
use crate::time::UnixMs;

use super::ids::ScheduleId;

/// Snapshots kept per schedule. 50 covers a long editing session (every item edit takes
/// one) while a 200-item schedule's history stays around a megabyte.
pub const KEEP_PER_SCHEDULE: i64 = 50;

/// The longest label a capture may carry (it is shown in lists, not a document).
pub const MAX_LABEL_CHARS: usize = 200;

/// The id of a `schedule_history` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct HistoryId(pub i64);

impl fmt::Display for HistoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One stored row: its columns by name, with SQLite's values.
pub type Columns = Vec<(String, Value)>;

/// A snapshot as stored.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: HistoryId,
    pub schedule_id: ScheduleId,
    pub created_at_ms: UnixMs,
    pub label: String,
    pub schedule: Columns,
    /// By position.
    pub items: Vec<Columns>,
}

/// Why a history operation was refused.
#[derive(Debug)]
pub enum HistoryError {
    NotFound,
    ScheduleNotFound,
    /// The label is over `MAX_LABEL_CHARS` (422).
    LabelTooLong,
    /// The snapshot points at rows that no longer exist (each named); nothing was written.
    Missing {
        id: HistoryId,
        missing: Vec<String>,
    },
    Db(DbError),
}

/// At most this many missing references are named in one refusal; the rest are counted.
const MAX_NAMED_MISSING: usize = 10;

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::NotFound => f.write_str("schedule history entry not found"),
            HistoryError::ScheduleNotFound => f.write_str("schedule not found"),
            HistoryError::LabelTooLong => {
                write!(f, "label: longer than {MAX_LABEL_CHARS} characters")
            }
            HistoryError::Missing { id, missing } => {
                write!(f, "cannot revert to history entry {id}: ")?;
                let named = &missing[..missing.len().min(MAX_NAMED_MISSING)];
                f.write_str(&named.join("; "))?;
                if missing.len() > named.len() {
                    write!(f, "; and {} more", missing.len() - named.len())?;
                }
                f.write_str(" (nothing was changed)")
            }
            HistoryError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(HistoryError);

/// Stores a snapshot of the schedule as it is now, labelled with the change about to be
/// made, and drops the schedule's snapshots beyond `KEEP_PER_SCHEDULE`. The caller has
/// checked that the schedule exists (a missing one is a database error here).
pub fn snapshot(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
    label: &str,
    now_ms: UnixMs,
) -> Result<HistoryId, DbError> {
    let schedule = rows(tx, "SELECT * FROM schedules WHERE id = ?1", schedule_id)?
        .pop()
        .ok_or_else(|| DbError::Corrupt(format!("schedule {schedule_id} vanished")))?;
    let items = rows(
        tx,
        "SELECT * FROM schedule_items WHERE schedule_id = ?1 ORDER BY position, id",
        schedule_id,
    )?;
    let schedule_json = encode_row(&schedule, "schedules")?;
    let items_json = items
        .iter()
        .map(|row| encode_row(row, "schedule_items").map(Json::Object))
        .collect::<Result<Vec<_>, _>>()?;
    tx.execute(
        "INSERT INTO schedule_history (schedule_id, label, schedule, items, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            schedule_id,
            label,
            Json::Object(schedule_json).to_string(),
            Json::Array(items_json).to_string(),
            now_ms
        ],
    )?;
    let id = HistoryId(tx.last_insert_rowid());
    tx.execute(
        "DELETE FROM schedule_history WHERE schedule_id = ?1 AND id NOT IN
           (SELECT id FROM schedule_history WHERE schedule_id = ?1 ORDER BY id DESC LIMIT ?2)",
        params![schedule_id, KEEP_PER_SCHEDULE],
    )?;
    Ok(id)
}

/// A snapshot on request (`label` absent: "captured"). Nothing a client sees changes.
pub fn capture(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
    label: Option<&str>,
    now_ms: UnixMs,
) -> Result<(HistoryId, Changes), HistoryError> {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS) {
        return Err(HistoryError::LabelTooLong);
    }
    if !crate::db::exists(tx, "schedules", schedule_id.0)? {
        return Err(HistoryError::ScheduleNotFound);
    }
    let id = snapshot(tx, schedule_id, label.unwrap_or("captured"), now_ms)?;
    Ok((id, unchanged("schedule history captured")))
}

/// Restores the schedule's fields and items as the snapshot holds them, after taking a
/// snapshot of what it replaces; the schedule's playouts are rebuilt from now. Items keep
/// their ids where no other row took them meanwhile. Refused, with nothing written, when
/// the snapshot points at a channel, collection, playlist, media item or filler preset that
/// no longer exists.
pub fn revert(
    tx: &Transaction<'_>,
    id: HistoryId,
    now_ms: UnixMs,
) -> Result<(ScheduleId, HistoryId, Changes), HistoryError> {
    let snap = get(tx, id)?.ok_or(HistoryError::NotFound)?;
    let schedule_id = snap.schedule_id;
    if !crate::db::exists(tx, "schedules", schedule_id.0)? {
        return Err(HistoryError::ScheduleNotFound);
    }
    let missing = missing_references(tx, &snap)?;
    if !missing.is_empty() {
        return Err(HistoryError::Missing { id, missing });
    }
    let saved = snapshot(tx, schedule_id, &format!("before revert to {id}"), now_ms)?;

    let schedule_columns = column_names(tx, "schedules")?;
    let values: Vec<(&str, Value)> = snap
        .schedule
        .iter()
        .filter_map(|(name, value)| {
            let known = schedule_columns.iter().find(|c| *c == name)?;
            let kept = !matches!(known.as_str(), "id" | "created_at_ms" | "updated_at_ms");
            kept.then(|| (known.as_str(), value.clone()))
        })
        .collect();
    crate::db::row::update(tx, "schedules", schedule_id.0, &values, now_ms)?;

    tx.execute(
        "DELETE FROM schedule_items WHERE schedule_id = ?1",
        [schedule_id],
    )?;
    let item_columns = column_names(tx, "schedule_items")?;
    for item in &snap.items {
        insert_item(tx, schedule_id, item, &item_columns, now_ms)?;
    }
    let rebuild = crate::scheduler::playouts_of_schedule(tx, schedule_id)?;
    Ok((
        schedule_id,
        saved,
        Changes::rebuilding(rebuild, "schedule reverted"),
    ))
}

/// Deletes one snapshot. Nothing a client sees changes.
pub fn delete(tx: &Transaction<'_>, id: HistoryId) -> Result<Changes, HistoryError> {
    let n = tx.execute("DELETE FROM schedule_history WHERE id = ?1", [id.0])?;
    if n == 0 {
        return Err(HistoryError::NotFound);
    }
    Ok(unchanged("schedule history deleted"))
}

/// One snapshot.
pub fn get(conn: &rusqlite::Connection, id: HistoryId) -> Result<Option<Snapshot>, DbError> {
    let row = conn
        .prepare_cached(
            "SELECT id, schedule_id, created_at_ms, label, schedule, items
             FROM schedule_history WHERE id = ?1",
        )?
        .query_row([id.0], stored)
        .optional()?;
    row.map(decode).transpose()
}

/// A schedule's snapshots (every schedule's, when `None`), newest first.
pub fn list(
    conn: &rusqlite::Connection,
    schedule_id: Option<ScheduleId>,
) -> Result<Vec<Snapshot>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, schedule_id, created_at_ms, label, schedule, items FROM schedule_history
         WHERE ?1 IS NULL OR schedule_id = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([schedule_id.map(|s| s.0)], stored)?;
    rows.map(|row| decode(row?)).collect()
}

/// A history row before its JSON is decoded.
type StoredRow = (i64, ScheduleId, UnixMs, String, String, String);

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode(
    (id, schedule_id, created_at_ms, label, schedule, items): StoredRow,
) -> Result<Snapshot, DbError> {
    let corrupt = |what: &str| DbError::Corrupt(format!("schedule history {id}: {what}"));
    let schedule = match serde_json::from_str::<Json>(&schedule) {
        Ok(Json::Object(map)) => decode_row(map).ok_or_else(|| corrupt("bad schedule row"))?,
        _ => return Err(corrupt("the schedule is not a JSON object")),
    };
    let items = match serde_json::from_str::<Json>(&items) {
        Ok(Json::Array(rows)) => rows
            .into_iter()
            .map(|row| match row {
                Json::Object(map) => decode_row(map),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt("bad item row"))?,
        _ => return Err(corrupt("the items are not a JSON array")),
    };
    Ok(Snapshot {
        id: HistoryId(id),
        schedule_id,
        created_at_ms,
        label,
        schedule,
        items,
    })
}

fn unchanged(cause: &str) -> Changes {
    Changes {
        cause: cause.into(),
        ..Changes::default()
    }
}

/// Every row `sql` selects (one `?1` parameter), each column by name.
fn rows(tx: &Transaction<'_>, sql: &str, schedule_id: ScheduleId) -> Result<Vec<Columns>, DbError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let rows = stmt.query_map([schedule_id], |r| {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| Ok((name.clone(), r.get::<_, Value>(i)?)))
            .collect::<rusqlite::Result<Columns>>()
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The columns `table` has now (a snapshot from an older schema may lack some, or name one
/// since dropped: only the columns both know are restored or rendered).
pub fn column_names(conn: &rusqlite::Connection, table: &str) -> Result<Vec<String>, DbError> {
    let stmt = conn.prepare_cached(&format!("SELECT * FROM {table} LIMIT 0"))?;
    Ok(stmt.column_names().map(String::from).collect())
}

fn encode_row(row: &Columns, table: &str) -> Result<Map<String, Json>, DbError> {
    row.iter()
        .map(|(name, value)| {
            let json = match value {
                Value::Null => Json::Null,
                Value::Integer(n) => Json::from(*n),
                Value::Real(x) => Json::from(*x),
                Value::Text(s) => Json::from(s.as_str()),
                // No column of either table holds bytes; one that does was not written by us.
                Value::Blob(_) => {
                    return Err(DbError::Corrupt(format!(
                        "{table}.{name} holds bytes, which a snapshot cannot keep"
                    )))
                }
            };
            Ok((name.clone(), json))
        })
        .collect()
}

fn decode_row(map: Map<String, Json>) -> Option<Columns> {
    map.into_iter()
        .map(|(name, json)| {
            let value = match json {
                Json::Null => Value::Null,
                Json::Bool(b) => Value::Integer(i64::from(b)),
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Value::Integer(i),
                    None => Value::Real(n.as_f64()?),
                },
                Json::String(s) => Value::Text(s),
                Json::Array(_) | Json::Object(_) => return None,
            };
            Some((name, value))
        })
        .collect()
}

fn integer(row: &Columns, column: &str) -> Option<i64> {
    row.iter()
        .find(|(name, _)| name == column)
        .and_then(|(_, v)| match v {
            Value::Integer(n) => Some(*n),
            _ => None,
        })
}

fn text<'r>(row: &'r Columns, column: &str) -> Option<&'r str> {
    row.iter()
        .find(|(name, _)| name == column)
        .and_then(|(_, v)| match v {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        })
}

/// Every reference of the snapshot that points at no row, described for the refusal.
fn missing_references(tx: &Transaction<'_>, snap: &Snapshot) -> Result<Vec<String>, DbError> {
    const SCHEDULE_REFS: &[(&str, &str, &str)] = &[
        ("channel_id", "channels", "channel"),
        ("playlist_id", "playlists", "playlist"),
        ("collection_id", "collections", "collection"),
    ];
    const ITEM_REFS: &[(&str, &str, &str)] = &[
        ("media_item_id", "media_items", "media item"),
        ("playlist_id", "playlists", "playlist"),
        ("tail_filler_collection_id", "collections", "collection"),
        ("pre_roll_filler_id", "filler_presets", "filler preset"),
        ("mid_roll_filler_id", "filler_presets", "filler preset"),
        ("post_roll_filler_id", "filler_presets", "filler preset"),
        ("tail_filler_id", "filler_presets", "filler preset"),
        ("fallback_filler_id", "filler_presets", "filler preset"),
    ];
    let mut missing = Vec::new();
    for (column, table, what) in SCHEDULE_REFS {
        if let Some(id) = integer(&snap.schedule, column) {
            if !crate::db::exists(tx, table, id)? {
                missing.push(format!(
                    "the schedule's {column}: {what} {id} no longer exists"
                ));
            }
        }
    }
    for (position, item) in snap.items.iter().enumerate() {
        let mut refs: Vec<(&str, &str, &str)> = ITEM_REFS.to_vec();
        refs.push(content_target(item));
        for (column, table, what) in refs {
            let Some(id) = integer(item, column) else {
                continue;
            };
            if !crate::db::exists(tx, table, id)? {
                missing.push(format!(
                    "item {} (position {position}) {column}: {what} {id} no longer exists",
                    integer(item, "id").unwrap_or(0)
                ));
            }
        }
    }
    missing.dedup();
    Ok(missing)
}

/// Where an item's `collection_id` points, by its `collection_type` (the mapping
/// `ops::schedule_items` checks a stored item against).
fn content_target(item: &Columns) -> (&'static str, &'static str, &'static str) {
    let kind = text(item, "collection_type").and_then(|t| t.parse::<SlotContent>().ok());
    let (table, what) = match kind {
        Some(SlotContent::MultiCollection) => ("multi_collections", "multi-collection"),
        Some(SlotContent::Playlist) => ("playlists", "playlist"),
        Some(SlotContent::MediaItem) => ("media_items", "media item"),
        _ => ("collections", "collection"),
    };
    ("collection_id", table, what)
}

/// Inserts a snapshot's item into its schedule, under its old id unless another row has
/// taken it since.
fn insert_item(
    tx: &Transaction<'_>,
    schedule_id: ScheduleId,
    item: &Columns,
    known: &[String],
    now_ms: UnixMs,
) -> Result<(), DbError> {
    let old_id = integer(item, "id");
    let id_free = match old_id {
        Some(id) => !crate::db::exists(tx, "schedule_items", id)?,
        None => false,
    };
    let mut values: Vec<(&str, Value)> = item
        .iter()
        .filter_map(|(name, value)| {
            let known = known.iter().find(|c| *c == name)?;
            let kept = match known.as_str() {
                "id" => id_free,
                "schedule_id" | "updated_at_ms" => false,
                _ => true,
            };
            kept.then(|| (known.as_str(), value.clone()))
        })
        .collect();
    values.push(("schedule_id", Value::Integer(schedule_id.0)));
    values.push(("updated_at_ms", Value::Integer(now_ms)));
    if !values.iter().any(|(c, _)| *c == "created_at_ms") {
        values.push(("created_at_ms", Value::Integer(now_ms)));
    }
    crate::db::row::insert_exactly(tx, "schedule_items", &values)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn setup(tx: &Transaction<'_>) -> ScheduleId {
        tx.execute_batch(
            "INSERT INTO schedules (name, created_at_ms, updated_at_ms) VALUES ('Week', 1, 1);
             INSERT INTO collections (id, name, created_at_ms, updated_at_ms) VALUES (4, 'Films', 1, 1);
             INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id,
                                         custom_title, created_at_ms, updated_at_ms)
             VALUES (1, 0, 'collection', 4, 'Late film', 1, 1);",
        )
        .unwrap();
        ScheduleId(1)
    }

    fn titles(tx: &Transaction<'_>) -> Vec<Option<String>> {
        tx.prepare("SELECT custom_title FROM schedule_items ORDER BY position")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_revert_restores_fields_and_items_and_can_itself_be_reverted() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let schedule = setup(&tx);
        let (first, _) = capture(&tx, schedule, Some("  before  "), 5).unwrap();
        tx.execute_batch(
            "UPDATE schedules SET name = 'Weekend', shuffle_schedule_items = 1;
             DELETE FROM schedule_items;",
        )
        .unwrap();
        let (reverted, saved, _) = revert(&tx, first, 9).unwrap();
        assert_eq!(reverted, schedule);
        let (name, shuffle): (String, bool) = tx
            .query_row(
                "SELECT name, shuffle_schedule_items FROM schedules",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((name.as_str(), shuffle), ("Week", false));
        assert_eq!(titles(&tx), [Some("Late film".to_string())]);
        let item_id: i64 = tx
            .query_row("SELECT id FROM schedule_items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(item_id, 1, "the item keeps its id");
        let snap = get(&tx, saved).unwrap().unwrap();
        assert_eq!(snap.label, "before revert to 1");
        assert!(snap.items.is_empty());
        assert_eq!(get(&tx, first).unwrap().unwrap().label, "before");
        // The revert of the revert empties the schedule again.
        revert(&tx, saved, 10).unwrap();
        assert!(titles(&tx).is_empty());
        let listed: Vec<i64> = list(&tx, Some(schedule))
            .unwrap()
            .iter()
            .map(|s| s.id.0)
            .collect();
        assert_eq!(listed.len(), 3);
        assert!(listed.windows(2).all(|w| w[0] > w[1]), "newest first");
    }

    #[test]
    fn a_revert_to_deleted_content_names_it_and_writes_nothing() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let schedule = setup(&tx);
        let (id, _) = capture(&tx, schedule, None, 5).unwrap();
        tx.execute_batch("DELETE FROM schedule_items; DELETE FROM collections;")
            .unwrap();
        let err = revert(&tx, id, 9).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot revert to history entry 1: item 1 (position 0) collection_id: \
             collection 4 no longer exists (nothing was changed)"
        );
        assert!(titles(&tx).is_empty());
        assert_eq!(list(&tx, Some(schedule)).unwrap().len(), 1);
        assert!(matches!(
            revert(&tx, HistoryId(99), 9),
            Err(HistoryError::NotFound)
        ));
    }

    #[test]
    fn history_is_bounded_per_schedule() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let schedule = setup(&tx);
        for n in 0..KEEP_PER_SCHEDULE + 7 {
            snapshot(&tx, schedule, "edit", n).unwrap();
        }
        let kept = list(&tx, Some(schedule)).unwrap();
        assert_eq!(kept.len() as i64, KEEP_PER_SCHEDULE);
        assert_eq!(kept[0].created_at_ms, KEEP_PER_SCHEDULE + 6);
        let long = "x".repeat(MAX_LABEL_CHARS + 1);
        assert!(matches!(
            capture(&tx, schedule, Some(&long), 1),
            Err(HistoryError::LabelTooLong)
        ));
        assert!(matches!(
            capture(&tx, ScheduleId(9), None, 1),
            Err(HistoryError::ScheduleNotFound)
        ));
        delete(&tx, kept[0].id).unwrap();
        assert!(matches!(
            delete(&tx, kept[0].id),
            Err(HistoryError::NotFound)
        ));
    }
}
