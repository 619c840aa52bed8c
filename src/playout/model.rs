//! What the builder reads and what it produces. Inputs are plain data the scheduler loads
//! from SQLite (or a test writes by hand); the output is the timeline, one `Item` per row.

use std::collections::HashMap;

use smol_str::SmolStr;

pub use super::blocks::{Block, BlockItem, BlockPlan, DayPlan, Placement, NO_BLOCKS};
pub use super::deco::{Asset, Breaks, DeadAir, Deco, Window as DecoWindow, NO_DECO};
use super::order::Anchor;
pub use crate::kinds::{FillerKind, GuideMode, PlaybackOrder, TailMode};

/// One playable media item, as far as scheduling cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub id: i64,
    /// The item's own title (an episode's title, a movie's title).
    pub title: SmolStr,
    pub duration_ms: i64,
    /// Set for episodes: the guide shows the show as the title, the item as the sub-title.
    pub show_title: Option<SmolStr>,
    pub season: Option<i32>,
    pub episode: Option<i32>,
    /// The last episode of a multi-episode file (`S01E01-E02`); `None` for a single one.
    pub episode_end: Option<i32>,
    /// `originally_available` ("1999-05-01") or the year ("1999"): sorts as text.
    pub date: Option<SmolStr>,
}

impl Media {
    /// `(guide title, episode title)`.
    fn guide_titles(&self) -> (SmolStr, Option<SmolStr>) {
        match &self.show_title {
            Some(show) if !show.is_empty() => (show.clone(), Some(self.title.clone())),
            _ => (self.title.clone(), None),
        }
    }
}

/// Where a slot's or a filler's media come from; the key of a cursor in the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentKey {
    pub kind: ContentKind,
    pub id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentKind {
    Collection,
    MultiCollection,
    Playlist,
    MediaItem,
    /// A filler preset's items, flattened.
    Filler,
    /// Never a content: the key of one block item's own cursor (`blocks`), so each item
    /// continues its own sequence from airing to airing, whatever else reads its content.
    BlockItem,
}

impl ContentKind {
    pub fn code(self) -> u8 {
        match self {
            ContentKind::Collection => 0,
            ContentKind::MultiCollection => 1,
            ContentKind::Playlist => 2,
            ContentKind::MediaItem => 3,
            ContentKind::Filler => 4,
            ContentKind::BlockItem => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<ContentKind> {
        Some(match code {
            0 => ContentKind::Collection,
            1 => ContentKind::MultiCollection,
            2 => ContentKind::Playlist,
            3 => ContentKind::MediaItem,
            4 => ContentKind::Filler,
            5 => ContentKind::BlockItem,
            _ => return None,
        })
    }
}

/// Everything the builder may play: a media arena and, per content, indices into it.
/// Contents hold only playable media (known, non-zero duration, not missing).
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub media: Vec<Media>,
    pub contents: HashMap<ContentKey, Vec<u32>>,
    /// What seeds a content's (or a block item's) shuffles besides the playout's seed: a
    /// hash of its name, so a channel exported as YAML and imported on another server,
    /// where its collections have other row ids, shuffles the same way. A key without one
    /// uses its row id.
    pub identities: HashMap<ContentKey, u64>,
}

impl Library {
    pub fn content(&self, key: ContentKey) -> &[u32] {
        self.contents.get(&key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn identity(&self, key: ContentKey) -> u64 {
        self.identities.get(&key).copied().unwrap_or(key.id as u64)
    }
}

/// A name's identity for `Library::identities` (FNV-1a: stable across builds and versions,
/// unlike std's hasher).
pub fn name_identity(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Play until the next fixed start time (forever when there is none).
    Flood,
    One,
    /// Play this many (≥ 1).
    Multiple(u32),
    /// Play what fits in this long (> 0), then the tail.
    Duration {
        duration_ms: i64,
        tail: TailMode,
    },
}

/// A wall-clock start ("every day at 20:00" in the configured zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedStart {
    pub time: jiff::civil::Time,
    /// Strict waits for the next occurrence; flexible starts at once when today's has passed.
    pub flexible: bool,
}

/// Filler presets by role; `None` falls back to the channel's, then to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fillers {
    pub pre_roll: Option<i64>,
    pub mid_roll: Option<i64>,
    pub post_roll: Option<i64>,
    pub tail: Option<i64>,
    pub fallback: Option<i64>,
}

impl Fillers {
    /// `self` where set, else `base`.
    pub fn or(self, base: Fillers) -> Fillers {
        Fillers {
            pre_roll: self.pre_roll.or(base.pre_roll),
            mid_roll: self.mid_roll.or(base.mid_roll),
            post_roll: self.post_roll.or(base.post_roll),
            tail: self.tail.or(base.tail),
            fallback: self.fallback.or(base.fallback),
        }
    }
}

/// One schedule item.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// `None`: the slot refers to nothing playable; it plays the offline slate.
    pub content: Option<ContentKey>,
    pub order: PlaybackOrder,
    pub mode: Mode,
    pub fixed_start: Option<FixedStart>,
    pub custom_title: Option<SmolStr>,
    pub guide_mode: GuideMode,
    pub fillers: Fillers,
}

