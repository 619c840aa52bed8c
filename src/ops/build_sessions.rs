//! Scripted build sessions (`build_sessions`, `build_session_items`): a client opens one on
//! a playout, runs verbs that append items at the session's cursor (`playout::script`, the
//! builder's own primitives, on the playout's inputs loaded with the verb's content), and
//! commits (the buffered items replace the timeline from the session's start, the schedule
//! resumes after them) or cancels. A session expires `SESSION_TTL_MS` after it opened,
//! checked whenever it is read or listed; sessions are rows, so they survive a restart.
//! A refusal is a `BuildError`. It knows no HTTP and no JSON (the anchor's JSON text stays
//! inside this file, between the row and `playout::Anchor`).

use std::fmt;

use rusqlite::{params, OptionalExtension, Row, Transaction};

use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{BuildStatus, FillerKind, GuideMode, PlaybackOrder};
use crate::playout::script::{self, Group, ScriptError, State, Verb};
use crate::playout::{clock, Anchor, ContentKey, ContentKind, Item, Media};
use crate::scheduler::{inputs, timeline, BuildClock};

use super::ids::PlayoutId;

/// A session's life: ErsatzTV's scripted builds run in one go; an hour is ample for a
/// client that scripts verb by verb, and bounds what an abandoned one holds.
pub const SESSION_TTL_MS: i64 = 3_600_000;
/// Items one session may buffer: a fortnight of half-hour programmes with their filler,
/// more than a horizon holds; past it a client commits and opens another.
pub const MAX_SESSION_ITEMS: i64 = 20_000;
/// Finished sessions kept per playout (what `sessions` lists); older ones are deleted,
/// like the schedule history's snapshots, so an abandoned client cannot grow the file.
pub const KEEP_FINISHED_SESSIONS: i64 = 50;

/// One session, as stored (its status already brought up to date).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: i64,
    pub playout_id: PlayoutId,
    pub status: BuildStatus,
    pub start_ms: i64,
    pub cursor_ms: i64,
    pub anchor: Anchor,
    pub watermark_enabled: bool,
    pub graphics_enabled: bool,
    pub pre_roll_enabled: bool,
    pub epg_group_title: Option<String>,
    pub epg_group_opened: bool,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
    pub n_buffered: i64,
}

/// Where a verb's media come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Collection(i64),
    MultiCollection(i64),
    Playlist(i64),
}

impl Source {
    fn key(self) -> ContentKey {
        match self {
            Source::Collection(id) => ContentKey {
                kind: ContentKind::Collection,
                id,
            },
            Source::MultiCollection(id) => ContentKey {
                kind: ContentKind::MultiCollection,
                id,
            },
            Source::Playlist(id) => ContentKey {
                kind: ContentKind::Playlist,
                id,
            },
        }
    }
}

/// `target_time`: an instant, or a local clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Instant(i64),
    /// Its next occurrence at or after the cursor; with `exact`, that day's, even if past.
    Clock(jiff::civil::Time),
}

/// A verb with its references still ids (checked here, resolved to contents).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    AddCount {
        source: Source,
        order: PlaybackOrder,
        count: u32,
    },
    AddDuration {
        source: Source,
        order: PlaybackOrder,
        minutes: u32,
    },
    /// Every item of the content once.
    AddAll {
        source: Source,
        order: PlaybackOrder,
    },
    PadToNext {
        minutes: u32,
        filler: Option<i64>,
    },
    PadUntil {
        target: Target,
        exact: bool,
        filler: Option<i64>,
    },
    WaitUntil {
        target: Target,
        exact: bool,
    },
    SkipItems {
        source: Source,
        order: PlaybackOrder,
        count: u32,
    },
    SkipToItem {
        source: Source,
        order: PlaybackOrder,
        index: u32,
    },
}

/// A switch a session carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Watermark,
    Graphics,
    PreRoll,
}

impl Switch {
    fn column(self) -> &'static str {
        match self {
            Switch::Watermark => "watermark_enabled",
            Switch::Graphics => "graphics_enabled",
            Switch::PreRoll => "pre_roll_enabled",
        }
    }
}

