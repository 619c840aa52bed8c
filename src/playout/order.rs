//! Playback orders (`kinds::PlaybackOrder`) applied, and where each content stands. A
//! content is played as a sequence of passes ("epochs"); each pass is a pure function of
//! (content, order, seed, epoch), so a cursor (position, epoch) is all the state a rebuild
//! needs. The cursors, the current slot and its progress together are the `Anchor`, stored
//! with the timeline.

use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::model::{ContentKey, ContentKind, Library, Media, PlaybackOrder};

/// An order's number in the anchor's compact cursors (stored: never renumber).
fn order_code(order: PlaybackOrder) -> u8 {
    match order {
        PlaybackOrder::Chronological => 0,
        PlaybackOrder::SeasonEpisode => 1,
        PlaybackOrder::Shuffled => 2,
        PlaybackOrder::Random => 3,
        PlaybackOrder::ShuffleInOrder => 4,
    }
}

fn order_from_code(code: u8) -> Option<PlaybackOrder> {
    Some(match code {
        0 => PlaybackOrder::Chronological,
        1 => PlaybackOrder::SeasonEpisode,
        2 => PlaybackOrder::Shuffled,
        3 => PlaybackOrder::Random,
        4 => PlaybackOrder::ShuffleInOrder,
        _ => return None,
    })
}

/// Where one content stands in one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "k")]
    kind: u8,
    #[serde(rename = "i")]
    id: i64,
    #[serde(rename = "o")]
    order: u8,
    /// Items taken in this pass (for `Random`: picks made in this epoch).
    #[serde(rename = "p")]
    pos: u32,
    #[serde(rename = "e")]
    epoch: u32,
    /// `Random` with multi-part episodes kept together: the parts of the unit drawn at `pos`
    /// already played (the draw moves on once the whole unit has).
    #[serde(rename = "g", default, skip_serializing_if = "is_zero")]
    part: u32,
}

impl Cursor {
    fn key(&self) -> Option<(ContentKey, PlaybackOrder)> {
        Some((
            ContentKey {
                kind: ContentKind::from_code(self.kind)?,
                id: self.id,
            },
            order_from_code(self.order)?,
        ))
    }
}

/// The builder's whole state between two items: the slot to play, its progress, and every
/// content's cursor. Serialised compactly into `playout_items.anchor`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Anchor {
    /// Index of the slot being played (modulo the slot count, so a shorter schedule is fine).
    #[serde(rename = "s")]
    pub slot: u32,
    /// Items played so far in this slot (`Multiple`); 0 means the slot is not yet entered.
    #[serde(rename = "p")]
    pub played: u32,
    /// When a `Duration` slot's block ends, once entered.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub block_end_ms: Option<i64>,
    /// Set once a slot's fixed start has been waited for (so a resume does not wait again).
    #[serde(rename = "w", default, skip_serializing_if = "is_false")]
    pub entered: bool,
    #[serde(rename = "c", default)]
    pub cursors: Vec<Cursor>,
    /// Completed passes over the slots: with `shuffle_schedule_items`, each pass plays the
    /// slots in its own seeded order.
    #[serde(rename = "q", default, skip_serializing_if = "is_zero")]
    pub pass: u32,
    /// The instant of the last daily reset applied (0: none): the schedule started over
    /// there, with the seed mixed with this instant so each day shuffles anew.
    #[serde(rename = "r", default, skip_serializing_if = "is_zero_ms")]
    pub reset_ms: i64,
    /// Inside a block airing: where it stands, so a rebuild resumes at the right item.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub airing: Option<AiringState>,
    /// When the last deco break ended (0: none yet), for breaks every N minutes.
    #[serde(rename = "k", default, skip_serializing_if = "is_zero_ms")]
    pub break_ms: i64,
}

/// How far one block airing has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiringState {
    /// The airing's start: another airing (or an edited one) starts from its first item.
    #[serde(rename = "s")]
    pub start_ms: i64,
    /// The index of the block item whose turn is next.
    #[serde(rename = "n")]
    pub next: u32,
}

