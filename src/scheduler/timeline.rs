//! The persisted timeline of one playout: rebuild from now (keeping what plays now), extend
//! to the horizon, skip, and retire finished items into the history. Each function is one
//! write transaction on the DB writer thread, so a concurrent edit can never interleave
//! with a rebuild (no lost update) and readers see the old or the new timeline, never half.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::db::DbError;
use crate::kinds::HistoryStatus;
use crate::playout::{self, Anchor, Input, Item};

use super::inputs;
use super::mirror::{self, Source};

/// Extending waits until the built timeline is this much shorter than the horizon, so the
/// background task writes in chunks of hours rather than a few rows every check (SD card).
pub const EXTEND_SLACK_MS: i64 = 6 * 3_600_000;
/// Finished items stay on the timeline this long (history, "what was on") before they move
/// to `playout_history`.
pub const KEEP_FINISHED_MS: i64 = 24 * 3_600_000;
/// `playout_history` rows kept per playout: a week of half-hour programmes with filler.
pub const MAX_HISTORY_ROWS: i64 = 2_000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Items written (0 when the timeline was already right).
    pub n_written: usize,
    /// Items from now to the end of the horizon after the rebuild.
    pub n_ahead: usize,
}

/// Where a build resumes: an instant and the builder state there.
struct Resume {
    at_ms: i64,
    anchor: Anchor,
}

