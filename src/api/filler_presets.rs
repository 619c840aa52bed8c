//! `/api/filler-presets`: filler (pre-, mid-, post-roll, pad, tail, fallback) as presets with
//! items drawn from collections, playlists or single media. A preset's mode must carry its
//! parameter (count, duration, pad minutes). A change rebuilds, from now, the playouts whose
//! channel or schedule items use the preset (`ops::filler`); deleting a preset in use is 409.

use std::sync::Arc;

use serde::de::MapAccess;
use serde_json::Value;

use super::beside::{Beside, OwnFields};
use super::tx::{read, write_tx};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::fields::{Field, Name};
use crate::ops::filler::{self as ops, FillerItemPatch, FillerPresetPatch};
use crate::ops::ids::{FillerItemId, FillerPresetId, MediaId};
use crate::time::now_ms;

row_view! {
    /// A preset's own fields, as `/api/filler-presets` sends them (`PresetDoc` adds its
    /// items).
    pub struct FillerPresetView {
        id: FillerPresetId,
        name: String,
        filler_mode: String,
        count: Option<i64>,
        duration_seconds: Option<i64>,
        pad_to_minutes: Option<i64>,
        playback_order: String,
        allow_repeats: bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

row_view! {
    /// One item of a preset.
    pub struct FillerItemView {
        id: FillerItemId,
        preset_id: FillerPresetId,
        collection_type: Option<String>,
        collection_id: Option<i64>,
        media_item_id: Option<MediaId>,
        weight: i64,
        min_duration_seconds: Option<i64>,
        max_duration_seconds: Option<i64>,
    }
}

/// A preset with its items, by id.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PresetDoc {
    #[serde(flatten)]
    preset: FillerPresetView,
    items: Vec<FillerItemView>,
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = FillerPresetId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let doc = read(app, move |conn| rendered(conn, id)).await?;
                    Ok(body::ok_json(&doc))
                },
                Put | Patch => update(app, req, id).await,
                Delete => delete(app, id).await,
            })
        }
        [id, "items"] => {
            router::only(req, Verb::Post)?;
            add_item(app, req, FillerPresetId(router::id(id)?)).await
        }
        [id, "items", item_id] => {
            let id = FillerPresetId(router::id(id)?);
            let item_id = FillerItemId(router::id(item_id)?);
            by_verb!(req, {
                Put | Patch => update_item(app, req, id, item_id).await,
                Delete => delete_item(app, id, item_id).await,
            })
        }
        _ => Err(router::not_found()),
    }
}

