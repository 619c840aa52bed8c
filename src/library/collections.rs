//! Smart collections: a small query language over the library, compiled to an SQL `WHERE`
//! with bound parameters (never spliced text), and the refresh that keeps smart and
//! first-run (folder) collections in step with the library after each scan.
//!
//! ## The query language
//! ```text
//! query  := term (" " term)*        every term must hold
//! term   := ["-"] field ":" values  a leading "-" negates the term
//!         | word                    a bare word: the title contains it
//! values := value ("|" value)*      any of the values may match
//! value  := bare | "quoted text"
//! ```
//! Fields (case-insensitive names and values):
//! - `show:NAME` — the show title is NAME.
//! - `season:N` — the season number is N.
//! - `genre:NAME` — one of the item's genres is NAME.
//! - `library:ID` or `library:NAME` — the item is in that library.
//! - `folder:PATH` — the file is inside PATH: absolute, or relative to its library's root.
//! - `type:KIND` — the media type: `episode`, `movie` or `other`.
//! - `title:TEXT` — the title contains TEXT.
//! - `year:N` or `year:N-M` — the year is N, or between N and M.
//!
//! Example: `show:"The Show"|Other season:1 -genre:horror`. Missing files and files
//! ffprobe could not read are never members.

use std::fmt;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use crate::db::DbError;
use crate::kinds::MediaType;

/// A query longer than this is refused: it bounds the compiled SQL.
pub const MAX_QUERY_LEN: usize = 1000;
/// Terms in one query at most (each becomes a clause).
const MAX_TERMS: usize = 32;

#[derive(Debug, PartialEq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

fn err(msg: impl Into<String>) -> QueryError {
    QueryError(msg.into())
}

/// A compiled query: an SQL condition on `media_items` and its parameters, in order.
#[derive(Debug)]
pub struct Compiled {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Splits into terms, keeping quoted text together.
fn tokens(query: &str) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(err("unbalanced quote"));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Splits `a|"b c"|d` into values, unquoting.
fn values(text: &str) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '|' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    if out.iter().any(|v| v.trim().is_empty()) {
        return Err(err(format!("empty value in {text:?}")));
    }
    Ok(out.into_iter().map(|v| v.trim().to_string()).collect())
}

pub fn compile(query: &str) -> Result<Compiled, QueryError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(err(format!("longer than {MAX_QUERY_LEN} characters")));
    }
    let terms = tokens(query)?;
    if terms.is_empty() {
        return Err(err("empty query"));
    }
    if terms.len() > MAX_TERMS {
        return Err(err(format!("more than {MAX_TERMS} terms")));
    }
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    for term in &terms {
        let (negated, body) = match term.strip_prefix('-') {
            Some(rest) if rest.contains(':') => (true, rest),
            _ => (false, term.as_str()),
        };
        let (field, raw) = match body.split_once(':') {
            Some((f, v)) if !f.contains('"') => (f.to_ascii_lowercase(), v),
            _ => ("title".to_string(), body),
        };
        let mut alternatives = Vec::new();
        for value in values(raw)? {
            alternatives.push(clause(&field, &value, &mut params)?);
        }
        let joined = format!("({})", alternatives.join(" OR "));
        clauses.push(if negated {
            format!("NOT coalesce({joined}, 0)")
        } else {
            joined
        });
    }
    Ok(Compiled {
        sql: clauses.join(" AND "),
        params,
    })
}

