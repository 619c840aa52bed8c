//! EXStreamTV's SQLite (the Python server this one replaces; SQLAlchemy snake_case tables):
//! FFmpeg profiles, media items given by URL, playlists (EXStreamTV's collections are
//! playlists too), and channels whose playout names a program schedule of items. The
//! channel's own id is kept beside its document (`Foreign::channel_ids`) so its guide id
//! `exstream.<id>` survives the move. Its kinds are ours already (our API is modelled on
//! EXStreamTV's), so `collection_type`, `playback_order` and `playback_mode` parse as ours.

use rusqlite::Connection;

use super::{
    FillerSource, Foreign, ForeignEntry, ForeignFiller, ForeignMedia, ForeignPlaylist,
    ForeignProfile, ReadError, Tables,
};
use crate::kinds::{FillerModeKind, PlaybackOrder, SlotContent, SlotMode};
use crate::ops::yaml_channels::{ChannelDoc, ItemDoc, ScheduleDoc};

const COUNTED: &[&str] = &[
    "channels",
    "ffmpeg_profiles",
    "playlists",
    "playlist_items",
    "media_items",
    "program_schedules",
    "program_schedule_items",
    "playouts",
    "filler_presets",
];

/// The newest EXStreamTV schema revision (`alembic_version.version_num`) this reader knows;
/// a database stamped otherwise still imports what matches, with a warning.
const KNOWN_REVISIONS: &[&str] = &["001", "002", "003", "004"];

pub(super) fn read(conn: &Connection, t: &Tables) -> Result<Foreign, ReadError> {
    if !t.has("channels") || !t.has("playouts") {
        return Err(ReadError::Missing("playouts"));
    }
    let mut out = Foreign::default();
    for table in COUNTED {
        out.counts.push((table.to_string(), t.count(conn, table)?));
    }
    revision(conn, t, &mut out.warnings)?;
    out.profiles = profiles(conn, t)?;
    out.media = media(conn, t, &mut out.warnings)?;
    let playlists = playlists(conn, t)?;
    out.fillers = fillers(conn, t, &playlists, &mut out.warnings)?;
    let profile_names: Vec<(i64, String)> = profile_ids(conn, t)?;
    let (channels, ids) = channels(conn, t, &playlists, &profile_names, &mut out.warnings)?;
    out.channels = channels;
    out.channel_ids = ids;
    out.playlists = playlists.into_iter().map(|(_, p)| p).collect();
    Ok(out)
}

fn revision(conn: &Connection, t: &Tables, warnings: &mut Vec<String>) -> Result<(), ReadError> {
    if !t.has("alembic_version") {
        return Ok(());
    }
    let revs = super::all(conn, "SELECT version_num FROM alembic_version", |r| {
        r.get::<_, String>(0)
    })?;
    for rev in revs {
        if !KNOWN_REVISIONS.contains(&rev.as_str()) {
            warnings.push(format!(
                "EXStreamTV schema revision {rev} is newer than this server knows; \
                 what matches was read, newer tables and columns were not"
            ));
        }
    }
    Ok(())
}

/// "4000k", "4M", "4000" → kbps.
fn kbps(text: Option<String>) -> Option<i64> {
    let text = text?.trim().to_ascii_lowercase();
    if let Some(m) = text.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| (v * 1000.0) as i64);
    }
    text.trim_end_matches('k').parse().ok()
}

fn profiles(conn: &Connection, t: &Tables) -> Result<Vec<ForeignProfile>, ReadError> {
    if !t.has("ffmpeg_profiles") {
        return Ok(Vec::new());
    }
    let p = "ffmpeg_profiles";
    let sql = format!(
        "SELECT name, {}, {}, {}, {}, {}, {}, {} FROM {p} ORDER BY id",
        t.or(p, "custom_width", "NULL"),
        t.or(p, "custom_height", "NULL"),
        t.or(p, "video_bitrate", "NULL"),
        t.or(p, "video_buffer_size", "NULL"),
        t.or(p, "audio_bitrate", "NULL"),
        t.or(p, "audio_channels", "NULL"),
        t.or(p, "audio_sample_rate", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        // EXStreamTV's own default size when no custom one is set.
        let width: Option<i64> = r.get(1)?;
        let height: Option<i64> = r.get(2)?;
        let (width, height) = match (width, height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
            _ => (1920, 1080),
        };
        Ok(ForeignProfile {
            name: r.get(0)?,
            width,
            height,
            video_bitrate_kbps: kbps(r.get(3)?),
            video_buffer_kbps: kbps(r.get(4)?),
            audio_bitrate_kbps: kbps(r.get(5)?),
            audio_channels: r.get(6)?,
            audio_sample_rate: r.get(7)?,
        })
    })?;
    Ok(rows)
}

