//! Deco writes: deco groups, deco (the break assets: bumpers, commercials, station ids,
//! promos, credits, each a media item with a weight) and a channel's deco: its group, when
//! breaks air, its dead-air filler and watermark (each `inherit|override|disable`), and
//! windows that give a time range of the day another group. Each write runs inside the
//! caller's write transaction and returns the `Changes` it made: the playouts of the
//! channels a deco reaches are rebuilt after the commit. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Deserialize;

use super::blocks::BlockTime;
use super::fields::{patch, AnyId, Field, Int, Name, OneOf, Real, Text};
use super::ids::ChannelId;
use crate::changes::{Changes, Rebuild};
use crate::db::DbError;
use crate::kinds::{BreakMode, DecoMode, DecoType};
use crate::time::UnixMs;

/// Windows one channel may have: a day cut in more ranges than this is a mistake.
pub const MAX_WINDOWS: usize = 48;
/// Assets one break plays at most.
pub const MAX_BREAK_COUNT: i64 = 10;

patch! {
    /// The fields a deco (break asset) write sends.
    pub struct DecoPatch {
        name: Name,
        group_id: Option<AnyId>,
        deco_type: OneOf<DecoType>,
        media_item_id: Option<AnyId>,
        file_path: Option<Text>,
        duration_seconds: Option<Real>,
        static_duration_seconds: Real,
        /// Relative odds of being picked for a break.
        weight: Int<1, 100>,
    }
}

