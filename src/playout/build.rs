//! The builder: walks the schedule's slots from an anchor and a start instant, appending
//! items until the end of the range. Each step (one unit of content with its filler, a gap
//! fill, a tail) is atomic: its last item carries the anchor after it, so a rebuild can
//! resume at any step boundary and reproduce what follows exactly.
//!
//! Contiguity is by construction: every item starts at the running clock `t` and moves it to
//! its finish; nothing else moves `t`.

use super::blocks::{Airing, Airings};
use super::clock;
use super::deco::{self, Breaks, DeadAir};
use super::model::{
    ContentKey, ContentKind, FillerKind, FillerMode, FillerPreset, Fillers, Input, Item, Mode,
    PlaybackOrder, Slot, TailMode,
};
use super::order::{self, AiringState, Anchor, Sequencer};

/// A step that adds no time this many times in a row (beyond one pass over the slots) plays
/// the slate instead, so a schedule of empty or zero-window slots can never spin.
const MAX_IDLE_STEPS_BEYOND_SLOTS: usize = 2;
/// The slate for a slot with nothing to play runs to the next :00 or :30, which keeps the
/// guide tidy and lets a newly filled collection take over at a clean boundary.
const OFFLINE_PAD_MINUTES: u32 = 30;
/// Filler picks that do not fit the remaining time before a fill gives up (ErsatzTV's
/// "discard to fill attempts"); past it, fallback filler or the slate covers the rest.
const MAX_FILL_DISCARDS: usize = 8;
/// Items one filler block or one gap may hold: bounds a pathological preset (thousands of
/// one-second clips) without limiting any real one.
const MAX_ITEMS_PER_FILL: usize = 500;
/// Picks tried to find a playable (non-zero) media before the slot counts as empty.
const MAX_UNPLAYABLE_SKIPS: usize = 16;
/// A media item shorter than twice this is not split for a mid-roll.
const MIN_MID_ROLL_PART_MS: i64 = 60_000;

/// The items from `from_ms` to at least `until_ms` (the last step may end after it), and the
/// state after the last item.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub items: Vec<Item>,
    pub anchor: Anchor,
}

pub fn build(input: &Input<'_>, anchor: Anchor, from_ms: i64, until_ms: i64) -> Build {
    let mut builder = Builder::new(input, anchor, from_ms);
    let mut next_reset = input
        .daily_reset
        .map(|time| first_reset(from_ms, time, input.time_zone, builder.state.reset_ms));
    let mut n_idle = 0;
    while builder.t < until_ms {
        if let Some(reset_ms) = next_reset.filter(|r| builder.t >= *r) {
            // Resuming exactly at a reset not yet applied.
            builder.reset(reset_ms);
            next_reset = input
                .daily_reset
                .map(|time| clock::next_occurrence(reset_ms + 1, time, input.time_zone));
        }
        let (t_before, n_before) = (builder.t, builder.items.len());
        builder.step_in_day();
        if builder.t == t_before {
            n_idle += 1;
            if n_idle > input.slots.len() + MAX_IDLE_STEPS_BEYOND_SLOTS {
                let end = clock::next_boundary(builder.t, OFFLINE_PAD_MINUTES, input.time_zone);
                builder.offline(end);
                n_idle = 0;
            }
        } else {
            n_idle = 0;
        }
        if let Some(reset_ms) = next_reset.filter(|r| builder.t >= *r) {
            // The daily reset: what runs at that instant is cut there (ErsatzTV resets the
            // playout at its daily rebuild time and builds afresh from then), and the schedule
            // starts over from its first slot with every content from its start.
            builder.cut_at(reset_ms);
            builder.reset(reset_ms);
            next_reset = input
                .daily_reset
                .map(|time| clock::next_occurrence(reset_ms + 1, time, input.time_zone));
        }
        if builder.items.len() > n_before {
            builder.mark_anchor();
        }
    }
    Build {
        items: builder.items,
        anchor: builder.state,
    }
}

/// The first daily reset at or after `from_ms` that the state has not applied yet.
fn first_reset(
    from_ms: i64,
    time: jiff::civil::Time,
    tz: &jiff::tz::TimeZone,
    applied_ms: i64,
) -> i64 {
    let first = clock::next_occurrence(from_ms, time, tz);
    if first == applied_ms {
        clock::next_occurrence(first + 1, time, tz)
    } else {
        first
    }
}

