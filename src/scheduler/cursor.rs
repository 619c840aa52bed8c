//! What the streaming engine and the guide read: the stored playout items of a channel from
//! a moment on, resolved to something FFmpeg can play (`Input`). This is the one place that
//! turns playout rows into programmes, so what the guide lists is what plays. It also
//! chooses each programme's audio track from the streams the scanner stored (`audio`), so
//! nothing is probed at play time.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rusqlite::{params, Row};
use smol_str::SmolStr;

use crate::db::{optional, Db, DbError};
use crate::kinds::{
    CopyMode, MediaSource, WatermarkImageSource, WatermarkLocation, WatermarkMode, WatermarkSize,
};
use crate::library::probe::StoredStreams;
use crate::ops::ids::ChannelId;
use crate::time::UnixMs;

/// What FFmpeg reads for one programme.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A local file; the path keeps its raw bytes (names need not be UTF-8).
    File(PathBuf),
    /// Media FFmpeg synthesises itself (`generated://demo/N`, see `firstrun`).
    Generated(String),
    /// A remote URL (Plex, Jellyfin, a file over HTTP, ...).
    Url(String),
    /// A live stream, relayed: read from where it is now, never seeked.
    Live(String),
    /// A YouTube or archive.org page: yt-dlp gives the direct URL when it plays
    /// (`App::resolve_page`), and that `Url` is what FFmpeg reads.
    Page(String),
    /// Nothing to play: the slate ("Offline", or a missing media item).
    Offline,
}

/// What the scanner learnt of the media, for choosing copy vs transcode. The audio fields
/// describe the audio stream chosen for the programme (`audio_nth`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaInfo {
    pub duration_ms: Option<i64>,
    pub container: Option<SmolStr>,
    pub video_codec: Option<SmolStr>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f64>,
    pub field_order: Option<SmolStr>,
    /// H.264's profile ("High"), level × 10 and pixel format, when the streams were stored.
    pub video_profile: Option<SmolStr>,
    pub video_level: Option<i32>,
    pub pix_fmt: Option<SmolStr>,
    pub audio_codec: Option<SmolStr>,
    pub audio_channels: Option<u32>,
    pub audio_sample_rate: Option<u32>,
    /// The audio stream that plays, among the file's audio streams (FFmpeg's `0:a:N`).
    pub audio_nth: u32,
}

/// Which audio stream a programme prefers: its schedule item's choice, else its channel's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioPreference<'a> {
    /// ISO 639-1 or -2 (B or T): `de`, `deu` and `ger` are the same language.
    pub language: Option<&'a str>,
    /// A substring of the stream's title, case-insensitive.
    pub title: Option<&'a str>,
}

/// The audio stream `pref` picks: among those of its language (all when none is), those
/// whose title holds its title (all when none does); of these the one marked default, else
/// the first. `None` when there is no audio stream.
pub fn choose_audio<'s>(
    streams: &'s [AudioStream],
    pref: &AudioPreference<'_>,
) -> Option<&'s AudioStream> {
    let narrow = |from: Vec<&'s AudioStream>, keep: &dyn Fn(&AudioStream) -> bool| {
        let kept: Vec<&'s AudioStream> = from.iter().copied().filter(|s| keep(s)).collect();
        if kept.is_empty() {
            from
        } else {
            kept
        }
    };
    let all: Vec<&AudioStream> = streams.iter().collect();
    let by_language = match pref.language.filter(|l| !l.trim().is_empty()) {
        Some(lang) => narrow(all, &|s| {
            s.language
                .as_deref()
                .is_some_and(|l| same_language(l, lang))
        }),
        None => all,
    };
    let by_title = match pref.title.filter(|t| !t.trim().is_empty()) {
        Some(title) => {
            let title = title.trim().to_lowercase();
            narrow(by_language, &|s| {
                s.title
                    .as_deref()
                    .is_some_and(|t| t.to_lowercase().contains(&title))
            })
        }
        None => by_language,
    };
    by_title
        .iter()
        .copied()
        .find(|s| s.is_default)
        .or_else(|| by_title.first().copied())
}

