//! Our libraries and collections ranked against what a request asks for: how many items
//! match, how many hours, and what share of each source that is. Counts come from the
//! smart-collection query language (`library::collections`), so what a plan promises is
//! exactly what the smart collection it creates will hold.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::library::collections as smart;

/// What to look for: the content part of an intent's segment, or `/sources`'s body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub genres: Vec<String>,
    pub shows: Vec<String>,
    pub libraries: Vec<String>,
    /// Media types: `episode`, `movie`, `other`.
    pub content_types: Vec<String>,
    pub year_min: Option<i32>,
    pub year_max: Option<i32>,
    /// Library names left out.
    pub excluded: Vec<String>,
}

impl Filter {
    /// The smart-collection query, or `None` for "everything".
    pub fn query(&self) -> Option<String> {
        let mut terms = Vec::new();
        let any = |field: &str, values: &[String]| -> Option<String> {
            let values: Vec<String> = values
                .iter()
                .map(|v| v.replace('"', ""))
                .filter(|v| !v.trim().is_empty())
                .map(|v| format!("\"{v}\""))
                .collect();
            (!values.is_empty()).then(|| format!("{field}:{}", values.join("|")))
        };
        // A show named is what the user wants; its genre would only narrow it.
        if self.shows.is_empty() {
            terms.extend(any("genre", &self.genres));
        } else {
            terms.extend(any("show", &self.shows));
        }
        terms.extend(any("library", &self.libraries));
        terms.extend(any("type", &self.content_types));
        terms.extend(any("-library", &self.excluded));
        match (self.year_min, self.year_max) {
            (Some(lo), Some(hi)) if lo == hi => terms.push(format!("year:{lo}")),
            (Some(lo), Some(hi)) => terms.push(format!("year:{lo}-{hi}")),
            (Some(lo), None) => terms.push(format!("year:{lo}-2100")),
            (None, Some(hi)) => terms.push(format!("year:1800-{hi}")),
            (None, None) => {}
        }
        (!terms.is_empty()).then(|| terms.join(" "))
    }
}

/// Items and hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub items: i64,
    pub hours: f64,
}

/// One member condition over `media_items` with its parameters.
pub struct Condition {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Playable items: what a smart collection would hold.
const PLAYABLE: &str = "is_missing = 0 AND probe_error IS NULL";

impl Condition {
    pub fn of_query(query: Option<&str>) -> Result<Condition, DbError> {
        let Some(query) = query else {
            return Ok(Condition {
                sql: "1".into(),
                params: Vec::new(),
            });
        };
        let compiled = smart::compile(query).map_err(|e| DbError::Corrupt(e.to_string()))?;
        Ok(Condition {
            sql: compiled.sql,
            params: compiled.params,
        })
    }

    pub fn in_collection(id: i64) -> Condition {
        Condition {
            sql: "id IN (SELECT media_item_id FROM collection_items WHERE collection_id = ?)"
                .into(),
            params: vec![Value::Integer(id)],
        }
    }

    /// Items matching every condition.
    pub fn all(parts: &[&Condition]) -> Condition {
        Self::join(parts, " AND ")
    }

    /// Items matching any condition.
    pub fn any(parts: &[&Condition]) -> Condition {
        if parts.is_empty() {
            return Condition {
                sql: "0".into(),
                params: Vec::new(),
            };
        }
        Self::join(parts, " OR ")
    }

    fn join(parts: &[&Condition], op: &str) -> Condition {
        let sql: Vec<String> = parts.iter().map(|c| format!("({})", c.sql)).collect();
        Condition {
            sql: if sql.is_empty() {
                "1".into()
            } else {
                sql.join(op)
            },
            params: parts
                .iter()
                .flat_map(|c| c.params.iter().cloned())
                .collect(),
        }
    }

    pub fn amount(&self, conn: &Connection) -> Result<Amount, DbError> {
        let sql = format!(
            "SELECT count(*), coalesce(sum(duration_ms), 0) FROM media_items
             WHERE {PLAYABLE} AND ({})",
            self.sql
        );
        let (items, ms): (i64, i64) = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(self.params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok(Amount {
            items,
            hours: round2(ms as f64 / 3_600_000.0),
        })
    }
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One source against the filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    pub source_type: &'static str,
    pub id: i64,
    pub name: String,
    pub matching_items: i64,
    pub matching_hours: f64,
    pub total_items: i64,
    /// The share of the source that matches, 0..1.
    pub coverage: f64,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sources {
    pub query: Option<String>,
    pub rankings: Vec<Ranking>,
    pub primary_source: Option<Ranking>,
    pub recommended_combination: Vec<String>,
    pub total_content_available: Amount,
    pub coverage_notes: Vec<String>,
}

/// Ranks every library and collection: most matching hours first, then name.
pub fn rank(conn: &Connection, filter: &Filter) -> Result<Sources, DbError> {
    let query = filter.query();
    let wanted = Condition::of_query(query.as_deref())?;
    let mut rankings = Vec::new();
    for (source_type, table, member) in [
        ("library", "libraries", "library_id = ?"),
        (
            "collection",
            "collections",
            "id IN (SELECT media_item_id FROM collection_items WHERE collection_id = ?)",
        ),
    ] {
        let sources: Vec<(i64, String)> = conn
            .prepare(&format!("SELECT id, name FROM {table} ORDER BY id"))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, name) in sources {
            let of = Condition {
                sql: member.into(),
                params: vec![Value::Integer(id)],
            };
            let total = of.amount(conn)?;
            let matching = Condition::all(&[&of, &wanted]).amount(conn)?;
            let coverage = if total.items == 0 {
                0.0
            } else {
                round2(matching.items as f64 / total.items as f64)
            };
            rankings.push(Ranking {
                source_type,
                id,
                name,
                matching_items: matching.items,
                matching_hours: matching.hours,
                total_items: total.items,
                coverage,
                score: round2(matching.hours + coverage),
            });
        }
    }
    rankings.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    let total = wanted.amount(conn)?;
    let useful: Vec<&Ranking> = rankings.iter().filter(|r| r.matching_items > 0).collect();
    let mut notes = Vec::new();
    if total.items == 0 {
        notes.push("nothing in the library matches".to_string());
    } else if total.hours < 24.0 {
        notes.push(format!(
            "{} hours match: less than a day, so programmes will repeat often",
            total.hours
        ));
    }
    Ok(Sources {
        query,
        primary_source: useful.first().map(|r| (*r).clone()),
        recommended_combination: useful.iter().take(3).map(|r| r.name.clone()).collect(),
        rankings,
        total_content_available: total,
        coverage_notes: notes,
    })
}