/// The builder's running state; `script` drives the same primitives one verb at a time.
pub(super) struct Builder<'i, 'a> {
    pub(super) input: &'i Input<'a>,
    seq: Sequencer,
    pub(super) state: Anchor,
    pub(super) items: Vec<Item>,
    /// The running clock: the start of the next item.
    pub(super) t: i64,
    /// `Input::shuffle_slots`, when it applies (no fixed starts).
    shuffle_slots: bool,
    /// The current pass's slot order, when shuffled.
    slot_order: Option<(u32, Vec<u32>)>,
    /// When the playout's blocks air around `t`.
    airings: Airings,
}

/// What a rollback restores.
pub(super) struct Mark {
    n_items: usize,
    t: i64,
    state: Anchor,
}

impl<'i, 'a> Builder<'i, 'a> {
    pub(super) fn new(input: &'i Input<'a>, anchor: Anchor, from_ms: i64) -> Builder<'i, 'a> {
        Builder {
            input,
            seq: Sequencer::new(input.random_start_point, input.keep_multi_part),
            state: anchor,
            items: Vec::new(),
            t: from_ms,
            shuffle_slots: input.shuffle_slots
                && input.slots.iter().all(|s| s.fixed_start.is_none()),
            slot_order: None,
            airings: Airings::default(),
        }
    }

    /// One step: a block item's turn while a block airs, else the schedule's step, which
    /// gives way to the next airing (a unit that would run into it is not played: the gap
    /// before the airing is filled instead, and the schedule resumes after it as it was).
    fn step_in_day(&mut self) {
        let (airing, next) = self
            .airings
            .at(self.input.blocks, self.t, self.input.time_zone);
        if let Some(airing) = airing {
            self.block_turn(airing);
            return;
        }
        self.state.airing = None;
        let Some(next) = next else {
            self.step();
            return;
        };
        let mark = self.mark();
        self.step();
        if self.t > next {
            self.rollback(mark);
            self.fill_gap(next, self.input.channel_fillers.fallback);
        }
    }

    /// The next turn of an airing: its items in index order, one media item each, cycling
    /// until the airing is over. Where the next item would run past the end and the block
    /// stops before the end, it is not played (its cursor is kept for the next airing) and
    /// the rest of the airing is filled; an airing with nothing playable is filled whole.
    fn block_turn(&mut self, airing: Airing) {
        let block = &self.input.blocks.blocks[airing.block as usize];
        let first = match self.state.airing {
            Some(state) if state.start_ms == airing.start_ms => state.next as usize,
            _ => 0,
        };
        let n_items = block.items.len();
        for k in 0..n_items {
            let index = (first + k) % n_items;
            let item = &block.items[index];
            let Some(content) = item.content else {
                continue;
            };
            let mark = self.mark();
            let cursor_key = ContentKey {
                kind: ContentKind::BlockItem,
                id: item.id,
            };
            let Some(picked) = self.pick(content, cursor_key, item.order) else {
                continue;
            };
            let media = &self.input.library.media[picked as usize];
            if block.stop_before_end && self.t + media.duration_ms > airing.end_ms {
                self.rollback(mark);
                break;
            }
            let mut programme = Item::media(media, self.t, self.t + media.duration_ms, 0);
            programme.guide_mode = item.guide_mode;
            programme.watermark_off = item.disable_watermarks;
            self.t = programme.finish_ms;
            self.items.push(programme);
            self.deco_break(block.stop_before_end.then_some(airing.end_ms));
            self.state.airing = Some(AiringState {
                start_ms: airing.start_ms,
                next: ((index + 1) % n_items) as u32,
            });
            return;
        }
        self.fill_gap(airing.end_ms, self.input.channel_fillers.fallback);
        self.state.airing = None;
    }

    /// The next playable media of `content`, its cursor kept under `cursor_key`.
    pub(super) fn pick(
        &mut self,
        content: ContentKey,
        cursor_key: ContentKey,
        order: PlaybackOrder,
    ) -> Option<u32> {
        let library = self.input.library;
        let seed = self.seed();
        for _ in 0..MAX_UNPLAYABLE_SKIPS {
            let index =
                self.seq
                    .next_keyed(library, content, cursor_key, order, seed, &mut self.state)?;
            if library.media[index as usize].duration_ms > 0 {
                return Some(index);
            }
        }
        None
    }