pub use crate::library::probe::AudioStream;

/// ISO 639-1 codes with their 639-2 bibliographic and terminology codes (the same when
/// they agree): every B/T pair, and the languages libraries commonly tag.
const LANGUAGES: &[(&str, &str, &str)] = &[
    ("ar", "ara", "ara"),
    ("bg", "bul", "bul"),
    ("bo", "tib", "bod"),
    ("ca", "cat", "cat"),
    ("cs", "cze", "ces"),
    ("cy", "wel", "cym"),
    ("da", "dan", "dan"),
    ("de", "ger", "deu"),
    ("el", "gre", "ell"),
    ("en", "eng", "eng"),
    ("es", "spa", "spa"),
    ("et", "est", "est"),
    ("eu", "baq", "eus"),
    ("fa", "per", "fas"),
    ("fi", "fin", "fin"),
    ("fr", "fre", "fra"),
    ("ga", "gle", "gle"),
    ("he", "heb", "heb"),
    ("hi", "hin", "hin"),
    ("hr", "hrv", "hrv"),
    ("hu", "hun", "hun"),
    ("hy", "arm", "hye"),
    ("id", "ind", "ind"),
    ("is", "ice", "isl"),
    ("it", "ita", "ita"),
    ("ja", "jpn", "jpn"),
    ("ka", "geo", "kat"),
    ("ko", "kor", "kor"),
    ("lt", "lit", "lit"),
    ("lv", "lav", "lav"),
    ("mi", "mao", "mri"),
    ("mk", "mac", "mkd"),
    ("ms", "may", "msa"),
    ("my", "bur", "mya"),
    ("nl", "dut", "nld"),
    ("no", "nor", "nor"),
    ("nb", "nob", "nob"),
    ("nn", "nno", "nno"),
    ("pl", "pol", "pol"),
    ("pt", "por", "por"),
    ("ro", "rum", "ron"),
    ("ru", "rus", "rus"),
    ("sk", "slo", "slk"),
    ("sl", "slv", "slv"),
    ("sq", "alb", "sqi"),
    ("sr", "srp", "srp"),
    ("sv", "swe", "swe"),
    ("th", "tha", "tha"),
    ("tr", "tur", "tur"),
    ("uk", "ukr", "ukr"),
    ("vi", "vie", "vie"),
    ("zh", "chi", "zho"),
];

/// Whether two language tags name the same language, whatever ISO 639 form each uses
/// (`de`, `ger`, `deu`; case and a region suffix such as `de-AT` aside).
pub fn same_language(a: &str, b: &str) -> bool {
    let key = |tag: &str| -> Option<usize> {
        let tag = tag.trim();
        let base = tag.split(['-', '_']).next().unwrap_or(tag);
        LANGUAGES.iter().position(|(one, b, t)| {
            [one, b, t]
                .iter()
                .any(|code| code.eq_ignore_ascii_case(base))
        })
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x == y,
        // A language outside the table matches only itself.
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
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
    /// The watermark drawn over it, by precedence (the last of `PROGRAMME_COLUMNS`).
    pub watermark_id: Option<i64>,
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
    /// The integrated loudness (LUFS) `normalize_audio` brings the audio to.
    pub audio_loudness_target: f64,
    pub deinterlace: bool,
    pub scaling_mode: SmolStr,
    pub copy_mode: CopyMode,
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
            audio_loudness_target: -24.0,
            deinterlace: false,
            scaling_mode: "pad".into(),
            copy_mode: CopyMode::Passthrough,
        }
    }
}

/// The last column is the programme's watermark, by precedence (issue 15): its block item's
/// "disable watermarks" (`watermark_off`), then the channel's deco (`disable`, or `override`
/// with its own), then the channel's `watermark_id`, then none.
const PROGRAMME_COLUMNS: &str =
    "pi.id, pi.media_item_id, pi.title, pi.start_ms, pi.finish_ms, pi.in_point_ms,
    pi.filler_kind, mi.source, mi.url, mi.path_bytes, mi.is_missing, mi.duration_ms, mi.container,
    mi.video_codec, mi.width, mi.height, mi.frame_rate, mi.field_order, mi.audio_codec,
    mi.audio_channels, mi.audio_sample_rate, mi.streams,
    coalesce(si.preferred_audio_language, c.preferred_audio_language_code),
    coalesce(si.preferred_audio_title, c.preferred_audio_title),
    CASE WHEN pi.watermark_off = 1 OR cd.watermark_mode = 'disable' THEN NULL
         WHEN cd.watermark_mode = 'override' THEN cd.watermark_id
         ELSE c.watermark_id END";

