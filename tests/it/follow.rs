//! The stream follows the timeline. For each kind of write that changes a running channel's
//! stored programmes, a viewer's decoded audio switches to the new programme's tone within
//! 1 s of the API answer, on the same connection, with no CC/PCR/PTS error across the cut.
//! Programmes are generated clips with their own tones; the slates are silent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::stream::decode_errors;
use crate::stream_fixture::{self as fx, Media};
use crate::support::tones::{self, Window};
use crate::support::{media, tscheck, Client, TempDir, TestServer};

const A: u32 = 300;
const B: u32 = 700;
const C: u32 = 1100;
const SILENCE: u32 = 0;
const TONES: [u32; 4] = [SILENCE, A, B, C];
/// Long enough that no programme boundary of its own falls inside a test.
const CLIP_S: f64 = 30.0;
/// The promise: the new programme reaches the viewer within this of the write's answer.
const CUT_OVER: Duration = Duration::from_secs(1);
/// How precisely a heard window is placed in time (arrival of its read, PTS mapping).
const PLACEMENT: Duration = Duration::from_millis(250);
/// How long a viewer has watched before the first write.
const BEFORE: Duration = Duration::from_secs(2);
/// How long it is watched after each write (an observation, not a synchronisation).
const AFTER: Duration = Duration::from_secs(3);

/// A server with three probed clips (tones A, B, C) in its library, copied by the default
/// (small) profile, and channel 60 built through the API.
struct Rig {
    server: TestServer,
    dir: TempDir,
    media: [i64; 3],
    channel_id: i64,
}

impl Rig {
    fn new() -> Rig {
        let dir = TempDir::new("follow");
        let clips: Vec<Media> = [A, B, C]
            .iter()
            .map(|hz| {
                let path = dir.path().join(format!("tone{hz}.mp4"));
                media::clip(&path, CLIP_S, *hz);
                Media::Clip(path)
            })
            .collect();
        let mut ids = [0; 3];
        let server = fx::server_with(&[], |conn| {
            let profile = fx::small_profile(conn);
            conn.execute(
                "UPDATE ffmpeg_profiles SET is_default = (id = ?1)",
                [profile],
            )
            .unwrap();
            for (i, clip) in clips.iter().enumerate() {
                ids[i] = fx::add_media(conn, clip, &format!("Tone {i}"), (CLIP_S * 1000.0) as i64)
                    .unwrap();
            }
        });
        let c = server.client();
        // Short timelines keep each rebuild cheap (30 s programmes for a whole day).
        let r = c.put_json("/api/settings/playout", &json!({"days_to_build": 1}));
        assert_eq!(r.status, 200, "{}", r.text());
        let channel = c.post_json("/api/channels", &json!({"number": "60", "name": "Follow"}));
        assert_eq!(channel.status, 201, "{}", channel.text());
        Rig {
            channel_id: channel.json()["id"].as_i64().unwrap(),
            server,
            dir,
            media: ids,
        }
    }

    fn client(&self) -> Client {
        self.server.client()
    }

    /// A schedule flooding media `index` (0 = A, 1 = B, 2 = C); returns (schedule, item).
    fn schedule(&self, index: usize) -> (i64, i64) {
        let c = self.client();
        let schedule = c.post_json("/api/schedules", &json!({"name": "Follow"}));
        assert_eq!(schedule.status, 201, "{}", schedule.text());
        let schedule_id = schedule.json()["id"].as_i64().unwrap();
        let item = c.post_json(
            "/api/schedule-items",
            &json!({"schedule_id": schedule_id, "collection_type": "media_item",
                    "media_item_id": self.media[index], "playout_mode": "flood"}),
        );
        assert_eq!(item.status, 201, "{}", item.text());
        (schedule_id, item.json()["id"].as_i64().unwrap())
    }

