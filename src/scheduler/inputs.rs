//! Loads what the pure builder needs for one playout from SQLite: the schedule's slots, the
//! media of every content they and their filler presets refer to, the channel's fillers and
//! the seed. Only playable media enter a content: a known, non-zero duration and not missing.

use std::collections::HashMap;
use std::fmt;

use rusqlite::Connection;
use smol_str::SmolStr;

use crate::db::{optional, DbError};
use crate::kinds::{
    BlockContent, BreakMode, DecoMode, FillerContent, FillerModeKind, FixedStartBehavior,
    SlotContent, SlotMode, StartType, TextEnum, UnknownValue,
};
use crate::playout::clock::parse_time;
use crate::playout::{
    Asset, Block, BlockItem, BlockPlan, Breaks, ContentKey, ContentKind, DayPlan, DeadAir, Deco,
    DecoWindow, FillerMode, FillerPreset, Fillers, FixedStart, GuideMode, Library, Media, Mode,
    Placement, PlaybackOrder, Slot, TailMode,
};

/// A filler item's weight repeats it in the preset's content; capped so one row cannot
/// blow up the content list.
const MAX_FILLER_WEIGHT: i64 = 10;

/// Everything `playout::build` reads, owned.
pub struct PlayoutInputs {
    pub channel_id: i64,
    pub library: Library,
    pub slots: Vec<Slot>,
    pub presets: Vec<FillerPreset>,
    pub channel_fillers: Fillers,
    pub seed: u64,
    pub random_start_point: bool,
    pub shuffle_slots: bool,
    pub keep_multi_part: bool,
    pub daily_reset: Option<jiff::civil::Time>,
    /// The blocks the playout's applied templates place (`scheduler::inputs::load_blocks`).
    pub blocks: BlockPlan,
    /// The channel's deco (`scheduler::inputs::load_deco`).
    pub deco: Deco,
}

impl PlayoutInputs {
    /// The builder's view of these inputs in `tz`.
    pub fn input<'a>(&'a self, tz: &'a jiff::tz::TimeZone) -> crate::playout::Input<'a> {
        crate::playout::Input {
            library: &self.library,
            slots: &self.slots,
            presets: &self.presets,
            channel_fillers: self.channel_fillers,
            seed: self.seed,
            random_start_point: self.random_start_point,
            shuffle_slots: self.shuffle_slots,
            keep_multi_part: self.keep_multi_part,
            daily_reset: self.daily_reset,
            time_zone: tz,
            blocks: &self.blocks,
            deco: &self.deco,
        }
    }
}

/// The playout's own row and its channel's fillers.
struct PlayoutRow {
    channel_id: i64,
    schedule_id: Option<i64>,
    seed: i64,
    is_active: bool,
    channel_fillers: Fillers,
    daily_reset: Option<String>,
}

/// The schedule's switches that shape the build.
#[derive(Default)]
struct ScheduleFlags {
    random_start_point: bool,
    shuffle_slots: bool,
    keep_multi_part: bool,
}

/// `None` when the playout does not exist or is inactive.
pub fn load(conn: &Connection, playout_id: i64) -> Result<Option<PlayoutInputs>, DbError> {
    load_with(conn, playout_id, &[], &[])
}

/// `load`, plus contents and filler presets the schedule may not name (a scripted build's).
pub fn load_with(
    conn: &Connection,
    playout_id: i64,
    extra_contents: &[ContentKey],
    extra_presets: &[i64],
) -> Result<Option<PlayoutInputs>, DbError> {
    let Some(row) = playout_row(conn, playout_id)? else {
        return Ok(None);
    };
    if !row.is_active {
        return Ok(None);
    }
    let (slots, flags) = match row.schedule_id {
        Some(id) => (load_slots(conn, id)?, schedule_flags(conn, id)?),
        None => (Vec::new(), ScheduleFlags::default()),
    };
    let mut loader = ContentLoader {
        conn,
        library: Library::default(),
        arena: HashMap::new(),
    };
    for slot in &slots {
        if let Some(key) = slot.content {
            loader.load(key)?;
        }
    }
    let blocks = load_blocks(conn, playout_id, &mut loader)?;
    let deco = load_deco(conn, row.channel_id, &mut loader)?;
    for key in extra_contents {
        loader.load(*key)?;
    }
    let mut preset_ids = preset_ids_of(&slots, &row.channel_fillers);
    for id in extra_presets {
        if !preset_ids.contains(id) {
            preset_ids.push(*id);
        }
    }
    let mut presets = Vec::with_capacity(preset_ids.len());
    for id in preset_ids {
        if let Some(preset) = loader.load_preset(id)? {
            presets.push(preset);
        }
    }
    Ok(Some(PlayoutInputs {
        channel_id: row.channel_id,
        library: loader.library,
        slots,
        presets,
        channel_fillers: row.channel_fillers,
        seed: row.seed as u64,
        random_start_point: flags.random_start_point,
        shuffle_slots: flags.shuffle_slots,
        keep_multi_part: flags.keep_multi_part,
        daily_reset: row
            .daily_reset
            .as_deref()
            .and_then(|text| daily_reset_of(playout_id, text)),
        blocks,
        deco,
    }))
}

