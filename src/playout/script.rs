//! Scripted builds: a client's verbs ("add 2 from collection 7", "pad to the next :30",
//! "wait until 20:00") run one at a time on the builder's own primitives (`build::Builder`:
//! the same picks, cursors, filler and deco as the classic schedules), from a stored state
//! (the anchor and the cursor instant) to the next. Pure: the caller loads the input and
//! stores what comes back.

use smol_str::SmolStr;

use super::build::Builder;
use super::clock;
use super::model::{
    ContentKey, FillerKind, Fillers, GuideMode, Input, Item, Media, Mode, PlaybackOrder, Slot,
};
use super::order::Anchor;

/// Items one verb may add: bounds `add-count 1000000` or an add-duration of a year of
/// one-second clips without limiting a real script (a week of half-hour programmes).
pub const MAX_ITEMS_PER_VERB: usize = 2_000;

/// Where a session stands between two verbs.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub anchor: Anchor,
    /// The build cursor: where the next item starts.
    pub cursor_ms: i64,
    /// Play the channel's pre-roll filler before each programme.
    pub pre_roll: bool,
    /// An open EPG group: its items show in the guide as one programme of this title.
    pub group: Option<Group>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub title: SmolStr,
    /// The group's first item (the one that carries its title) is already out.
    pub opened: bool,
}

/// One verb, its references resolved to contents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verb {
    /// This many programmes of `content`, in `order`, each with its filler and breaks.
    AddCount {
        content: ContentKey,
        order: PlaybackOrder,
        count: u32,
    },
    /// Programmes while they fit in this long; the rest is dead-air filler or the slate.
    AddDuration {
        content: ContentKey,
        order: PlaybackOrder,
        duration_ms: i64,
    },
    /// Filler up to the next multiple of `minutes` past the hour.
    PadToNext { minutes: u32, filler: Option<i64> },
    /// Filler up to an instant.
    PadUntil { target_ms: i64, filler: Option<i64> },
    /// The slate up to an instant.
    WaitUntil { target_ms: i64 },
    /// Moves the content's cursor past this many items, adding nothing.
    Skip {
        content: ContentKey,
        order: PlaybackOrder,
        count: u32,
    },
    /// The content's next item is the one at this index of its pass.
    SkipTo {
        content: ContentKey,
        order: PlaybackOrder,
        index: u32,
    },
}

/// Why a verb was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptError {
    /// The target instant is before the build cursor.
    TargetInPast { target_ms: i64, cursor_ms: i64 },
}

/// What a verb did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub items: Vec<Item>,
    pub state: State,
    /// Programmes added (filler and the slate not counted).
    pub n_programmes: usize,
}

/// Runs one verb from `state`.
pub fn run(input: &Input<'_>, state: &State, verb: Verb) -> Result<Outcome, ScriptError> {
    let mut builder = Builder::new(input, state.anchor.clone(), state.cursor_ms);
    // The channel's fillers, as a schedule item that sets none plays them; pre-roll only
    // while the session's switch is on.
    let fillers = Fillers {
        pre_roll: input.channel_fillers.pre_roll.filter(|_| state.pre_roll),
        ..input.channel_fillers
    };
    match verb {
        Verb::AddCount {
            content,
            order,
            count,
        } => add_count(&mut builder, content, order, count, fillers),
        Verb::AddDuration {
            content,
            order,
            duration_ms,
        } => add_duration(&mut builder, content, order, duration_ms, fillers),
        Verb::PadToNext { minutes, filler } => {
            // Already on a boundary: nothing to pad (as a pad preset after a programme).
            let target = clock::next_boundary(builder.t - 1, minutes.max(1), input.time_zone);
            pad(&mut builder, target, filler);
        }
        Verb::PadUntil { target_ms, filler } => {
            refuse_past(target_ms, state.cursor_ms)?;
            pad(&mut builder, target_ms, filler);
        }
        Verb::WaitUntil { target_ms } => {
            refuse_past(target_ms, state.cursor_ms)?;
            builder.offline(target_ms);
        }
        Verb::Skip {
            content,
            order,
            count,
        } => {
            for _ in 0..count.min(MAX_ITEMS_PER_VERB as u32) {
                if builder.pick(content, content, order).is_none() {
                    break;
                }
            }
        }
        Verb::SkipTo {
            content,
            order,
            index,
        } => builder.state.seek(content, order, index),
    }
    let mut items = std::mem::take(&mut builder.items);
    let n_programmes = items.iter().filter(|i| i.filler_kind.is_none()).count();
    let mut group = state.group.clone();
    if let Some(group) = &mut group {
        in_group(group, &mut items);
    }
    Ok(Outcome {
        items,
        state: State {
            anchor: builder.state,
            cursor_ms: builder.t,
            pre_roll: state.pre_roll,
            group,
        },
        n_programmes,
    })
}

