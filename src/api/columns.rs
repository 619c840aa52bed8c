//! Table-driven JSON ↔ SQLite for the plain CRUD resources (channels, schedules, schedule
//! items, FFmpeg profiles, resolutions, filler presets): each resource lists its columns once
//! with a kind, and gets validation (422 `"field: problem"`), partial updates (only the
//! fields sent change; `null` clears a nullable one) and its JSON rendering from that list.

use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row};
use serde_json::{Map, Value};

use crate::http::ApiError;
use crate::kinds::{is_channel_number, TextEnum, Values};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Any string (a number is taken as its text).
    Text,
    /// A string with at least one non-blank character.
    Name,
    Int {
        min: i64,
        max: i64,
    },
    Float,
    Bool,
    /// One of an enum's values (`kinds`), stored as its canonical text (an accepted older
    /// spelling is stored as the canonical one).
    Enum(Values),
    /// `HH:MM[:SS]`, stored as `HH:MM:SS`.
    Time,
    /// `^\d+(\.\d+)?$`, as HDHomeRun GuideNumbers.
    ChannelNumber,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The JSON field.
    pub json: &'static str,
    /// The SQL column (quoted where it is a keyword).
    pub sql: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

pub const fn col(json: &'static str, kind: Kind) -> Column {
    Column {
        json,
        sql: json,
        kind,
        nullable: false,
    }
}

pub const fn opt(json: &'static str, kind: Kind) -> Column {
    Column {
        json,
        sql: json,
        kind,
        nullable: true,
    }
}

pub const ID: Kind = Kind::Int {
    min: 1,
    max: i64::MAX,
};

/// One of `T`'s values: the allowed list is the enum's, never a second copy of it.
pub const fn one_of<T: TextEnum>() -> Kind {
    Kind::Enum(Values::of::<T>())
}

/// The value of one JSON field as SQLite stores it, validated.
pub fn to_sql(column: &Column, value: &Value) -> Result<SqlValue, ApiError> {
    let field = column.json;
    if value.is_null() {
        return if column.nullable {
            Ok(SqlValue::Null)
        } else {
            Err(ApiError::invalid(field, "may not be null"))
        };
    }
    let text = || -> Result<String, ApiError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(ApiError::invalid(field, "expected a string")),
        }
    };
    Ok(match column.kind {
        Kind::Text => SqlValue::Text(text()?),
        Kind::Name => {
            let s = text()?;
            if s.trim().is_empty() {
                return Err(ApiError::invalid(field, "may not be empty"));
            }
            SqlValue::Text(s)
        }
        Kind::Int { min, max } => {
            let n = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| ApiError::invalid(field, "expected an integer"))?;
            if n < min || n > max {
                return Err(ApiError::invalid(
                    field,
                    format_args!("must be between {min} and {max}"),
                ));
            }
            SqlValue::Integer(n)
        }
        Kind::Float => {
            let f = value
                .as_f64()
                .ok_or_else(|| ApiError::invalid(field, "expected a number"))?;
            SqlValue::Real(f)
        }
        Kind::Bool => match value {
            Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                SqlValue::Integer(n.as_i64().unwrap_or(0))
            }
            Value::String(s) if s == "true" || s == "false" => {
                SqlValue::Integer(i64::from(s == "true"))
            }
            _ => return Err(ApiError::invalid(field, "expected a boolean")),
        },
        Kind::Enum(values) => {
            let s = text()?;
            let canonical = (values.canonical)(&s).map_err(|_| {
                ApiError::invalid(
                    field,
                    format_args!("must be one of {}", values.names.join(", ")),
                )
            })?;
            SqlValue::Text(canonical.to_string())
        }
        Kind::Time => {
            let s = text()?;
            let time = crate::playout::clock::parse_time(&s)
                .ok_or_else(|| ApiError::invalid(field, "expected HH:MM:SS"))?;
            SqlValue::Text(format!(
                "{:02}:{:02}:{:02}",
                time.hour(),
                time.minute(),
                time.second()
            ))
        }
        Kind::ChannelNumber => {
            let s = text()?;
            if !is_channel_number(&s) {
                return Err(ApiError::invalid(
                    field,
                    "must be digits with an optional .subchannel (\"5\", \"5.1\")",
                ));
            }
            SqlValue::Text(s)
        }
    })
}

/// The columns of `columns` present in `body`, validated, in `columns` order.
pub fn changes(
    columns: &'static [Column],
    body: &Map<String, Value>,
) -> Result<Vec<(&'static Column, SqlValue)>, ApiError> {
    let mut out = Vec::new();
    for column in columns {
        if let Some(value) = body.get(column.json) {
            out.push((column, to_sql(column, value)?));
        }
    }
    Ok(out)
}

