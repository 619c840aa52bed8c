//! ErsatzTV's SQLite (`ersatztv.sqlite3`, Entity Framework's PascalCase tables): local
//! library folders, resolutions and FFmpeg profiles, collections (their files' paths),
//! and each channel with its playout's program schedule. Schedule items are table-per-type
//! (`ProgramScheduleFloodItem`, `…OneItem`, `…MultipleItem`, `…DurationItem`; older files
//! a `Discriminator` column); the enums are ErsatzTV's integers (`CollectionType`,
//! `PlaybackOrder`), mapped here.

use std::collections::HashMap;

use rusqlite::Connection;

use super::{
    ersatztv_playlists, ersatztv_presets, Foreign, ForeignCollection, ForeignProfile, ReadError,
    Tables,
};
use crate::kinds::{PlaybackOrder, SlotContent, SlotMode};
use crate::ops::yaml_channels::{ChannelDoc, FillerDoc, ItemDoc, ScheduleDoc};

const COUNTED: &[&str] = &[
    "Channel",
    "FFmpegProfile",
    "Resolution",
    "LibraryPath",
    "Collection",
    "ProgramSchedule",
    "ProgramScheduleItem",
    "Playout",
    "MediaFile",
];

pub(super) fn read(conn: &Connection, t: &Tables) -> Result<Foreign, ReadError> {
    if !t.has("Channel") {
        return Err(ReadError::Missing("Channel"));
    }
    let mut out = Foreign::default();
    for table in COUNTED {
        out.counts.push((table.to_string(), t.count(conn, table)?));
    }
    out.folders = folders(conn, t)?;
    out.profiles = profiles(conn, t)?;
    let paths = media_paths(conn, t)?;
    let collections = collections(conn, t, &paths)?;
    let profile_names: HashMap<i64, String> = profile_ids(conn, t)?;
    let fillers = ersatztv_presets::fillers(conn, t, &collections, &mut out.warnings)?;
    let watermarks = ersatztv_presets::watermarks(conn, t, &mut out.warnings)?;
    let playlists =
        ersatztv_playlists::playlists(conn, t, &collections, &paths, &mut out.warnings)?;
    let names = PresetNames {
        playlists: playlists
            .iter()
            .map(|(id, p)| (*id, p.name.clone()))
            .collect(),
        fillers: fillers
            .iter()
            .map(|(id, f)| (*id, f.name.clone()))
            .collect(),
        watermarks: watermarks
            .iter()
            .map(|(id, w)| (*id, w.name.clone()))
            .collect(),
    };
    let schedules = schedules(conn, t, &collections, &paths, &names, &mut out.warnings)?;
    out.channels = channels(
        conn,
        t,
        &profile_names,
        &schedules,
        &names,
        &mut out.warnings,
    )?;
    out.collections = collections.into_values().collect();
    out.collections.sort_by(|a, b| a.name.cmp(&b.name));
    out.playlists = playlists.into_values().collect();
    out.playlists.sort_by(|a, b| a.name.cmp(&b.name));
    out.fillers = fillers.into_values().collect();
    out.fillers.sort_by(|a, b| a.name.cmp(&b.name));
    out.watermarks = watermarks.into_values().collect();
    out.watermarks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The names of the presets read, by ErsatzTV id, for the items and channels naming them.
struct PresetNames {
    fillers: HashMap<i64, String>,
    watermarks: HashMap<i64, String>,
    playlists: HashMap<i64, String>,
}

impl PresetNames {
    fn filler(&self, id: Option<i64>) -> Option<String> {
        id.and_then(|id| self.fillers.get(&id)).cloned()
    }
}

fn folders(conn: &Connection, t: &Tables) -> Result<Vec<String>, ReadError> {
    if !t.has("LibraryPath") {
        return Ok(Vec::new());
    }
    // Plex, Jellyfin and Emby libraries have paths too (on their servers): only local ones.
    let sql = if t.has("LocalLibrary") {
        "SELECT lp.Path FROM LibraryPath lp JOIN LocalLibrary ll ON ll.Id = lp.LibraryId ORDER BY lp.Id"
    } else {
        "SELECT Path FROM LibraryPath ORDER BY Id"
    };
    let rows = super::all(conn, sql, |r| r.get::<_, String>(0))?;
    Ok(rows)
}

fn profiles(conn: &Connection, t: &Tables) -> Result<Vec<ForeignProfile>, ReadError> {
    if !t.has("FFmpegProfile") {
        return Ok(Vec::new());
    }
    let p = "FFmpegProfile";
    let (w, h) = if t.has("Resolution") && t.has_column(p, "ResolutionId") {
        ("r.Width", "r.Height")
    } else {
        ("1920", "1080")
    };
    let join = if w == "r.Width" {
        "LEFT JOIN Resolution r ON r.Id = p.ResolutionId"
    } else {
        ""
    };
    let sql = format!(
        "SELECT p.Name, coalesce({w}, 1920), coalesce({h}, 1080), {}, {}, {}, {}, {} FROM {p} p {join} ORDER BY p.Id",
        t.or(p, "VideoBitrate", "NULL"),
        t.or(p, "VideoBufferSize", "NULL"),
        t.or(p, "AudioBitrate", "NULL"),
        t.or(p, "AudioChannels", "NULL"),
        t.or(p, "AudioSampleRate", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok(ForeignProfile {
            name: r.get(0)?,
            width: r.get(1)?,
            height: r.get(2)?,
            video_bitrate_kbps: r.get(3)?,
            video_buffer_kbps: r.get(4)?,
            audio_bitrate_kbps: r.get(5)?,
            audio_channels: r.get(6)?,
            audio_sample_rate: r.get(7)?,
        })
    })?;
    Ok(rows)
}

fn profile_ids(conn: &Connection, t: &Tables) -> Result<HashMap<i64, String>, ReadError> {
    if !t.has("FFmpegProfile") {
        return Ok(HashMap::new());
    }
    let rows = super::all(conn, "SELECT Id, Name FROM FFmpegProfile", |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.into_iter().collect())
}

/// Each media item's first file path: `MediaFile` → `MediaVersion`, whose per-kind key
/// (`MovieId`, `EpisodeId`, …) is the media item's id.
fn media_paths(conn: &Connection, t: &Tables) -> Result<HashMap<i64, String>, ReadError> {
    if !t.has("MediaFile") || !t.has("MediaVersion") {
        return Ok(HashMap::new());
    }
    let keys: Vec<&str> = [
        "MovieId",
        "EpisodeId",
        "MusicVideoId",
        "OtherVideoId",
        "SongId",
    ]
    .into_iter()
    .filter(|k| t.has_column("MediaVersion", k))
    .collect();
    let mut out = HashMap::new();
    for key in keys {
        let sql = format!(
            "SELECT mv.\"{key}\", mf.Path FROM MediaFile mf JOIN MediaVersion mv ON mv.Id = mf.MediaVersionId
             WHERE mv.\"{key}\" IS NOT NULL ORDER BY mf.Id"
        );
        let rows = super::all(conn, &sql, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (id, path) = row;
            out.entry(id).or_insert(path);
        }
    }
    Ok(out)
}

/// Collections by id: their names and their items' paths (items without a file skipped).
fn collections(
    conn: &Connection,
    t: &Tables,
    paths: &HashMap<i64, String>,
) -> Result<HashMap<i64, ForeignCollection>, ReadError> {
    let mut out = HashMap::new();
    if !t.has("Collection") {
        return Ok(out);
    }
    let rows = super::all(conn, "SELECT Id, Name FROM Collection ORDER BY Id", |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (id, name) = row;
        out.insert(
            id,
            ForeignCollection {
                name,
                paths: Vec::new(),
            },
        );
    }
    if !t.has("CollectionItem") {
        return Ok(out);
    }
    let rows = super::all(
        conn,
        "SELECT CollectionId, MediaItemId FROM CollectionItem ORDER BY CollectionId, MediaItemId",
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    for row in rows {
        let (collection, item) = row;
        if let (Some(c), Some(path)) = (out.get_mut(&collection), paths.get(&item)) {
            c.paths.push(path.clone());
        }
    }
    Ok(out)
}

/// ErsatzTV's `PlaybackOrder` (None 0, Chronological 1, Random 2, Shuffle 3,
/// ShuffleInOrder 4, MultiEpisodeShuffle 5, SeasonEpisode 6, RandomRotation 7).
fn playback_order(n: i64) -> PlaybackOrder {
    match n {
        2 => PlaybackOrder::Random,
        3 | 5 | 7 => PlaybackOrder::Shuffled,
        4 => PlaybackOrder::ShuffleInOrder,
        6 => PlaybackOrder::SeasonEpisode,
        _ => PlaybackOrder::Chronological,
    }
}

/// An item's mode: its subtype table, or the older `Discriminator` text.
fn slot_mode(conn: &Connection, t: &Tables, id: i64, discriminator: Option<&str>) -> SlotMode {
    let kinds = [
        ("ProgramScheduleFloodItem", SlotMode::Flood),
        ("ProgramScheduleOneItem", SlotMode::One),
        ("ProgramScheduleMultipleItem", SlotMode::Multiple),
        ("ProgramScheduleDurationItem", SlotMode::Duration),
    ];
    for (table, mode) in kinds {
        if discriminator == Some(table) {
            return mode;
        }
        if t.has(table) {
            let sql = format!("SELECT EXISTS (SELECT 1 FROM \"{table}\" WHERE Id = ?1)");
            if conn
                .query_row(&sql, [id], |r| r.get::<_, bool>(0))
                .unwrap_or(false)
            {
                return mode;
            }
        }
    }
    SlotMode::Flood
}

struct RawItem {
    id: i64,
    schedule: i64,
    collection_type: i64,
    collection_id: Option<i64>,
    media_item_id: Option<i64>,
    playback_order: i64,
    discriminator: Option<String>,
    multiple_count: Option<i64>,
    /// Pre-roll, mid-roll, post-roll, tail and fallback filler presets' ids.
    fillers: [Option<i64>; 5],
    /// Newer ErsatzTV: the playlist the item plays.
    playlist_id: Option<i64>,
}

/// Program schedules by id, each as our schedule document.
fn schedules(
    conn: &Connection,
    t: &Tables,
    collections: &HashMap<i64, ForeignCollection>,
    paths: &HashMap<i64, String>,
    names: &PresetNames,
    warnings: &mut Vec<String>,
) -> Result<HashMap<i64, ScheduleDoc>, ReadError> {
    let mut out: HashMap<i64, ScheduleDoc> = HashMap::new();
    if !t.has("ProgramSchedule") {
        return Ok(out);
    }
    let s = "ProgramSchedule";
    let sql = format!(
        "SELECT Id, Name, {}, {}, {} FROM {s}",
        t.or(s, "ShuffleScheduleItems", "0"),
        t.or(s, "RandomStartPoint", "0"),
        t.or(s, "KeepMultiPartEpisodesTogether", "0"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            ScheduleDoc {
                name: r.get(1)?,
                keep_multi_part_episodes_together: r.get(4)?,
                treat_collections_as_shows: false,
                shuffle_schedule_items: r.get(2)?,
                random_start_point: r.get(3)?,
                repeat: true,
                start_time: None,
                end_time: None,
                collection: None,
                playlist: None,
                items: Vec::new(),
            },
        ))
    })?;
    for row in rows {
        let (id, doc) = row;
        out.insert(id, doc);
    }
    if !t.has("ProgramScheduleItem") {
        return Ok(out);
    }
    for raw in raw_items(conn, t)? {
        let Some(schedule) = out.get_mut(&raw.schedule) else {
            continue;
        };
        let playlist = raw.playlist_id.and_then(|id| names.playlists.get(&id));
        let content = match (raw.collection_type, raw.collection_id, raw.media_item_id) {
            _ if playlist.is_some() => playlist.map(|p| (SlotContent::Playlist, p.clone())),
            (0, Some(c), _) => collections
                .get(&c)
                .map(|c| (SlotContent::Collection, c.name.clone())),
            (10..=60, _, Some(m)) => paths.get(&m).map(|p| (SlotContent::MediaItem, p.clone())),
            _ => None,
        };
        let Some((collection_type, content)) = content else {
            warnings.push(format!(
                "schedule \"{}\": item {} (ErsatzTV collection type {}) has no collection or file this server can use; left out",
                schedule.name, raw.id, raw.collection_type
            ));
            continue;
        };
        let mode = slot_mode(conn, t, raw.id, raw.discriminator.as_deref());
        schedule
            .items
            .push(item_doc(collection_type, content, mode, &raw, names));
    }
    Ok(out)
}

