//! StreamTV's SQLite (EXStreamTV's predecessor, snake_case tables): media items given by
//! URL (YouTube and archive.org pages, direct files), playlists of them, and channels; a
//! channel plays the playlist that names it (`playlists.channel_id`, or the channel's
//! `playlist_id`), flooded in order.

use rusqlite::Connection;

use super::{Foreign, ForeignEntry, ForeignMedia, ForeignPlaylist, ReadError, Tables};
use crate::kinds::{PlaybackOrder, SlotContent, SlotMode};
use crate::ops::yaml_channels::{ChannelDoc, ItemDoc, ScheduleDoc};

const COUNTED: &[&str] = &[
    "channels",
    "playlists",
    "playlist_items",
    "media_items",
    "collections",
    "schedules",
];

pub(super) fn read(conn: &Connection, t: &Tables) -> Result<Foreign, ReadError> {
    if !t.has("channels") {
        return Err(ReadError::Missing("channels"));
    }
    let mut out = Foreign::default();
    for table in COUNTED {
        out.counts.push((table.to_string(), t.count(conn, table)?));
    }
    out.media = media(conn, t)?;
    let playlists = playlists(conn, t)?;
    out.channels = channels(conn, t, &playlists, &mut out.warnings)?;
    out.playlists = playlists.into_iter().map(|(_, _, p)| p).collect();
    Ok(out)
}

fn media(conn: &Connection, t: &Tables) -> Result<Vec<ForeignMedia>, ReadError> {
    if !t.has("media_items") {
        return Ok(Vec::new());
    }
    let m = "media_items";
    let sql = format!(
        "SELECT url, {}, {} FROM {m} WHERE url IS NOT NULL AND url <> '' ORDER BY id",
        t.or(m, "title", "NULL"),
        t.or(m, "duration", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        let url: String = r.get(0)?;
        let title: Option<String> = r.get(1)?;
        // Seconds, as a number or a numeric text; anything else is probed later.
        let seconds: Option<f64> = r.get::<_, rusqlite::types::Value>(2).map(|v| match v {
            rusqlite::types::Value::Integer(n) => Some(n as f64),
            rusqlite::types::Value::Real(x) => Some(x),
            rusqlite::types::Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        })?;
        Ok(ForeignMedia {
            title: title.unwrap_or_else(|| url.clone()),
            url,
            duration_ms: seconds.filter(|s| *s > 0.0).map(|s| (s * 1000.0) as i64),
        })
    })?;
    Ok(rows)
}

/// Playlists: (id, the channel naming it, the playlist).
fn playlists(
    conn: &Connection,
    t: &Tables,
) -> Result<Vec<(i64, Option<i64>, ForeignPlaylist)>, ReadError> {
    if !t.has("playlists") {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, name, {} FROM playlists ORDER BY id",
        t.or("playlists", "channel_id", "NULL")
    );
    let mut out: Vec<(i64, Option<i64>, ForeignPlaylist)> = super::all(conn, &sql, |r| {
        Ok((
            r.get(0)?,
            r.get(2)?,
            ForeignPlaylist {
                name: r.get(1)?,
                entries: Vec::new(),
            },
        ))
    })?;
    if !t.has("playlist_items") || !t.has("media_items") {
        return Ok(out);
    }
    let order = t.or("playlist_items", "position", "pi.id");
    let sql = format!(
        "SELECT pi.playlist_id, m.url FROM playlist_items pi JOIN media_items m ON m.id = pi.media_item_id
         WHERE m.url IS NOT NULL AND m.url <> '' ORDER BY pi.playlist_id, {order}, pi.rowid"
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (playlist, url) = row;
        if let Some((_, _, p)) = out.iter_mut().find(|(id, _, _)| *id == playlist) {
            p.entries.push(ForeignEntry::Url(url));
        }
    }
    Ok(out)
}

fn channels(
    conn: &Connection,
    t: &Tables,
    playlists: &[(i64, Option<i64>, ForeignPlaylist)],
    warnings: &mut Vec<String>,
) -> Result<Vec<ChannelDoc>, ReadError> {
    let c = "channels";
    let sql = format!(
        "SELECT id, number, name, {}, {}, {} FROM {c} ORDER BY id",
        t.or(c, "group", "NULL"),
        t.or(c, "enabled", "1"),
        t.or(c, "playlist_id", "NULL"),
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
    let mut out = Vec::new();
    for row in rows {
        let (id, number, name, group, enabled, own_playlist) = row;
        let number = match number {
            rusqlite::types::Value::Integer(n) => n.to_string(),
            rusqlite::types::Value::Real(x) => x.to_string(),
            rusqlite::types::Value::Text(s) => s,
            _ => id.to_string(),
        };
        let playlist = playlists
            .iter()
            .find(|(pid, channel, _)| Some(*pid) == own_playlist || *channel == Some(id))
            .map(|(_, _, p)| p);
        let schedule = playlist.map(|p| flood_of(&name, &p.name));
        if schedule.is_none() {
            warnings.push(format!(
                "channel {number} \"{name}\" has no playlist; it is created Offline"
            ));
        }
        out.push(ChannelDoc {
            number,
            name,
            group,
            enabled,
            ffmpeg_profile: None,
            settings: Default::default(),
            filler: Default::default(),
            schedule,
            templates: Vec::new(),
            deco: None,
            playout: None,
        });
    }
    Ok(out)
}

/// A schedule that floods the playlist, in its order.
fn flood_of(channel: &str, playlist: &str) -> ScheduleDoc {
    ScheduleDoc {
        name: channel.to_owned(),
        keep_multi_part_episodes_together: false,
        treat_collections_as_shows: false,
        shuffle_schedule_items: false,
        random_start_point: false,
        repeat: true,
        start_time: None,
        end_time: None,
        collection: None,
        playlist: None,
        items: vec![ItemDoc {
            playback_order: Some(PlaybackOrder::Chronological),
            playout_mode: Some(SlotMode::Flood),
            ..ItemDoc::new(SlotContent::Playlist, playlist.to_owned())
        }],
    }
}
