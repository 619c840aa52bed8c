//! Groups: the names blocks, templates and deco assets are filed under. The three kinds
//! share one shape — a unique name, and a delete refused while anything still names the
//! group — so one `GroupKind` describes each and these writes serve all three. Each write
//! runs inside the caller's write transaction and returns the `Changes` it made (none the
//! timeline can see: a group only files things). It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};

use super::fields::{patch, Name};
use super::readers;
use crate::changes::Changes;
use crate::db::DbError;
use crate::time::UnixMs;

/// One kind of group: its table, what it files, and what else may name it.
#[derive(Debug)]
pub struct GroupKind {
    /// The table of the groups (`block_groups`).
    pub table: &'static str,
    /// The group in words (`block group`), for messages.
    pub noun: &'static str,
    /// The table of what it files (`blocks`: each row's `group_id`).
    pub members: &'static str,
    /// The view's field counting the members (`block_count`, as API.md names it).
    pub count_field: &'static str,
    /// Everything that names a group, each a `count(*)` of `?1` and what it is in words:
    /// a delete is refused while any counts more than zero, so nothing loses its group
    /// silently.
    pub uses: &'static [(&'static str, &'static str)],
}

pub const BLOCK_GROUPS: GroupKind = GroupKind {
    table: "block_groups",
    noun: "block group",
    members: "blocks",
    count_field: "block_count",
    uses: &[(
        "SELECT count(*) FROM blocks WHERE group_id = ?1",
        "block(s)",
    )],
};

pub const TEMPLATE_GROUPS: GroupKind = GroupKind {
    table: "template_groups",
    noun: "template group",
    members: "templates",
    count_field: "template_count",
    uses: &[(
        "SELECT count(*) FROM templates WHERE group_id = ?1",
        "template(s)",
    )],
};

pub const DECO_GROUPS: GroupKind = GroupKind {
    table: "deco_groups",
    noun: "deco group",
    members: "deco",
    count_field: "deco_count",
    uses: &[
        (
            "SELECT count(*) FROM deco WHERE group_id = ?1",
            "deco asset(s)",
        ),
        (
            "SELECT count(*) FROM channel_deco WHERE deco_group_id = ?1",
            "channel(s)",
        ),
        (
            "SELECT count(*) FROM channel_deco_windows WHERE deco_group_id = ?1",
            "channel window(s)",
        ),
    ],
};

patch! {
    /// A group write: its name.
    pub struct GroupPatch {
        name: Name,
    }
}

/// Why a group write was refused.
#[derive(Debug)]
pub enum GroupError {
    NotFound(&'static str),
    NameTaken {
        noun: &'static str,
        name: String,
    },
    /// Something still names the group.
    InUse {
        noun: &'static str,
        count: i64,
        what: &'static str,
    },
    Db(DbError),
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::NotFound(noun) => write!(f, "{noun} not found"),
            GroupError::NameTaken { noun, name } => write!(f, "a {noun} named {name:?} exists"),
            GroupError::InUse { noun, count, what } => {
                write!(f, "the {noun} is in use by {count} {what}")
            }
            GroupError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(GroupError);

pub fn create(
    tx: &Transaction<'_>,
    kind: &GroupKind,
    patch: &GroupPatch,
    now_ms: UnixMs,
) -> Result<(i64, Changes), GroupError> {
    check_name(tx, kind, patch, None)?;
    let id = crate::db::row::insert(tx, kind.table, &patch.values(), now_ms)?;
    Ok((id, readers::unseen("group created")))
}

pub fn update(
    tx: &Transaction<'_>,
    kind: &GroupKind,
    id: i64,
    patch: &GroupPatch,
    now_ms: UnixMs,
) -> Result<Changes, GroupError> {
    check_name(tx, kind, patch, Some(id))?;
    if !crate::db::row::update(tx, kind.table, id, &patch.values(), now_ms)? {
        return Err(GroupError::NotFound(kind.noun));
    }
    Ok(readers::unseen("group updated"))
}

/// Deletes a group nothing names (anything that does is a 409).
pub fn delete(tx: &Transaction<'_>, kind: &GroupKind, id: i64) -> Result<Changes, GroupError> {
    for (sql, what) in kind.uses {
        let count: i64 = tx.query_row(sql, [id], |r| r.get(0))?;
        if count > 0 {
            return Err(GroupError::InUse {
                noun: kind.noun,
                count,
                what,
            });
        }
    }
    let sql = format!("DELETE FROM {} WHERE id = ?1", kind.table);
    match tx.execute(&sql, [id])? {
        0 => Err(GroupError::NotFound(kind.noun)),
        _ => Ok(readers::unseen("group deleted")),
    }
}

fn check_name(
    tx: &Transaction<'_>,
    kind: &GroupKind,
    patch: &GroupPatch,
    except: Option<i64>,
) -> Result<(), GroupError> {
    let Some(Name(name)) = patch.name.given() else {
        return Ok(());
    };
    let sql = format!(
        "SELECT id FROM {} WHERE name = ?1 AND id IS NOT ?2",
        kind.table
    );
    let other: Option<i64> = tx
        .query_row(&sql, params![name, except], |r| r.get(0))
        .optional()?;
    match other {
        Some(_) => Err(GroupError::NameTaken {
            noun: kind.noun,
            name: name.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> GroupPatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn names_are_unique_per_kind_and_a_named_group_is_not_deleted() {
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        let kids = patch(r#"{"name":"Kids"}"#);
        let (block_group, _) = create(&tx, &BLOCK_GROUPS, &kids, 1).unwrap();
        let err = create(&tx, &BLOCK_GROUPS, &kids, 1).unwrap_err();
        assert_eq!(err.to_string(), r#"a block group named "Kids" exists"#);
        // Another kind may use the same name.
        let (deco_group, _) = create(&tx, &DECO_GROUPS, &kids, 1).unwrap();
        tx.execute(
            "INSERT INTO blocks (name, group_id, start_time, duration_minutes, created_at_ms,
                                 updated_at_ms) VALUES ('B', ?1, '08:00', 30, 1, 1)",
            [block_group],
        )
        .unwrap();
        let err = delete(&tx, &BLOCK_GROUPS, block_group).unwrap_err();
        assert_eq!(err.to_string(), "the block group is in use by 1 block(s)");
        tx.execute("DELETE FROM blocks", []).unwrap();
        delete(&tx, &BLOCK_GROUPS, block_group).unwrap();
        let err = delete(&tx, &BLOCK_GROUPS, block_group).unwrap_err();
        assert_eq!(err.to_string(), "block group not found");
        let err = update(&tx, &TEMPLATE_GROUPS, 77, &kids, 1).unwrap_err();
        assert_eq!(err.to_string(), "template group not found");
        delete(&tx, &DECO_GROUPS, deco_group).unwrap();
    }
}
