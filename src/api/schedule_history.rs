//! `/api/schedule-history`: the snapshots `ops::schedule_history` takes of a schedule before
//! each change to it or its items, and on `POST /capture {schedule_id*, label}`; listed
//! newest first (`?schedule_id=`), read, deleted, and reverted (`POST /{id}/revert`: the
//! schedule's fields and items as the snapshot holds them, in one transaction that first
//! snapshots what it replaces; its playouts are rebuilt). The newest
//! `ops::schedule_history::KEEP_PER_SCHEDULE` (50) snapshots of a schedule are kept.
//!
//! An entry is `{id, schedule_id, created_at, label, schedule, items}`: `schedule` in the
//! `/api/schedules` view and `items` in the `/api/schedule-items` view, rendered from the
//! stored columns by the same `row_view!` declarations as the live rows.

use std::sync::Arc;

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use super::schedule_items::{self, ScheduleItemView};
use super::schedules::ScheduleView;
use super::tx::{read, write_tx};
use super::view::{self, RowView, Stamp};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::fields::Text;
use crate::ops::schedule_history::{self as history, Columns, HistoryError, HistoryId, Snapshot};
use crate::ops::schedules::ScheduleId;
use crate::time::now_ms;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => {
            router::only_get(req)?;
            let schedule_id = req.query_parsed::<i64>("schedule_id")?.map(ScheduleId);
            let list = read(app, move |conn| {
                if let Some(id) = schedule_id {
                    if !crate::db::exists(conn, "schedules", id.0)? {
                        return Err(HistoryError::ScheduleNotFound.into());
                    }
                }
                history::list(conn, schedule_id)?
                    .iter()
                    .map(|snap| rendered(conn, snap))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
            Ok(body::ok_json(&list))
        }
        ["capture"] => {
            router::only(req, Verb::Post)?;
            capture(app, req).await
        }
        [id] => {
            let id = HistoryId(router::id(id)?);
            by_verb!(req, {
                Get => {
                    let entry = read(app, move |conn| {
                        let snap = history::get(conn, id)?.ok_or(HistoryError::NotFound)?;
                        rendered(conn, &snap)
                    })
                    .await?;
                    Ok(body::ok_json(&entry))
                },
                Delete => {
                    let changes = write_tx(app, move |tx| Ok(history::delete(tx, id)?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        [id, "revert"] => {
            router::only(req, Verb::Post)?;
            revert(app, HistoryId(router::id(id)?)).await
        }
        _ => Err(router::not_found()),
    }
}

/// One history entry as the API sends it.
#[derive(Debug, Serialize)]
struct EntryView {
    id: HistoryId,
    schedule_id: ScheduleId,
    created_at: Stamp,
    label: String,
    schedule: ScheduleView,
    items: Vec<ScheduleItemView>,
}

/// What a revert answers: the schedule as it now is, and the entry holding what it was.
#[derive(Debug, Serialize)]
struct RevertView {
    reverted_to: HistoryId,
    /// The snapshot of the schedule taken just before the revert (revert it to undo).
    saved_as: HistoryId,
    schedule: ScheduleView,
    items: Vec<ScheduleItemView>,
}

#[derive(Debug, Deserialize)]
struct CaptureBody {
    schedule_id: ScheduleId,
    #[serde(default)]
    label: Option<Text>,
}

async fn capture(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let body: CaptureBody = req.params_requiring(&["schedule_id"]).await?;
    let (id, entry, changes) = write_tx(app, move |tx| {
        let label = body.label.as_ref().map(|l| l.0.as_str());
        let (id, changes) = history::capture(tx, body.schedule_id, label, now_ms())?;
        let snap = history::get(tx, id)?.ok_or(HistoryError::NotFound)?;
        Ok((id, rendered(tx, &snap)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id.0, &entry))
}

async fn revert(app: &Arc<App>, id: HistoryId) -> ApiResult {
    let (doc, changes) = write_tx(app, move |tx| {
        let (schedule_id, saved_as, changes) = history::revert(tx, id, now_ms())?;
        let schedule = view::get::<ScheduleView>(tx, "schedules", schedule_id.0)?
            .ok_or(HistoryError::ScheduleNotFound)?;
        let doc = RevertView {
            reverted_to: id,
            saved_as,
            schedule,
            items: schedule_items::list(tx, Some(schedule_id))?,
        };
        Ok((doc, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}

fn rendered(conn: &rusqlite::Connection, snap: &Snapshot) -> Result<EntryView, ApiError> {
    Ok(EntryView {
        id: snap.id,
        schedule_id: snap.schedule_id,
        created_at: Stamp(snap.created_at_ms),
        label: snap.label.clone(),
        schedule: stored_view(conn, "schedules", &snap.schedule)?,
        items: snap
            .items
            .iter()
            .map(|item| stored_view(conn, "schedule_items", item))
            .collect::<Result<_, _>>()?,
    })
}

/// A stored row rendered through the live table's view: the view's SELECT list runs over
/// a one-row subquery whose columns are `table`'s, valued from the snapshot (a column the
/// snapshot predates is NULL).
fn stored_view<V: RowView>(
    conn: &rusqlite::Connection,
    table: &str,
    row: &Columns,
) -> Result<V, ApiError> {
    let columns = history::column_names(conn, table)?;
    let aliases: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("?{} AS \"{c}\"", i + 1))
        .collect();
    let values = columns.iter().map(|c| {
        row.iter()
            .find(|(name, _)| name == c)
            .map_or(Value::Null, |(_, v)| v.clone())
    });
    let sql = format!(
        "SELECT {} FROM (SELECT {})",
        V::select_list(),
        aliases.join(", ")
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(crate::db::DbError::from)?;
    Ok(stmt
        .query_row(rusqlite::params_from_iter(values), V::from_row)
        .map_err(crate::db::DbError::from)?)
}

/// Kept beside the API's use of it: `http::error` maps the resource errors it has always
/// mapped, and this one follows the same rules (404, 409, 422).
impl From<HistoryError> for ApiError {
    fn from(err: HistoryError) -> Self {
        match err {
            HistoryError::NotFound | HistoryError::ScheduleNotFound => ApiError::not_found(&err),
            HistoryError::LabelTooLong => ApiError::invalid(
                "label",
                format_args!("longer than {} characters", history::MAX_LABEL_CHARS),
            ),
            HistoryError::Missing { .. } => ApiError::conflict(&err),
            HistoryError::Db(err) => ApiError::from(err),
        }
    }
}
