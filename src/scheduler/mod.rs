//! The scheduler keeps every channel's timeline built: it loads schedules and collections
//! from SQLite (`inputs`), runs the pure `playout` builder, persists the items for the
//! horizon (`timeline`), and extends them in the background (`run_horizon`). Readers (the
//! stream feeder, the guide) go through `cursor`.
//!
//! Every write that can alter a timeline (schedule, channel filler, collection, media)
//! names the playouts to rebuild in its `Changes` (`playouts_of_schedule`,
//! `playouts_of_channel`, or `Rebuild::All`), which `App::apply` hands to `rebuild` after the
//! commit; a write that must commit with its timeline calls `rebuild_in` inside its own
//! transaction. A rebuild runs from now on and keeps the item playing now, so a viewer never
//! sees the current programme cut, and reports the channels whose stored timeline changed
//! (`changes::Timelines`, the channel and its mirrors), which `App::apply` hands to the
//! running channels so the stream follows the new timeline at once.

pub mod cursor;
pub mod inputs;
pub mod mirror;
pub mod timeline;

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::changes::{Changes, Rebuild, Timelines};
use crate::db::{Db, DbError};
use crate::ops::ids::{ChannelId, PlayoutId, ScheduleId};
use crate::settings::Settings;
use crate::time::{now_ms, UnixMs};

pub use timeline::{Outcome, Skipped};

/// How often the horizon task looks for timelines to extend and items to retire. Extending
/// happens in chunks (`timeline::EXTEND_SLACK_MS`), so checking often costs a query only.
const HORIZON_CHECK_INTERVAL: Duration = Duration::from_secs(10 * 60);

const DAY_MS: i64 = 86_400_000;

/// The horizon the settings ask for (`playout.days_to_build`, at least one day).
pub fn horizon_ms(settings: &Settings) -> i64 {
    i64::from(settings.playout.days_to_build.max(1)) * DAY_MS
}

/// The configured zone; an unknown name (validation refuses it, but an old database may hold
/// one) falls back to UTC with a warning.
pub fn time_zone(settings: &Settings) -> jiff::tz::TimeZone {
    match crate::time::zone(&settings.playout.time_zone) {
        Some(tz) => tz,
        None => {
            tracing::warn!(zone = %settings.playout.time_zone, "unknown time zone; using UTC");
            jiff::tz::TimeZone::UTC
        }
    }
}

/// What a build needs besides the database: the instant it builds from, and the settings'
/// horizon and zone.
pub struct BuildClock {
    pub now_ms: UnixMs,
    pub horizon_ms: i64,
    pub tz: jiff::tz::TimeZone,
}

impl BuildClock {
    pub fn now(settings: &Settings) -> BuildClock {
        BuildClock {
            now_ms: now_ms(),
            horizon_ms: horizon_ms(settings),
            tz: time_zone(settings),
        }
    }
}

/// Rebuilds one playout from now inside the caller's transaction (so a route that creates
/// or edits a playout commits it with its timeline: no client sees one without the other).
/// Returns what it did and the channels whose stored timeline changed.
pub fn rebuild_in(
    tx: &rusqlite::Transaction<'_>,
    playout_id: i64,
    clock: &BuildClock,
) -> Result<(Outcome, Timelines), DbError> {
    let outcome = timeline::rebuild_in(tx, playout_id, clock.now_ms, clock.horizon_ms, &clock.tz)?;
    let timelines = if outcome.n_written > 0 {
        channels_of(tx, playout_id)?
    } else {
        Timelines::Empty
    };
    Ok((outcome, timelines))
}

/// The channel that plays `playout_id` and every mirror that follows it: the timelines a
/// write to that playout's items changes.
pub fn channels_of(conn: &rusqlite::Connection, playout_id: i64) -> Result<Timelines, DbError> {
    let mut timelines = Timelines::Empty;
    if let Some(channel_id) = mirror::playout_channel(conn, playout_id)? {
        timelines.add(ChannelId(channel_id));
        for mirror_id in mirror::mirrors_of(conn, channel_id)? {
            timelines.add(ChannelId(mirror_id));
        }
    }
    Ok(timelines)
}

/// Rebuilds one playout in a transaction of its own.
fn rebuild_one(
    conn: &mut rusqlite::Connection,
    playout_id: i64,
    clock: &BuildClock,
) -> Result<(Outcome, Timelines), DbError> {
    let tx = conn.transaction()?;
    let done = rebuild_in(&tx, playout_id, clock)?;
    tx.commit()?;
    Ok(done)
}

fn active_playouts(conn: &rusqlite::Connection) -> Result<Vec<i64>, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM playouts WHERE is_active = 1 ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<i64>, _>>()?)
}

/// Builds (or extends) every active playout up to the horizon and retires finished items.
/// Blocking: for start-up, before the listener opens, so the first request already finds a
/// timeline. It is the horizon task's first pass (`run_horizon` waits an interval first).
pub fn build_all_blocking(db: &Db, settings: &Settings) -> Result<usize, DbError> {
    let horizon = horizon_ms(settings);
    let tz = time_zone(settings);
    db.write_blocking(move |conn| horizon_pass(conn, now_ms(), horizon, &tz))
}

