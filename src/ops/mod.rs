//! The operations every writer calls: the REST API today, and the web UI, the planner, the
//! agent and the importers next, so none of them fakes HTTP or copies SQL. One file per
//! resource. An operation runs inside the caller's write transaction, takes typed input
//! parsed once at the edge, and returns domain values with the `Changes` it made (applied
//! by the caller through `App::apply`, after the commit); a refusal is the resource's error
//! enum, which `http::error` maps to a status in one place.
//!
//! It must not know HTTP or JSON: inputs decode through serde (`fields`), from any format.

/// The database arm every resource error has (`Db(DbError)`): `From<DbError>`,
/// `From<rusqlite::Error>` and `Error::source` pointing at it.
macro_rules! db_error {
    ($name:ident) => {
        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $name::Db(err) => Some(err),
                    _ => None,
                }
            }
        }

        impl From<crate::db::DbError> for $name {
            fn from(err: crate::db::DbError) -> Self {
                $name::Db(err)
            }
        }

        impl From<rusqlite::Error> for $name {
            fn from(err: rusqlite::Error) -> Self {
                $name::Db(err.into())
            }
        }
    };
}
use db_error;

pub mod blocks;
pub mod build_sessions;
pub mod channels;
pub mod collections;
pub mod consolidate;
pub mod deco;
pub mod fields;
pub mod filler;
pub mod groups;
pub mod ids;
pub mod libraries;
pub mod m3u_sources;
pub mod media;
pub mod notifications;
pub mod playlists;
pub mod playouts;
pub mod profiles;
pub mod readers;
pub mod relays;
pub mod resolutions;
pub mod schedule_history;
pub mod schedule_items;
pub mod schedules;
pub mod templates;
pub mod watermarks;
pub mod yaml_channels;

/// An empty database of the current schema, foreign keys on, for the ops unit tests.
#[cfg(test)]
fn test_db() -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database opens");
    conn.execute_batch("PRAGMA foreign_keys = ON;")
        .expect("foreign keys switch on");
    conn.execute_batch(include_str!("../../schema.sql"))
        .expect("the schema applies");
    conn
}
