//! `/api/watermarks`: watermark CRUD and its image (`…/{id}/image`: POST a multipart `file`,
//! a PNG of at most 2 MiB, else 415/413; GET serves it; DELETE removes it). A watermark
//! renders with `image` as the URL of that GET, never the bytes. The writes are
//! `ops::watermarks`.

use std::sync::Arc;

use hyper::StatusCode;
use rusqlite::Connection;

use super::tx::{read, write_tx};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::watermarks::{self as ops, WatermarkPatch, MAX_IMAGE_BYTES};
use crate::time::now_ms;

/// A multipart body's headers and boundaries around the file: far less than this.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| watermark(conn, id)).await?)),
                Put | Patch => update(app, req, id).await,
                Delete => {
                    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        [id, "image"] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => image(app, id).await,
                Post => upload(app, req, id).await,
                Delete => {
                    let changes =
                        write_tx(app, move |tx| Ok(ops::clear_image(tx, id, now_ms())?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        _ => Err(router::not_found()),
    }
}

row_view! {
    /// A watermark as `/api/watermarks` sends it.
    pub struct WatermarkView {
        id: i64,
        name: String,
        mode: String,
        image_source: String,
        location: String,
        size: String,
        width_percent: f64,
        horizontal_margin_percent: f64,
        vertical_margin_percent: f64,
        frequency_minutes: i64,
        duration_seconds: i64,
        opacity: i64,
        place_within_source_content: bool,
        opacity_expression: Option<String>,
        z_index: i64,
        image = "CASE WHEN image IS NULL THEN NULL ELSE '/api/watermarks/' || id || '/image' END":
            Option<String>,
        original_content_type: Option<String>,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

fn watermark(conn: &Connection, id: i64) -> Result<WatermarkView, ApiError> {
    view::get(conn, "watermarks", id)?.ok_or_else(|| ApiError::not_found("watermark not found"))
}

async fn list(app: &Arc<App>) -> ApiResult {
    let list = read(app, |conn| {
        Ok(view::list::<WatermarkView>(
            conn,
            "watermarks ORDER BY lower(name), id",
            [],
        )?)
    })
    .await?;
    Ok(body::ok_json(&list))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: WatermarkPatch = req.params_requiring(&["name"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &patch, now_ms())?;
        Ok((id, watermark(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: WatermarkPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        Ok((watermark(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// Stores the uploaded PNG in the row, then writes its cache file for FFmpeg.
async fn upload(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    read(app, move |conn| watermark(conn, id)).await?;
    let content_type = req
        .header(hyper::header::CONTENT_TYPE)
        .unwrap_or("")
        .to_string();
    let bytes = req.body_bytes(MAX_IMAGE_BYTES + MULTIPART_OVERHEAD).await?;
    let png = crate::http::multipart::part(&content_type, &bytes, "file")?;
    if png.len() > MAX_IMAGE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format_args!("file: larger than {MAX_IMAGE_BYTES} bytes"),
        ));
    }
    ops::check_png(png)?;
    let png = bytes.slice_ref(png);
    let stored = png.clone();
    let (sha, doc, changes) = write_tx(app, move |tx| {
        let (sha, changes) = ops::set_image(tx, id, &stored, now_ms())?;
        Ok((sha, watermark(tx, id)?, changes))
    })
    .await?;
    let data_dir = app.config.data_dir.clone();
    // The cache is rewritten when missing at stream time too: a failure here is logged only.
    let cached = tokio::task::spawn_blocking(move || ops::cache_png(&data_dir, &sha, &png)).await;
    if let Ok(Err(err)) = cached {
        tracing::warn!(watermark = id, %err, "cannot write the watermark's cache file");
    }
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// `GET …/{id}/image`: the stored PNG.
async fn image(app: &Arc<App>, id: i64) -> ApiResult {
    let stored = read(app, move |conn| Ok(ops::image(conn, id)?)).await?;
    match stored {
        Some((png, _)) => Ok(body::bytes("image/png", png.into())),
        None => Err(ApiError::not_found("the watermark has no image")),
    }
}