fn is_zero_ms(n: &i64) -> bool {
    *n == 0
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Anchor {
    /// The state right after a daily reset at `at_ms`: the first slot, every content from
    /// its start.
    pub fn reset(at_ms: i64) -> Anchor {
        Anchor {
            reset_ms: at_ms,
            ..Anchor::default()
        }
    }

    /// The seed shuffles and random picks use: the playout's, mixed with the last reset.
    pub fn seed(&self, playout_seed: u64) -> u64 {
        if self.reset_ms == 0 {
            playout_seed
        } else {
            mix(playout_seed ^ mix(self.reset_ms as u64))
        }
    }

    /// The cursor of `key` in `order`, and whether it was just created.
    fn cursor_mut(&mut self, key: ContentKey, order: PlaybackOrder) -> (&mut Cursor, bool) {
        let found = self
            .cursors
            .iter()
            .position(|c| c.key() == Some((key, order)));
        let (index, created) = match found {
            Some(i) => (i, false),
            None => {
                self.cursors.push(Cursor {
                    kind: key.kind.code(),
                    id: key.id,
                    order: order_code(order),
                    pos: 0,
                    epoch: 0,
                    part: 0,
                });
                (self.cursors.len() - 1, true)
            }
        };
        (&mut self.cursors[index], created)
    }

    /// Puts the cursor of `key` in `order` at `pos` of its current pass (the next pick is
    /// the item there), as a scripted `skip-to-item` asks.
    pub fn seek(&mut self, key: ContentKey, order: PlaybackOrder, pos: u32) {
        let (cursor, _) = self.cursor_mut(key, order);
        cursor.pos = pos;
        cursor.part = 0;
    }

    /// Moves on to the next slot.
    pub(crate) fn advance_slot(&mut self, n_slots: usize) {
        self.slot = if n_slots == 0 {
            0
        } else {
            (self.slot as usize + 1).rem_euclid(n_slots) as u32
        };
        if self.slot == 0 {
            self.pass = self.pass.wrapping_add(1);
        }
        self.played = 0;
        self.block_end_ms = None;
        self.entered = false;
    }
}

/// SplitMix64: tiny, fast, and the same on every platform: the only randomness we use.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of one content's pass: the playout's seed, the content's identity (its name's
/// hash: `Library::identity`), its order and the pass number.
fn stream_seed(
    seed: u64,
    library: &Library,
    key: ContentKey,
    order: PlaybackOrder,
    epoch: u32,
) -> u64 {
    let tag = (u64::from(key.kind.code()) << 56) ^ (u64::from(order_code(order)) << 48);
    mix(mix(mix(seed) ^ tag ^ library.identity(key)) ^ u64::from(epoch))
}

/// Hands out the next media of a content in an order, caching each pass's sequence for the
/// length of one build (one entry per content and order: the current pass only).
#[derive(Default)]
pub struct Sequencer {
    passes: HashMap<(ContentKey, PlaybackOrder), Pass>,
    /// The schedule's `random_start_point`: a content first played starts at a seeded
    /// position of its first pass instead of its beginning.
    random_start: bool,
    /// The schedule's `keep_multi_part_episodes_together`.
    keep_multi_part: bool,
    /// Per content, its multi-part units (for `Random`), computed once per build.
    /// `None`: the content has no multi-part episode (most have none: found by a scan of
    /// the titles, without sorting).
    units: HashMap<ContentKey, Option<Rc<Units>>>,
}

/// A content in season-episode order, cut into play units: a multi-part episode is one
/// unit, every other item a unit of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    pub items: Vec<u32>,
    /// Where each unit starts in `items`.
    pub starts: Vec<u32>,
}

impl Units {
    pub fn new(content: &[u32], media: &[Media]) -> Units {
        let items = sorted(content, media, season_episode_cmp);
        let mut starts = Vec::with_capacity(items.len());
        for i in 0..items.len() {
            let continues =
                i > 0 && continues_part(&media[items[i - 1] as usize], &media[items[i] as usize]);
            if !continues {
                starts.push(i as u32);
            }
        }
        Units { items, starts }
    }

