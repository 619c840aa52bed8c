//! What the streaming engine and the guide read: the stored playout items of a channel from
//! a moment on, resolved to something FFmpeg can play (`Input`). This is the one place that
//! turns playout rows into programmes, so what the guide lists is what plays.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rusqlite::{params, Row};
use smol_str::SmolStr;

use crate::db::{optional, Db, DbError};
use crate::kinds::MediaSource;
use crate::ops::ids::ChannelId;
use crate::time::UnixMs;

/// What FFmpeg reads for one programme.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A local file; the path keeps its raw bytes (names need not be UTF-8).
    File(PathBuf),
    /// Media FFmpeg synthesises itself (`generated://demo/N`, see `firstrun`).
    Generated(String),
    /// A remote URL (Plex, Jellyfin, ...).
    Url(String),
    /// Nothing to play: the slate ("Offline", or a missing media item).
    Offline,
}

/// What the scanner learnt of the media, for choosing copy vs transcode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaInfo {
    pub duration_ms: Option<i64>,
    pub container: Option<SmolStr>,
    pub video_codec: Option<SmolStr>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f64>,
    pub field_order: Option<SmolStr>,
    pub audio_codec: Option<SmolStr>,
    pub audio_channels: Option<u32>,
    pub audio_sample_rate: Option<u32>,
}

/// One stored playout item, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// `playout_items.id`.
    pub item_id: i64,
    pub media_id: Option<i64>,
    pub title: String,
    pub start_ms: UnixMs,
    pub finish_ms: UnixMs,
    /// Where playback of the media starts at `start_ms`.
    pub in_point_ms: i64,
    pub filler_kind: Option<SmolStr>,
    pub input: Input,
    pub media: MediaInfo,
}

impl Programme {
    pub fn duration_ms(&self) -> i64 {
        self.finish_ms - self.start_ms
    }
}

/// The channel as the streaming engine needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelInfo {
    pub id: ChannelId,
    pub number: SmolStr,
    pub name: String,
    pub enabled: bool,
    pub ffmpeg_profile_id: Option<i64>,
}

/// The output format a channel streams in (its FFmpeg profile, or the default one).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputProfile {
    pub width: u32,
    pub height: u32,
    pub framerate: u32,
    pub video_codec: SmolStr,
    pub video_bitrate: SmolStr,
    pub video_buffer_size: SmolStr,
    pub quality_preset: SmolStr,
    pub hardware_acceleration: SmolStr,
    pub audio_codec: SmolStr,
    pub audio_bitrate: SmolStr,
    pub audio_channels: u32,
    pub audio_sample_rate: u32,
    pub normalize_audio: bool,
    pub deinterlace: bool,
    pub scaling_mode: SmolStr,
}

impl Default for OutputProfile {
    /// 720p30 H.264/AAC stereo: what a Pi encodes in real time and every client plays.
    fn default() -> Self {
        OutputProfile {
            width: 1280,
            height: 720,
            framerate: 30,
            video_codec: "libx264".into(),
            video_bitrate: "4000k".into(),
            video_buffer_size: "8000k".into(),
            quality_preset: "veryfast".into(),
            hardware_acceleration: "auto".into(),
            audio_codec: "aac".into(),
            audio_bitrate: "128k".into(),
            audio_channels: 2,
            audio_sample_rate: 48000,
            normalize_audio: false,
            deinterlace: false,
            scaling_mode: "pad".into(),
        }
    }
}

const PROGRAMME_COLUMNS: &str =
    "pi.id, pi.media_item_id, pi.title, pi.start_ms, pi.finish_ms, pi.in_point_ms,
    pi.filler_kind, mi.source, mi.url, mi.path_bytes, mi.is_missing, mi.duration_ms, mi.container,
    mi.video_codec, mi.width, mi.height, mi.frame_rate, mi.field_order, mi.audio_codec,
    mi.audio_channels, mi.audio_sample_rate";