fn playout_row(conn: &Connection, playout_id: i64) -> Result<Option<PlayoutRow>, DbError> {
    optional(conn.query_row(
        "SELECT p.channel_id, p.program_schedule_id, p.seed, p.is_active,
                c.fallback_filler_id, c.pre_roll_filler_id, c.post_roll_filler_id,
                p.daily_reset_time
         FROM playouts p JOIN channels c ON c.id = p.channel_id WHERE p.id = ?1",
        [playout_id],
        |r| {
            Ok(PlayoutRow {
                channel_id: r.get(0)?,
                schedule_id: r.get(1)?,
                seed: r.get(2)?,
                is_active: r.get(3)?,
                channel_fillers: Fillers {
                    fallback: r.get(4)?,
                    pre_roll: r.get(5)?,
                    post_roll: r.get(6)?,
                    mid_roll: None,
                    tail: None,
                },
                daily_reset: r.get(7)?,
            })
        },
    ))
}

/// The enabled templates applied to the playout, lowest priority first (later applied
/// last: it wins a tie), with the blocks they place and those blocks' contents.
fn load_blocks(
    conn: &Connection,
    playout_id: i64,
    loader: &mut ContentLoader<'_>,
) -> Result<BlockPlan, DbError> {
    let applied: Vec<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT pt.template_id, pt.days_of_week, pt.priority FROM playout_templates pt
             JOIN templates t ON t.id = pt.template_id
             WHERE pt.playout_id = ?1 AND t.is_enabled = 1 ORDER BY pt.priority, pt.id",
        )?
        .query_map([playout_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut plan = BlockPlan::default();
    // block id -> index in `plan.blocks`.
    let mut loaded: HashMap<i64, u32> = HashMap::new();
    for (template_id, days, priority) in applied {
        let placed: Vec<(i64, String)> = conn
            .prepare_cached(
                "SELECT block_id, start_time FROM template_items
                 WHERE template_id = ?1 ORDER BY start_time, id",
            )?
            .query_map([template_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut placements = Vec::with_capacity(placed.len());
        for (block_id, start) in placed {
            let Some(start) = parse_time(&start) else {
                tracing::warn!(template = template_id, start_time = %start, "unreadable template item start; left out");
                continue;
            };
            let index = match loaded.get(&block_id) {
                Some(index) => *index,
                None => {
                    let Some(block) = load_block(conn, block_id, loader)? else {
                        continue;
                    };
                    plan.blocks.push(block);
                    let index = (plan.blocks.len() - 1) as u32;
                    loaded.insert(block_id, index);
                    index
                }
            };
            placements.push(Placement {
                block: index,
                start,
            });
        }
        plan.plans.push(DayPlan {
            days: (days & 127) as u8,
            priority: priority.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            placements,
        });
    }
    Ok(plan)
}

/// The channel's deco: its break mode, dead-air filler and the assets of every group it
/// or its windows name (only assets that are playable media items).
fn load_deco(
    conn: &Connection,
    channel_id: i64,
    loader: &mut ContentLoader<'_>,
) -> Result<Deco, DbError> {
    let Some(stored) =
        crate::ops::deco::channel_deco(conn, crate::ops::ids::ChannelId(channel_id))?
    else {
        return Ok(Deco::default());
    };
    let mut deco = Deco {
        breaks: match stored.breaks {
            BreakMode::None => Breaks::None,
            BreakMode::BetweenProgrammes => Breaks::BetweenProgrammes,
            BreakMode::EveryNMinutes => {
                Breaks::EveryMinutes(stored.break_every_minutes.unwrap_or(30).clamp(1, 1440) as u32)
            }
        },
        break_count: stored
            .break_count
            .clamp(1, crate::ops::deco::MAX_BREAK_COUNT) as u32,
        dead_air: match (
            stored.default_filler_mode,
            stored.default_filler_collection_id,
        ) {
            (DecoMode::Disable, _) => DeadAir::Disable,
            (DecoMode::Override, Some(id)) => {
                let key = ContentKey {
                    kind: ContentKind::Collection,
                    id,
                };
                loader.load(key)?;
                DeadAir::Content(key)
            }
            _ => DeadAir::Inherit,
        },
        ..Deco::default()
    };
    // group id -> index in `deco.groups`.
    let mut groups: Vec<i64> = Vec::new();
    let mut group_index = |id: i64, deco: &mut Deco| -> u32 {
        match groups.iter().position(|g| *g == id) {
            Some(i) => i as u32,
            None => {
                groups.push(id);
                deco.groups.push(Vec::new());
                (groups.len() - 1) as u32
            }
        }
    };
    deco.group = stored.deco_group_id.map(|id| group_index(id, &mut deco));
    for (start, end, group) in &stored.windows {
        let (Some(start), Some(end)) = (parse_time(start), parse_time(end)) else {
            continue;
        };
        let group = group_index(*group, &mut deco);
        deco.windows.push(DecoWindow { start, end, group });
    }
    for (index, id) in groups.iter().enumerate() {
        deco.groups[index] = load_assets(conn, *id, loader)?;
    }
    Ok(deco)
}

/// A deco group's assets that are playable media items, by id.
fn load_assets(
    conn: &Connection,
    group_id: i64,
    loader: &mut ContentLoader<'_>,
) -> Result<Vec<Asset>, DbError> {
    let rows: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT media_item_id, weight FROM deco
             WHERE group_id = ?1 AND media_item_id IS NOT NULL ORDER BY id",
        )?
        .query_map([group_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut assets = Vec::with_capacity(rows.len());
    for (media, weight) in rows {
        let key = ContentKey {
            kind: ContentKind::MediaItem,
            id: media,
        };
        loader.load(key)?;
        if let Some(&media) = loader.library.content(key).first() {
            assets.push(Asset {
                media,
                weight: weight.clamp(1, 100) as u32,
            });
        }
    }
    Ok(assets)
}

/// One block with its items (their contents loaded); `None` when it is gone.
fn load_block(
    conn: &Connection,
    block_id: i64,
    loader: &mut ContentLoader<'_>,
) -> Result<Option<Block>, DbError> {
    let row = optional(conn.query_row(
        "SELECT duration_minutes, days_of_week, stop_before_end, name FROM blocks WHERE id = ?1",
        [block_id],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, String>(3)?,
            ))
        },
    ))?;
    let Some((minutes, days, stop_before_end, name)) = row else {
        return Ok(None);
    };
    let rows = block_item_rows(conn, block_id)?;
    let mut items = Vec::with_capacity(rows.len());
    for (id, kind, target, order, (in_guide, disable_watermarks)) in rows {
        let decoded = decode::<BlockContent>("collection_type", &kind)
            .and_then(|kind| Ok((kind, decode::<PlaybackOrder>("playback_order", &order)?)));
        let (kind, order) = match decoded {
            Ok(decoded) => decoded,
            Err(err) => {
                tracing::warn!(block = block_id, block_item = id, %err, "block item left out of the build");
                continue;
            }
        };
        let key = ContentKey {
            kind: match kind {
                BlockContent::Playlist => ContentKind::Playlist,
                BlockContent::Collection | BlockContent::SmartCollection => ContentKind::Collection,
            },
            id: target,
        };
        loader.load(key)?;
        // A block item's history is its own: named by its block and its place in it.
        let position = items.len().to_string();
        loader.library.identities.insert(
            ContentKey {
                kind: ContentKind::BlockItem,
                id,
            },
            crate::playout::name_identity(&["block_item", &name, &position]),
        );
        items.push(BlockItem {
            id,
            content: Some(key),
            order,
            guide_mode: if in_guide {
                GuideMode::Normal
            } else {
                GuideMode::Hide
            },
            disable_watermarks,
        });
    }
    Ok(Some(Block {
        id: block_id,
        duration_ms: minutes.clamp(1, 1440) * 60_000,
        days: (days & 127) as u8,
        stop_before_end,
        items,
    }))
}

/// (id, collection_type, collection_id, playback_order, (include_in_guide, disable_watermarks))
type BlockItemRow = (i64, String, i64, String, (bool, bool));

fn block_item_rows(conn: &Connection, block_id: i64) -> Result<Vec<BlockItemRow>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT id, collection_type, collection_id, playback_order, include_in_guide,
                 disable_watermarks
             FROM block_items WHERE block_id = ?1 ORDER BY position, id",
        )?
        .query_map([block_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                (r.get(4)?, r.get(5)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A schedule row that is gone counts as all switches off.
fn schedule_flags(conn: &Connection, schedule_id: i64) -> Result<ScheduleFlags, DbError> {
    Ok(optional(conn.query_row(
        "SELECT random_start_point, shuffle_schedule_items, keep_multi_part_episodes_together
         FROM schedules WHERE id = ?1",
        [schedule_id],
        |r| {
            Ok(ScheduleFlags {
                random_start_point: r.get(0)?,
                shuffle_slots: r.get(1)?,
                keep_multi_part: r.get(2)?,
            })
        },
    ))?
    .unwrap_or_default())
}

/// Every filler preset the slots or the channel name, once each, in id order.
fn preset_ids_of(slots: &[Slot], channel_fillers: &Fillers) -> Vec<i64> {
    let mut preset_ids: Vec<i64> = slots
        .iter()
        .flat_map(|s| {
            let f = s.fillers;
            [f.pre_roll, f.mid_roll, f.post_roll, f.tail, f.fallback]
        })
        .chain([
            channel_fillers.pre_roll,
            channel_fillers.post_roll,
            channel_fillers.fallback,
        ])
        .flatten()
        .collect();
    preset_ids.sort_unstable();
    preset_ids.dedup();
    preset_ids
}

/// The API validates "HH:MM"; an unreadable one means no reset, said aloud.
fn daily_reset_of(playout_id: i64, text: &str) -> Option<jiff::civil::Time> {
    let time = parse_time(text);
    if time.is_none() {
        tracing::warn!(
            playout = playout_id,
            daily_reset_time = text,
            "unreadable daily_reset_time; no daily reset"
        );
    }
    time
}

fn load_slots(conn: &Connection, schedule_id: i64) -> Result<Vec<Slot>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, collection_type, collection_id, media_item_id, playlist_id, playback_order,
                playout_mode, multiple_count, playout_duration_hours, playout_duration_minutes,
                tail_mode, start_type, start_time, fixed_start_time_behavior, custom_title,
                guide_mode, pre_roll_filler_id, mid_roll_filler_id, post_roll_filler_id,
                tail_filler_id, fallback_filler_id
         FROM schedule_items WHERE schedule_id = ?1 ORDER BY position, id",
    )?;
    let rows = stmt.query_map([schedule_id], |r| {
        Ok(SlotRow {
            id: r.get(0)?,
            collection_type: r.get(1)?,
            collection_id: r.get(2)?,
            media_item_id: r.get(3)?,
            playlist_id: r.get(4)?,
            playback_order: r.get(5)?,
            playout_mode: r.get(6)?,
            multiple_count: r.get(7)?,
            hours: r.get(8)?,
            minutes: r.get(9)?,
            tail_mode: r.get(10)?,
            start_type: r.get(11)?,
            start_time: r.get(12)?,
            behavior: r.get(13)?,
            custom_title: r.get(14)?,
            guide_mode: r.get(15)?,
            fillers: Fillers {
                pre_roll: r.get(16)?,
                mid_roll: r.get(17)?,
                post_roll: r.get(18)?,
                tail: r.get(19)?,
                fallback: r.get(20)?,
            },
        })
    })?;
    let mut slots = Vec::new();
    for row in rows {
        let row = row?;
        match row.slot() {
            Ok(slot) => slots.push(slot),
            // The API refuses such a row; one written by hand or by an older version must
            // not become a guess on air: it is left out, and the log names it.
            Err(err) => tracing::warn!(
                schedule = schedule_id,
                schedule_item = row.id,
                %err,
                "schedule item left out of the build"
            ),
        }
    }
    if slots.is_empty() {
        // A schedule with no items but a collection or playlist of its own floods it.
        let own = optional(conn.query_row(
            "SELECT collection_id, playlist_id FROM schedules WHERE id = ?1",
            [schedule_id],
            |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
        ))?;
        let key = match own {
            Some((Some(id), _)) => Some(ContentKey {
                kind: ContentKind::Collection,
                id,
            }),
            Some((None, Some(id))) => Some(ContentKey {
                kind: ContentKind::Playlist,
                id,
            }),
            _ => None,
        };
        if let Some(key) = key {
            slots.push(Slot::flood(key, PlaybackOrder::Chronological));
        }
    }
    Ok(slots)
}

/// One `schedule_items` row as stored, before its text is decoded.
struct SlotRow {
    id: i64,
    collection_type: String,
    collection_id: Option<i64>,
    media_item_id: Option<i64>,
    playlist_id: Option<i64>,
    playback_order: String,
    playout_mode: String,
    multiple_count: Option<i64>,
    hours: i64,
    minutes: i64,
    tail_mode: Option<String>,
    start_type: String,
    start_time: Option<String>,
    behavior: Option<String>,
    custom_title: Option<String>,
    guide_mode: String,
    fillers: Fillers,
}

impl SlotRow {
    /// The builder's slot, or what makes the row unplayable as stored.
    fn slot(&self) -> Result<Slot, RowError> {
        let content_type: SlotContent = decode("collection_type", &self.collection_type)?;
        let duration_ms = (self.hours * 60 + self.minutes) * 60_000;
        let mode = match decode::<SlotMode>("playout_mode", &self.playout_mode)? {
            SlotMode::Flood => Mode::Flood,
            SlotMode::One => Mode::One,
            SlotMode::Multiple => {
                let count = self.multiple_count.ok_or(RowError::Missing {
                    column: "multiple_count",
                    needed_for: "playout_mode multiple",
                })?;
                Mode::Multiple(count.clamp(1, u32::MAX as i64) as u32)
            }
            SlotMode::Duration if duration_ms > 0 => Mode::Duration {
                duration_ms,
                tail: match &self.tail_mode {
                    Some(text) => decode("tail_mode", text)?,
                    None => TailMode::None,
                },
            },
            SlotMode::Duration => {
                return Err(RowError::Missing {
                    column: "playout_duration_minutes",
                    needed_for: "playout_mode duration",
                })
            }
        };
        let fixed_start = match decode::<StartType>("start_type", &self.start_type)? {
            StartType::Dynamic => None,
            StartType::Fixed => {
                let text = self.start_time.as_deref().ok_or(RowError::Missing {
                    column: "start_time",
                    needed_for: "start_type fixed",
                })?;
                let time = parse_time(text).ok_or_else(|| RowError::NotATime {
                    column: "start_time",
                    value: text.chars().take(32).collect(),
                })?;
                let behavior = match &self.behavior {
                    Some(text) => decode("fixed_start_time_behavior", text)?,
                    None => FixedStartBehavior::Strict,
                };
                Some(FixedStart {
                    time,
                    flexible: behavior == FixedStartBehavior::Flexible,
                })
            }
        };
        Ok(Slot {
            content: content_key(
                content_type,
                self.collection_id,
                self.media_item_id,
                self.playlist_id,
            ),
            order: decode("playback_order", &self.playback_order)?,
            mode,
            fixed_start,
            custom_title: self.custom_title.as_deref().map(SmolStr::from),
            guide_mode: decode("guide_mode", &self.guide_mode)?,
            fillers: self.fillers,
        })
    }
}

/// Why a stored row cannot become builder input.
#[derive(Debug)]
enum RowError {
    Unknown {
        column: &'static str,
        err: UnknownValue,
    },
    NotATime {
        column: &'static str,
        value: String,
    },
    Missing {
        column: &'static str,
        needed_for: &'static str,
    },
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::Unknown { column, err } => write!(f, "{column}: {err}"),
            RowError::NotATime { column, value } => {
                write!(f, "{column}: {value:?} is not a time (HH:MM:SS)")
            }
            RowError::Missing { column, needed_for } => {
                write!(f, "{column}: required for {needed_for}")
            }
        }
    }
}

