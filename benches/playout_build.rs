//! Playout build: 7 days for 100 channels from a 10k-item library, on one core (the issue's
//! goal: ≤ 200 ms in total). Inputs are synthesised: 100 shows × 78 episodes (a quarter of
//! them open each season with a two-parter), 2,000 movies, 200 bumpers; channels mix every
//! mode, order and filler kind. Divan's AllocProfiler prints
//! allocations per iteration beside the time (memory is bounded by the output).

use divan::AllocProfiler;
use exstreamtv::playout::clock::parse_time;
use exstreamtv::playout::{
    build, Anchor, Asset, Block, BlockItem, BlockPlan, Breaks, ContentKey, ContentKind, DayPlan,
    Deco, DecoWindow, FillerMode, FillerPreset, Fillers, FixedStart, GuideMode, Input, Library,
    Media, Mode, Placement, PlaybackOrder, Slot, TailMode,
};
use jiff::tz::TimeZone;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;
/// 2026-01-05T20:00:00Z.
const T0: i64 = 1_767_643_200_000;
const N_SHOWS: i64 = 100;
const EPISODES_PER_SHOW: i64 = 78;
const N_MOVIES: i64 = 2_000;
const N_BUMPERS: i64 = 200;

fn main() {
    let world = World::new();
    // A figure outside divan's table, for the report: items per build and a single pass.
    let started = std::time::Instant::now();
    let n_items = world.build_all();
    println!(
        "one pass: {} channels x 7 days from {} media = {n_items} items in {:.1} ms",
        world.channels.len(),
        world.library.media.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = std::time::Instant::now();
    let n_items = world.build_all_programmed();
    println!(
        "one pass with blocks, templates and deco: {} channels x 7 days = {n_items} items in {:.1} ms",
        world.channels.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    persisted_figures();
    divan::main();
}

/// The same library in a real SQLite file (WAL, as the server runs it): 100 channels, each
/// flooding one show's collection. Prints the cost of the first build of the default
/// 3-day horizon, written, and of a rebuild after a library change that changed nothing
/// (the builder runs and compares; nothing is written).
fn persisted_figures() {
    use exstreamtv::db::Db;
    use exstreamtv::scheduler::timeline;
    use rusqlite::params;

    let dir = std::env::temp_dir().join(format!("exstreamtv-bench-playout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(&dir.join("bench.db")).expect("open a temp database");
    db.write_blocking(|conn| {
        let tx = conn.transaction()?;
        for show in 1..=N_SHOWS {
            tx.execute(
                "INSERT INTO collections (id, name, created_at_ms, updated_at_ms) VALUES (?1, ?2, 0, 0)",
                params![show, format!("Show {show}")],
            )?;
        }
        for i in 0..10_000i64 {
            let show = i % N_SHOWS + 1;
            tx.execute(
                "INSERT INTO media_items (id, source, url, title, duration_ms, show_title,
                     season_number, episode_number, added_at_ms, created_at_ms, updated_at_ms)
                 VALUES (?1, 'generated', ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0)",
                params![i + 1, format!("generated://bench/{i}"), format!("Episode {i}"),
                        (21 + i % 4) * MIN, format!("Show {show}"), i / 1300 + 1, i % 100 + 1],
            )?;
            tx.execute(
                "INSERT INTO collection_items (collection_id, media_item_id, position) VALUES (?1, ?2, ?3)",
                params![show, i + 1, i],
            )?;
        }
        for c in 1..=100i64 {
            tx.execute(
                "INSERT INTO channels (id, number, name, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, 0, 0)",
                params![c, c.to_string(), format!("Channel {c}")],
            )?;
            tx.execute(
                "INSERT INTO schedules (id, name, created_at_ms, updated_at_ms) VALUES (?1, 'S', 0, 0)",
                [c],
            )?;
            tx.execute(
                "INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id,
                     playback_order, playout_mode, created_at_ms, updated_at_ms)
                 VALUES (?1, 0, 'collection', ?1, 'season_episode', 'flood', 0, 0)",
                [c],
            )?;
            tx.execute(
                "INSERT INTO playouts (id, channel_id, program_schedule_id, seed, created_at_ms, updated_at_ms)
                 VALUES (?1, ?1, ?1, ?1, 0, 0)",
                [c],
            )?;
        }
        tx.commit()?;
        Ok(())
    })
    .expect("fill the temp database");
    let horizon = 3 * DAY;
    let run = |what: &str, f: fn(&mut rusqlite::Connection, i64, i64) -> usize| {
        let started = std::time::Instant::now();
        let n = db
            .write_blocking(move |conn| {
                let mut n = 0;
                for id in 1..=100 {
                    n += f(conn, id, horizon);
                }
                Ok(n)
            })
            .expect("build");
        println!(
            "persisted: {what}: 100 channels x 3 days, {n} rows written in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    };
    run("first build", |conn, id, horizon| {
        timeline::extend(conn, id, T0, horizon, &TimeZone::UTC).map_or(0, |o| o.n_written)
    });
    // A minute later: the rows written are the horizon's new tail only.
    run(
        "rebuild a minute later, nothing changed",
        |conn, id, horizon| {
            timeline::rebuild(conn, id, T0 + 60_000, horizon, &TimeZone::UTC)
                .map_or(0, |o| o.n_written)
        },
    );
    // 100 mirror channels, one per channel, 10 minutes late: the first copy, then a sync
    // that finds nothing changed (what the horizon task does every check).
    db.write_blocking(|conn| {
        let tx = conn.transaction()?;
        for c in 1..=100i64 {
            tx.execute(
                "INSERT INTO channels (id, number, name, playout_source, mirror_source_channel_id,
                     playout_offset, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, 'Mirror', 'mirror', ?3, 600, 0, 0)",
                params![100 + c, (100 + c).to_string(), c],
            )?;
        }
        exstreamtv::scheduler::mirror::ensure_all_playouts(&tx, T0)?;
        tx.commit()?;
        Ok(())
    })
    .expect("add mirrors");
    let mirrors = |what: &str| {
        let started = std::time::Instant::now();
        let n = db
            .write_blocking(move |conn| {
                let mut n = 0;
                for id in 101..=200 {
                    n += timeline::extend(conn, id, T0 + 60_000, horizon, &TimeZone::UTC)
                        .map_or(0, |o| o.n_written);
                }
                Ok(n)
            })
            .expect("sync mirrors");
        println!(
            "persisted: {what}: 100 mirrors x 3 days, {n} rows written in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    };
    mirrors("mirror first copy");
    mirrors("mirror sync, nothing changed");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

fn collection(id: i64) -> ContentKey {
    ContentKey {
        kind: ContentKind::Collection,
        id,
    }
}

fn filler(id: i64) -> ContentKey {
    ContentKey {
        kind: ContentKind::Filler,
        id,
    }
}

struct World {
    library: Library,
    presets: Vec<FillerPreset>,
    channels: Vec<(Vec<Slot>, Fillers)>,
    tz: TimeZone,
}

impl World {
    fn new() -> World {
        let mut library = Library::default();
        let push = |library: &mut Library, key: ContentKey, media: Media| {
            let index = library.media.len() as u32;
            library.media.push(media);
            library.contents.entry(key).or_default().push(index);
        };
        // Collections 1..=100: shows; 1000: movies; 2000: bumpers (also filler content).
        for show in 1..=N_SHOWS {
            for ep in 0..EPISODES_PER_SHOW {
                let id = show * 1000 + ep;
                push(
                    &mut library,
                    collection(show),
                    Media {
                        id,
                        // Every fourth show opens each season with a two-parter, so
                        // keeping multi-part episodes together has groups to keep.
                        title: match (show % 4, ep % 13) {
                            (0, part @ (0 | 1)) => format!("Story {} ({})", ep / 13, part + 1),
                            _ => format!("Episode {ep}"),
                        }
                        .into(),
                        duration_ms: (21 + ep % 4) * MIN + ep * 1_013,
                        show_title: Some(format!("Show {show}").into()),
                        season: Some((ep / 13 + 1) as i32),
                        episode: Some((ep % 13 + 1) as i32),
                        episode_end: None,
                        date: Some(format!("{}", 1990 + show % 30).into()),
                    },
                );
            }
        }
        for m in 0..N_MOVIES {
            push(
                &mut library,
                collection(1000),
                Media {
                    id: 500_000 + m,
                    title: format!("Movie {m:04}").into(),
                    duration_ms: (80 + m % 60) * MIN + m * 37,
                    show_title: None,
                    season: None,
                    episode: None,
                    episode_end: None,
                    date: Some(format!("{}", 1950 + m % 70).into()),
                },
            );
        }
        for b in 0..N_BUMPERS {
            let media = Media {
                id: 900_000 + b,
                title: format!("Bumper {b}").into(),
                duration_ms: (15 + b % 46) * 1000,
                show_title: None,
                season: None,
                episode: None,
                episode_end: None,
                date: None,
            };
            push(&mut library, collection(2000), media.clone());
            let index = library.media.len() as u32 - 1;
            for preset in [1, 2, 3] {
                library
                    .contents
                    .entry(filler(preset))
                    .or_default()
                    .push(index);
            }
        }
        let presets = vec![
            FillerPreset {
                id: 1,
                mode: FillerMode::Count(1),
                order: PlaybackOrder::Shuffled,
                content: filler(1),
            },
            FillerPreset {
                id: 2,
                mode: FillerMode::Pad(30),
                order: PlaybackOrder::Random,
                content: filler(2),
            },
            FillerPreset {
                id: 3,
                mode: FillerMode::Duration(90_000),
                order: PlaybackOrder::Shuffled,
                content: filler(3),
            },
        ];
        let base = |content, order, mode| Slot {
            content: Some(content),
            order,
            mode,
            fixed_start: None,
            custom_title: None,
            guide_mode: GuideMode::Normal,
            fillers: Fillers::default(),
        };
        let mut channels = Vec::new();
        for c in 0..100i64 {
            let show = collection(c % N_SHOWS + 1);
            let other_show = collection((c + 37) % N_SHOWS + 1);
            let (slots, fillers) = match c % 3 {
                // A show in order, a bumper before each episode, padded to :00/:30.
                0 => (
                    vec![base(show, PlaybackOrder::SeasonEpisode, Mode::Flood)],
                    Fillers {
                        pre_roll: Some(1),
                        post_roll: Some(2),
                        ..Fillers::default()
                    },
                ),
                // The movie library shuffled, with a post-roll and fallback filler.
                1 => (
                    vec![base(collection(1000), PlaybackOrder::Shuffled, Mode::Flood)],
                    Fillers {
                        post_roll: Some(3),
                        fallback: Some(1),
                        ..Fillers::default()
                    },
                ),
                // Two shows interleaved, a movie every day at 20:00, a 3 h block with a tail.
                _ => (
                    vec![
                        base(show, PlaybackOrder::ShuffleInOrder, Mode::Multiple(2)),
                        Slot {
                            fixed_start: Some(FixedStart {
                                time: parse_time("20:00").unwrap(),
                                flexible: false,
                            }),
                            ..base(collection(1000), PlaybackOrder::Random, Mode::One)
                        },
                        Slot {
                            fillers: Fillers {
                                tail: Some(1),
                                ..Fillers::default()
                            },
                            ..base(
                                other_show,
                                PlaybackOrder::Chronological,
                                Mode::Duration {
                                    duration_ms: 180 * MIN,
                                    tail: TailMode::Filler,
                                },
                            )
                        },
                    ],
                    Fillers {
                        fallback: Some(1),
                        ..Fillers::default()
                    },
                ),
            };
            channels.push((slots, fillers));
        }
        World {
            library,
            presets,
            channels,
            tz: TimeZone::get("Europe/Berlin").unwrap(),
        }
    }

    fn build_one(&self, c: usize) -> usize {
        self.build_one_with(c, false, None)
    }

    /// Channel `c` with its blocks (two templates: every day, and weekends at a higher
    /// priority) and deco (a break of two bumpers after every programme, another group at
    /// night).
    fn build_one_programmed(&self, c: usize) -> usize {
        let (slots, fillers) = &self.channels[c];
        let (blocks, deco) = programming(&self.library, c as i64);
        let input = Input {
            library: &self.library,
            slots,
            presets: &self.presets,
            channel_fillers: *fillers,
            seed: c as u64 * 7919,
            random_start_point: c % 2 == 0,
            shuffle_slots: false,
            keep_multi_part: false,
            daily_reset: None,
            time_zone: &self.tz,
            blocks: &blocks,
            deco: &deco,
        };
        build(&input, Anchor::default(), T0, T0 + 7 * DAY)
            .items
            .len()
    }

    fn build_all_programmed(&self) -> usize {
        (0..self.channels.len())
            .map(|c| self.build_one_programmed(c))
            .sum()
    }

    /// With the schedule's `keep_multi_part_episodes_together` and a playout daily reset.
    fn build_one_with(
        &self,
        c: usize,
        keep_multi_part: bool,
        daily_reset: Option<jiff::civil::Time>,
    ) -> usize {
        let (slots, fillers) = &self.channels[c];
        let input = Input {
            library: &self.library,
            slots,
            presets: &self.presets,
            channel_fillers: *fillers,
            seed: c as u64 * 7919,
            random_start_point: c % 2 == 0,
            shuffle_slots: false,
            keep_multi_part,
            daily_reset,
            time_zone: &self.tz,
            blocks: &exstreamtv::playout::NO_BLOCKS,
            deco: &exstreamtv::playout::NO_DECO,
        };
        build(&input, Anchor::default(), T0, T0 + 7 * DAY)
            .items
            .len()
    }

    fn build_all(&self) -> usize {
        (0..self.channels.len()).map(|c| self.build_one(c)).sum()
    }
}

/// Channel `c`'s blocks and deco (built per call: part of what a build costs).
fn programming(library: &Library, c: i64) -> (BlockPlan, Deco) {
    let item = |id: i64, content: ContentKey, order| BlockItem {
        id,
        content: Some(content),
        order,
        guide_mode: GuideMode::Normal,
        disable_watermarks: false,
    };
    let at = |block: u32, time: &str| Placement {
        block,
        start: parse_time(time).unwrap(),
    };
    let blocks = vec![
        Block {
            id: 1,
            duration_ms: 240 * MIN,
            days: 127,
            stop_before_end: true,
            items: vec![
                item(
                    c * 10 + 1,
                    collection(c % N_SHOWS + 1),
                    PlaybackOrder::SeasonEpisode,
                ),
                item(
                    c * 10 + 2,
                    collection((c + 37) % N_SHOWS + 1),
                    PlaybackOrder::Shuffled,
                ),
            ],
        },
        Block {
            id: 2,
            duration_ms: 180 * MIN,
            days: 0b011_1110,
            stop_before_end: false,
            items: vec![item(c * 10 + 3, collection(1000), PlaybackOrder::Random)],
        },
    ];
    let plans = vec![
        DayPlan {
            days: 127,
            priority: 0,
            placements: vec![at(0, "07:00"), at(1, "19:00")],
        },
        DayPlan {
            days: 0b100_0001,
            priority: 5,
            placements: vec![at(0, "09:00")],
        },
    ];
    let bumpers: Vec<Asset> = library
        .content(collection(2000))
        .iter()
        .map(|&media| Asset {
            media,
            weight: 1 + media % 3,
        })
        .collect();
    let night = bumpers[..50].to_vec();
    let deco = Deco {
        breaks: Breaks::BetweenProgrammes,
        break_count: 2,
        group: Some(0),
        windows: vec![DecoWindow {
            start: parse_time("22:00").unwrap(),
            end: parse_time("06:00").unwrap(),
            group: 1,
        }],
        groups: vec![bumpers, night],
        ..Deco::default()
    };
    (BlockPlan { blocks, plans }, deco)
}

/// The figure with blocks, templates and deco on every channel.
#[divan::bench(sample_count = 20)]
fn hundred_channels_seven_days_with_blocks_and_deco(bencher: divan::Bencher) {
    let world = World::new();
    bencher.bench_local(|| divan::black_box(world.build_all_programmed()));
}

/// The figure: all 100 channels, 7 days each, one core.
#[divan::bench(sample_count = 20)]
fn hundred_channels_seven_days(bencher: divan::Bencher) {
    let world = World::new();
    bencher.bench_local(|| divan::black_box(world.build_all()));
}

/// The same with multi-part episodes kept together, a daily reset at 06:00 (Berlin), or
/// both: what those options cost.
#[divan::bench(args = ["multi_part", "daily_reset", "both"], sample_count = 20)]
fn hundred_channels_seven_days_with(bencher: divan::Bencher, options: &str) {
    let world = World::new();
    let keep_multi_part = options != "daily_reset";
    let reset = parse_time("06:00").filter(|_| options != "multi_part");
    bencher.bench_local(|| {
        divan::black_box(
            (0..world.channels.len())
                .map(|c| world.build_one_with(c, keep_multi_part, reset))
                .sum::<usize>(),
        )
    });
}

/// One channel of each kind, to see where the time goes.
#[divan::bench(args = [0, 1, 2], sample_count = 50)]
fn one_channel_seven_days(bencher: divan::Bencher, kind: usize) {
    let world = World::new();
    bencher.bench_local(|| divan::black_box(world.build_one(kind)));
}