    fn step(&mut self) {
        let slots = self.input.slots;
        if slots.is_empty() {
            let end = clock::next_boundary(self.t, OFFLINE_PAD_MINUTES, self.input.time_zone);
            self.offline(end);
            return;
        }
        let index = self.slot_index();
        let slot = &slots[index];
        let fillers = slot.fillers.or(self.input.channel_fillers);
        if !self.state.entered && !self.enter(slot, fillers) {
            return;
        }
        let content = slot
            .content
            .filter(|key| !self.input.library.content(*key).is_empty());
        let Some(content) = content else {
            self.nothing_to_play(index, slot, fillers);
            return;
        };
        match slot.mode {
            Mode::Flood => self.step_flood(index, slot, content, fillers),
            Mode::One => {
                if !self.unit(slot, content, fillers) {
                    self.fill_gap(self.offline_end(), fillers.fallback);
                }
                self.state.advance_slot(slots.len());
            }
            Mode::Multiple(count) => {
                if !self.unit(slot, content, fillers) {
                    self.fill_gap(self.offline_end(), fillers.fallback);
                    self.state.advance_slot(slots.len());
                    return;
                }
                self.state.played += 1;
                if self.state.played >= count.max(1) {
                    self.state.advance_slot(slots.len());
                }
            }
            Mode::Duration { tail, .. } => self.step_duration(slot, content, fillers, tail),
        }
    }

    /// Enters the slot at the running clock. False when it has a fixed start still ahead:
    /// the gap up to it is filled, and waiting is its own step (re-entering at the start
    /// finds no wait).
    fn enter(&mut self, slot: &Slot, fillers: Fillers) -> bool {
        if let Some(fixed) = slot.fixed_start {
            let tz = self.input.time_zone;
            let target = if fixed.flexible {
                clock::occurrence_today(self.t, fixed.time, tz).max(self.t)
            } else {
                clock::next_occurrence(self.t, fixed.time, tz)
            };
            if target > self.t {
                self.fill_gap(target, fillers.fallback);
                return false;
            }
        }
        self.state.entered = true;
        if let Mode::Duration { duration_ms, .. } = slot.mode {
            self.state.block_end_ms = Some(self.t + duration_ms.max(0));
        }
        true
    }

    /// A slot with nothing to play (missing or emptied collection) plays the slate for its
    /// time, never a dead channel.
    fn nothing_to_play(&mut self, index: usize, slot: &Slot, fillers: Fillers) {
        let end = match slot.mode {
            Mode::Duration { .. } => self.state.block_end_ms.unwrap_or(self.t),
            Mode::Flood => self
                .flood_limit(index)
                .unwrap_or_else(|| self.offline_end()),
            Mode::One | Mode::Multiple(_) => self.offline_end(),
        };
        self.fill_gap(end, fillers.fallback);
        self.state.advance_slot(self.input.slots.len());
    }

    /// A flood slot plays units until the next fixed start (its limit), if there is one.
    fn step_flood(&mut self, index: usize, slot: &Slot, content: ContentKey, fillers: Fillers) {
        let limit = self.flood_limit(index);
        let mark = self.mark();
        let played = self.unit(slot, content, fillers);
        match limit {
            Some(limit) if self.t > limit || !played => {
                self.rollback(mark);
                self.fill_gap(limit, fillers.fallback);
                self.state.advance_slot(self.input.slots.len());
            }
            _ if !played => {
                self.rollback(mark);
                self.fill_gap(self.offline_end(), fillers.fallback);
            }
            _ => {}
        }
    }

    /// A duration slot plays units while they fit its block, then its tail.
    fn step_duration(
        &mut self,
        slot: &Slot,
        content: ContentKey,
        fillers: Fillers,
        tail: TailMode,
    ) {
        let end = self.state.block_end_ms.unwrap_or(self.t);
        let mark = self.mark();
        let played = self.unit(slot, content, fillers);
        // The first unit plays even if it overruns the block: otherwise an item longer
        // than the block would block the slot forever.
        let fits = played && (self.t <= end || self.state.played == 0);
        if fits {
            self.state.played += 1;
            return;
        }
        self.rollback(mark);
        match tail {
            TailMode::None => {}
            TailMode::Offline => self.offline(end),
            TailMode::Filler => {
                if let Some(preset) = self.input.preset(fillers.tail) {
                    self.fill_with(preset, end, FillerKind::Tail);
                }
                self.fill_gap(end, fillers.fallback);
            }
        }
        self.state.advance_slot(self.input.slots.len());
    }

