//! Deco in the builder: breaks between programmes (assets of the deco group in effect,
//! picked by weight, deterministically from the seed and the break's instant) and the
//! dead-air filler (`inherit` the fallback filler, `override` it with a content, or
//! `disable` it: the slate). Windows give a time range of the local day another group.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::model::ContentKey;
use super::order::mix;

/// One asset of a group: an index into `Library::media` and its odds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub media: u32,
    pub weight: u32,
}

/// When breaks air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breaks {
    None,
    /// After every programme.
    BetweenProgrammes,
    /// After the first programme that ends this many minutes or more after the last break.
    EveryMinutes(u32),
}

/// What fills dead air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadAir {
    /// The slot's or the channel's fallback filler preset, as without deco.
    Inherit,
    /// This content, trimmed to fit, instead of the fallback.
    Content(ContentKey),
    /// Nothing: the slate.
    Disable,
}

/// A time range of the local day with its own group (`end` before `start` wraps midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Time,
    pub end: Time,
    /// Index into `Deco::groups`.
    pub group: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deco {
    pub breaks: Breaks,
    /// Assets per break, 1..=10.
    pub break_count: u32,
    pub dead_air: DeadAir,
    /// The channel's group (index into `groups`).
    pub group: Option<u32>,
    pub windows: Vec<Window>,
    pub groups: Vec<Vec<Asset>>,
}

/// A channel with no deco.
pub static NO_DECO: Deco = Deco {
    breaks: Breaks::None,
    break_count: 1,
    dead_air: DeadAir::Inherit,
    group: None,
    windows: Vec::new(),
    groups: Vec::new(),
};

impl Default for Deco {
    fn default() -> Self {
        NO_DECO.clone()
    }
}

impl Deco {
    /// The assets a break at `t` picks from: the first window holding `t`'s local time,
    /// else the channel's group.
    pub fn assets_at(&self, t: i64, tz: &TimeZone) -> &[Asset] {
        let group = if self.windows.is_empty() {
            self.group
        } else {
            let local = Timestamp::from_millisecond(t)
                .map(|ts| ts.to_zoned(tz.clone()).time())
                .unwrap_or(Time::midnight());
            self.windows
                .iter()
                .find(|w| in_window(local, w.start, w.end))
                .map(|w| w.group)
                .or(self.group)
        };
        group
            .and_then(|g| self.groups.get(g as usize))
            .map_or(&[], Vec::as_slice)
    }
}

fn in_window(t: Time, start: Time, end: Time) -> bool {
    if start <= end {
        start <= t && t < end
    } else {
        t >= start || t < end
    }
}

/// The `k`-th asset of the break at `t`, by weight: the same seed and instant always pick
/// the same assets, so a rebuild reproduces its breaks.
pub fn pick(assets: &[Asset], seed: u64, t: i64, k: u32) -> Option<Asset> {
    let total: u64 = assets.iter().map(|a| u64::from(a.weight.max(1))).sum();
    if total == 0 {
        return None;
    }
    let mut draw = mix(mix(seed ^ mix(t as u64)) ^ u64::from(k)) % total;
    for asset in assets {
        let weight = u64::from(asset.weight.max(1));
        if draw < weight {
            return Some(*asset);
        }
        draw -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_follow_the_weights_and_the_seed() {
        let assets = [
            Asset {
                media: 0,
                weight: 1,
            },
            Asset {
                media: 1,
                weight: 3,
            },
        ];
        let mut counts = [0u32; 2];
        for i in 0..4000 {
            let asset = pick(&assets, 42, i * 1000, 0).unwrap();
            counts[asset.media as usize] += 1;
        }
        // 1:3 within a few percent.
        assert!((900..1100).contains(&counts[0]), "{counts:?}");
        assert_eq!(pick(&assets, 42, 5000, 1), pick(&assets, 42, 5000, 1));
        assert_eq!(pick(&[], 42, 5000, 0), None);
    }

    #[test]
    fn windows_hold_their_range_and_wrap_midnight() {
        let t = |s: &str| super::super::clock::parse_time(s).unwrap();
        assert!(in_window(t("08:30"), t("08:00"), t("09:00")));
        assert!(!in_window(t("09:00"), t("08:00"), t("09:00")));
        assert!(in_window(t("23:30"), t("22:00"), t("06:00")));
        assert!(in_window(t("05:59"), t("22:00"), t("06:00")));
        assert!(!in_window(t("12:00"), t("22:00"), t("06:00")));
    }
}
