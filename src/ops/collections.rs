//! Collection writes: manual and smart collections (a smart one's items are its saved
//! search, `library::collections`), their members, and multi-collections (ordered groups of
//! collections) with their links. Each runs inside the caller's write transaction and
//! returns the `Changes` it made: a write to content a timeline reads rebuilds exactly the
//! playouts that read it (`ops::readers`). It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};

use super::ids::{CollectionId, MediaId, MultiCollectionId, ScheduleId};
use super::readers::{self, Content};
use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::CollectionKind;
use crate::library::collections as smart;
use crate::time::UnixMs;

/// Collections one multi-collection may group: bounds a multi-collection's response and
/// the content a slot reads through it.
pub const MAX_MULTI_MEMBERS: usize = 256;

/// A new collection or multi-collection; the name is validated at the edge.
#[derive(Debug, Clone, Default)]
pub struct NewCollection {
    pub name: String,
    pub description: Option<String>,
}

/// A partial edit of a multi-collection: only the fields given change.
#[derive(Debug, Clone, Default)]
pub struct CollectionPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// What a write names that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Collection,
    MultiCollection,
    MediaItem,
}

impl Missing {
    fn as_str(self) -> &'static str {
        match self {
            Missing::Collection => "collection",
            Missing::MultiCollection => "multi-collection",
            Missing::MediaItem => "media item",
        }
    }
}

/// Why a collection write was refused.
#[derive(Debug)]
pub enum CollectionError {
    NotFound(Missing),
    /// Another collection (or multi-collection) has this name.
    NameTaken,
    /// The media item is already a member of the collection.
    AlreadyMember,
    /// The media item is not a member of the collection.
    NotMember,
    AlreadyLinked,
    NotLinked,
    /// The multi-collection groups `MAX_MULTI_MEMBERS` collections already.
    Full,
    /// A schedule plays it: deleting it would leave the schedule a hole.
    InUse {
        what: Missing,
        schedule: ScheduleId,
    },
    /// A field points nowhere or makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for CollectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectionError::NotFound(what) => write!(f, "{} not found", what.as_str()),
            CollectionError::NameTaken => f.write_str("name: already taken"),
            CollectionError::AlreadyMember => f.write_str("the item is already in the collection"),
            CollectionError::NotMember => f.write_str("the item is not in the collection"),
            CollectionError::AlreadyLinked => f.write_str("the collection is already linked"),
            CollectionError::NotLinked => f.write_str("the collection is not linked"),
            CollectionError::Full => write!(f, "at most {MAX_MULTI_MEMBERS} collections"),
            CollectionError::InUse { what, schedule } => {
                write!(f, "the {} is used by schedule {schedule}", what.as_str())
            }
            CollectionError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            CollectionError::Db(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for CollectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CollectionError::Db(err) => Some(err),
            _ => None,
        }
    }
}

impl From<DbError> for CollectionError {
    fn from(err: DbError) -> Self {
        if err.is_unique_violation() {
            // Names are the only UNIQUE columns these writes set.
            return CollectionError::NameTaken;
        }
        CollectionError::Db(err)
    }
}

impl From<rusqlite::Error> for CollectionError {
    fn from(err: rusqlite::Error) -> Self {
        CollectionError::from(DbError::from(err))
    }
}

fn not_smart() -> CollectionError {
    CollectionError::Invalid {
        field: "collection_type",
        problem: "not a smart collection".into(),
    }
}

pub fn create_manual(
    tx: &Transaction<'_>,
    new: &NewCollection,
    now_ms: UnixMs,
) -> Result<(CollectionId, Changes), CollectionError> {
    tx.execute(
        "INSERT INTO collections (name, description, collection_type, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, 'manual', ?3, ?3)",
        params![new.name, new.description, now_ms],
    )?;
    let id = CollectionId(tx.last_insert_rowid());
    Ok((id, readers::unseen("collection created")))
}