    /// Whether any unit has more than one part.
    pub fn has_multi_part(&self) -> bool {
        self.starts.len() < self.items.len()
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn unit(&self, index: usize) -> &[u32] {
        let start = self.starts[index] as usize;
        let end = self
            .starts
            .get(index + 1)
            .map_or(self.items.len(), |e| *e as usize);
        &self.items[start..end]
    }
}

/// Whether `next` is the part after `prev` of one multi-part episode: the same show and
/// season, the next episode number (after a multi-episode file's last), and titles with the
/// same stem and consecutive part markers ("Title (1)" → "Title (2)", "Part 1" → "Part 2").
pub fn continues_part(prev: &Media, next: &Media) -> bool {
    let same_show = matches!((&prev.show_title, &next.show_title), (Some(a), Some(b)) if !a.is_empty() && a == b);
    if !same_show || prev.season != next.season {
        return false;
    }
    let (Some(prev_last), Some(next_ep)) = (prev.episode_end.or(prev.episode), next.episode) else {
        return false;
    };
    if next_ep != prev_last + 1 {
        return false;
    }
    match (part_marker(&prev.title), part_marker(&next.title)) {
        (Some((stem_a, part_a)), Some((stem_b, part_b))) => {
            part_b == part_a + 1 && stem_a.eq_ignore_ascii_case(stem_b)
        }
        _ => false,
    }
}

/// Parts numbered past this are not recognised (nobody splits an episode into more).
const MAX_PART_NUMBER: u32 = 20;

/// `(stem, part)` of a title ending in a part marker: "Title (2)", "Title (Part 2)",
/// "Title, Part Two", "Title - Pt. II", "Title Part 2".
pub fn part_marker(title: &str) -> Option<(&str, u32)> {
    let t = title.trim_end();
    let (stem, marker) = if let Some(inner) = t.strip_suffix(')') {
        let open = inner.rfind('(')?;
        let marker = inner[open + 1..].trim();
        // A bare "(2)" must be digits: "(II)" or "(One)" alone are too often part of a name.
        let part = match part_word(marker) {
            Some((true, _)) => marker,
            _ if marker.bytes().all(|b| b.is_ascii_digit()) => marker,
            _ => return None,
        };
        (&inner[..open], part)
    } else {
        let last_space = t.rfind(char::is_whitespace)?;
        let before = t[..last_space].trim_end();
        let word_start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[word_start..];
        if !is_part_word(word) {
            return None;
        }
        (&before[..word_start], &t[word_start..])
    };
    let number = match part_word(marker) {
        Some((_, n)) => n,
        None => marker.parse().ok()?,
    };
    if number == 0 || number > MAX_PART_NUMBER {
        return None;
    }
    let stem = stem
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '-' | ':' | '–' | '—'));
    (!stem.is_empty()).then_some((stem, number))
}

