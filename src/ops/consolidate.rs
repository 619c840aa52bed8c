//! Consolidating collections (EXStreamTV's `/api/collections/consolidate`): manual
//! collections that are parts of one — "Cartoons Day 1", "Cartoons Day 2", "Cartoons (3)"
//! — are merged into the first of them under their base name, members in part order, and
//! everything that named a part (schedule items, fillers, block items, playlists,
//! multi-collections, deco) then names the merged one. A dry run reports the same groups
//! and changes nothing. Runs inside the caller's write transaction; knows no HTTP.

use std::collections::BTreeMap;

use rusqlite::{params, Transaction};

use crate::changes::Changes;
use crate::db::DbError;

/// One merge: the parts' names, the collection kept and how many items it holds after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub base_name: String,
    pub kept_id: i64,
    pub merged: Vec<String>,
    pub items: i64,
}

/// A part: its number, collection id and name.
type Part = (u32, i64, String);

/// Every place a collection is named, with the condition that says a row names one (the
/// polymorphic columns name playlists or media too). `OR IGNORE`: a row that would repeat
/// one the kept collection already has stays on the part and goes with it.
const REFERENCES: &[(&str, &str, &str)] = &[
    (
        "schedule_items",
        "collection_id",
        "collection_type NOT IN ('playlist', 'media_item', 'multi_collection')",
    ),
    ("schedule_items", "tail_filler_collection_id", "1"),
    (
        "filler_items",
        "collection_id",
        "collection_type = 'collection'",
    ),
    (
        "block_items",
        "collection_id",
        "collection_type IN ('collection', 'smart_collection')",
    ),
    ("playlist_items", "collection_id", "1"),
    ("multi_collection_links", "collection_id", "1"),
    ("channel_deco", "default_filler_collection_id", "1"),
    ("schedules", "collection_id", "1"),
];

/// The base name and the part number of a part's name: "Cartoons Day 2" → ("Cartoons", 2),
/// "Cartoons (3)" → ("Cartoons", 3), "Cartoons - Part 4" → ("Cartoons", 4); `None` for a
/// name that is not a part.
pub fn part_of(name: &str) -> Option<(String, u32)> {
    let name = name.trim();
    let (head, number) = match name.strip_suffix(')') {
        Some(inner) => {
            let (head, digits) = inner.rsplit_once('(')?;
            (head, digits.trim())
        }
        None => {
            let digits_at = name.rfind(|c: char| !c.is_ascii_digit())? + 1;
            (&name[..digits_at], &name[digits_at..])
        }
    };
    let number: u32 = number.parse().ok()?;
    let mut head = head.trim_end();
    for word in ["day", "part", "episode", "ep", "#", "no."] {
        let lower = head.to_ascii_lowercase();
        if lower.ends_with(word) {
            head = head[..head.len() - word.len()].trim_end();
            break;
        }
    }
    let base = head.trim_end_matches(['-', '–', ':', ',', ' ']).trim();
    (!base.is_empty()).then(|| (base.to_string(), number))
}

/// Finds the groups (two parts or more of one base name, manual collections only) and,
/// unless `dry_run`, merges each.
pub fn consolidate(
    tx: &Transaction<'_>,
    dry_run: bool,
    now_ms: i64,
) -> Result<(Vec<Group>, Changes), DbError> {
    let mut parts: BTreeMap<String, (String, Vec<Part>)> = BTreeMap::new();
    let mut stmt = tx
        .prepare("SELECT id, name FROM collections WHERE collection_type = 'manual' ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, name) = row?;
        if let Some((base, n)) = part_of(&name) {
            let entry = parts
                .entry(base.to_lowercase())
                .or_insert_with(|| (base, Vec::new()));
            entry.1.push((n, id, name));
        }
    }
    drop(stmt);
    let mut groups = Vec::new();
    for (_, (base, mut members)) in parts {
        if members.len() < 2 {
            continue;
        }
        members.sort();
        let kept = members.iter().map(|m| m.1).min().unwrap_or(members[0].1);
        let items = if dry_run {
            distinct_items(tx, &members)?
        } else {
            merge(tx, &base, kept, &members, now_ms)?
        };
        groups.push(Group {
            base_name: base,
            kept_id: kept,
            merged: members.into_iter().map(|m| m.2).collect(),
            items,
        });
    }
    let changes = if dry_run || groups.is_empty() {
        Changes::default()
    } else {
        Changes::all("collections consolidated")
    };
    Ok((groups, changes))
}

fn distinct_items(tx: &Transaction<'_>, members: &[Part]) -> Result<i64, DbError> {
    let mut n = std::collections::HashSet::new();
    for (_, id, _) in members {
        let mut stmt = tx.prepare_cached(
            "SELECT media_item_id FROM collection_items WHERE collection_id = ?1",
        )?;
        for m in stmt.query_map([id], |r| r.get::<_, i64>(0))? {
            n.insert(m?);
        }
    }
    Ok(n.len() as i64)
}

/// Merges `members` (in part order) into `kept`; returns its item count.
fn merge(
    tx: &Transaction<'_>,
    base: &str,
    kept: i64,
    members: &[Part],
    now_ms: i64,
) -> Result<i64, DbError> {
    // The members in part order, each part's own order kept, each item once.
    let mut order: Vec<i64> = Vec::new();
    for (_, id, _) in members {
        let mut stmt = tx.prepare_cached(
            "SELECT media_item_id FROM collection_items WHERE collection_id = ?1
             ORDER BY position, id",
        )?;
        for m in stmt.query_map([id], |r| r.get::<_, i64>(0))? {
            let m = m?;
            if !order.contains(&m) {
                order.push(m);
            }
        }
    }
    tx.execute(
        "DELETE FROM collection_items WHERE collection_id = ?1",
        [kept],
    )?;
    for (position, media) in order.iter().enumerate() {
        tx.execute(
            "INSERT INTO collection_items (collection_id, media_item_id, position) VALUES (?1, ?2, ?3)",
            params![kept, media, position as i64],
        )?;
    }
    for (_, id, _) in members.iter().filter(|m| m.1 != kept) {
        for (table, column, names_one) in REFERENCES {
            tx.execute(
                &format!(
                    "UPDATE OR IGNORE {table} SET {column} = ?1 WHERE {column} = ?2 AND ({names_one})"
                ),
                params![kept, id],
            )?;
        }
        tx.execute("DELETE FROM collections WHERE id = ?1", [id])?;
    }
    // The base name, unless another collection has it already.
    tx.execute(
        "UPDATE collections SET name = ?2, updated_at_ms = ?3 WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM collections WHERE name = ?2 AND id != ?1)",
        params![kept, base, now_ms],
    )?;
    Ok(order.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_give_their_base_and_number() {
        for (name, want) in [
            ("Cartoons Day 2", Some(("Cartoons", 2))),
            ("Cartoons - Day 10", Some(("Cartoons", 10))),
            ("Cartoons (3)", Some(("Cartoons", 3))),
            ("Cartoons Part 4", Some(("Cartoons", 4))),
            ("Cartoons #5", Some(("Cartoons", 5))),
            ("Cartoons 6", Some(("Cartoons", 6))),
            ("Cartoons", None),
            ("1999", None),
            ("Day 3", None),
        ] {
            let got = part_of(name);
            assert_eq!(got.as_ref().map(|(b, n)| (b.as_str(), *n)), want, "{name}");
        }
    }
}