/// Creates a smart collection and fills it from `query`; returns its item count too.
pub fn create_smart(
    tx: &Transaction<'_>,
    new: &NewCollection,
    query: &str,
    now_ms: UnixMs,
) -> Result<(CollectionId, i64, Changes), CollectionError> {
    smart::compile(query).map_err(|err| CollectionError::Invalid {
        field: "search_query",
        problem: err.to_string(),
    })?;
    tx.execute(
        "INSERT INTO collections (name, description, collection_type, search_query, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, 'smart', ?3, ?4, ?4)",
        params![new.name, new.description, query, now_ms],
    )?;
    let id = CollectionId(tx.last_insert_rowid());
    let n_items = smart::refresh_smart(tx, id.0, query)?;
    Ok((id, n_items, readers::unseen("smart collection created")))
}

/// A smart collection's item count before and after a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    pub previous_count: i64,
    pub new_count: i64,
}

/// Re-runs a smart collection's query; when its item count moved, the playouts that read
/// it are rebuilt.
pub fn refresh(
    tx: &Transaction<'_>,
    id: CollectionId,
    now_ms: UnixMs,
) -> Result<(Refreshed, Changes), CollectionError> {
    let row: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT collection_type, search_query FROM collections WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (kind, query) = row.ok_or(CollectionError::NotFound(Missing::Collection))?;
    let (true, Some(query)) = (kind == CollectionKind::Smart.as_str(), query) else {
        return Err(not_smart());
    };
    let previous_count = item_count(tx, id)?;
    let new_count = smart::refresh_smart(tx, id.0, &query)?;
    tx.execute(
        "UPDATE collections SET updated_at_ms = ?2 WHERE id = ?1",
        params![id, now_ms],
    )?;
    let changes = if previous_count == new_count {
        readers::unseen("smart collection refreshed")
    } else {
        readers::rebuilding_readers(tx, Content::Collection(id), "smart collection refreshed")?
    };
    let refreshed = Refreshed {
        previous_count,
        new_count,
    };
    Ok((refreshed, changes))
}

