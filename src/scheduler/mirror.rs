//! Mirror channels (`channels.playout_source = 'mirror'`): a mirror plays exactly what its
//! source channel plays, shifted by `playout_offset` seconds (0 = simultaneous, positive =
//! delayed, negative = ahead). A mirror of a mirror follows the root, the offsets adding up.
//!
//! "One truth" without special cases: a mirror has its own playout whose items are copies of
//! the root's items, shifted. The guide and the stream read them like any other timeline.
//! `timeline` calls `sync` wherever a root's items change (rebuild, extend, skip) and for a
//! mirror's own rebuild (its settings changed). Writes are diffs: an unchanged timeline
//! writes nothing. This module knows SQL and the timeline table; it must not know HTTP.

use rusqlite::{params, Connection, OptionalExtension};

use crate::db::DbError;
use crate::kinds::PlayoutSource;

/// The longest mirror chain followed (a mirror of a mirror of ...). The API refuses longer
/// chains and cycles; the bound also stops a cycle that reached the database some other way.
pub const MAX_MIRROR_DEPTH: usize = 8;
/// Mirrors of one channel (all levels) that a sync visits: far more than any real lineup
/// has, and it bounds the walk.
pub const MAX_MIRRORS_PER_SOURCE: usize = 1_000;

/// What a channel's timeline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its own schedule, through the builder.
    Generated,
    /// The root channel's timeline shifted by `offset_ms`; `root: None` when the chain is
    /// broken (no source set, or a cycle): the mirror plays the slate.
    Mirror { root: Option<i64>, offset_ms: i64 },
}

/// One channel's mirror settings: `None` when it is not a mirror.
fn mirror_settings(conn: &Connection, channel_id: i64) -> Result<Option<Link>, DbError> {
    let row: Option<(String, Option<i64>, Option<i64>)> = conn
        .query_row(
            "SELECT playout_source, mirror_source_channel_id, playout_offset
             FROM channels WHERE id = ?1",
            [channel_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((text, source, offset_s)) = row else {
        return Ok(None);
    };
    let kind = text.parse::<PlayoutSource>().unwrap_or_else(|err| {
        // The API and the importer refuse such a value; one written by hand keeps the
        // column's default (the channel builds its own timeline), and the log says so.
        tracing::warn!(
            channel = channel_id,
            %err,
            "playout_source unreadable; treated as generated"
        );
        PlayoutSource::Generated
    });
    Ok(match kind {
        PlayoutSource::Mirror => Some(Link {
            source,
            offset_ms: offset_s.unwrap_or(0) * 1000,
        }),
        PlayoutSource::Generated => None,
    })
}

struct Link {
    source: Option<i64>,
    offset_ms: i64,
}

/// Follows the chain from `channel_id` to the first channel that generates its own timeline.
pub fn source_of(conn: &Connection, channel_id: i64) -> Result<Source, DbError> {
    let Some(first) = mirror_settings(conn, channel_id)? else {
        return Ok(Source::Generated);
    };
    let mut offset_ms = first.offset_ms;
    let mut next = first.source;
    for _ in 0..MAX_MIRROR_DEPTH {
        let Some(current) = next else {
            break;
        };
        if current == channel_id {
            break;
        }
        match mirror_settings(conn, current)? {
            None => {
                return Ok(Source::Mirror {
                    root: Some(current),
                    offset_ms,
                })
            }
            Some(link) => {
                offset_ms += link.offset_ms;
                next = link.source;
            }
        }
    }
    Ok(Source::Mirror {
        root: None,
        offset_ms,
    })
}

/// Why a channel's mirror settings are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// `playout_source = 'mirror'` without a source channel.
    NoSource,
    SelfMirror,
    /// The chain leads back to the channel through this one.
    Cycle {
        through: i64,
    },
    TooDeep,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::NoSource => f.write_str("required when playout_source is mirror"),
            Invalid::SelfMirror => f.write_str("a channel cannot mirror itself"),
            Invalid::Cycle { through } => write!(
                f,
                "channel {through} already mirrors this channel: mirrors cannot form a cycle"
            ),
            Invalid::TooDeep => write!(
                f,
                "the chain of mirrors is longer than {MAX_MIRROR_DEPTH} channels"
            ),
        }
    }
}

