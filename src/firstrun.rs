//! Flash-and-forget first start: an empty database with no `--media` gets channel 1 "Demo",
//! whose programmes FFmpeg generates itself (test pattern, tone, title and clock), with a
//! schedule and a playout, so the lineup, M3U, guide and stream work with no configuration.
//! The programmes are `generated` media items; no media file is ever written.

use rusqlite::params;

use crate::config::Config;
use crate::db::{Db, DbError};

/// The URL scheme of media FFmpeg synthesises (lavfi); `stream::ffmpeg` knows how to play it.
pub const GENERATED_SCHEME: &str = "generated://";

/// The demo programmes: (title, description, minutes). Different lengths make boundaries
/// fall at different times of the hour, which exercises the splicer.
const DEMO_PROGRAMMES: [(&str, &str, i64); 3] = [
    (
        "Test Pattern",
        "SMPTE-style colour bars with a 1 kHz tone.",
        15,
    ),
    (
        "Moving Pattern",
        "A moving test card with a 440 Hz tone.",
        10,
    ),
    ("Clock", "The time, on a test card, with a 880 Hz tone.", 5),
];

/// Creates the demo channel when the database has no channel and no media folder was
/// given. Returns whether it did. Idempotent.
pub fn prepare(db: &Db, config: &Config) -> Result<bool, DbError> {
    if !config.media_dirs.is_empty() {
        return Ok(false);
    }
    db.write_blocking(|conn| {
        let tx = conn.transaction()?;
        let n_channels: i64 = tx.query_row("SELECT count(*) FROM channels", [], |r| r.get(0))?;
        if n_channels > 0 {
            return Ok(false);
        }
        let now = crate::time::now_ms();
        tx.execute(
            "INSERT INTO collections (name, description, collection_type, created_at_ms, updated_at_ms)
             VALUES ('Demo', 'Programmes FFmpeg generates itself', 'manual', ?1, ?1)",
            [now],
        )?;
        let collection_id = tx.last_insert_rowid();
        for (position, (title, description, minutes)) in DEMO_PROGRAMMES.iter().enumerate() {
            let url = format!("{GENERATED_SCHEME}demo/{}", position + 1);
            tx.execute(
                "INSERT INTO media_items (source, url, title, description, duration_ms, media_type,
                     show_title, season_number, episode_number, container, video_codec, width, height,
                     frame_rate, audio_codec, audio_channels, audio_sample_rate,
                     added_at_ms, created_at_ms, updated_at_ms)
                 VALUES ('generated', ?1, ?2, ?3, ?4, 'episode', 'Demo', 1, ?5, 'lavfi', 'rawvideo',
                     1280, 720, 30, 'pcm', 2, 48000, ?6, ?6, ?6)",
                params![url, title, description, minutes * 60_000, position as i64 + 1, now],
            )?;
            let media_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO collection_items (collection_id, media_item_id, position) VALUES (?1, ?2, ?3)",
                params![collection_id, media_id, position as i64],
            )?;
        }
        tx.execute(
            "INSERT INTO channels (number, name, \"group\", created_at_ms, updated_at_ms)
             VALUES ('1', 'Demo', 'Demo', ?1, ?1)",
            [now],
        )?;
        let channel_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO schedules (name, channel_id, collection_id, created_at_ms, updated_at_ms)
             VALUES ('Demo', ?1, ?2, ?3, ?3)",
            params![channel_id, collection_id, now],
        )?;
        let schedule_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO schedule_items (schedule_id, position, collection_type, collection_id,
                 playback_order, playout_mode, created_at_ms, updated_at_ms)
             VALUES (?1, 0, 'collection', ?2, 'chronological', 'flood', ?3, ?3)",
            params![schedule_id, collection_id, now],
        )?;
        tx.execute(
            "INSERT INTO playouts (channel_id, program_schedule_id, playout_type, seed, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, 'continuous', 1, ?3, ?3)",
            params![channel_id, schedule_id, now],
        )?;
        tx.commit()?;
        Ok(true)
    })
}
