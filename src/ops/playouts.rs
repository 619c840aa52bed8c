//! Playout writes: create, update, delete, rebuild. Creating or re-pointing a playout
//! builds its timeline inside the caller's transaction (no client sees the one without the
//! other), and one active playout per channel holds: activating one deactivates the
//! channel's others. Each returns the `Changes` it made, naming the channels (and their
//! mirrors) whose timeline changed. A refusal is a `PlayoutError`. It knows no HTTP and no
//! JSON.

use std::fmt;

use rusqlite::types::Value;
use rusqlite::{params, Transaction};

use crate::changes::{Changes, Timelines};
use crate::db::DbError;
use crate::scheduler::{mirror, BuildClock, Outcome};

use super::fields::{patch, ClockTime, Flag, Int, Name};
pub use super::ids::PlayoutId;
use super::ids::{ChannelId, ScheduleId};

patch! {
    /// The fields a playout write sends, each validated once at the edge.
    pub struct PlayoutPatch {
        channel_id: ChannelId,
        program_schedule_id: Option<ScheduleId>,
        /// No table of its own (yet): any row id.
        template_id: Option<Int<1, { i64::MAX }>>,
        playout_type: Name,
        daily_reset_time: Option<ClockTime>,
        is_active: Flag,
    }
}

/// A new playout: its fields and the shuffle seed it keeps for life (rebuilds with the
/// stored seed yield the same order).
#[derive(Debug, Clone)]
pub struct NewPlayout {
    pub patch: PlayoutPatch,
    pub seed: i64,
}