fn decode<T: TextEnum>(column: &'static str, text: &str) -> Result<T, RowError> {
    text.parse()
        .map_err(|err| RowError::Unknown { column, err })
}

/// What a schedule item's content type and ids point at; `None` when the id its type needs
/// is not set (the slot plays the slate).
pub fn content_key(
    content_type: SlotContent,
    collection_id: Option<i64>,
    media_item_id: Option<i64>,
    playlist_id: Option<i64>,
) -> Option<ContentKey> {
    let (kind, id) = match content_type {
        SlotContent::Collection
        | SlotContent::SmartCollection
        | SlotContent::TelevisionShow
        | SlotContent::TelevisionSeason
        | SlotContent::Artist => (ContentKind::Collection, collection_id?),
        SlotContent::MultiCollection => (ContentKind::MultiCollection, collection_id?),
        SlotContent::Playlist => (ContentKind::Playlist, playlist_id.or(collection_id)?),
        SlotContent::MediaItem => (ContentKind::MediaItem, media_item_id.or(collection_id)?),
    };
    Some(ContentKey { kind, id })
}

struct ContentLoader<'c> {
    conn: &'c Connection,
    library: Library,
    /// media id → index in `library.media`.
    arena: HashMap<i64, u32>,
}

const MEDIA_COLUMNS: &str = "m.id, m.title, m.duration_ms, m.show_title, m.season_number,
    m.episode_number, coalesce(m.originally_available, CAST(m.year AS TEXT)),
    m.episode_number_end";