fn profile_ids(conn: &Connection, t: &Tables) -> Result<Vec<(i64, String)>, ReadError> {
    if !t.has("ffmpeg_profiles") {
        return Ok(Vec::new());
    }
    Ok(super::all(
        conn,
        "SELECT id, name FROM ffmpeg_profiles",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// URL media; a YouTube or archive.org page is added too (it comes over unplayable without
/// yt-dlp, and the media step says so) but named here so the report is explicit.
fn media(
    conn: &Connection,
    t: &Tables,
    warnings: &mut Vec<String>,
) -> Result<Vec<ForeignMedia>, ReadError> {
    if !t.has("media_items") {
        return Ok(Vec::new());
    }
    let m = "media_items";
    let sql = format!(
        "SELECT url, {}, {}, {} FROM {m} WHERE url IS NOT NULL AND url <> '' ORDER BY id",
        t.or(m, "title", "NULL"),
        t.or(m, "duration", "NULL"),
        t.or(m, "source", "'local'"),
    );
    let rows = super::all(conn, &sql, |r| {
        let url: String = r.get(0)?;
        let title: Option<String> = r.get(1)?;
        let seconds: Option<i64> = r.get(2)?;
        let source: Option<String> = r.get(3)?;
        Ok((
            ForeignMedia {
                title: title.unwrap_or_else(|| url.clone()),
                url,
                duration_ms: seconds.filter(|s| *s > 0).map(|s| s * 1000),
            },
            source.unwrap_or_default(),
        ))
    })?;
    let mut out = Vec::new();
    for (item, source) in rows {
        if source == "youtube" || source == "archive_org" {
            warnings.push(format!(
                "media item \"{}\" is a {source} page: it comes over disabled \
                 (this server plays it only with yt-dlp)",
                item.title
            ));
        }
        out.push(item);
    }
    Ok(out)
}

/// Playlists by id, their entries' URLs (the media item's, or the entry's own) in order.
/// Filler presets over one of EXStreamTV's playlists (its `collection_id` names a playlist:
/// EXStreamTV's collections are playlists); a preset of items, smart or multi collections
/// is reported instead.
fn fillers(
    conn: &Connection,
    t: &Tables,
    playlists: &[(i64, ForeignPlaylist)],
    warnings: &mut Vec<String>,
) -> Result<Vec<ForeignFiller>, ReadError> {
    let f = "filler_presets";
    if !t.has(f) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT name, {}, {}, {}, {}, {} FROM {f} ORDER BY id",
        t.or(f, "filler_mode", "'count'"),
        t.or(f, "count", "NULL"),
        t.or(f, "duration_seconds", "NULL"),
        t.or(f, "pad_to_minutes", "NULL"),
        t.or(f, "collection_id", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            (r.get::<_, Option<i64>>(2)?, r.get::<_, Option<i64>>(3)?),
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for (name, mode, (count, duration), pad, playlist) in rows {
        let playlist = playlist.and_then(|id| playlists.iter().find(|(p, _)| *p == id));
        let Some((_, playlist)) = playlist else {
            warnings.push(format!(
                "filler preset \"{name}\": it names no playlist; recreate it here"
            ));
            continue;
        };
        let mode = match mode.as_str() {
            "duration" if duration.is_some_and(|s| s > 0) => FillerModeKind::Duration,
            "pad" if pad.is_some_and(|m| m > 0) => FillerModeKind::Pad,
            _ => FillerModeKind::Count,
        };
        out.push(ForeignFiller {
            name,
            source: FillerSource::Playlist(playlist.name.clone()),
            mode,
            count: (mode == FillerModeKind::Count).then(|| count.filter(|n| *n > 0).unwrap_or(1)),
            duration_seconds: duration.filter(|_| mode == FillerModeKind::Duration),
            pad_to_minutes: pad.filter(|_| mode == FillerModeKind::Pad),
        });
    }
    Ok(out)
}

fn playlists(conn: &Connection, t: &Tables) -> Result<Vec<(i64, ForeignPlaylist)>, ReadError> {
    if !t.has("playlists") {
        return Ok(Vec::new());
    }
    let mut out: Vec<(i64, ForeignPlaylist)> =
        super::all(conn, "SELECT id, name FROM playlists ORDER BY id", |r| {
            let name: String = r.get(1)?;
            Ok((
                r.get(0)?,
                ForeignPlaylist {
                    name,
                    entries: Vec::new(),
                },
            ))
        })?;
    if !t.has("playlist_items") || !t.has("media_items") {
        return Ok(out);
    }
    let pi = "playlist_items";
    let sql = format!(
        "SELECT pi.playlist_id, COALESCE(m.url, {}) FROM {pi} pi
         LEFT JOIN media_items m ON m.id = pi.media_item_id
         ORDER BY pi.playlist_id, {}, pi.id",
        if t.has_column(pi, "source_url") {
            "pi.source_url"
        } else {
            "NULL"
        },
        t.or(pi, "position", "pi.id"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    for (playlist, url) in rows {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            continue;
        };
        if let Some((_, p)) = out.iter_mut().find(|(id, _)| *id == playlist) {
            p.entries.push(ForeignEntry::Url(url));
        }
    }
    Ok(out)
}

type Channels = (Vec<ChannelDoc>, Vec<Option<i64>>);

fn channels(
    conn: &Connection,
    t: &Tables,
    playlists: &[(i64, ForeignPlaylist)],
    profiles: &[(i64, String)],
    warnings: &mut Vec<String>,
) -> Result<Channels, ReadError> {
    let c = "channels";
    let sql = format!(
        "SELECT id, number, name, {}, {}, {} FROM {c} ORDER BY id",
        t.or(c, "group", "NULL"),
        t.or(c, "enabled", "1"),
        t.or(c, "ffmpeg_profile_id", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, rusqlite::types::Value>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<bool>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let (mut docs, mut ids) = (Vec::new(), Vec::new());
    for (id, number, name, group, enabled, profile) in rows {
        let number = match number {
            rusqlite::types::Value::Integer(n) => n.to_string(),
            rusqlite::types::Value::Real(x) => x.to_string(),
            rusqlite::types::Value::Text(s) => s,
            _ => id.to_string(),
        };
        let schedule = schedule_of(conn, t, id, &name, playlists, warnings)?;
        if schedule.is_none() {
            warnings.push(format!(
                "channel {number} \"{name}\" has no program schedule; it is created Offline"
            ));
        }
        let ffmpeg_profile = profile
            .and_then(|p| profiles.iter().find(|(pid, _)| *pid == p))
            .map(|(_, n)| n.clone());
        docs.push(ChannelDoc {
            number,
            name,
            group,
            enabled,
            ffmpeg_profile,
            settings: Default::default(),
            filler: Default::default(),
            schedule,
            templates: Vec::new(),
            deco: None,
            playout: None,
        });
        ids.push(Some(id));
    }
    Ok((docs, ids))
}

/// The channel's first playout's program schedule, its items naming playlists by name.
fn schedule_of(
    conn: &Connection,
    t: &Tables,
    channel: i64,
    channel_name: &str,
    playlists: &[(i64, ForeignPlaylist)],
    warnings: &mut Vec<String>,
) -> Result<Option<ScheduleDoc>, ReadError> {
    if !t.has("program_schedules") || !t.has("program_schedule_items") {
        return Ok(None);
    }
    let found: Vec<(i64, String)> = {
        let mut stmt = conn.prepare(
            "SELECT s.id, s.name FROM playouts p JOIN program_schedules s
             ON s.id = p.program_schedule_id WHERE p.channel_id = ?1 ORDER BY p.id LIMIT 1",
        )?;
        let rows = stmt.query_map([channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let Some((schedule, name)) = found.into_iter().next() else {
        return Ok(None);
    };
    let i = "program_schedule_items";
    let sql = format!(
        "SELECT collection_type, collection_id, {}, {}, {} FROM {i}
         WHERE schedule_id = ?1 ORDER BY {}, id",
        t.or(i, "playback_order", "'chronological'"),
        t.or(i, "playback_mode", "'flood'"),
        t.or(i, "multiple_count", "NULL"),
        t.or(i, "position", "id"),
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([schedule], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    let mut items = Vec::new();
    for row in rows {
        let (kind, content, order, mode, count) = row?;
        // EXStreamTV's collections are rows of its playlists table.
        let target = content.and_then(|c| playlists.iter().find(|(id, _)| *id == c));
        match (kind.as_str(), target) {
            ("playlist" | "collection", Some((_, p))) => {
                let mode = mode.and_then(|m| m.parse::<SlotMode>().ok());
                let order = order.and_then(|o| o.parse::<PlaybackOrder>().ok());
                items.push(item(&p.name, order, mode, count));
            }
            _ => warnings.push(format!(
                "channel \"{channel_name}\": a schedule item of {kind} {} is not carried over",
                content.map_or_else(|| "?".to_owned(), |c| c.to_string())
            )),
        }
    }
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(ScheduleDoc {
        name,
        keep_multi_part_episodes_together: false,
        treat_collections_as_shows: false,
        shuffle_schedule_items: false,
        random_start_point: false,
        repeat: true,
        start_time: None,
        end_time: None,
        collection: None,
        playlist: None,
        items,
    }))
}

fn item(
    playlist: &str,
    order: Option<PlaybackOrder>,
    mode: Option<SlotMode>,
    count: Option<i64>,
) -> ItemDoc {
    ItemDoc {
        playback_order: Some(order.unwrap_or(PlaybackOrder::Chronological)),
        playout_mode: Some(mode.unwrap_or(SlotMode::Flood)),
        multiple_count: count.filter(|_| mode == Some(SlotMode::Multiple)),
        ..ItemDoc::new(SlotContent::Playlist, playlist.to_owned())
    }
}