/// Up to `max` programmes of the channel's active playout that have not finished at `at_ms`,
/// in time order: the first one is playing at `at_ms` (unless the timeline has a hole).
pub async fn programmes(
    db: &Db,
    channel_id: ChannelId,
    at_ms: UnixMs,
    max: usize,
) -> Result<Vec<Programme>, DbError> {
    db.read(move |conn| {
        let sql = format!(
            "SELECT {PROGRAMME_COLUMNS}
             FROM playout_items pi
             JOIN playouts p ON p.id = pi.playout_id
             LEFT JOIN media_items mi ON mi.id = pi.media_item_id
             WHERE p.channel_id = ?1 AND p.is_active = 1 AND pi.finish_ms > ?2
             ORDER BY pi.start_ms
             LIMIT ?3"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![channel_id, at_ms, max as i64], programme_from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await
}

fn programme_from_row(row: &Row<'_>) -> rusqlite::Result<Programme> {
    let source: Option<String> = row.get(7)?;
    let url: Option<String> = row.get(8)?;
    let path_bytes: Option<Vec<u8>> = row.get(9)?;
    let is_missing: Option<bool> = row.get(10)?;
    let source = match source.as_deref().map(str::parse::<MediaSource>) {
        None => None,
        Some(Ok(source)) => Some(source),
        // The importer refuses such a value; one written by hand plays the slate (it could
        // be anything), and the log names the item.
        Some(Err(err)) => {
            let playout_item: i64 = row.get(0)?;
            tracing::warn!(
                playout_item,
                %err,
                "media source unreadable; playing the slate"
            );
            None
        }
    };
    let input = match (source, url, path_bytes) {
        (_, _, _) if is_missing == Some(true) => Input::Offline,
        (None, _, _) => Input::Offline,
        (Some(MediaSource::Generated), Some(url), _) => Input::Generated(url),
        (Some(MediaSource::Local), _, Some(bytes)) => {
            Input::File(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)))
        }
        (Some(MediaSource::Local), Some(url), None) => Input::File(PathBuf::from(url)),
        (Some(_), Some(url), _) => Input::Url(url),
        (Some(_), None, _) => Input::Offline,
    };
    let small = |i: usize| -> rusqlite::Result<Option<SmolStr>> {
        Ok(row.get::<_, Option<String>>(i)?.map(SmolStr::from))
    };
    Ok(Programme {
        item_id: row.get(0)?,
        media_id: row.get(1)?,
        title: row.get(2)?,
        start_ms: row.get(3)?,
        finish_ms: row.get(4)?,
        in_point_ms: row.get(5)?,
        filler_kind: small(6)?,
        input,
        media: MediaInfo {
            duration_ms: row.get(11)?,
            container: small(12)?,
            video_codec: small(13)?,
            width: row.get(14)?,
            height: row.get(15)?,
            frame_rate: row.get(16)?,
            field_order: small(17)?,
            audio_codec: small(18)?,
            audio_channels: row.get(19)?,
            audio_sample_rate: row.get(20)?,
        },
    })
}

/// An enabled or disabled channel by its number ("5", "5.1").
pub async fn channel_by_number(db: &Db, number: &str) -> Result<Option<ChannelInfo>, DbError> {
    let number = number.to_string();
    db.read(move |conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT id, number, name, enabled, ffmpeg_profile_id FROM channels WHERE number = ?1",
        )?;
        optional(stmt.query_row([number], |row| {
            Ok(ChannelInfo {
                id: row.get(0)?,
                number: SmolStr::from(row.get::<_, String>(1)?),
                name: row.get(2)?,
                enabled: row.get(3)?,
                ffmpeg_profile_id: row.get(4)?,
            })
        }))
    })
    .await
}

/// The channel's output profile: its own, else the default profile, else `OutputProfile::default()`.
pub async fn output_profile(db: &Db, channel_id: ChannelId) -> Result<OutputProfile, DbError> {
    profile_of(db, Some(channel_id.0)).await
}

/// The profile marked default, else `OutputProfile::default()`: for a stream that is no
/// channel's (`/iptv/stream/{id}`).
pub async fn default_output_profile(db: &Db) -> Result<OutputProfile, DbError> {
    profile_of(db, None).await
}

/// One query for both: `None` binds NULL, which no channel id equals, so the channel's
/// profile subquery is NULL and only the default profile qualifies.
async fn profile_of(db: &Db, channel_id: Option<i64>) -> Result<OutputProfile, DbError> {
    db.read(move |conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT r.width, r.height, f.framerate, f.video_codec, f.video_bitrate, f.video_buffer_size,
                    f.quality_preset, f.hardware_acceleration, f.audio_codec, f.audio_bitrate,
                    f.audio_channels, f.audio_sample_rate, f.normalize_audio, f.deinterlace, f.scaling_mode
             FROM ffmpeg_profiles f JOIN resolutions r ON r.id = f.resolution_id
             WHERE f.id = (SELECT ffmpeg_profile_id FROM channels WHERE id = ?1)
                OR (f.is_default = 1 AND (SELECT ffmpeg_profile_id FROM channels WHERE id = ?1) IS NULL)
             ORDER BY f.is_default
             LIMIT 1",
        )?;
        let found = optional(stmt.query_row([channel_id], |row| {
            let s = |i: usize| -> rusqlite::Result<SmolStr> { Ok(SmolStr::from(row.get::<_, String>(i)?)) };
            Ok(OutputProfile {
                width: row.get(0)?,
                height: row.get(1)?,
                framerate: row.get(2)?,
                video_codec: s(3)?,
                video_bitrate: s(4)?,
                video_buffer_size: s(5)?,
                quality_preset: s(6)?,
                hardware_acceleration: s(7)?,
                audio_codec: s(8)?,
                audio_bitrate: s(9)?,
                audio_channels: row.get(10)?,
                audio_sample_rate: row.get(11)?,
                normalize_audio: row.get(12)?,
                deinterlace: row.get(13)?,
                scaling_mode: s(14)?,
            })
        }))?;
        Ok(found.unwrap_or_default())
    })
    .await
}

/// One library item as a programme, for `/iptv/stream/{media_id}`: its input and media info
/// (the timing fields are zero). `None` when there is no such item.
pub async fn media_programme(db: &Db, media_id: i64) -> Result<Option<Programme>, DbError> {
    db.read(move |conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT 0, mi.id, mi.title, 0, 0, 0, NULL, mi.source, mi.url, mi.path_bytes,
                    mi.is_missing, mi.duration_ms, mi.container, mi.video_codec, mi.width,
                    mi.height, mi.frame_rate, mi.field_order, mi.audio_codec, mi.audio_channels,
                    mi.audio_sample_rate
             FROM media_items mi WHERE mi.id = ?1",
        )?;
        optional(stmt.query_row([media_id], programme_from_row))
    })
    .await
}