/// The schedule item a programme came from, for its audio preference: the first (by
/// position) of the playout's schedule that sets one and whose content holds the media.
/// Items do not store their schedule item, so a media item in two such schedule items
/// takes the first one's preference. Filler keeps the channel's preference.
const SCHEDULE_ITEM_OF_PROGRAMME: &str = "
    SELECT s.id FROM schedule_items s
    WHERE pi.filler_kind IS NULL
      AND s.schedule_id = p.program_schedule_id
      AND (s.preferred_audio_language IS NOT NULL OR s.preferred_audio_title IS NOT NULL)
      AND (s.media_item_id = pi.media_item_id
        OR (s.collection_type NOT IN ('multi_collection', 'playlist', 'media_item')
            AND s.collection_id IN (SELECT collection_id FROM collection_items
                                    WHERE media_item_id = pi.media_item_id))
        OR (s.collection_type = 'multi_collection'
            AND s.collection_id IN (SELECT l.multi_collection_id FROM multi_collection_links l
                                    JOIN collection_items ci ON ci.collection_id = l.collection_id
                                    WHERE ci.media_item_id = pi.media_item_id))
        OR (s.collection_type = 'playlist'
            AND coalesce(s.playlist_id, s.collection_id) IN (
                SELECT pl.playlist_id FROM playlist_items pl
                LEFT JOIN collection_items ci ON ci.collection_id = pl.collection_id
                WHERE coalesce(pl.media_item_id, ci.media_item_id) = pi.media_item_id)))
    ORDER BY s.position, s.id LIMIT 1";

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
             JOIN channels c ON c.id = p.channel_id
             LEFT JOIN media_items mi ON mi.id = pi.media_item_id
             LEFT JOIN channel_deco cd ON cd.channel_id = c.id
             LEFT JOIN schedule_items si ON si.id = ({SCHEDULE_ITEM_OF_PROGRAMME})
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

/// A server's item: its local file when a path replacement found one, else our signed
/// loopback proxy (no token in the URL; `iptv::remote`).
fn remote_input(media_id: Option<i64>, path_bytes: Option<Vec<u8>>) -> Input {
    match path_bytes {
        Some(bytes) => Input::File(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes))),
        None => media_id
            .and_then(|id| crate::library::remote::sign::url(id, crate::time::now_ms()))
            .map_or(Input::Offline, Input::Url),
    }
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
        (Some(MediaSource::Plex | MediaSource::Jellyfin | MediaSource::Emby), _, bytes) => {
            remote_input(row.get(1)?, bytes)
        }
        (Some(MediaSource::Live), Some(url), _) => Input::Live(url),
        (Some(MediaSource::Youtube | MediaSource::ArchiveOrg), Some(url), _) => Input::Page(url),
        (Some(_), Some(url), _) => Input::Url(url),
        (Some(_), None, _) => Input::Offline,
    };
    let small = |i: usize| -> rusqlite::Result<Option<SmolStr>> {
        Ok(row.get::<_, Option<String>>(i)?.map(SmolStr::from))
    };
    let mut media = MediaInfo {
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
        ..MediaInfo::default()
    };
    if let Some(json) = row.get::<_, Option<String>>(21)? {
        let language: Option<String> = row.get(22)?;
        let title: Option<String> = row.get(23)?;
        let pref = AudioPreference {
            language: language.as_deref(),
            title: title.as_deref(),
        };
        apply_streams(&mut media, &StoredStreams::parse(&json), &pref);
    }
    Ok(Programme {
        item_id: row.get(0)?,
        media_id: row.get(1)?,
        title: row.get(2)?,
        start_ms: row.get(3)?,
        finish_ms: row.get(4)?,
        in_point_ms: row.get(5)?,
        filler_kind: small(6)?,
        input,
        media,
        watermark_id: row.get(24)?,
    })
}