fn item_count(tx: &Transaction<'_>, id: CollectionId) -> Result<i64, DbError> {
    Ok(tx.query_row(
        "SELECT count(*) FROM collection_items WHERE collection_id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// Deletes a collection no schedule plays; the multi-collections, playlists and filler that
/// held it are rebuilt without it.
pub fn delete(tx: &Transaction<'_>, id: CollectionId) -> Result<Changes, CollectionError> {
    let schedule: Option<ScheduleId> = tx
        .query_row(
            "SELECT schedule_id FROM schedule_items
             WHERE collection_id = ?1 AND collection_type IN ('collection', 'smart_collection')
             UNION ALL SELECT id FROM schedules WHERE collection_id = ?1
             LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(schedule) = schedule {
        return Err(CollectionError::InUse {
            what: Missing::Collection,
            schedule,
        });
    }
    // Read before the delete: its links and playlist entries go with it (ON DELETE CASCADE).
    let changes = readers::rebuilding_readers(tx, Content::Collection(id), "collection deleted")?;
    match tx.execute("DELETE FROM collections WHERE id = ?1", [id])? {
        0 => Err(CollectionError::NotFound(Missing::Collection)),
        _ => Ok(changes),
    }
}

/// Appends a media item to a manual collection.
pub fn add_item(
    tx: &Transaction<'_>,
    id: CollectionId,
    media: MediaId,
    now_ms: UnixMs,
) -> Result<Changes, CollectionError> {
    let kind: Option<String> = tx
        .query_row(
            "SELECT collection_type FROM collections WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let kind = kind.ok_or(CollectionError::NotFound(Missing::Collection))?;
    if kind != CollectionKind::Manual.as_str() {
        return Err(CollectionError::Invalid {
            field: "collection_type",
            problem: "a smart collection takes its items from its query".into(),
        });
    }
    if !crate::db::exists(tx, "media_items", media.0)? {
        return Err(CollectionError::NotFound(Missing::MediaItem));
    }
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO collection_items (collection_id, media_item_id, position)
         SELECT ?1, ?2, coalesce(max(position), -1) + 1 FROM collection_items WHERE collection_id = ?1",
        params![id, media],
    )?;
    if inserted == 0 {
        return Err(CollectionError::AlreadyMember);
    }
    tx.execute(
        "UPDATE collections SET updated_at_ms = ?2 WHERE id = ?1",
        params![id, now_ms],
    )?;
    Ok(readers::rebuilding_readers(
        tx,
        Content::Collection(id),
        "collection item added",
    )?)
}

pub fn remove_item(
    tx: &Transaction<'_>,
    id: CollectionId,
    media: MediaId,
) -> Result<Changes, CollectionError> {
    if !crate::db::exists(tx, "collections", id.0)? {
        return Err(CollectionError::NotFound(Missing::Collection));
    }
    let n = tx.execute(
        "DELETE FROM collection_items WHERE collection_id = ?1 AND media_item_id = ?2",
        params![id, media],
    )?;
    if n == 0 {
        return Err(CollectionError::NotMember);
    }
    Ok(readers::rebuilding_readers(
        tx,
        Content::Collection(id),
        "collection item removed",
    )?)
}

// ------------------------------------------------------------------ multi-collections

/// Creates a multi-collection grouping `members` in their order (a repeat is linked once).
pub fn create_multi(
    tx: &Transaction<'_>,
    new: &NewCollection,
    members: &[CollectionId],
    now_ms: UnixMs,
) -> Result<(MultiCollectionId, Changes), CollectionError> {
    if members.len() > MAX_MULTI_MEMBERS {
        return Err(CollectionError::Invalid {
            field: "collection_ids",
            problem: format!("more than {MAX_MULTI_MEMBERS}"),
        });
    }
    for member in members {
        if !crate::db::exists(tx, "collections", member.0)? {
            return Err(CollectionError::Invalid {
                field: "collection_ids",
                problem: format!("no collection {member}"),
            });
        }
    }
    tx.execute(
        "INSERT INTO multi_collections (name, description, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?3)",
        params![new.name, new.description, now_ms],
    )?;
    let id = MultiCollectionId(tx.last_insert_rowid());
    for (position, member) in members.iter().enumerate() {
        tx.execute(
            "INSERT OR IGNORE INTO multi_collection_links (multi_collection_id, collection_id, position)
             VALUES (?1, ?2, ?3)",
            params![id, member, position as i64],
        )?;
    }
    Ok((id, readers::unseen("multi-collection created")))
}

/// Renames or re-describes a multi-collection (no timeline reads either).
pub fn update_multi(
    tx: &Transaction<'_>,
    id: MultiCollectionId,
    patch: &CollectionPatch,
    now_ms: UnixMs,
) -> Result<Changes, CollectionError> {
    let n = tx.execute(
        "UPDATE multi_collections SET name = coalesce(?2, name),
             description = coalesce(?3, description), updated_at_ms = ?4 WHERE id = ?1",
        params![id, patch.name, patch.description, now_ms],
    )?;
    if n == 0 {
        return Err(CollectionError::NotFound(Missing::MultiCollection));
    }
    Ok(readers::unseen("multi-collection updated"))
}

/// Deletes a multi-collection no schedule plays (then nothing else reads it).
pub fn delete_multi(
    tx: &Transaction<'_>,
    id: MultiCollectionId,
) -> Result<Changes, CollectionError> {
    let schedule: Option<ScheduleId> = tx
        .query_row(
            "SELECT schedule_id FROM schedule_items
             WHERE collection_type = 'multi_collection' AND collection_id = ?1 LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(schedule) = schedule {
        return Err(CollectionError::InUse {
            what: Missing::MultiCollection,
            schedule,
        });
    }
    match tx.execute("DELETE FROM multi_collections WHERE id = ?1", [id])? {
        0 => Err(CollectionError::NotFound(Missing::MultiCollection)),
        _ => Ok(readers::unseen("multi-collection deleted")),
    }
}

/// Appends a collection to a multi-collection.
pub fn link(
    tx: &Transaction<'_>,
    id: MultiCollectionId,
    member: CollectionId,
) -> Result<Changes, CollectionError> {
    if !crate::db::exists(tx, "multi_collections", id.0)? {
        return Err(CollectionError::NotFound(Missing::MultiCollection));
    }
    if !crate::db::exists(tx, "collections", member.0)? {
        return Err(CollectionError::NotFound(Missing::Collection));
    }
    let n_members: i64 = tx.query_row(
        "SELECT count(*) FROM multi_collection_links WHERE multi_collection_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if n_members as usize >= MAX_MULTI_MEMBERS {
        return Err(CollectionError::Full);
    }
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO multi_collection_links (multi_collection_id, collection_id, position)
         SELECT ?1, ?2, coalesce(max(position), -1) + 1 FROM multi_collection_links
         WHERE multi_collection_id = ?1",
        params![id, member],
    )?;
    if inserted == 0 {
        return Err(CollectionError::AlreadyLinked);
    }
    Ok(readers::rebuilding_readers(
        tx,
        Content::MultiCollection(id),
        "multi-collection linked",
    )?)
}

pub fn unlink(
    tx: &Transaction<'_>,
    id: MultiCollectionId,
    member: CollectionId,
) -> Result<Changes, CollectionError> {
    if !crate::db::exists(tx, "multi_collections", id.0)? {
        return Err(CollectionError::NotFound(Missing::MultiCollection));
    }
    let n = tx.execute(
        "DELETE FROM multi_collection_links WHERE multi_collection_id = ?1 AND collection_id = ?2",
        params![id, member],
    )?;
    if n == 0 {
        return Err(CollectionError::NotLinked);
    }
    Ok(readers::rebuilding_readers(
        tx,
        Content::MultiCollection(id),
        "multi-collection unlinked",
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Rebuild;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn named(name: &str) -> NewCollection {
        NewCollection {
            name: name.into(),
            description: None,
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

    /// A channel whose schedule plays `collection` in one slot; returns (schedule, playout).
    fn scheduled(tx: &Transaction<'_>, slot_type: &str, content_id: i64) -> (i64, i64) {
        tx.execute_batch(
            "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES ('5', 'News', 1, 1);
             INSERT INTO schedules (name, created_at_ms, updated_at_ms) VALUES ('S', 1, 1);",
        )
        .unwrap();
        let schedule = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id, created_at_ms, updated_at_ms)
             VALUES (?1, 0, ?2, ?3, 1, 1)",
            params![schedule, slot_type, content_id],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, seed, created_at_ms, updated_at_ms)
             SELECT id, ?1, 7, 1, 1 FROM channels WHERE number = '5'",
            [schedule],
        )
        .unwrap();
        (schedule, tx.last_insert_rowid())
    }

    #[test]
    fn create_refuses_a_taken_name_and_membership_names_its_errors() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, changes) = create_manual(&tx, &named("Mine"), 1).unwrap();
        assert!(changes.rebuild.is_empty() && !changes.content);
        let err = create_manual(&tx, &named("Mine"), 1).unwrap_err();
        assert_eq!(err.to_string(), "name: already taken");
        let one = media(&tx, "One");
        add_item(&tx, id, one, 2).unwrap();
        let err = add_item(&tx, id, one, 2).unwrap_err();
        assert!(matches!(err, CollectionError::AlreadyMember), "{err}");
        let err = add_item(&tx, id, MediaId(999), 2).unwrap_err();
        assert_eq!(err.to_string(), "media item not found");
        let err = add_item(&tx, CollectionId(999), one, 2).unwrap_err();
        assert_eq!(err.to_string(), "collection not found");
        remove_item(&tx, id, one).unwrap();
        let err = remove_item(&tx, id, one).unwrap_err();
        assert_eq!(err.to_string(), "the item is not in the collection");
    }

    #[test]
    fn a_smart_query_is_checked_and_a_smart_collection_takes_no_items() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let err = create_smart(&tx, &named("Bad"), "colour:red", 1).unwrap_err();
        assert!(
            err.to_string().starts_with("search_query: unknown field"),
            "{err}"
        );
        let (id, n_items, _) = create_smart(&tx, &named("All"), "title:One", 1).unwrap();
        assert_eq!(n_items, 0);
        let one = media(&tx, "One");
        let err = add_item(&tx, id, one, 2).unwrap_err();
        assert!(matches!(err, CollectionError::Invalid { .. }), "{err}");
        let (refreshed, _) = refresh(&tx, id, 2).unwrap();
        assert_eq!((refreshed.previous_count, refreshed.new_count), (0, 1));
        let (manual, _) = create_manual(&tx, &named("Mine"), 1).unwrap();
        let err = refresh(&tx, manual, 2).unwrap_err();
        assert_eq!(err.to_string(), "collection_type: not a smart collection");
    }

    #[test]
    fn a_scheduled_collection_is_not_deleted_and_its_edits_rebuild_the_playouts_that_read_it() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create_manual(&tx, &named("Mine"), 1).unwrap();
        let (other, _) = create_manual(&tx, &named("Other"), 1).unwrap();
        let (schedule, playout) = scheduled(&tx, "collection", id.0);
        let changes = add_item(&tx, id, media(&tx, "One"), 2).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        let changes = add_item(&tx, other, media(&tx, "Two"), 2).unwrap();
        assert!(changes.rebuild.is_empty(), "nobody reads it");
        let err = delete(&tx, id).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the collection is used by schedule {schedule}")
        );
        assert!(matches!(
            delete(&tx, CollectionId(999)),
            Err(CollectionError::NotFound(Missing::Collection))
        ));
        delete(&tx, other).unwrap();
    }

    #[test]
    fn a_multi_collection_links_its_members_and_a_link_rebuilds_its_readers() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (a, _) = create_manual(&tx, &named("A"), 1).unwrap();
        let (b, _) = create_manual(&tx, &named("B"), 1).unwrap();
        let err = create_multi(&tx, &named("Both"), &[a, CollectionId(999)], 1).unwrap_err();
        assert_eq!(err.to_string(), "collection_ids: no collection 999");
        let (multi, _) = create_multi(&tx, &named("Both"), &[a], 1).unwrap();
        let err = create_multi(&tx, &named("Both"), &[], 1).unwrap_err();
        assert!(matches!(err, CollectionError::NameTaken), "{err}");
        let (schedule, playout) = scheduled(&tx, "multi_collection", multi.0);
        let changes = link(&tx, multi, b).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        assert!(matches!(
            link(&tx, multi, b),
            Err(CollectionError::AlreadyLinked)
        ));
        // A member's own edits reach the multi-collection's readers too.
        let changes = add_item(&tx, b, media(&tx, "One"), 2).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        unlink(&tx, multi, b).unwrap();
        assert!(matches!(
            unlink(&tx, multi, b),
            Err(CollectionError::NotLinked)
        ));
        let err = delete_multi(&tx, multi).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the multi-collection is used by schedule {schedule}")
        );
        let patch = CollectionPatch {
            name: Some("Renamed".into()),
            description: None,
        };
        update_multi(&tx, multi, &patch, 2).unwrap();
        assert!(matches!(
            update_multi(&tx, MultiCollectionId(999), &patch, 2),
            Err(CollectionError::NotFound(Missing::MultiCollection))
        ));
    }
}
