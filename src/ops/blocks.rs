//! Block writes: block groups, blocks (time-of-day programming: "Saturday cartoons, 08:00,
//! 4 h") and their items, each drawing from a collection, playlist or smart collection in
//! its own playback order. A block airs on the days of its `days_of_week` mask (1 = Sunday
//! .. 64 = Saturday) at its `start_time`, for `duration_minutes`. Each write runs inside
//! the caller's write transaction and returns the `Changes` it made. It knows no HTTP and
//! no JSON.

use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{de, Deserialize, Deserializer};

use super::fields::{patch, AnyId, Flag, Int, Name, OneOf};
use super::readers;
use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{BlockContent, PlaybackOrder};
use crate::time::UnixMs;

/// Items in one block at most: bounds a block response and the reorder rewrite.
pub const MAX_BLOCK_ITEMS: i64 = 1_000;

/// A block's start, `"HH:MM"` (00:00 to 23:59), stored as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTime(pub String);

impl BlockTime {
    /// Minutes after midnight of a valid `"HH:MM"`.
    pub fn parse(text: &str) -> Option<u32> {
        let (h, m) = text.split_once(':')?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    }
}

impl<'de> Deserialize<'de> for BlockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match BlockTime::parse(&s) {
            Some(_) => Ok(BlockTime(s)),
            None => Err(de::Error::custom("expected HH:MM between 00:00 and 23:59")),
        }
    }
}

impl super::fields::ToColumn for BlockTime {
    fn to_column(&self) -> rusqlite::types::Value {
        rusqlite::types::Value::Text(self.0.clone())
    }
}

patch! {
    /// The fields a block write sends, each validated once at the edge.
    pub struct BlockPatch {
        name: Name,
        group_id: Option<AnyId>,
        start_time: BlockTime,
        /// A block is at most a day long: longer would overlap its own next airing.
        duration_minutes: Int<1, 1440>,
        /// Bit 0 (1) is Sunday .. bit 6 (64) Saturday; 0 would never air.
        days_of_week: Int<1, 127>,
        stop_before_end: Flag,
    }
}

patch! {
    /// The fields a block item write sends.
    pub struct ItemPatch {
        collection_type: OneOf<BlockContent>,
        collection_id: AnyId,
        playback_order: OneOf<PlaybackOrder>,
        include_in_guide: Flag,
    }
}

/// Why a block write was refused.
#[derive(Debug)]
pub enum BlockError {
    NotFound,
    ItemNotFound,
    /// Templates still place the block.
    InUse {
        templates: i64,
    },
    Full,
    /// A field points nowhere or makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::NotFound => f.write_str("block not found"),
            BlockError::ItemNotFound => f.write_str("no such item in the block"),
            BlockError::InUse { templates } => {
                write!(f, "the block is placed by {templates} template(s)")
            }
            BlockError::Full => write!(f, "a block holds at most {MAX_BLOCK_ITEMS} items"),
            BlockError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            BlockError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(BlockError);

fn invalid(field: &'static str, problem: &str) -> BlockError {
    BlockError::Invalid {
        field,
        problem: problem.into(),
    }
}

pub fn create(
    tx: &Transaction<'_>,
    patch: &BlockPatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), BlockError> {
    check_group(tx, patch)?;
    let id = crate::db::row::insert(tx, "blocks", &patch.values(), now_ms)?;
    Ok((id, readers::unseen("block created")))
}

pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    patch: &BlockPatch,
    now_ms: UnixMs,
) -> Result<Changes, BlockError> {
    check_group(tx, patch)?;
    if !crate::db::row::update(tx, "blocks", id, &patch.values(), now_ms)? {
        return Err(BlockError::NotFound);
    }
    rebuilding(tx, id, "block updated")
}

/// Deletes a block with its items; one a template still places is a 409, so no template
/// silently loses part of its day.
pub fn delete(tx: &Transaction<'_>, id: i64) -> Result<Changes, BlockError> {
    let templates: i64 = tx.query_row(
        "SELECT count(DISTINCT template_id) FROM template_items WHERE block_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if templates > 0 {
        return Err(BlockError::InUse { templates });
    }
    match tx.execute("DELETE FROM blocks WHERE id = ?1", [id])? {
        0 => Err(BlockError::NotFound),
        _ => Ok(readers::unseen("block deleted")),
    }
}

