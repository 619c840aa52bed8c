//! `/api/ffmpeg-profiles`: the output formats a channel streams in (sizes: `api::resolutions`),
//! as JSON. A channel without a profile uses the default one; the writes, and the default
//! the first start seeds for the board, are `ops::profiles`.

use std::sync::Arc;

use serde_json::json;

use super::tx::{read, write_tx};
use super::view::{self, row_view, Stamp};
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

row_view! {
    /// An FFmpeg profile as `/api/ffmpeg-profiles` sends it.
    pub struct ProfileView {
        id: ProfileId,
        name: String,
        resolution_id: ResolutionId,
        thread_count: i64,
        hardware_acceleration: String,
        video_codec: String,
        video_bitrate: String,
        video_buffer_size: String,
        framerate: i64,
        quality_preset: String,
        quality_crf: Option<i64>,
        audio_codec: String,
        audio_bitrate: String,
        audio_channels: i64,
        audio_sample_rate: i64,
        normalize_audio: bool,
        audio_loudness_target: f64,
        deinterlace: bool,
        scaling_mode: String,
        pad_color: Option<String>,
        is_default: bool,
        is_enabled: bool,
        copy_mode: String,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

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
        Ok(view::list::<ProfileView>(
            conn,
            "ffmpeg_profiles ORDER BY id",
            [],
        )?)
    })
    .await?;
    Ok(body::ok_json(&list))
}

fn rendered(conn: &rusqlite::Connection, id: ProfileId) -> Result<ProfileView, ApiError> {
    view::get(conn, "ffmpeg_profiles", id.0)?
        .ok_or_else(|| ApiError::not_found("ffmpeg profile not found"))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: ProfilePatch = req.params_requiring(&["name", "resolution_id"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::profiles::create(tx, &patch, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: ProfileId) -> ApiResult {
    let patch: ProfilePatch = req.params().await?;
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