/// Why a session operation was refused.
#[derive(Debug)]
pub enum BuildError {
    PlayoutNotFound,
    SessionNotFound,
    /// A collection or playlist the verb names does not exist (404).
    ContentNotFound(&'static str),
    /// Committed, cancelled or expired: no more verbs (409).
    NotBuilding(BuildStatus),
    /// The playout is inactive: nothing builds on it (409).
    Inactive,
    /// The playout's channel mirrors another: its timeline is a copy (409).
    Mirror,
    /// The session holds `MAX_SESSION_ITEMS` (409).
    Full,
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::PlayoutNotFound => f.write_str("playout not found"),
            BuildError::SessionNotFound => f.write_str("build session not found"),
            BuildError::ContentNotFound(what) => write!(f, "{what} not found"),
            BuildError::NotBuilding(status) => {
                write!(f, "build session is {status}, not building")
            }
            BuildError::Inactive => f.write_str("playout is not active"),
            BuildError::Mirror => {
                f.write_str("this playout's channel mirrors another: script the source channel")
            }
            BuildError::Full => write!(
                f,
                "build session is full ({MAX_SESSION_ITEMS} items): commit it and open another"
            ),
            BuildError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            BuildError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(BuildError);

const COLUMNS: &str = "id, playout_id, status, start_ms, cursor_ms, anchor, watermark_enabled,
    graphics_enabled, pre_roll_enabled, epg_group_title, epg_group_opened, expires_at_ms,
    created_at_ms, (SELECT count(*) FROM build_session_items i
                    WHERE i.session_id = build_sessions.id AND i.filler_kind IS NULL)";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(Session, String)> {
    let status: String = r.get(2)?;
    let session = Session {
        id: r.get(0)?,
        playout_id: r.get(1)?,
        // The column only ever holds `BuildStatus` text (this file writes it).
        status: status.parse().unwrap_or(BuildStatus::Expired),
        start_ms: r.get(3)?,
        cursor_ms: r.get(4)?,
        anchor: Anchor::default(),
        watermark_enabled: r.get(6)?,
        graphics_enabled: r.get(7)?,
        pre_roll_enabled: r.get(8)?,
        epg_group_title: r.get(9)?,
        epg_group_opened: r.get(10)?,
        expires_at_ms: r.get(11)?,
        created_at_ms: r.get(12)?,
        n_buffered: r.get(13)?,
    };
    Ok((session, r.get(5)?))
}

/// Marks the playout's sessions (all, with `None`) whose time is up as expired, and drops
/// what they buffered.
fn expire_due(
    tx: &Transaction<'_>,
    playout: Option<PlayoutId>,
    now_ms: i64,
) -> Result<(), DbError> {
    let n = tx.execute(
        "UPDATE build_sessions SET status = 'expired', updated_at_ms = ?1
         WHERE status = 'building' AND expires_at_ms <= ?1 AND (?2 IS NULL OR playout_id = ?2)",
        params![now_ms, playout],
    )?;
    if n > 0 {
        tx.execute(
            "DELETE FROM build_session_items WHERE session_id IN
                 (SELECT id FROM build_sessions WHERE status = 'expired')",
            [],
        )?;
    }
    Ok(())
}

/// Keeps the newest `KEEP_FINISHED_SESSIONS` finished sessions of the playout.
fn prune(tx: &Transaction<'_>, playout: PlayoutId) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM build_sessions WHERE playout_id = ?1 AND status != 'building' AND id NOT IN
             (SELECT id FROM build_sessions WHERE playout_id = ?1 AND status != 'building'
              ORDER BY id DESC LIMIT ?2)",
        params![playout, KEEP_FINISHED_SESSIONS],
    )?;
    Ok(())
}

fn decode(row: (Session, String)) -> Session {
    let (mut session, anchor) = row;
    session.anchor = serde_json::from_str(&anchor).unwrap_or_else(|err| {
        tracing::warn!(session = session.id, %err, "unreadable build session anchor");
        Anchor::default()
    });
    session
}

