//! Builder tests: every mode, order and filler kind with fixed seeds and a fixed clock,
//! snapshot style (`UPDATE_EXPECT=1 cargo test --lib playout` refreshes), plus properties
//! that must hold for any schedule: contiguity, and resuming from any anchor reproduces
//! the rest of the timeline.

use expect_test::{expect, Expect};
use jiff::tz::TimeZone;
use smol_str::SmolStr;

use super::model::*;
use super::order::Anchor;
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
        episode_end: None,
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
    random_start_point: bool,
    shuffle_slots: bool,
    keep_multi_part: bool,
    daily_reset: Option<jiff::civil::Time>,
    tz: TimeZone,
    blocks: BlockPlan,
    deco: Deco,
}

impl Case {
    fn new(library: Library, slots: Vec<Slot>) -> Case {
        Case {
            library,
            slots,
            presets: Vec::new(),
            channel_fillers: Fillers::default(),
            seed: 42,
            random_start_point: false,
            shuffle_slots: false,
            keep_multi_part: false,
            daily_reset: None,
            tz: TimeZone::UTC,
            blocks: BlockPlan::default(),
            deco: Deco::default(),
        }
    }

    fn input(&self) -> Input<'_> {
        Input {
            library: &self.library,
            slots: &self.slots,
            presets: &self.presets,
            channel_fillers: self.channel_fillers,
            seed: self.seed,
            random_start_point: self.random_start_point,
            shuffle_slots: self.shuffle_slots,
            keep_multi_part: self.keep_multi_part,
            daily_reset: self.daily_reset,
            time_zone: &self.tz,
            blocks: &self.blocks,
            deco: &self.deco,
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
        vec![Slot::flood(key(1), PlaybackOrder::Chronological)],
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

fn preset(id: i64, mode: FillerMode, order: PlaybackOrder) -> FillerPreset {
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
            ..Slot::flood(key(1), PlaybackOrder::Chronological)
        }],
    );
    case.presets = vec![
        preset(10, FillerMode::Count(1), PlaybackOrder::Chronological),
        preset(
            11,
            FillerMode::Duration(150_000),
            PlaybackOrder::Chronological,
        ),
        preset(12, FillerMode::Pad(30), PlaybackOrder::Chronological),
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
                ..Slot::flood(key(2), PlaybackOrder::Chronological)
            },
            Slot::flood(key(1), PlaybackOrder::Chronological),
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

/// Media ids of the content items (not filler, not offline), in order.
fn content_ids(items: &[Item]) -> Vec<i64> {
    items
        .iter()
        .filter(|i| i.filler_kind.is_none())
        .filter_map(|i| i.media_id)
        .collect()
}

fn shows() -> Vec<Media> {
    // Two shows, given out of order, and two movies without numbers.
    vec![
        episode(12, "Beta", 1, 2, 30),
        episode(21, "Alpha", 2, 1, 30),
        Media {
            date: Some("1999-05-01".into()),
            ..media(31, "Zed Movie", 90)
        },
        episode(11, "Beta", 1, 1, 30),
        episode(13, "Alpha", 1, 1, 30),
        Media {
            date: Some("1984".into()),
            ..media(32, "Another Movie", 90)
        },
    ]
}

#[test]
fn season_episode_and_chronological_orders() {
    let lib = library(vec![(key(1), shows())]);
    let by = |order| {
        let case = Case::new(lib.clone(), vec![Slot::flood(key(1), order)]);
        content_ids(&case.build(T0, T0 + 6 * 60 * MIN))[..6].to_vec()
    };
    // Movies (no show) sort first by title, then Alpha S1E1, Alpha S2E1, Beta S1E1, S1E2.
    assert_eq!(by(PlaybackOrder::SeasonEpisode), [32, 31, 13, 21, 11, 12]);
    // Dated first by date (1984, 1999-05-01), then the undated by season, episode, title.
    assert_eq!(by(PlaybackOrder::Chronological), [32, 31, 13, 11, 12, 21]);
}

#[test]
fn shuffled_passes_are_permutations_reproducible_by_seed() {
    let lib = library(vec![(
        key(1),
        (1..=10).map(|i| media(i, &format!("M{i}"), 10)).collect(),
    )]);
    let run = |seed| {
        let mut case = Case::new(
            lib.clone(),
            vec![Slot::flood(key(1), PlaybackOrder::Shuffled)],
        );
        case.seed = seed;
        content_ids(&case.build(T0, T0 + 300 * MIN))
    };
    let ids = run(7);
    assert_eq!(ids.len(), 30);
    let mut passes: Vec<Vec<i64>> = ids.chunks(10).map(<[i64]>::to_vec).collect();
    assert_ne!(passes[0], passes[1], "each pass reshuffles");
    for pass in &mut passes {
        pass.sort();
        assert_eq!(
            *pass,
            (1..=10).collect::<Vec<_>>(),
            "every item once per pass"
        );
    }
    assert_eq!(run(7), ids, "same seed, same timeline");
    assert_ne!(run(8), ids, "another seed, another timeline");
    expect![[r#"
        [
            9,
            10,
            6,
            3,
            4,
            1,
            7,
            5,
            8,
            2,
        ]
    "#]]
    .assert_debug_eq(&ids[..10].to_vec());
}

#[test]
fn random_order_repeats_but_is_seeded() {
    let lib = library(vec![(
        key(1),
        (1..=4).map(|i| media(i, &format!("M{i}"), 10)).collect(),
    )]);
    let run = |seed| {
        let mut case = Case::new(
            lib.clone(),
            vec![Slot::flood(key(1), PlaybackOrder::Random)],
        );
        case.seed = seed;
        content_ids(&case.build(T0, T0 + 200 * MIN))
    };
    let ids = run(3);
    assert_eq!(run(3), ids);
    assert_ne!(run(4), ids);
    let first_pass = &ids[..4];
    let mut distinct = first_pass.to_vec();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() < 4 || ids[4..8] != *first_pass,
        "independent picks: {ids:?}"
    );
    for id in 1..=4 {
        assert!(ids.contains(&id), "{id} is picked within 20 draws: {ids:?}");
    }
}

#[test]
fn shuffle_in_order_keeps_each_show_in_order() {
    let mut items = Vec::new();
    for ep in 1..=5 {
        items.push(episode(100 + ep, "Alpha", 1, ep as i32, 20));
        items.push(episode(200 + ep, "Beta", 1, ep as i32, 20));
        items.push(episode(300 + ep, "Gamma", 1, ep as i32, 20));
    }
    let case = Case::new(
        library(vec![(key(1), items)]),
        vec![Slot::flood(key(1), PlaybackOrder::ShuffleInOrder)],
    );
    let ids = content_ids(&case.build(T0, T0 + 15 * 20 * MIN));
    assert_eq!(ids.len(), 15);
    for show in [100, 200, 300] {
        let eps: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|i| i / 100 * 100 == show)
            .collect();
        assert_eq!(eps, (1..=5).map(|e| show + e).collect::<Vec<_>>());
    }
    assert_ne!(
        ids[..5],
        [101, 102, 103, 104, 105],
        "shows are interleaved: {ids:?}"
    );
}

