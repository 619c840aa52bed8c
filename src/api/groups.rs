//! `/api/block-groups`, `/api/template-groups` and `/api/deco-groups`: the names blocks,
//! templates and deco assets are filed under. One router serves the three; its
//! `GroupKind` (`ops::groups`) says which table and what counts as a use (a group still
//! named by anything is not deleted).

use std::sync::Arc;

use rusqlite::Connection;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::tx::{read, write_tx};
use crate::app::App;
use crate::db::DbError;
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::groups::{self as ops, GroupKind, GroupPatch};
use crate::time::now_ms;

/// `/api/<kind>-groups`.
pub async fn route(
    app: &Arc<App>,
    req: &mut Req,
    segs: &[&str],
    kind: &'static GroupKind,
) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => Ok(body::ok_json(&read(app, move |conn| list(conn, kind)).await?)),
            Post => create(app, req, kind).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&read(app, move |conn| group(conn, kind, id)).await?)),
                Put | Patch => update(app, req, kind, id).await,
                Delete => {
                    let changes = write_tx(app, move |tx| Ok(ops::delete(tx, kind, id)?)).await?;
                    app.apply(changes).await;
                    Ok(body::no_content())
                },
            })
        }
        _ => Err(router::not_found()),
    }
}

/// A group with how many members it files, under the count's name for its kind
/// (`block_count`, `template_count`, `deco_count`).
pub struct GroupView {
    id: i64,
    name: String,
    count: i64,
    count_field: &'static str,
}

impl Serialize for GroupView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry(self.count_field, &self.count)?;
        map.end()
    }
}

/// `SELECT` of the view's columns for `kind`, to be followed by a condition and order.
fn select(kind: &GroupKind) -> String {
    format!(
        "SELECT g.id, g.name, (SELECT count(*) FROM {members} m WHERE m.group_id = g.id)
         FROM {table} g",
        members = kind.members,
        table = kind.table
    )
}

fn list(conn: &Connection, kind: &'static GroupKind) -> Result<Vec<GroupView>, ApiError> {
    let sql = format!("{} ORDER BY g.name, g.id", select(kind));
    let rows = query(conn, &sql, [], kind).map_err(DbError::from)?;
    Ok(rows)
}

fn group(conn: &Connection, kind: &'static GroupKind, id: i64) -> Result<GroupView, ApiError> {
    let sql = format!("{} WHERE g.id = ?1", select(kind));
    let rows = query(conn, &sql, [id], kind).map_err(DbError::from)?;
    rows.into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(ops::GroupError::NotFound(kind.noun)))
}

fn query<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    kind: &'static GroupKind,
) -> rusqlite::Result<Vec<GroupView>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, |r| view(r, kind))?;
    rows.collect()
}

fn view(row: &rusqlite::Row<'_>, kind: &'static GroupKind) -> rusqlite::Result<GroupView> {
    Ok(GroupView {
        id: row.get(0)?,
        name: row.get(1)?,
        count: row.get(2)?,
        count_field: kind.count_field,
    })
}

async fn create(app: &Arc<App>, req: &mut Req, kind: &'static GroupKind) -> ApiResult {
    let patch: GroupPatch = req.params_requiring(&["name"]).await?;
    let (id, doc, changes) = write_tx(app, move |tx| {
        let (id, changes) = ops::create(tx, kind, &patch, now_ms())?;
        Ok((id, group(tx, kind, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::created(id, &doc))
}

async fn update(app: &Arc<App>, req: &mut Req, kind: &'static GroupKind, id: i64) -> ApiResult {
    let patch: GroupPatch = req.params().await?;
    let (doc, changes) = write_tx(app, move |tx| {
        let changes = ops::update(tx, kind, id, &patch, now_ms())?;
        Ok((group(tx, kind, id)?, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&doc))
}
