//! `/api/ffmpeg-profiles`: the output formats a channel streams in (sizes: `api::resolutions`).
//! A channel without a profile uses the default one; the first start seeds a default that
//! fits the board (its encoder, 720p30), so what streams by default is what the board can
//! encode in real time.

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use serde_json::json;

use super::columns::{
    self, body_object, col, one_of, opt, read, write_tx, Column, Kind, SqlResult, ID,
};
use crate::app::App;
use crate::board::Board;
use crate::db::{Db, DbError};
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::time::now_ms;

pub const COLUMNS: &[Column] = &[
    col("name", Kind::Name),
    col("resolution_id", ID),
    col("thread_count", Kind::Int { min: 0, max: 64 }),
    col(
        "hardware_acceleration",
        one_of::<crate::kinds::HardwareAcceleration>(),
    ),
    col("video_codec", Kind::Name),
    col("video_bitrate", Kind::Name),
    col("video_buffer_size", Kind::Name),
    col("framerate", Kind::Int { min: 1, max: 120 }),
    col("quality_preset", Kind::Name),
    opt("quality_crf", Kind::Int { min: 0, max: 63 }),
    col("audio_codec", Kind::Name),
    col("audio_bitrate", Kind::Name),
    col("audio_channels", Kind::Int { min: 1, max: 8 }),
    col(
        "audio_sample_rate",
        Kind::Int {
            min: 8_000,
            max: 192_000,
        },
    ),
    col("normalize_audio", Kind::Bool),
    col("audio_loudness_target", Kind::Float),
    col("deinterlace", Kind::Bool),
    col("scaling_mode", one_of::<crate::kinds::ScalingMode>()),
    opt("pad_color", Kind::Text),
    col("is_default", Kind::Bool),
    col("is_enabled", Kind::Bool),
];

/// The built-in 1280x720 row (schema.sql).
const RES_720P: i64 = 2;