/// Playable: a length, on disk, and not failed by the validator (`library::validate`).
const PLAYABLE: &str = "m.duration_ms > 0 AND m.is_missing = 0
    AND m.id NOT IN (SELECT media_item_id FROM media_validations WHERE valid = 0)";

impl ContentLoader<'_> {
    fn load(&mut self, key: ContentKey) -> Result<(), DbError> {
        if self.library.contents.contains_key(&key) {
            return Ok(());
        }
        let sql = match key.kind {
            ContentKind::Collection => format!(
                "SELECT {MEDIA_COLUMNS} FROM collection_items ci
                 JOIN media_items m ON m.id = ci.media_item_id
                 WHERE ci.collection_id = ?1 AND {PLAYABLE} ORDER BY ci.position, ci.id"
            ),
            ContentKind::MultiCollection => format!(
                "SELECT {MEDIA_COLUMNS} FROM multi_collection_links l
                 JOIN collection_items ci ON ci.collection_id = l.collection_id
                 JOIN media_items m ON m.id = ci.media_item_id
                 WHERE l.multi_collection_id = ?1 AND {PLAYABLE}
                 ORDER BY l.position, l.id, ci.position, ci.id"
            ),
            ContentKind::Playlist => format!(
                "SELECT {MEDIA_COLUMNS} FROM playlist_items pi
                 LEFT JOIN collection_items ci ON ci.collection_id = pi.collection_id
                 JOIN media_items m ON m.id = coalesce(pi.media_item_id, ci.media_item_id)
                 WHERE pi.playlist_id = ?1 AND {PLAYABLE}
                 ORDER BY pi.position, pi.id, ci.position, ci.id"
            ),
            ContentKind::MediaItem => {
                format!("SELECT {MEDIA_COLUMNS} FROM media_items m WHERE m.id = ?1 AND {PLAYABLE}")
            }
            ContentKind::Filler | ContentKind::BlockItem => return Ok(()),
        };
        let indices = self.query_media(&sql, key.id, 1)?;
        self.library.contents.insert(key, indices);
        self.name_identity(key)?;
        Ok(())
    }

    /// `key`'s identity from its name (`Library::identities`); a media item keeps its id.
    fn name_identity(&mut self, key: ContentKey) -> Result<(), DbError> {
        let (table, tag) = match key.kind {
            ContentKind::Collection => ("collections", "collection"),
            ContentKind::MultiCollection => ("multi_collections", "multi_collection"),
            ContentKind::Playlist => ("playlists", "playlist"),
            ContentKind::Filler => ("filler_presets", "filler"),
            ContentKind::MediaItem | ContentKind::BlockItem => return Ok(()),
        };
        let name: Option<String> = optional(self.conn.query_row(
            &format!("SELECT name FROM {table} WHERE id = ?1"),
            [key.id],
            |r| r.get(0),
        ))?;
        if let Some(name) = name {
            let identity = crate::playout::name_identity(&[tag, &name]);
            self.library.identities.insert(key, identity);
        }
        Ok(())
    }

    /// Runs a media query and returns arena indices, each repeated `weight` times.
    fn query_media(&mut self, sql: &str, id: i64, weight: i64) -> Result<Vec<u32>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map([id], |r| {
            Ok(Media {
                id: r.get(0)?,
                title: SmolStr::from(r.get::<_, String>(1)?),
                duration_ms: r.get(2)?,
                show_title: r.get::<_, Option<String>>(3)?.map(SmolStr::from),
                season: r.get(4)?,
                episode: r.get(5)?,
                date: r.get::<_, Option<String>>(6)?.map(SmolStr::from),
                episode_end: r.get(7)?,
            })
        })?;
        let mut indices = Vec::new();
        for media in rows {
            let media = media?;
            let index = match self.arena.get(&media.id) {
                Some(i) => *i,
                None => {
                    let i = self.library.media.len() as u32;
                    self.arena.insert(media.id, i);
                    self.library.media.push(media);
                    i
                }
            };
            for _ in 0..weight.clamp(1, MAX_FILLER_WEIGHT) {
                indices.push(index);
            }
        }
        Ok(indices)
    }

    fn load_preset(&mut self, id: i64) -> Result<Option<FillerPreset>, DbError> {
        let Some((mode, order)) = self.preset_mode(id)? else {
            return Ok(None);
        };
        let content = ContentKey {
            kind: ContentKind::Filler,
            id,
        };
        let items = self.filler_items(id)?;
        self.library.contents.insert(content, items);
        self.name_identity(content)?;
        Ok(Some(FillerPreset {
            id,
            mode,
            order,
            content,
        }))
    }

    /// The preset's mode and order; `None` when it is gone or does not parse.
    fn preset_mode(&self, id: i64) -> Result<Option<(FillerMode, PlaybackOrder)>, DbError> {
        let row = optional(self.conn.query_row(
            "SELECT filler_mode, count, duration_seconds, pad_to_minutes, playback_order
             FROM filler_presets WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        ))?;
        let Some((mode, count, duration_s, pad_minutes, order)) = row else {
            return Ok(None);
        };
        let decoded = decode::<FillerModeKind>("filler_mode", &mode)
            .and_then(|mode| Ok((mode, decode::<PlaybackOrder>("playback_order", &order)?)));
        let (mode, order) = match decoded {
            Ok(pair) => pair,
            // As for a schedule item: a preset the API would refuse plays nothing rather
            // than a guess, and the log names it; slots that use it get no such filler.
            Err(err) => {
                tracing::warn!(filler_preset = id, %err, "filler preset left out of the build");
                return Ok(None);
            }
        };
        // The parameters are the API's to require; a missing one keeps its default here
        // (`duration` without seconds fills nothing).
        let mode = match mode {
            FillerModeKind::Count => FillerMode::Count(count.unwrap_or(1).clamp(1, 1000) as u32),
            FillerModeKind::Pad => {
                FillerMode::Pad(pad_minutes.unwrap_or(30).clamp(1, 24 * 60) as u32)
            }
            FillerModeKind::Duration => FillerMode::Duration(duration_s.unwrap_or(0).max(0) * 1000),
        };
        Ok(Some((mode, order)))
    }

    /// The playable media of the preset's items (weighted, within each item's duration
    /// bounds), as library indices.
    fn filler_items(&mut self, preset_id: i64) -> Result<Vec<u32>, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, collection_type, collection_id, media_item_id, weight,
                    min_duration_seconds, max_duration_seconds
             FROM filler_items WHERE preset_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([preset_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        let mut items = Vec::new();
        for (item_id, kind, collection_id, media_item_id, weight, min_s, max_s) in rows {
            let kind = match kind
                .as_deref()
                .map(|k| decode::<FillerContent>("collection_type", k))
            {
                None => None,
                Some(Ok(kind)) => Some(kind),
                Some(Err(err)) => {
                    tracing::warn!(
                        filler_preset = preset_id,
                        filler_item = item_id,
                        %err,
                        "filler item left out of the build"
                    );
                    continue;
                }
            };
            let Some((sql, source_id)) = filler_source(media_item_id, kind, collection_id) else {
                continue;
            };
            let min_ms = min_s.unwrap_or(0) * 1000;
            let max_ms = max_s.map(|s| s * 1000).unwrap_or(i64::MAX);
            let found = self.query_media(&sql, source_id, weight)?;
            items.extend(found.into_iter().filter(|i| {
                let d = self.library.media[*i as usize].duration_ms;
                d >= min_ms && d <= max_ms
            }));
        }
        Ok(items)
    }
}

