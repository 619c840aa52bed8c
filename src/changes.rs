//! What a committed write changed, as one value, and the one place that acts on it
//! (`App::apply`): the content version moves (cached documents become stale) and every
//! running channel whose stored timeline changed is told at once, so its feeder re-reads the
//! timeline and cuts over when the programme that should play now is not the one playing
//! (`stream::channel`). Writers describe their effect; none of them invalidates a cache or
//! wakes a channel by hand.
//!
//! It must not know SQL, HTTP or the streaming engine's internals: it is plain data.

use smol_str::SmolStr;

use crate::ops::ids::{ChannelId, PlayoutId};

/// Ids listed one by one before a set counts as "all": a write that touches more than this
/// (a library scan, an import) is cheaper to announce to every running channel (at most the
/// tuner count, each a one-row read) or to rebuild everything than to track.
pub const MAX_LISTED: usize = 8;

/// A few row ids, or all of them: what a write touched, bounded so it never allocates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IdSet<Id> {
    #[default]
    Empty,
    /// These ids, no others (no repeats).
    Of(heapless::Vec<Id, MAX_LISTED>),
    /// Any of them.
    All,
}

impl<Id: Copy + PartialEq> IdSet<Id> {
    /// A set of these ids.
    pub fn of(ids: impl IntoIterator<Item = Id>) -> Self {
        let mut out = IdSet::Empty;
        ids.into_iter().for_each(|id| out.add(id));
        out
    }

    pub fn contains(&self, id: Id) -> bool {
        match self {
            IdSet::Empty => false,
            IdSet::Of(ids) => ids.contains(&id),
            IdSet::All => true,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, IdSet::Empty)
    }

    /// Adds one id; past `MAX_LISTED` the set becomes `All`.
    pub fn add(&mut self, id: Id) {
        match self {
            IdSet::All => {}
            IdSet::Empty => {
                let mut ids = heapless::Vec::new();
                // Capacity ≥ 1: cannot fail.
                let _ = ids.push(id);
                *self = IdSet::Of(ids);
            }
            IdSet::Of(ids) => {
                if ids.contains(&id) {
                    return;
                }
                if ids.push(id).is_err() {
                    *self = IdSet::All;
                }
            }
        }
    }

    pub fn merge(&mut self, other: IdSet<Id>) {
        match other {
            IdSet::Empty => {}
            IdSet::All => *self = IdSet::All,
            IdSet::Of(ids) => ids.into_iter().for_each(|id| self.add(id)),
        }
    }
}

/// Which channels' stored timelines a write changed.
pub type Timelines = IdSet<ChannelId>;

/// Which playouts a write asks to have rebuilt from now, after its commit (`App::apply`
/// runs them, one transaction each, so a rebuild of every channel never holds the writer
/// for long); `All` is every active playout (a filler preset, a collection or the library
/// changed). A write that must commit together with its timeline rebuilds inside its own
/// transaction instead (`scheduler::rebuild_in`) and reports `timelines`.
pub type Rebuild = IdSet<PlayoutId>;

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
            rebuild: IdSet::Empty,
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
            timelines: IdSet::Empty,
            rebuild,
            cause: cause.into(),
        }
    }

    /// The stored timelines of `timelines` changed (and so did the guide).
    pub fn timelines(timelines: Timelines, cause: &str) -> Changes {
        Changes {
            content: !timelines.is_empty(),
            timelines,
            rebuild: IdSet::Empty,
            cause: cause.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_grows_to_all_past_its_capacity_and_ignores_repeats() {
        let mut t = Timelines::Empty;
        assert!(!t.contains(ChannelId(1)));
        t.add(ChannelId(1));
        t.add(ChannelId(1));
        assert_eq!(t, Timelines::of([ChannelId(1)]));
        assert!(matches!(&t, IdSet::Of(ids) if ids.len() == 1));
        for id in 2..=MAX_LISTED as i64 {
            t.add(ChannelId(id));
        }
        assert!(matches!(t, IdSet::Of(_)));
        assert!(!t.contains(ChannelId(99)));
        t.add(ChannelId(99));
        assert_eq!(t, Timelines::All);
        assert!(t.contains(ChannelId(12345)));
    }

    #[test]
    fn merging_keeps_the_union_of_channels_and_content_follows_the_timelines() {
        let mut a = Timelines::Empty;
        a.merge(Timelines::of([ChannelId(3)]));
        a.merge(Timelines::Empty);
        assert!(a.contains(ChannelId(3)) && !a.contains(ChannelId(4)));
        a.merge(Timelines::All);
        assert_eq!(a, Timelines::All);
        let rebuilt = Changes::timelines(a, "rebuild");
        assert!(rebuilt.content);
        assert_eq!(rebuilt.cause, "rebuild");
        assert!(!Changes::timelines(Timelines::Empty, "x").content);
        assert!(Changes::any("import").content);
    }

    #[test]
    fn a_rebuild_set_grows_to_all_past_its_capacity() {
        let mut r = Rebuild::of([PlayoutId(4), PlayoutId(4), PlayoutId(5)]);
        assert!(matches!(&r, IdSet::Of(ids) if ids[..] == [PlayoutId(4), PlayoutId(5)]));
        for id in 0..MAX_LISTED as i64 {
            r.add(PlayoutId(100 + id));
        }
        assert_eq!(r, Rebuild::All);
        assert!(Rebuild::of([]).is_empty());
        assert!(Changes::rebuilding(Rebuild::All, "filler").content);
        assert_eq!(Changes::all("scan").rebuild, Rebuild::All);
        assert_eq!(Changes::all("scan").timelines, Timelines::All);
    }
}
