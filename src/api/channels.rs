//! `/api/channels`: channel CRUD, the per-channel views of the stored timeline (schedule by
//! number, programming), playback position, filler, enable toggle, and icons (uploaded PNGs
//! in `DATA/channel_icons`, served open at `/static/channel_icons/{file}`).

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::playouts;
use super::tx::{read, write_tx, SqlResult};
use super::view::{self, row_view, RowView, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    channels::{ChannelId, ChannelPatch, FillerPatch, FillerRole, Position},
    fields::{Field, Int},
    ids::{MediaId, ProfileId},
};
use crate::time::{now_ms, rfc3339};

row_view! {
    /// A channel as `/api/channels` sends it.
    pub struct ChannelView {
        id: ChannelId,
        number: String,
        name: String,
        group = "\"group\"": String,
        enabled: bool,
        logo_path: Option<String>,
        logo_url: Option<String>,
        playout_mode: String,
        streaming_mode: String,
        transcode_mode: String,
        transcode_profile: Option<String>,
        ffmpeg_profile_id: Option<ProfileId>,
        watermark_id: Option<i64>,
        subtitle_mode: String,
        preferred_audio_language_code: Option<String>,
        preferred_audio_title: Option<String>,
        preferred_subtitle_language_code: Option<String>,
        stream_selector_mode: String,
        stream_selector: Option<String>,
        music_video_credits_mode: String,
        music_video_credits_template: Option<String>,
        song_video_mode: String,
        idle_behavior: String,
        playout_source: String,
        mirror_source_channel_id: Option<ChannelId>,
        playout_offset: Option<i64>,
        show_in_epg: bool,
        is_yaml_source: bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

/// A channel of the list, with whether it has something to play when the client asks
/// (`?include_content_status=true`).
#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    channel: ChannelView,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_content: Option<bool>,
}

/// `POST /api/channels/{id}/playback-position`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PositionBody {
    item_index: Field<Int<0, { i32::MAX as i64 }>>,
    media_id: Field<Option<MediaId>>,
}

/// The programme views take `?hours=`; a week is the most a horizon holds.
const MAX_VIEW_HOURS: i64 = 24 * 7;
/// Uploaded icons above this are refused (API.md: 8 MiB multipart).
const MAX_ICON_BODY: usize = 8 * 1024 * 1024;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        ["number", number] => {
            router::only_get(req)?;
            by_number_json(app, number).await
        }
        [number, "schedule"] => {
            router::only_get(req)?;
            schedule_by_number(app, req, number).await
        }
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&fetch(app, id).await?)),
                Put | Patch => update(app, req, id).await,
                Delete => delete(app, id).await,
            })
        }
        [id, "programming"] => {
            router::only_get(req)?;
            programming(app, req, router::id(id)?).await
        }
        [id, "playback-position"] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => position(app, id).await,
                Post => save_position(app, req, ChannelId(id)).await,
                Delete => clear_position(app, ChannelId(id)).await,
            })
        }
        [id, "icon"] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Post => upload_icon(app, req, id).await,
                Delete => delete_icon(app, ChannelId(id)).await,
            })
        }
        [id, "playouts"] => {
            router::only_get(req)?;
            let id = router::id(id)?;
            fetch(app, id).await?;
            let list = read(app, move |conn| playouts::list(conn, Some(id))).await?;
            Ok(body::ok_json(&list))
        }
        [id, "toggle-enabled"] => {
            router::only(req, Verb::Post)?;
            toggle_enabled(app, ChannelId(router::id(id)?)).await
        }
        [id, "filler"] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => {
                    let doc = read(app, move |conn| filler_json(conn, id)).await?;
                    Ok(body::ok_json(&doc))
                },
                Put | Patch => set_filler(app, req, ChannelId(id)).await,
            })
        }
        [id, "deco"] => super::deco::channel(app, req, ChannelId(router::id(id)?)).await,
        _ => Err(router::not_found()),
    }
}

async fn by_number_json(app: &Arc<App>, number: &str) -> ApiResult {
    let number = number.to_string();
    let found = read(app, move |conn| {
        let mut found = view::list::<ChannelView>(conn, "channels WHERE number = ?1", [&number])?;
        Ok(found.pop())
    })
    .await?;
    found
        .map(|c| body::ok_json(&c))
        .ok_or_else(|| ApiError::not_found("channel not found"))
}