fn clause(field: &str, value: &str, params: &mut Vec<Value>) -> Result<String, QueryError> {
    let int = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| err(format!("{field}: {v:?} is not a number")))
    };
    Ok(match field {
        "show" => {
            params.push(Value::Text(value.to_string()));
            "lower(show_title) = lower(?)".into()
        }
        "season" => {
            params.push(Value::Integer(int(value)?));
            "season_number = ?".into()
        }
        "genre" => {
            params.push(Value::Text(value.to_string()));
            "instr(',' || lower(replace(genres, ', ', ',')) || ',', ',' || lower(?) || ',') > 0"
                .into()
        }
        "library" => match value.parse::<i64>() {
            Ok(id) => {
                params.push(Value::Integer(id));
                "library_id = ?".into()
            }
            Err(_) => {
                params.push(Value::Text(value.to_string()));
                "library_id IN (SELECT id FROM libraries WHERE lower(name) = lower(?))".into()
            }
        },
        "folder" => {
            let folder = value.trim_end_matches('/');
            if folder.starts_with('/') {
                params.push(Value::Text(format!("{folder}/")));
                "instr(url, ?) = 1".into()
            } else {
                params.push(Value::Text(format!("/{folder}/")));
                "EXISTS (SELECT 1 FROM libraries l WHERE l.id = media_items.library_id
                     AND instr(media_items.url, l.path || ?) = 1)"
                    .into()
            }
        }
        "type" => {
            // Names and NFOs never make a music video, so the query offers the other three.
            let kind = match value.to_ascii_lowercase().parse::<MediaType>() {
                Ok(kind @ (MediaType::Episode | MediaType::Movie | MediaType::Other)) => kind,
                Ok(MediaType::MusicVideo) | Err(_) => {
                    return Err(err(format!(
                        "type: {value:?} is not episode, movie or other"
                    )))
                }
            };
            params.push(Value::Text(kind.as_str().into()));
            "media_type = ?".into()
        }
        "title" => {
            params.push(Value::Text(value.to_string()));
            "instr(lower(title), lower(?)) > 0".into()
        }
        "year" => match value.split_once('-') {
            Some((a, b)) => {
                params.push(Value::Integer(int(a)?));
                params.push(Value::Integer(int(b)?));
                "year BETWEEN ? AND ?".into()
            }
            None => {
                params.push(Value::Integer(int(value)?));
                "year = ?".into()
            }
        },
        other => {
            return Err(err(format!(
                "unknown field {other:?} (show, season, genre, library, folder, type, title, year)"
            )))
        }
    })
}

/// The order members are added in: shows by season and episode, then titles.
const MEMBER_ORDER: &str =
    "show_title IS NULL, lower(show_title), season_number, episode_number, lower(title), id";

/// Makes a smart collection's members match its query: adds new matches (appended in
/// show/season/episode/title order), removes rows that no longer match. Returns the count.
pub fn refresh_smart(conn: &Connection, collection_id: i64, query: &str) -> Result<i64, DbError> {
    let compiled = compile(query).map_err(|e| DbError::Corrupt(format!("smart query: {e}")))?;
    let member = format!(
        "is_missing = 0 AND probe_error IS NULL AND ({})",
        compiled.sql
    );
    let mut p: Vec<Value> = vec![Value::Integer(collection_id)];
    p.extend(compiled.params.iter().cloned());
    conn.execute(
        &format!(
            "DELETE FROM collection_items WHERE collection_id = ?
             AND media_item_id NOT IN (SELECT id FROM media_items WHERE {member})"
        ),
        params_from_iter(p.iter()),
    )?;
    append_members(conn, collection_id, &member, &compiled.params)?;
    Ok(conn.query_row(
        "SELECT count(*) FROM collection_items WHERE collection_id = ?1",
        [collection_id],
        |r| r.get(0),
    )?)
}

/// Appends every media item matching `member` (an SQL condition with `params`) that is not
/// yet in the collection.
fn append_members(
    conn: &Connection,
    collection_id: i64,
    member: &str,
    params: &[Value],
) -> Result<usize, DbError> {
    let mut p: Vec<Value> = vec![Value::Integer(collection_id), Value::Integer(collection_id)];
    p.extend(params.iter().cloned());
    p.push(Value::Integer(collection_id));
    Ok(conn.execute(
        &format!(
            "INSERT INTO collection_items (collection_id, media_item_id, position)
             SELECT ?, id,
                 (SELECT coalesce(max(position), -1) FROM collection_items WHERE collection_id = ?)
                 + row_number() OVER (ORDER BY {MEMBER_ORDER})
             FROM media_items
             WHERE ({member})
               AND id NOT IN (SELECT media_item_id FROM collection_items WHERE collection_id = ?)"
        ),
        params_from_iter(p.iter()),
    )?)
}

/// After a scan: every smart collection re-evaluated, and every first-run folder collection
/// given the folder's new playable items. One transaction.
pub fn refresh_after_scan(conn: &mut Connection) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    let smart: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(
            "SELECT id, search_query FROM collections
             WHERE collection_type = 'smart' AND search_query IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, query) in smart {
        if let Err(e) = refresh_smart(&tx, id, &query) {
            tracing::warn!(collection = id, error = %e, "smart collection not refreshed");
        }
    }
    let folders: Vec<(i64, String)> = {
        let mut stmt =
            tx.prepare("SELECT id, auto_folder FROM collections WHERE auto_folder IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, folder) in folders {
        append_folder(&tx, id, &folder)?;
    }
    tx.commit()?;
    Ok(())
}

