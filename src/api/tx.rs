//! The API's way into the database: a handler's operation and its render run in one write
//! transaction on the writer (`write_tx`), reads on the reader (`read`), both off the tokio
//! workers; a database error inside becomes an `ApiError` (`SqlResult`).

use crate::http::ApiError;

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

/// Every row of `table`, by name (case-insensitive) then id, each as `render` shows it
/// (the collection and playlist lists).
pub fn all_by_name<T>(
    conn: &rusqlite::Connection,
    table: &str,
    render: impl Fn(&rusqlite::Connection, i64) -> Result<Option<T>, crate::db::DbError>,
) -> Result<Vec<T>, crate::db::DbError> {
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