/// Why a playout write was refused.
#[derive(Debug)]
pub enum PlayoutError {
    NotFound,
    /// A field points nowhere (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for PlayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlayoutError::NotFound => f.write_str("playout not found"),
            PlayoutError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            PlayoutError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(PlayoutError);

/// Inserts the playout, deactivates the channel's others when it is active, and builds its
/// timeline, all in the caller's transaction.
pub fn create(
    tx: &Transaction<'_>,
    new: &NewPlayout,
    clock: &BuildClock,
) -> Result<(PlayoutId, Changes), PlayoutError> {
    check_refs(tx, &new.patch)?;
    let mut values = new.patch.values();
    values.push(("seed", Value::Integer(new.seed)));
    let id = PlayoutId(crate::db::row::insert(
        tx,
        "playouts",
        &values,
        clock.now_ms,
    )?);
    let timelines = settle(tx, id, clock)?;
    Ok((id, Changes::timelines(timelines, "playout created")))
}

/// Updates the playout and rebuilds its timeline; a playout moved to another channel
/// changes the timelines of both.
pub fn update(
    tx: &Transaction<'_>,
    id: PlayoutId,
    patch: &PlayoutPatch,
    clock: &BuildClock,
) -> Result<Changes, PlayoutError> {
    let before = channel_of(tx, id)?;
    check_refs(tx, patch)?;
    crate::db::row::update(tx, "playouts", id.0, &patch.values(), clock.now_ms)?;
    let mut timelines = channel_and_mirrors(tx, before)?;
    timelines.merge(settle(tx, id, clock)?);
    Ok(Changes::timelines(timelines, "playout updated"))
}

/// Deletes the playout with its items (ON DELETE CASCADE): its channel plays what remains.
pub fn delete(tx: &Transaction<'_>, id: PlayoutId) -> Result<Changes, PlayoutError> {
    let channel = channel_of(tx, id)?;
    tx.execute("DELETE FROM playouts WHERE id = ?1", [id])?;
    let timelines = channel_and_mirrors(tx, channel)?;
    Ok(Changes::timelines(timelines, "playout deleted"))
}

/// Rebuilds the playout's timeline from now (keeping what plays now).
pub fn rebuild(
    tx: &Transaction<'_>,
    id: PlayoutId,
    clock: &BuildClock,
) -> Result<(Outcome, Changes), PlayoutError> {
    channel_of(tx, id)?;
    let (outcome, timelines) = crate::scheduler::rebuild_in(tx, id.0, clock)?;
    Ok((outcome, Changes::timelines(timelines, "rebuild")))
}

/// After a write: one active playout per channel, and the timeline built. Returns the
/// timelines that changed: the channel's and its mirrors' (which playout is active may
/// have changed even when the build wrote nothing), and whatever the build touched.
fn settle(
    tx: &Transaction<'_>,
    id: PlayoutId,
    clock: &BuildClock,
) -> Result<Timelines, PlayoutError> {
    deactivate_others(tx, id, clock)?;
    let (_, mut timelines) = crate::scheduler::rebuild_in(tx, id.0, clock)?;
    timelines.merge(channel_and_mirrors(tx, channel_of(tx, id)?)?);
    Ok(timelines)
}

/// One active playout per channel: the cursor reads the channel's active items.
fn deactivate_others(
    tx: &Transaction<'_>,
    id: PlayoutId,
    clock: &BuildClock,
) -> Result<(), PlayoutError> {
    tx.execute(
        "UPDATE playouts SET is_active = 0, updated_at_ms = ?2
         WHERE channel_id = (SELECT channel_id FROM playouts WHERE id = ?1) AND id != ?1
           AND is_active = 1 AND (SELECT is_active FROM playouts WHERE id = ?1) = 1",
        params![id, clock.now_ms],
    )?;
    Ok(())
}

fn channel_of(tx: &Transaction<'_>, id: PlayoutId) -> Result<ChannelId, PlayoutError> {
    mirror::playout_channel(tx, id.0)?
        .map(ChannelId)
        .ok_or(PlayoutError::NotFound)
}

/// A channel and every mirror that follows it: the timelines a change to its playout moves.
fn channel_and_mirrors(
    tx: &Transaction<'_>,
    channel: ChannelId,
) -> Result<Timelines, PlayoutError> {
    let mut timelines = Timelines::Empty;
    timelines.add(channel);
    for mirror_id in mirror::mirrors_of(tx, channel.0)? {
        timelines.add(ChannelId(mirror_id));
    }
    Ok(timelines)
}

/// References the patch carries must point at rows that exist.
fn check_refs(tx: &Transaction<'_>, patch: &PlayoutPatch) -> Result<(), PlayoutError> {
    let refs = [
        (
            "channel_id",
            "channels",
            "channel",
            patch.channel_id.given().map(|id| id.0),
        ),
        (
            "program_schedule_id",
            "schedules",
            "schedule",
            patch.program_schedule_id.value().map(|id| id.0),
        ),
    ];
    for (field, table, what, id) in refs {
        let Some(id) = id else { continue };
        if !crate::db::exists(tx, table, id)? {
            return Err(PlayoutError::Invalid {
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
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn clock() -> BuildClock {
        BuildClock {
            now_ms: 1_700_000_000_000,
            horizon_ms: 86_400_000,
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    fn channel(tx: &Transaction<'_>, number: &str) -> ChannelId {
        tx.execute(
            "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES (?1, 'C', 1, 1)",
            [number],
        )
        .unwrap();
        ChannelId(tx.last_insert_rowid())
    }

    fn on(channel: ChannelId) -> NewPlayout {
        NewPlayout {
            patch: PlayoutPatch {
                channel_id: Field::set(channel),
                ..PlayoutPatch::default()
            },
            seed: 7,
        }
    }

    fn is_active(tx: &Transaction<'_>, id: PlayoutId) -> bool {
        tx.query_row("SELECT is_active FROM playouts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    }

    #[test]
    fn create_deactivates_the_channels_other_playouts_and_names_its_timeline() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (news, film) = (channel(&tx, "5"), channel(&tx, "6"));
        let (first, _) = create(&tx, &on(news), &clock()).unwrap();
        let (second, changes) = create(&tx, &on(news), &clock()).unwrap();
        assert!(!is_active(&tx, first) && is_active(&tx, second));
        assert!(changes.content && changes.timelines.contains(news));
        assert!(!changes.timelines.contains(film));
        let err = create(&tx, &on(ChannelId(999)), &clock()).unwrap_err();
        assert_eq!(err.to_string(), "channel_id: unknown channel 999");
    }

    #[test]
    fn an_update_refuses_an_unknown_schedule_and_a_move_names_both_channels() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (news, film) = (channel(&tx, "5"), channel(&tx, "6"));
        let (id, _) = create(&tx, &on(news), &clock()).unwrap();
        let bad = PlayoutPatch {
            program_schedule_id: Field::set(Some(ScheduleId(42))),
            ..PlayoutPatch::default()
        };
        let err = update(&tx, id, &bad, &clock()).unwrap_err();
        assert_eq!(err.to_string(), "program_schedule_id: unknown schedule 42");
        let moved = on(film).patch;
        let changes = update(&tx, id, &moved, &clock()).unwrap();
        assert!(changes.timelines.contains(news) && changes.timelines.contains(film));
        assert!(matches!(
            update(&tx, PlayoutId(999), &moved, &clock()),
            Err(PlayoutError::NotFound)
        ));
    }

    #[test]
    fn delete_and_rebuild_need_the_playout_and_name_its_channel() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let news = channel(&tx, "5");
        let (id, _) = create(&tx, &on(news), &clock()).unwrap();
        let (_, changes) = rebuild(&tx, id, &clock()).unwrap();
        assert!(changes.rebuild.is_empty());
        let changes = delete(&tx, id).unwrap();
        assert!(changes.timelines.contains(news));
        assert!(matches!(delete(&tx, id), Err(PlayoutError::NotFound)));
        assert!(matches!(
            rebuild(&tx, id, &clock()),
            Err(PlayoutError::NotFound)
        ));
    }
}