    /// Pre-roll, the content item (split around a mid-roll), post-roll, then padding.
    /// Returns false when the content had nothing playable (nothing was emitted for it).
    pub(super) fn unit(&mut self, slot: &Slot, content: ContentKey, fillers: Fillers) -> bool {
        let library = self.input.library;
        let seed = self.seed();
        let mut picked = None;
        for _ in 0..MAX_UNPLAYABLE_SKIPS {
            let Some(index) = self
                .seq
                .next(library, content, slot.order, seed, &mut self.state)
            else {
                break;
            };
            if library.media[index as usize].duration_ms > 0 {
                picked = Some(index);
                break;
            }
        }
        let Some(index) = picked else {
            return false;
        };
        let media = &library.media[index as usize];
        let pre = self.input.preset(fillers.pre_roll);
        let mid = self.input.preset(fillers.mid_roll);
        let post = self.input.preset(fillers.post_roll);
        if let Some(preset) = pre {
            self.filler_block(preset, FillerKind::PreRoll);
        }
        let duration = media.duration_ms;
        let split = mid.is_some_and(|p| !matches!(p.mode, FillerMode::Pad(_)))
            && duration >= 2 * MIN_MID_ROLL_PART_MS;
        if let (true, Some(preset)) = (split, mid) {
            let half = duration / 2;
            self.push_content(slot, Item::media(media, self.t, self.t + half, 0));
            self.filler_block(preset, FillerKind::MidRoll);
            let rest = duration - half;
            self.push_content(slot, Item::media(media, self.t, self.t + rest, half));
        } else {
            self.push_content(slot, Item::media(media, self.t, self.t + duration, 0));
        }
        if let Some(preset) = post {
            self.filler_block(preset, FillerKind::PostRoll);
        }
        self.deco_break(None);
        let pad = [pre, mid, post]
            .into_iter()
            .flatten()
            .find_map(|p| match p.mode {
                FillerMode::Pad(minutes) => Some((p, minutes)),
                _ => None,
            });
        if let Some((preset, minutes)) = pad {
            // Already on a boundary: nothing to pad.
            let target = clock::next_boundary(self.t - 1, minutes, self.input.time_zone);
            if target > self.t {
                self.fill_with(preset, target, FillerKind::Pad);
                self.fill_gap(target, fillers.fallback);
            }
        }
        true
    }

    fn push_content(&mut self, slot: &Slot, mut item: Item) {
        item.custom_title = slot.custom_title.clone();
        item.guide_mode = slot.guide_mode;
        self.t = item.finish_ms;
        self.items.push(item);
    }

    /// A count or duration preset played whole (pad presets pad after the unit instead).
    fn filler_block(&mut self, preset: &FillerPreset, kind: FillerKind) {
        match preset.mode {
            FillerMode::Count(count) => {
                let count = (count as usize).min(MAX_ITEMS_PER_FILL);
                for _ in 0..count {
                    let Some(index) = self.next_filler(preset) else {
                        return;
                    };
                    let media = &self.input.library.media[index as usize];
                    self.push_filler(
                        Item::media(media, self.t, self.t + media.duration_ms, 0),
                        kind,
                    );
                }
            }
            FillerMode::Duration(duration_ms) => {
                let end = self.t + duration_ms.max(0);
                self.fill_with(preset, end, kind);
            }
            FillerMode::Pad(_) => {}
        }
    }

    /// Whole filler items while they fit before `end`; what is left stays for the caller.
    pub(super) fn fill_with(&mut self, preset: &FillerPreset, end: i64, kind: FillerKind) {
        let mut n_discards = 0;
        let mut n_items = 0;
        while self.t < end && n_discards < MAX_FILL_DISCARDS && n_items < MAX_ITEMS_PER_FILL {
            let Some(index) = self.next_filler(preset) else {
                return;
            };
            let media = &self.input.library.media[index as usize];
            if media.duration_ms <= end - self.t {
                self.push_filler(
                    Item::media(media, self.t, self.t + media.duration_ms, 0),
                    kind,
                );
                n_items += 1;
            } else {
                n_discards += 1;
            }
        }
    }

    fn next_filler(&mut self, preset: &FillerPreset) -> Option<u32> {
        self.pick(preset.content, preset.content, preset.order)
    }

    fn push_filler(&mut self, mut item: Item, kind: FillerKind) {
        item.filler_kind = Some(kind);
        self.t = item.finish_ms;
        self.items.push(item);
    }

    /// Covers `[t, end)` exactly: dead-air filler trimmed to fit (the fallback preset, or
    /// the deco's own content in its place), else the slate.
    pub(super) fn fill_gap(&mut self, end: i64, fallback: Option<i64>) {
        match self.input.deco.dead_air {
            DeadAir::Disable => {}
            DeadAir::Content(content) => self.fill_trimmed(content, PlaybackOrder::Shuffled, end),
            DeadAir::Inherit => {
                if let Some(preset) = self.input.preset(fallback) {
                    self.fill_trimmed(preset.content, preset.order, end);
                }
            }
        }
        self.offline(end);
    }