/// The media `content` would play next in `order`, the state untouched.
pub fn peek<'l>(
    input: &Input<'l>,
    state: &State,
    content: ContentKey,
    order: PlaybackOrder,
) -> Option<&'l Media> {
    let mut builder = Builder::new(input, state.anchor.clone(), state.cursor_ms);
    let index = builder.pick(content, content, order)?;
    input.library.media.get(index as usize)
}

fn refuse_past(target_ms: i64, cursor_ms: i64) -> Result<(), ScriptError> {
    if target_ms < cursor_ms {
        return Err(ScriptError::TargetInPast {
            target_ms,
            cursor_ms,
        });
    }
    Ok(())
}

/// A one-off slot of `content`: `Builder::unit` plays it as a schedule item would.
fn slot(content: ContentKey, order: PlaybackOrder, fillers: Fillers) -> Slot {
    Slot {
        fillers,
        mode: Mode::One,
        ..Slot::flood(content, order)
    }
}

fn add_count(
    builder: &mut Builder<'_, '_>,
    content: ContentKey,
    order: PlaybackOrder,
    count: u32,
    fillers: Fillers,
) {
    let slot = slot(content, order, fillers);
    for _ in 0..count {
        if builder.items.len() >= MAX_ITEMS_PER_VERB || !builder.unit(&slot, content, fillers) {
            return;
        }
    }
}

/// Units while they end within the duration (the first always plays, as in a classic
/// duration slot, so an item longer than the duration cannot stall a script); the rest is
/// filled to the end exactly.
fn add_duration(
    builder: &mut Builder<'_, '_>,
    content: ContentKey,
    order: PlaybackOrder,
    duration_ms: i64,
    fillers: Fillers,
) {
    let end = builder.t + duration_ms.max(0);
    let slot = slot(content, order, fillers);
    let mut n_played = 0;
    while builder.t < end && builder.items.len() < MAX_ITEMS_PER_VERB {
        let mark = builder.mark();
        let played = builder.unit(&slot, content, fillers);
        if !played || (builder.t > end && n_played > 0) {
            builder.rollback(mark);
            break;
        }
        n_played += 1;
    }
    builder.fill_gap(end, builder.input.channel_fillers.fallback);
}

/// Whole filler items of the preset that fit before `target`, then the channel's
/// dead-air filler or the slate up to it exactly.
fn pad(builder: &mut Builder<'_, '_>, target: i64, filler: Option<i64>) {
    if let Some(preset) = builder.input.preset(filler) {
        builder.fill_with(preset, target, FillerKind::Pad);
    }
    builder.fill_gap(target, builder.input.channel_fillers.fallback);
}

/// The group's first item carries its title in the guide; the rest are hidden into it.
fn in_group(group: &mut Group, items: &mut [Item]) {
    for item in items {
        if group.opened {
            item.guide_mode = GuideMode::Hide;
        } else {
            item.custom_title = Some(group.title.clone());
            item.guide_mode = GuideMode::Normal;
            group.opened = true;
        }
    }
}
