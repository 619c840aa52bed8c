//! Template writes: template groups, templates (a day laid out from blocks, each placed at
//! its own `"HH:MM"` in that day) and their items, and a template applied to a channel's
//! playout for days of the week with a priority (the highest wins a day two cover). Each
//! write runs inside the caller's write transaction and returns the `Changes` it made: the
//! playouts a template reaches are rebuilt after the commit. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::blocks::BlockTime;
use super::fields::{patch, AnyId, Flag, Int, Name};
use super::ids::{ChannelId, PlayoutId};
use super::readers;
use crate::changes::{Changes, Rebuild};
use crate::db::DbError;
use crate::time::UnixMs;

/// Items in one template at most: a day holds far fewer blocks.
pub const MAX_TEMPLATE_ITEMS: i64 = 500;
/// Every day of the week, as a `days_of_week` mask (bit 0 = Sunday).
pub const EVERY_DAY: i64 = 127;

patch! {
    /// The fields a template write sends.
    pub struct TemplatePatch {
        name: Name,
        group_id: Option<AnyId>,
        is_enabled: Flag,
    }
}

patch! {
    /// The fields a template item write sends; a new item without `start_time` takes its
    /// block's own.
    pub struct ItemPatch {
        block_id: AnyId,
        start_time: BlockTime,
    }
}

patch! {
    /// `POST /api/templates/{id}/apply/{channel_id}`: no `day_of_week` means every day.
    pub struct ApplyPatch {
        /// 0 = Sunday .. 6 = Saturday.
        day_of_week: Option<Int<0, 6>>,
        priority: Int<-1000, 1000>,
    }
}

/// Why a template write was refused.
#[derive(Debug)]
pub enum TemplateError {
    NotFound,
    ItemNotFound,
    ChannelNotFound,
    Full,
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::NotFound => f.write_str("template not found"),
            TemplateError::ItemNotFound => f.write_str("no such item in the template"),
            TemplateError::ChannelNotFound => f.write_str("channel not found"),
            TemplateError::Full => {
                write!(f, "a template holds at most {MAX_TEMPLATE_ITEMS} items")
            }
            TemplateError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            TemplateError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(TemplateError);

fn invalid(field: &'static str, problem: &str) -> TemplateError {
    TemplateError::Invalid {
        field,
        problem: problem.into(),
    }
}

pub fn create(
    tx: &Transaction<'_>,
    patch: &TemplatePatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), TemplateError> {
    check_group(tx, patch)?;
    let id = crate::db::row::insert(tx, "templates", &patch.values(), now_ms)?;
    Ok((id, readers::unseen("template created")))
}

/// Changes a template; the playouts it is applied to are rebuilt (`is_enabled` may flip).
pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    patch: &TemplatePatch,
    now_ms: UnixMs,
) -> Result<Changes, TemplateError> {
    check_group(tx, patch)?;
    if !crate::db::row::update(tx, "templates", id, &patch.values(), now_ms)? {
        return Err(TemplateError::NotFound);
    }
    rebuilding_template(tx, id, "template updated")
}

/// Deletes a template with its items and applications; its playouts fall back to their
/// schedule.
pub fn delete(tx: &Transaction<'_>, id: i64) -> Result<Changes, TemplateError> {
    let changes = rebuilding_template(tx, id, "template deleted")?;
    tx.execute(
        "UPDATE playouts SET template_id = NULL WHERE template_id = ?1",
        [id],
    )?;
    match tx.execute("DELETE FROM templates WHERE id = ?1", [id])? {
        0 => Err(TemplateError::NotFound),
        _ => Ok(changes),
    }
}

fn check_group(tx: &Transaction<'_>, patch: &TemplatePatch) -> Result<(), TemplateError> {
    if let Some(Int(group)) = patch.group_id.value() {
        if !crate::db::exists(tx, "template_groups", group)? {
            return Err(invalid("group_id", "no such template group"));
        }
    }
    Ok(())
}

/// Adds an item: its block must exist (422 naming `block_id`); without a `start_time` it
/// takes the block's own.
pub fn add_item(
    tx: &Transaction<'_>,
    template: i64,
    patch: &ItemPatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), TemplateError> {
    ensure_template(tx, template)?;
    let Some(Int(block)) = patch.block_id.given().copied() else {
        return Err(invalid("block_id", "field required"));
    };
    let start = match patch.start_time.given() {
        Some(time) => time.0.clone(),
        None => block_start(tx, block)?,
    };
    let n_items: i64 = tx.query_row(
        "SELECT count(*) FROM template_items WHERE template_id = ?1",
        [template],
        |r| r.get(0),
    )?;
    if n_items >= MAX_TEMPLATE_ITEMS {
        return Err(TemplateError::Full);
    }
    tx.execute(
        "INSERT INTO template_items (template_id, block_id, start_time) VALUES (?1, ?2, ?3)",
        params![template, block, start],
    )?;
    let id = tx.last_insert_rowid();
    touch(tx, template, now_ms)?;
    Ok((
        id,
        rebuilding_template(tx, template, "template item added")?,
    ))
}