async fn list(app: &Arc<App>) -> ApiResult {
    let list = read(app, |conn| {
        let presets: Vec<FillerPresetView> =
            view::list(conn, "filler_presets ORDER BY name, id", [])?;
        presets
            .into_iter()
            .map(|preset| with_items(conn, preset))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(body::ok_json(&list))
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let body: Beside<NewPreset, FillerPresetPatch> = req.params().await?;
    let Beside {
        own: NewPreset { name, items },
        mut patch,
    } = body;
    let name = name.ok_or_else(|| ApiError::invalid("name", "field required"))?;
    patch.name = Field::set(name);
    let items = item_patches(items)?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, &patch, &items, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: FillerPresetId) -> ApiResult {
    let patch: FillerPresetPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: FillerPresetId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn add_item(app: &Arc<App>, req: &mut Req, id: FillerPresetId) -> ApiResult {
    let item: FillerItemPatch = req.params().await?;
    let (item_id, doc, changes) = write_tx(app, move |tx| {
        let (item_id, changes) = ops::add_item(tx, id, &item)?;
        Ok((item_id, rendered_item(tx, item_id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(item_id.0, &doc))
}

async fn update_item(
    app: &Arc<App>,
    req: &mut Req,
    id: FillerPresetId,
    item_id: FillerItemId,
) -> ApiResult {
    let item: FillerItemPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update_item(tx, id, item_id, &item)?;
        Ok((rendered_item(tx, item_id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete_item(app: &Arc<App>, id: FillerPresetId, item_id: FillerItemId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::delete_item(tx, id, item_id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

fn not_found() -> ApiError {
    ApiError::not_found("filler preset not found")
}

fn rendered(conn: &rusqlite::Connection, id: FillerPresetId) -> Result<PresetDoc, ApiError> {
    let preset = view::get(conn, "filler_presets", id.0)?.ok_or_else(not_found)?;
    with_items(conn, preset)
}

fn with_items(
    conn: &rusqlite::Connection,
    preset: FillerPresetView,
) -> Result<PresetDoc, ApiError> {
    let items = view::list(
        conn,
        "filler_items WHERE preset_id = ?1 ORDER BY id",
        [preset.id],
    )?;
    Ok(PresetDoc { preset, items })
}

fn rendered_item(
    conn: &rusqlite::Connection,
    item_id: FillerItemId,
) -> Result<FillerItemView, ApiError> {
    view::get(conn, "filler_items", item_id.0)?
        .ok_or_else(|| ApiError::not_found("filler item not found"))
}

/// A new preset's fields beside its patch's: its name (required; `null` is as good as
/// absent) and its items, as sent (each decoded by `item_patches`).
#[derive(Debug, Default)]
struct NewPreset {
    name: Option<Name>,
    items: Option<Value>,
}

impl OwnFields for NewPreset {
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            "items" => self.items = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The `items` of a new preset's body (none when absent or `null`), each decoded as the
/// item routes decode one: a refusal names the item's field alone (`weight: ...`).
fn item_patches(items: Option<Value>) -> Result<Vec<FillerItemPatch>, ApiError> {
    let items = match items {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::invalid("items", "expected an array")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if !item.is_object() {
                return Err(ApiError::invalid(
                    &format!("items[{i}]"),
                    "expected an object",
                ));
            }
            let bytes = serde_json::to_vec(item).map_err(ApiError::internal)?;
            crate::http::request::parse_json(&bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::parse_json;
    use crate::kinds::{FillerModeKind, PlaybackOrder};
    use crate::ops::fields::{Int, OneOf};
    use crate::ops::filler::FillerOrder;

    fn decode(json: &str) -> Result<Beside<NewPreset, FillerPresetPatch>, String> {
        parse_json(json.as_bytes()).map_err(|e| e.detail)
    }

    #[test]
    fn a_new_preset_takes_its_name_and_items_beside_its_fields() {
        let body = decode(
            r#"{"name":"Bumpers","filler_mode":"count","count":"2","playback_order":"shuffle",
                "allow_repeats":0,"items":[{"media_item_id":3,"weight":"5"},{"collection_id":4}]}"#,
        )
        .unwrap();
        assert_eq!(body.own.name, Some(Name("Bumpers".into())));
        let p = &body.patch;
        assert_eq!(p.filler_mode, Field::set(OneOf(FillerModeKind::Count)));
        assert_eq!(p.count, Field::set(Some(Int(2))));
        // An accepted older spelling is stored as the canonical one.
        assert_eq!(
            p.playback_order,
            Field::set(FillerOrder(PlaybackOrder::Shuffled))
        );
        let items = item_patches(body.own.items).unwrap();
        assert_eq!(items[0].media_item_id, Field::set(Some(MediaId(3))));
        assert_eq!(items[0].weight, Field::set(Int(5)));
        assert_eq!(items[1].collection_id, Field::set(Some(Int(4))));
        assert!(item_patches(Some(Value::Null)).unwrap().is_empty());
    }

    #[test]
    fn each_refusal_names_its_field_and_an_items_its_own() {
        for (json, detail) in [
            (
                r#"{"playback_order":"season_episode"}"#,
                "playback_order: must be one of chronological, shuffled, random",
            ),
            (
                r#"{"playback_order":null}"#,
                "playback_order: may not be null",
            ),
            (
                r#"{"pad_to_minutes":0}"#,
                "pad_to_minutes: must be between 1 and 1440",
            ),
            (
                r#"{"allow_repeats":"yes"}"#,
                "allow_repeats: expected a boolean",
            ),
            (r#"{"name":" "}"#, "name: may not be empty"),
        ] {
            assert_eq!(decode(json).unwrap_err(), detail, "{json}");
        }
        let items = |json: &str| item_patches(Some(serde_json::from_str(json).unwrap()));
        for (json, detail) in [
            (r#"{"weight":1}"#, "items: expected an array"),
            (r#"[{"weight":1}, 7]"#, "items[1]: expected an object"),
            (r#"[{"weight":0}]"#, "weight: must be between 1 and 100"),
            (
                r#"[{"collection_type":"show"}]"#,
                "collection_type: must be one of playlist, collection",
            ),
        ] {
            assert_eq!(items(json).unwrap_err().detail, detail, "{json}");
        }
    }
}