fn raw_items(conn: &Connection, t: &Tables) -> Result<Vec<RawItem>, ReadError> {
    let i = "ProgramScheduleItem";
    let count = if t.has("ProgramScheduleMultipleItem") {
        "(SELECT Count FROM ProgramScheduleMultipleItem m WHERE m.Id = i.Id)"
    } else {
        "NULL"
    };
    let sql = format!(
        "SELECT i.Id, i.ProgramScheduleId, {}, {}, {}, {}, {}, {count}, {}, {}, {}, {}, {}, {} FROM {i} i ORDER BY i.ProgramScheduleId, i.\"Index\", i.Id",
        t.or(i, "CollectionType", "0"),
        t.or(i, "CollectionId", "NULL"),
        t.or(i, "MediaItemId", "NULL"),
        t.or(i, "PlaybackOrder", "1"),
        t.or(i, "Discriminator", "NULL"),
        t.or(i, "PreRollFillerId", "NULL"),
        t.or(i, "MidRollFillerId", "NULL"),
        t.or(i, "PostRollFillerId", "NULL"),
        t.or(i, "TailFillerId", "NULL"),
        t.or(i, "FallbackFillerId", "NULL"),
        t.or(i, "PlaylistId", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok(RawItem {
            id: r.get(0)?,
            schedule: r.get(1)?,
            collection_type: r.get(2)?,
            collection_id: r.get(3)?,
            media_item_id: r.get(4)?,
            playback_order: r.get(5)?,
            discriminator: r.get(6)?,
            multiple_count: r.get(7)?,
            fillers: [r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?],
            playlist_id: r.get(13)?,
        })
    })?;
    Ok(rows)
}

