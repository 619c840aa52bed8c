//! Blocks: time-of-day programming ("Saturday cartoons, 08:00, 4 h"). A template places
//! blocks in a day at start times; the playout's applied templates say which template lays
//! out which day of the week (the highest priority wins a day two cover). This module says
//! when blocks air (`Airings`), in the configured zone and DST-aware; `build` plays them.
//!
//! Precedence inside one day: an airing ends where the next one in the day starts, so two
//! overlapping blocks never both play (the later start wins the overlap).

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::model::{ContentKey, GuideMode, PlaybackOrder};

/// One block item: each turn of the block plays one media item of its content.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockItem {
    /// `block_items.id`: the key of the item's own cursor in the anchor.
    pub id: i64,
    /// `None`: points at nothing playable (a deleted collection); the item is skipped.
    pub content: Option<ContentKey>,
    pub order: PlaybackOrder,
    /// `Hide` for an item not in the guide (`include_in_guide` off).
    pub guide_mode: GuideMode,
    /// What it plays carries `Item::watermark_off`.
    pub disable_watermarks: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub id: i64,
    /// 1 minute to 24 hours.
    pub duration_ms: i64,
    /// Bit 0 = Sunday .. bit 6 = Saturday: the days the block may air at all.
    pub days: u8,
    /// Stop before an item that would run past the block's end (else it finishes).
    pub stop_before_end: bool,
    /// In index order.
    pub items: Vec<BlockItem>,
}

/// A block placed in a template's day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Index into `BlockPlan::blocks`.
    pub block: u32,
    pub start: Time,
}

/// A template applied to the playout for some days of the week.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPlan {
    /// Bit 0 = Sunday .. bit 6 = Saturday.
    pub days: u8,
    /// The highest covering a day lays it out; on a tie, the later plan (applied later).
    pub priority: i32,
    pub placements: Vec<Placement>,
}

/// Everything a build knows of blocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockPlan {
    pub blocks: Vec<Block>,
    pub plans: Vec<DayPlan>,
}

/// A playout with no templates applied.
pub static NO_BLOCKS: BlockPlan = BlockPlan {
    blocks: Vec::new(),
    plans: Vec::new(),
};

impl BlockPlan {
    pub fn is_empty(&self) -> bool {
        self.plans.iter().all(|p| p.placements.is_empty())
    }

    /// The plan laying out a day of the week (0 = Sunday).
    fn plan_for(&self, weekday: u8) -> Option<&DayPlan> {
        let bit = 1u8 << weekday;
        // `max_by_key` keeps the last of equal keys: the later plan wins a tie.
        self.plans
            .iter()
            .filter(|p| p.days & bit != 0)
            .max_by_key(|p| p.priority)
    }
}

/// One airing of a block: `[start_ms, end_ms)`, cut short where the next airing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Airing {
    pub block: u32,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Local days computed at once, from the day before (a block may run past midnight).
const DAYS_COMPUTED: usize = 9;
/// How long a computed window answers for: an airing that starts within it, or is running
/// in it, is in the window (its days run from the day before to a week after).
const WINDOW_VALID_MS: i64 = 6 * 86_400_000;

/// The airings around a build's clock, recomputed as the clock moves a week on, so a
/// build of many days asks the zone a few times per week, not per item.
#[derive(Debug, Default)]
pub struct Airings {
    list: Vec<Airing>,
    from_ms: i64,
    until_ms: i64,
}

impl Airings {
    /// The airing running at `t` (the latest started), and the start of the next one after
    /// `t`, if any.
    pub fn at(&mut self, plan: &BlockPlan, t: i64, tz: &TimeZone) -> (Option<Airing>, Option<i64>) {
        if plan.is_empty() {
            return (None, None);
        }
        if t < self.from_ms || t >= self.until_ms {
            self.list = airings(plan, t, tz);
            self.from_ms = t;
            self.until_ms = t + WINDOW_VALID_MS;
        }
        let current = self
            .list
            .iter()
            .rev()
            .find(|a| a.start_ms <= t && t < a.end_ms)
            .copied();
        let next = self
            .list
            .iter()
            .find(|a| a.start_ms > t)
            .map(|a| a.start_ms);
        (current, next)
    }
}

/// Every airing of the local days from the day before `t` on, by start, each ending at the
/// latest where the next starts.
pub fn airings(plan: &BlockPlan, t: i64, tz: &TimeZone) -> Vec<Airing> {
    let Ok(ts) = Timestamp::from_millisecond(t) else {
        return Vec::new();
    };
    let mut date = ts.to_zoned(tz.clone()).date();
    date = date.yesterday().unwrap_or(date);
    let mut list = Vec::new();
    for _ in 0..DAYS_COMPUTED {
        day_airings(plan, date, tz, &mut list);
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    list.sort_by_key(|a| a.start_ms);
    list.dedup_by_key(|a| a.start_ms);
    for i in 1..list.len() {
        let next_start = list[i].start_ms;
        let prev = &mut list[i - 1];
        prev.end_ms = prev.end_ms.min(next_start);
    }
    list
}

fn day_airings(plan: &BlockPlan, date: Date, tz: &TimeZone, out: &mut Vec<Airing>) {
    let weekday = date.weekday().to_sunday_zero_offset() as u8;
    let Some(day) = plan.plan_for(weekday) else {
        return;
    };
    for placement in &day.placements {
        let Some(block) = plan.blocks.get(placement.block as usize) else {
            continue;
        };
        if block.days & (1 << weekday) == 0 {
            continue;
        }
        // A start inside a DST gap airs at the instant after it; a repeated one, the first.
        let Ok(start) = date.to_datetime(placement.start).to_zoned(tz.clone()) else {
            continue;
        };
        let start_ms = start.timestamp().as_millisecond();
        out.push(Airing {
            block: placement.block,
            start_ms,
            end_ms: start_ms + block.duration_ms.max(0),
        });
    }
}
