//! Loads what the pure builder needs for one playout from SQLite: the schedule's slots, the
//! media of every content they and their filler presets refer to, the channel's fillers and
//! the seed. Only playable media enter a content: a known, non-zero duration and not missing.

use std::collections::HashMap;

use rusqlite::Connection;
use smol_str::SmolStr;

use crate::db::{optional, DbError};
use crate::playout::clock::parse_time;
use crate::playout::{
    ContentKey, ContentKind, FillerMode, FillerPreset, Fillers, FixedStart, GuideMode, Library,
    Media, Mode, Order, Slot, Tail,
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
}

/// `None` when the playout does not exist or is inactive.
pub fn load(conn: &Connection, playout_id: i64) -> Result<Option<PlayoutInputs>, DbError> {
    let row = optional(conn.query_row(
        "SELECT p.channel_id, p.program_schedule_id, p.seed, p.is_active,
                c.fallback_filler_id, c.pre_roll_filler_id, c.post_roll_filler_id,
                p.daily_reset_time
         FROM playouts p JOIN channels c ON c.id = p.channel_id WHERE p.id = ?1",
        [playout_id],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, bool>(3)?,
                Fillers {
                    fallback: r.get(4)?,
                    pre_roll: r.get(5)?,
                    post_roll: r.get(6)?,
                    mid_roll: None,
                    tail: None,
                },
                r.get::<_, Option<String>>(7)?,
            ))
        },
    ))?;
    let Some((channel_id, schedule_id, seed, is_active, channel_fillers, daily_reset)) = row else {
        return Ok(None);
    };
    if !is_active {
        return Ok(None);
    }
    let slots = match schedule_id {
        Some(id) => load_slots(conn, id)?,
        None => Vec::new(),
    };
    let (random_start_point, shuffle_slots, keep_multi_part) = match schedule_id {
        Some(id) => optional(conn.query_row(
            "SELECT random_start_point, shuffle_schedule_items, keep_multi_part_episodes_together
             FROM schedules WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            },
        ))?
        .unwrap_or((false, false, false)),
        None => (false, false, false),
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
    let mut presets = Vec::with_capacity(preset_ids.len());
    for id in preset_ids {
        if let Some(preset) = loader.load_preset(id)? {
            presets.push(preset);
        }
    }
    Ok(Some(PlayoutInputs {
        channel_id,
        library: loader.library,
        slots,
        presets,
        channel_fillers,
        seed: seed as u64,
        random_start_point,
        shuffle_slots,
        keep_multi_part,
        // The API validates "HH:MM"; anything unreadable in an old database means no reset.
        daily_reset: daily_reset.as_deref().and_then(parse_time),
    }))
}

fn load_slots(conn: &Connection, schedule_id: i64) -> Result<Vec<Slot>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT collection_type, collection_id, media_item_id, playlist_id, playback_order,
                playout_mode, multiple_count, playout_duration_hours, playout_duration_minutes,
                tail_mode, start_type, start_time, fixed_start_time_behavior, custom_title,
                guide_mode, pre_roll_filler_id, mid_roll_filler_id, post_roll_filler_id,
                tail_filler_id, fallback_filler_id
         FROM schedule_items WHERE schedule_id = ?1 ORDER BY position, id",
    )?;
    let rows = stmt.query_map([schedule_id], |r| {
        let collection_type: String = r.get(0)?;
        let collection_id: Option<i64> = r.get(1)?;
        let media_item_id: Option<i64> = r.get(2)?;
        let playlist_id: Option<i64> = r.get(3)?;
        let order: String = r.get(4)?;
        let mode: String = r.get(5)?;
        let multiple_count: Option<i64> = r.get(6)?;
        let hours: i64 = r.get(7)?;
        let minutes: i64 = r.get(8)?;
        let tail: Option<String> = r.get(9)?;
        let start_type: String = r.get(10)?;
        let start_time: Option<String> = r.get(11)?;
        let behavior: Option<String> = r.get(12)?;
        let content = content_key(&collection_type, collection_id, media_item_id, playlist_id);
        let duration_ms = (hours * 60 + minutes) * 60_000;
        let mode = match mode.as_str() {
            "flood" => Mode::Flood,
            "multiple" => {
                Mode::Multiple(multiple_count.unwrap_or(1).clamp(1, u32::MAX as i64) as u32)
            }
            "duration" if duration_ms > 0 => Mode::Duration {
                duration_ms,
                tail: match tail.as_deref() {
                    Some("offline") => Tail::Offline,
                    Some("filler") => Tail::Filler,
                    _ => Tail::None,
                },
            },
            _ => Mode::One,
        };
        let fixed_start = match (
            start_type.as_str(),
            start_time.as_deref().and_then(parse_time),
        ) {
            ("fixed", Some(time)) => Some(FixedStart {
                time,
                flexible: behavior.as_deref() == Some("flexible"),
            }),
            _ => None,
        };
        Ok(Slot {
            content,
            order: Order::parse(&order).unwrap_or(Order::Chronological),
            mode,
            fixed_start,
            custom_title: r.get::<_, Option<String>>(13)?.map(SmolStr::from),
            guide_mode: GuideMode::parse(&r.get::<_, String>(14)?).unwrap_or(GuideMode::Normal),
            fillers: Fillers {
                pre_roll: r.get(15)?,
                mid_roll: r.get(16)?,
                post_roll: r.get(17)?,
                tail: r.get(18)?,
                fallback: r.get(19)?,
            },
        })
    })?;
    let mut slots = rows.collect::<Result<Vec<_>, _>>()?;
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
            slots.push(Slot::flood(key, Order::Chronological));
        }
    }
    Ok(slots)
}

