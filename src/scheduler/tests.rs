//! The scheduler against a real SQLite file: the demo channel's timeline after start-up,
//! rebuilds that keep what plays now, skip, and retirement into the history; and the
//! output-profile lookup the stream reads through `cursor`.

use std::path::PathBuf;

use rusqlite::params;

use super::timeline;
use crate::config::Config;
use crate::db::Db;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

struct TempDb {
    dir: PathBuf,
    db: Db,
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn demo_db(tag: &str) -> TempDb {
    let dir = std::env::temp_dir().join(format!("exstreamtv-sched-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(&dir.join("test.db")).unwrap();
    let args = [
        std::ffi::OsString::from("--data"),
        dir.clone().into_os_string(),
    ];
    let crate::config::Command::Serve(config) = Config::from_args_and_env(&args, |_| None).unwrap()
    else {
        unreachable!("no subcommand given")
    };
    assert!(crate::firstrun::prepare(&db, &config).unwrap());
    TempDb { dir, db }
}

/// (id, media id, start, finish) of every stored item, in time order.
fn rows(db: &Db) -> Vec<(i64, Option<i64>, i64, i64)> {
    db.write_blocking(|conn| {
        let mut stmt = conn.prepare(
            "SELECT id, media_item_id, start_ms, finish_ms FROM playout_items ORDER BY start_ms",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .unwrap()
}

fn assert_contiguous(rows: &[(i64, Option<i64>, i64, i64)]) {
    for pair in rows.windows(2) {
        assert_eq!(pair[0].3, pair[1].2, "gap or overlap between {pair:?}");
    }
}

fn extend(db: &Db, now: i64) -> timeline::Outcome {
    db.write_blocking(move |conn| timeline::extend(conn, 1, now, 3 * DAY, &jiff::tz::TimeZone::UTC))
        .unwrap()
}

fn rebuild(db: &Db, now: i64) -> timeline::Outcome {
    db.write_blocking(move |conn| {
        timeline::rebuild(conn, 1, now, 3 * DAY, &jiff::tz::TimeZone::UTC)
    })
    .unwrap()
}

const NOW: i64 = 1_767_643_200_000; // 2026-01-05T20:00:00Z

#[test]
fn demo_channel_is_built_for_the_horizon_and_extended_in_chunks() {
    let t = demo_db("horizon");
    let outcome = extend(&t.db, NOW);
    let first = rows(&t.db);
    assert_eq!(outcome.n_written, first.len());
    assert_eq!(first[0].2, NOW);
    assert!(first.last().unwrap().3 >= NOW + 3 * DAY);
    assert_contiguous(&first);
    // The demo's three items (15, 10, 5 min) in order, over and over.
    let media: Vec<i64> = first.iter().take(6).map(|r| r.1.unwrap()).collect();
    assert_eq!(media, [1, 2, 3, 1, 2, 3]);
    // An hour later there is nothing to do (within the slack); a day later it extends.
    assert_eq!(extend(&t.db, NOW + HOUR).n_written, 0);
    let outcome = extend(&t.db, NOW + DAY);
    assert!(outcome.n_written > 0);
    let second = rows(&t.db);
    assert_eq!(
        &second[..first.len()],
        &first[..],
        "extending keeps what was built"
    );
    assert!(second.last().unwrap().3 >= NOW + 4 * DAY);
    assert_contiguous(&second);
}

#[test]
fn rebuild_keeps_what_plays_now_and_is_idempotent() {
    let t = demo_db("rebuild");
    extend(&t.db, NOW);
    let before = rows(&t.db);
    // 20:20 is inside item 2 (20:15-20:25).
    let now = NOW + 20 * 60_000;
    let outcome = rebuild(&t.db, now);
    // Same inputs, same timeline: the stored rows stay (same ids); only the horizon, 20 min
    // further now, gains its tail.
    let same = rows(&t.db);
    assert_eq!(same[..before.len()], before[..]);
    assert_eq!(outcome.n_written, same.len() - before.len());
    assert!(outcome.n_written <= 3);
    let before = same;
    // The schedule changes to shuffled: the item playing now stays, the rest is rebuilt.
    t.db.write_blocking(|conn| {
        conn.execute("UPDATE schedule_items SET playback_order = 'shuffled'", [])?;
        Ok(())
    })
    .unwrap();
    assert!(rebuild(&t.db, now).n_written > 0);
    let after = rows(&t.db);
    assert_eq!(after[..2], before[..2], "the item playing now is kept");
    assert_contiguous(&after);
    let again = {
        rebuild(&t.db, now + 60_000);
        rows(&t.db)
    };
    assert_eq!(again, after, "rebuild twice gives the same timeline");
}

#[test]
fn skip_ends_the_current_item_and_shifts_the_rest() {
    let t = demo_db("skip");
    extend(&t.db, NOW);
    let before = rows(&t.db);
    let now = NOW + 5 * 60_000; // inside item 1 (20:00-20:15)
    let skipped = t
        .db
        .write_blocking(move |conn| timeline::skip(conn, 1, now, 3 * DAY, &jiff::tz::TimeZone::UTC))
        .unwrap()
        .unwrap();
    assert_eq!(skipped.item_id, before[0].0);
    assert_eq!(skipped.shift_ms, 10 * 60_000);
    let after = rows(&t.db);
    assert_eq!(after[0].3, now);
    assert_eq!((after[1].0, after[1].2), (before[1].0, now));
    assert_contiguous(&after);
    let n_history: i64 =
        t.db.write_blocking(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM playout_history WHERE status = 'skipped'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(n_history, 1);
}

#[test]
fn finished_items_retire_into_the_history_and_the_build_resumes_after_downtime() {
    let t = demo_db("retire");
    extend(&t.db, NOW);
    // Five days later (the server was off): everything finished; it moves to the history
    // and the timeline restarts at "now" with the stored state.
    let later = NOW + 5 * DAY;
    let n_retired =
        t.db.write_blocking(move |conn| timeline::retire_finished(conn, later))
            .unwrap();
    assert!(n_retired > 0);
    assert!(rows(&t.db).is_empty());
    extend(&t.db, later);
    let after = rows(&t.db);
    assert_eq!(after[0].2, later);
    assert_contiguous(&after);
    let n_history: i64 =
        t.db.write_blocking(|conn| {
            Ok(
                conn.query_row("SELECT count(*) FROM playout_history", params![], |r| {
                    r.get(0)
                })?,
            )
        })
        .unwrap();
    assert_eq!(n_history as usize, n_retired);
}

#[test]
fn a_timeline_without_anchors_is_continued_never_overlapped() {
    let t = demo_db("no-anchor");
    extend(&t.db, NOW);
    t.db.write_blocking(|conn| {
        conn.execute("UPDATE playout_items SET anchor = NULL", [])?;
        Ok(())
    })
    .unwrap();
    let before = rows(&t.db);
    let now = NOW + 7 * 60_000;
    rebuild(&t.db, now);
    let after = rows(&t.db);
    assert_eq!(after[..before.len()], before[..], "kept whole");
    assert_contiguous(&after);
    extend(&t.db, NOW + 3 * DAY);
    assert_contiguous(&rows(&t.db));
}

#[test]
fn a_schedule_item_that_does_not_decode_is_left_out_not_guessed() {
    let t = demo_db("bad-row");
    extend(&t.db, NOW);
    let before = rows(&t.db);
    // A second item the API would refuse (a misspelt order), written straight to SQLite:
    // the rebuild leaves it out (with a warning naming it) instead of playing it as
    // chronological, so the timeline is the demo's alone, as before (the horizon, a minute
    // further, may gain a tail).
    t.db.write_blocking(|conn| {
        conn.execute(
            "INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id,
                 playback_order, playout_mode, created_at_ms, updated_at_ms)
             SELECT schedule_id, position + 1, collection_type, collection_id, 'backwards',
                 'one', 0, 0
             FROM schedule_items",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    let slots =
        t.db.write_blocking(|conn| Ok(super::inputs::load(conn, 1)?.unwrap().slots))
            .unwrap();
    assert_eq!(slots.len(), 1, "{slots:?}");
    rebuild(&t.db, NOW + 60_000);
    let after = rows(&t.db);
    assert!(
        after.len() >= before.len() && after[..before.len()] == before[..],
        "the rebuild changed what was built"
    );
}

#[test]
fn the_default_profile_is_asked_for_without_a_channel_id() {
    let t = demo_db("default-profile");
    let channel: i64 = t
        .db
        .write_blocking(|conn| {
            conn.execute(
                "INSERT INTO ffmpeg_profiles (id, name, resolution_id, is_default, created_at_ms, updated_at_ms)
                 VALUES (901, 'default 720p', 2, 1, 0, 0), (902, 'own 1080p', 3, 0, 0, 0)",
                [],
            )?;
            let id = conn.query_row("SELECT id FROM channels ORDER BY id LIMIT 1", [], |r| r.get(0))?;
            conn.execute("UPDATE channels SET ffmpeg_profile_id = 902 WHERE id = ?1", [id])?;
            Ok(id)
        })
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (default, own) = runtime.block_on(async {
        (
            super::cursor::default_output_profile(&t.db).await.unwrap(),
            super::cursor::output_profile(&t.db, crate::ops::ids::ChannelId(channel))
                .await
                .unwrap(),
        )
    });
    assert_eq!((default.width, default.height), (1280, 720));
    assert_eq!((own.width, own.height), (1920, 1080));
}