async fn toggle_enabled(app: &Arc<App>, id: ChannelId) -> ApiResult {
    let (channel, changes) = write_tx(app, move |tx| {
        let changes = ops::channels::toggle_enabled(tx, id, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&channel))
}

/// (id, number, name, enabled) of the channel numbered `number`, if any.
pub fn by_number(
    conn: &rusqlite::Connection,
    number: &str,
) -> Result<Option<(i64, String, String, bool)>, ApiError> {
    conn.query_row(
        "SELECT id, number, name, enabled FROM channels WHERE number = ?1",
        [number],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .api()
}

/// One channel, `None` when absent.
pub fn get(conn: &rusqlite::Connection, id: ChannelId) -> Result<Option<ChannelView>, ApiError> {
    Ok(view::get(conn, "channels", id.0)?)
}

/// One channel as JSON, `None` when absent (`get`, for callers that want a `Value`).
pub fn get_json(conn: &rusqlite::Connection, id: i64) -> Result<Option<Value>, ApiError> {
    get(conn, ChannelId(id))?
        .map(|channel| serde_json::to_value(channel).map_err(ApiError::internal))
        .transpose()
}

async fn fetch(app: &Arc<App>, id: i64) -> Result<ChannelView, ApiError> {
    read(app, move |conn| get(conn, ChannelId(id)))
        .await?
        .ok_or_else(|| ApiError::not_found("channel not found"))
}

async fn list(app: &Arc<App>, req: &Req) -> ApiResult {
    let with_status = req
        .query("include_content_status")
        .is_some_and(|v| v != "false" && v != "0");
    let now = now_ms();
    let channels = read(app, move |conn| {
        let sql = format!(
            "SELECT {}, EXISTS (SELECT 1 FROM playout_items pi JOIN playouts p ON p.id = pi.playout_id
                 WHERE p.channel_id = channels.id AND p.is_active = 1 AND pi.finish_ms > ?1
                   AND pi.media_item_id IS NOT NULL)
             FROM channels ORDER BY CAST(number AS REAL), number",
            ChannelView::select_list()
        );
        let mut stmt = conn.prepare(&sql).api()?;
        let rows = stmt
            .query_map([now], |row| {
                let has_content: bool = row.get(ChannelView::COLUMNS.len())?;
                Ok(Listed {
                    channel: ChannelView::from_row(row)?,
                    has_content: with_status.then_some(has_content),
                })
            })
            .api()?;
        rows.collect::<Result<Vec<_>, _>>().api()
    })
    .await?;
    Ok(body::ok_json(&channels))
}

fn rendered(conn: &rusqlite::Connection, id: ChannelId) -> Result<ChannelView, ApiError> {
    get(conn, id)?.ok_or_else(|| ApiError::not_found("channel not found"))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: ChannelPatch = req.params_requiring(&["number", "name"]).await?;
    let (id, channel, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::channels::create(tx, &patch, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &channel))
}

async fn update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: ChannelPatch = req.params().await?;
    let id = ChannelId(id);
    let (channel, changes) = write_tx(app, move |tx| {
        let changes = ops::channels::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&channel))
}

async fn delete(app: &Arc<App>, id: i64) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::channels::delete(tx, ChannelId(id))?)).await?;
    let _ = tokio::fs::remove_file(icon_path(app, &format!("channel_{id}.png"))).await;
    app.apply(changes).await;
    Ok(body::no_content())
}

fn view_hours(req: &Req) -> Result<i64, ApiError> {
    let hours = req.query_parsed::<i64>("hours")?.unwrap_or(24);
    if !(1..=MAX_VIEW_HOURS).contains(&hours) {
        return Err(ApiError::bad_request(format_args!(
            "query parameter hours: must be between 1 and {MAX_VIEW_HOURS}"
        )));
    }
    Ok(hours)
}

