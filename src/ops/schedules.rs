//! Schedule writes: create, update, delete. An update first takes a history snapshot
//! (`ops::schedule_history`) in the same transaction. Each runs inside the caller's write transaction,
//! takes a `SchedulePatch` parsed once at the edge, and returns the `Changes` it made: an
//! edit rebuilds, from now on, the playouts that use the schedule. A refusal is a
//! `ScheduleError`. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{OptionalExtension, Transaction};

use crate::changes::Changes;
use crate::db::DbError;
use crate::time::UnixMs;

use super::fields::{patch, Flag, Name, Text};
pub use super::ids::ScheduleId;
use super::ids::{ChannelId, CollectionId, PlaylistId, PlayoutId};

patch! {
    /// The fields a schedule write sends, each validated once at the edge.
    pub struct SchedulePatch {
        name: Name,
        channel_id: Option<ChannelId>,
        keep_multi_part_episodes_together: Flag,
        treat_collections_as_shows: Flag,
        shuffle_schedule_items: Flag,
        random_start_point: Flag,
        is_yaml_source: Flag,
        playlist_id: Option<PlaylistId>,
        collection_id: Option<CollectionId>,
        start_time: Option<Text>,
        end_time: Option<Text>,
        repeat = "\"repeat\"": Flag,
    }
}

/// Why a schedule write was refused.
#[derive(Debug)]
pub enum ScheduleError {
    NotFound,
    /// A playout builds from the schedule (a delete would leave it without one).
    InUse {
        playout_id: PlayoutId,
        number: String,
        name: String,
    },
    /// A field points nowhere (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::NotFound => f.write_str("schedule not found"),
            ScheduleError::InUse {
                playout_id,
                number,
                name,
            } => write!(
                f,
                "the schedule is used by playout {playout_id} of channel {number} ({name})"
            ),
            ScheduleError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            ScheduleError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(ScheduleError);

/// A new schedule is used by no playout yet: nothing a client sees changes.
pub fn create(
    tx: &Transaction<'_>,
    patch: &SchedulePatch,
    now_ms: UnixMs,
) -> Result<(ScheduleId, Changes), ScheduleError> {
    check_refs(tx, patch)?;
    let id = ScheduleId(crate::db::row::insert(
        tx,
        "schedules",
        &patch.values(),
        now_ms,
    )?);
    let changes = Changes {
        cause: "schedule created".into(),
        ..Changes::default()
    };
    Ok((id, changes))
}

/// Updates the schedule (after a snapshot of it, `ops::schedule_history`); the playouts that
/// use it are rebuilt after the commit.
pub fn update(
    tx: &Transaction<'_>,
    id: ScheduleId,
    patch: &SchedulePatch,
    now_ms: UnixMs,
) -> Result<Changes, ScheduleError> {
    ensure_exists(tx, id)?;
    check_refs(tx, patch)?;
    super::schedule_history::snapshot(tx, id, "schedule updated", now_ms)?;
    crate::db::row::update(tx, "schedules", id.0, &patch.values(), now_ms)?;
    rebuilding_users(tx, id, "schedule updated")
}

/// Deletes the schedule with its items (ON DELETE CASCADE), unless a playout uses it.
pub fn delete(tx: &Transaction<'_>, id: ScheduleId) -> Result<Changes, ScheduleError> {
    ensure_exists(tx, id)?;
    let user: Option<(PlayoutId, String, String)> = tx
        .query_row(
            "SELECT p.id, c.number, c.name FROM playouts p
             JOIN channels c ON c.id = p.channel_id
             WHERE p.program_schedule_id = ?1 ORDER BY p.id LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((playout_id, number, name)) = user {
        return Err(ScheduleError::InUse {
            playout_id,
            number,
            name,
        });
    }
    tx.execute("DELETE FROM schedules WHERE id = ?1", [id])?;
    // Unused by any playout: no timeline and no document changes.
    Ok(Changes {
        cause: "schedule deleted".into(),
        ..Changes::default()
    })
}

/// What an edit of the schedule (or of its items) changed: the active playouts built from
/// it are rebuilt from now, after the commit.
pub fn rebuilding_users(
    tx: &Transaction<'_>,
    id: ScheduleId,
    cause: &str,
) -> Result<Changes, ScheduleError> {
    let rebuild = crate::scheduler::playouts_of_schedule(tx, id)?;
    Ok(Changes::rebuilding(rebuild, cause))
}

fn ensure_exists(tx: &Transaction<'_>, id: ScheduleId) -> Result<(), ScheduleError> {
    if crate::db::exists(tx, "schedules", id.0)? {
        Ok(())
    } else {
        Err(ScheduleError::NotFound)
    }
}

/// References the patch carries must point at rows that exist.
fn check_refs(tx: &Transaction<'_>, patch: &SchedulePatch) -> Result<(), ScheduleError> {
    let refs = [
        (
            "channel_id",
            "channels",
            "channel",
            patch.channel_id.value().map(|id| id.0),
        ),
        (
            "playlist_id",
            "playlists",
            "playlist",
            patch.playlist_id.value().map(|id| id.0),
        ),
        (
            "collection_id",
            "collections",
            "collection",
            patch.collection_id.value().map(|id| id.0),
        ),
    ];
    for (field, table, what, id) in refs {
        let Some(id) = id else { continue };
        if !crate::db::exists(tx, table, id)? {
            return Err(ScheduleError::Invalid {
                field,
                problem: format!("unknown {what} {id}"),
            });
        }
    }
    Ok(())
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

    fn named(name: &str) -> SchedulePatch {
        SchedulePatch {
            name: Field::set(Name(name.into())),
            ..SchedulePatch::default()
        }
    }

    fn channel_with_playout(tx: &Transaction<'_>, schedule: ScheduleId) -> (i64, PlayoutId) {
        tx.execute(
            "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES ('5', 'News', 1, 1)",
            [],
        )
        .unwrap();
        let channel = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, seed, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, 7, 1, 1)",
            rusqlite::params![channel, schedule],
        )
        .unwrap();
        (channel, PlayoutId(tx.last_insert_rowid()))
    }