/// The stored streams' video facts, and the audio stream `pref` chooses in place of the
/// first one the summary columns describe.
fn apply_streams(media: &mut MediaInfo, streams: &StoredStreams, pref: &AudioPreference<'_>) {
    if let Some(video) = &streams.video {
        media.video_profile = video.profile.clone();
        media.video_level = video.level;
        media.pix_fmt = video.pix_fmt.clone();
    }
    if let Some(audio) = choose_audio(&streams.audio, pref) {
        media.audio_nth = audio.nth;
        media.audio_codec = audio.codec.clone();
        media.audio_channels = audio.channels;
        media.audio_sample_rate = audio.sample_rate;
    }
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
                    f.audio_channels, f.audio_sample_rate, f.normalize_audio, f.deinterlace, f.scaling_mode,
                    f.copy_mode, f.audio_loudness_target
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
                audio_loudness_target: row.get(16)?,
                deinterlace: row.get(13)?,
                scaling_mode: s(14)?,
                copy_mode: row.get::<_, String>(15)?.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(15, rusqlite::types::Type::Text, Box::new(e))
                })?,
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
                    mi.audio_sample_rate, mi.streams, NULL, NULL, NULL
             FROM media_items mi WHERE mi.id = ?1",
        )?;
        optional(stmt.query_row([media_id], programme_from_row))
    })
    .await
}

/// A watermark as FFmpeg draws it (`stream::ffmpeg` renders the overlay from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    /// The PNG FFmpeg reads.
    pub png: PathBuf,
    pub location: WatermarkLocation,
    /// Of the frame's (or content's) width; `None` draws the image at its own size.
    pub width_percent: Option<f64>,
    pub horizontal_margin_percent: f64,
    pub vertical_margin_percent: f64,
    /// 0 (invisible) to 100 (opaque).
    pub opacity: u8,
    /// Intermittent: shown `(for_s)` seconds of every `(every_s)`, the cycle anchored to
    /// the wall clock.
    pub every: Option<(u32, u32)>,
    /// Placed relative to the picture inside any letterbox, not the whole frame.
    pub within_content: bool,
    /// Seconds into the intermittent cycle at the run's first frame (set by the feeder).
    pub phase_s: u32,
}

/// The watermark `id` as channel `channel` draws it, with its image in the cache (written
/// there from the row when missing); `None` when it is off (`mode` none), has no image, or
/// is gone.
pub async fn watermark(
    db: &Db,
    data_dir: PathBuf,
    id: i64,
    channel: ChannelId,
) -> Result<Option<Watermark>, DbError> {
    db.read(move |conn| {
        let row = conn
            .prepare_cached(
                "SELECT mode, image_source, location, size, width_percent,
                        horizontal_margin_percent, vertical_margin_percent, frequency_minutes,
                        duration_seconds, opacity, place_within_source_content, image_sha256
                 FROM watermarks WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                    (r.get::<_, String>(2)?, r.get::<_, String>(3)?),
                    (
                        r.get::<_, f64>(4)?,
                        r.get::<_, f64>(5)?,
                        r.get::<_, f64>(6)?,
                    ),
                    (
                        r.get::<_, i64>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, i64>(9)?,
                    ),
                    (r.get::<_, bool>(10)?, r.get::<_, Option<String>>(11)?),
                ))
            });
        let Some((modes, place, percents, timing, (within, sha))) = optional(row)? else {
            return Ok(None);
        };
        let decoded = (
            modes.0.parse::<WatermarkMode>(),
            modes.1.parse::<WatermarkImageSource>(),
            place.0.parse::<WatermarkLocation>(),
            place.1.parse::<WatermarkSize>(),
        );
        let (Ok(mode), Ok(source), Ok(location), Ok(size)) = decoded else {
            tracing::warn!(watermark = id, "watermark row unreadable; none drawn");
            return Ok(None);
        };
        let png = match source {
            WatermarkImageSource::Custom => cached_png(conn, &data_dir, id, sha)?,
            WatermarkImageSource::ChannelLogo => Some(
                data_dir
                    .join("channel_icons")
                    .join(format!("channel_{channel}.png")),
            )
            .filter(|path| path.exists()),
        };
        let (Some(png), false) = (png, mode == WatermarkMode::None) else {
            return Ok(None);
        };
        let (every_minutes, for_s, opacity) = timing;
        Ok(Some(Watermark {
            png,
            location,
            width_percent: (size == WatermarkSize::Scaled).then_some(percents.0),
            horizontal_margin_percent: percents.1,
            vertical_margin_percent: percents.2,
            opacity: opacity.clamp(0, 100) as u8,
            every: (mode == WatermarkMode::Intermittent)
                .then_some(((every_minutes * 60) as u32, for_s as u32)),
            within_content: within,
            phase_s: 0,
        }))
    })
    .await
}