/// Rebuilds the playout from now: the unit playing now (up to its anchored item) is kept,
/// everything after it is built again up to `now + horizon`. Writes only what changed.
pub fn rebuild(
    conn: &mut Connection,
    playout_id: i64,
    now_ms: i64,
    horizon_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<Outcome, DbError> {
    let tx = conn.transaction()?;
    let outcome = rebuild_in(&tx, playout_id, now_ms, horizon_ms, tz)?;
    tx.commit()?;
    Ok(outcome)
}

pub fn rebuild_in(
    tx: &Transaction<'_>,
    playout_id: i64,
    now_ms: i64,
    horizon_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<Outcome, DbError> {
    let Some(channel_id) = mirror::playout_channel(tx, playout_id)? else {
        return Ok(Outcome::default());
    };
    if let Source::Mirror { .. } = mirror::source_of(tx, channel_id)? {
        // A mirror's timeline is its root's, copied: nothing to build (and nothing for a
        // playout the channel does not play).
        if mirror::active_playout(tx, channel_id)? != Some(playout_id) {
            return Ok(Outcome::default());
        }
        let n_written = mirror::sync(tx, playout_id, channel_id, now_ms)?;
        let n_written = n_written + mirror::sync_mirrors_of(tx, channel_id, now_ms)?;
        return Ok(Outcome {
            n_written,
            n_ahead: n_ahead(tx, playout_id, now_ms)?,
        });
    }
    let Some(inputs) = inputs::load(tx, playout_id)? else {
        return Ok(Outcome::default());
    };
    let resume = resume_after_current(tx, playout_id, now_ms)?;
    let until_ms = now_ms + horizon_ms + mirror::lead_ms(tx, channel_id)?;
    let mut outcome = write_build(tx, playout_id, &inputs, resume, until_ms, tz, now_ms)?;
    outcome.n_written += mirror::sync_mirrors_of(tx, channel_id, now_ms)?;
    Ok(outcome)
}

fn n_ahead(tx: &Transaction<'_>, playout_id: i64, now_ms: i64) -> Result<usize, DbError> {
    let n: i64 = tx.query_row(
        "SELECT count(*) FROM playout_items WHERE playout_id = ?1 AND finish_ms > ?2",
        params![playout_id, now_ms],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// Extends the timeline to `now + horizon` when it is more than `EXTEND_SLACK_MS` short.
/// A playout with no items at all is built from now.
pub fn extend(
    conn: &mut Connection,
    playout_id: i64,
    now_ms: i64,
    horizon_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<Outcome, DbError> {
    let tx = conn.transaction()?;
    let outcome = extend_in(&tx, playout_id, now_ms, horizon_ms, tz)?;
    tx.commit()?;
    Ok(outcome)
}

/// `extend` inside the caller's transaction.
pub fn extend_in(
    tx: &Transaction<'_>,
    playout_id: i64,
    now_ms: i64,
    horizon_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<Outcome, DbError> {
    let Some(channel_id) = mirror::playout_channel(tx, playout_id)? else {
        return Ok(Outcome::default());
    };
    if let Source::Mirror { .. } = mirror::source_of(tx, channel_id)? {
        // Kept in step with its root (a diff: usually nothing to write).
        if mirror::active_playout(tx, channel_id)? != Some(playout_id) {
            return Ok(Outcome::default());
        }
        let n_written = mirror::sync(tx, playout_id, channel_id, now_ms)?;
        return Ok(Outcome {
            n_written,
            n_ahead: n_ahead(tx, playout_id, now_ms)?,
        });
    }
    let horizon_ms = horizon_ms + mirror::lead_ms(tx, channel_id)?;
    let last: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT finish_ms, anchor FROM playout_items WHERE playout_id = ?1
             ORDER BY start_ms DESC LIMIT 1",
            [playout_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let until_ms = now_ms + horizon_ms;
    let resume = match last {
        Some((finish_ms, _)) if finish_ms >= until_ms - EXTEND_SLACK_MS.min(horizon_ms / 2) => {
            return Ok(Outcome::default());
        }
        // Items ahead: continue after the last one (never from now, which would overlap).
        Some((finish_ms, anchor)) if finish_ms > now_ms => Resume {
            at_ms: finish_ms,
            anchor: match anchor {
                Some(text) => parse_anchor(Some(&text)),
                None => last_anchor_before(tx, playout_id, finish_ms)?,
            },
        },
        // Nothing ahead (first build, or the server was off past the end): from now, with
        // the state the last build ended in.
        _ => Resume {
            at_ms: now_ms,
            anchor: last_anchor_before(tx, playout_id, i64::MAX)?,
        },
    };
    let Some(inputs) = inputs::load(tx, playout_id)? else {
        return Ok(Outcome::default());
    };
    let mut outcome = write_build(tx, playout_id, &inputs, resume, until_ms, tz, now_ms)?;
    if outcome.n_written > 0 {
        outcome.n_written += mirror::sync_mirrors_of(tx, channel_id, now_ms)?;
    }
    Ok(outcome)
}

/// Where a scripted build starts: after the step playing at `now_ms` (or at `now_ms` when
/// nothing plays), with the builder's state there.
pub fn resume_point(
    tx: &Transaction<'_>,
    playout_id: i64,
    now_ms: i64,
) -> Result<(i64, Anchor), DbError> {
    let offline_now: Option<bool> = tx
        .query_row(
            "SELECT media_item_id IS NULL FROM playout_items
             WHERE playout_id = ?1 AND start_ms <= ?2 AND finish_ms > ?2",
            params![playout_id, now_ms],
            |r| r.get(0),
        )
        .optional()?;
    if offline_now == Some(true) {
        // The slate is no programme: a script replaces it from now.
        return Ok((now_ms, last_anchor_before(tx, playout_id, now_ms)?));
    }
    let resume = resume_after_current(tx, playout_id, now_ms)?;
    Ok((resume.at_ms, resume.anchor))
}

/// Replaces the timeline from `from_ms` with `items` (a committed scripted build; the last
/// carries `anchor`, so a rebuild keeps them whole and the schedule resumes after them with
/// the script's cursors), then extends it to the horizon.
#[allow(clippy::too_many_arguments)]
pub fn replace_from(
    tx: &Transaction<'_>,
    playout_id: i64,
    from_ms: i64,
    items: &mut [Item],
    anchor: &Anchor,
    now_ms: i64,
    horizon_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<usize, DbError> {
    tx.execute(
        "DELETE FROM playout_items WHERE playout_id = ?1 AND start_ms >= ?2",
        params![playout_id, from_ms],
    )?;
    // What runs across the start (the slate a script replaces from now) ends there.
    tx.execute(
        "UPDATE playout_items SET finish_ms = ?2
         WHERE playout_id = ?1 AND start_ms < ?2 AND finish_ms > ?2",
        params![playout_id, from_ms],
    )?;
    if let Some(last) = items.last_mut() {
        last.anchor = Some(Box::new(anchor.clone()));
    }
    let n_written = insert_items(tx, playout_id, items)?;
    let extended = extend_in(tx, playout_id, now_ms, horizon_ms, tz)?;
    if extended.n_written == 0 {
        // `extend_in` syncs the mirrors only when it wrote.
        if let Some(channel_id) = mirror::playout_channel(tx, playout_id)? {
            mirror::sync_mirrors_of(tx, channel_id, now_ms)?;
        }
    }
    Ok(n_written)
}

/// Keeps the item playing at `now_ms` and the rest of its step (up to the first item that
/// carries an anchor); the build resumes after it.
fn resume_after_current(
    tx: &Transaction<'_>,
    playout_id: i64,
    now_ms: i64,
) -> Result<Resume, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT start_ms, finish_ms, anchor FROM playout_items
         WHERE playout_id = ?1 AND finish_ms > ?2 ORDER BY start_ms",
    )?;
    let mut rows = stmt.query(params![playout_id, now_ms])?;
    let mut last_finish_ms = None;
    while let Some(row) = rows.next()? {
        let start_ms: i64 = row.get(0)?;
        if last_finish_ms.is_none() && start_ms > now_ms {
            // Nothing plays now (a hole): everything ahead is rebuilt from now.
            break;
        }
        let finish_ms: i64 = row.get(1)?;
        last_finish_ms = Some(finish_ms);
        let anchor: Option<String> = row.get(2)?;
        if anchor.is_some() {
            return Ok(Resume {
                at_ms: finish_ms,
                anchor: parse_anchor(anchor.as_deref()),
            });
        }
    }
    drop(rows);
    if let Some(at_ms) = last_finish_ms {
        // The stored timeline ends mid-step (it should not): keep all of it.
        return Ok(Resume {
            at_ms,
            anchor: last_anchor_before(tx, playout_id, at_ms)?,
        });
    }
    Ok(Resume {
        at_ms: now_ms,
        anchor: last_anchor_before(tx, playout_id, now_ms)?,
    })
}

/// The anchor of the latest anchored item finishing at or before `before_ms`.
fn last_anchor_before(
    tx: &Transaction<'_>,
    playout_id: i64,
    before_ms: i64,
) -> Result<Anchor, DbError> {
    let text: Option<String> = tx
        .query_row(
            "SELECT anchor FROM playout_items
             WHERE playout_id = ?1 AND anchor IS NOT NULL AND finish_ms <= ?2
             ORDER BY finish_ms DESC LIMIT 1",
            params![playout_id, before_ms],
            |r| r.get(0),
        )
        .optional()?;
    match text {
        Some(text) => Ok(parse_anchor(Some(&text))),
        None => {
            let stored: Option<Option<String>> = tx
                .query_row(
                    "SELECT anchor FROM playouts WHERE id = ?1",
                    [playout_id],
                    |r| r.get(0),
                )
                .optional()?;
            let state = stored.flatten().and_then(|text| {
                serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| serde_json::from_value::<Anchor>(v.get("state")?.clone()).ok())
            });
            Ok(state.unwrap_or_default())
        }
    }
}

fn parse_anchor(text: Option<&str>) -> Anchor {
    match text.map(serde_json::from_str::<Anchor>) {
        Some(Ok(anchor)) => anchor,
        Some(Err(err)) => {
            tracing::warn!(%err, "unreadable playout anchor; starting the schedule over");
            Anchor::default()
        }
        None => Anchor::default(),
    }
}

/// Builds from `resume` to `until_ms` and replaces the stored items from `resume.at_ms` on,
/// unless they are already the same (a no-op rebuild writes nothing but the new tail).
fn write_build(
    tx: &Transaction<'_>,
    playout_id: i64,
    inputs: &inputs::PlayoutInputs,
    resume: Resume,
    until_ms: i64,
    tz: &jiff::tz::TimeZone,
    now_ms: i64,
) -> Result<Outcome, DbError> {
    let input = Input {
        library: &inputs.library,
        slots: &inputs.slots,
        presets: &inputs.presets,
        channel_fillers: inputs.channel_fillers,
        seed: inputs.seed,
        random_start_point: inputs.random_start_point,
        shuffle_slots: inputs.shuffle_slots,
        keep_multi_part: inputs.keep_multi_part,
        daily_reset: inputs.daily_reset,
        time_zone: tz,
        blocks: &inputs.blocks,
        deco: &inputs.deco,
    };
    let built = playout::build(&input, resume.anchor, resume.at_ms, until_ms);
    let old = stored_from(tx, playout_id, resume.at_ms)?;
    let n_same = old
        .iter()
        .zip(&built.items)
        .take_while(|(stored, item)| stored.matches(item))
        .count();
    let n_written = if n_same == old.len() {
        // The stored items are a prefix of the new build: append the rest.
        insert_items(tx, playout_id, &built.items[n_same..])?
    } else {
        tx.execute(
            "DELETE FROM playout_items WHERE playout_id = ?1 AND start_ms >= ?2",
            params![playout_id, resume.at_ms],
        )?;
        insert_items(tx, playout_id, &built.items)?
    };
    if n_written > 0 {
        let anchor = serde_json::json!({
            "next_start": crate::time::rfc3339(built.items.last().map_or(resume.at_ms, |i| i.finish_ms)),
            "state": built.anchor,
        });
        tx.execute(
            "UPDATE playouts SET anchor = ?2, updated_at_ms = ?3 WHERE id = ?1",
            params![playout_id, anchor.to_string(), now_ms],
        )?;
    }
    Ok(Outcome {
        n_written,
        n_ahead: n_ahead(tx, playout_id, now_ms)?,
    })
}

struct Stored {
    media_id: Option<i64>,
    start_ms: i64,
    finish_ms: i64,
    in_point_ms: i64,
    filler_kind: Option<String>,
    title: String,
    anchor: Option<String>,
    watermark_off: bool,
}

impl Stored {
    fn matches(&self, item: &Item) -> bool {
        self.media_id == item.media_id
            && self.start_ms == item.start_ms
            && self.finish_ms == item.finish_ms
            && self.in_point_ms == item.in_point_ms
            && self.filler_kind.as_deref() == item.filler_kind.map(|k| k.as_str())
            && self.title == item.title.as_str()
            && self.anchor == anchor_text(item)
            && self.watermark_off == item.watermark_off
    }
}

fn anchor_text(item: &Item) -> Option<String> {
    item.anchor
        .as_ref()
        .and_then(|a| serde_json::to_string(a).ok())
}

fn stored_from(
    tx: &Transaction<'_>,
    playout_id: i64,
    from_ms: i64,
) -> Result<Vec<Stored>, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT media_item_id, start_ms, finish_ms, in_point_ms, filler_kind, title, anchor,
             watermark_off
         FROM playout_items WHERE playout_id = ?1 AND start_ms >= ?2 ORDER BY start_ms",
    )?;
    let rows = stmt.query_map(params![playout_id, from_ms], |r| {
        Ok(Stored {
            media_id: r.get(0)?,
            start_ms: r.get(1)?,
            finish_ms: r.get(2)?,
            in_point_ms: r.get(3)?,
            filler_kind: r.get(4)?,
            title: r.get(5)?,
            anchor: r.get(6)?,
            watermark_off: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn insert_items(tx: &Transaction<'_>, playout_id: i64, items: &[Item]) -> Result<usize, DbError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO playout_items (playout_id, media_item_id, source_url, title, episode_title,
             start_ms, finish_ms, in_point_ms, filler_kind, custom_title, guide_mode, anchor,
             watermark_off)
         VALUES (?1, ?2, (SELECT url FROM media_items WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9,
             ?10, ?11, ?12)",
    )?;
    for item in items {
        stmt.execute(params![
            playout_id,
            item.media_id,
            item.title.as_str(),
            item.episode_title.as_deref(),
            item.start_ms,
            item.finish_ms,
            item.in_point_ms,
            item.filler_kind.map(|k| k.as_str()),
            item.custom_title.as_deref(),
            item.guide_mode.as_str(),
            anchor_text(item),
            item.watermark_off,
        ])?;
    }
    Ok(items.len())
}

/// What `skip` ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub item_id: i64,
    pub title: String,
    /// How much earlier everything after it now starts.
    pub shift_ms: i64,
}

/// Ends the item playing at `now_ms` now and moves every later item earlier by the time cut,
/// then tops the horizon up. The stream and the guide read the same rows, so both follow.
pub fn skip(
    conn: &mut Connection,
    playout_id: i64,
    now_ms: i64,
    horizon_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<Option<Skipped>, DbError> {
    let tx = conn.transaction()?;
    type Current = (i64, String, i64, i64, Option<i64>, Option<String>);
    let current: Option<Current> = tx
        .query_row(
            "SELECT id, title, start_ms, finish_ms, media_item_id, source_url FROM playout_items
             WHERE playout_id = ?1 AND start_ms <= ?2 AND finish_ms > ?2
             ORDER BY start_ms DESC LIMIT 1",
            params![playout_id, now_ms],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((item_id, title, start_ms, finish_ms, media_id, source_url)) = current else {
        return Ok(None);
    };
    // finish > start always (schema CHECK): an item skipped in its first millisecond keeps one.
    let new_finish = now_ms.max(start_ms + 1);
    let shift_ms = finish_ms - new_finish;
    tx.execute(
        "UPDATE playout_items SET finish_ms = ?2 WHERE id = ?1",
        params![item_id, new_finish],
    )?;
    tx.execute(
        "UPDATE playout_items SET start_ms = start_ms - ?3, finish_ms = finish_ms - ?3
         WHERE playout_id = ?1 AND start_ms >= ?2 AND id != ?4",
        params![playout_id, finish_ms, shift_ms, item_id],
    )?;
    tx.execute(
        "INSERT INTO playout_history (playout_id, media_item_id, title, source_url,
             started_at_ms, finished_at_ms, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            playout_id,
            media_id,
            title,
            source_url,
            start_ms,
            new_finish,
            HistoryStatus::Skipped.as_str()
        ],
    )?;
    if let Some(channel_id) = mirror::playout_channel(&tx, playout_id)? {
        mirror::sync_mirrors_of(&tx, channel_id, now_ms)?;
    }
    tx.commit()?;
    extend(conn, playout_id, now_ms, horizon_ms, tz)?;
    Ok(Some(Skipped {
        item_id,
        title,
        shift_ms,
    }))
}

/// Moves items that finished before `now - KEEP_FINISHED_MS` into `playout_history` and
/// bounds the history to `MAX_HISTORY_ROWS` per playout.
pub fn retire_finished(conn: &mut Connection, now_ms: i64) -> Result<usize, DbError> {
    let tx = conn.transaction()?;
    let cutoff = now_ms - KEEP_FINISHED_MS;
    tx.execute(
        "INSERT INTO playout_history (playout_id, media_item_id, title, source_url,
             started_at_ms, finished_at_ms, status)
         SELECT playout_id, media_item_id, title, source_url, start_ms, finish_ms, ?2
         FROM playout_items WHERE finish_ms <= ?1",
        params![cutoff, HistoryStatus::Played.as_str()],
    )?;
    let n = tx.execute("DELETE FROM playout_items WHERE finish_ms <= ?1", [cutoff])?;
    tx.execute(
        "DELETE FROM playout_history WHERE id IN (
             SELECT id FROM (
                 SELECT id, row_number() OVER (PARTITION BY playout_id ORDER BY started_at_ms DESC, id DESC) AS n
                 FROM playout_history) WHERE n > ?1)",
        [MAX_HISTORY_ROWS],
    )?;
    tx.commit()?;
    Ok(n)
}