/// Fails with `"<field>: field required"` for the first required field absent from `body`.
pub fn require(body: &Map<String, Value>, fields: &[&str]) -> Result<(), ApiError> {
    for field in fields {
        if body.get(*field).is_none_or(Value::is_null) {
            return Err(ApiError::invalid(field, "field required"));
        }
    }
    Ok(())
}

/// The values by SQL column, as `db::row` writes them.
pub fn by_sql(values: &[(&'static Column, SqlValue)]) -> Vec<(&'static str, SqlValue)> {
    values.iter().map(|(c, v)| (c.sql, v.clone())).collect()
}

/// `INSERT INTO table (cols..., created_at_ms, updated_at_ms) VALUES (...)`; returns the id.
pub fn insert(
    conn: &rusqlite::Connection,
    table: &str,
    values: &[(&'static Column, SqlValue)],
    now_ms: i64,
) -> Result<i64, rusqlite::Error> {
    crate::db::row::insert(conn, table, &by_sql(values), now_ms)
}

/// `UPDATE table SET ... , updated_at_ms = now WHERE id = ?`; returns whether the row exists.
pub fn update(
    conn: &rusqlite::Connection,
    table: &str,
    id: i64,
    values: &[(&'static Column, SqlValue)],
    now_ms: i64,
) -> Result<bool, rusqlite::Error> {
    crate::db::row::update(conn, table, id, &by_sql(values), now_ms)
}

/// `id, <columns>, created_at_ms, updated_at_ms` for a SELECT.
pub fn select_list(columns: &[Column]) -> String {
    let mut out = String::from("id");
    for column in columns {
        out.push_str(", ");
        out.push_str(column.sql);
    }
    out.push_str(", created_at_ms, updated_at_ms");
    out
}

/// Renders a row selected with `select_list(columns)`.
pub fn to_json(columns: &[Column], row: &Row<'_>) -> rusqlite::Result<Map<String, Value>> {
    let mut out = id_and_columns(columns, row)?;
    let n = columns.len();
    for (i, name) in [(n + 1, "created_at"), (n + 2, "updated_at")] {
        let ms: i64 = row.get(i)?;
        out.insert(name.into(), Value::String(crate::time::rfc3339(ms)));
    }
    Ok(out)
}

/// `id` and the listed columns of a row that starts with them (booleans as booleans).
fn id_and_columns(columns: &[Column], row: &Row<'_>) -> rusqlite::Result<Map<String, Value>> {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(row.get::<_, i64>(0)?));
    for (i, column) in columns.iter().enumerate() {
        let value: SqlValue = row.get(i + 1)?;
        let json = match (column.kind, value) {
            (_, SqlValue::Null) => Value::Null,
            (Kind::Bool, SqlValue::Integer(n)) => Value::Bool(n != 0),
            (_, SqlValue::Integer(n)) => Value::from(n),
            (_, SqlValue::Real(f)) => Value::from(f),
            (_, SqlValue::Text(s)) => Value::String(s),
            (_, SqlValue::Blob(_)) => Value::Null,
        };
        out.insert(column.json.into(), json);
    }
    Ok(out)
}

/// rusqlite errors inside an API transaction become `ApiError`s (a UNIQUE failure is a 409).
pub trait SqlResult<T> {
    fn api(self) -> Result<T, ApiError>;
}

impl<T> SqlResult<T> for rusqlite::Result<T> {
    fn api(self) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from(crate::db::DbError::from(e)))
    }
}

/// Runs `f` in one write transaction on the DB writer: committed when it returns `Ok`,
/// rolled back when it refuses (404/409/422). Checks and writes inside one transaction on
/// the single writer cannot interleave with another edit: no lost update.
pub async fn write_tx<T, F>(app: &crate::app::App, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
{
    app.db
        .write(move |conn| {
            let tx = conn.transaction()?;
            match f(&tx) {
                Ok(value) => {
                    tx.commit()?;
                    Ok(Ok(value))
                }
                Err(err) => Ok(Err(err)),
            }
        })
        .await?
}

/// Runs `f` on the reader connection.
pub async fn read<T, F>(app: &crate::app::App, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> Result<T, ApiError> + Send + 'static,
{
    app.db.read(move |conn| Ok(f(conn))).await?
}

/// Whether a row with this id exists in `table`.
pub fn exists(conn: &rusqlite::Connection, table: &str, id: i64) -> Result<bool, ApiError> {
    Ok(crate::db::exists(conn, table, id)?)
}

/// Every row of `table`, by name (case-insensitive) then id, each as `render` shows it
/// (the collection and playlist lists).
pub fn all_by_name(
    conn: &rusqlite::Connection,
    table: &str,
    render: impl Fn(&rusqlite::Connection, i64) -> Result<Option<Value>, crate::db::DbError>,
) -> Result<Vec<Value>, crate::db::DbError> {
    let ids: Vec<i64> = conn
        .prepare_cached(&format!("SELECT id FROM {table} ORDER BY lower(name), id"))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(render(conn, id)?);
    }
    Ok(out)
}

/// The value sent for `field`, if it is an integer.
pub fn int_value(values: &[(&'static Column, SqlValue)], field: &str) -> Option<i64> {
    values.iter().find_map(|(c, v)| match v {
        SqlValue::Integer(n) if c.json == field => Some(*n),
        _ => None,
    })
}

/// The value sent for `field`, if it is text.
pub fn text_value<'v>(values: &'v [(&'static Column, SqlValue)], field: &str) -> Option<&'v str> {
    values.iter().find_map(|(c, v)| match v {
        SqlValue::Text(s) if c.json == field => Some(s.as_str()),
        _ => None,
    })
}

/// Reads the body (or the query, for EXStreamTV's "q:" routes) as a JSON object.
pub async fn body_object(req: &mut crate::http::Req) -> Result<Map<String, Value>, ApiError> {
    req.params::<Map<String, Value>>().await
}

/// Tables without timestamps (resolutions) or with them render through the same helpers.
pub fn has_timestamps(table: &str) -> bool {
    table != "resolutions"
}

pub fn select(table: &str, cols: &[Column]) -> String {
    if has_timestamps(table) {
        select_list(cols)
    } else {
        let mut out = String::from("id");
        for c in cols {
            out.push_str(", ");
            out.push_str(c.sql);
        }
        out
    }
}

pub fn row_json(table: &str, cols: &[Column], row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    if has_timestamps(table) {
        return to_json(cols, row).map(Value::Object);
    }
    id_and_columns(cols, row).map(Value::Object)
}

pub fn get(
    conn: &rusqlite::Connection,
    table: &str,
    cols: &[Column],
    id: i64,
) -> Result<Option<Value>, ApiError> {
    let sql = format!("SELECT {} FROM {table} WHERE id = ?1", select(table, cols));
    conn.query_row(&sql, [id], |row| row_json(table, cols, row))
        .optional()
        .api()
}

pub fn list(
    conn: &rusqlite::Connection,
    table: &str,
    cols: &[Column],
    order: &str,
) -> Result<Vec<Value>, ApiError> {
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {order}",
        select(table, cols)
    );
    let mut stmt = conn.prepare(&sql).api()?;
    let rows = stmt.query_map([], |row| row_json(table, cols, row)).api()?;
    rows.collect::<Result<Vec<_>, _>>().api()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_by_kind() {
        let c = col("n", Kind::Int { min: 1, max: 9 });
        assert_eq!(to_sql(&c, &Value::from(3)).unwrap(), SqlValue::Integer(3));
        assert_eq!(
            to_sql(&c, &Value::from(0)).unwrap_err().detail,
            "n: must be between 1 and 9"
        );
        assert_eq!(
            to_sql(&c, &Value::Null).unwrap_err().detail,
            "n: may not be null"
        );
        let t = opt("t", Kind::Time);
        assert_eq!(
            to_sql(&t, &Value::from("20:00")).unwrap(),
            SqlValue::Text("20:00:00".into())
        );
        assert_eq!(to_sql(&t, &Value::Null).unwrap(), SqlValue::Null);
        assert!(to_sql(&t, &Value::from("25:00")).is_err());
        let e = col("e", one_of::<crate::kinds::GuideMode>());
        assert_eq!(
            to_sql(&e, &Value::from("c")).unwrap_err().detail,
            "e: must be one of normal, custom, hide"
        );
        assert_eq!(
            to_sql(&e, &Value::from("hide")).unwrap(),
            SqlValue::Text("hide".into())
        );
        // An accepted older spelling is stored as the canonical name.
        let order = col("o", one_of::<crate::kinds::PlaybackOrder>());
        assert_eq!(
            to_sql(&order, &Value::from("shuffle")).unwrap(),
            SqlValue::Text("shuffled".into())
        );
    }
}
