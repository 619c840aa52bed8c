//! Watermark writes: the settings of a PNG drawn over the picture (where, how big, how
//! opaque, always or every N minutes for D seconds) and the PNG itself, stored in the row
//! (a backup stays one file) with its content type and SHA-256. FFmpeg reads a copy of the
//! image from the cache (`cache_png`), named by that hash, so a changed image is a new file
//! and a running stream never sees one half written. A watermark a channel, a channel's deco
//! or a schedule item names cannot be deleted. It knows no HTTP and no JSON.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::de::{self, Deserialize, Deserializer};

use super::fields::{patch, Flag, Int, Name, OneOf, Real, Text, ToColumn};
use super::readers;
use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{WatermarkImageSource, WatermarkLocation, WatermarkMode, WatermarkSize};
use crate::time::UnixMs;

/// The largest PNG accepted: a logo is a few KiB; 2 MiB holds a full-HD image with alpha
/// and keeps one upload from filling a small board's memory and its SD card.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// The largest width or height accepted in pixels: more than any output frame.
pub const MAX_IMAGE_SIDE: u32 = 4096;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A percentage, `0..=100`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Real(value) = Real::deserialize(d)?;
        if !(0.0..=100.0).contains(&value) {
            return Err(de::Error::custom("must be between 0 and 100"));
        }
        Ok(Percent(value))
    }
}

impl ToColumn for Percent {
    fn to_column(&self) -> rusqlite::types::Value {
        rusqlite::types::Value::Real(self.0)
    }
}

patch! {
    /// The fields a watermark write sends (the image has routes of its own).
    pub struct WatermarkPatch {
        name: Name,
        mode: OneOf<WatermarkMode>,
        image_source: OneOf<WatermarkImageSource>,
        location: OneOf<WatermarkLocation>,
        size: OneOf<WatermarkSize>,
        /// Of the output frame's width (or the content's, `place_within_source_content`).
        width_percent: Percent,
        horizontal_margin_percent: Percent,
        vertical_margin_percent: Percent,
        /// Intermittent: shown every this many minutes ...
        frequency_minutes: Int<1, 1440>,
        /// ... for this many seconds.
        duration_seconds: Int<1, 86_400>,
        opacity: Int<0, 100>,
        place_within_source_content: Flag,
        /// Kept for clients; not rendered (the opacity is `opacity`).
        opacity_expression: Option<Text>,
        z_index: Int<-1000, 1000>,
    }
}

/// Why a watermark write was refused.
#[derive(Debug)]
pub enum WatermarkError {
    NotFound,
    /// A channel, a channel's deco or a schedule item names it.
    InUse {
        what: &'static str,
    },
    /// The upload is not a PNG this server draws (415).
    NotPng(&'static str),
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for WatermarkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatermarkError::NotFound => f.write_str("watermark not found"),
            WatermarkError::InUse { what } => write!(f, "the watermark is in use by {what}"),
            WatermarkError::NotPng(why) => write!(f, "file: {why}"),
            WatermarkError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            WatermarkError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(WatermarkError);

pub fn create(
    tx: &Transaction<'_>,
    patch: &WatermarkPatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), WatermarkError> {
    let id = crate::db::row::insert(tx, "watermarks", &patch.values(), now_ms)?;
    check_row(tx, id)?;
    Ok((id, readers::unseen("watermark created")))
}

/// A partial update: the merged row is checked whole (an intermittent watermark shown
/// longer than its period is refused, whichever write made it so).
pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    patch: &WatermarkPatch,
    now_ms: UnixMs,
) -> Result<Changes, WatermarkError> {
    if !crate::db::row::update(tx, "watermarks", id, &patch.values(), now_ms)? {
        return Err(WatermarkError::NotFound);
    }
    check_row(tx, id)?;
    Ok(readers::unseen("watermark updated"))
}

fn check_row(conn: &Connection, id: i64) -> Result<(), WatermarkError> {
    let (mode, every_minutes, seconds): (String, i64, i64) = conn.query_row(
        "SELECT mode, frequency_minutes, duration_seconds FROM watermarks WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if mode == WatermarkMode::Intermittent.as_str() && seconds >= every_minutes * 60 {
        return Err(WatermarkError::Invalid {
            field: "duration_seconds",
            problem: "must be shorter than frequency_minutes when mode is intermittent".into(),
        });
    }
    Ok(())
}

/// Deletes a watermark nothing names.
pub fn delete(tx: &Transaction<'_>, id: i64) -> Result<Changes, WatermarkError> {
    let uses = [
        (
            "SELECT count(*) FROM channels WHERE watermark_id = ?1",
            "a channel",
        ),
        (
            "SELECT count(*) FROM channel_deco WHERE watermark_id = ?1",
            "a channel's deco",
        ),
        (
            "SELECT count(*) FROM schedule_items WHERE watermark_id = ?1",
            "a schedule item",
        ),
    ];
    for (sql, what) in uses {
        let n: i64 = tx.query_row(sql, [id], |r| r.get(0))?;
        if n > 0 {
            return Err(WatermarkError::InUse { what });
        }
    }
    match tx.execute("DELETE FROM watermarks WHERE id = ?1", [id])? {
        0 => Err(WatermarkError::NotFound),
        _ => Ok(readers::unseen("watermark deleted")),
    }
}

/// Stores `png` as the watermark's image, once `check_png` accepts it; returns its SHA-256
/// (the cache file's name).
pub fn set_image(
    tx: &Transaction<'_>,
    id: i64,
    png: &[u8],
    now_ms: UnixMs,
) -> Result<(String, Changes), WatermarkError> {
    check_png(png)?;
    let sha = crate::hash::hex_sha256(png);
    let n = tx.execute(
        "UPDATE watermarks SET image = ?1, image_sha256 = ?2, original_content_type = 'image/png',
             updated_at_ms = ?3 WHERE id = ?4",
        params![png, sha, now_ms, id],
    )?;
    if n == 0 {
        return Err(WatermarkError::NotFound);
    }
    Ok((sha, readers::unseen("watermark image set")))
}

pub fn clear_image(
    tx: &Transaction<'_>,
    id: i64,
    now_ms: UnixMs,
) -> Result<Changes, WatermarkError> {
    let n = tx.execute(
        "UPDATE watermarks SET image = NULL, image_sha256 = NULL, original_content_type = NULL,
             updated_at_ms = ?1 WHERE id = ?2",
        params![now_ms, id],
    )?;
    if n == 0 {
        return Err(WatermarkError::NotFound);
    }
    Ok(readers::unseen("watermark image removed"))
}

/// The stored image and its hash; `Ok(None)` when the watermark has none, `NotFound` when
/// there is no such watermark.
pub fn image(conn: &Connection, id: i64) -> Result<Option<(Vec<u8>, String)>, WatermarkError> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> = conn
        .query_row(
            "SELECT image, image_sha256 FROM watermarks WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Err(WatermarkError::NotFound),
        Some((Some(png), Some(sha))) => Ok(Some((png, sha))),
        Some(_) => Ok(None),
    }
}

