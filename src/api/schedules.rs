//! `/api/schedules`: schedule CRUD and EXStreamTV's compact view of a schedule's items
//! (`SItem`). The full ErsatzTV view of the same rows is `api::schedule_items`. Any change
//! rebuilds the playouts that use the schedule, from now on.

use std::sync::Arc;

use serde::de::{IgnoredAny, MapAccess};
use serde::Deserialize;
use serde_json::Value;

use super::beside::{Beside, OwnFields};
use super::schedule_items::{self, ScheduleItemView};
use super::tx::{read, write_tx};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{SlotContent, SlotMode, StartType};
use crate::ops::{
    self,
    fields::{Field, OneOf},
    ids::{ChannelId, CollectionId, PlaylistId, ScheduleItemId},
    schedule_items::{NewScheduleItem, ScheduleItemPatch},
    schedules::{ScheduleId, SchedulePatch},
};
use crate::time::now_ms;

row_view! {
    /// A schedule as `/api/schedules` sends it.
    pub struct ScheduleView {
        id: ScheduleId,
        name: String,
        channel_id: Option<ChannelId>,
        keep_multi_part_episodes_together: bool,
        treat_collections_as_shows: bool,
        shuffle_schedule_items: bool,
        random_start_point: bool,
        is_yaml_source: bool,
        playlist_id: Option<PlaylistId>,
        collection_id: Option<CollectionId>,
        start_time: Option<String>,
        end_time: Option<String>,
        repeat = "\"repeat\"": bool,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => list(app, req).await,
            Post => create(app, req).await,
        }),
        [id] => {
            let id = ScheduleId(router::id(id)?);
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
            let id = router::id(id)?;
            by_verb!(req, {
                Get => list_items(app, id).await,
                Post => create_item(app, req, id).await,
                Delete => clear_items(app, ScheduleId(id)).await,
            })
        }
        [id, "items", item_id] => {
            router::only(req, Verb::Delete)?;
            let (id, item_id) = (router::id(id)?, router::id(item_id)?);
            schedule_items::delete_item(app, ScheduleItemId(item_id), Some(ScheduleId(id))).await?;
            Ok(body::no_content())
        }
        _ => Err(router::not_found()),
    }
}

async fn list(app: &Arc<App>, req: &Req) -> ApiResult {
    let channel_id = req.query_parsed::<i64>("channel_id")?;
    let list = read(app, move |conn| {
        Ok(view::list::<ScheduleView>(
            conn,
            "schedules WHERE ?1 IS NULL OR channel_id = ?1 ORDER BY id",
            [channel_id],
        )?)
    })
    .await?;
    Ok(body::ok_json(&list))
}