/// `GET /api/channels/{num}/schedule`: the stored timeline of an enabled channel, by number.
async fn schedule_by_number(app: &Arc<App>, req: &Req, number: &str) -> ApiResult {
    let hours = view_hours(req)?;
    let number = number.to_string();
    let now = now_ms();
    let doc = read(app, move |conn| {
        let channel = by_number(conn, &number)?;
        let Some((id, number, name, true)) = channel else {
            return Err(ApiError::not_found("channel not found or disabled"));
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT pi.title, pi.custom_title, pi.guide_mode, pi.start_ms, pi.finish_ms
                 FROM playout_items pi JOIN playouts p ON p.id = pi.playout_id
                 WHERE p.channel_id = ?1 AND p.is_active = 1 AND pi.finish_ms > ?2
                   AND pi.start_ms < ?3
                 ORDER BY pi.start_ms",
            )
            .api()?;
        let rows = stmt
            .query_map(params![id, now, now + hours * 3_600_000], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .api()?;
        let mut programmes: Vec<(String, i64, i64)> = Vec::new();
        for row in rows {
            let (title, custom, guide_mode, start, stop) = row.api()?;
            // A hidden item extends the programme before it (API.md: timeline).
            if guide_mode == "hide" {
                if let Some(last) = programmes.last_mut() {
                    last.2 = stop;
                    continue;
                }
            }
            let title = match (guide_mode.as_str(), custom) {
                ("custom", Some(custom)) => custom,
                _ => title,
            };
            programmes.push((title, start, stop));
        }
        let mut doc = json!({
            "channel_id": id,
            "channel_number": number,
            "channel_name": name,
            "programmes": programmes.iter().map(|(title, start, stop)| json!({
                "start": rfc3339(*start), "stop": rfc3339(*stop), "title": title,
            })).collect::<Vec<_>>(),
        });
        if programmes.is_empty() {
            doc["message"] = Value::from("nothing is scheduled on this channel");
        }
        Ok(doc)
    })
    .await?;
    Ok(body::ok_json(&doc))
}

async fn programming(app: &Arc<App>, req: &Req, id: i64) -> ApiResult {
    let hours = view_hours(req)?;
    let now = now_ms();
    let doc = read(app, move |conn| {
        let channel: Option<(String, String)> = conn
            .query_row(
                "SELECT name, number FROM channels WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .api()?;
        let Some((name, number)) = channel else {
            return Err(ApiError::not_found("channel not found"));
        };
        let playout_id: Option<i64> = conn
            .query_row(
                "SELECT id FROM playouts WHERE channel_id = ?1 AND is_active = 1 ORDER BY id LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .api()?;
        let programs = match playout_id {
            Some(pid) => super::playouts::items_between(conn, pid, now, now + hours * 3_600_000)?,
            None => Vec::new(),
        };
        let mut doc = json!({
            "channel_id": id, "channel_name": name, "channel_number": number,
            "playout_id": playout_id, "hours": hours, "program_count": programs.len(),
            "programs": programs,
        });
        if playout_id.is_none() {
            doc["message"] = Value::from("the channel has no playout");
        }
        Ok(doc)
    })
    .await?;
    Ok(body::ok_json(&doc))
}

async fn position(app: &Arc<App>, id: i64) -> ApiResult {
    let doc = read(app, move |conn| {
        if !crate::db::exists(conn, "channels", id)? {
            return Err(ApiError::not_found("channel not found"));
        }
        let row: Option<(i64, Option<i64>, Option<i64>, i64)> = conn
            .query_row(
                "SELECT item_index, media_id, last_played_at_ms, total_items_watched
                 FROM playback_positions WHERE channel_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .api()?;
        Ok(match row {
            Some((index, media, at, total)) => json!({
                "item_index": index, "media_id": media,
                "last_played_at": at.map(rfc3339), "total_items_watched": total,
                "resume_available": true,
            }),
            None => json!({
                "item_index": 0, "media_id": null, "last_played_at": null,
                "total_items_watched": 0, "resume_available": false,
            }),
        })
    })
    .await?;
    Ok(body::ok_json(&doc))
}

async fn save_position(app: &Arc<App>, req: &mut Req, id: ChannelId) -> ApiResult {
    let body: PositionBody = req.params_requiring(&["item_index"]).await?;
    let item_index = body.item_index.given().map_or(0, |index| index.0);
    let media_id = body.media_id.value();
    let position = Position {
        item_index,
        media_id,
    };
    let now = now_ms();
    write_tx(app, move |tx| {
        Ok(ops::channels::save_position(tx, id, position, now)?)
    })
    .await?;
    Ok(body::ok_json(&json!({
        "success": true, "channel_id": id, "item_index": item_index,
        "media_id": media_id, "last_played_at": rfc3339(now),
    })))
}

async fn clear_position(app: &Arc<App>, id: ChannelId) -> ApiResult {
    write_tx(app, move |tx| Ok(ops::channels::clear_position(tx, id)?)).await?;
    Ok(body::no_content())
}

fn filler_json(conn: &rusqlite::Connection, id: i64) -> Result<Value, ApiError> {
    let ids: Option<[Option<i64>; 3]> = conn
        .query_row(
            "SELECT fallback_filler_id, pre_roll_filler_id, post_roll_filler_id FROM channels WHERE id = ?1",
            [id],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]),
        )
        .optional()
        .api()?;
    let Some(ids) = ids else {
        return Err(ApiError::not_found("channel not found"));
    };
    let mut doc = Map::new();
    doc.insert("channel_id".into(), Value::from(id));
    for (role, preset_id) in FillerRole::ALL.iter().zip(ids) {
        doc.insert(role.id_field().into(), Value::from(preset_id));
        let preset = match preset_id {
            Some(pid) => conn
                .query_row(
                    "SELECT id, name, filler_mode FROM filler_presets WHERE id = ?1",
                    [pid],
                    |r| {
                        Ok(
                            json!({"id": r.get::<_, i64>(0)?, "name": r.get::<_, String>(1)?,
                                  "filler_mode": r.get::<_, String>(2)?}),
                        )
                    },
                )
                .optional()
                .api()?,
            None => None,
        };
        doc.insert(role.as_str().into(), preset.unwrap_or(Value::Null));
    }
    Ok(Value::Object(doc))
}

async fn set_filler(app: &Arc<App>, req: &mut Req, id: ChannelId) -> ApiResult {
    let patch: FillerPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::channels::set_filler(tx, id, &patch, now_ms())?;
        Ok((filler_json(tx, id.0)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

fn icon_dir(app: &App) -> std::path::PathBuf {
    app.config.data_dir.join("channel_icons")
}

fn icon_path(app: &App, file: &str) -> std::path::PathBuf {
    icon_dir(app).join(file)
}

async fn upload_icon(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    fetch(app, id).await?;
    let content_type = req
        .header(hyper::header::CONTENT_TYPE)
        .unwrap_or("")
        .to_string();
    let bytes = req.body_bytes(MAX_ICON_BODY).await?;
    let png = crate::http::multipart::part(&content_type, &bytes, "file")?;
    if !png.starts_with(PNG_SIGNATURE) {
        return Err(ApiError::bad_request("file: only PNG icons are accepted"));
    }
    let file = format!("channel_{id}.png");
    tokio::fs::create_dir_all(icon_dir(app))
        .await
        .map_err(ApiError::internal)?;
    tokio::fs::write(icon_path(app, &file), png)
        .await
        .map_err(ApiError::internal)?;
    let logo = format!("/static/channel_icons/{file}");
    let id = ChannelId(id);
    let (channel, changes) = write_tx(app, move |tx| {
        let changes = ops::channels::set_logo(tx, id, Some(&logo), now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&channel))
}

async fn delete_icon(app: &Arc<App>, id: ChannelId) -> ApiResult {
    let changes = write_tx(app, move |tx| {
        Ok(ops::channels::set_logo(tx, id, None, now_ms())?)
    })
    .await?;
    let _ = tokio::fs::remove_file(icon_path(app, &format!("channel_{id}.png"))).await;
    app.apply(changes).await;
    Ok(body::no_content())
}

/// `GET /static/channel_icons/{file}` (open).
pub async fn icon_file(app: &Arc<App>, req: &mut Req, file: &str) -> ApiResult {
    router::only_get(req)?;
    // Only names we write: `channel_<id>.png`. Nothing else, so no path can escape the dir.
    let valid = file
        .strip_prefix("channel_")
        .and_then(|s| s.strip_suffix(".png"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return Err(router::not_found());
    }
    match tokio::fs::read(icon_path(app, file)).await {
        Ok(bytes) => Ok(body::bytes("image/png", bytes.into())),
        Err(_) => Err(router::not_found()),
    }
}