/// A PNG by its signature and a well-formed IHDR first chunk (13 bytes: width, height, bit
/// depth, colour type, ...), of a size FFmpeg will draw. Anything else is refused before
/// it is stored, so FFmpeg never meets a file it cannot decode at a programme's start.
pub fn check_png(bytes: &[u8]) -> Result<(), WatermarkError> {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return Err(WatermarkError::NotPng("only PNG images are accepted"));
    }
    let ihdr = bytes
        .get(8..8 + 8 + 13)
        .filter(|chunk| chunk[..4] == [0, 0, 0, 13] && &chunk[4..8] == b"IHDR")
        .ok_or(WatermarkError::NotPng("the PNG has no IHDR header"))?;
    let side = |at: usize| u32::from_be_bytes([ihdr[at], ihdr[at + 1], ihdr[at + 2], ihdr[at + 3]]);
    let (width, height) = (side(8), side(12));
    if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(WatermarkError::NotPng(
            "the PNG must be 1 to 4096 pixels wide and high",
        ));
    }
    Ok(())
}

/// Where FFmpeg reads the image of hash `sha`: `DATA/cache/watermarks/<sha>.png`.
pub fn cache_path(data_dir: &Path, sha: &str) -> PathBuf {
    data_dir
        .join("cache")
        .join("watermarks")
        .join(format!("{sha}.png"))
}

/// Writes `png` to its cache file unless it is there already: to a temporary name, then
/// renamed, so a reader sees the whole file or none. Blocking (a small file, rarely).
pub fn cache_png(data_dir: &Path, sha: &str, png: &[u8]) -> std::io::Result<PathBuf> {
    let path = cache_path(data_dir, sha);
    if path.exists() {
        return Ok(path);
    }
    let dir = path.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{sha}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, png)?;
    std::fs::rename(&tmp, &path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = PNG_SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 13]);
        bytes.extend_from_slice(b"IHDR");
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
        bytes
    }

    #[test]
    fn only_a_png_with_a_sane_ihdr_is_accepted() {
        assert!(check_png(&png(64, 64)).is_ok());
        for bad in [
            b"GIF89a".to_vec(),
            PNG_SIGNATURE.to_vec(),
            png(0, 10),
            png(5000, 10),
            png(64, 64)[..20].to_vec(),
        ] {
            assert!(
                matches!(check_png(&bad), Err(WatermarkError::NotPng(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn percents_and_the_intermittent_period_are_checked() {
        let decode = |json: &str| {
            crate::http::request::parse_json::<WatermarkPatch>(json.as_bytes())
                .map_err(|e| e.detail)
        };
        assert_eq!(
            decode(r#"{"width_percent":101}"#).unwrap_err(),
            "width_percent: must be between 0 and 100"
        );
        assert_eq!(
            decode(r#"{"location":"left"}"#).unwrap_err(),
            "location: must be one of top_left, top_right, bottom_left, bottom_right, center"
        );
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        let patch = decode(
            r#"{"name":"Logo","mode":"intermittent","frequency_minutes":1,"duration_seconds":60}"#,
        )
        .unwrap();
        let err = create(&tx, &patch, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duration_seconds: must be shorter than frequency_minutes when mode is intermittent"
        );
        let (id, _) = create(&tx, &decode(r#"{"name":"Logo"}"#).unwrap(), 1).unwrap();
        tx.execute(
            "INSERT INTO channels (id, number, name, watermark_id, created_at_ms, updated_at_ms)
             VALUES (3, '3', 'Three', ?1, 1, 1)",
            [id],
        )
        .unwrap();
        assert!(matches!(
            delete(&tx, id),
            Err(WatermarkError::InUse { what: "a channel" })
        ));
    }
}
