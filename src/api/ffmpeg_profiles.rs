//! `/api/ffmpeg-profiles`: the output formats a channel streams in (sizes: `api::resolutions`),
//! as JSON. A channel without a profile uses the default one; the writes, and the default
//! the first start seeds for the board, are `ops::profiles`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::columns::{self, body_object, col, one_of, opt, read, write_tx, Column, Kind, ID};
use crate::app::App;
use crate::board::Board;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    ids::ResolutionId,
    profiles::{ProfileId, ProfilePatch},
};
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

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        ["hardware-acceleration", "available"] => {
            router::only_get(req)?;
            Ok(body::ok_json(
                &json!({ "available": available_hwaccel(&app.board) }),
            ))
        }
        [id] => {
            let id = ProfileId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let doc = read(app, move |conn| rendered(conn, id)).await?;
                    Ok(body::ok_json(&doc))
                },
                Put | Patch => update(app, req, id).await,
                Delete => delete(app, id).await,
            })
        }
        [id, "set-default"] => {
            router::only(req, Verb::Post)?;
            set_default(app, ProfileId(router::id(id)?)).await
        }
        _ => Err(router::not_found()),
    }
}

async fn list(app: &Arc<App>) -> ApiResult {
    let list = read(app, |conn| {
        columns::list(conn, "ffmpeg_profiles", COLUMNS, "id")
    })
    .await?;
    Ok(body::ok_json(&list))
}

/// The body's fields, validated once (422 naming the field), as the operations take them.
fn patch_from(body: &Map<String, Value>) -> Result<ProfilePatch, ApiError> {
    let values = columns::changes(COLUMNS, body)?;
    Ok(ProfilePatch {
        name: columns::text_value(&values, "name").map(str::to_string),
        resolution_id: columns::int_value(&values, "resolution_id").map(ResolutionId),
        make_default: columns::int_value(&values, "is_default") == Some(1),
        values: columns::by_sql(&values),
    })
}

fn rendered(conn: &rusqlite::Connection, id: ProfileId) -> Result<Value, ApiError> {
    columns::get(conn, "ffmpeg_profiles", COLUMNS, id.0)?
        .ok_or_else(|| ApiError::not_found("ffmpeg profile not found"))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let body = body_object(req).await?;
    columns::require(&body, &["name", "resolution_id"])?;
    let patch = patch_from(&body)?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::profiles::create(tx, &patch, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: ProfileId) -> ApiResult {
    let patch = patch_from(&body_object(req).await?)?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::profiles::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: ProfileId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::profiles::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn set_default(app: &Arc<App>, id: ProfileId) -> ApiResult {
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::profiles::set_default(tx, id, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
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
