//! `/api/schedule-items`: the full (ErsatzTV) view of schedule items: CRUD, insertion at an
//! index, moves, and dense renumbering of positions. References are checked (422) and the
//! mode's parameters must make sense together; every change rebuilds the schedule's
//! playouts from now on.

use std::sync::Arc;

use serde::de::MapAccess;
use serde_json::Value;

use super::beside::{Beside, OwnFields};
use super::tx::{read, write_tx};
use super::view::{self, row_view, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::{
    self,
    fields::Int,
    ids::{CollectionId, FillerPresetId, MediaId, PlaylistId, ScheduleId},
    schedule_items::{Direction, NewScheduleItem, ScheduleItemId, ScheduleItemPatch},
};
use crate::time::now_ms;

row_view! {
    /// A schedule item as `/api/schedule-items` sends it.
    pub struct ScheduleItemView {
        id: ScheduleItemId,
        schedule_id: ScheduleId,
        index = "position": i64,
        start_type: String,
        start_time: Option<String>,
        fixed_start_time_behavior: Option<String>,
        collection_type: String,
        collection_id: Option<i64>,
        media_item_id: Option<MediaId>,
        playlist_id: Option<PlaylistId>,
        search_title: Option<String>,
        search_query: Option<String>,
        plex_show_key: Option<String>,
        plex_season_key: Option<String>,
        plex_artist_key: Option<String>,
        playback_order: String,
        playout_mode: String,
        multiple_mode: Option<String>,
        multiple_count: Option<i64>,
        playout_duration_hours: i64,
        playout_duration_minutes: i64,
        fill_with_group_mode: Option<String>,
        tail_mode: Option<String>,
        tail_filler_collection_id: Option<CollectionId>,
        discard_to_fill_attempts: Option<i64>,
        custom_title: Option<String>,
        guide_mode: String,
        pre_roll_filler_id: Option<FillerPresetId>,
        mid_roll_filler_id: Option<FillerPresetId>,
        post_roll_filler_id: Option<FillerPresetId>,
        tail_filler_id: Option<FillerPresetId>,
        fallback_filler_id: Option<FillerPresetId>,
        watermark_id: Option<i64>,
        preferred_audio_language: Option<String>,
        preferred_audio_title: Option<String>,
        preferred_subtitle_language: Option<String>,
        subtitle_mode: Option<String>,
        created_at = "created_at_ms": Stamp,
        updated_at = "updated_at_ms": Stamp,
    }
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => {
                let schedule_id = req.query_parsed::<i64>("schedule_id")?.map(ScheduleId);
                let list = read(app, move |conn| list(conn, schedule_id)).await?;
                Ok(body::ok_json(&list))
            },
            Post => {
                let body: Beside<Place, ScheduleItemPatch> = req.params().await?;
                let (id, item) = create_item(app, body.own.new_item(body.patch)?).await?;
                Ok(body::created(id.0, &item))
            },
        }),
        [id] => {
            let id = ScheduleItemId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let item = read(app, move |conn| rendered(conn, id)).await?;
                    Ok(body::ok_json(&item))
                },
                Put | Patch => update(app, req, id).await,
                Delete => {
                    delete_item(app, id, None).await?;
                    Ok(body::no_content())
                },
            })
        }
        [id, "move"] => {
            router::only(req, Verb::Post)?;
            move_item(app, req, ScheduleItemId(router::id(id)?)).await
        }
        _ => Err(router::not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("schedule item not found")
}

/// Where a new item goes, sent beside its fields: its schedule (required; `null` is as
/// good as absent) and its index (`None`: at the end).
#[derive(Debug, Default)]
struct Place {
    schedule_id: Option<ScheduleId>,
    index: Option<Int<0, 1_000_000>>,
}