    fn playout(&self, schedule_id: i64) -> i64 {
        let r = self.client().post_json(
            "/api/playouts",
            &json!({"channel_id": self.channel_id, "program_schedule_id": schedule_id}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_i64().unwrap()
    }

    /// Points the schedule item at media `index`: the schedule's playouts are rebuilt.
    fn retarget(&self, item_id: i64, index: usize) {
        let r = self.client().put_json(
            &format!("/api/schedule-items/{item_id}"),
            &json!({"media_item_id": self.media[index]}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    fn n_cut_overs(&self) -> usize {
        self.server
            .log_text()
            .matches("cut over to the changed timeline")
            .count()
    }
}

struct Capture {
    ts: Vec<u8>,
    arrivals: Vec<(Instant, usize)>,
}

/// One viewer of channel `number` on one connection, in a thread, until `stop`.
struct Viewer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Capture>,
}

impl Viewer {
    /// Tunes and returns once it has watched for `BEFORE`.
    fn watch(addr: SocketAddr, number: &str) -> Viewer {
        let path = format!("/iptv/channel/{number}.ts");
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = mpsc::channel();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut s = Client::new(addr).stream(&path).expect("tune");
            assert_eq!(s.status, 200);
            let mut cap = Capture {
                ts: Vec::new(),
                arrivals: Vec::new(),
            };
            let mut told = false;
            while !flag.load(Ordering::Relaxed) {
                let (more, at) = fx::read_for(&mut s.body, Duration::from_millis(200));
                let base = cap.ts.len();
                cap.ts.extend_from_slice(&more);
                cap.arrivals
                    .extend(at.into_iter().map(|(t, n)| (t, n + base)));
                // Watched for `BEFORE` since the first bytes (a loaded machine may take a
                // moment to start the channel).
                let first = cap.arrivals.first().map(|(t, _)| *t);
                if !told && first.is_some_and(|t| t.elapsed() >= BEFORE) {
                    told = true;
                    let _ = ready_tx.send(());
                }
            }
            s.body.close();
            cap
        });
        ready.recv().expect("the viewer reads");
        Viewer { stop, handle }
    }

    fn finish(self) -> Capture {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("viewer thread")
    }
}

/// A change made while a viewer watched: the tone before and the one expected after.
struct Change {
    old: u32,
    new: u32,
    /// When the request went out (the old tone is heard until then) and when its answer
    /// came (the new one must follow within `CUT_OVER`).
    sent: Instant,
    answered: Instant,
}

impl Change {
    /// Runs `write`, timing it.
    fn timed(old: u32, new: u32, write: impl FnOnce()) -> Change {
        let sent = Instant::now();
        write();
        Change {
            old,
            new,
            sent,
            answered: Instant::now(),
        }
    }
}

/// Checks a capture: no TS or decode error across every cut, and for each change the `old`
/// tone heard before its answer and the `new` one within `CUT_OVER` after it (a change
/// whose `new` is its `old` must not cut at all). Returns the cut-over latencies.
fn assert_follows(rig: &Rig, cap: &Capture, changes: &[Change]) -> Vec<Duration> {
    if let Ok(path) = std::env::var("FOLLOW_TEST_DUMP") {
        std::fs::write(path, &cap.ts).unwrap();
    }
    let report = tscheck::check(&cap.ts);
    assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
    let last_frame = report.pid(0x100).expect("video").pes.last().unwrap().1;
    let errors = decode_errors(&cap.ts[..last_frame], rig.dir.path());
    assert!(errors.trim().is_empty(), "ffmpeg reported: {errors}");
    let windows = tones::windows(&cap.ts, &cap.arrivals, &TONES, rig.dir.path());
    let heard = tones::sequence(&windows);
    let mut latencies = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let until = changes.get(i + 1).map(|c| c.sent);
        // Windows are placed in time to a read (200 ms) and a few tens of ms of PTS.
        let before: Vec<&Window> = windows
            .iter()
            .filter(|w| w.arrival + PLACEMENT < change.sent)
            .collect();
        let n_old = before
            .iter()
            .rev()
            .take(10)
            .filter(|w| w.hz == change.old)
            .count();
        if n_old != 10 {
            let t0 = windows[0].arrival;
            let seq: Vec<(u128, u32)> = windows
                .iter()
                .map(|w| ((w.arrival - t0).as_millis(), w.hz))
                .collect();
            eprintln!(
                "sent at {} ms; windows {seq:?}",
                (change.sent - t0).as_millis()
            );
        }
        assert_eq!(
            n_old, 10,
            "{} Hz before change {i}; heard {heard:?}",
            change.old
        );
        let after: Vec<Window> = windows
            .iter()
            .filter(|w| w.arrival >= change.sent && until.is_none_or(|u| w.arrival < u))
            .copied()
            .collect();
        if change.new == change.old {
            let other = after.iter().find(|w| w.hz != change.old);
            assert!(
                other.is_none(),
                "change {i} cut mid-programme; heard {heard:?}"
            );
            continue;
        }
        let switched = tones::first_steady(&after, change.new, 4)
            .unwrap_or_else(|| panic!("change {i}: never {} Hz; heard {heard:?}", change.new));
        let latency = switched.arrival.saturating_duration_since(change.answered);
        eprintln!(
            "change {i}: {} Hz after {} ms",
            change.new,
            latency.as_millis()
        );
        assert!(
            latency <= CUT_OVER,
            "change {i}: {} Hz reached the viewer {latency:?} after the answer; heard {heard:?}",
            change.new
        );
        latencies.push(latency);
    }
    latencies
}

#[test]
fn an_offline_channel_plays_a_new_playout_within_a_second() {
    let rig = Rig::new();
    let (schedule_id, _) = rig.schedule(0);
    let viewer = Viewer::watch(rig.server.addr, "60");
    let change = Change::timed(SILENCE, A, || {
        rig.playout(schedule_id);
    });
    std::thread::sleep(AFTER);
    assert_follows(&rig, &viewer.finish(), &[change]);
}

/// One viewer, one connection: a schedule change keeps the programme playing now (the
/// rebuild keeps it); a new playout replacing the active one cuts over; deleting it leaves
/// the channel with nothing active: Offline.
#[test]
fn a_new_playout_cuts_over_a_rebuild_that_keeps_the_programme_does_not_and_a_deleted_one_goes_offline(
) {
    let rig = Rig::new();
    let (schedule_id, item_id) = rig.schedule(0);
    let first = rig.playout(schedule_id);
    let viewer = Viewer::watch(rig.server.addr, "60");
    let mut changes = Vec::new();

    let cuts = rig.n_cut_overs();
    changes.push(Change::timed(A, A, || {
        rig.retarget(item_id, 1);
    }));
    std::thread::sleep(AFTER);
    assert_eq!(rig.n_cut_overs(), cuts, "{}", rig.server.log_text());

    let (other, _) = rig.schedule(2);
    let mut second = 0;
    changes.push(Change::timed(A, C, || second = rig.playout(other)));
    assert_ne!(first, second);
    std::thread::sleep(AFTER);

    changes.push(Change::timed(C, SILENCE, || {
        let r = rig.client().delete(&format!("/api/playouts/{second}"));
        assert_eq!(r.status, 204, "{}", r.text());
    }));
    std::thread::sleep(AFTER);
    assert_follows(&rig, &viewer.finish(), &changes);
    assert_eq!(rig.n_cut_overs(), cuts + 2, "{}", rig.server.log_text());
}

/// A, B, C once each, then again.
fn row(rig: &Rig) -> i64 {
    let c = rig.client();
    let schedule = c.post_json("/api/schedules", &json!({"name": "Row"}));
    let schedule_id = schedule.json()["id"].as_i64().unwrap();
    for index in 0..3 {
        let r = c.post_json(
            "/api/schedule-items",
            &json!({"schedule_id": schedule_id, "collection_type": "media_item",
                    "media_item_id": rig.media[index], "playout_mode": "one"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    rig.playout(schedule_id)
}

/// Skips the playout (of `row`) while a viewer of channel `number` watches: A gives way to B.
fn assert_a_skip_cuts_over(rig: &Rig, playout_id: i64, number: &str) {
    let viewer = Viewer::watch(rig.server.addr, number);
    let change = Change::timed(A, B, || {
        let r = rig
            .client()
            .post(&format!("/api/playouts/{playout_id}/skip"));
        assert_eq!(r.json()["skipped"], true, "{}", r.text());
    });
    std::thread::sleep(AFTER);
    assert_follows(rig, &viewer.finish(), &[change]);
}

#[test]
fn a_skip_cuts_over_to_the_next_programme() {
    let rig = Rig::new();
    let playout_id = row(&rig);
    assert_a_skip_cuts_over(&rig, playout_id, "60");
}

/// A mirror plays its root's timeline: a skip on the root moves the mirror's viewer on too
/// (the skip names the root and every mirror of it as changed).
#[test]
fn a_mirror_follows_a_skip_on_its_root() {
    let rig = Rig::new();
    let playout_id = row(&rig);
    let mirror = rig.client().post_json(
        "/api/channels",
        &json!({"number": "61", "name": "Mirror", "playout_source": "mirror",
                "mirror_source_channel_id": rig.channel_id}),
    );
    assert_eq!(mirror.status, 201, "{}", mirror.text());
    assert_a_skip_cuts_over(&rig, playout_id, "61");
}

/// 100 writes to one playout as fast as they go (90 rebuilds, 10 skips) under 3 viewers:
/// a few cut-overs, every viewer ends on what the timeline says, no FFmpeg left over.
#[test]
fn a_rebuild_storm_under_three_viewers_ends_on_the_last_timeline() {
    let rig = Rig::new();
    let playout_id = row(&rig);
    let viewers: Vec<Viewer> = (0..3)
        .map(|_| Viewer::watch(rig.server.addr, "60"))
        .collect();
    let cuts = rig.n_cut_overs();
    let c = rig.client();
    let storm = Instant::now();
    for i in 0..100 {
        let action = if i % 10 == 9 { "skip" } else { "rebuild" };
        let r = c.post(&format!("/api/playouts/{playout_id}/{action}"));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    eprintln!("100 writes in {:?}", storm.elapsed());
    let now = c
        .get(&format!("/api/playouts/{playout_id}/now-playing"))
        .json();
    // The clips are titled "Tone 0", "Tone 1", "Tone 2".
    let title = now["current"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let index: usize = title
        .strip_prefix("Tone ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("now playing {now}"));
    std::thread::sleep(AFTER);
    for viewer in viewers {
        let cap = viewer.finish();
        let report = tscheck::check(&cap.ts);
        assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
        let windows = tones::windows(&cap.ts, &cap.arrivals, &TONES, rig.dir.path());
        let last = windows.last().expect("audio").hz;
        assert_eq!(
            last,
            [A, B, C][index],
            "heard {:?}",
            tones::sequence(&windows)
        );
    }
    let n_cuts = rig.n_cut_overs() - cuts;
    assert!(
        (1..=10).contains(&n_cuts),
        "{n_cuts} cut-overs for 10 skips"
    );
    assert!(fx::n_ffmpeg(&rig.server) <= 2);
}

/// `serve --media DIR` on an empty database: a channel per folder, listed only with its
/// programmes, so a tune at the moment it is listed plays the folder's media, not Offline.
#[test]
fn a_first_run_channel_plays_its_media_the_moment_it_is_listed() {
    let dir = TempDir::new("follow-firstrun");
    let show = dir.path().join("Show");
    std::fs::create_dir_all(&show).unwrap();
    media::clip(&show.join("Show - S01E01.mp4"), CLIP_S, B);
    let data = std::sync::Arc::new(TempDir::new("follow-firstrun-data"));
    {
        // A first start makes the schema and the default profile; then the demo channel
        // goes, so the real start is a first run with media, on the small profile.
        let mut first = TestServer::builder().data(data.clone()).start();
        first.stop(Duration::from_secs(6));
        let conn = rusqlite::Connection::open(data.path().join("exstreamtv.db")).unwrap();
        let profile = fx::small_profile(&conn);
        conn.execute_batch("DELETE FROM playouts; DELETE FROM schedules; DELETE FROM channels;")
            .unwrap();
        conn.execute(
            "UPDATE ffmpeg_profiles SET is_default = (id = ?1)",
            [profile],
        )
        .unwrap();
    }
    let server = TestServer::builder().data(data).media(dir.path()).start();
    let c = server.client();
    let mut listed = Value::Null;
    assert!(crate::support::wait_until(Duration::from_secs(30), || {
        listed = c.get("/api/channels").json();
        listed.as_array().is_some_and(|a| !a.is_empty())
    }));
    let channel_id = listed[0]["id"].as_i64().unwrap();
    let playouts = c
        .get(&format!("/api/playouts?channel_id={channel_id}"))
        .json();
    let now = c
        .get(&format!("/api/playouts/{}/now-playing", playouts[0]["id"]))
        .json();
    assert!(
        !now["current"].is_null(),
        "listed without a timeline: {now}"
    );
    let guide = server.anon().get("/iptv/xmltv.xml").text();
    assert!(!guide.contains(">Offline<"), "{guide}");
    let number = listed[0]["number"].as_str().unwrap().to_string();
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .unwrap();
    let (ts, arrivals) = fx::read_for(&mut s.body, Duration::from_secs(3));
    s.body.close();
    let windows = tones::windows(&ts, &arrivals, &TONES, dir.path());
    assert!(!windows.is_empty());
    assert!(
        windows.iter().all(|w| w.hz == B),
        "channel {channel_id} heard {:?}",
        tones::sequence(&windows)
    );
}