/// One pass of the horizon task: every timeline extended to `now + horizon`, finished items
/// retired. Returns how many rows it wrote or retired.
fn horizon_pass(
    conn: &mut rusqlite::Connection,
    now: UnixMs,
    horizon: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<usize, DbError> {
    let n_written = extend_all(conn, now, horizon, tz)?;
    Ok(n_written + timeline::retire_finished(conn, now)?)
}

fn extend_all(
    conn: &mut rusqlite::Connection,
    now: UnixMs,
    horizon: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<usize, DbError> {
    let mut n_written = mirror::ensure_all_playouts(conn, now)?;
    for playout_id in active_playouts(conn)? {
        n_written += timeline::extend(conn, playout_id, now, horizon, tz)?.n_written;
    }
    Ok(n_written)
}

/// The active playouts of the channels whose schedule is `schedule_id`: what a schedule
/// edit asks `App::apply` to rebuild.
pub fn playouts_of_schedule(
    conn: &rusqlite::Connection,
    schedule_id: ScheduleId,
) -> Result<Rebuild, DbError> {
    playouts_where(
        conn,
        "SELECT id FROM playouts WHERE program_schedule_id = ?1 AND is_active = 1",
        schedule_id.0,
    )
}

/// The active playouts of one channel (its filler changed, it was created or edited).
pub fn playouts_of_channel(
    conn: &rusqlite::Connection,
    channel_id: ChannelId,
) -> Result<Rebuild, DbError> {
    playouts_where(
        conn,
        "SELECT id FROM playouts WHERE channel_id = ?1 AND is_active = 1",
        channel_id.0,
    )
}

fn playouts_where(conn: &rusqlite::Connection, sql: &str, id: i64) -> Result<Rebuild, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    let mut out = Rebuild::Empty;
    for playout_id in rows {
        out.add(PlayoutId(playout_id?));
    }
    Ok(out)
}

/// Rebuilds what `rebuild` names from now, one transaction per playout (a rebuild of 100
/// channels never holds the writer for long). Returns the timelines that changed. Called
/// by `App::apply` only: writers describe the rebuild in their `Changes`.
pub async fn rebuild(app: &Arc<App>, rebuild: &Rebuild) -> Result<Timelines, DbError> {
    let ids: Vec<i64> = match rebuild {
        Rebuild::Empty => return Ok(Timelines::Empty),
        Rebuild::Of(ids) => ids.iter().map(|p| p.0).collect(),
        Rebuild::All => {
            app.db
                .write(|conn| {
                    mirror::ensure_all_playouts(conn, now_ms())?;
                    active_playouts(conn)
                })
                .await?
        }
    };
    let settings = app.settings();
    let mut changed = Timelines::Empty;
    for playout_id in ids {
        let clock = BuildClock::now(&settings);
        let (_, timelines) = app
            .db
            .write(move |conn| rebuild_one(conn, playout_id, &clock))
            .await?;
        changed.merge(timelines);
    }
    Ok(changed)
}

/// Ends the current item of the playout now; later items move earlier.
pub async fn skip(app: &Arc<App>, playout_id: i64) -> Result<Option<Skipped>, DbError> {
    let settings = app.settings();
    let (horizon, tz) = (horizon_ms(&settings), time_zone(&settings));
    let (skipped, timelines) = app
        .db
        .write(move |conn| {
            let skipped = timeline::skip(conn, playout_id, now_ms(), horizon, &tz)?;
            let timelines = match skipped {
                Some(_) => channels_of(conn, playout_id)?,
                None => Timelines::Empty,
            };
            Ok((skipped, timelines))
        })
        .await?;
    app.apply(Changes::timelines(timelines, "skip")).await;
    Ok(skipped)
}

/// The background task: extends every timeline to the horizon and retires finished items,
/// every `HORIZON_CHECK_INTERVAL` until shutdown. Start-up already made the first pass
/// (`build_all_blocking`), so this one waits an interval first: a pass right at start would
/// redo that work, and would change the guide at a moment nobody chose.
pub async fn run_horizon(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HORIZON_CHECK_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        if app.is_shutting_down() {
            return;
        }
        let settings = app.settings();
        let (horizon, tz) = (horizon_ms(&settings), time_zone(&settings));
        let result = app
            .db
            .write(move |conn| horizon_pass(conn, now_ms(), horizon, &tz))
            .await;
        match result {
            Ok(0) => {}
            Ok(n_changed) => {
                tracing::debug!(n_changed, "playout horizon extended");
                // Extensions append far ahead and retiring removes finished items, so no
                // running channel's programme changes; they re-read anyway (a timeline that
                // had run out, after the server was off, gets its programmes back here).
                app.apply(Changes::timelines(Timelines::All, "horizon"))
                    .await;
            }
            Err(DbError::Closed) => return,
            Err(err) => tracing::warn!(%err, "could not extend the playout horizon"),
        }
    }
}

#[cfg(test)]
mod tests;
