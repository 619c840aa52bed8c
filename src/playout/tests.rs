//! Builder tests: every mode, order and filler kind with fixed seeds and a fixed clock,
//! snapshot style (`UPDATE_EXPECT=1 cargo test --lib playout` refreshes), plus properties
//! that must hold for any schedule: contiguity, and resuming from any anchor reproduces
//! the rest of the timeline.

use expect_test::{expect, Expect};
use jiff::tz::TimeZone;
use smol_str::SmolStr;

use super::model::*;
use super::order::{Anchor, Order};
use super::{build, clock};

const MIN: i64 = 60_000;
/// 2026-01-05T20:00:00Z, a Monday.
const T0: i64 = 1_767_643_200_000;

fn media(id: i64, title: &str, minutes: i64) -> Media {
    Media {
        id,
        title: title.into(),
        duration_ms: minutes * MIN,
        show_title: None,
        season: None,
        episode: None,
        date: None,
    }
}

fn episode(id: i64, show: &str, season: i32, ep: i32, minutes: i64) -> Media {
    Media {
        show_title: Some(show.into()),
        season: Some(season),
        episode: Some(ep),
        title: SmolStr::from(format!("{show} {season}x{ep}")),
        ..media(id, "", minutes)
    }
}

fn key(id: i64) -> ContentKey {
    ContentKey {
        kind: ContentKind::Collection,
        id,
    }
}

fn filler_key(id: i64) -> ContentKey {
    ContentKey {
        kind: ContentKind::Filler,
        id,
    }
}

/// A library whose contents are given as (key, media); media ids must be unique.
fn library(contents: Vec<(ContentKey, Vec<Media>)>) -> Library {
    let mut library = Library::default();
    for (key, items) in contents {
        let mut indices = Vec::new();
        for m in items {
            let index = match library.media.iter().position(|x| x.id == m.id) {
                Some(i) => i,
                None => {
                    library.media.push(m);
                    library.media.len() - 1
                }
            };
            indices.push(index as u32);
        }
        library.contents.insert(key, indices);
    }
    library
}

fn demo() -> Vec<Media> {
    vec![
        episode(1, "Demo", 1, 1, 15),
        episode(2, "Demo", 1, 2, 10),
        episode(3, "Demo", 1, 3, 5),
    ]
}

struct Case {
    library: Library,
    slots: Vec<Slot>,
    presets: Vec<FillerPreset>,
    channel_fillers: Fillers,
    seed: u64,
    tz: TimeZone,
}

impl Case {
    fn new(library: Library, slots: Vec<Slot>) -> Case {
        Case {
            library,
            slots,
            presets: Vec::new(),
            channel_fillers: Fillers::default(),
            seed: 42,
            tz: TimeZone::UTC,
        }
    }

    fn input(&self) -> Input<'_> {
        Input {
            library: &self.library,
            slots: &self.slots,
            presets: &self.presets,
            channel_fillers: self.channel_fillers,
            seed: self.seed,
            time_zone: &self.tz,
        }
    }

    fn build(&self, from: i64, until: i64) -> Vec<Item> {
        let built = build(&self.input(), Anchor::default(), from, until);
        check_contiguous(&built.items, from, until);
        check_resumable(self, &built.items, until);
        built.items
    }
}

fn check_contiguous(items: &[Item], from: i64, until: i64) {
    assert_eq!(
        items.first().map(|i| i.start_ms),
        Some(from),
        "starts at from"
    );
    for pair in items.windows(2) {
        assert_eq!(
            pair[0].finish_ms, pair[1].start_ms,
            "gap or overlap: {pair:#?}"
        );
    }
    for item in items {
        assert!(item.finish_ms > item.start_ms, "empty item {item:?}");
    }
    assert!(items.last().unwrap().finish_ms >= until, "reaches until");
    assert!(items.last().unwrap().anchor.is_some(), "last item anchored");
}

/// Resuming from every anchored item reproduces the rest of the timeline exactly.
fn check_resumable(case: &Case, items: &[Item], until: i64) {
    let anchored: Vec<usize> = (0..items.len())
        .filter(|i| items[*i].anchor.is_some())
        .collect();
    // Every 7th anchor: enough to cover each kind of step without making tests slow.
    for &i in anchored.iter().step_by(7) {
        let anchor = (**items[i].anchor.as_ref().unwrap()).clone();
        // Through JSON, as the scheduler stores it.
        let anchor: Anchor =
            serde_json::from_str(&serde_json::to_string(&anchor).unwrap()).unwrap();
        let rest = build(&case.input(), anchor, items[i].finish_ms, until);
        let strip = |v: &[Item]| -> Vec<Item> {
            v.iter()
                .map(|x| Item {
                    anchor: None,
                    ..x.clone()
                })
                .collect()
        };
        assert_eq!(
            strip(&rest.items),
            strip(&items[i + 1..]),
            "resume after item {i}"
        );
    }
}

/// One line per item: local time, length, title, kind.
fn render(items: &[Item], tz: &TimeZone) -> String {
    let mut out = String::new();
    for item in items {
        let ts = jiff::Timestamp::from_millisecond(item.start_ms).unwrap();
        let local = ts.to_zoned(tz.clone());
        let secs = item.duration_ms() / 1000;
        let title = match &item.episode_title {
            Some(ep) => format!("{} / {ep}", item.title),
            None => item.title.to_string(),
        };
        out.push_str(&format!(
            "{} {:>3}m{:02}s {}{}{}\n",
            local.strftime("%a %H:%M:%S"),
            secs / 60,
            secs % 60,
            title,
            item.filler_kind
                .map(|k| format!(" [{k}]"))
                .unwrap_or_default(),
            if item.in_point_ms > 0 {
                format!(" (from {}s)", item.in_point_ms / 1000)
            } else {
                String::new()
            },
        ));
    }
    out
}