    #[test]
    fn create_then_update_refuses_an_unknown_reference() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, changes) = create(&tx, &named("Week"), 1).unwrap();
        assert!(!changes.content && changes.rebuild.is_empty());
        let mut bad = named("Week");
        bad.playlist_id = Field::set(Some(PlaylistId(42)));
        let err = update(&tx, id, &bad, 2).unwrap_err();
        assert_eq!(err.to_string(), "playlist_id: unknown playlist 42");
        let mut bad = named("Other");
        bad.channel_id = Field::set(Some(ChannelId(9)));
        let err = create(&tx, &bad, 1).unwrap_err();
        assert!(
            matches!(
                err,
                ScheduleError::Invalid {
                    field: "channel_id",
                    ..
                }
            ),
            "{err}"
        );
        let err = update(&tx, ScheduleId(999), &named("X"), 2).unwrap_err();
        assert!(matches!(err, ScheduleError::NotFound));
    }

    #[test]
    fn an_update_rebuilds_the_playouts_that_use_the_schedule() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &named("Week"), 1).unwrap();
        let (unused, _) = create(&tx, &named("Spare"), 1).unwrap();
        let (_, playout) = channel_with_playout(&tx, id);
        let changes = update(&tx, id, &named("Weekdays"), 2).unwrap();
        assert_eq!(changes.rebuild, Rebuild::of([playout]));
        assert!(changes.content);
        let changes = update(&tx, unused, &named("Spares"), 2).unwrap();
        assert!(changes.rebuild.is_empty());
    }

    #[test]
    fn a_schedule_in_use_is_not_deleted() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &named("Week"), 1).unwrap();
        let (_, playout) = channel_with_playout(&tx, id);
        let err = delete(&tx, id).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the schedule is used by playout {playout} of channel 5 (News)")
        );
        let (spare, _) = create(&tx, &named("Spare"), 1).unwrap();
        delete(&tx, spare).unwrap();
        assert!(matches!(delete(&tx, spare), Err(ScheduleError::NotFound)));
    }
}