/// The cache file of the watermark's image, written from the row when it is missing (a
/// wiped cache, a restored backup). Blocking, on the reader: a small file, rarely.
fn cached_png(
    conn: &rusqlite::Connection,
    data_dir: &std::path::Path,
    id: i64,
    sha: Option<String>,
) -> Result<Option<PathBuf>, DbError> {
    let Some(sha) = sha else {
        return Ok(None);
    };
    let path = crate::ops::watermarks::cache_path(data_dir, &sha);
    if path.exists() {
        return Ok(Some(path));
    }
    let png: Option<Vec<u8>> =
        conn.query_row("SELECT image FROM watermarks WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
    let Some(png) = png else {
        return Ok(None);
    };
    match crate::ops::watermarks::cache_png(data_dir, &sha, &png) {
        Ok(path) => Ok(Some(path)),
        Err(err) => {
            tracing::warn!(watermark = id, %err, "cannot write the watermark's cache file; none drawn");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(nth: u32, language: Option<&str>, title: Option<&str>, default: bool) -> AudioStream {
        AudioStream {
            nth,
            codec: Some("aac".into()),
            language: language.map(SmolStr::from),
            title: title.map(SmolStr::from),
            is_default: default,
            ..AudioStream::default()
        }
    }

    fn pick(streams: &[AudioStream], language: Option<&str>, title: Option<&str>) -> Option<u32> {
        choose_audio(streams, &AudioPreference { language, title }).map(|s| s.nth)
    }

    #[test]
    fn languages_match_in_every_iso_639_form() {
        for (a, b) in [
            ("de", "deu"),
            ("de", "ger"),
            ("GER", "deu"),
            ("de-AT", "deu"),
            ("fr", "fre"),
        ] {
            assert!(same_language(a, b), "{a} {b}");
        }
        assert!(!same_language("de", "eng"));
        assert!(same_language("xx", "XX"));
        assert!(!same_language("xx", "de"));
    }

    #[test]
    fn the_audio_stream_is_chosen_by_language_then_title_then_default() {
        let streams = [
            stream(0, Some("eng"), Some("English"), true),
            stream(1, Some("ger"), Some("Deutsch"), false),
            stream(2, Some("deu"), Some("Kommentar"), false),
        ];
        assert_eq!(pick(&streams, None, None), Some(0));
        assert_eq!(pick(&streams, Some("de"), None), Some(1));
        assert_eq!(pick(&streams, Some("de"), Some("komm")), Some(2));
        // A title no stream has narrows nothing; a language none has neither.
        assert_eq!(pick(&streams, Some("de"), Some("nope")), Some(1));
        assert_eq!(pick(&streams, Some("ja"), None), Some(0));
        assert_eq!(pick(&streams, None, Some("Kommentar")), Some(2));
        // Eight untagged tracks, none default: the first.
        let plain: Vec<AudioStream> = (0..8).map(|n| stream(n, None, None, false)).collect();
        assert_eq!(pick(&plain, Some("de"), None), Some(0));
        assert_eq!(pick(&[], Some("de"), None), None);
    }
}