impl OwnFields for Place {
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "schedule_id" => self.schedule_id = map.next_value()?,
            "index" => self.index = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl Place {
    fn new_item(self, patch: ScheduleItemPatch) -> Result<NewScheduleItem, ApiError> {
        let schedule_id = self
            .schedule_id
            .ok_or_else(|| ApiError::invalid("schedule_id", "field required"))?;
        Ok(NewScheduleItem {
            schedule_id,
            index: self.index.map(|index| index.0),
            patch,
        })
    }
}

fn rendered(conn: &rusqlite::Connection, id: ScheduleItemId) -> Result<ScheduleItemView, ApiError> {
    view::get(conn, "schedule_items", id.0)?.ok_or_else(not_found)
}

async fn update(app: &Arc<App>, req: &mut Req, id: ScheduleItemId) -> ApiResult {
    // Moving between schedules or positions has its own routes: `schedule_id` and `index`
    // are no fields of the patch, and ignored as any unknown field is.
    let patch: ScheduleItemPatch = req.params().await?;
    let (item, changes) = write_tx(app, move |tx| {
        let changes = ops::schedule_items::update(tx, id, &patch, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&item))
}

async fn move_item(app: &Arc<App>, req: &mut Req, id: ScheduleItemId) -> ApiResult {
    /// `direction` as sent: anything but "up" or "down" (a number, `null`) is a 400, never
    /// a 422 from decoding.
    #[derive(serde::Deserialize)]
    struct MoveBody {
        #[serde(default)]
        direction: Value,
    }
    let body: MoveBody = req.params().await?;
    let direction = match body.direction.as_str() {
        Some("up") => Direction::Up,
        Some("down") => Direction::Down,
        _ => {
            return Err(ApiError::bad_request(
                "query parameter direction: must be up or down",
            ))
        }
    };
    let (item, changes) = write_tx(app, move |tx| {
        let changes = ops::schedule_items::move_item(tx, id, direction, now_ms())?;
        Ok((rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&item))
}

/// Items by schedule and position (one schedule's, or every one's).
pub fn list(
    conn: &rusqlite::Connection,
    schedule_id: Option<ScheduleId>,
) -> Result<Vec<ScheduleItemView>, ApiError> {
    Ok(view::list(
        conn,
        "schedule_items WHERE ?1 IS NULL OR schedule_id = ?1 ORDER BY schedule_id, position, id",
        [schedule_id],
    )?)
}

/// Adds the item to its schedule, at its index (later items move down) or at the end;
/// returns its id and its view.
pub async fn create_item(
    app: &Arc<App>,
    new: NewScheduleItem,
) -> Result<(ScheduleItemId, ScheduleItemView), ApiError> {
    let (id, item, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::schedule_items::create(tx, &new, now_ms())?;
        Ok((id, rendered(tx, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok((id, item))
}

/// Deletes an item (of `schedule_id` when given) and renumbers the rest.
pub async fn delete_item(
    app: &Arc<App>,
    id: ScheduleItemId,
    schedule_id: Option<ScheduleId>,
) -> Result<(), ApiError> {
    let changes = write_tx(app, move |tx| {
        Ok(ops::schedule_items::delete(tx, id, schedule_id, now_ms())?)
    })
    .await?;
    app.apply(changes).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::parse_json;
    use crate::kinds::GuideMode;
    use crate::ops::fields::{Field, OneOf, Text};

    fn decode(json: &str) -> Result<Beside<Place, ScheduleItemPatch>, String> {
        parse_json(json.as_bytes()).map_err(|e| e.detail)
    }

    #[test]
    fn a_new_items_place_is_taken_out_of_its_fields() {
        let body = decode(r#"{"schedule_id":"3","index":0,"guide_mode":"hide","custom_title":7}"#)
            .unwrap();
        assert_eq!(body.own.schedule_id, Some(ScheduleId(3)));
        assert_eq!(body.own.index, Some(Int(0)));
        assert_eq!(body.patch.guide_mode, Field::set(OneOf(GuideMode::Hide)));
        assert_eq!(body.patch.custom_title, Field::set(Some(Text("7".into()))));
        assert_eq!(body.patch.values().len(), 2, "{:?}", body.patch.values());
        let new = body.own.new_item(body.patch).unwrap();
        assert_eq!((new.schedule_id, new.index), (ScheduleId(3), Some(0)));
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (json, detail) in [
            (
                r#"{"schedule_id":0}"#,
                format!("schedule_id: must be between 1 and {}", i64::MAX),
            ),
            (r#"{"index":null}"#, "index: may not be null".into()),
            (
                r#"{"index":-1}"#,
                "index: must be between 0 and 1000000".into(),
            ),
            (
                r#"{"schedule_id":1,"multiple_count":0}"#,
                "multiple_count: must be between 1 and 10000".into(),
            ),
            (
                r#"{"playout_duration_hours":169}"#,
                "playout_duration_hours: must be between 0 and 168".into(),
            ),
            (
                r#"{"tail_mode":"x"}"#,
                "tail_mode: must be one of none, offline, filler".into(),
            ),
        ] {
            assert_eq!(decode(json).unwrap_err(), detail, "{json}");
        }
        let missing = decode(r#"{"schedule_id":null,"collection_type":"collection"}"#).unwrap();
        assert_eq!(
            missing.own.new_item(missing.patch).unwrap_err().detail,
            "schedule_id: field required"
        );
    }
}