/// The session, its expiry applied.
pub fn session(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<Session, BuildError> {
    expire_due(tx, None, now_ms)?;
    let sql = format!("SELECT {COLUMNS} FROM build_sessions WHERE id = ?1");
    let row = tx.query_row(&sql, [id], from_row).optional()?;
    row.map(decode).ok_or(BuildError::SessionNotFound)
}

/// The playout's sessions, newest first, of one status or all.
pub fn list(
    tx: &Transaction<'_>,
    playout: PlayoutId,
    status: Option<BuildStatus>,
    now_ms: i64,
) -> Result<Vec<Session>, BuildError> {
    ensure_playout(tx, playout)?;
    expire_due(tx, Some(playout), now_ms)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM build_sessions WHERE playout_id = ?1 AND (?2 IS NULL OR status = ?2)
         ORDER BY id DESC"
    );
    let mut stmt = tx.prepare(&sql)?;
    let rows = stmt.query_map(params![playout, status.map(|s| s.as_str())], from_row)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(decode(row?));
    }
    Ok(out)
}

fn ensure_playout(tx: &Transaction<'_>, playout: PlayoutId) -> Result<(), BuildError> {
    if crate::db::exists(tx, "playouts", playout.0)? {
        Ok(())
    } else {
        Err(BuildError::PlayoutNotFound)
    }
}

/// Opens a session on the playout, or returns the one open (`true`: newly opened). Its
/// cursor starts after the programme playing now (with its filler), or now.
pub fn start(
    tx: &Transaction<'_>,
    playout: PlayoutId,
    clock: &BuildClock,
) -> Result<(Session, bool), BuildError> {
    ensure_playout(tx, playout)?;
    refuse_mirror(tx, playout)?;
    expire_due(tx, Some(playout), clock.now_ms)?;
    let open: Option<i64> = tx
        .query_row(
            "SELECT id FROM build_sessions WHERE playout_id = ?1 AND status = 'building'
             ORDER BY id DESC LIMIT 1",
            [playout],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = open {
        return Ok((session(tx, id, clock.now_ms)?, false));
    }
    prune(tx, playout)?;
    let (start_ms, anchor) = timeline::resume_point(tx, playout.0, clock.now_ms)?;
    tx.execute(
        "INSERT INTO build_sessions (playout_id, start_ms, cursor_ms, anchor, expires_at_ms,
             created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?5)",
        params![
            playout,
            start_ms,
            anchor_text(&anchor),
            clock.now_ms + SESSION_TTL_MS,
            clock.now_ms
        ],
    )?;
    let id = tx.last_insert_rowid();
    Ok((session(tx, id, clock.now_ms)?, true))
}

fn refuse_mirror(tx: &Transaction<'_>, playout: PlayoutId) -> Result<(), BuildError> {
    use crate::scheduler::mirror::{self, Source as Timeline};
    let Some(channel) = mirror::playout_channel(tx, playout.0)? else {
        return Ok(());
    };
    match mirror::source_of(tx, channel)? {
        Timeline::Generated => Ok(()),
        Timeline::Mirror { .. } => Err(BuildError::Mirror),
    }
}

fn anchor_text(anchor: &Anchor) -> String {
    // Plain data (numbers, a vec of structs, no maps): serialising cannot fail.
    serde_json::to_string(anchor).expect("an Anchor always serialises")
}

/// The session, which must still be building (a verb that writes elsewhere checks it first).
pub fn ensure_building(tx: &Transaction<'_>, id: i64, now_ms: i64) -> Result<Session, BuildError> {
    building(tx, id, None, now_ms)
}

/// The session, which must belong to `playout` (when given) and still be building.
fn building(
    tx: &Transaction<'_>,
    id: i64,
    playout: Option<PlayoutId>,
    now_ms: i64,
) -> Result<Session, BuildError> {
    let session = session(tx, id, now_ms)?;
    if playout.is_some_and(|p| p != session.playout_id) {
        return Err(BuildError::SessionNotFound);
    }
    if session.status != BuildStatus::Building {
        return Err(BuildError::NotBuilding(session.status));
    }
    Ok(session)
}