/// Appends the playable items under `folder` (absolute) that the collection lacks.
pub fn append_folder(
    conn: &Connection,
    collection_id: i64,
    folder: &str,
) -> Result<usize, DbError> {
    append_members(
        conn,
        collection_id,
        "is_missing = 0 AND probe_error IS NULL AND instr(url, ?) = 1",
        &[Value::Text(format!("{}/", folder.trim_end_matches('/')))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_queries() {
        let c = compile(r#"show:"The Show"|Other season:1 -genre:horror"#).unwrap();
        assert_eq!(
            c.sql,
            "(lower(show_title) = lower(?) OR lower(show_title) = lower(?)) AND (season_number = ?) \
             AND NOT coalesce((instr(',' || lower(replace(genres, ', ', ',')) || ',', ',' || lower(?) || ',') > 0), 0)"
        );
        assert_eq!(
            c.params,
            [
                Value::Text("The Show".into()),
                Value::Text("Other".into()),
                Value::Integer(1),
                Value::Text("horror".into())
            ]
        );
        assert_eq!(
            compile("pilot").unwrap().sql,
            "(instr(lower(title), lower(?)) > 0)"
        );
        assert_eq!(compile("year:1990-1999").unwrap().params.len(), 2);
    }

    #[test]
    fn refuses_bad_queries() {
        for (q, want) in [
            ("", "empty query"),
            ("show:\"open", "unbalanced quote"),
            ("season:x", "season: \"x\" is not a number"),
            ("type:song", "type: \"song\" is not episode, movie or other"),
            ("show:a|", "empty value in \"a|\""),
        ] {
            assert_eq!(compile(q).unwrap_err().0, want, "{q}");
        }
        assert!(compile("colour:red")
            .unwrap_err()
            .0
            .starts_with("unknown field"));
    }

    #[test]
    fn runs_against_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE libraries (id INTEGER PRIMARY KEY, name TEXT, path TEXT);
             CREATE TABLE media_items (id INTEGER PRIMARY KEY, library_id INTEGER, url TEXT,
                 title TEXT, show_title TEXT, season_number INTEGER, episode_number INTEGER,
                 genres TEXT, media_type TEXT, year INTEGER, is_missing INTEGER DEFAULT 0,
                 probe_error TEXT);
             CREATE TABLE collection_items (id INTEGER PRIMARY KEY, collection_id INTEGER,
                 media_item_id INTEGER, position INTEGER, UNIQUE (collection_id, media_item_id));
             INSERT INTO libraries VALUES (1, 'TV', '/m/tv');
             INSERT INTO media_items (id, library_id, url, title, show_title, season_number,
                 episode_number, genres, media_type, year) VALUES
               (1, 1, '/m/tv/A/e2.mkv', 'Two', 'A', 1, 2, 'Drama,Comedy', 'episode', NULL),
               (2, 1, '/m/tv/A/e1.mkv', 'One', 'A', 1, 1, 'Drama', 'episode', NULL),
               (3, 1, '/m/tv/B/x.mkv', 'Film', NULL, NULL, NULL, 'Horror', 'movie', 2001);",
        )
        .unwrap();
        assert_eq!(refresh_smart(&conn, 7, "folder:A genre:drama").unwrap(), 2);
        let order: Vec<i64> = conn
            .prepare("SELECT media_item_id FROM collection_items ORDER BY position")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(order, [2, 1]);
        conn.execute("UPDATE media_items SET is_missing = 1 WHERE id = 2", [])
            .unwrap();
        assert_eq!(refresh_smart(&conn, 7, "folder:A genre:drama").unwrap(), 1);
        assert_eq!(
            refresh_smart(&conn, 8, "-type:episode year:2000-2002").unwrap(),
            1
        );
        assert_eq!(
            refresh_smart(&conn, 9, "library:tv folder:/m/tv/B").unwrap(),
            1
        );
        assert_eq!(append_folder(&conn, 10, "/m/tv/A").unwrap(), 1);
    }
}
