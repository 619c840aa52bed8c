//! XMLTV generation: the whole guide for 10 channels × 1 day and 100 channels × 7 days of
//! 30-minute programmes (33,600; each channel loops its own 48 episodes, so 4,800 distinct
//! media items), read from a real SQLite file through the DB reader thread
//! and written by quick-xml, consumed frame by frame as hyper would send it. Goal: ≤ 50 ms
//! for 100 × 7 with memory flat. Before the timings it prints the peak heap above the
//! baseline during one render for each size: flat means the two figures are alike.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use divan::AllocProfiler;
use exstreamtv::db::Db;
use exstreamtv::iptv::guide;
use exstreamtv::iptv::lineup::{self, LineupChannel};
use exstreamtv::iptv::xmltv::GuideBody;
use http_body_util::BodyExt;
use rusqlite::params;

/// Counts live heap bytes and their high-water mark (for the "memory flat" figure).
struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: AllocProfiler<PeakAlloc> = AllocProfiler::new(PeakAlloc);

const NOW_MS: i64 = 1_767_643_200_000; // 2026-01-05T20:00:00Z
const ITEM_MS: i64 = 30 * 60_000;
/// Episodes per channel: one day of 30-minute items.
const EPISODES: i64 = 48;

/// The channel's own episodes; returns the first one's id (they are consecutive).
fn insert_episodes(tx: &rusqlite::Transaction<'_>, channel: i64) -> rusqlite::Result<i64> {
    let mut first = 0;
    for e in 0..EPISODES {
        tx.execute(
            "INSERT INTO media_items (source, url, title, description, media_type, show_title,
                 season_number, episode_number, year, genres, thumbnail, content_rating,
                 added_at_ms, created_at_ms, updated_at_ms)
             VALUES ('local', ?1, ?2, 'A description of this episode, long enough to be typical of a library''s NFO plot text.',
                 'episode', ?3, 1, ?4, 2001, 'Comedy,Drama', ?5, 'TV-PG', 0, 0, 0)",
            params![
                format!("/media/ch{channel}/e{e}.mkv"),
                format!("Episode {e} of channel {channel}"),
                format!("Show & Co {channel}"),
                e + 1,
                format!("http://192.168.1.20:32400/thumb/{channel}/{e}.jpg")
            ],
        )?;
        if e == 0 {
            first = tx.last_insert_rowid();
        }
    }
    Ok(first)
}

struct Fixture {
    db: Db,
    channels: Vec<LineupChannel>,
    _dir: std::path::PathBuf,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn fixture(n_channels: usize, days: i64) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "exstreamtv-bench-xmltv-{}-{n_channels}-{days}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = Db::open(&dir.join("exstreamtv.db")).expect("open db");
    db.write_blocking(move |conn| {
        let tx = conn.transaction()?;
        let n_items = days * 86_400_000 / ITEM_MS;
        for c in 0..n_channels as i64 {
            tx.execute(
                "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES (?1, ?2, 0, 0)",
                params![(100 + c).to_string(), format!("Channel {c} HD")],
            )?;
            let channel_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO playouts (channel_id, seed, created_at_ms, updated_at_ms) VALUES (?1, 1, 0, 0)",
                [channel_id],
            )?;
            let playout_id = tx.last_insert_rowid();
            let first_media = insert_episodes(&tx, c)?;
            let mut stmt = tx.prepare(
                "INSERT INTO playout_items (playout_id, media_item_id, title, episode_title, start_ms, finish_ms)
                 VALUES (?1, ?2, 'Show & Co', ?3, ?4, ?5)",
            )?;
            for i in 0..n_items {
                let start = NOW_MS - ITEM_MS / 2 + i * ITEM_MS;
                stmt.execute(params![
                    playout_id,
                    first_media + i % EPISODES,
                    format!("Episode {} of channel {c}", i % EPISODES),
                    start,
                    start + ITEM_MS
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    })
    .expect("fixture");
    let channels = runtime()
        .block_on(lineup::enabled_channels(&db))
        .expect("lineup");
    Fixture {
        db,
        channels,
        _dir: dir,
    }
}

/// Renders the whole guide, dropping each frame as hyper would after sending it.
fn render(f: &Fixture) -> (usize, usize) {
    runtime().block_on(async {
        let mut body = GuideBody::new(
            f.db.clone(),
            f.channels.clone(),
            Default::default(),
            "http://192.168.1.20:8411",
            NOW_MS,
            2 * 86_400_000,
        )
        .expect("start");
        let (mut bytes, mut frames) = (0, 0);
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("frame");
            if let Some(data) = frame.data_ref() {
                bytes += data.len();
                frames += 1;
            }
        }
        (bytes, frames)
    })
}

/// CPU time of this process so far (user + system), in ms: steadier than wall time on a
/// shared machine.
fn cpu_ms() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return 0.0;
    };
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e3 + t.tv_usec() as f64 / 1e3;
    ms(usage.user_time()) + ms(usage.system_time())
}

/// Only the DB side: every page of every channel, nothing written.
fn pages_only(f: &Fixture) -> usize {
    runtime().block_on(async {
        let mut n = 0;
        for ch in &f.channels {
            let mut cursor = guide::PageCursor::FIRST;
            loop {
                let items = guide::page(&f.db, ch.id, NOW_MS, cursor)
                    .await
                    .expect("page");
                n += items.len();
                match items.last() {
                    Some(last) if items.len() == guide::PAGE_ITEMS => {
                        cursor = guide::PageCursor::after(last)
                    }
                    _ => break,
                }
            }
        }
        n
    })
}

fn sizes() -> &'static [Fixture; 2] {
    static F: OnceLock<[Fixture; 2]> = OnceLock::new();
    F.get_or_init(|| [fixture(10, 1), fixture(100, 7)])
}

fn main() {
    for (f, label) in sizes()
        .iter()
        .zip(["10 channels x 1 day", "100 channels x 7 days"])
    {
        render(f); // warm the statement cache and the page cache
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let cpu_before = cpu_ms();
        let started = std::time::Instant::now();
        let (bytes, frames) = render(f);
        let elapsed = started.elapsed();
        let cpu = cpu_ms() - cpu_before;
        let peak = PEAK.load(Ordering::Relaxed) - base;
        let started = std::time::Instant::now();
        let n_items = pages_only(f);
        let db_only = started.elapsed();
        println!(
            "xmltv {label}: {bytes} bytes in {frames} frames, {:.1} ms wall ({cpu:.1} ms CPU, both threads), peak heap above baseline {:.0} KiB; reading the {n_items} items alone {:.1} ms",
            elapsed.as_secs_f64() * 1e3,
            peak as f64 / 1024.0,
            db_only.as_secs_f64() * 1e3
        );
    }
    divan::main();
    for f in sizes() {
        let _ = std::fs::remove_dir_all(&f._dir);
    }
}

#[divan::bench(args = ["10x1", "100x7"], sample_count = 20)]
fn whole_guide(bencher: divan::Bencher, size: &str) {
    let f = &sizes()[usize::from(size == "100x7")];
    bencher.bench_local(|| render(f));
}