/// Cancels the session: its items are dropped, the timeline is untouched.
pub fn cancel(
    tx: &Transaction<'_>,
    playout: PlayoutId,
    id: i64,
    now_ms: i64,
) -> Result<Session, BuildError> {
    ensure_playout(tx, playout)?;
    building(tx, id, Some(playout), now_ms)?;
    tx.execute(
        "DELETE FROM build_session_items WHERE session_id = ?1",
        [id],
    )?;
    set_status(tx, id, BuildStatus::Cancelled, now_ms)?;
    session(tx, id, now_ms)
}

fn set_status(
    tx: &Transaction<'_>,
    id: i64,
    status: BuildStatus,
    now_ms: i64,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE build_sessions SET status = ?2, updated_at_ms = ?3 WHERE id = ?1",
        params![id, status.as_str(), now_ms],
    )?;
    Ok(())
}

/// Commits the session: its items replace the playout's timeline from the session's start
/// and the schedule continues after them. Returns the programmes added and the `Changes`
/// (the channel and its mirrors, so the stream follows at once).
pub fn commit(
    tx: &Transaction<'_>,
    playout: PlayoutId,
    id: i64,
    clock: &BuildClock,
) -> Result<(Session, Changes), BuildError> {
    ensure_playout(tx, playout)?;
    let session = building(tx, id, Some(playout), clock.now_ms)?;
    let mut items = buffered(tx, id)?;
    if !items.is_empty() {
        timeline::replace_from(
            tx,
            playout.0,
            session.start_ms,
            &mut items,
            &session.anchor,
            clock.now_ms,
            clock.horizon_ms,
            &clock.tz,
        )?;
    }
    tx.execute(
        "DELETE FROM build_session_items WHERE session_id = ?1",
        [id],
    )?;
    set_status(tx, id, BuildStatus::Committed, clock.now_ms)?;
    let timelines = crate::scheduler::channels_of(tx, playout.0)?;
    let mut committed = session;
    committed.status = BuildStatus::Committed;
    Ok((
        committed,
        Changes::timelines(timelines, "scripted build committed"),
    ))
}