    /// Items of `content` up to `end`, the last one cut to end there.
    fn fill_trimmed(&mut self, content: ContentKey, order: PlaybackOrder, end: i64) {
        let mut n_items = 0;
        while self.t < end && n_items < MAX_ITEMS_PER_FILL {
            let Some(index) = self.pick(content, content, order) else {
                break;
            };
            let media = &self.input.library.media[index as usize];
            let finish = (self.t + media.duration_ms).min(end);
            self.push_filler(Item::media(media, self.t, finish, 0), FillerKind::Fallback);
            n_items += 1;
        }
    }

    /// A deco break after a programme, when one is due (`deco::Breaks`): `break_count`
    /// assets of the group in effect, by weight. An asset that would run past `limit` (a
    /// block's end, when it stops before it) ends the break.
    fn deco_break(&mut self, limit: Option<i64>) {
        let deco = self.input.deco;
        let due = match deco.breaks {
            Breaks::None => false,
            Breaks::BetweenProgrammes => true,
            // The first programme starts the count.
            Breaks::EveryMinutes(_) if self.state.break_ms == 0 => {
                self.state.break_ms = self.t;
                false
            }
            Breaks::EveryMinutes(minutes) => {
                self.t - self.state.break_ms >= i64::from(minutes) * 60_000
            }
        };
        if !due {
            return;
        }
        let assets = deco.assets_at(self.t, self.input.time_zone);
        let (seed, at) = (self.seed(), self.t);
        for k in 0..deco.break_count {
            let Some(asset) = deco::pick(assets, seed, at, k) else {
                break;
            };
            let media = &self.input.library.media[asset.media as usize];
            let finish = self.t + media.duration_ms;
            if media.duration_ms <= 0 || limit.is_some_and(|l| finish > l) {
                break;
            }
            self.push_filler(Item::media(media, self.t, finish, 0), FillerKind::Break);
        }
        self.state.break_ms = self.t;
    }

    /// The slate up to `end` (nothing when already there).
    pub(super) fn offline(&mut self, end: i64) {
        if end > self.t {
            self.items.push(Item::offline(self.t, end));
            self.t = end;
        }
    }

    fn offline_end(&self) -> i64 {
        clock::next_boundary(self.t, OFFLINE_PAD_MINUTES, self.input.time_zone)
    }

    /// Where a flood in slot `index` must stop: the next fixed start of the first fixed slot
    /// after it (its own next occurrence, strictly later, when it is the only one).
    fn flood_limit(&self, index: usize) -> Option<i64> {
        let slots = self.input.slots;
        let tz = self.input.time_zone;
        (1..=slots.len()).find_map(|step| {
            let other = (index + step) % slots.len();
            let fixed = slots[other].fixed_start?;
            let from = if other == index { self.t + 1 } else { self.t };
            Some(clock::next_occurrence(from, fixed.time, tz))
        })
    }

    /// The slot the state points at: in schedule order, or in this pass's shuffled order.
    fn slot_index(&mut self) -> usize {
        let slots = self.input.slots;
        let position = self.state.slot as usize % slots.len();
        if !self.shuffle_slots {
            return position;
        }
        let pass = self.state.pass;
        let order = match &self.slot_order {
            Some((cached, order)) if *cached == pass => order,
            _ => {
                let order = order::slot_order(slots.len(), self.seed(), pass);
                &self.slot_order.insert((pass, order)).1
            }
        };
        order[position] as usize
    }

    /// Drops what starts at or after `at_ms` and ends the item running then at `at_ms`.
    fn cut_at(&mut self, at_ms: i64) {
        while self.items.last().is_some_and(|i| i.start_ms >= at_ms) {
            self.items.pop();
        }
        if let Some(last) = self.items.last_mut() {
            if last.finish_ms > at_ms {
                last.finish_ms = at_ms;
            }
        }
        self.t = at_ms;
    }

    /// The schedule starts over at `at_ms` (the daily reset). The sequencer stays: its
    /// passes are keyed by seed, so sorted orders and multi-part units are not recomputed.
    fn reset(&mut self, at_ms: i64) {
        self.state = Anchor::reset(at_ms);
        self.slot_order = None;
    }

    /// The seed of the current day (see `Anchor::seed`).
    fn seed(&self) -> u64 {
        self.state.seed(self.input.seed)
    }

    pub(super) fn mark(&self) -> Mark {
        Mark {
            n_items: self.items.len(),
            t: self.t,
            state: self.state.clone(),
        }
    }

    pub(super) fn rollback(&mut self, mark: Mark) {
        self.items.truncate(mark.n_items);
        self.t = mark.t;
        self.state = mark.state;
    }

    fn mark_anchor(&mut self) {
        if let Some(last) = self.items.last_mut() {
            last.anchor = Some(Box::new(self.state.clone()));
        }
    }
}