/// `PUT /api/channels/{id}/deco`: the fields sent change; `windows`, when sent, replaces
/// them all. An id of 0 (or `null`) clears it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChannelDecoPatch {
    pub deco_group_id: Field<Option<Int<0, { i64::MAX }>>>,
    pub breaks: Field<OneOf<BreakMode>>,
    pub break_every_minutes: Field<Option<Int<1, 1440>>>,
    pub break_count: Field<Int<1, MAX_BREAK_COUNT>>,
    pub default_filler: Field<FillerPart>,
    pub watermark: Field<WatermarkPart>,
    pub windows: Field<Vec<WindowPart>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FillerPart {
    pub mode: OneOf<DecoMode>,
    #[serde(default)]
    pub collection_id: Option<Int<0, { i64::MAX }>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WatermarkPart {
    pub mode: OneOf<DecoMode>,
    #[serde(default)]
    pub watermark_id: Option<Int<0, { i64::MAX }>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WindowPart {
    pub start_time: BlockTime,
    pub end_time: BlockTime,
    pub deco_group_id: AnyId,
}

/// A channel's deco as stored (the defaults when it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDeco {
    pub deco_group_id: Option<i64>,
    pub breaks: BreakMode,
    pub break_every_minutes: Option<i64>,
    pub break_count: i64,
    pub default_filler_mode: DecoMode,
    pub default_filler_collection_id: Option<i64>,
    pub watermark_mode: DecoMode,
    pub watermark_id: Option<i64>,
    /// `(start_time, end_time, deco_group_id)`, in order.
    pub windows: Vec<(String, String, i64)>,
}

impl Default for ChannelDeco {
    fn default() -> Self {
        ChannelDeco {
            deco_group_id: None,
            breaks: BreakMode::None,
            break_every_minutes: None,
            break_count: 1,
            default_filler_mode: DecoMode::Inherit,
            default_filler_collection_id: None,
            watermark_mode: DecoMode::Inherit,
            watermark_id: None,
            windows: Vec::new(),
        }
    }
}

/// Why a deco write was refused.
#[derive(Debug)]
pub enum DecoError {
    NotFound,
    ChannelNotFound,
    Invalid { field: String, problem: String },
    Db(DbError),
}

impl fmt::Display for DecoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecoError::NotFound => f.write_str("deco not found"),
            DecoError::ChannelNotFound => f.write_str("channel not found"),
            DecoError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            DecoError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(DecoError);

fn invalid(field: impl Into<String>, problem: &str) -> DecoError {
    DecoError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

pub fn create(
    tx: &Transaction<'_>,
    patch: &DecoPatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), DecoError> {
    check_refs(tx, patch)?;
    let id = crate::db::row::insert(tx, "deco", &patch.values(), now_ms)?;
    Ok((id, rebuilding_deco(tx, id, "deco created")?))
}

pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    patch: &DecoPatch,
    now_ms: UnixMs,
) -> Result<Changes, DecoError> {
    check_refs(tx, patch)?;
    // Both the group it leaves and the one it joins.
    let mut changes = rebuilding_deco(tx, id, "deco updated")?;
    if !crate::db::row::update(tx, "deco", id, &patch.values(), now_ms)? {
        return Err(DecoError::NotFound);
    }
    changes.rebuild.merge(rebuilding_deco(tx, id, "")?.rebuild);
    Ok(changes)
}

pub fn delete(tx: &Transaction<'_>, id: i64) -> Result<Changes, DecoError> {
    let changes = rebuilding_deco(tx, id, "deco deleted")?;
    match tx.execute("DELETE FROM deco WHERE id = ?1", [id])? {
        0 => Err(DecoError::NotFound),
        _ => Ok(changes),
    }
}

fn check_refs(tx: &Transaction<'_>, patch: &DecoPatch) -> Result<(), DecoError> {
    if let Some(Int(group)) = patch.group_id.value() {
        if !crate::db::exists(tx, "deco_groups", group)? {
            return Err(invalid("group_id", "no such deco group"));
        }
    }
    if let Some(Int(media)) = patch.media_item_id.value() {
        if !crate::db::exists(tx, "media_items", media)? {
            return Err(invalid("media_item_id", "no such media item"));
        }
    }
    Ok(())
}

/// The playouts of the channels whose deco reaches the asset's group.
fn rebuilding_deco(conn: &Connection, deco: i64, cause: &str) -> Result<Changes, DecoError> {
    let group: Option<Option<i64>> = conn
        .query_row("SELECT group_id FROM deco WHERE id = ?1", [deco], |r| {
            r.get(0)
        })
        .optional()?;
    let mut rebuild = Rebuild::Empty;
    if let Some(Some(group)) = group {
        let channels: Vec<ChannelId> = conn
            .prepare_cached(
                "SELECT channel_id FROM channel_deco WHERE deco_group_id = ?1
                 UNION SELECT channel_id FROM channel_deco_windows WHERE deco_group_id = ?1",
            )?
            .query_map([group], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for channel in channels {
            rebuild.merge(crate::scheduler::playouts_of_channel(conn, channel)?);
        }
    }
    Ok(Changes::rebuilding(rebuild, cause))
}

/// The channel's deco (the defaults when none was set); `None` when there is no channel.
pub fn channel_deco(conn: &Connection, channel: ChannelId) -> Result<Option<ChannelDeco>, DbError> {
    if !crate::db::exists(conn, "channels", channel.0)? {
        return Ok(None);
    }
    let row = conn
        .query_row(
            "SELECT deco_group_id, breaks, break_every_minutes, break_count, default_filler_mode,
                    default_filler_collection_id, watermark_mode, watermark_id
             FROM channel_deco WHERE channel_id = ?1",
            [channel],
            |r| {
                Ok((
                    (r.get::<_, Option<i64>>(0)?, r.get::<_, String>(1)?),
                    (r.get::<_, Option<i64>>(2)?, r.get::<_, i64>(3)?),
                    (r.get::<_, String>(4)?, r.get::<_, Option<i64>>(5)?),
                    (r.get::<_, String>(6)?, r.get::<_, Option<i64>>(7)?),
                ))
            },
        )
        .optional()?;
    let mut deco = ChannelDeco::default();
    if let Some(((group, breaks), (every, count), (filler, collection), (mark, watermark))) = row {
        // Written only through `set_channel_deco`: unreadable text keeps the default.
        deco = ChannelDeco {
            deco_group_id: group,
            breaks: breaks.parse().unwrap_or(BreakMode::None),
            break_every_minutes: every,
            break_count: count,
            default_filler_mode: filler.parse().unwrap_or(DecoMode::Inherit),
            default_filler_collection_id: collection,
            watermark_mode: mark.parse().unwrap_or(DecoMode::Inherit),
            watermark_id: watermark,
            windows: Vec::new(),
        };
    }
    deco.windows = conn
        .prepare_cached(
            "SELECT start_time, end_time, deco_group_id FROM channel_deco_windows
             WHERE channel_id = ?1 AND deco_group_id IS NOT NULL ORDER BY position, id",
        )?
        .query_map([channel], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(Some(deco))
}

/// Merges the patch into the channel's deco, checks the whole, stores it and rebuilds the
/// channel's playouts.
pub fn set_channel_deco(
    tx: &Transaction<'_>,
    channel: ChannelId,
    patch: &ChannelDecoPatch,
    now_ms: UnixMs,
) -> Result<Changes, DecoError> {
    let mut deco = channel_deco(tx, channel)?.ok_or(DecoError::ChannelNotFound)?;
    merge(&mut deco, patch);
    check_channel_deco(tx, &deco)?;
    tx.execute(
        "INSERT OR REPLACE INTO channel_deco (channel_id, deco_group_id, breaks,
             break_every_minutes, break_count, default_filler_mode, default_filler_collection_id,
             watermark_mode, watermark_id, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            channel,
            deco.deco_group_id,
            deco.breaks.as_str(),
            deco.break_every_minutes,
            deco.break_count,
            deco.default_filler_mode.as_str(),
            deco.default_filler_collection_id,
            deco.watermark_mode.as_str(),
            deco.watermark_id,
            now_ms,
        ],
    )?;
    if patch.windows.is_given() {
        tx.execute(
            "DELETE FROM channel_deco_windows WHERE channel_id = ?1",
            [channel],
        )?;
        for (position, (start, end, group)) in deco.windows.iter().enumerate() {
            tx.execute(
                "INSERT INTO channel_deco_windows
                     (channel_id, position, start_time, end_time, deco_group_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![channel, position as i64, start, end, group],
            )?;
        }
    }
    let rebuild = crate::scheduler::playouts_of_channel(tx, channel)?;
    Ok(Changes::rebuilding(rebuild, "channel deco set"))
}

/// 0 clears an id, as the channel's `/filler` route does.
fn id_or_clear(value: Option<Int<0, { i64::MAX }>>) -> Option<i64> {
    value.map(|v| v.0).filter(|id| *id > 0)
}

fn merge(deco: &mut ChannelDeco, patch: &ChannelDecoPatch) {
    if let Some(group) = patch.deco_group_id.given() {
        deco.deco_group_id = id_or_clear(*group);
    }
    if let Some(breaks) = patch.breaks.given() {
        deco.breaks = breaks.0;
    }
    if let Some(every) = patch.break_every_minutes.given() {
        deco.break_every_minutes = every.map(|m| m.0);
    }
    if let Some(count) = patch.break_count.given() {
        deco.break_count = count.0;
    }
    if let Some(filler) = patch.default_filler.given() {
        deco.default_filler_mode = filler.mode.0;
        deco.default_filler_collection_id = id_or_clear(filler.collection_id);
    }
    if let Some(mark) = patch.watermark.given() {
        deco.watermark_mode = mark.mode.0;
        deco.watermark_id = id_or_clear(mark.watermark_id);
    }
    if let Some(windows) = patch.windows.given() {
        deco.windows = windows
            .iter()
            .map(|w| {
                (
                    w.start_time.0.clone(),
                    w.end_time.0.clone(),
                    w.deco_group_id.0,
                )
            })
            .collect();
    }
}

/// What the fields must hold together, each refusal naming its field.
fn check_channel_deco(conn: &Connection, deco: &ChannelDeco) -> Result<(), DecoError> {
    let group_exists = |id: i64| crate::db::exists(conn, "deco_groups", id);
    if let Some(group) = deco.deco_group_id {
        if !group_exists(group)? {
            return Err(invalid("deco_group_id", "no such deco group"));
        }
    }
    if deco.breaks == BreakMode::EveryNMinutes && deco.break_every_minutes.is_none() {
        return Err(invalid(
            "break_every_minutes",
            "required when breaks is every_n_minutes",
        ));
    }
    if deco.default_filler_mode == DecoMode::Override {
        let Some(collection) = deco.default_filler_collection_id else {
            return Err(invalid(
                "default_filler.collection_id",
                "required when mode is override",
            ));
        };
        if !crate::db::exists(conn, "collections", collection)? {
            return Err(invalid(
                "default_filler.collection_id",
                "no such collection",
            ));
        }
    }
    if deco.watermark_mode == DecoMode::Override && deco.watermark_id.is_none() {
        return Err(invalid(
            "watermark.watermark_id",
            "required when mode is override",
        ));
    }
    if deco.windows.len() > MAX_WINDOWS {
        return Err(invalid("windows", "at most 48 windows"));
    }
    for (i, (start, end, group)) in deco.windows.iter().enumerate() {
        if start == end {
            return Err(invalid(
                format!("windows[{i}].end_time"),
                "must differ from start_time",
            ));
        }
        if !group_exists(*group)? {
            return Err(invalid(
                format!("windows[{i}].deco_group_id"),
                "no such deco group",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_deco_merges_checks_and_replaces_windows() {
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(
            "INSERT INTO channels (id, number, name, created_at_ms, updated_at_ms)
             VALUES (3, '3', 'Three', 1, 1);
             INSERT INTO deco_groups (id, name, created_at_ms, updated_at_ms) VALUES (4, 'G', 1, 1);",
        )
        .unwrap();
        assert_eq!(
            channel_deco(&tx, ChannelId(3)).unwrap(),
            Some(ChannelDeco::default())
        );
        let patch = |json: &str| -> ChannelDecoPatch { serde_json::from_str(json).unwrap() };
        let err = set_channel_deco(
            &tx,
            ChannelId(3),
            &patch(r#"{"breaks":"every_n_minutes"}"#),
            2,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "break_every_minutes: required when breaks is every_n_minutes"
        );
        let err = set_channel_deco(
            &tx,
            ChannelId(3),
            &patch(r#"{"windows":[{"start_time":"08:00","end_time":"09:00","deco_group_id":9}]}"#),
            2,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "windows[0].deco_group_id: no such deco group"
        );
        set_channel_deco(
            &tx,
            ChannelId(3),
            &patch(
                r#"{"deco_group_id":4,"breaks":"between_programmes","break_count":2,
                    "windows":[{"start_time":"22:00","end_time":"06:00","deco_group_id":4}]}"#,
            ),
            2,
        )
        .unwrap();
        // A later partial write keeps what it does not send; 0 clears the group.
        set_channel_deco(&tx, ChannelId(3), &patch(r#"{"deco_group_id":0}"#), 3).unwrap();
        let deco = channel_deco(&tx, ChannelId(3)).unwrap().unwrap();
        assert_eq!(deco.deco_group_id, None);
        assert_eq!(
            (deco.breaks, deco.break_count),
            (BreakMode::BetweenProgrammes, 2)
        );
        assert_eq!(deco.windows, vec![("22:00".into(), "06:00".into(), 4)]);
        assert!(matches!(
            set_channel_deco(&tx, ChannelId(99), &patch("{}"), 3),
            Err(DecoError::ChannelNotFound)
        ));
    }
}
