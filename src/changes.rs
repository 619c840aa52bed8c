//! What a committed write changed, as one value, and the one place that acts on it
//! (`App::apply`): the content version moves (cached documents become stale) and every
//! running channel whose stored timeline changed is told at once, so its feeder re-reads the
//! timeline and cuts over when the programme that should play now is not the one playing
//! (`stream::channel`). Writers describe their effect; none of them invalidates a cache or
//! wakes a channel by hand.
//!
//! It must not know SQL, HTTP or the streaming engine's internals: it is plain data.

use smol_str::SmolStr;

/// Channels listed one by one before a change counts as touching every timeline: a write
/// that rebuilds more than this (a library scan, an import) is cheaper to announce to all
/// running channels (at most the tuner count, each a one-row read) than to track.
pub const MAX_LISTED: usize = 8;

/// Which channels' stored timelines a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Timelines {
    #[default]
    Unchanged,
    /// These channels (ids), no others.
    Of(heapless::Vec<i64, MAX_LISTED>),
    /// Any channel's may have changed: every running channel re-reads its timeline.
    All,
}

impl Timelines {
    pub fn contains(&self, channel_id: i64) -> bool {
        match self {
            Timelines::Unchanged => false,
            Timelines::Of(ids) => ids.contains(&channel_id),
            Timelines::All => true,
        }
    }

    pub fn is_unchanged(&self) -> bool {
        matches!(self, Timelines::Unchanged)
    }

    /// Adds one channel; past `MAX_LISTED` the set becomes `All`.
    pub fn add(&mut self, channel_id: i64) {
        match self {
            Timelines::All => {}
            Timelines::Unchanged => {
                let mut ids = heapless::Vec::new();
                // Capacity ≥ 1: cannot fail.
                let _ = ids.push(channel_id);
                *self = Timelines::Of(ids);
            }
            Timelines::Of(ids) => {
                if ids.contains(&channel_id) {
                    return;
                }
                if ids.push(channel_id).is_err() {
                    *self = Timelines::All;
                }
            }
        }
    }

    pub fn merge(&mut self, other: Timelines) {
        match other {
            Timelines::Unchanged => {}
            Timelines::All => *self = Timelines::All,
            Timelines::Of(ids) => ids.into_iter().for_each(|id| self.add(id)),
        }
    }
}

/// Which playouts a write asks to have rebuilt from now, after its commit (`App::apply`
/// runs them, one transaction each, so a rebuild of every channel never holds the writer
/// for long). A write that must commit together with its timeline rebuilds inside its own
/// transaction instead (`scheduler::rebuild_in`) and reports `timelines`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Rebuild {
    #[default]
    Nothing,
    /// These playouts (ids), no others.
    Playouts(heapless::Vec<i64, MAX_LISTED>),
    /// Every active playout (a filler preset, a collection or the library changed).
    All,
}

impl Rebuild {
    pub fn is_nothing(&self) -> bool {
        matches!(self, Rebuild::Nothing)
    }

    /// Adds one playout; past `MAX_LISTED` the set becomes `All`.
    pub fn add(&mut self, playout_id: i64) {
        match self {
            Rebuild::All => {}
            Rebuild::Nothing => {
                let mut ids = heapless::Vec::new();
                // Capacity ≥ 1: cannot fail.
                let _ = ids.push(playout_id);
                *self = Rebuild::Playouts(ids);
            }
            Rebuild::Playouts(ids) => {
                if ids.contains(&playout_id) {
                    return;
                }
                if ids.push(playout_id).is_err() {
                    *self = Rebuild::All;
                }
            }
        }
    }

    /// A set of these playouts.
    pub fn of(playout_ids: impl IntoIterator<Item = i64>) -> Rebuild {
        let mut out = Rebuild::Nothing;
        playout_ids.into_iter().for_each(|id| out.add(id));
        out
    }
}

/// The effect of one committed write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// What clients see (lineup, M3U, XMLTV, discover.json) may differ: cached documents are
    /// stale.
    pub content: bool,
    pub timelines: Timelines,
    /// Playouts to rebuild after the commit (their channels' timelines then count as
    /// changed too).
    pub rebuild: Rebuild,
    /// Why, for the debug log of the cut-over ("rebuild", "skip", "horizon", ...).
    pub cause: SmolStr,
}

impl Changes {
    /// A write whose effect on timelines is not tracked: the documents are stale and every
    /// running channel re-reads its timeline. Safe for any write; precise values are cheaper.
    pub fn any(cause: &str) -> Changes {
        Changes {
            content: true,
            timelines: Timelines::All,
            rebuild: Rebuild::Nothing,
            cause: cause.into(),
        }
    }

    /// A write that may have changed anything (a library scan, an import): the documents
    /// are stale, every running channel re-reads its timeline and every playout is rebuilt.
    pub fn all(cause: &str) -> Changes {
        Changes {
            rebuild: Rebuild::All,
            ..Changes::any(cause)
        }
    }

    /// What clients see changed and `rebuild` must be rebuilt (which then names the
    /// timelines that changed).
    pub fn rebuilding(rebuild: Rebuild, cause: &str) -> Changes {
        Changes {
            content: true,
            timelines: Timelines::Unchanged,
            rebuild,
            cause: cause.into(),
        }
    }

    /// The stored timelines of `timelines` changed (and so did the guide).
    pub fn timelines(timelines: Timelines, cause: &str) -> Changes {
        Changes {
            content: !timelines.is_unchanged(),
            timelines,
            rebuild: Rebuild::Nothing,
            cause: cause.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_grows_to_all_past_its_capacity_and_ignores_repeats() {
        let mut t = Timelines::Unchanged;
        assert!(!t.contains(1));
        t.add(1);
        t.add(1);
        assert_eq!(t, Timelines::Of(heapless::Vec::from_slice(&[1]).unwrap()));
        for id in 2..=MAX_LISTED as i64 {
            t.add(id);
        }
        assert!(matches!(t, Timelines::Of(_)));
        assert!(!t.contains(99));
        t.add(99);
        assert_eq!(t, Timelines::All);
        assert!(t.contains(12345));
    }

    #[test]
    fn merging_keeps_the_union_of_channels_and_content_follows_the_timelines() {
        let mut a = Timelines::Unchanged;
        let mut one = Timelines::Unchanged;
        one.add(3);
        a.merge(one);
        a.merge(Timelines::Unchanged);
        assert!(a.contains(3) && !a.contains(4));
        a.merge(Timelines::All);
        assert_eq!(a, Timelines::All);
        let rebuilt = Changes::timelines(a, "rebuild");
        assert!(rebuilt.content);
        assert_eq!(rebuilt.cause, "rebuild");
        assert!(!Changes::timelines(Timelines::Unchanged, "x").content);
        assert!(Changes::any("import").content);
    }

    #[test]
    fn a_rebuild_set_grows_to_all_past_its_capacity() {
        let mut r = Rebuild::of([4, 4, 5]);
        assert_eq!(
            r,
            Rebuild::Playouts(heapless::Vec::from_slice(&[4, 5]).unwrap())
        );
        for id in 0..MAX_LISTED as i64 {
            r.add(100 + id);
        }
        assert_eq!(r, Rebuild::All);
        assert!(Rebuild::of([]).is_nothing());
        assert!(Changes::rebuilding(Rebuild::All, "filler").content);
    }
}
