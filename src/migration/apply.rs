//! A `Foreign` created in our database, in the caller's write transaction, after its
//! folders are scanned and its URL media added (so its paths and URLs name our media
//! items): FFmpeg profiles (with their sizes), collections, playlists, filler presets and
//! watermarks, then channels through `yaml_channels::import` (which names those by name). Each channel runs inside its own savepoint: one that
//! does not fit (a taken number, an unknown name) is rolled back alone and reported.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;

use super::{FillerSource, Foreign, ForeignEntry, ForeignFiller, ForeignProfile, ForeignWatermark};
use crate::changes::Changes;
use crate::db::DbError;
use crate::ops::collections::{self, NewCollection};
use crate::ops::filler::{self, FillerItemPatch, FillerPresetPatch};
use crate::ops::ids::{CollectionId, MediaId, PlaylistId};
use crate::ops::playlists::{self, Entry, NewPlaylist};
use crate::ops::profiles::{self, ProfilePatch};
use crate::ops::watermarks::{self, WatermarkPatch};
use crate::ops::yaml_channels;
use crate::scheduler::BuildClock;

/// What a migration created, as its answer's `stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub libraries: i64,
    pub media_items: i64,
    pub ffmpeg_profiles: i64,
    pub collections: i64,
    pub collection_items: i64,
    pub playlists: i64,
    pub filler_presets: i64,
    pub watermarks: i64,
    pub channels: i64,
    pub channels_skipped: i64,
}

/// Creates everything of `foreign` but its folders and media (already there); returns what
/// was created, the warnings, and what changed.
pub fn apply(
    tx: &Transaction<'_>,
    foreign: &Foreign,
    clock: &BuildClock,
    mut fresh_seed: impl FnMut() -> i64,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) -> Result<Changes, DbError> {
    let now = clock.now_ms;
    for profile in &foreign.profiles {
        match create_profile(tx, profile, now) {
            Ok(true) => stats.ffmpeg_profiles += 1,
            Ok(false) => {}
            Err(why) => warnings.push(format!("FFmpeg profile \"{}\": {why}", profile.name)),
        }
    }
    let media = media_by_url(tx)?;
    collections(tx, foreign, &media, now, stats, warnings)?;
    playlists(tx, foreign, &media, now, stats, warnings)?;
    for f in &foreign.fillers {
        match create_filler(tx, f, now) {
            Ok(true) => stats.filler_presets += 1,
            Ok(false) => warnings.push(format!(
                "filler preset \"{}\" exists here; kept as it is",
                f.name
            )),
            Err(why) => warnings.push(format!("filler preset \"{}\": {why}", f.name)),
        }
    }
    for w in &foreign.watermarks {
        match create_watermark(tx, w, now) {
            Ok(true) => stats.watermarks += 1,
            Ok(false) => warnings.push(format!(
                "watermark \"{}\" exists here; kept as it is",
                w.name
            )),
            Err(why) => warnings.push(format!("watermark \"{}\": {why}", w.name)),
        }
    }
    for (i, doc) in foreign.channels.iter().enumerate() {
        tx.execute_batch("SAVEPOINT migrate_channel")?;
        match yaml_channels::import(tx, doc, &format!("channels[{i}]"), clock, fresh_seed()) {
            Ok((made, _)) => {
                if let Some(&Some(want)) = foreign.channel_ids.get(i) {
                    keep_id(tx, made.0, want, doc, warnings)?;
                }
                tx.execute_batch("RELEASE migrate_channel")?;
                stats.channels += 1;
            }
            Err(err) => {
                tx.execute_batch("ROLLBACK TO migrate_channel; RELEASE migrate_channel")?;
                stats.channels_skipped += 1;
                warnings.push(format!(
                    "channel {} \"{}\" not imported: {err}",
                    doc.number, doc.name
                ));
            }
        }
    }
    // New channels, profiles and collections: every document is stale; no running channel
    // plays any of it yet.
    Ok(Changes::any("migration"))
}