fn snapshot(case: &Case, hours: i64, expect: Expect) {
    let items = case.build(T0, T0 + hours * 60 * MIN);
    expect.assert_eq(&render(&items, &case.tz));
}

#[test]
fn flood_chronological_repeats_in_order() {
    let case = Case::new(
        library(vec![(key(1), demo())]),
        vec![Slot::flood(key(1), Order::Chronological)],
    );
    snapshot(
        &case,
        1,
        expect![[r#"
            Mon 20:00:00  15m00s Demo / Demo 1x1
            Mon 20:15:00  10m00s Demo / Demo 1x2
            Mon 20:25:00   5m00s Demo / Demo 1x3
            Mon 20:30:00  15m00s Demo / Demo 1x1
            Mon 20:45:00  10m00s Demo / Demo 1x2
            Mon 20:55:00   5m00s Demo / Demo 1x3
        "#]],
    );
}

fn preset(id: i64, mode: FillerMode, order: Order) -> FillerPreset {
    FillerPreset {
        id,
        mode,
        order,
        content: filler_key(id),
    }
}

fn bumpers(first_id: i64, seconds: &[i64]) -> Vec<Media> {
    seconds
        .iter()
        .enumerate()
        .map(|(i, s)| Media {
            duration_ms: s * 1000,
            ..media(first_id + i as i64, &format!("Bumper {}", i + 1), 0)
        })
        .collect()
}

#[test]
fn pre_and_post_roll_then_pad_to_the_half_hour() {
    let mut case = Case::new(
        library(vec![
            (
                key(1),
                vec![media(1, "Movie A", 41), media(2, "Movie B", 22)],
            ),
            (filler_key(10), bumpers(100, &[30])),
            (filler_key(11), bumpers(200, &[60, 90])),
            (filler_key(12), bumpers(300, &[240, 120, 600])),
        ]),
        vec![Slot {
            fillers: Fillers {
                pre_roll: Some(10),
                post_roll: Some(11),
                ..Fillers::default()
            },
            ..Slot::flood(key(1), Order::Chronological)
        }],
    );
    case.presets = vec![
        preset(10, FillerMode::Count(1), Order::Chronological),
        preset(11, FillerMode::Duration(150_000), Order::Chronological),
        preset(12, FillerMode::Pad(30), Order::Chronological),
    ];
    // The channel pads after every unit (its post-roll is the slot's, its fallback is none:
    // what the pad filler cannot fill exactly is the slate).
    case.channel_fillers = Fillers {
        mid_roll: Some(12),
        ..Fillers::default()
    };
    snapshot(
        &case,
        2,
        expect![[r#"
            Mon 20:00:00   0m30s Bumper 1 [pre_roll]
            Mon 20:00:30  41m00s Movie A
            Mon 20:41:30   1m00s Bumper 1 [post_roll]
            Mon 20:42:30   1m30s Bumper 2 [post_roll]
            Mon 20:44:00   4m00s Bumper 1 [pad]
            Mon 20:48:00   2m00s Bumper 2 [pad]
            Mon 20:50:00  10m00s Bumper 3 [pad]
            Mon 21:00:00   0m30s Bumper 1 [pre_roll]
            Mon 21:00:30  22m00s Movie B
            Mon 21:22:30   1m00s Bumper 1 [post_roll]
            Mon 21:23:30   1m30s Bumper 2 [post_roll]
            Mon 21:25:00   4m00s Bumper 1 [pad]
            Mon 21:29:00   1m00s Offline [offline]
            Mon 21:30:00   0m30s Bumper 1 [pre_roll]
            Mon 21:30:30  41m00s Movie A
            Mon 22:11:30   1m00s Bumper 1 [post_roll]
            Mon 22:12:30   1m30s Bumper 2 [post_roll]
            Mon 22:14:00   4m00s Bumper 1 [pad]
            Mon 22:18:00   2m00s Bumper 2 [pad]
            Mon 22:20:00  10m00s Bumper 3 [pad]
        "#]],
    );
}

#[test]
fn fixed_start_follows_dst() {
    // Every day at 20:00 Berlin time, one episode; the rest of the day floods reruns.
    let mut case = Case::new(
        library(vec![
            (key(1), demo()),
            (key(2), vec![media(9, "Prime Time", 60)]),
        ]),
        vec![
            Slot {
                fixed_start: Some(FixedStart {
                    time: clock::parse_time("20:00").unwrap(),
                    flexible: false,
                }),
                mode: Mode::One,
                ..Slot::flood(key(2), Order::Chronological)
            },
            Slot::flood(key(1), Order::Chronological),
        ],
    );
    case.tz = TimeZone::get("Europe/Berlin").unwrap();
    // 2026-03-27 .. 2026-03-31: Berlin moves to CEST on 2026-03-29.
    let from = "2026-03-27T12:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let items = case.build(from, from + 4 * 24 * 60 * MIN);
    let prime: Vec<String> = items
        .iter()
        .filter(|i| i.media_id == Some(9))
        .map(|i| {
            let ts = jiff::Timestamp::from_millisecond(i.start_ms).unwrap();
            format!(
                "{ts} = {}",
                ts.to_zoned(case.tz.clone()).strftime("%H:%M %Z")
            )
        })
        .collect();
    expect![[r#"
        [
            "2026-03-27T19:00:00Z = 20:00 CET",
            "2026-03-28T19:00:00Z = 20:00 CET",
            "2026-03-29T18:00:00Z = 20:00 CEST",
            "2026-03-30T18:00:00Z = 20:00 CEST",
        ]
    "#]]
    .assert_debug_eq(&prime);
}