/// What a schedule item's `collection_type` and ids point at; `None` when nothing.
pub fn content_key(
    collection_type: &str,
    collection_id: Option<i64>,
    media_item_id: Option<i64>,
    playlist_id: Option<i64>,
) -> Option<ContentKey> {
    let (kind, id) = match collection_type {
        "collection" | "smart_collection" | "television_show" | "television_season" | "artist" => {
            (ContentKind::Collection, collection_id?)
        }
        "multi_collection" => (ContentKind::MultiCollection, collection_id?),
        "playlist" => (ContentKind::Playlist, playlist_id.or(collection_id)?),
        "media_item" => (ContentKind::MediaItem, media_item_id.or(collection_id)?),
        _ => return None,
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
const PLAYABLE: &str = "m.duration_ms > 0 AND m.is_missing = 0";

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
            ContentKind::Filler => return Ok(()),
        };
        let indices = self.query_media(&sql, key.id, 1)?;
        self.library.contents.insert(key, indices);
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
        let mode = match mode.as_str() {
            "count" => FillerMode::Count(count.unwrap_or(1).clamp(1, 1000) as u32),
            "pad" => FillerMode::Pad(pad_minutes.unwrap_or(30).clamp(1, 24 * 60) as u32),
            _ => FillerMode::Duration(duration_s.unwrap_or(0).max(0) * 1000),
        };
        let content = ContentKey {
            kind: ContentKind::Filler,
            id,
        };
        let mut items = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT collection_type, collection_id, media_item_id, weight,
                    min_duration_seconds, max_duration_seconds
             FROM filler_items WHERE preset_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        for (kind, collection_id, media_item_id, weight, min_s, max_s) in rows {
            let (sql, source_id) = match (media_item_id, kind.as_deref(), collection_id) {
                (Some(mid), _, _) => (
                    format!(
                        "SELECT {MEDIA_COLUMNS} FROM media_items m WHERE m.id = ?1 AND {PLAYABLE}"
                    ),
                    mid,
                ),
                (None, Some("playlist"), Some(pid)) => (
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
                _ => continue,
            };
            let min_ms = min_s.unwrap_or(0) * 1000;
            let max_ms = max_s.map(|s| s * 1000).unwrap_or(i64::MAX);
            let found = self.query_media(&sql, source_id, weight)?;
            items.extend(found.into_iter().filter(|i| {
                let d = self.library.media[*i as usize].duration_ms;
                d >= min_ms && d <= max_ms
            }));
        }
        self.library.contents.insert(content, items);
        Ok(Some(FillerPreset {
            id,
            mode,
            order: Order::parse(&order).unwrap_or(Order::Shuffled),
            content,
        }))
    }
}