fn item_doc(
    collection_type: SlotContent,
    content: String,
    mode: SlotMode,
    raw: &RawItem,
    names: &PresetNames,
) -> ItemDoc {
    let [pre, mid, post, tail, fallback] = raw.fillers;
    ItemDoc {
        playback_order: Some(playback_order(raw.playback_order)),
        playout_mode: Some(mode),
        multiple_count: raw.multiple_count.filter(|_| mode == SlotMode::Multiple),
        filler: FillerDoc {
            pre_roll: names.filler(pre),
            mid_roll: names.filler(mid),
            post_roll: names.filler(post),
            tail: names.filler(tail),
            fallback: names.filler(fallback),
        },
        ..ItemDoc::new(collection_type, content)
    }
}

/// Channels, each with the schedule of its (first) playout.
fn channels(
    conn: &Connection,
    t: &Tables,
    profiles: &HashMap<i64, String>,
    schedules: &HashMap<i64, ScheduleDoc>,
    names: &PresetNames,
    warnings: &mut Vec<String>,
) -> Result<Vec<ChannelDoc>, ReadError> {
    let c = "Channel";
    let playout = if t.has("Playout") && t.has_column("Playout", "ProgramScheduleId") {
        "(SELECT p.ProgramScheduleId FROM Playout p WHERE p.ChannelId = c.Id ORDER BY p.Id LIMIT 1)"
    } else {
        "NULL"
    };
    let sql = format!(
        "SELECT c.Number, c.Name, {}, {}, {}, {playout}, {}, {} FROM {c} c ORDER BY c.Id",
        t.or(c, "Group", "NULL"),
        t.or(c, "FFmpegProfileId", "NULL"),
        t.or(c, "IsEnabled", "1"),
        t.or(c, "WatermarkId", "NULL"),
        t.or(c, "FallbackFillerId", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, Option<i64>>(5)?,
            (r.get::<_, Option<i64>>(6)?, r.get::<_, Option<i64>>(7)?),
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (number, name, group, profile, enabled, schedule, (watermark, fallback)) = row;
        let schedule = schedule.and_then(|id| schedules.get(&id)).cloned();
        if schedule.is_none() {
            warnings.push(format!(
                "channel {number} \"{name}\" has no program schedule; it is created Offline"
            ));
        }
        out.push(ChannelDoc {
            number,
            name,
            group,
            enabled: Some(enabled),
            ffmpeg_profile: profile.and_then(|id| profiles.get(&id)).cloned(),
            settings: crate::ops::yaml_channels::SettingsDoc {
                watermark: watermark.and_then(|id| names.watermarks.get(&id)).cloned(),
                ..Default::default()
            },
            filler: FillerDoc {
                fallback: names.filler(fallback),
                ..Default::default()
            },
            schedule,
            templates: Vec::new(),
            deco: None,
            playout: None,
        });
    }
    Ok(out)
}
