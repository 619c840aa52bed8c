//! The lineup every client document lists: the enabled channels, sorted by number, each with
//! what its output profile says (height, codecs). lineup.json, the M3U and the XMLTV read
//! this one query, so their ids and numbers agree by construction.

use std::cmp::Ordering;

use smol_str::SmolStr;

use crate::db::{Db, DbError};
use crate::kinds::is_channel_number;
use crate::ops::ids::ChannelId;

/// One enabled channel as the client documents show it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineupChannel {
    pub id: ChannelId,
    pub number: SmolStr,
    pub name: String,
    pub group: String,
    pub logo_path: Option<String>,
    pub logo_url: Option<String>,
    pub show_in_epg: bool,
    /// Output height of the channel's profile (the default profile's, else 720).
    pub height: u32,
    /// The profile's FFmpeg encoder name (`libx264`, `h264_vaapi`, `aac`, ...).
    pub video_encoder: SmolStr,
    pub audio_encoder: SmolStr,
}

impl LineupChannel {
    /// The XMLTV channel id and M3U `tvg-id`: stable across renumbering, and matching
    /// Plex's `^[-a-zA-Z0-9]+(\.[-a-zA-Z0-9]+)+$`.
    pub fn xmltv_id(&self) -> String {
        format!("exstream.{}", self.id)
    }

    /// The absolute logo URL: `logo_url` when it is http(s), else `<origin><logo_path>`.
    pub fn logo(&self, origin: &str) -> Option<String> {
        if let Some(url) = self.logo_url.as_deref().filter(|u| is_http_url(u)) {
            return Some(url.to_string());
        }
        let path = self.logo_path.as_deref().filter(|p| p.starts_with('/'))?;
        Some(format!("{origin}{path}"))
    }

    /// lineup.json's codec names (what Jellyfin reads to skip probing).
    pub fn video_codec(&self) -> &'static str {
        let e = self.video_encoder.as_str();
        if e.contains("265") || e.contains("hevc") {
            "HEVC"
        } else if e.contains("mpeg2") {
            "MPEG2"
        } else {
            "H264"
        }
    }

    pub fn audio_codec(&self) -> &'static str {
        let e = self.audio_encoder.as_str();
        if e.contains("ac3") {
            "AC3"
        } else if e.contains("mp2") || e.contains("mp3") {
            "MPEG"
        } else {
            "AAC"
        }
    }
}

pub fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Numeric order: 2 < 10, 5 < 5.1 < 5.2 < 5.10 < 6; malformed numbers last, by text.
pub fn cmp_numbers(a: &str, b: &str) -> Ordering {
    fn key(n: &str) -> Option<(u128, u128)> {
        if !is_channel_number(n) {
            return None;
        }
        let (major, minor) = n.split_once('.').unwrap_or((n, ""));
        let parse = |s: &str| -> Option<u128> {
            if s.is_empty() {
                Some(0)
            } else {
                s.trim_start_matches('0').parse().ok().or(Some(0))
            }
        };
        Some((parse(major)?, parse(minor)?))
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The enabled channels, sorted by number.
pub async fn enabled_channels(db: &Db) -> Result<Vec<LineupChannel>, DbError> {
    db.read(|conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT c.id, c.number, c.name, c.\"group\", c.logo_path, c.logo_url, c.show_in_epg,
                    COALESCE(r1.height, r2.height, 720),
                    COALESCE(f1.video_codec, f2.video_codec, 'libx264'),
                    COALESCE(f1.audio_codec, f2.audio_codec, 'aac')
             FROM channels c
             LEFT JOIN ffmpeg_profiles f1 ON f1.id = c.ffmpeg_profile_id
             LEFT JOIN resolutions r1 ON r1.id = f1.resolution_id
             LEFT JOIN ffmpeg_profiles f2 ON c.ffmpeg_profile_id IS NULL
                 AND f2.id = (SELECT id FROM ffmpeg_profiles WHERE is_default = 1 ORDER BY id LIMIT 1)
             LEFT JOIN resolutions r2 ON r2.id = f2.resolution_id
             WHERE c.enabled = 1",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LineupChannel {
                id: row.get(0)?,
                number: SmolStr::from(row.get::<_, String>(1)?),
                name: row.get(2)?,
                group: row.get(3)?,
                logo_path: row.get(4)?,
                logo_url: row.get(5)?,
                show_in_epg: row.get(6)?,
                height: row.get(7)?,
                video_encoder: SmolStr::from(row.get::<_, String>(8)?),
                audio_encoder: SmolStr::from(row.get::<_, String>(9)?),
            })
        })?;
        let mut channels = rows.collect::<Result<Vec<_>, _>>()?;
        channels.sort_by(|a, b| cmp_numbers(&a.number, &b.number));
        Ok(channels)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_numbers_sort_numerically() {
        let mut numbers = vec!["10", "5.10", "x", "2", "5.2", "5", "100", "5.1"];
        numbers.sort_by(|a, b| cmp_numbers(a, b));
        assert_eq!(numbers, ["2", "5", "5.1", "5.2", "5.10", "10", "100", "x"]);
    }

    #[test]
    fn codecs_and_logos() {
        let mut ch = LineupChannel {
            id: ChannelId(7),
            number: "7".into(),
            name: "x".into(),
            group: "General".into(),
            logo_path: Some("/static/channel_icons/channel_7.png".into()),
            logo_url: None,
            show_in_epg: true,
            height: 720,
            video_encoder: "h264_vaapi".into(),
            audio_encoder: "ac3".into(),
        };
        assert_eq!((ch.video_codec(), ch.audio_codec()), ("H264", "AC3"));
        assert_eq!(
            ch.logo("http://h:1").as_deref(),
            Some("http://h:1/static/channel_icons/channel_7.png")
        );
        ch.logo_url = Some("https://cdn/x.png".into());
        assert_eq!(ch.logo("http://h:1").as_deref(), Some("https://cdn/x.png"));
        ch.video_encoder = "libx265".into();
        assert_eq!(ch.video_codec(), "HEVC");
        assert_eq!(ch.xmltv_id(), "exstream.7");
    }
}