#[test]
fn one_and_multiple_alternate_slots() {
    let case = Case::new(
        library(vec![
            (
                key(1),
                vec![media(1, "A1", 10), media(2, "A2", 10), media(3, "A3", 10)],
            ),
            (key(2), vec![media(4, "B1", 5), media(5, "B2", 5)]),
        ]),
        vec![
            Slot {
                mode: Mode::Multiple(2),
                ..Slot::flood(key(1), PlaybackOrder::Chronological)
            },
            Slot {
                mode: Mode::One,
                ..Slot::flood(key(2), PlaybackOrder::Chronological)
            },
        ],
    );
    snapshot(
        &case,
        1,
        expect![[r#"
            Mon 20:00:00  10m00s A1
            Mon 20:10:00  10m00s A2
            Mon 20:20:00   5m00s B1
            Mon 20:25:00  10m00s A3
            Mon 20:35:00  10m00s A1
            Mon 20:45:00   5m00s B2
            Mon 20:50:00  10m00s A2
        "#]],
    );
}

#[test]
fn duration_blocks_with_each_tail() {
    let content = || vec![media(1, "Long", 25), media(2, "Short", 20)];
    let run = |tail| {
        let mut case = Case::new(
            library(vec![
                (key(1), content()),
                (key(2), vec![media(9, "Next", 10)]),
                (filler_key(5), bumpers(50, &[240, 60])),
            ]),
            vec![
                Slot {
                    mode: Mode::Duration {
                        duration_ms: 60 * MIN,
                        tail,
                    },
                    fillers: Fillers {
                        tail: Some(5),
                        ..Fillers::default()
                    },
                    ..Slot::flood(key(1), PlaybackOrder::Chronological)
                },
                Slot {
                    mode: Mode::One,
                    ..Slot::flood(key(2), PlaybackOrder::Chronological)
                },
            ],
        );
        case.presets = vec![preset(
            5,
            FillerMode::Duration(0),
            PlaybackOrder::Chronological,
        )];
        render(&case.build(T0, T0 + 70 * MIN), &case.tz)
    };
    expect![[r#"
        Mon 20:00:00  25m00s Long
        Mon 20:25:00  20m00s Short
        Mon 20:45:00  10m00s Next
        Mon 20:55:00  25m00s Long
    "#]]
    .assert_eq(&run(TailMode::None));
    expect![[r#"
        Mon 20:00:00  25m00s Long
        Mon 20:25:00  20m00s Short
        Mon 20:45:00  15m00s Offline [offline]
        Mon 21:00:00  10m00s Next
    "#]]
    .assert_eq(&run(TailMode::Offline));
    expect![[r#"
        Mon 20:00:00  25m00s Long
        Mon 20:25:00  20m00s Short
        Mon 20:45:00   4m00s Bumper 1 [tail]
        Mon 20:49:00   1m00s Bumper 2 [tail]
        Mon 20:50:00   4m00s Bumper 1 [tail]
        Mon 20:54:00   1m00s Bumper 2 [tail]
        Mon 20:55:00   4m00s Bumper 1 [tail]
        Mon 20:59:00   1m00s Bumper 2 [tail]
        Mon 21:00:00  10m00s Next
    "#]]
    .assert_eq(&run(TailMode::Filler));
}

#[test]
fn mid_roll_splits_the_item_and_fallback_fills_a_fixed_start_gap() {
    let mut case = Case::new(
        library(vec![
            (key(1), vec![media(1, "Feature", 50)]),
            (filler_key(6), bumpers(60, &[30, 45])),
            (filler_key(7), vec![media(70, "Loop", 7)]),
        ]),
        vec![Slot {
            mode: Mode::One,
            fixed_start: Some(FixedStart {
                time: clock::parse_time("21:00").unwrap(),
                flexible: false,
            }),
            fillers: Fillers {
                mid_roll: Some(6),
                fallback: Some(7),
                ..Fillers::default()
            },
            ..Slot::flood(key(1), PlaybackOrder::Chronological)
        }],
    );
    case.presets = vec![
        preset(6, FillerMode::Count(2), PlaybackOrder::Chronological),
        preset(7, FillerMode::Count(1), PlaybackOrder::Chronological),
    ];
    snapshot(
        &case,
        2,
        expect![[r#"
            Mon 20:00:00   7m00s Loop [fallback]
            Mon 20:07:00   7m00s Loop [fallback]
            Mon 20:14:00   7m00s Loop [fallback]
            Mon 20:21:00   7m00s Loop [fallback]
            Mon 20:28:00   7m00s Loop [fallback]
            Mon 20:35:00   7m00s Loop [fallback]
            Mon 20:42:00   7m00s Loop [fallback]
            Mon 20:49:00   7m00s Loop [fallback]
            Mon 20:56:00   4m00s Loop [fallback]
            Mon 21:00:00  25m00s Feature
            Mon 21:25:00   0m30s Bumper 1 [mid_roll]
            Mon 21:25:30   0m45s Bumper 2 [mid_roll]
            Mon 21:26:15  25m00s Feature (from 1500s)
            Mon 21:51:15   7m00s Loop [fallback]
            Mon 21:58:15   7m00s Loop [fallback]
            Mon 22:05:15   7m00s Loop [fallback]
            Mon 22:12:15   7m00s Loop [fallback]
            Mon 22:19:15   7m00s Loop [fallback]
            Mon 22:26:15   7m00s Loop [fallback]
            Mon 22:33:15   7m00s Loop [fallback]
            Mon 22:40:15   7m00s Loop [fallback]
            Mon 22:47:15   7m00s Loop [fallback]
            Mon 22:54:15   7m00s Loop [fallback]
            Mon 23:01:15   7m00s Loop [fallback]
            Mon 23:08:15   7m00s Loop [fallback]
            Mon 23:15:15   7m00s Loop [fallback]
            Mon 23:22:15   7m00s Loop [fallback]
            Mon 23:29:15   7m00s Loop [fallback]
            Mon 23:36:15   7m00s Loop [fallback]
            Mon 23:43:15   7m00s Loop [fallback]
            Mon 23:50:15   7m00s Loop [fallback]
            Mon 23:57:15   7m00s Loop [fallback]
            Tue 00:04:15   7m00s Loop [fallback]
            Tue 00:11:15   7m00s Loop [fallback]
            Tue 00:18:15   7m00s Loop [fallback]
            Tue 00:25:15   7m00s Loop [fallback]
            Tue 00:32:15   7m00s Loop [fallback]
            Tue 00:39:15   7m00s Loop [fallback]
            Tue 00:46:15   7m00s Loop [fallback]
            Tue 00:53:15   7m00s Loop [fallback]
            Tue 01:00:15   7m00s Loop [fallback]
            Tue 01:07:15   7m00s Loop [fallback]
            Tue 01:14:15   7m00s Loop [fallback]
            Tue 01:21:15   7m00s Loop [fallback]
            Tue 01:28:15   7m00s Loop [fallback]
            Tue 01:35:15   7m00s Loop [fallback]
            Tue 01:42:15   7m00s Loop [fallback]
            Tue 01:49:15   7m00s Loop [fallback]
            Tue 01:56:15   7m00s Loop [fallback]
            Tue 02:03:15   7m00s Loop [fallback]
            Tue 02:10:15   7m00s Loop [fallback]
            Tue 02:17:15   7m00s Loop [fallback]
            Tue 02:24:15   7m00s Loop [fallback]
            Tue 02:31:15   7m00s Loop [fallback]
            Tue 02:38:15   7m00s Loop [fallback]
            Tue 02:45:15   7m00s Loop [fallback]
            Tue 02:52:15   7m00s Loop [fallback]
            Tue 02:59:15   7m00s Loop [fallback]
            Tue 03:06:15   7m00s Loop [fallback]
            Tue 03:13:15   7m00s Loop [fallback]
            Tue 03:20:15   7m00s Loop [fallback]
            Tue 03:27:15   7m00s Loop [fallback]
            Tue 03:34:15   7m00s Loop [fallback]
            Tue 03:41:15   7m00s Loop [fallback]
            Tue 03:48:15   7m00s Loop [fallback]
            Tue 03:55:15   7m00s Loop [fallback]
            Tue 04:02:15   7m00s Loop [fallback]
            Tue 04:09:15   7m00s Loop [fallback]
            Tue 04:16:15   7m00s Loop [fallback]
            Tue 04:23:15   7m00s Loop [fallback]
            Tue 04:30:15   7m00s Loop [fallback]
            Tue 04:37:15   7m00s Loop [fallback]
            Tue 04:44:15   7m00s Loop [fallback]
            Tue 04:51:15   7m00s Loop [fallback]
            Tue 04:58:15   7m00s Loop [fallback]
            Tue 05:05:15   7m00s Loop [fallback]
            Tue 05:12:15   7m00s Loop [fallback]
            Tue 05:19:15   7m00s Loop [fallback]
            Tue 05:26:15   7m00s Loop [fallback]
            Tue 05:33:15   7m00s Loop [fallback]
            Tue 05:40:15   7m00s Loop [fallback]
            Tue 05:47:15   7m00s Loop [fallback]
            Tue 05:54:15   7m00s Loop [fallback]
            Tue 06:01:15   7m00s Loop [fallback]
            Tue 06:08:15   7m00s Loop [fallback]
            Tue 06:15:15   7m00s Loop [fallback]
            Tue 06:22:15   7m00s Loop [fallback]
            Tue 06:29:15   7m00s Loop [fallback]
            Tue 06:36:15   7m00s Loop [fallback]
            Tue 06:43:15   7m00s Loop [fallback]
            Tue 06:50:15   7m00s Loop [fallback]
            Tue 06:57:15   7m00s Loop [fallback]
            Tue 07:04:15   7m00s Loop [fallback]
            Tue 07:11:15   7m00s Loop [fallback]
            Tue 07:18:15   7m00s Loop [fallback]
            Tue 07:25:15   7m00s Loop [fallback]
            Tue 07:32:15   7m00s Loop [fallback]
            Tue 07:39:15   7m00s Loop [fallback]
            Tue 07:46:15   7m00s Loop [fallback]
            Tue 07:53:15   7m00s Loop [fallback]
            Tue 08:00:15   7m00s Loop [fallback]
            Tue 08:07:15   7m00s Loop [fallback]
            Tue 08:14:15   7m00s Loop [fallback]
            Tue 08:21:15   7m00s Loop [fallback]
            Tue 08:28:15   7m00s Loop [fallback]
            Tue 08:35:15   7m00s Loop [fallback]
            Tue 08:42:15   7m00s Loop [fallback]
            Tue 08:49:15   7m00s Loop [fallback]
            Tue 08:56:15   7m00s Loop [fallback]
            Tue 09:03:15   7m00s Loop [fallback]
            Tue 09:10:15   7m00s Loop [fallback]
            Tue 09:17:15   7m00s Loop [fallback]
            Tue 09:24:15   7m00s Loop [fallback]
            Tue 09:31:15   7m00s Loop [fallback]
            Tue 09:38:15   7m00s Loop [fallback]
            Tue 09:45:15   7m00s Loop [fallback]
            Tue 09:52:15   7m00s Loop [fallback]
            Tue 09:59:15   7m00s Loop [fallback]
            Tue 10:06:15   7m00s Loop [fallback]
            Tue 10:13:15   7m00s Loop [fallback]
            Tue 10:20:15   7m00s Loop [fallback]
            Tue 10:27:15   7m00s Loop [fallback]
            Tue 10:34:15   7m00s Loop [fallback]
            Tue 10:41:15   7m00s Loop [fallback]
            Tue 10:48:15   7m00s Loop [fallback]
            Tue 10:55:15   7m00s Loop [fallback]
            Tue 11:02:15   7m00s Loop [fallback]
            Tue 11:09:15   7m00s Loop [fallback]
            Tue 11:16:15   7m00s Loop [fallback]
            Tue 11:23:15   7m00s Loop [fallback]
            Tue 11:30:15   7m00s Loop [fallback]
            Tue 11:37:15   7m00s Loop [fallback]
            Tue 11:44:15   7m00s Loop [fallback]
            Tue 11:51:15   7m00s Loop [fallback]
            Tue 11:58:15   7m00s Loop [fallback]
            Tue 12:05:15   7m00s Loop [fallback]
            Tue 12:12:15   7m00s Loop [fallback]
            Tue 12:19:15   7m00s Loop [fallback]
            Tue 12:26:15   7m00s Loop [fallback]
            Tue 12:33:15   7m00s Loop [fallback]
            Tue 12:40:15   7m00s Loop [fallback]
            Tue 12:47:15   7m00s Loop [fallback]
            Tue 12:54:15   7m00s Loop [fallback]
            Tue 13:01:15   7m00s Loop [fallback]
            Tue 13:08:15   7m00s Loop [fallback]
            Tue 13:15:15   7m00s Loop [fallback]
            Tue 13:22:15   7m00s Loop [fallback]
            Tue 13:29:15   7m00s Loop [fallback]
            Tue 13:36:15   7m00s Loop [fallback]
            Tue 13:43:15   7m00s Loop [fallback]
            Tue 13:50:15   7m00s Loop [fallback]
            Tue 13:57:15   7m00s Loop [fallback]
            Tue 14:04:15   7m00s Loop [fallback]
            Tue 14:11:15   7m00s Loop [fallback]
            Tue 14:18:15   7m00s Loop [fallback]
            Tue 14:25:15   7m00s Loop [fallback]
            Tue 14:32:15   7m00s Loop [fallback]
            Tue 14:39:15   7m00s Loop [fallback]
            Tue 14:46:15   7m00s Loop [fallback]
            Tue 14:53:15   7m00s Loop [fallback]
            Tue 15:00:15   7m00s Loop [fallback]
            Tue 15:07:15   7m00s Loop [fallback]
            Tue 15:14:15   7m00s Loop [fallback]
            Tue 15:21:15   7m00s Loop [fallback]
            Tue 15:28:15   7m00s Loop [fallback]
            Tue 15:35:15   7m00s Loop [fallback]
            Tue 15:42:15   7m00s Loop [fallback]
            Tue 15:49:15   7m00s Loop [fallback]
            Tue 15:56:15   7m00s Loop [fallback]
            Tue 16:03:15   7m00s Loop [fallback]
            Tue 16:10:15   7m00s Loop [fallback]
            Tue 16:17:15   7m00s Loop [fallback]
            Tue 16:24:15   7m00s Loop [fallback]
            Tue 16:31:15   7m00s Loop [fallback]
            Tue 16:38:15   7m00s Loop [fallback]
            Tue 16:45:15   7m00s Loop [fallback]
            Tue 16:52:15   7m00s Loop [fallback]
            Tue 16:59:15   7m00s Loop [fallback]
            Tue 17:06:15   7m00s Loop [fallback]
            Tue 17:13:15   7m00s Loop [fallback]
            Tue 17:20:15   7m00s Loop [fallback]
            Tue 17:27:15   7m00s Loop [fallback]
            Tue 17:34:15   7m00s Loop [fallback]
            Tue 17:41:15   7m00s Loop [fallback]
            Tue 17:48:15   7m00s Loop [fallback]
            Tue 17:55:15   7m00s Loop [fallback]
            Tue 18:02:15   7m00s Loop [fallback]
            Tue 18:09:15   7m00s Loop [fallback]
            Tue 18:16:15   7m00s Loop [fallback]
            Tue 18:23:15   7m00s Loop [fallback]
            Tue 18:30:15   7m00s Loop [fallback]
            Tue 18:37:15   7m00s Loop [fallback]
            Tue 18:44:15   7m00s Loop [fallback]
            Tue 18:51:15   7m00s Loop [fallback]
            Tue 18:58:15   7m00s Loop [fallback]
            Tue 19:05:15   7m00s Loop [fallback]
            Tue 19:12:15   7m00s Loop [fallback]
            Tue 19:19:15   7m00s Loop [fallback]
            Tue 19:26:15   7m00s Loop [fallback]
            Tue 19:33:15   7m00s Loop [fallback]
            Tue 19:40:15   7m00s Loop [fallback]
            Tue 19:47:15   7m00s Loop [fallback]
            Tue 19:54:15   7m00s Loop [fallback]
            Tue 20:01:15   7m00s Loop [fallback]
            Tue 20:08:15   7m00s Loop [fallback]
            Tue 20:15:15   7m00s Loop [fallback]
            Tue 20:22:15   7m00s Loop [fallback]
            Tue 20:29:15   7m00s Loop [fallback]
            Tue 20:36:15   7m00s Loop [fallback]
            Tue 20:43:15   7m00s Loop [fallback]
            Tue 20:50:15   7m00s Loop [fallback]
            Tue 20:57:15   2m45s Loop [fallback]
        "#]],
    );
}

#[test]
fn nothing_to_play_is_the_offline_slate_never_a_dead_channel() {
    // An emptied collection, a slot pointing nowhere, a zero-length item: all become the slate
    // at clean boundaries, and a playable slot beside them still plays.
    let case = Case::new(
        library(vec![
            (key(1), Vec::new()),
            (key(2), vec![media(5, "Zero", 0), media(6, "Real", 20)]),
        ]),
        vec![
            Slot {
                mode: Mode::One,
                ..Slot::flood(key(1), PlaybackOrder::Chronological)
            },
            Slot {
                content: None,
                mode: Mode::One,
                ..Slot::flood(key(1), PlaybackOrder::Chronological)
            },
            Slot {
                mode: Mode::One,
                ..Slot::flood(key(2), PlaybackOrder::Chronological)
            },
        ],
    );
    snapshot(
        &case,
        2,
        expect![[r#"
            Mon 20:00:00  30m00s Offline [offline]
            Mon 20:30:00  30m00s Offline [offline]
            Mon 21:00:00  20m00s Real
            Mon 21:20:00  10m00s Offline [offline]
            Mon 21:30:00  30m00s Offline [offline]
        "#]],
    );
    let empty = Case::new(Library::default(), Vec::new());
    let items = empty.build(T0 + 7 * MIN, T0 + 90 * MIN);
    assert!(items
        .iter()
        .all(|i| i.filler_kind == Some(FillerKind::Offline)));
    assert_eq!(items[0].finish_ms, T0 + 30 * MIN, "to the next :00/:30");
}

#[test]
fn flood_stops_at_the_next_fixed_start_and_flexible_starts_late_slots_at_once() {
    let slots = |flexible| {
        vec![
            Slot::flood(key(1), PlaybackOrder::Chronological),
            Slot {
                mode: Mode::One,
                fixed_start: Some(FixedStart {
                    time: clock::parse_time("20:40").unwrap(),
                    flexible,
                }),
                ..Slot::flood(key(2), PlaybackOrder::Chronological)
            },
        ]
    };
    let lib = library(vec![
        (key(1), vec![media(1, "Rerun", 15)]),
        (key(2), vec![media(2, "News", 30)]),
    ]);
    let case = Case::new(lib.clone(), slots(false));
    snapshot(
        &case,
        2,
        expect![[r#"
            Mon 20:00:00  15m00s Rerun
            Mon 20:15:00  15m00s Rerun
            Mon 20:30:00  10m00s Offline [offline]
            Mon 20:40:00  30m00s News
            Mon 21:10:00  15m00s Rerun
            Mon 21:25:00  15m00s Rerun
            Mon 21:40:00  15m00s Rerun
            Mon 21:55:00  15m00s Rerun
        "#]],
    );
    // Flexible: a "one" slot entered after 20:40 (here at 20:45) starts at once.
    let case = Case::new(
        lib,
        vec![
            Slot {
                mode: Mode::One,
                fixed_start: None,
                ..Slot::flood(key(1), PlaybackOrder::Chronological)
            },
            slots(true).remove(1),
        ],
    );
    let items = case.build(T0 + 30 * MIN, T0 + 60 * MIN);
    assert_eq!(items[1].media_id, Some(2));
    assert_eq!(items[1].start_ms, T0 + 45 * MIN);
}

#[test]
fn a_busy_week_is_contiguous_and_resumable_everywhere() {
    // Every feature at once, in a DST-observing zone, over a week that crosses a change.
    let mut case = Case::new(
        library(vec![
            (key(1), shows()),
            (
                key(2),
                (1..=40)
                    .map(|i| media(1000 + i, &format!("Clip {i}"), 3 + i % 17))
                    .collect(),
            ),
            (key(3), vec![media(2000, "Evening News", 30)]),
            (filler_key(4), bumpers(3000, &[15, 20, 30, 45, 60, 90])),
            (filler_key(5), bumpers(4000, &[300, 420])),
        ]),
        vec![
            Slot {
                fixed_start: Some(FixedStart {
                    time: clock::parse_time("06:00").unwrap(),
                    flexible: false,
                }),
                fillers: Fillers {
                    pre_roll: Some(4),
                    mid_roll: Some(4),
                    ..Fillers::default()
                },
                ..Slot::flood(key(1), PlaybackOrder::ShuffleInOrder)
            },
            Slot {
                mode: Mode::One,
                fixed_start: Some(FixedStart {
                    time: clock::parse_time("19:00").unwrap(),
                    flexible: false,
                }),
                ..Slot::flood(key(3), PlaybackOrder::Chronological)
            },
            Slot {
                mode: Mode::Duration {
                    duration_ms: 150 * MIN,
                    tail: TailMode::Filler,
                },
                fillers: Fillers {
                    tail: Some(4),
                    post_roll: Some(4),
                    ..Fillers::default()
                },
                ..Slot::flood(key(2), PlaybackOrder::Random)
            },
            Slot {
                mode: Mode::Multiple(3),
                ..Slot::flood(key(2), PlaybackOrder::Shuffled)
            },
        ],
    );
    case.presets = vec![
        preset(4, FillerMode::Count(2), PlaybackOrder::Shuffled),
        preset(5, FillerMode::Pad(30), PlaybackOrder::Random),
    ];
    case.channel_fillers = Fillers {
        fallback: Some(5),
        post_roll: Some(5),
        ..Fillers::default()
    };
    case.tz = TimeZone::get("America/New_York").unwrap();
    // 2026-10-29 .. 2026-11-05: New York leaves DST on 2026-11-01.
    let from = "2026-10-29T13:17:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let items = case.build(from, from + 7 * 24 * 60 * MIN);
    assert!(items.len() > 500, "{}", items.len());
    let news: Vec<String> = items
        .iter()
        .filter(|i| i.media_id == Some(2000))
        .map(|i| {
            let local = jiff::Timestamp::from_millisecond(i.start_ms)
                .unwrap()
                .to_zoned(case.tz.clone());
            local.strftime("%m-%d %H:%M").to_string()
        })
        .collect();
    // The schedule starts at its 06:00 slot (strict): the first day waits for 06:00 on
    // 10-30 (fallback filler meanwhile), then news is at 19:00 local on both sides of the change.
    assert_eq!(
        news,
        [
            "10-30 19:00",
            "10-31 19:00",
            "11-01 19:00",
            "11-02 19:00",
            "11-03 19:00",
            "11-04 19:00"
        ]
    );
}

#[test]
fn random_start_point_starts_each_content_at_a_seeded_place() {
    let lib = library(vec![(
        key(1),
        (1..=20)
            .map(|i| media(i, &format!("E{i:02}"), 10))
            .collect(),
    )]);
    let first = |seed, random_start_point| {
        let mut case = Case::new(
            lib.clone(),
            vec![Slot::flood(key(1), PlaybackOrder::Chronological)],
        );
        case.seed = seed;
        case.random_start_point = random_start_point;
        content_ids(&case.build(T0, T0 + 60 * MIN))
    };
    assert_eq!(first(1, false)[..3], [1, 2, 3]);
    let a = first(1, true);
    assert_eq!(a, first(1, true), "seeded");
    assert_ne!(a[0], 1, "{a:?}");
    assert_eq!(a[1], a[0] % 20 + 1, "then in order: {a:?}");
    assert_ne!(first(2, true)[0], a[0], "another seed, another start");
}

#[test]
fn shuffled_schedule_items_play_each_slot_once_per_pass_in_a_seeded_order() {
    let slots: Vec<Slot> = (1..=4)
        .map(|k| Slot {
            mode: Mode::One,
            ..Slot::flood(key(k), PlaybackOrder::Chronological)
        })
        .collect();
    let lib = library(
        (1..=4)
            .map(|k| (key(k), vec![media(k, &format!("S{k}"), 10)]))
            .collect(),
    );
    let mut case = Case::new(lib, slots);
    case.shuffle_slots = true;
    let ids = content_ids(&case.build(T0, T0 + 120 * MIN));
    let passes: Vec<Vec<i64>> = ids.chunks(4).map(<[i64]>::to_vec).collect();
    assert_ne!(passes[0], passes[1], "{ids:?}");
    for pass in &passes {
        let mut sorted = pass.clone();
        sorted.sort();
        assert_eq!(sorted, [1, 2, 3, 4], "{ids:?}");
    }
}

#[test]
fn a_ten_thousand_item_content_builds_a_week_quickly() {
    let items: Vec<Media> = (0..10_000)
        .map(|i| media(i, &format!("Clip {i:05}"), 1 + i % 7))
        .collect();
    for order in [
        PlaybackOrder::Shuffled,
        PlaybackOrder::SeasonEpisode,
        PlaybackOrder::ShuffleInOrder,
        PlaybackOrder::Random,
    ] {
        let case = Case::new(
            library(vec![(key(1), items.clone())]),
            vec![Slot::flood(key(1), order)],
        );
        // Contiguity only: resuming from every anchor of a week is the busy-week test's job.
        let until = T0 + 7 * 24 * 60 * MIN;
        let week = build(&case.input(), Anchor::default(), T0, until).items;
        check_contiguous(&week, T0, until);
        assert!(week.len() > 2_000, "{order:?}: {}", week.len());
    }
}

// ---------------------------------------------------------------- multi-part episodes

fn part(id: i64, show: &str, ep: i32, title: &str) -> Media {
    Media {
        title: title.into(),
        ..episode(id, show, 1, ep, 20)
    }
}

/// A show with a two-part pilot, a three-part finale, a multi-episode file continued by a
/// second part, and look-alikes that must not be joined; and another show to mix in.
fn multi_part_show() -> Vec<Media> {
    vec![
        part(1, "Saga", 1, "Pilot (1)"),
        part(2, "Saga", 2, "Pilot (2)"),
        part(3, "Saga", 3, "Alone"),
        part(4, "Saga", 4, "Finale, Part 1"),
        part(5, "Saga", 5, "Finale, Part Two"),
        part(6, "Saga", 6, "Finale - Pt. III"),
        Media {
            episode_end: Some(8),
            ..part(7, "Saga", 7, "Double (1)")
        },
        part(9, "Saga", 9, "Double (2)"),
        // Part 2 of another stem, and a part 2 whose part 1 is not the episode before.
        part(10, "Saga", 10, "Other (2)"),
        part(12, "Saga", 12, "Gap (1)"),
        part(14, "Saga", 14, "Gap (2)"),
        episode(21, "Else", 1, 1, 20),
        episode(22, "Else", 1, 2, 20),
        episode(23, "Else", 1, 3, 20),
        episode(24, "Else", 1, 4, 20),
    ]
}

#[test]
fn part_markers_and_units() {
    use super::order::{part_marker, Units};
    assert_eq!(part_marker("Pilot (1)"), Some(("Pilot", 1)));
    assert_eq!(part_marker("Finale, Part Two"), Some(("Finale", 2)));
    assert_eq!(part_marker("Finale - Pt. III"), Some(("Finale", 3)));
    assert_eq!(part_marker("The End (Part 2)"), Some(("The End", 2)));
    assert_eq!(part_marker("Rocky (II)"), None);
    assert_eq!(part_marker("Part 2"), None, "no stem");
    assert_eq!(part_marker("Catch-22"), None);
    assert_eq!(part_marker("Apollo 13"), None);
    let media = multi_part_show();
    let content: Vec<u32> = (0..media.len() as u32).rev().collect();
    let units = Units::new(&content, &media);
    let ids: Vec<Vec<i64>> = (0..units.len())
        .map(|u| {
            units
                .unit(u)
                .iter()
                .map(|i| media[*i as usize].id)
                .collect()
        })
        .collect();
    assert_eq!(
        ids,
        [
            vec![21],
            vec![22],
            vec![23],
            vec![24],
            vec![1, 2],
            vec![3],
            vec![4, 5, 6],
            vec![7, 9],
            vec![10],
            vec![12],
            vec![14],
        ]
    );
}

/// The media ids of the content items in `items` (no filler here).
fn media_ids(items: &[Item]) -> Vec<i64> {
    items.iter().filter_map(|i| i.media_id).collect()
}

/// Every later part directly follows the part before it.
fn parts_together(ids: &[i64]) -> bool {
    let before = |id: i64| match id {
        2 => Some(1),
        5 => Some(4),
        6 => Some(5),
        9 => Some(7),
        _ => None,
    };
    ids.windows(2)
        .all(|w| before(w[1]).is_none_or(|b| w[0] == b))
        && ids.first().is_none_or(|first| before(*first).is_none())
}

#[test]
fn multi_part_episodes_stay_together_in_every_shuffling_order() {
    let lib = library(vec![(key(1), multi_part_show())]);
    for order in [
        PlaybackOrder::Shuffled,
        PlaybackOrder::Random,
        PlaybackOrder::ShuffleInOrder,
    ] {
        let mut n_split_without = 0;
        for seed in 1..=20 {
            let mut case = Case::new(lib.clone(), vec![Slot::flood(key(1), order)]);
            case.seed = seed;
            case.keep_multi_part = true;
            // Two days: several passes (Shuffled), hundreds of draws (Random).
            let ids = media_ids(&case.build(T0, T0 + 48 * 60 * MIN));
            assert!(parts_together(&ids), "{order:?} seed {seed}: {ids:?}");
            case.keep_multi_part = false;
            if !parts_together(&media_ids(&case.build(T0, T0 + 48 * 60 * MIN))) {
                n_split_without += 1;
            }
        }
        assert!(
            n_split_without > 0,
            "{order:?} never split a multi-part episode"
        );
    }
    // Sorted orders keep them together anyway; the flag changes nothing there.
    let mut case = Case::new(
        lib.clone(),
        vec![Slot::flood(key(1), PlaybackOrder::SeasonEpisode)],
    );
    case.keep_multi_part = true;
    let ids = media_ids(&case.build(T0, T0 + 10 * 60 * MIN));
    assert_eq!(ids[..10], [21, 22, 23, 24, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn multi_part_shuffle_snapshot() {
    let mut case = Case::new(
        library(vec![(key(1), multi_part_show())]),
        vec![Slot::flood(key(1), PlaybackOrder::Shuffled)],
    );
    case.keep_multi_part = true;
    let ids = media_ids(&case.build(T0, T0 + 15 * 20 * MIN));
    expect!["[23, 3, 12, 24, 14, 4, 5, 6, 1, 2, 10, 22, 21, 7, 9]"].assert_eq(&format!("{ids:?}"));
}

// ---------------------------------------------------------------- daily reset

fn ms_at(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

#[test]
fn daily_reset_restarts_the_schedule_each_day_across_a_dst_change() {
    // Two shows alternating one episode each, 50 minutes long, so no reset lands on a
    // boundary by chance. Berlin switches to summer time on 2026-03-29 at 02:00.
    let alpha: Vec<Media> = (1..=9)
        .map(|e| episode(100 + e as i64, "Alpha", 1, e, 50))
        .collect();
    let beta: Vec<Media> = (1..=9)
        .map(|e| episode(200 + e as i64, "Beta", 1, e, 50))
        .collect();
    let one = |k| Slot {
        mode: Mode::One,
        ..Slot::flood(key(k), PlaybackOrder::SeasonEpisode)
    };
    let mut case = Case::new(
        library(vec![(key(1), alpha), (key(2), beta)]),
        vec![one(1), one(2)],
    );
    case.tz = TimeZone::get("Europe/Berlin").unwrap();
    case.daily_reset = clock::parse_time("06:00");
    let from = ms_at("2026-03-27T20:10:00Z");
    let until = ms_at("2026-03-30T12:00:00Z");
    let items = case.build(from, until);
    // 06:00 local: CET (05:00Z) before the change, CEST (04:00Z) after.
    let resets = [
        ms_at("2026-03-28T05:00:00Z"),
        ms_at("2026-03-29T04:00:00Z"),
        ms_at("2026-03-30T04:00:00Z"),
    ];
    for reset in resets {
        let at = items
            .iter()
            .position(|i| i.start_ms == reset)
            .unwrap_or_else(|| panic!("an item starts at the reset {reset}"));
        // The schedule starts over: the first slot, its first episode.
        assert_eq!(items[at].media_id, Some(101), "{:?}", items[at]);
        assert_eq!(items[at + 1].media_id, Some(201));
        // What ran at the reset was cut there (not a whole 50 minutes).
        let before = &items[at - 1];
        assert_eq!(before.finish_ms, reset);
        assert!(before.duration_ms() < 50 * MIN, "{before:?}");
    }
    // Between resets the schedule goes on as usual: no other item is cut.
    let n_cut = items[..items.len() - 1]
        .iter()
        .filter(|i| i.duration_ms() != 50 * MIN)
        .count();
    assert_eq!(n_cut, resets.len());
    // Resuming from any anchored item (just before, at, just after a reset) reproduces
    // the rest: the applied reset travels in the anchor.
    for (i, item) in items.iter().enumerate() {
        let Some(anchor) = item.anchor.as_deref() else {
            continue;
        };
        let rest = build(&case.input(), anchor.clone(), item.finish_ms, until);
        let strip = |v: &[Item]| -> Vec<(Option<i64>, i64, i64)> {
            v.iter()
                .map(|x| (x.media_id, x.start_ms, x.finish_ms))
                .collect()
        };
        assert_eq!(
            strip(&rest.items),
            strip(&items[i + 1..]),
            "resume after {i}"
        );
    }
    // Without a reset the same schedule runs straight through.
    case.daily_reset = None;
    let straight = case.build(from, until);
    assert!(straight[..straight.len() - 1]
        .iter()
        .all(|i| i.duration_ms() == 50 * MIN));
}

#[test]
fn each_day_after_a_reset_shuffles_anew() {
    let shows: Vec<Media> = (1..=12)
        .map(|e| episode(e as i64, "Mix", 1, e, 60))
        .collect();
    let mut case = Case::new(
        library(vec![(key(1), shows)]),
        vec![Slot::flood(key(1), PlaybackOrder::Shuffled)],
    );
    case.daily_reset = clock::parse_time("00:00");
    let day = 24 * 60 * MIN;
    let start = ms_at("2026-01-05T00:00:00Z");
    let items = case.build(start, start + 3 * day);
    let day_ids = |d: i64| -> Vec<Option<i64>> {
        items
            .iter()
            .filter(|i| {
                i.start_ms >= start + d * day && i.start_ms < start + d * day + 12 * 60 * MIN
            })
            .map(|i| i.media_id)
            .collect()
    };
    assert_eq!(day_ids(1).len(), 12);
    assert_ne!(day_ids(1), day_ids(2), "a new seed each day");
    assert_ne!(day_ids(0), day_ids(1));
}

#[test]
fn a_random_start_point_never_lands_inside_a_multi_part_episode() {
    let lib = library(vec![(key(1), multi_part_show())]);
    for order in [
        PlaybackOrder::SeasonEpisode,
        PlaybackOrder::Shuffled,
        PlaybackOrder::ShuffleInOrder,
    ] {
        let mut n_split_without = 0;
        for seed in 1..=30 {
            let mut case = Case::new(lib.clone(), vec![Slot::flood(key(1), order)]);
            case.seed = seed;
            case.random_start_point = true;
            case.keep_multi_part = true;
            let ids = media_ids(&case.build(T0, T0 + 10 * 60 * MIN));
            assert!(parts_together(&ids), "{order:?} seed {seed}: {ids:?}");
            case.keep_multi_part = false;
            if !parts_together(&media_ids(&case.build(T0, T0 + 10 * 60 * MIN))) {
                n_split_without += 1;
            }
        }
        assert!(n_split_without > 0, "{order:?}: no seed starts mid-episode");
    }
}

// ---------------------------------------------------------------------------- blocks

fn block_item(id: i64, content: ContentKey) -> BlockItem {
    BlockItem {
        id,
        content: Some(content),
        order: PlaybackOrder::SeasonEpisode,
        guide_mode: GuideMode::Normal,
        disable_watermarks: false,
    }
}

/// A 60-minute block of two shows (25 and 22 minutes an episode) placed at 20:30 every day,
/// over a schedule flooding 7-minute clips.
fn block_case(stop_before_end: bool) -> Case {
    let alpha: Vec<Media> = (1..=9)
        .map(|e| episode(100 + e, "Alpha", 1, e as i32, 25))
        .collect();
    let beta: Vec<Media> = (1..=9)
        .map(|e| episode(200 + e, "Beta", 1, e as i32, 22))
        .collect();
    let clips: Vec<Media> = (1..=3)
        .map(|i| media(900 + i, &format!("Clip {i}"), 7))
        .collect();
    let mut case = Case::new(
        library(vec![(key(1), alpha), (key(2), beta), (key(9), clips)]),
        vec![Slot::flood(key(9), PlaybackOrder::Chronological)],
    );
    case.blocks = BlockPlan {
        blocks: vec![Block {
            id: 1,
            duration_ms: 60 * MIN,
            days: 127,
            stop_before_end,
            items: vec![block_item(11, key(1)), block_item(12, key(2))],
        }],
        plans: vec![DayPlan {
            days: 127,
            priority: 0,
            placements: vec![Placement {
                block: 0,
                start: clock::parse_time("20:30").unwrap(),
            }],
        }],
    };
    case
}

#[test]
fn a_block_item_that_disables_watermarks_marks_only_its_items() {
    let mut case = block_case(true);
    case.blocks.blocks[0].items[1].disable_watermarks = true;
    let items = case.build(T0, T0 + 2 * 60 * MIN);
    let off: Vec<&str> = items
        .iter()
        .filter(|item| item.watermark_off)
        .map(|item| item.title.as_str())
        .collect();
    assert_eq!(off, ["Beta"]);
}

#[test]
fn a_block_airs_its_items_in_turn_and_stops_before_an_overrun() {
    let case = block_case(true);
    snapshot(
        &case,
        2,
        expect![[r#"
            Mon 20:00:00   7m00s Clip 1
            Mon 20:07:00   7m00s Clip 2
            Mon 20:14:00   7m00s Clip 3
            Mon 20:21:00   7m00s Clip 1
            Mon 20:28:00   2m00s Offline [offline]
            Mon 20:30:00  25m00s Alpha / Alpha 1x1
            Mon 20:55:00  22m00s Beta / Beta 1x1
            Mon 21:17:00  13m00s Offline [offline]
            Mon 21:30:00   7m00s Clip 2
            Mon 21:37:00   7m00s Clip 3
            Mon 21:44:00   7m00s Clip 1
            Mon 21:51:00   7m00s Clip 2
            Mon 21:58:00   7m00s Clip 3
        "#]],
    );
}

#[test]
fn a_block_that_lets_items_finish_overruns_and_the_schedule_follows() {
    let case = block_case(false);
    let items = case.build(T0 + 30 * MIN, T0 + 110 * MIN);
    expect![[r#"
        Mon 20:30:00  25m00s Alpha / Alpha 1x1
        Mon 20:55:00  22m00s Beta / Beta 1x1
        Mon 21:17:00  25m00s Alpha / Alpha 1x2
        Mon 21:42:00   7m00s Clip 1
        Mon 21:49:00   7m00s Clip 2
    "#]]
    .assert_eq(&render(&items, &case.tz));
}

#[test]
fn the_next_airing_continues_each_items_sequence() {
    const DAY: i64 = 24 * 60 * MIN;
    let airing_ids = |case: &Case| -> Vec<Vec<i64>> {
        let items = case.build(T0, T0 + 3 * DAY);
        (0..3)
            .map(|day| {
                let start = T0 + 30 * MIN + day * DAY;
                let ids = items
                    .iter()
                    .filter(|i| i.start_ms >= start && i.start_ms < start + 60 * MIN)
                    .filter_map(|i| i.media_id);
                ids.collect()
            })
            .collect()
    };
    // Stopping before the end keeps the item that did not fit for the next airing.
    assert_eq!(
        airing_ids(&block_case(true)),
        vec![vec![101, 201], vec![102, 202], vec![103, 203]]
    );
    // Letting it finish plays it: the next airing goes on from the one after.
    assert_eq!(
        airing_ids(&block_case(false)),
        vec![
            vec![101, 201, 102],
            vec![103, 202, 104],
            vec![105, 203, 106]
        ]
    );
}

#[test]
fn a_block_airs_only_on_the_days_of_its_mask() {
    const DAY: i64 = 24 * 60 * MIN;
    let mut case = block_case(true);
    // Bit 1 = Monday only (T0 is a Monday).
    case.blocks.blocks[0].days = 0b000_0010;
    let items = case.build(T0, T0 + 2 * DAY);
    let alpha_starts: Vec<i64> = items
        .iter()
        .filter(|i| i.title == "Alpha")
        .map(|i| i.start_ms)
        .collect();
    assert_eq!(alpha_starts, vec![T0 + 30 * MIN]);
}

#[test]
fn the_highest_priority_template_lays_out_a_day_two_cover() {
    const DAY: i64 = 24 * 60 * MIN;
    let mut case = block_case(true);
    let mut second = case.blocks.blocks[0].clone();
    second.id = 2;
    second.items = vec![block_item(21, key(2))];
    case.blocks.blocks.push(second);
    // Monday only, priority 5: the Beta-only block at 21:00 instead of the 20:30 one.
    case.blocks.plans.push(DayPlan {
        days: 0b000_0010,
        priority: 5,
        placements: vec![Placement {
            block: 1,
            start: clock::parse_time("21:00").unwrap(),
        }],
    });
    let items = case.build(T0, T0 + 2 * DAY);
    let first_of = |title: &str, from: i64| {
        items
            .iter()
            .find(|i| i.title == title && i.start_ms >= from)
            .map(|i| i.start_ms)
    };
    assert_eq!(
        first_of("Alpha", T0),
        Some(T0 + 30 * MIN + DAY),
        "Tuesday's"
    );
    assert_eq!(first_of("Beta", T0), Some(T0 + 60 * MIN), "Monday's");
}

#[test]
fn a_block_with_nothing_playable_is_filled_and_hidden_items_fold_into_the_guide() {
    let mut case = block_case(true);
    case.blocks.blocks[0].items = vec![
        BlockItem {
            content: None,
            ..block_item(11, key(1))
        },
        block_item(13, key(77)),
    ];
    let items = case.build(T0 + 30 * MIN, T0 + 90 * MIN);
    assert_eq!(items[0].filler_kind, Some(FillerKind::Offline));
    assert_eq!(
        (items[0].start_ms, items[0].finish_ms),
        (T0 + 30 * MIN, T0 + 90 * MIN)
    );
    let mut case = block_case(true);
    case.blocks.blocks[0].items[1].guide_mode = GuideMode::Hide;
    let items = case.build(T0 + 30 * MIN, T0 + 90 * MIN);
    assert_eq!(items[1].title, "Beta");
    assert_eq!(items[1].guide_mode, GuideMode::Hide);
}

#[test]
fn block_airings_follow_dst_and_overlaps_end_at_the_later_start() {
    let tz = TimeZone::get("Europe/Berlin").unwrap();
    let mut case = block_case(true);
    case.blocks.plans[0].placements = vec![
        Placement {
            block: 0,
            start: clock::parse_time("08:00").unwrap(),
        },
        Placement {
            block: 0,
            start: clock::parse_time("08:40").unwrap(),
        },
    ];
    let list = super::blocks::airings(&case.blocks, ms_at("2026-03-28T12:00:00Z"), &tz);
    // From the day before, since an airing of the day before may still be running.
    let starts: Vec<(i64, i64)> = list
        .iter()
        .map(|a| (a.start_ms, a.end_ms))
        .filter(|a| a.0 >= ms_at("2026-03-28T00:00:00Z"))
        .collect();
    // 08:00 CET is 07:00Z; from 2026-03-29 08:00 CEST is 06:00Z. The 08:00 airing ends at
    // 08:40, where the next one starts.
    assert_eq!(
        &starts[..4],
        &[
            (ms_at("2026-03-28T07:00:00Z"), ms_at("2026-03-28T07:40:00Z")),
            (ms_at("2026-03-28T07:40:00Z"), ms_at("2026-03-28T08:40:00Z")),
            (ms_at("2026-03-29T06:00:00Z"), ms_at("2026-03-29T06:40:00Z")),
            (ms_at("2026-03-29T06:40:00Z"), ms_at("2026-03-29T07:40:00Z")),
        ]
    );
    case.tz = tz;
    // Contiguous and resumable from every anchor over a week across the change.
    case.build(ms_at("2026-03-26T00:00:00Z"), ms_at("2026-04-02T00:00:00Z"));
}

// ---------------------------------------------------------------------------- deco

/// Bumpers 901 (10 s) and 902 (20 s), and a station id 903 (5 s), in a library with `demo()`.
fn deco_case(breaks: Breaks) -> Case {
    let bumpers = vec![
        Media {
            duration_ms: 10_000,
            ..media(901, "Bumper A", 0)
        },
        Media {
            duration_ms: 20_000,
            ..media(902, "Bumper B", 0)
        },
        Media {
            duration_ms: 5_000,
            ..media(903, "Station ID", 0)
        },
    ];
    let mut case = Case::new(
        library(vec![(key(1), demo()), (key(8), bumpers)]),
        vec![Slot::flood(key(1), PlaybackOrder::Chronological)],
    );
    // Media indices: demo 0..=2, then the bumpers 3, 4 and the station id 5.
    let asset = |media, weight| Asset { media, weight };
    case.deco = Deco {
        breaks,
        break_count: 1,
        group: Some(0),
        groups: vec![vec![asset(3, 1), asset(4, 3)], vec![asset(5, 1)]],
        ..Deco::default()
    };
    case
}

#[test]
fn breaks_between_programmes_play_assets_by_weight_and_rebuild_the_same() {
    let case = deco_case(Breaks::BetweenProgrammes);
    let items = case.build(T0, T0 + 24 * 60 * MIN);
    let mut n_breaks = [0u32; 2];
    for pair in items.windows(2) {
        let (programme, after) = (&pair[0], &pair[1]);
        if programme.filler_kind.is_none() {
            assert_eq!(after.filler_kind, Some(FillerKind::Break), "{pair:#?}");
            n_breaks[(after.media_id == Some(902)) as usize] += 1;
        }
    }
    // 1:3 by weight, over ~100 breaks.
    let share = f64::from(n_breaks[1]) / f64::from(n_breaks[0] + n_breaks[1]);
    assert!((0.6..0.9).contains(&share), "{n_breaks:?}");
    expect![[r#"
        Mon 20:00:00  15m00s Demo / Demo 1x1
        Mon 20:15:00   0m20s Bumper B [break]
        Mon 20:15:20  10m00s Demo / Demo 1x2
        Mon 20:25:20   0m20s Bumper B [break]
        Mon 20:25:40   5m00s Demo / Demo 1x3
        Mon 20:30:40   0m10s Bumper A [break]
    "#]]
    .assert_eq(&render(&items[..6], &case.tz));
}

#[test]
fn breaks_every_n_minutes_wait_for_the_first_programme_past_the_mark() {
    let mut case = deco_case(Breaks::EveryMinutes(25));
    case.deco.break_count = 2;
    let items = case.build(T0, T0 + 2 * 60 * MIN);
    let breaks: Vec<(i64, i64)> = items
        .iter()
        .filter(|i| i.filler_kind == Some(FillerKind::Break))
        .map(|i| ((i.start_ms - T0) / 1000, i.duration_ms() / 1000))
        .collect();
    // The count starts at 20:15 (the first programme's end): the first programme ending
    // 25 minutes later or more is 1x3 at 20:45 (2700 s); two assets; then 25 minutes on.
    assert_eq!(breaks[0].0, 2700, "{breaks:?}");
    assert_eq!(breaks[1].0, 2700 + breaks[0].1, "two assets in one break");
    let end_of_first = 2700 + breaks[0].1 + breaks[1].1;
    assert!(breaks[2].0 >= end_of_first + 25 * 60, "{breaks:?}");
}

#[test]
fn a_window_gives_its_time_range_another_group() {
    let mut case = deco_case(Breaks::BetweenProgrammes);
    case.deco.windows = vec![DecoWindow {
        start: clock::parse_time("21:00").unwrap(),
        end: clock::parse_time("22:00").unwrap(),
        group: 1,
    }];
    let items = case.build(T0, T0 + 3 * 60 * MIN);
    for item in items
        .iter()
        .filter(|i| i.filler_kind == Some(FillerKind::Break))
    {
        let in_window = item.start_ms >= T0 + 60 * MIN && item.start_ms < T0 + 120 * MIN;
        assert_eq!(item.media_id == Some(903), in_window, "{item:?}");
    }
}

#[test]
fn dead_air_is_the_fallback_the_decos_own_filler_or_the_slate() {
    // A 20:30 block over flooded 7-minute clips leaves two minutes of dead air at 20:28.
    let mut case = block_case(true);
    case.presets = vec![preset(
        5,
        FillerMode::Count(1),
        PlaybackOrder::Chronological,
    )];
    case.library.contents.insert(filler_key(5), vec![0]);
    case.channel_fillers.fallback = Some(5);
    let gap = |case: &Case| {
        let items = case.build(T0, T0 + 40 * MIN);
        let item = items
            .iter()
            .find(|i| i.start_ms == T0 + 28 * MIN)
            .cloned()
            .unwrap();
        (item.media_id, item.filler_kind, item.duration_ms() / 1000)
    };
    let alpha_1 = case.library.media[0].id;
    assert_eq!(gap(&case), (Some(alpha_1), Some(FillerKind::Fallback), 120));
    case.deco.dead_air = DeadAir::Content(key(9));
    let (clip, kind, seconds) = gap(&case);
    assert!(matches!(clip, Some(901..=903)), "{clip:?}");
    assert_eq!((kind, seconds), (Some(FillerKind::Fallback), 120));
    case.deco.dead_air = DeadAir::Disable;
    assert_eq!(gap(&case), (None, Some(FillerKind::Offline), 120));
}

#[test]
fn a_break_inside_a_block_never_runs_past_its_end_when_it_stops_before_it() {
    let mut case = block_case(true);
    let sting = Media {
        duration_ms: 40 * MIN,
        ..media(950, "Long sting", 0)
    };
    case.library.media.push(sting);
    let sting_index = (case.library.media.len() - 1) as u32;
    case.deco = Deco {
        breaks: Breaks::BetweenProgrammes,
        group: Some(0),
        groups: vec![vec![Asset {
            media: sting_index,
            weight: 1,
        }]],
        ..Deco::default()
    };
    let items = case.build(T0 + 30 * MIN, T0 + 91 * MIN);
    let rendered = render(&items, &case.tz);
    // The 40-minute sting never fits before 21:30: no break; after the block it does.
    expect![[r#"
        Mon 20:30:00  25m00s Alpha / Alpha 1x1
        Mon 20:55:00  22m00s Beta / Beta 1x1
        Mon 21:17:00  13m00s Offline [offline]
        Mon 21:30:00   7m00s Clip 1
        Mon 21:37:00  40m00s Long sting [break]
    "#]]
    .assert_eq(&rendered);
}

/// The scripted verbs (`script`): the builder's primitives one at a time.
mod scripted {
    use super::*;
    use crate::playout::script::{self, Group, ScriptError, State, Verb};

    fn start() -> State {
        State {
            anchor: Anchor::default(),
            cursor_ms: T0 + 2 * MIN,
            pre_roll: true,
            group: None,
        }
    }

    fn case() -> Case {
        let mut case = Case::new(
            library(vec![
                (key(1), demo()),
                (filler_key(9), vec![media(90, "Bumper", 1)]),
            ]),
            vec![Slot::flood(key(1), PlaybackOrder::Chronological)],
        );
        case.presets = vec![FillerPreset {
            id: 9,
            mode: FillerMode::Count(1),
            order: PlaybackOrder::Chronological,
            content: filler_key(9),
        }];
        case
    }

    /// Scripted items carry no anchors (the session keeps its state itself).
    fn check_contiguous(items: &[Item], from: i64, until: i64) {
        assert_eq!(items.first().map(|i| i.start_ms), Some(from));
        assert_eq!(items.last().map(|i| i.finish_ms), Some(until));
        for pair in items.windows(2) {
            assert_eq!(pair[0].finish_ms, pair[1].start_ms);
        }
        assert!(items.iter().all(|i| i.anchor.is_none()));
    }

    fn run(case: &Case, state: &State, verb: Verb) -> script::Outcome {
        script::run(&case.input(), state, verb).unwrap()
    }

    const ADD_TWO: Verb = Verb::AddCount {
        content: ContentKey {
            kind: ContentKind::Collection,
            id: 1,
        },
        order: PlaybackOrder::Chronological,
        count: 2,
    };

    #[test]
    fn add_count_then_pad_to_next_and_the_schedule_continues_the_cursor() {
        let case = case();
        let added = run(&case, &start(), ADD_TWO);
        assert_eq!(added.n_programmes, 2);
        let padded = run(
            &case,
            &added.state,
            Verb::PadToNext {
                minutes: 30,
                filler: Some(9),
            },
        );
        let items: Vec<Item> = added.items.into_iter().chain(padded.items).collect();
        check_contiguous(&items, T0 + 2 * MIN, T0 + 30 * MIN);
        expect![[r#"
            Mon 20:02:00  15m00s Demo / Demo 1x1
            Mon 20:17:00  10m00s Demo / Demo 1x2
            Mon 20:27:00   1m00s Bumper [pad]
            Mon 20:28:00   1m00s Bumper [pad]
            Mon 20:29:00   1m00s Bumper [pad]
        "#]]
        .assert_eq(&render(&items, &case.tz));
        assert_eq!(padded.state.cursor_ms, T0 + 30 * MIN);
        // The classic builder resumes from the script's anchor with the same cursor.
        let after = build(
            &case.input(),
            padded.state.anchor,
            T0 + 30 * MIN,
            T0 + 31 * MIN,
        );
        assert_eq!(after.items[0].media_id, Some(3));
    }

    #[test]
    fn add_duration_fills_exactly_and_pads_and_waits_refuse_the_past() {
        let case = case();
        let verb = Verb::AddDuration {
            content: key(1),
            order: PlaybackOrder::Chronological,
            duration_ms: 20 * MIN,
        };
        let added = run(&case, &start(), verb);
        check_contiguous(&added.items, T0 + 2 * MIN, T0 + 22 * MIN);
        assert_eq!(added.n_programmes, 1, "15 min fits, 15 + 10 does not");
        for verb in [
            Verb::PadUntil {
                target_ms: T0,
                filler: None,
            },
            Verb::WaitUntil { target_ms: T0 },
        ] {
            let err = script::run(&case.input(), &start(), verb).unwrap_err();
            assert_eq!(
                err,
                ScriptError::TargetInPast {
                    target_ms: T0,
                    cursor_ms: T0 + 2 * MIN
                }
            );
        }
        let waited = run(
            &case,
            &start(),
            Verb::WaitUntil {
                target_ms: T0 + 5 * MIN,
            },
        );
        assert_eq!(waited.items.len(), 1);
        assert_eq!(waited.items[0].media_id, None);
        assert_eq!(waited.state.cursor_ms, T0 + 5 * MIN);
    }

    #[test]
    fn skips_move_the_cursor_and_peek_leaves_it() {
        let case = case();
        let (content, order) = (key(1), PlaybackOrder::Chronological);
        let skipped = run(
            &case,
            &start(),
            Verb::Skip {
                content,
                order,
                count: 2,
            },
        );
        assert!(skipped.items.is_empty());
        let peeked = script::peek(&case.input(), &skipped.state, content, order).unwrap();
        assert_eq!(peeked.id, 3);
        let again = script::peek(&case.input(), &skipped.state, content, order).unwrap();
        assert_eq!(again.id, 3, "peeking twice sees the same item");
        let moved = run(
            &case,
            &skipped.state,
            Verb::SkipTo {
                content,
                order,
                index: 1,
            },
        );
        assert_eq!(
            script::peek(&case.input(), &moved.state, content, order)
                .unwrap()
                .id,
            2
        );
    }

    #[test]
    fn the_pre_roll_switch_gates_the_channels_pre_roll() {
        let mut case = case();
        case.channel_fillers.pre_roll = Some(9);
        let on = run(&case, &start(), ADD_TWO);
        let kinds: Vec<_> = on.items.iter().map(|i| i.filler_kind).collect();
        let pre = Some(FillerKind::PreRoll);
        assert_eq!(kinds, [pre, None, pre, None]);
        let off = State {
            pre_roll: false,
            ..start()
        };
        let off = run(&case, &off, ADD_TWO);
        assert!(off.items.iter().all(|i| i.filler_kind.is_none()));
        assert_eq!(on.n_programmes, off.n_programmes);
    }

    #[test]
    fn an_epg_group_shows_its_items_as_one_programme() {
        let case = case();
        let state = State {
            group: Some(Group {
                title: "Marathon".into(),
                opened: false,
            }),
            ..start()
        };
        let first = run(&case, &state, ADD_TWO);
        assert_eq!(first.items[0].custom_title.as_deref(), Some("Marathon"));
        assert_eq!(first.items[1].guide_mode, GuideMode::Hide);
        let more = run(&case, &first.state, ADD_TWO);
        assert!(more.items.iter().all(|i| i.guide_mode == GuideMode::Hide));
    }
}
