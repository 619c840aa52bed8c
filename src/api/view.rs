//! Typed wire views of rows: a resource declares the JSON it sends for a row once with
//! `row_view!` (each field with its SQL column), and gets the SELECT list, the row decoder
//! and serde rendering from it. Fields render in declaration order.

use rusqlite::{OptionalExtension, Row};
use serde::{Serialize, Serializer};

use crate::db::DbError;
use crate::time::UnixMs;

/// A view of one row of a table, decoded from `SELECT <COLUMNS> FROM …`.
pub trait RowView: Sized {
    /// The SQL columns, in field order.
    const COLUMNS: &'static [&'static str];
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;

    /// `c1, c2, …` for a SELECT.
    fn select_list() -> String {
        Self::COLUMNS.join(", ")
    }
}

/// Declares a row's wire view: `field: Type` reads the column of the same name, `field =
/// "sql expr": Type` another one. Types are anything rusqlite reads and serde writes
/// (`Stamp` for the `*_at_ms` timestamps, `bool` for 0/1 columns).
macro_rules! row_view {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident $(= $sql:literal)? : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )+
        }

        impl $crate::api::view::RowView for $name {
            const COLUMNS: &'static [&'static str] =
                &[$( $crate::api::view::row_view!(@sql $field $($sql)?) ),+];

            #[allow(unused_assignments)]
            fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                let mut at = 0usize;
                Ok($name {
                    $( $field: {
                        let value = row.get(at)?;
                        at += 1;
                        value
                    }, )+
                })
            }
        }
    };
    (@sql $field:ident) => { stringify!($field) };
    (@sql $field:ident $sql:literal) => { $sql };
}
pub(crate) use row_view;

/// A `*_at_ms` column, sent as RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub UnixMs);

impl rusqlite::types::FromSql for Stamp {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Stamp)
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time::rfc3339(self.0))
    }
}

/// The row of `table` with this id.
pub fn get<V: RowView>(
    conn: &rusqlite::Connection,
    table: &str,
    id: i64,
) -> Result<Option<V>, DbError> {
    let sql = format!("SELECT {} FROM {table} WHERE id = ?1", V::select_list());
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], V::from_row)
        .optional()?)
}

/// The rows of `SELECT <columns> FROM {from_where}` (a table with its WHERE and ORDER BY).
pub fn list<V: RowView>(
    conn: &rusqlite::Connection,
    from_where: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<V>, DbError> {
    let sql = format!("SELECT {} FROM {from_where}", V::select_list());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params, V::from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