/// Gives the channel just made (`made`) the source's id `want` when no channel has it, so
/// its guide id (`exstream.<id>`) is unchanged; every row naming it follows. Foreign keys
/// are checked at commit (`defer_foreign_keys` lasts this transaction only).
fn keep_id(
    tx: &Transaction<'_>,
    made: i64,
    want: i64,
    doc: &yaml_channels::ChannelDoc,
    warnings: &mut Vec<String>,
) -> Result<(), DbError> {
    if made == want {
        return Ok(());
    }
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM channels WHERE id = ?1)",
        [want],
        |r| r.get(0),
    )?;
    if taken || want <= 0 {
        warnings.push(format!(
            "channel {} \"{}\": id {want} is taken here; its guide id is now exstream.{made}",
            doc.number, doc.name
        ));
        return Ok(());
    }
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    tx.execute("UPDATE channels SET id = ?1 WHERE id = ?2", [want, made])?;
    let referring: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT m.name, f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table' AND f.\"table\" = 'channels'",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (table, column) in referring {
        tx.execute(
            &format!("UPDATE \"{table}\" SET \"{column}\" = ?1 WHERE \"{column}\" = ?2"),
            [want, made],
        )?;
    }
    Ok(())
}

/// Each collection (a name taken here is kept as it is), with the files our libraries have.
fn collections(
    tx: &Transaction<'_>,
    foreign: &Foreign,
    media: &HashMap<String, i64>,
    now: i64,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) -> Result<(), DbError> {
    for c in &foreign.collections {
        if name_taken(tx, "collections", &c.name)? {
            warnings.push(format!(
                "collection \"{}\" exists here; kept as it is",
                c.name
            ));
            continue;
        }
        let new = NewCollection {
            name: c.name.clone(),
            description: Some("imported".to_owned()),
        };
        let (id, _) = collections::create_manual(tx, &new, now).map_err(other)?;
        stats.collections += 1;
        let mut missing = 0;
        for path in &c.paths {
            match media.get(path) {
                Some(&m) => {
                    collections::add_item(tx, id, MediaId(m), now).map_err(other)?;
                    stats.collection_items += 1;
                }
                None => missing += 1,
            }
        }
        if missing > 0 {
            warnings.push(format!(
                "collection \"{}\": {missing} of {} files are not in this server's libraries",
                c.name,
                c.paths.len()
            ));
        }
    }
    Ok(())
}

/// Each playlist (a name taken here is kept as it is), its entries by URL.
fn playlists(
    tx: &Transaction<'_>,
    foreign: &Foreign,
    media: &HashMap<String, i64>,
    now: i64,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) -> Result<(), DbError> {
    for p in &foreign.playlists {
        if name_taken(tx, "playlists", &p.name)? {
            warnings.push(format!(
                "playlist \"{}\" exists here; kept as it is",
                p.name
            ));
            continue;
        }
        let new = NewPlaylist {
            name: p.name.clone(),
            description: None,
            channel_id: None,
        };
        let (id, _): (PlaylistId, _) = playlists::create(tx, &new, now).map_err(other)?;
        stats.playlists += 1;
        let mut missing = 0;
        for entry in &p.entries {
            let ours = match entry {
                ForeignEntry::Url(url) => media.get(url).map(|&m| Entry::Media(MediaId(m))),
                ForeignEntry::Collection(name) => {
                    collection_named(tx, name)?.map(Entry::Collection)
                }
            };
            match ours {
                Some(entry) => {
                    playlists::add(tx, id, entry, now).map_err(other)?;
                }
                None => missing += 1,
            }
        }
        if missing > 0 {
            warnings.push(format!(
                "playlist \"{}\": {missing} of {} entries are not on this server",
                p.name,
                p.entries.len()
            ));
        }
    }
    Ok(())
}

fn collection_named(tx: &Transaction<'_>, name: &str) -> Result<Option<CollectionId>, DbError> {
    let id: Option<i64> = tx
        .query_row("SELECT id FROM collections WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(id.map(CollectionId))
}

fn other(e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(e.to_string())
}

fn name_taken(tx: &Transaction<'_>, table: &str, name: &str) -> Result<bool, DbError> {
    Ok(tx.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE name = ?1)"),
        [name],
        |r| r.get(0),
    )?)
}