/// Checks the stored settings of `channel_id` (call it inside the write transaction, after
/// the write, so it sees the merged row): a mirror needs a source, and the chain from it must
/// reach a generated channel without coming back.
pub fn validate(conn: &Connection, channel_id: i64) -> Result<Option<Invalid>, DbError> {
    let Some(link) = mirror_settings(conn, channel_id)? else {
        return Ok(None);
    };
    let Some(source) = link.source else {
        return Ok(Some(Invalid::NoSource));
    };
    if source == channel_id {
        return Ok(Some(Invalid::SelfMirror));
    }
    let mut current = source;
    for _ in 0..MAX_MIRROR_DEPTH {
        match mirror_settings(conn, current)? {
            Some(Link {
                source: Some(next), ..
            }) => {
                if next == channel_id {
                    return Ok(Some(Invalid::Cycle { through: current }));
                }
                current = next;
            }
            // A generated root, or a mirror without a source (it plays the slate): no cycle.
            _ => return Ok(None),
        }
    }
    Ok(Some(Invalid::TooDeep))
}

/// Every mirror that follows `channel_id`, directly or through other mirrors, breadth first.
pub fn mirrors_of(conn: &Connection, channel_id: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM channels WHERE playout_source = 'mirror' AND mirror_source_channel_id = ?1
         ORDER BY id",
    )?;
    let mut found: Vec<i64> = Vec::new();
    let mut frontier = vec![channel_id];
    for _ in 0..MAX_MIRROR_DEPTH {
        let mut next = Vec::new();
        for id in frontier {
            for mirror in stmt.query_map([id], |r| r.get::<_, i64>(0))? {
                let mirror = mirror?;
                if mirror != channel_id
                    && !found.contains(&mirror)
                    && found.len() < MAX_MIRRORS_PER_SOURCE
                {
                    found.push(mirror);
                    next.push(mirror);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(found)
}

/// How much further ahead than the horizon the root `channel_id` must be built so that its
/// mirrors that run ahead of it (negative offsets) still reach the horizon.
pub fn lead_ms(conn: &Connection, channel_id: i64) -> Result<i64, DbError> {
    let mut lead = 0;
    for mirror in mirrors_of(conn, channel_id)? {
        if let Source::Mirror {
            root: Some(root),
            offset_ms,
        } = source_of(conn, mirror)?
        {
            if root == channel_id {
                lead = lead.max(-offset_ms);
            }
        }
    }
    Ok(lead)
}

/// The channel's active playout (the one the guide and the stream read).
pub fn active_playout(conn: &Connection, channel_id: i64) -> Result<Option<i64>, DbError> {
    Ok(conn
        .query_row(
            "SELECT id FROM playouts WHERE channel_id = ?1 AND is_active = 1 ORDER BY id LIMIT 1",
            [channel_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Gives a mirror channel a playout to hold its copied timeline when it has no active one.
/// Returns the playout's id when it created one.
pub fn ensure_playout(
    conn: &Connection,
    channel_id: i64,
    now_ms: i64,
) -> Result<Option<i64>, DbError> {
    if mirror_settings(conn, channel_id)?.is_none() || active_playout(conn, channel_id)?.is_some() {
        return Ok(None);
    }
    conn.execute(
        "INSERT INTO playouts (channel_id, playout_type, is_active, seed, created_at_ms, updated_at_ms)
         VALUES (?1, 'mirror', 1, 0, ?2, ?2)",
        params![channel_id, now_ms],
    )?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Gives every mirror channel without an active playout one (channels that became mirrors
/// some other way than the channel API: an import, an old database).
pub fn ensure_all_playouts(conn: &Connection, now_ms: i64) -> Result<usize, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM channels c WHERE playout_source = 'mirror' AND NOT EXISTS
             (SELECT 1 FROM playouts p WHERE p.channel_id = c.id AND p.is_active = 1)",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for id in &ids {
        ensure_playout(conn, *id, now_ms)?;
    }
    Ok(ids.len())
}

/// One timeline row as the copy compares and writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub media_item_id: Option<i64>,
    pub source_url: Option<String>,
    pub title: String,
    pub episode_title: Option<String>,
    pub start_ms: i64,
    pub finish_ms: i64,
    pub in_point_ms: i64,
    pub filler_kind: Option<String>,
    pub custom_title: Option<String>,
    pub guide_mode: String,
    pub anchor: Option<String>,
    /// The root's block item turned watermarks off (the mirror's own watermark applies
    /// otherwise).
    pub watermark_off: bool,
}

/// The mirror's timeline from the source's: every item shifted by `offset_ms`, keeping only
/// what finishes at or after `now_ms` (what already played on the mirror stays as it was;
/// an item a skip just cut at `now_ms` is kept, cut, like on the source).
pub fn shifted(source: &[Row], offset_ms: i64, now_ms: i64) -> Vec<Row> {
    source
        .iter()
        .filter(|row| row.finish_ms + offset_ms >= now_ms)
        .map(|row| Row {
            start_ms: row.start_ms + offset_ms,
            finish_ms: row.finish_ms + offset_ms,
            ..row.clone()
        })
        .collect()
}

/// How many leading rows of `stored` are already right; the rest is replaced.
pub fn n_same(stored: &[Row], wanted: &[Row]) -> usize {
    stored
        .iter()
        .zip(wanted)
        .take_while(|(a, b)| a == b)
        .count()
}

fn rows_from(conn: &Connection, playout_id: i64, from_ms: i64) -> Result<Vec<Row>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT media_item_id, source_url, title, episode_title, start_ms, finish_ms, in_point_ms,
                filler_kind, custom_title, guide_mode, anchor, watermark_off
         FROM playout_items WHERE playout_id = ?1 AND finish_ms >= ?2 ORDER BY start_ms",
    )?;
    let rows = stmt.query_map(params![playout_id, from_ms], |r| {
        Ok(Row {
            media_item_id: r.get(0)?,
            source_url: r.get(1)?,
            title: r.get(2)?,
            episode_title: r.get(3)?,
            start_ms: r.get(4)?,
            finish_ms: r.get(5)?,
            in_point_ms: r.get(6)?,
            filler_kind: r.get(7)?,
            custom_title: r.get(8)?,
            guide_mode: r.get(9)?,
            anchor: r.get(10)?,
            watermark_off: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Makes the mirror playout `playout_id` (of mirror channel `channel_id`) a shifted copy of
/// its root's active timeline from now on. Returns the rows written (0 when already right).
pub fn sync(
    conn: &Connection,
    playout_id: i64,
    channel_id: i64,
    now_ms: i64,
) -> Result<usize, DbError> {
    let wanted = match source_of(conn, channel_id)? {
        Source::Mirror {
            root: Some(root),
            offset_ms,
        } => match active_playout(conn, root)? {
            Some(source_playout) => {
                let source = rows_from(conn, source_playout, now_ms - offset_ms)?;
                shifted(&source, offset_ms, now_ms)
            }
            None => Vec::new(),
        },
        // A broken chain (or a channel no longer a mirror): nothing to copy; the guide and
        // the stream show the slate for what is missing.
        _ => Vec::new(),
    };
    let stored = rows_from(conn, playout_id, now_ms)?;
    let n_same = n_same(&stored, &wanted);
    if n_same == stored.len() && n_same == wanted.len() {
        return Ok(0);
    }
    // Replace from the first differing row on. Rows that already played stay, except ones
    // the new timeline overlaps (only after the offset itself changed).
    let from_ms = match (stored.get(n_same), wanted.get(n_same)) {
        (Some(old), Some(new)) => old.start_ms.min(new.start_ms),
        (Some(old), None) => old.start_ms,
        (None, Some(new)) => new.start_ms,
        (None, None) => return Ok(0),
    };
    conn.execute(
        "DELETE FROM playout_items WHERE playout_id = ?1 AND finish_ms > ?2",
        params![playout_id, from_ms],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO playout_items (playout_id, media_item_id, source_url, title, episode_title,
             start_ms, finish_ms, in_point_ms, filler_kind, custom_title, guide_mode, anchor, watermark_off)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    let mut n_written = 0;
    for row in wanted.iter().filter(|row| row.finish_ms > from_ms) {
        // A row overlapping `from_ms` from before it was deleted above only when it
        // finished after `from_ms`, so re-inserting every wanted row finishing after it
        // restores exactly the wanted timeline.
        insert.execute(params![
            playout_id,
            row.media_item_id,
            row.source_url,
            row.title,
            row.episode_title,
            row.start_ms,
            row.finish_ms,
            row.in_point_ms,
            row.filler_kind,
            row.custom_title,
            row.guide_mode,
            row.anchor,
            row.watermark_off,
        ])?;
        n_written += 1;
    }
    if let Some(last) = wanted.last() {
        let anchor = serde_json::json!({
            "next_start": crate::time::rfc3339(last.finish_ms),
            "mirror_of_channel": match source_of(conn, channel_id)? {
                Source::Mirror { root, .. } => root,
                Source::Generated => None,
            },
        });
        conn.execute(
            "UPDATE playouts SET anchor = ?2, updated_at_ms = ?3 WHERE id = ?1",
            params![playout_id, anchor.to_string(), now_ms],
        )?;
    }
    Ok(n_written.max(1))
}

/// Re-derives every mirror that follows `channel_id` (after its timeline changed).
pub fn sync_mirrors_of(conn: &Connection, channel_id: i64, now_ms: i64) -> Result<usize, DbError> {
    let mut n_written = 0;
    for mirror in mirrors_of(conn, channel_id)? {
        ensure_playout(conn, mirror, now_ms)?;
        if let Some(playout_id) = active_playout(conn, mirror)? {
            n_written += sync(conn, playout_id, mirror, now_ms)?;
        }
    }
    Ok(n_written)
}

/// The channel a playout belongs to.
pub fn playout_channel(conn: &Connection, playout_id: i64) -> Result<Option<i64>, DbError> {
    Ok(conn
        .query_row(
            "SELECT channel_id FROM playouts WHERE id = ?1",
            [playout_id],
            |r| r.get(0),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(title: &str, start_ms: i64, finish_ms: i64) -> Row {
        Row {
            media_item_id: Some(1),
            source_url: None,
            title: title.into(),
            episode_title: None,
            start_ms,
            finish_ms,
            in_point_ms: 0,
            filler_kind: None,
            custom_title: None,
            guide_mode: "normal".into(),
            anchor: None,
            watermark_off: false,
        }
    }

    #[test]
    fn a_mirror_is_the_source_shifted_and_keeps_only_what_is_ahead() {
        let source = [row("a", 0, 100), row("b", 100, 250), row("c", 250, 400)];
        // Delayed by 120: at 200 the mirror plays "a"'s successor "b" (100+120 .. 250+120);
        // "a" (120..220) is still playing at 200, so it stays too.
        let mirror = shifted(&source, 120, 200);
        assert_eq!(
            mirror,
            [row("a", 120, 220), row("b", 220, 370), row("c", 370, 520)]
        );
        let ahead = shifted(&source, -120, 0);
        assert_eq!(ahead, [row("b", -20, 130), row("c", 130, 280)]);
        for pair in mirror.windows(2) {
            assert_eq!(pair[0].finish_ms, pair[1].start_ms);
        }
    }

    #[test]
    fn a_skip_on_the_source_moves_the_mirror() {
        let before = [row("a", 0, 100), row("b", 100, 250)];
        let after_skip = [row("a", 0, 40), row("b", 40, 190)];
        let stored = shifted(&before, 60, 50);
        let wanted = shifted(&after_skip, 60, 50);
        assert_eq!(n_same(&stored, &wanted), 0);
        assert_eq!(wanted, [row("a", 60, 100), row("b", 100, 250)]);
        assert_eq!(n_same(&wanted, &wanted), 2);
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE channels (id INTEGER PRIMARY KEY, playout_source TEXT NOT NULL,
                 mirror_source_channel_id INTEGER, playout_offset INTEGER);",
        )
        .unwrap();
        conn
    }

    fn channel(conn: &Connection, id: i64, source: Option<i64>, offset_s: i64) {
        let kind = if source.is_some() {
            "mirror"
        } else {
            "generated"
        };
        conn.execute(
            "INSERT OR REPLACE INTO channels VALUES (?1, ?2, ?3, ?4)",
            params![id, kind, source, offset_s],
        )
        .unwrap();
    }

    #[test]
    fn chains_follow_the_root_and_cycles_are_refused() {
        let conn = db();
        channel(&conn, 1, None, 0);
        channel(&conn, 2, Some(1), 60);
        channel(&conn, 3, Some(2), -300);
        assert_eq!(source_of(&conn, 1).unwrap(), Source::Generated);
        assert_eq!(
            source_of(&conn, 3).unwrap(),
            Source::Mirror {
                root: Some(1),
                offset_ms: -240_000
            }
        );
        assert_eq!(mirrors_of(&conn, 1).unwrap(), [2, 3]);
        assert_eq!(lead_ms(&conn, 1).unwrap(), 240_000);
        assert_eq!(validate(&conn, 3).unwrap(), None);
        // 1 → 3 would close the loop 1 → 3 → 2 → 1.
        channel(&conn, 1, Some(3), 0);
        assert_eq!(
            validate(&conn, 1).unwrap(),
            Some(Invalid::Cycle { through: 2 })
        );
        assert_eq!(
            source_of(&conn, 2).unwrap(),
            Source::Mirror {
                root: None,
                offset_ms: -240_000
            }
        );
        channel(&conn, 4, Some(4), 0);
        assert_eq!(validate(&conn, 4).unwrap(), Some(Invalid::SelfMirror));
        conn.execute("INSERT INTO channels VALUES (5, 'mirror', NULL, 0)", [])
            .unwrap();
        assert_eq!(validate(&conn, 5).unwrap(), Some(Invalid::NoSource));
    }
}
