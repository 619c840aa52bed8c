//! `/api/deco`: the break assets (bumper, commercial, station id, promo, credits), each a
//! media item with a weight, and `GET /api/deco/types`; and a channel's deco
//! (`/api/channels/{id}/deco`, routed from `api::channels`). The writes are `ops::deco`.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{json, Value};

use super::tx::{read, write_tx, SqlResult};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::DecoType;
use crate::ops::deco::{self as ops, ChannelDecoPatch, DecoPatch};
use crate::ops::ids::ChannelId;
use crate::time::now_ms;

/// `/api/deco`.
pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        ["types"] => {
            router::only(req, Verb::Get)?;
            Ok(body::ok_json(&types()))
        }
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| deco(conn, id)).await?)),
                Put | Patch => update(app, req, id).await,
                Delete => {
                    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        _ => Err(router::not_found()),
    }
}

row_view! {
    /// One break asset.
    pub struct DecoView {
        id: i64,
        name: String,
        group_id: Option<i64>,
        deco_type: String,
        media_item_id: Option<i64>,
        file_path: Option<String>,
        duration_seconds: Option<f64>,
        static_duration_seconds: f64,
        weight: i64,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

fn deco(conn: &Connection, id: i64) -> Result<DecoView, ApiError> {
    view::get(conn, "deco", id)?.ok_or_else(|| ApiError::not_found("deco not found"))
}

fn types() -> Value {
    let describe = |t: DecoType| match t {
        DecoType::Bumper => "a short ident between programmes",
        DecoType::Commercial => "an advertisement in a break",
        DecoType::StationId => "the channel's own identification",
        DecoType::Promo => "a trailer for a coming programme",
        DecoType::Credits => "closing credits after a programme",
    };
    let types: Vec<&str> = DecoType::ALL.iter().map(|t| t.as_str()).collect();
    let descriptions: serde_json::Map<String, Value> = DecoType::ALL
        .iter()
        .map(|t| (t.as_str().to_string(), json!(describe(*t))))
        .collect();
    json!({ "types": types, "descriptions": descriptions })
}

async fn list(app: &Arc<App>, req: &Req) -> ApiResult {
    let group = req.query_parsed::<i64>("group_id")?;
    let kind = match req.query("deco_type") {
        Some(text) => Some(
            text.parse::<DecoType>()
                .map_err(|e| ApiError::bad_request(format_args!("deco_type: {e}")))?
                .as_str(),
        ),
        None => None,
    };
    let list = read(app, move |conn| {
        Ok(view::list::<DecoView>(
            conn,
            "deco WHERE (?1 IS NULL OR group_id = ?1) AND (?2 IS NULL OR deco_type = ?2)
             ORDER BY name, id",
            rusqlite::params![group, kind],
        )?)
    })
    .await?;
    Ok(body::ok_json(&list))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: DecoPatch = req.params_requiring(&["name"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &patch, now_ms())?;
        Ok((id, deco(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let patch: DecoPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        Ok((deco(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

/// `GET/PUT /api/channels/{id}/deco`.
pub async fn channel(app: &Arc<App>, req: &mut Req, channel: ChannelId) -> ApiResult {
    by_verb!(req, {
        Get => Ok(body::ok_json(&read(app, move |conn| channel_doc(conn, channel)).await?)),
        Put | Patch => {
            let patch: ChannelDecoPatch = req.params().await?;
            let (doc, changes) = write_tx(app, move |tx| {
                let changes = ops::set_channel_deco(tx, channel, &patch, now_ms())?;
                Ok((channel_doc(tx, channel)?, changes))
            })
            .await?;
            app.apply(changes).await;
            Ok(body::ok_json(&doc))
        },
    })
}

/// `{channel_id, deco_group_id?, deco_group?, breaks, break_every_minutes?, break_count,
/// default_filler: {mode, collection_id?}, watermark: {mode, watermark_id?}, windows}`.
fn channel_doc(conn: &Connection, channel: ChannelId) -> Result<Value, ApiError> {
    let deco = ops::channel_deco(conn, channel)?
        .ok_or_else(|| ApiError::not_found("channel not found"))?;
    let group = match deco.deco_group_id {
        Some(id) => conn
            .query_row("SELECT name FROM deco_groups WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .map(|name| json!({"id": id, "name": name}))
            .api()?,
        None => Value::Null,
    };
    let windows: Vec<Value> = deco
        .windows
        .iter()
        .map(|(start, end, group)| {
            json!({"start_time": start, "end_time": end, "deco_group_id": group})
        })
        .collect();
    Ok(json!({
        "channel_id": channel,
        "deco_group_id": deco.deco_group_id,
        "deco_group": group,
        "breaks": deco.breaks.as_str(),
        "break_every_minutes": deco.break_every_minutes,
        "break_count": deco.break_count,
        "default_filler": {
            "mode": deco.default_filler_mode.as_str(),
            "collection_id": deco.default_filler_collection_id,
        },
        "watermark": {"mode": deco.watermark_mode.as_str(), "watermark_id": deco.watermark_id},
        "windows": windows,
    }))
}