fn rendered(conn: &rusqlite::Connection, id: ScheduleId) -> Result<ScheduleView, ApiError> {
    view::get(conn, "schedules", id.0)?.ok_or_else(not_found)
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let patch: SchedulePatch = req.params_requiring(&["name"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::schedules::create(tx, &patch, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, id: ScheduleId) -> ApiResult {
    let patch: SchedulePatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::schedules::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

async fn delete(app: &Arc<App>, id: ScheduleId) -> ApiResult {
    let changes = write_tx(app, move |tx| Ok(ops::schedules::delete(tx, id)?)).await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

/// Removes every item of the schedule (EXStreamTV's `DELETE /api/schedules/{id}/items`);
/// its playouts are rebuilt.
async fn clear_items(app: &Arc<App>, id: ScheduleId) -> ApiResult {
    let changes = write_tx(app, move |tx| {
        Ok(ops::schedule_items::clear(tx, id, now_ms())?)
    })
    .await?;
    app.apply(changes).await;
    Ok(body::no_content())
}

/// The schedule's items in the compact view.
async fn list_items(app: &Arc<App>, id: i64) -> ApiResult {
    let list = read(app, move |conn| {
        let id = ScheduleId(id);
        rendered(conn, id)?;
        let items = schedule_items::list(conn, Some(id))?;
        Ok(items.into_iter().map(CompactItem::from).collect::<Vec<_>>())
    })
    .await?;
    Ok(body::ok_json(&list))
}

/// Adds an item given in the compact view, whose names map onto the full ones.
async fn create_item(app: &Arc<App>, req: &mut Req, id: i64) -> ApiResult {
    let body: Beside<CompactFields, ScheduleItemPatch> = req.params().await?;
    let new = body.own.full_item(ScheduleId(id), body.patch)?;
    let (item_id, item) = schedule_items::create_item(app, new).await?;
    Ok(body::created(item_id.0, &CompactItem::from(item)))
}

fn not_found() -> ApiError {
    ApiError::not_found("schedule not found")
}

/// EXStreamTV's `SItem`: the full `ScheduleItem` under the compact view's names.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CompactItem {
    id: ScheduleItemId,
    schedule_id: ScheduleId,
    position: i64,
    collection_type: String,
    collection_id: Option<i64>,
    custom_title: Option<String>,
    multiple_count: Option<i64>,
    start_time: Option<String>,
    playback_order: String,
    /// `playout_mode`.
    playback_mode: String,
    guide_mode: String,
    /// `playout_duration_hours` and `_minutes` together; `null` when they make no time.
    duration_minutes: Option<i64>,
    created_at: Stamp,
    updated_at: Stamp,
}

impl From<ScheduleItemView> for CompactItem {
    fn from(item: ScheduleItemView) -> CompactItem {
        let minutes = item
            .playout_duration_hours
            .saturating_mul(60)
            .saturating_add(item.playout_duration_minutes);
        CompactItem {
            id: item.id,
            schedule_id: item.schedule_id,
            position: item.index,
            collection_type: item.collection_type,
            collection_id: item.collection_id,
            custom_title: item.custom_title,
            multiple_count: item.multiple_count,
            start_time: item.start_time,
            playback_order: item.playback_order,
            playback_mode: item.playout_mode,
            guide_mode: item.guide_mode,
            duration_minutes: (minutes > 0).then_some(minutes),
            created_at: item.created_at,
            updated_at: item.updated_at,
        }
    }
}

/// The compact view's own fields in a new item's body; every other field is the full
/// view's (`ScheduleItemPatch`). The route names the schedule, the item goes at the end
/// (`schedule_id` and `index` are ignored) and `playback_mode` is the `playout_mode`
/// (`playout_mode` itself is ignored). The full fields a compact one replaces are kept as
/// sent and decoded only when it is absent: `start_time` makes `start_type` fixed, and
/// `duration_minutes` sets both `playout_duration_*`.
#[derive(Debug, Default)]
struct CompactFields {
    /// Required (`null` is as good as absent).
    collection_type: Option<OneOf<SlotContent>>,
    /// Decoded as the `playout_mode` it is; `flood` when absent.
    playback_mode: Option<Value>,
    duration_minutes: Option<Minutes>,
    start_type: Option<Value>,
    playout_duration_hours: Option<Value>,
    playout_duration_minutes: Option<Value>,
}

impl OwnFields for CompactFields {
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "schedule_id" | "index" | "playout_mode" => {
                map.next_value::<IgnoredAny>()?;
            }
            "collection_type" => self.collection_type = map.next_value()?,
            "playback_mode" => self.playback_mode = Some(map.next_value()?),
            "duration_minutes" => self.duration_minutes = Some(map.next_value()?),
            "start_type" => self.start_type = Some(map.next_value()?),
            "playout_duration_hours" => self.playout_duration_hours = Some(map.next_value()?),
            "playout_duration_minutes" => self.playout_duration_minutes = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl CompactFields {
    /// The full item the compact body describes.
    fn full_item(
        self,
        schedule_id: ScheduleId,
        mut patch: ScheduleItemPatch,
    ) -> Result<NewScheduleItem, ApiError> {
        let collection_type = self
            .collection_type
            .ok_or_else(|| ApiError::invalid("collection_type", "field required"))?;
        if patch.collection_id.value().is_none() {
            return Err(ApiError::invalid("collection_id", "field required"));
        }
        patch.collection_type = Field::set(collection_type);
        patch.playout_mode = Field::set(match self.playback_mode {
            Some(mode) => as_field("playout_mode", mode)?,
            None => OneOf(SlotMode::Flood),
        });
        let (hours, minutes) = match self.duration_minutes {
            Some(Minutes(total)) => (Some(Value::from(total / 60)), Some(Value::from(total % 60))),
            None => (self.playout_duration_hours, self.playout_duration_minutes),
        };
        if let Some(hours) = hours {
            patch.playout_duration_hours = Field::set(as_field("playout_duration_hours", hours)?);
        }
        if let Some(minutes) = minutes {
            patch.playout_duration_minutes =
                Field::set(as_field("playout_duration_minutes", minutes)?);
        }
        if matches!(patch.start_time.given(), Some(Some(_))) {
            patch.start_type = Field::set(OneOf(StartType::Fixed));
        } else if let Some(start_type) = self.start_type {
            patch.start_type = Field::set(as_field("start_type", start_type)?);
        }
        Ok(NewScheduleItem {
            schedule_id,
            index: None,
            patch,
        })
    }
}

/// A full field's value sent under a compact name (or kept aside), decoded as that field.
fn as_field<T: serde::de::DeserializeOwned>(field: &str, value: Value) -> Result<T, ApiError> {
    T::deserialize(value).map_err(|err| ApiError::invalid(field, err))
}

/// The compact view's `duration_minutes`: a JSON integer (not its digits as a string, nor
/// `null`), as the compact view has always taken it.
#[derive(Debug, Clone, Copy)]
struct Minutes(i64);

impl<'de> Deserialize<'de> for Minutes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d)?
            .as_i64()
            .map(Minutes)
            .ok_or_else(|| serde::de::Error::custom("expected an integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::parse_json;
    use crate::ops::fields::{ClockTime, Int};

    fn full(json: &str) -> Result<NewScheduleItem, String> {
        let body: Beside<CompactFields, ScheduleItemPatch> =
            parse_json(json.as_bytes()).map_err(|e| e.detail)?;
        body.own
            .full_item(ScheduleId(4), body.patch)
            .map_err(|e| e.detail)
    }

    #[test]
    fn a_compact_item_maps_onto_the_full_fields() {
        let new = full(
            r#"{"collection_type":"collection","collection_id":2,"duration_minutes":90,
                "playout_duration_hours":"bogus","playout_mode":"bogus","index":3,
                "schedule_id":9,"start_time":"20:00","start_type":"bogus"}"#,
        )
        .unwrap();
        assert_eq!((new.schedule_id, new.index), (ScheduleId(4), None));
        let p = &new.patch;
        assert_eq!(
            p.collection_type,
            Field::set(OneOf(SlotContent::Collection))
        );
        assert_eq!(p.collection_id, Field::set(Some(Int(2))));
        assert_eq!(p.playout_mode, Field::set(OneOf(SlotMode::Flood)));
        assert_eq!(p.playout_duration_hours, Field::set(Int(1)));
        assert_eq!(p.playout_duration_minutes, Field::set(Int(30)));
        assert_eq!(p.start_time, Field::set(Some(ClockTime("20:00:00".into()))));
        assert_eq!(p.start_type, Field::set(OneOf(StartType::Fixed)));
        let new = full(
            r#"{"collection_type":"collection","collection_id":2,"playback_mode":"one",
                "playout_duration_minutes":5,"start_type":"dynamic"}"#,
        )
        .unwrap();
        let p = &new.patch;
        assert_eq!(p.playout_mode, Field::set(OneOf(SlotMode::One)));
        assert_eq!(p.playout_duration_minutes, Field::set(Int(5)));
        assert!(!p.playout_duration_hours.is_given());
        assert_eq!(p.start_type, Field::set(OneOf(StartType::Dynamic)));
    }

    #[test]
    fn a_compact_refusal_names_the_field_as_it_always_has() {
        let item = r#""collection_type":"collection","collection_id":2"#;
        for (json, detail) in [
            (
                r#"{"collection_id":2}"#.to_string(),
                "collection_type: field required",
            ),
            (
                r#"{"collection_type":null,"collection_id":2}"#.into(),
                "collection_type: field required",
            ),
            (
                r#"{"collection_type":"collection","collection_id":null}"#.into(),
                "collection_id: field required",
            ),
            (
                format!(r#"{{{item},"duration_minutes":"90"}}"#),
                "duration_minutes: expected an integer",
            ),
            (
                format!(r#"{{{item},"duration_minutes":null}}"#),
                "duration_minutes: expected an integer",
            ),
            (
                format!(r#"{{{item},"duration_minutes":100000}}"#),
                "playout_duration_hours: must be between 0 and 168",
            ),
            (
                format!(r#"{{{item},"duration_minutes":-5}}"#),
                "playout_duration_minutes: must be between 0 and 59",
            ),
            (
                format!(r#"{{{item},"playback_mode":"bogus"}}"#),
                "playout_mode: must be one of flood, one, multiple, duration",
            ),
            (
                format!(r#"{{{item},"playback_mode":null}}"#),
                "playout_mode: may not be null",
            ),
            (
                format!(r#"{{{item},"start_type":"bogus"}}"#),
                "start_type: must be one of dynamic, fixed",
            ),
            (
                format!(r#"{{{item},"guide_mode":"bogus"}}"#),
                "guide_mode: must be one of normal, custom, hide",
            ),
        ] {
            assert_eq!(full(&json).unwrap_err(), detail, "{json}");
        }
    }

    #[test]
    fn the_compact_view_renames_and_sums_the_duration() {
        let item = ScheduleItemView {
            id: ScheduleItemId(1),
            schedule_id: ScheduleId(2),
            index: 3,
            start_type: "dynamic".into(),
            start_time: None,
            fixed_start_time_behavior: None,
            collection_type: "collection".into(),
            collection_id: Some(5),
            media_item_id: None,
            playlist_id: None,
            search_title: None,
            search_query: None,
            plex_show_key: None,
            plex_season_key: None,
            plex_artist_key: None,
            playback_order: "shuffled".into(),
            playout_mode: "duration".into(),
            multiple_mode: None,
            multiple_count: None,
            playout_duration_hours: 1,
            playout_duration_minutes: 15,
            fill_with_group_mode: None,
            tail_mode: None,
            tail_filler_collection_id: None,
            discard_to_fill_attempts: None,
            custom_title: Some("Late".into()),
            guide_mode: "normal".into(),
            pre_roll_filler_id: None,
            mid_roll_filler_id: None,
            post_roll_filler_id: None,
            tail_filler_id: None,
            fallback_filler_id: None,
            watermark_id: None,
            preferred_audio_language: None,
            preferred_audio_title: None,
            preferred_subtitle_language: None,
            subtitle_mode: None,
            created_at: Stamp(0),
            updated_at: Stamp(1000),
        };
        let doc = serde_json::to_value(CompactItem::from(item.clone())).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "id": 1, "schedule_id": 2, "position": 3, "collection_type": "collection",
                "collection_id": 5, "custom_title": "Late", "multiple_count": null,
                "start_time": null, "playback_order": "shuffled", "playback_mode": "duration",
                "guide_mode": "normal", "duration_minutes": 75,
                "created_at": crate::time::rfc3339(0), "updated_at": crate::time::rfc3339(1000),
            })
        );
        let timeless = ScheduleItemView {
            playout_duration_hours: 0,
            playout_duration_minutes: 0,
            ..item
        };
        assert_eq!(CompactItem::from(timeless).duration_minutes, None);
    }
}