fn check_group(tx: &Transaction<'_>, patch: &BlockPatch) -> Result<(), BlockError> {
    if let Some(Int(group)) = patch.group_id.value() {
        if !crate::db::exists(tx, "block_groups", group)? {
            return Err(invalid("group_id", "no such block group"));
        }
    }
    Ok(())
}

/// Appends an item; its content must exist (422 naming `collection_id`).
pub fn add_item(
    tx: &Transaction<'_>,
    block: i64,
    patch: &ItemPatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), BlockError> {
    ensure_block(tx, block)?;
    let kind = patch
        .collection_type
        .given()
        .map_or(BlockContent::Collection, |k| k.0);
    let Some(Int(target)) = patch.collection_id.given().copied() else {
        return Err(invalid("collection_id", "field required"));
    };
    check_target(tx, kind, target)?;
    let n_items: i64 = tx.query_row(
        "SELECT count(*) FROM block_items WHERE block_id = ?1",
        [block],
        |r| r.get(0),
    )?;
    if n_items >= MAX_BLOCK_ITEMS {
        return Err(BlockError::Full);
    }
    let mut values = patch.values();
    values.push(("block_id", block.into()));
    values.push(("position", n_items.into()));
    let id = crate::db::row::insert_exactly(tx, "block_items", &values)?;
    touch(tx, block, now_ms)?;
    Ok((id, rebuilding(tx, block, "block item added")?))
}

/// Changes an item; a changed content must exist too.
pub fn update_item(
    tx: &Transaction<'_>,
    block: i64,
    item: i64,
    patch: &ItemPatch,
    now_ms: UnixMs,
) -> Result<Changes, BlockError> {
    let current: Option<(String, i64)> = tx
        .query_row(
            "SELECT collection_type, collection_id FROM block_items WHERE id = ?1 AND block_id = ?2",
            params![item, block],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((kind, target)) = current else {
        return Err(item_missing(tx, block)?);
    };
    let kind = match patch.collection_type.given() {
        Some(k) => k.0,
        None => kind
            .parse()
            .map_err(|_| invalid("collection_type", "stored value unreadable"))?,
    };
    let target = patch.collection_id.given().map_or(target, |t| t.0);
    check_target(tx, kind, target)?;
    for (column, value) in &patch.values() {
        // `column` is one of the patch's fixed column names, never client input.
        tx.execute(
            &format!("UPDATE block_items SET {column} = ?2 WHERE id = ?1"),
            params![item, value],
        )?;
    }
    touch(tx, block, now_ms)?;
    rebuilding(tx, block, "block item updated")
}

pub fn remove_item(
    tx: &Transaction<'_>,
    block: i64,
    item: i64,
    now_ms: UnixMs,
) -> Result<Changes, BlockError> {
    let n = tx.execute(
        "DELETE FROM block_items WHERE id = ?1 AND block_id = ?2",
        params![item, block],
    )?;
    if n == 0 {
        return Err(item_missing(tx, block)?);
    }
    touch(tx, block, now_ms)?;
    rebuilding(tx, block, "block item removed")
}

/// Sets the order to `order`, which must name every item of the block exactly once.
pub fn reorder(
    tx: &Transaction<'_>,
    block: i64,
    order: &[i64],
    now_ms: UnixMs,
) -> Result<Changes, BlockError> {
    ensure_block(tx, block)?;
    let mut have: Vec<i64> = tx
        .prepare("SELECT id FROM block_items WHERE block_id = ?1")?
        .query_map([block], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut want = order.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        return Err(invalid(
            "item_ids",
            "must list every item of the block exactly once",
        ));
    }
    let mut stmt = tx.prepare("UPDATE block_items SET position = ?2 WHERE id = ?1")?;
    for (position, item) in order.iter().enumerate() {
        stmt.execute(params![item, position as i64])?;
    }
    drop(stmt);
    touch(tx, block, now_ms)?;
    rebuilding(tx, block, "block items reordered")
}

/// The table a content kind's id names.
fn target_table(kind: BlockContent) -> &'static str {
    match kind {
        BlockContent::Playlist => "playlists",
        BlockContent::Collection | BlockContent::SmartCollection => "collections",
    }
}

fn check_target(tx: &Transaction<'_>, kind: BlockContent, target: i64) -> Result<(), BlockError> {
    if !crate::db::exists(tx, target_table(kind), target)? {
        return Err(BlockError::Invalid {
            field: "collection_id",
            problem: format!("no such {}", kind.as_str().replace('_', " ")),
        });
    }
    Ok(())
}

