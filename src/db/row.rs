//! Generic row writes: `INSERT` and partial `UPDATE` of named columns with their values,
//! plus the `created_at_ms` / `updated_at_ms` every timestamped table has. The column names
//! are ours (from a resource's column list), never client input.

use rusqlite::types::Value;
use rusqlite::Connection;

/// `INSERT INTO table (cols..., created_at_ms, updated_at_ms) VALUES (...)`; returns the id.
pub fn insert(
    conn: &Connection,
    table: &str,
    values: &[(&str, Value)],
    now_ms: i64,
) -> Result<i64, rusqlite::Error> {
    let mut all = values.to_vec();
    all.push(("created_at_ms", Value::Integer(now_ms)));
    all.push(("updated_at_ms", Value::Integer(now_ms)));
    insert_exactly(conn, table, &all)
}

/// `INSERT INTO table (cols...) VALUES (...)` of exactly these columns (a table without
/// timestamps, or a row restored with its own); returns the id.
pub fn insert_exactly(
    conn: &Connection,
    table: &str,
    values: &[(&str, Value)],
) -> Result<i64, rusqlite::Error> {
    let names: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    );
    conn.execute(
        &sql,
        rusqlite::params_from_iter(values.iter().map(|(_, v)| v)),
    )?;
    Ok(conn.last_insert_rowid())
}

/// `UPDATE table SET ..., updated_at_ms = now WHERE id = ?`; returns whether the row exists.
pub fn update(
    conn: &Connection,
    table: &str,
    id: i64,
    values: &[(&str, Value)],
    now_ms: i64,
) -> Result<bool, rusqlite::Error> {
    let mut sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ?{}", i + 1))
        .collect();
    sets.push(format!("updated_at_ms = ?{}", values.len() + 1));
    let sql = format!(
        "UPDATE {table} SET {} WHERE id = ?{}",
        sets.join(", "),
        values.len() + 2
    );
    let mut params: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
    params.push(Value::Integer(now_ms));
    params.push(Value::Integer(id));
    Ok(conn.execute(&sql, rusqlite::params_from_iter(params))? > 0)
}