/// The query for one filler item's media and its parameter: a media item, a playlist's
/// items or a collection's; `None` when the item names nothing.
fn filler_source(
    media_item_id: Option<i64>,
    kind: Option<FillerContent>,
    collection_id: Option<i64>,
) -> Option<(String, i64)> {
    Some(match (media_item_id, kind, collection_id) {
        (Some(mid), _, _) => (
            format!("SELECT {MEDIA_COLUMNS} FROM media_items m WHERE m.id = ?1 AND {PLAYABLE}"),
            mid,
        ),
        (None, Some(FillerContent::Playlist), Some(pid)) => (
            format!(
                "SELECT {MEDIA_COLUMNS} FROM playlist_items pi
                 LEFT JOIN collection_items ci ON ci.collection_id = pi.collection_id
                 JOIN media_items m ON m.id = coalesce(pi.media_item_id, ci.media_item_id)
                 WHERE pi.playlist_id = ?1 AND {PLAYABLE}
                 ORDER BY pi.position, pi.id, ci.position, ci.id"
            ),
            pid,
        ),
        (None, _, Some(cid)) => (
            format!(
                "SELECT {MEDIA_COLUMNS} FROM collection_items ci
                 JOIN media_items m ON m.id = ci.media_item_id
                 WHERE ci.collection_id = ?1 AND {PLAYABLE} ORDER BY ci.position, ci.id"
            ),
            cid,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SlotRow {
        SlotRow {
            id: 7,
            collection_type: "collection".into(),
            collection_id: Some(3),
            media_item_id: None,
            playlist_id: None,
            playback_order: "shuffle".into(),
            playout_mode: "duration".into(),
            multiple_count: None,
            hours: 1,
            minutes: 30,
            tail_mode: Some("filler".into()),
            start_type: "fixed".into(),
            start_time: Some("20:00:00".into()),
            behavior: Some("flexible".into()),
            custom_title: None,
            guide_mode: "hide".into(),
            fillers: Fillers::default(),
        }
    }

    #[test]
    fn a_stored_row_decodes_once_into_a_slot() {
        let slot = row().slot().unwrap();
        assert_eq!(
            slot.content,
            Some(ContentKey {
                kind: ContentKind::Collection,
                id: 3
            })
        );
        assert_eq!(slot.order, PlaybackOrder::Shuffled);
        assert_eq!(
            slot.mode,
            Mode::Duration {
                duration_ms: 90 * 60_000,
                tail: TailMode::Filler
            }
        );
        assert!(slot.fixed_start.is_some_and(|f| f.flexible));
        assert_eq!(slot.guide_mode, crate::kinds::GuideMode::Hide);
    }

    /// Makes one field of a good row bad.
    type Spoil = fn(&mut SlotRow);

    #[test]
    fn a_row_that_does_not_decode_is_an_error_naming_the_column() {
        let cases: [(Spoil, &str); 8] = [
            (
                |r| r.collection_type = "shelf".into(),
                "collection_type: unknown value \"shelf\"",
            ),
            (
                |r| r.playback_order = "backwards".into(),
                "playback_order: unknown value",
            ),
            (
                |r| r.playout_mode = "twice".into(),
                "playout_mode: unknown value",
            ),
            (
                |r| r.tail_mode = Some("static".into()),
                "tail_mode: unknown value",
            ),
            (
                |r| r.start_type = "soon".into(),
                "start_type: unknown value",
            ),
            (
                |r| r.start_time = Some("25:99".into()),
                "start_time: \"25:99\" is not a time",
            ),
            (
                |r| r.guide_mode = "loud".into(),
                "guide_mode: unknown value",
            ),
            (
                |r| (r.hours, r.minutes) = (0, 0),
                "playout_duration_minutes: required for playout_mode duration",
            ),
        ];
        for (spoil, want) in cases {
            let mut r = row();
            spoil(&mut r);
            let err = r.slot().expect_err(want).to_string();
            assert!(err.starts_with(want), "{err} (wanted {want})");
        }
        let mut r = row();
        r.playout_mode = "multiple".into();
        assert_eq!(
            r.slot().unwrap_err().to_string(),
            "multiple_count: required for playout_mode multiple"
        );
        r.multiple_count = Some(4);
        assert_eq!(r.slot().unwrap().mode, Mode::Multiple(4));
    }
}