pub fn update_item(
    tx: &Transaction<'_>,
    template: i64,
    item: i64,
    patch: &ItemPatch,
    now_ms: UnixMs,
) -> Result<Changes, TemplateError> {
    if !item_exists(tx, template, item)? {
        return Err(item_missing(tx, template)?);
    }
    if let Some(Int(block)) = patch.block_id.given().copied() {
        block_start(tx, block)?;
    }
    for (column, value) in &patch.values() {
        // `column` is one of the patch's fixed column names, never client input.
        tx.execute(
            &format!("UPDATE template_items SET {column} = ?2 WHERE id = ?1"),
            params![item, value],
        )?;
    }
    touch(tx, template, now_ms)?;
    rebuilding_template(tx, template, "template item updated")
}

pub fn remove_item(
    tx: &Transaction<'_>,
    template: i64,
    item: i64,
    now_ms: UnixMs,
) -> Result<Changes, TemplateError> {
    let n = tx.execute(
        "DELETE FROM template_items WHERE id = ?1 AND template_id = ?2",
        params![item, template],
    )?;
    if n == 0 {
        return Err(item_missing(tx, template)?);
    }
    touch(tx, template, now_ms)?;
    rebuilding_template(tx, template, "template item removed")
}

/// What `apply` did: the playout the template now lays out, and the day (`None`: every day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub playout_id: PlayoutId,
    pub day_of_week: Option<i64>,
}

/// Applies the template to the channel's active playout (created, with `seed`, when the
/// channel has none) for one day of the week or every day. A day the template already
/// covers on that playout is replaced, so applying twice never stacks.
pub fn apply(
    tx: &Transaction<'_>,
    template: i64,
    channel: ChannelId,
    patch: &ApplyPatch,
    seed: i64,
    now_ms: UnixMs,
) -> Result<(Applied, Changes), TemplateError> {
    ensure_template(tx, template)?;
    if !crate::db::exists(tx, "channels", channel.0)? {
        return Err(TemplateError::ChannelNotFound);
    }
    let playout = match active_playout(tx, channel)? {
        Some(id) => id,
        None => {
            tx.execute(
                "INSERT INTO playouts (channel_id, template_id, seed, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![channel, template, seed, now_ms],
            )?;
            PlayoutId(tx.last_insert_rowid())
        }
    };
    let day = patch.day_of_week.value().map(|d| d.0);
    let mask = day.map_or(EVERY_DAY, |d| 1 << d);
    let priority = patch.priority.given().map_or(0, |p| p.0);
    // The same template re-applied to days it covers: those days move to the new row.
    tx.execute(
        "UPDATE playout_templates SET days_of_week = days_of_week & ~?3
         WHERE playout_id = ?1 AND template_id = ?2",
        params![playout, template, mask],
    )?;
    tx.execute(
        "DELETE FROM playout_templates WHERE playout_id = ?1 AND days_of_week = 0",
        [playout],
    )?;
    tx.execute(
        "INSERT INTO playout_templates (playout_id, template_id, days_of_week, priority, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![playout, template, mask, priority, now_ms],
    )?;
    tx.execute(
        "UPDATE playouts SET template_id = ?2, updated_at_ms = ?3 WHERE id = ?1",
        params![playout, template, now_ms],
    )?;
    let applied = Applied {
        playout_id: playout,
        day_of_week: day,
    };
    let changes = Changes::rebuilding(Rebuild::of([playout]), "template applied");
    Ok((applied, changes))
}

fn active_playout(conn: &Connection, channel: ChannelId) -> Result<Option<PlayoutId>, DbError> {
    Ok(conn
        .query_row(
            "SELECT id FROM playouts WHERE channel_id = ?1 ORDER BY is_active DESC, id LIMIT 1",
            [channel],
            |r| r.get(0),
        )
        .optional()?)
}

/// The playouts a template is applied to.
pub fn playouts_of_template(conn: &Connection, template: i64) -> Result<Rebuild, DbError> {
    playouts_where(
        conn,
        "SELECT DISTINCT playout_id FROM playout_templates WHERE template_id = ?1",
        template,
    )
}

/// The playouts whose applied templates place `block`: what a block edit rebuilds.
pub fn playouts_of_block(conn: &Connection, block: i64) -> Result<Rebuild, DbError> {
    playouts_where(
        conn,
        "SELECT DISTINCT pt.playout_id FROM playout_templates pt
         JOIN template_items ti ON ti.template_id = pt.template_id
         WHERE ti.block_id = ?1",
        block,
    )
}