fn is_part_word(word: &str) -> bool {
    ["part", "pt.", "pt"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// "Part N" / "Pt. N" (N in digits, words or roman numerals): `(true, N)`.
fn part_word(marker: &str) -> Option<(bool, u32)> {
    let mut words = marker.split_whitespace();
    let first = words.next()?;
    if !is_part_word(first) {
        return None;
    }
    let number = words.next()?;
    if words.next().is_some() {
        return None;
    }
    Some((true, number_word(number)?))
}

fn number_word(word: &str) -> Option<u32> {
    const WORDS: [&str; 10] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    const ROMAN: [&str; 10] = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"];
    if let Ok(n) = word.parse::<u32>() {
        return Some(n);
    }
    let lower = word.to_ascii_lowercase();
    WORDS
        .iter()
        .chain(ROMAN.iter())
        .position(|w| *w == lower)
        .map(|i| (i % 10) as u32 + 1)
}

/// One pass over a content: its epoch, the seed it was drawn with (a daily reset changes
/// the seed mid-build) and the media indices in play order.
type Pass = (u32, u64, Rc<[u32]>);

impl Sequencer {
    pub fn new(random_start: bool, keep_multi_part: bool) -> Sequencer {
        Sequencer {
            passes: HashMap::new(),
            random_start,
            keep_multi_part,
            units: HashMap::new(),
        }
    }

    /// The content's units when multi-part episodes are kept together and it has some.
    fn multi_part_units(&mut self, library: &Library, key: ContentKey) -> Option<Rc<Units>> {
        if !self.keep_multi_part || key.kind == ContentKind::Filler {
            return None;
        }
        self.units
            .entry(key)
            .or_insert_with(|| {
                let content = library.content(key);
                let media = &library.media;
                // A multi-part episode needs a part marker in a title: scan before sorting.
                if !content
                    .iter()
                    .any(|i| part_marker(&media[*i as usize].title).is_some())
                {
                    return None;
                }
                let units = Units::new(content, media);
                units.has_multi_part().then(|| Rc::new(units))
            })
            .clone()
    }

    /// The next media index (into `Library::media`) and the cursor moved past it; `None` when
    /// the content is empty.
    pub fn next(
        &mut self,
        library: &Library,
        key: ContentKey,
        order: PlaybackOrder,
        seed: u64,
        anchor: &mut Anchor,
    ) -> Option<u32> {
        self.next_keyed(library, key, key, order, seed, anchor)
    }

    /// `next` of `content`, with the cursor stored under `cursor_key` (a block item's own,
    /// so it continues its sequence whatever else plays the same content).
    pub fn next_keyed(
        &mut self,
        library: &Library,
        content_key: ContentKey,
        cursor_key: ContentKey,
        order: PlaybackOrder,
        seed: u64,
        anchor: &mut Anchor,
    ) -> Option<u32> {
        let key = content_key;
        let content = library.content(key);
        if content.is_empty() {
            return None;
        }
        let len = content.len() as u32;
        let units = match order {
            PlaybackOrder::Random => self.multi_part_units(library, key),
            _ => None,
        };
        let (cursor, created) = anchor.cursor_mut(cursor_key, order);
        if created && self.random_start && key.kind != ContentKind::Filler {
            cursor.pos = (mix(stream_seed(seed, library, cursor_key, order, u32::MAX))
                % u64::from(len)) as u32;
        }
        if let Some(units) = units {
            // Each draw picks a unit; its parts play in order before the next draw.
            let draw =
                mix(stream_seed(seed, library, cursor_key, order, cursor.epoch)
                    ^ u64::from(cursor.pos));
            let unit = units.unit((draw % units.len() as u64) as usize);
            let part = (cursor.part as usize).min(unit.len() - 1);
            cursor.part = part as u32 + 1;
            if cursor.part as usize >= unit.len() {
                cursor.part = 0;
                cursor.pos = cursor.pos.wrapping_add(1);
                if cursor.pos == 0 {
                    cursor.epoch = cursor.epoch.wrapping_add(1);
                }
            }
            return Some(unit[part]);
        }
        if order == PlaybackOrder::Random {
            let draw =
                mix(stream_seed(seed, library, cursor_key, order, cursor.epoch)
                    ^ u64::from(cursor.pos));
            cursor.pos = cursor.pos.wrapping_add(1);
            if cursor.pos == 0 {
                cursor.epoch = cursor.epoch.wrapping_add(1);
            }
            return Some(content[(draw % u64::from(len)) as usize]);
        }
        // The content may have shrunk since the anchor was stored: start the pass over.
        if cursor.pos >= len {
            cursor.pos = 0;
            cursor.epoch = cursor.epoch.wrapping_add(1);
        }
        let (mut pos, epoch) = (cursor.pos, cursor.epoch);
        cursor.pos += 1;
        let pass = self.pass(library, key, order, seed, epoch);
        if created && self.random_start && self.keep_multi_part && key.kind != ContentKind::Filler {
            // A random start inside a multi-part episode starts at its first part.
            let media = &library.media;
            while pos > 0
                && pass.get(pos as usize).is_some_and(|m| {
                    continues_part(&media[pass[pos as usize - 1] as usize], &media[*m as usize])
                })
            {
                pos -= 1;
            }
            anchor.cursor_mut(cursor_key, order).0.pos = pos + 1;
        }
        pass.get(pos as usize).copied()
    }

    fn pass(
        &mut self,
        library: &Library,
        key: ContentKey,
        order: PlaybackOrder,
        seed: u64,
        epoch: u32,
    ) -> Rc<[u32]> {
        // Sorted orders are the same every pass, whatever the seed.
        let (epoch, seed) = match order {
            PlaybackOrder::Chronological | PlaybackOrder::SeasonEpisode => (0, 0),
            _ => (epoch, seed),
        };
        if let Some((cached_epoch, cached_seed, pass)) = self.passes.get(&(key, order)) {
            if *cached_epoch == epoch && *cached_seed == seed {
                return pass.clone();
            }
        }
        let content = library.content(key);
        let rng = stream_seed(seed, library, key, order, epoch);
        let pass: Rc<[u32]> = match order {
            PlaybackOrder::Chronological => {
                sorted(content, &library.media, chronological_cmp).into()
            }
            PlaybackOrder::SeasonEpisode => {
                sorted(content, &library.media, season_episode_cmp).into()
            }
            PlaybackOrder::Shuffled | PlaybackOrder::Random => {
                match self.multi_part_units(library, key) {
                    Some(units) => shuffle_units(&units, rng).into(),
                    None => {
                        let mut items = content.to_vec();
                        shuffle(&mut items, rng);
                        items.into()
                    }
                }
            }
            PlaybackOrder::ShuffleInOrder => {
                let units = self.multi_part_units(library, key);
                shuffle_in_order(content, &library.media, rng, units.as_deref()).into()
            }
        };
        self.passes
            .insert((key, order), (epoch, seed, pass.clone()));
        pass
    }
}

fn sorted(
    content: &[u32],
    media: &[Media],
    cmp: fn(&Media, &Media) -> std::cmp::Ordering,
) -> Vec<u32> {
    let mut items = content.to_vec();
    items.sort_by(|a, b| cmp(&media[*a as usize], &media[*b as usize]));
    items
}

/// (date, season, episode, title, id); undated items after dated ones.
pub fn chronological_cmp(a: &Media, b: &Media) -> std::cmp::Ordering {
    (
        a.date.is_none(),
        &a.date,
        a.season,
        a.episode,
        &a.title,
        a.id,
    )
        .cmp(&(
            b.date.is_none(),
            &b.date,
            b.season,
            b.episode,
            &b.title,
            b.id,
        ))
}

/// (show title, season, episode, title, id).
pub fn season_episode_cmp(a: &Media, b: &Media) -> std::cmp::Ordering {
    (show(a), a.season, a.episode, &a.title, a.id).cmp(&(
        show(b),
        b.season,
        b.episode,
        &b.title,
        b.id,
    ))
}

fn show(m: &Media) -> &str {
    m.show_title.as_deref().unwrap_or("")
}

/// The slot order of one pass when the schedule shuffles its items: a seeded permutation.
pub fn slot_order(n_slots: usize, seed: u64, pass: u32) -> Vec<u32> {
    /// Keeps the slot permutation's stream apart from every content's.
    const SLOT_ORDER_TAG: u64 = 0x5107_0dde_0000_0000;
    let mut order: Vec<u32> = (0..n_slots as u32).collect();
    shuffle(
        &mut order,
        mix(mix(seed) ^ SLOT_ORDER_TAG ^ u64::from(pass)),
    );
    order
}

/// Fisher-Yates with SplitMix64.
fn shuffle(items: &mut [u32], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = mix(state);
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The units in a seeded random order, each unit's parts in order.
fn shuffle_units(units: &Units, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..units.len() as u32).collect();
    shuffle(&mut order, seed);
    let mut items = Vec::with_capacity(units.items.len());
    for u in order {
        items.extend_from_slice(units.unit(u as usize));
    }
    items
}

/// Groups by show (an item without one is its own group), keeps each group in season and
/// episode order, and interleaves the groups uniformly at random: a shuffled multiset of
/// group labels says which group plays next. With `multi_part` units, a label hands out a
/// whole multi-part unit, so another show never lands between its parts. O(n log n).
fn shuffle_in_order(
    content: &[u32],
    media: &[Media],
    seed: u64,
    multi_part: Option<&Units>,
) -> Vec<u32> {
    let singles;
    let units = match multi_part {
        Some(units) => units,
        None => {
            let items = sorted(content, media, season_episode_cmp);
            let starts = (0..items.len() as u32).collect();
            singles = Units { items, starts };
            &singles
        }
    };
    let show_of = |u: usize| {
        media[units.unit(u)[0] as usize]
            .show_title
            .as_deref()
            .filter(|s| !s.is_empty())
    };
    // Group boundaries, in units.
    let mut group_starts: Vec<usize> = Vec::new();
    for u in 0..units.len() {
        let new_group = match (u, show_of(u)) {
            (0, _) | (_, None) => true,
            (_, Some(s)) => show_of(u - 1) != Some(s),
        };
        if new_group {
            group_starts.push(u);
        }
    }
    let mut labels: Vec<u32> = Vec::with_capacity(units.len());
    for (g, start) in group_starts.iter().enumerate() {
        let end = group_starts.get(g + 1).copied().unwrap_or(units.len());
        labels.extend(std::iter::repeat_n(g as u32, end - start));
    }
    shuffle(&mut labels, seed);
    let mut next_in_group = group_starts;
    let mut items = Vec::with_capacity(units.items.len());
    for g in labels {
        let next = &mut next_in_group[g as usize];
        items.extend_from_slice(units.unit(*next));
        *next += 1;
    }
    items
}