/// Our media items by URL (a local file's URL is its path).
fn media_by_url(tx: &Transaction<'_>) -> Result<HashMap<String, i64>, DbError> {
    let mut stmt = tx.prepare("SELECT url, id FROM media_items WHERE url IS NOT NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A profile of that name is kept (false); else one is created with a resolution of its
/// size (ours, or a new one). Out-of-range values are the profile's own check's 422s.
fn create_profile(tx: &Transaction<'_>, p: &ForeignProfile, now: i64) -> Result<bool, String> {
    if name_taken(tx, "ffmpeg_profiles", &p.name).map_err(|e| e.to_string())? {
        return Ok(false);
    }
    let resolution = resolution_of(tx, p.width, p.height).map_err(|e| e.to_string())?;
    let mut doc = serde_json::json!({"name": p.name, "resolution_id": resolution});
    let kbps = |v: Option<i64>| v.filter(|n| *n > 0).map(|n| format!("{n}k"));
    if let Some(v) = kbps(p.video_bitrate_kbps) {
        doc["video_bitrate"] = v.into();
    }
    if let Some(v) = kbps(p.video_buffer_kbps) {
        doc["video_buffer_size"] = v.into();
    }
    if let Some(v) = kbps(p.audio_bitrate_kbps) {
        doc["audio_bitrate"] = v.into();
    }
    if let Some(n) = p.audio_channels {
        doc["audio_channels"] = n.into();
    }
    if let Some(n) = p.audio_sample_rate {
        doc["audio_sample_rate"] = n.into();
    }
    let patch: ProfilePatch = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    profiles::create(tx, &patch, now).map_err(|e| e.to_string())?;
    Ok(true)
}

/// A preset of that name is kept (false); else one is created over the collection or
/// playlist of that name (made here just before, or there already).
fn create_filler(tx: &Transaction<'_>, f: &ForeignFiller, now: i64) -> Result<bool, String> {
    if name_taken(tx, "filler_presets", &f.name).map_err(|e| e.to_string())? {
        return Ok(false);
    }
    let (table, kind, name) = match &f.source {
        FillerSource::Collection(name) => ("collections", "collection", name),
        FillerSource::Playlist(name) => ("playlists", "playlist", name),
    };
    let source: Option<i64> = tx
        .query_row(
            &format!("SELECT id FROM {table} WHERE name = ?1 ORDER BY id LIMIT 1"),
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| e.to_string())?;
    let Some(source) = source else {
        return Err(format!("its {kind} \"{name}\" is not here"));
    };
    let mut doc = serde_json::json!({"name": f.name, "filler_mode": f.mode.as_str(),
                                     "playback_order": "shuffled"});
    for (key, v) in [
        ("count", f.count),
        ("duration_seconds", f.duration_seconds),
        ("pad_to_minutes", f.pad_to_minutes),
    ] {
        if let Some(v) = v {
            doc[key] = v.into();
        }
    }
    let patch: FillerPresetPatch = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    let item: FillerItemPatch = serde_json::from_value(serde_json::json!(
        {"collection_type": kind, "collection_id": source, "weight": 1}))
    .map_err(|e| e.to_string())?;
    filler::create(tx, &patch, &[item], now).map_err(|e| e.to_string())?;
    Ok(true)
}

/// A watermark of that name is kept (false); else one is created without an image.
fn create_watermark(tx: &Transaction<'_>, w: &ForeignWatermark, now: i64) -> Result<bool, String> {
    if name_taken(tx, "watermarks", &w.name).map_err(|e| e.to_string())? {
        return Ok(false);
    }
    let doc = serde_json::json!({
        "name": w.name,
        "mode": w.mode.as_str(),
        "image_source": if w.channel_logo { "channel_logo" } else { "custom" },
        "location": w.location.as_str(),
        "size": w.size.as_str(),
        "width_percent": w.width_percent,
        "horizontal_margin_percent": w.horizontal_margin_percent,
        "vertical_margin_percent": w.vertical_margin_percent,
        "frequency_minutes": w.frequency_minutes,
        "duration_seconds": w.duration_seconds,
        "opacity": w.opacity,
    });
    let patch: WatermarkPatch = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    watermarks::create(tx, &patch, now).map_err(|e| e.to_string())?;
    Ok(true)
}

fn resolution_of(tx: &Transaction<'_>, width: i64, height: i64) -> Result<i64, DbError> {
    let found: Option<i64> = tx
        .query_row(
            "SELECT id FROM resolutions WHERE width = ?1 AND height = ?2 ORDER BY id LIMIT 1",
            [width, height],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    let name = format!("{width}x{height}");
    tx.execute(
        "INSERT INTO resolutions (name, width, height) VALUES (?1, ?2, ?3)",
        rusqlite::params![name, width, height],
    )?;
    Ok(tx.last_insert_rowid())
}