fn playouts_where(conn: &Connection, sql: &str, id: i64) -> Result<Rebuild, DbError> {
    let ids: Vec<PlayoutId> = conn
        .prepare_cached(sql)?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Rebuild::of(ids))
}

fn rebuilding_template(
    conn: &Connection,
    template: i64,
    cause: &str,
) -> Result<Changes, TemplateError> {
    let rebuild = playouts_of_template(conn, template)?;
    Ok(Changes::rebuilding(rebuild, cause))
}

/// The block's own start time; a missing block is a 422 naming `block_id`.
fn block_start(conn: &Connection, block: i64) -> Result<String, TemplateError> {
    conn.query_row(
        "SELECT start_time FROM blocks WHERE id = ?1",
        [block],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| invalid("block_id", "no such block"))
}

fn item_exists(conn: &Connection, template: i64, item: i64) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM template_items WHERE id = ?1 AND template_id = ?2",
            params![item, template],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn item_missing(conn: &Connection, template: i64) -> Result<TemplateError, TemplateError> {
    ensure_template(conn, template)?;
    Ok(TemplateError::ItemNotFound)
}

fn ensure_template(conn: &Connection, template: i64) -> Result<(), TemplateError> {
    match crate::db::exists(conn, "templates", template)? {
        true => Ok(()),
        false => Err(TemplateError::NotFound),
    }
}

fn touch(tx: &Transaction<'_>, template: i64, now_ms: UnixMs) -> Result<(), DbError> {
    tx.execute(
        "UPDATE templates SET updated_at_ms = ?2 WHERE id = ?1",
        params![template, now_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(tx: &Transaction<'_>) -> (i64, i64) {
        tx.execute_batch(
            "INSERT INTO channels (id, number, name, created_at_ms, updated_at_ms)
             VALUES (3, '3', 'Three', 1, 1);
             INSERT INTO blocks (id, name, start_time, duration_minutes, created_at_ms, updated_at_ms)
             VALUES (8, 'Morning', '08:00', 60, 1, 1);",
        )
        .unwrap();
        let patch: TemplatePatch = serde_json::from_str(r#"{"name":"Weekday"}"#).unwrap();
        let (template, _) = create(tx, &patch, 1).unwrap();
        (template, 8)
    }

    #[test]
    fn an_item_takes_its_blocks_start_unless_it_names_one() {
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        let (template, block) = setup(&tx);
        let own: ItemPatch = serde_json::from_str(&format!(r#"{{"block_id":{block}}}"#)).unwrap();
        let (a, _) = add_item(&tx, template, &own, 2).unwrap();
        let placed: ItemPatch =
            serde_json::from_str(&format!(r#"{{"block_id":{block},"start_time":"21:30"}}"#))
                .unwrap();
        let (b, _) = add_item(&tx, template, &placed, 2).unwrap();
        let start = |id: i64| -> String {
            tx.query_row(
                "SELECT start_time FROM template_items WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!((start(a), start(b)), ("08:00".into(), "21:30".into()));
        let missing: ItemPatch = serde_json::from_str(r#"{"block_id":99}"#).unwrap();
        let err = add_item(&tx, template, &missing, 2).unwrap_err();
        assert_eq!(err.to_string(), "block_id: no such block");
    }

    #[test]
    fn applying_creates_the_playout_and_replaces_the_days_it_covers() {
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        let (template, _) = setup(&tx);
        let every: ApplyPatch = serde_json::from_str("{}").unwrap();
        let (first, changes) = apply(&tx, template, ChannelId(3), &every, 5, 2).unwrap();
        assert_eq!(first.day_of_week, None);
        assert!(changes.rebuild.contains(first.playout_id));
        let sunday: ApplyPatch = serde_json::from_str(r#"{"day_of_week":0,"priority":2}"#).unwrap();
        let (again, _) = apply(&tx, template, ChannelId(3), &sunday, 5, 3).unwrap();
        assert_eq!(
            again.playout_id, first.playout_id,
            "the channel's playout is reused"
        );
        let masks: Vec<(i64, i64)> = tx
            .prepare("SELECT days_of_week, priority FROM playout_templates ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(masks, vec![(126, 0), (1, 2)]);
        assert!(matches!(
            apply(&tx, template, ChannelId(99), &every, 5, 2),
            Err(TemplateError::ChannelNotFound)
        ));
        let err = serde_json::from_str::<ApplyPatch>(r#"{"day_of_week":7}"#).unwrap_err();
        assert!(err.to_string().contains("between 0 and 6"), "{err}");
    }
}