impl Slot {
    /// A dynamic slot that floods `content` in `order`: the common case and the tests' base.
    pub fn flood(content: ContentKey, order: PlaybackOrder) -> Slot {
        Slot {
            content: Some(content),
            order,
            mode: Mode::Flood,
            fixed_start: None,
            custom_title: None,
            guide_mode: GuideMode::Normal,
            fillers: Fillers::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillerMode {
    /// Play this many items.
    Count(u32),
    /// Play items while they fit in this long.
    Duration(i64),
    /// Fill up to the next multiple of this many minutes of the hour (:00/:30 for 30).
    Pad(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FillerPreset {
    pub id: i64,
    pub mode: FillerMode,
    pub order: PlaybackOrder,
    /// Its media live in `Library::contents` under `ContentKey { kind: Filler, id }`.
    pub content: ContentKey,
}

/// Everything one build reads.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub library: &'a Library,
    pub slots: &'a [Slot],
    pub presets: &'a [FillerPreset],
    /// The channel's fillers, used where a slot sets none.
    pub channel_fillers: Fillers,
    /// The playout's stored seed: shuffles and random picks derive from it alone.
    pub seed: u64,
    /// Start each content at a seeded position rather than its first item (the schedule's
    /// `random_start_point`), so two channels of one show do not air the same episode.
    pub random_start_point: bool,
    /// Play the slots in a new seeded order each pass (the schedule's
    /// `shuffle_schedule_items`); ignored when a slot has a fixed start, whose order matters.
    pub shuffle_slots: bool,
    /// Keep the parts of a multi-part episode together, in order, when an order shuffles
    /// or picks at random (the schedule's `keep_multi_part_episodes_together`).
    pub keep_multi_part: bool,
    /// The playout's `daily_reset_time` (local, in `time_zone`): each day at this time the
    /// schedule starts over from its first slot.
    pub daily_reset: Option<jiff::civil::Time>,
    pub time_zone: &'a jiff::tz::TimeZone,
    /// The blocks the playout's templates place in each day (`&NO_BLOCKS`: none); an
    /// airing takes precedence over the schedule, which fills the rest of the day.
    pub blocks: &'a BlockPlan,
    /// The channel's deco (`&NO_DECO`: none): breaks between programmes, dead-air filler.
    pub deco: &'a Deco,
}

impl Input<'_> {
    pub fn preset(&self, id: Option<i64>) -> Option<&FillerPreset> {
        let id = id?;
        self.presets.iter().find(|p| p.id == id)
    }
}

/// The title of the slate.
pub const OFFLINE_TITLE: &str = "Offline";

/// One row of the timeline. `finish_ms` of an item is `start_ms` of the next, always.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `None`: the offline slate.
    pub media_id: Option<i64>,
    pub title: SmolStr,
    pub episode_title: Option<SmolStr>,
    pub start_ms: i64,
    pub finish_ms: i64,
    /// Where playback starts inside the media (the second half of a mid-rolled item).
    pub in_point_ms: i64,
    pub filler_kind: Option<FillerKind>,
    pub custom_title: Option<SmolStr>,
    pub guide_mode: GuideMode,
    /// No watermark on this item (its block item disables them), whatever the channel's.
    pub watermark_off: bool,
    /// The builder's state after this item: set on the last item of each step, so a rebuild
    /// can resume exactly there. Boxed: most items carry none.
    pub anchor: Option<Box<Anchor>>,
}

impl Item {
    pub(crate) fn media(media: &Media, start_ms: i64, finish_ms: i64, in_point_ms: i64) -> Item {
        let (title, episode_title) = media.guide_titles();
        Item {
            media_id: Some(media.id),
            title,
            episode_title,
            start_ms,
            finish_ms,
            in_point_ms,
            filler_kind: None,
            custom_title: None,
            guide_mode: GuideMode::Normal,
            watermark_off: false,
            anchor: None,
        }
    }

    pub(crate) fn offline(start_ms: i64, finish_ms: i64) -> Item {
        Item {
            media_id: None,
            title: SmolStr::new_static(OFFLINE_TITLE),
            episode_title: None,
            start_ms,
            finish_ms,
            in_point_ms: 0,
            filler_kind: Some(FillerKind::Offline),
            custom_title: None,
            guide_mode: GuideMode::Normal,
            watermark_off: false,
            anchor: None,
        }
    }

    pub fn duration_ms(&self) -> i64 {
        self.finish_ms - self.start_ms
    }
}