/// Seeds the default profile on a database with none: the board's encoder at 720p30, with
/// the same settings as `scheduler::cursor::OutputProfile::default()` otherwise.
pub fn ensure_default(db: &Db, board: &Board) -> Result<bool, DbError> {
    let (codec, hwaccel) = match board.encoder.as_str() {
        "h264_v4l2m2m" => ("h264_v4l2m2m", "v4l2m2m"),
        "h264_vaapi" => ("h264_vaapi", "vaapi"),
        _ => ("libx264", "auto"),
    };
    let name = format!("Default ({})", board.name);
    db.write_blocking(move |conn| {
        let tx = conn.transaction()?;
        let n: i64 = tx.query_row("SELECT count(*) FROM ffmpeg_profiles", [], |r| r.get(0))?;
        if n > 0 {
            return Ok(false);
        }
        let now = now_ms();
        tx.execute(
            "INSERT INTO ffmpeg_profiles (name, resolution_id, hardware_acceleration, video_codec,
                 video_bitrate, video_buffer_size, framerate, quality_preset, audio_codec,
                 audio_bitrate, audio_channels, audio_sample_rate, normalize_audio, deinterlace,
                 scaling_mode, is_default, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, '4000k', '8000k', 30, 'veryfast', 'aac', '128k', 2, 48000,
                 0, 0, 'pad', 1, ?5, ?5)",
            params![name, RES_720P, hwaccel, codec, now],
        )?;
        tx.commit()?;
        Ok(true)
    })
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => match req.verb() {
            Verb::Get => {
                let list = read(app, |conn| {
                    columns::list(conn, "ffmpeg_profiles", COLUMNS, "id")
                })
                .await?;
                Ok(body::ok_json(&list))
            }
            Verb::Post => {
                let body = body_object(req).await?;
                columns::require(&body, &["name", "resolution_id"])?;
                let values = columns::changes(COLUMNS, &body)?;
                let (id, doc) = write_tx(app, move |tx| {
                    check_profile(tx, &values, 0)?;
                    let id = columns::insert(tx, "ffmpeg_profiles", &values, now_ms()).api()?;
                    if columns::int_value(&values, "is_default") == Some(1) {
                        make_default(tx, id)?;
                    }
                    let doc = columns::get(tx, "ffmpeg_profiles", COLUMNS, id)?
                        .ok_or_else(profile_not_found)?;
                    Ok((id, doc))
                })
                .await?;
                app.content_changed();
                Ok(body::created(id, &doc))
            }
            _ => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        },
        ["hardware-acceleration", "available"] => {
            router::only_get(req)?;
            Ok(body::ok_json(
                &json!({ "available": available_hwaccel(&app.board) }),
            ))
        }
        [id] => {
            let id = router::id(id)?;
            match req.verb() {
                Verb::Get => {
                    let doc = read(app, move |conn| {
                        columns::get(conn, "ffmpeg_profiles", COLUMNS, id)
                    })
                    .await?;
                    Ok(body::ok_json(&doc.ok_or_else(profile_not_found)?))
                }
                Verb::Put | Verb::Patch => {
                    let body = body_object(req).await?;
                    let values = columns::changes(COLUMNS, &body)?;
                    let doc = write_tx(app, move |tx| {
                        if !columns::exists(tx, "ffmpeg_profiles", id)? {
                            return Err(profile_not_found());
                        }
                        check_profile(tx, &values, id)?;
                        columns::update(tx, "ffmpeg_profiles", id, &values, now_ms()).api()?;
                        if columns::int_value(&values, "is_default") == Some(1) {
                            make_default(tx, id)?;
                        }
                        columns::get(tx, "ffmpeg_profiles", COLUMNS, id)?
                            .ok_or_else(profile_not_found)
                    })
                    .await?;
                    app.content_changed();
                    Ok(body::ok_json(&doc))
                }
                Verb::Delete => {
                    write_tx(app, move |tx| {
                        if !columns::exists(tx, "ffmpeg_profiles", id)? {
                            return Err(profile_not_found());
                        }
                        let user: Option<(String, String)> = tx
                            .query_row(
                                "SELECT number, name FROM channels WHERE ffmpeg_profile_id = ?1
                                 ORDER BY id LIMIT 1",
                                [id],
                                |r| Ok((r.get(0)?, r.get(1)?)),
                            )
                            .optional()
                            .api()?;
                        if let Some((number, name)) = user {
                            return Err(ApiError::conflict(format_args!(
                                "the profile is used by channel {number} ({name})"
                            )));
                        }
                        tx.execute("DELETE FROM ffmpeg_profiles WHERE id = ?1", [id])
                            .api()?;
                        Ok(())
                    })
                    .await?;
                    app.content_changed();
                    Ok(body::no_content())
                }
                _ => Err(ApiError::method_not_allowed(
                    "GET, HEAD, PUT, PATCH, DELETE",
                )),
            }
        }
        [id, "set-default"] => {
            if req.verb() != Verb::Post {
                return Err(ApiError::method_not_allowed("POST"));
            }
            let id = router::id(id)?;
            let doc = write_tx(app, move |tx| {
                if !columns::exists(tx, "ffmpeg_profiles", id)? {
                    return Err(profile_not_found());
                }
                make_default(tx, id)?;
                columns::get(tx, "ffmpeg_profiles", COLUMNS, id)?.ok_or_else(profile_not_found)
            })
            .await?;
            app.content_changed();
            Ok(body::ok_json(&doc))
        }
        _ => Err(router::not_found()),
    }
}

fn profile_not_found() -> ApiError {
    ApiError::not_found("ffmpeg profile not found")
}

/// The encoders this host can use: always "none" (software), plus the board's hardware
/// path when its device node is present.
fn available_hwaccel(board: &Board) -> Vec<&'static str> {
    let mut out = vec!["none", "auto"];
    if std::path::Path::new("/dev/dri/renderD128").exists() {
        out.push("vaapi");
    }
    if board.encoder == "h264_v4l2m2m" || std::path::Path::new("/dev/video11").exists() {
        out.push("v4l2m2m");
    }
    out
}

fn check_profile(
    tx: &rusqlite::Connection,
    values: &[(&'static Column, rusqlite::types::Value)],
    self_id: i64,
) -> Result<(), ApiError> {
    columns::check_ref(tx, values, "resolution_id", "resolutions", "resolution")?;
    if let Some(name) = columns::text_value(values, "name") {
        let taken: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM ffmpeg_profiles WHERE name = ?1 AND id != ?2)",
                params![name, self_id],
                |r| r.get(0),
            )
            .api()?;
        if taken {
            return Err(ApiError::conflict(format_args!(
                "a profile named {name:?} exists"
            )));
        }
    }
    Ok(())
}

fn make_default(tx: &rusqlite::Connection, id: i64) -> Result<(), ApiError> {
    tx.execute(
        "UPDATE ffmpeg_profiles SET is_default = (id = ?1), updated_at_ms = ?2
         WHERE is_default != (id = ?1)",
        params![id, now_ms()],
    )
    .api()?;
    Ok(())
}