/// The error for an item that is not the block's: the block's own absence first.
fn item_missing(tx: &Transaction<'_>, block: i64) -> Result<BlockError, BlockError> {
    ensure_block(tx, block)?;
    Ok(BlockError::ItemNotFound)
}

fn ensure_block(tx: &Transaction<'_>, block: i64) -> Result<(), BlockError> {
    match crate::db::exists(tx, "blocks", block)? {
        true => Ok(()),
        false => Err(BlockError::NotFound),
    }
}

/// What an edit of `block` changed: the playouts whose templates place it are rebuilt.
fn rebuilding(tx: &Transaction<'_>, block: i64, cause: &str) -> Result<Changes, BlockError> {
    let rebuild = super::templates::playouts_of_block(tx, block)?;
    Ok(Changes::rebuilding(rebuild, cause))
}

fn touch(tx: &Transaction<'_>, block: i64, now_ms: UnixMs) -> Result<(), DbError> {
    tx.execute(
        "UPDATE blocks SET updated_at_ms = ?2 WHERE id = ?1",
        params![block, now_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> rusqlite::Connection {
        super::super::test_db()
    }

    fn block(json: &str) -> BlockPatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn block_times_are_hh_mm_of_one_day() {
        assert_eq!(BlockTime::parse("08:00"), Some(480));
        assert_eq!(BlockTime::parse("23:59"), Some(1439));
        for bad in ["25:00", "24:00", "8:00", "08:60", "08:00:00", "", "aa:bb"] {
            assert_eq!(BlockTime::parse(bad), None, "{bad}");
        }
        let err = serde_json::from_str::<BlockPatch>(r#"{"days_of_week":128}"#).unwrap_err();
        assert!(err.to_string().contains("between 1 and 127"), "{err}");
        let err = serde_json::from_str::<BlockPatch>(r#"{"duration_minutes":0}"#).unwrap_err();
        assert!(err.to_string().contains("between 1 and 1440"), "{err}");
    }

    #[test]
    fn items_need_their_content_and_reorder_names_every_item() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(
            "INSERT INTO collections (id, name, created_at_ms, updated_at_ms) VALUES (5, 'C', 1, 1);",
        )
        .unwrap();
        let (id, _) = create(
            &tx,
            &block(r#"{"name":"Cartoons","start_time":"08:00","duration_minutes":240}"#),
            1,
        )
        .unwrap();
        let item: ItemPatch = serde_json::from_str(r#"{"collection_id":5}"#).unwrap();
        let (a, _) = add_item(&tx, id, &item, 2).unwrap();
        let (b, _) = add_item(&tx, id, &item, 2).unwrap();
        let missing: ItemPatch = serde_json::from_str(r#"{"collection_id":9}"#).unwrap();
        let err = add_item(&tx, id, &missing, 2).unwrap_err();
        assert_eq!(err.to_string(), "collection_id: no such collection");
        let err = reorder(&tx, id, &[a], 3).unwrap_err();
        assert!(matches!(
            err,
            BlockError::Invalid {
                field: "item_ids",
                ..
            }
        ));
        reorder(&tx, id, &[b, a], 3).unwrap();
        let first: i64 = tx
            .query_row(
                "SELECT id FROM block_items WHERE block_id = ?1 ORDER BY position LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(first, b);
        assert!(matches!(
            remove_item(&tx, 999, a, 4),
            Err(BlockError::NotFound)
        ));
        remove_item(&tx, id, a, 4).unwrap();
        assert!(matches!(
            remove_item(&tx, id, a, 4),
            Err(BlockError::ItemNotFound)
        ));
    }

    #[test]
    fn a_block_names_an_existing_group() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let group = serde_json::from_str(r#"{"name":"Kids"}"#).unwrap();
        let kind = &super::super::groups::BLOCK_GROUPS;
        let (gid, _) = super::super::groups::create(&tx, kind, &group, 1).unwrap();
        let json = format!(
            r#"{{"name":"B","group_id":{gid},"start_time":"08:00","duration_minutes":30}}"#
        );
        let (bid, _) = create(&tx, &block(&json), 1).unwrap();
        delete(&tx, bid).unwrap();
        let bad = block(r#"{"name":"B","group_id":77,"start_time":"08:00","duration_minutes":30}"#);
        let err = create(&tx, &bad, 1).unwrap_err();
        assert_eq!(err.to_string(), "group_id: no such block group");
    }
}