/// The session's buffered items, in order.
fn buffered(tx: &Transaction<'_>, id: i64) -> Result<Vec<Item>, BuildError> {
    let mut stmt = tx.prepare(
        "SELECT media_item_id, title, episode_title, start_ms, finish_ms, in_point_ms,
                filler_kind, custom_title, guide_mode, watermark_off
         FROM build_session_items WHERE session_id = ?1 ORDER BY start_ms, id",
    )?;
    let rows = stmt.query_map([id], |r| {
        let kind: Option<String> = r.get(6)?;
        let guide: String = r.get(8)?;
        Ok(Item {
            media_id: r.get(0)?,
            title: r.get::<_, String>(1)?.into(),
            episode_title: r.get::<_, Option<String>>(2)?.map(Into::into),
            start_ms: r.get(3)?,
            finish_ms: r.get(4)?,
            in_point_ms: r.get(5)?,
            // This file wrote both from the enums: they parse back.
            filler_kind: kind.and_then(|k| k.parse::<FillerKind>().ok()),
            custom_title: r.get::<_, Option<String>>(7)?.map(Into::into),
            guide_mode: guide.parse().unwrap_or(GuideMode::Normal),
            watermark_off: r.get(9)?,
            anchor: None,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Sets one of the session's switches.
pub fn switch(
    tx: &Transaction<'_>,
    id: i64,
    which: Switch,
    on: bool,
    now_ms: i64,
) -> Result<Session, BuildError> {
    building(tx, id, None, now_ms)?;
    let sql = format!(
        "UPDATE build_sessions SET {} = ?2, updated_at_ms = ?3 WHERE id = ?1",
        which.column()
    );
    tx.execute(&sql, params![id, on, now_ms])?;
    session(tx, id, now_ms)
}

/// Opens an EPG group (`Some(title)`: what follows shows as one programme) or closes it.
pub fn epg_group(
    tx: &Transaction<'_>,
    id: i64,
    title: Option<&str>,
    now_ms: i64,
) -> Result<Session, BuildError> {
    building(tx, id, None, now_ms)?;
    tx.execute(
        "UPDATE build_sessions SET epg_group_title = ?2, epg_group_opened = 0, updated_at_ms = ?3
         WHERE id = ?1",
        params![id, title, now_ms],
    )?;
    session(tx, id, now_ms)
}

/// What a verb did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub session: Session,
    /// Programmes this verb added.
    pub n_added: usize,
}

/// Runs one verb at the session's cursor and buffers what it adds.
pub fn apply(
    tx: &Transaction<'_>,
    id: i64,
    step: Step,
    clock: &BuildClock,
) -> Result<Applied, BuildError> {
    let before = building(tx, id, None, clock.now_ms)?;
    let (source, filler) = references(step);
    if let Some(source) = source {
        check_source(tx, source)?;
    }
    if let Some(preset) = filler {
        if !crate::db::exists(tx, "filler_presets", preset)? {
            return Err(BuildError::Invalid {
                field: "filler_preset_id",
                problem: format!("filler preset {preset} does not exist"),
            });
        }
    }
    let n_items: i64 = tx.query_row(
        "SELECT count(*) FROM build_session_items WHERE session_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if n_items >= MAX_SESSION_ITEMS {
        return Err(BuildError::Full);
    }
    let contents: Vec<ContentKey> = source.map(Source::key).into_iter().collect();
    let presets: Vec<i64> = filler.into_iter().collect();
    let loaded = inputs::load_with(tx, before.playout_id.0, &contents, &presets)?
        .ok_or(BuildError::Inactive)?;
    let input = loaded.input(&clock.tz);
    let verb = resolve(step, &before, &input, &clock.tz);
    let state = state_of(&before);
    let outcome = script::run(&input, &state, verb).map_err(|err| match err {
        ScriptError::TargetInPast { cursor_ms, .. } => BuildError::Invalid {
            field: "target_time",
            problem: format!(
                "is before the build cursor ({})",
                crate::time::rfc3339(cursor_ms)
            ),
        },
    })?;
    // The session's watermark switch, as it stands when the items are added.
    insert_items(tx, id, &outcome.items, !before.watermark_enabled)?;
    let group = outcome.state.group.as_ref();
    tx.execute(
        "UPDATE build_sessions SET cursor_ms = ?2, anchor = ?3, epg_group_opened = ?4,
             updated_at_ms = ?5 WHERE id = ?1",
        params![
            id,
            outcome.state.cursor_ms,
            anchor_text(&outcome.state.anchor),
            group.is_some_and(|g| g.opened),
            clock.now_ms
        ],
    )?;
    Ok(Applied {
        session: session(tx, id, clock.now_ms)?,
        n_added: outcome.n_programmes,
    })
}

fn state_of(session: &Session) -> State {
    State {
        anchor: session.anchor.clone(),
        cursor_ms: session.cursor_ms,
        pre_roll: session.pre_roll_enabled,
        group: session.epg_group_title.as_ref().map(|title| Group {
            title: title.into(),
            opened: session.epg_group_opened,
        }),
    }
}

/// The content and the filler preset a step names.
fn references(step: Step) -> (Option<Source>, Option<i64>) {
    match step {
        Step::AddCount { source, .. }
        | Step::AddDuration { source, .. }
        | Step::AddAll { source, .. }
        | Step::SkipItems { source, .. }
        | Step::SkipToItem { source, .. } => (Some(source), None),
        Step::PadToNext { filler, .. } | Step::PadUntil { filler, .. } => (None, filler),
        Step::WaitUntil { .. } => (None, None),
    }
}

fn check_source(tx: &Transaction<'_>, source: Source) -> Result<(), BuildError> {
    let (table, id, what) = match source {
        Source::Collection(id) => ("collections", id, "collection"),
        Source::MultiCollection(id) => ("multi_collections", id, "multi collection"),
        Source::Playlist(id) => ("playlists", id, "playlist"),
    };
    if crate::db::exists(tx, table, id)? {
        Ok(())
    } else {
        Err(BuildError::ContentNotFound(what))
    }
}

/// `target_time` as an instant: "HH:MM" is its next occurrence at or after the cursor, or
/// with `exact` that day's (which may be past: the verb refuses it).
fn target_ms(target: Target, exact: bool, cursor_ms: i64, tz: &jiff::tz::TimeZone) -> i64 {
    match target {
        Target::Instant(ms) => ms,
        Target::Clock(time) if exact => clock::occurrence_today(cursor_ms, time, tz),
        Target::Clock(time) => clock::next_occurrence(cursor_ms, time, tz),
    }
}

/// The step as the pure script's verb: contents by key, targets as instants.
fn resolve(
    step: Step,
    session: &Session,
    input: &crate::playout::Input<'_>,
    tz: &jiff::tz::TimeZone,
) -> Verb {
    let at = |target: Target, exact: bool| target_ms(target, exact, session.cursor_ms, tz);
    match step {
        Step::AddCount {
            source,
            order,
            count,
        } => Verb::AddCount {
            content: source.key(),
            order,
            count,
        },
        Step::AddAll { source, order } => Verb::AddCount {
            content: source.key(),
            order,
            count: input.library.content(source.key()).len() as u32,
        },
        Step::AddDuration {
            source,
            order,
            minutes,
        } => Verb::AddDuration {
            content: source.key(),
            order,
            duration_ms: i64::from(minutes) * 60_000,
        },
        Step::PadToNext { minutes, filler } => Verb::PadToNext { minutes, filler },
        Step::PadUntil {
            target,
            exact,
            filler,
        } => Verb::PadUntil {
            target_ms: at(target, exact),
            filler,
        },
        Step::WaitUntil { target, exact } => Verb::WaitUntil {
            target_ms: at(target, exact),
        },
        Step::SkipItems {
            source,
            order,
            count,
        } => Verb::Skip {
            content: source.key(),
            order,
            count,
        },
        Step::SkipToItem {
            source,
            order,
            index,
        } => Verb::SkipTo {
            content: source.key(),
            order,
            index,
        },
    }
}

fn insert_items(
    tx: &Transaction<'_>,
    id: i64,
    items: &[Item],
    watermark_off: bool,
) -> Result<(), DbError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO build_session_items (session_id, media_item_id, title, episode_title,
             start_ms, finish_ms, in_point_ms, filler_kind, custom_title, guide_mode,
             watermark_off)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for item in items {
        stmt.execute(params![
            id,
            item.media_id,
            item.title.as_str(),
            item.episode_title.as_deref(),
            item.start_ms,
            item.finish_ms,
            item.in_point_ms,
            item.filler_kind.map(|k| k.as_str()),
            item.custom_title.as_deref(),
            item.guide_mode.as_str(),
            item.watermark_off || watermark_off,
        ])?;
    }
    Ok(())
}

/// The media `source` would play next in `order`, the session untouched.
pub fn peek(
    tx: &Transaction<'_>,
    id: i64,
    source: Source,
    order: PlaybackOrder,
    clock: &BuildClock,
) -> Result<Option<Media>, BuildError> {
    let session = session(tx, id, clock.now_ms)?;
    check_source(tx, source)?;
    let loaded = inputs::load_with(tx, session.playout_id.0, &[source.key()], &[])?
        .ok_or(BuildError::Inactive)?;
    let input = loaded.input(&clock.tz);
    Ok(script::peek(&input, &state_of(&session), source.key(), order).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-05T20:00:00Z.
    const T0: i64 = 1_767_643_200_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_clock_target_is_its_next_occurrence_or_with_exact_that_days() {
        let tz = jiff::tz::TimeZone::UTC;
        let at = |text: &str, exact| {
            let time = clock::parse_time(text).unwrap();
            target_ms(Target::Clock(time), exact, T0, &tz)
        };
        assert_eq!(at("21:00", false), T0 + HOUR);
        assert_eq!(at("21:00", true), T0 + HOUR);
        assert_eq!(at("19:00", false), T0 + 23 * HOUR, "tomorrow's");
        assert_eq!(
            at("19:00", true),
            T0 - HOUR,
            "today's, past: refused by the verb"
        );
        assert_eq!(at("20:00", false), T0, "now is the next occurrence");
        assert_eq!(target_ms(Target::Instant(5), false, T0, &tz), 5);
    }
}
