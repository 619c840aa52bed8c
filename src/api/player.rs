//! `/api/player/*`: what a browser or app player needs for one channel — its HLS URL (as
//! the M3U gives it: our origin, the IPTV token when one is set) and what plays now, read
//! from the one stored timeline the guide and the stream follow. A live channel has no
//! pause or seek on the server, so `control` validates and acknowledges a command for the
//! player to carry out; it changes nothing here.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::tx::read;
use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::iptv::origin::{self, Origin};
use crate::time::{now_ms, rfc3339};

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["channel", number, "stream"] => {
            router::only_get(req)?;
            let (number, name) = enabled_channel(app, number).await?;
            Ok(body::ok_json(&json!({
                "channel_number": number, "channel_name": name,
                "stream_url": stream_url(app, req, &number), "format": "hls",
            })))
        }
        ["channel", number, "switch"] => {
            router::only(req, Verb::Post)?;
            let (number, name) = enabled_channel(app, number).await?;
            Ok(body::ok_json(&json!({
                "status": "switched", "channel_number": number, "channel_name": name,
                "stream_url": stream_url(app, req, &number),
            })))
        }
        ["channel", number, "metadata"] => {
            router::only_get(req)?;
            let (number, name) = enabled_channel(app, number).await?;
            let now = now_ms();
            let found = number.clone();
            let playing = read(app, move |conn| now_playing(conn, &found, now)).await?;
            let mut doc = playing.unwrap_or_else(|| json!({"current_item_index": null}));
            doc["channel_number"] = json!(number);
            doc["channel_name"] = json!(name);
            Ok(body::ok_json(&doc))
        }
        ["control"] => {
            router::only(req, Verb::Post)?;
            control(req)
        }
        _ => Err(router::not_found()),
    }
}

/// The channel by number, 404 when unknown and 409 when disabled (nothing to play).
async fn enabled_channel(app: &Arc<App>, number: &str) -> Result<(String, String), ApiError> {
    let wanted = number.to_string();
    let channel = read(app, move |conn| super::channels::by_number(conn, &wanted)).await?;
    match channel {
        None => Err(ApiError::not_found(format_args!("no channel {number}"))),
        Some((_, _, _, false)) => Err(ApiError::conflict(format_args!(
            "channel {number} is disabled"
        ))),
        Some((_, number, name, true)) => Ok((number, name)),
    }
}

fn stream_url(app: &App, req: &Req, number: &str) -> String {
    let origin = Origin::of_request(app, req);
    format!(
        "{}/iptv/channel/{}.m3u8{}",
        origin.as_str(),
        origin::percent_encode(number),
        origin::token_query(app)
    )
}

/// What plays now on the channel, with where it sits in the stored timeline.
fn now_playing(conn: &Connection, number: &str, now: i64) -> Result<Option<Value>, ApiError> {
    let row = conn
        .query_row(
            "SELECT pi.playout_id, pi.start_ms, pi.finish_ms, pi.title, pi.episode_title,
                    m.show_title, m.season_number, m.episode_number, m.description, m.thumbnail,
                    (SELECT count(*) FROM playout_items o
                      WHERE o.playout_id = pi.playout_id AND o.start_ms < pi.start_ms),
                    (SELECT min(o.start_ms) FROM playout_items o WHERE o.playout_id = pi.playout_id)
             FROM playout_items pi JOIN playouts p ON p.id = pi.playout_id
             JOIN channels c ON c.id = p.channel_id
             LEFT JOIN media_items m ON m.id = pi.media_item_id
             WHERE c.number = ?1 AND pi.start_ms <= ?2 AND pi.finish_ms > ?2
             ORDER BY pi.start_ms DESC LIMIT 1",
            params![number, now],
            |r| {
                let (start, finish): (i64, i64) = (r.get(1)?, r.get(2)?);
                let first: i64 = r.get::<_, Option<i64>>(11)?.unwrap_or(start);
                Ok(json!({
                    "current_item_index": r.get::<_, i64>(10)?,
                    "elapsed_seconds": (now - first) as f64 / 1000.0,
                    "elapsed_seconds_in_item": (now - start) as f64 / 1000.0,
                    "current_item_start_time": rfc3339(start),
                    "playout_start_time": rfc3339(first),
                    "current_item": {
                        "title": r.get::<_, String>(3)?,
                        "episode_title": r.get::<_, Option<String>>(4)?,
                        "series_title": r.get::<_, Option<String>>(5)?,
                        "season_number": r.get::<_, Option<i64>>(6)?,
                        "episode_number": r.get::<_, Option<i64>>(7)?,
                        "description": r.get::<_, Option<String>>(8)?,
                        "thumbnail": r.get::<_, Option<String>>(9)?,
                        "duration": (finish - start) as f64 / 1000.0,
                    },
                }))
            },
        )
        .optional()
        .map_err(crate::db::DbError::from)?;
    Ok(row)
}

/// `?action=play|pause|seek|volume&value=`: checked and acknowledged (see the module
/// header); seek takes seconds ≥ 0, volume 0–100.
fn control(req: &Req) -> ApiResult {
    let action = req
        .query("action")
        .ok_or_else(|| ApiError::invalid("action", "field required"))?
        .into_owned();
    let value: Option<f64> = req
        .query("value")
        .map(|v| {
            v.parse::<f64>()
                .map_err(|_| ApiError::invalid("value", "not a number"))
        })
        .transpose()?;
    let range = match action.as_str() {
        "play" | "pause" => None,
        "seek" => Some(0.0..=f64::MAX),
        "volume" => Some(0.0..=100.0),
        _ => {
            return Err(ApiError::invalid(
                "action",
                "one of play, pause, seek, volume",
            ))
        }
    };
    if let Some(range) = range {
        match value {
            None => return Err(ApiError::invalid("value", "field required")),
            Some(v) if !range.contains(&v) => {
                return Err(ApiError::invalid(
                    "value",
                    format_args!("out of range: {v}"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(body::ok_json(
        &json!({"status": "ok", "action": action, "value": value}),
    ))
}
